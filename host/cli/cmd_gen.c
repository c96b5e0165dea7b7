/* higgsbox gen: write a toy dataset (docs/DATA.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "higgsbox/generator.h"
#include "higgsbox/higgsbox.h"

static const char help[] =
    "usage: higgsbox gen -o FILE [--events N] [--seed S] [--signal-oversampling K]\n"
    "                    [--test-fraction F] [--threads T]\n"
    "\n"
    "Generates a toy dataset of the four HiggsML processes (H→ττ signal; Z→ττ,\n"
    "ttbar, diboson backgrounds) from a small physics Monte-Carlo and writes it\n"
    "as a higgsbox dataset file (docs/DATA.md). The output depends on the\n"
    "options only, never on the thread count.\n"
    "\n"
    "  -o, --output FILE           dataset to write (replaced if it exists)\n"
    "  -n, --events N              events written, both splits (default 2000000)\n"
    "  -s, --seed S                random seed, 0 to 2^63-1 (default 42)\n"
    "      --signal-oversampling K signal events per expected signal event,\n"
    "                              relative to the backgrounds (default 300)\n"
    "      --test-fraction F       share of the events in the test split (default 0.3)\n"
    "  -j, --threads T             worker threads, 0 = one per CPU (default 0)\n"
    "\n"
    "Weights make each process sum to its expected yield in 10 fb^-1 in each\n"
    "split: htautau 1015, ztautau 1002395, ttbar 44192, diboson 3783.\n";

enum { OPT_OVERSAMPLING = 1000, OPT_TEST_FRACTION };

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

int cmd_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"events", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"signal-oversampling", required_argument, NULL, OPT_OVERSAMPLING},
        {"test-fraction", required_argument, NULL, OPT_TEST_FRACTION},
        {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    const char *out = NULL;
    unsigned long long u;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:n:s:j:h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(help, stdout);
            return 0;
        case 'o':
            out = optarg;
            break;
        case 'n':
            if (cli_parse_u64("--events", optarg, &u) != 0)
                return 2;
            o.events = u;
            break;
        case 's':
            if (cli_parse_u64("--seed", optarg, &u) != 0)
                return 2;
            o.seed = u;
            break;
        case OPT_OVERSAMPLING:
            if (cli_parse_double("--signal-oversampling", optarg, &o.signal_oversampling) != 0)
                return 2;
            break;
        case OPT_TEST_FRACTION:
            if (cli_parse_double("--test-fraction", optarg, &o.test_fraction) != 0)
                return 2;
            break;
        case 'j':
            if (cli_parse_u64("--threads", optarg, &u) != 0)
                return 2;
            o.threads = u > 100000 ? 100000 : (int)u; /* the library checks the range */
            break;
        case ':':
            return cli_usage_error("gen", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("gen", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("gen", "unexpected argument '%s'", argv[optind]);
    if (!out)
        return cli_usage_error("gen", "no output file: give -o FILE");

    char err[1024];
    uint64_t count[2][HBX_N_PROCESSES];
    if (hbx_gen_counts(&o, count, err, sizeof err) != 0)
        return cli_usage_error("gen", "%s", err);
    for (int s = 0; s < 2; s++) {
        int split_used = s == HBX_SPLIT_TRAIN ? o.test_fraction < 1 : o.test_fraction > 0;
        for (int p = 0; p < HBX_N_PROCESSES; p++)
            if (count[s][p] == 0 && split_used)
                fprintf(stderr,
                        "higgsbox gen: warning: no %s events in the %s split; raise --events "
                        "for every process to reach its yield\n",
                        hbx_process_name(p), hbx_split_name((hbx_split)s));
    }

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (hbx_generate_file(&o, out, err, sizeof err) != 0)
        return cli_error("%s", err);
    double dt = seconds_since(&t0);

    uint64_t n_test = 0, n_train = 0;
    for (int p = 0; p < HBX_N_PROCESSES; p++) {
        n_test += count[HBX_SPLIT_TEST][p];
        n_train += count[HBX_SPLIT_TRAIN][p];
    }
    printf("wrote %s: %llu events (train %llu, test %llu), seed %llu, in %.2f s (%.0f events/s)\n",
           out, (unsigned long long)o.events, (unsigned long long)n_train,
           (unsigned long long)n_test, (unsigned long long)o.seed, dt,
           dt > 0 ? (double)o.events / dt : 0.0);
    printf("%-10s %12s %12s %14s\n", "process", "train", "test", "yield (each)");
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        printf("%-10s %12llu %12llu %14.0f\n", hbx_process_name(p),
               (unsigned long long)count[HBX_SPLIT_TRAIN][p],
               (unsigned long long)count[HBX_SPLIT_TEST][p], hbx_expected_yield(p));
    return 0;
}
