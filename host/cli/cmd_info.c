/* higgsbox info: describe a plugin or a dataset. */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"

static const char help[] =
    "usage: higgsbox info FILE\n"
    "\n"
    "FILE.so  loads the plugin in a sandboxed worker and prints its descriptor\n"
    "         (name, version, ABI), or the precise reason it cannot be loaded.\n"
    "FILE.h5  describes a dataset: per-process events and yields, split sizes,\n"
    "         per-column min/median/max, provenance, the file's sha256 and the\n"
    "         sha256 of its events.\n"
    "Which one FILE is comes from its signature (ELF or HDF5), else its name.\n";

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

static int info_plugin(const char *path)
{
    hbx_plugin_info info;
    hbx_call_record rec;
    if (hbx_plugin_describe(path, NULL, &info, &rec) != 0) {
        char what[600];
        hbx_call_record_describe(&rec, what, sizeof what);
        if (rec.verdict == HBX_VERDICT_LOAD_ERROR)
            return cli_error("%s", rec.detail);
        return cli_error("%s: plugin failed while loading: %s", path, what);
    }
    printf("plugin:   %s\n", path);
    printf("name:     %s\n", info.name);
    printf("version:  %s\n", info.version);
    printf("abi:      %u.%u (descriptor %u bytes; host supports %d.%d)\n", info.abi_major,
           info.abi_minor, info.struct_size, HBX_ABI_MAJOR, HBX_ABI_MINOR);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            return 0;
        }
        return cli_usage_error("info", "unknown option");
    }
    if (argc - optind != 1)
        return cli_usage_error("info", "expects exactly one FILE");
    const char *path = argv[optind];
    if (access(path, R_OK) != 0)
        return cli_error("%s: cannot read: %m", path);
    if (cli_starts_with(path, "\x89HDF\r\n\x1a\n", 8))
        return cmd_info_dataset(path);
    if (cli_starts_with(path, "\x7f" "ELF", 4))
        return info_plugin(path);
    /* Neither signature: the name says which reader should explain what
     * is wrong with the file. */
    if (ends_with(path, ".h5") || ends_with(path, ".hdf5"))
        return cmd_info_dataset(path);
    if (ends_with(path, ".so"))
        return info_plugin(path);
    return cli_error("%s: neither a dataset (no HDF5 signature) nor a plugin (no ELF header)",
                     path);
}
