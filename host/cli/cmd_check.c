/* higgsbox check: run the conformance kit's suite on a plugin. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "higgsbox/conformance.h"

static const char help[] =
    "usage: higgsbox check [OPTIONS] PLUGIN.so\n"
    "\n"
    "Puts a plugin through what an evaluation run will do to it, on a small\n"
    "generated dataset, in sandboxed workers: load, fit, predict on\n"
    "pseudo-experiments at several mu, repeated, empty and tiny ones. Prints\n"
    "the conformance suite's report; every failure names what to fix. Exits 0\n"
    "only when every check passes.\n"
    "\n"
    "  -v, --verbose            list every check, passed or not\n"
    "      --events N           toy events to generate, train + test (default 30000)\n"
    "      --seed N             seed of the data and the pseudo-experiments (default 1)\n"
    "      --fit-timeout S      seconds allowed for create + fit (default 120)\n"
    "      --predict-timeout S  seconds allowed per predict (default 60)\n"
    "      --memory M           memory limit per worker, e.g. 512M or 4G (default 8G)\n"
    "      --log FILE           append the plugin's output to FILE (default: discarded)\n"
    "\n"
    "Participants run the same suite from their own tests: hbx_conformance_suite()\n"
    "in <higgsbox/conformance.h>, library higgsbox::conformance.\n";

int cmd_check(int argc, char **argv)
{
    enum { O_EVENTS = 256, O_SEED, O_FIT, O_PREDICT, O_MEMORY, O_LOG };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"verbose", no_argument, NULL, 'v'},
        {"events", required_argument, NULL, O_EVENTS},
        {"seed", required_argument, NULL, O_SEED},
        {"fit-timeout", required_argument, NULL, O_FIT},
        {"predict-timeout", required_argument, NULL, O_PREDICT},
        {"memory", required_argument, NULL, O_MEMORY},
        {"log", required_argument, NULL, O_LOG},
        {0, 0, 0, 0},
    };
    hbx_conformance_options o;
    hbx_conformance_options_default(&o);
    const char *log = NULL;
    int verbose = 0;
    unsigned long long u;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(help, stdout);
            return 0;
        case 'v':
            verbose = 1;
            break;
        case O_EVENTS:
            if (cli_parse_u64("--events", optarg, &u) != 0)
                return 2;
            if (u < 100)
                return cli_usage_error("check", "--events must be at least 100");
            o.events = u;
            break;
        case O_SEED:
            if (cli_parse_u64("--seed", optarg, &u) != 0)
                return 2;
            o.seed = u;
            break;
        case O_FIT:
        case O_PREDICT: {
            double s;
            const char *flag = c == O_FIT ? "--fit-timeout" : "--predict-timeout";
            if (cli_parse_double(flag, optarg, &s) != 0)
                return 2;
            if (s <= 0)
                return cli_usage_error("check", "%s must be positive", flag);
            *(c == O_FIT ? &o.fit_timeout_s : &o.predict_timeout_s) = s;
            break;
        }
        case O_MEMORY:
            if (cli_parse_bytes(optarg, &o.memory_bytes) != 0)
                return cli_usage_error("check", "--memory: '%s' is not a size such as 512M or 4G",
                                       optarg);
            break;
        case O_LOG:
            log = optarg;
            break;
        default:
            return cli_usage_error("check", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("check", "expects exactly one PLUGIN.so");
    const char *plugin = argv[optind];
    if (access(plugin, R_OK) != 0)
        return cli_error("%s: cannot read: %m", plugin);
    FILE *logf = NULL;
    if (log) {
        logf = fopen(log, "ae");
        if (!logf)
            return cli_error("%s: cannot open for writing: %m", log);
        o.log_fd = fileno(logf);
    }

    Suite *s = hbx_conformance_suite_with(plugin, &o);
    if (!s) {
        if (logf)
            fclose(logf);
        return cli_error("out of memory");
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, verbose ? CK_VERBOSE : CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (logf)
        fclose(logf);
    return failed == 0 ? 0 : 1;
}
