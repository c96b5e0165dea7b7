/* higgsbox sandbox-check: which sandbox layers are active on this machine. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"

static const char help[] =
    "usage: higgsbox sandbox-check [--json] [--memory BYTES] [--no-namespaces] [--no-cgroups]\n"
    "\n"
    "Starts a worker exactly as a run would (without a plugin), has it confine\n"
    "itself, and lists every layer with what it does here or why it is not\n"
    "active (docs/SANDBOX.md). Exit status 0 when the worker could report, 1\n"
    "otherwise.\n"
    "\n"
    "  --json           the report as one JSON object (as run.json records it)\n"
    "  --memory BYTES   check the memory layer with this limit (default 4 GiB)\n"
    "  --no-namespaces  the fallback without namespaces\n"
    "  --no-cgroups     the fallback without cgroups (RLIMIT_AS, RLIMIT_NPROC)\n";

int cmd_sandbox_check(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"memory", required_argument, NULL, 'm'},
                                         {"no-namespaces", no_argument, NULL, 'n'},
                                         {"no-cgroups", no_argument, NULL, 'c'},
                                         {0, 0, 0, 0}};
    int json = 0, namespaces = 1, cgroups = 1;
    unsigned long long memory = 4ull << 30;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(help, stdout);
            return 0;
        case 'j':
            json = 1;
            break;
        case 'm':
            if (cli_parse_u64("--memory", optarg, &memory) != 0)
                return 2;
            break;
        case 'n':
            namespaces = 0;
            break;
        case 'c':
            cgroups = 0;
            break;
        default:
            return cli_usage_error("sandbox-check", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error("sandbox-check", "takes no arguments");
    hbx_sandbox *sb = hbx_sandbox_new();
    if (!sb)
        return cli_error("out of memory");
    hbx_sandbox_set_memory_limit(sb, memory);
    if (!namespaces)
        hbx_sandbox_set_namespaces(sb, 0);
    if (!cgroups)
        hbx_sandbox_set_cgroups(sb, 0);
    hbx_sandbox_report r;
    hbx_call_record rec;
    int rc = hbx_sandbox_probe(sb, &r, &rec);
    hbx_sandbox_destroy(sb);
    if (rc != 0) {
        char what[600];
        hbx_call_record_describe(&rec, what, sizeof what);
        return cli_error("the sandbox could not start a worker: %s", what);
    }
    if (json) {
        char *s = hbx_sandbox_report_json(&r);
        if (!s)
            return cli_error("out of memory");
        printf("%s\n", s);
        free(s);
        return 0;
    }
    int active = 0;
    for (int i = 0; i < HBX_N_LAYERS; i++) {
        active += r.layer[i].active != 0;
        printf("%-13s %-8s %s\n", hbx_layer_name((hbx_layer)i),
               r.layer[i].active ? "active" : "INACTIVE", r.layer[i].detail);
    }
    printf("%d of %d layers active\n", active, HBX_N_LAYERS);
    return 0;
}
