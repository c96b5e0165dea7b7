/* higgsbox: the command-line tool, a thin layer over libhiggsbox. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"info", cmd_info, "describe a plugin (.so) or a dataset (.h5)"},
    {"run", cmd_run, "evaluate a plugin on pseudo-experiments in sandboxed workers"},
    {"merge", cmd_merge, "merge the shards of a run into one run directory"},
    {"sandbox-check", cmd_sandbox_check, "which sandbox layers are active on this machine"},
    {"check", cmd_check, "run the conformance suite on a plugin (.so)"},
    {"gen", cmd_gen, "generate a toy dataset (.h5) from a physics Monte-Carlo"},
    {"import", cmd_import, "convert a challenge CSV file into a dataset (.h5)"},
    {"export", cmd_export, "write a dataset split as a challenge CSV file"},
    {"score", cmd_score, "score a run directory: scores.json and report.html"},
    {"compare", cmd_compare, "leaderboard of several run directories"},
    {"shift", cmd_shift, "apply systematics (tes, jes, soft MET, scales) to a dataset"},
    {"pe", cmd_pe, "materialise one pseudo-experiment for inspection"},
};

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("higgsbox: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "higgsbox %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'higgsbox %s --help')\n", command);
    va_end(ap);
    return 2;
}

int cli_parse_double(const char *flag, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) {
        fprintf(stderr, "higgsbox: %s: '%s' is not a number\n", flag, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *flag, const char *text, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (text[0] == '-') {
        fprintf(stderr, "higgsbox: %s: '%s' must not be negative\n", flag, text);
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end) {
        fprintf(stderr, "higgsbox: %s: '%s' is not a whole number\n", flag, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_bytes(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double unit = 1.0;
    if (*end == 'K' || *end == 'k')
        unit = 1024.0, end++;
    else if (*end == 'M' || *end == 'm')
        unit = 1024.0 * 1024.0, end++;
    else if (*end == 'G' || *end == 'g')
        unit = 1024.0 * 1024.0 * 1024.0, end++;
    if (errno || end == text || *end || !(v > 0) || v * unit >= 1.8e19)
        return -1;
    *out = (uint64_t)(v * unit);
    return 0;
}

int cli_starts_with(const char *path, const void *signature, size_t n)
{
    unsigned char head[16];
    FILE *f = n <= sizeof head ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    size_t got = fread(head, 1, n, f);
    fclose(f);
    return got == n && memcmp(head, signature, n) == 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: higgsbox [--version] [--help] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'higgsbox COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("higgsbox %s (plugin ABI %d.%d)\n", hbx_version(), HBX_ABI_MAJOR, HBX_ABI_MINOR);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "higgsbox: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
