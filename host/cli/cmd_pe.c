/* higgsbox pe: materialise one pseudo-experiment for inspection. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/pe.h"

static const char help[] =
    "usage: higgsbox pe DATA.h5 --mu M --seed S [--systematics LIST] [-o PE.h5]\n"
    "\n"
    "Draws the pseudo-experiment of seed S with signal strength M from the test\n"
    "split of DATA.h5, exactly as a run would (HIGGSML.md §5): nuisances drawn\n"
    "from the seed, Poisson-resampled events in random order, systematics\n"
    "applied, DER recomputed. Prints the nuisances and the event counts.\n"
    "\n"
    "      --mu M                signal strength (>= 0)\n"
    "      --seed S              the PE's seed (set * N_PE + index + base seed)\n"
    "      --systematics LIST    all (default), none, or a comma-separated list\n"
    "                            of tes, jes, soft_met, ttbar_scale, diboson_scale,\n"
    "                            bkg_scale: the nuisances that vary\n"
    "  -o, --output PE.h5        write the PE's 28 feature columns (group \"pe\";\n"
    "                            no weights, labels or process: a PE has none)\n";

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static char *provenance(const char *input, uint64_t seed, double mu, const char *syst,
                        const hbx_nuisances *nu)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:f, s:s, s:{s:f, s:f, s:f, s:f, s:f, s:f, s:b}}", "tool",
        "higgsbox pe", "higgsbox_version", hbx_version(), "source", input, "seed",
        (json_int_t)seed, "mu", mu, "systematics", syst, "nuisances", "tes", nu->tes, "jes",
        nu->jes, "soft_met", nu->soft_met, "ttbar_scale", nu->ttbar_scale, "diboson_scale",
        nu->diboson_scale, "bkg_scale", nu->bkg_scale, "post_selection", nu->post_selection != 0);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}

int cmd_pe(int argc, char **argv)
{
    enum { O_MU = 256, O_SEED, O_SYST };
    static const struct option opts[] = {{"mu", required_argument, NULL, O_MU},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"systematics", required_argument, NULL, O_SYST},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    double mu = NAN;
    unsigned long long seed = 0;
    int have_seed = 0;
    unsigned mask = HBX_SYST_ALL;
    const char *output = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case O_MU:
            if (cli_parse_double("--mu", optarg, &mu) != 0)
                return 2;
            if (!(mu >= 0.0))
                return cli_usage_error("pe", "--mu %s must be >= 0", optarg);
            break;
        case O_SEED:
            if (cli_parse_u64("--seed", optarg, &seed) != 0)
                return 2;
            have_seed = 1;
            break;
        case O_SYST:
            if (hbx_syst_parse(optarg, &mask) != 0)
                return cli_usage_error("pe",
                                       "--systematics '%s': expected all, none or a list of tes, "
                                       "jes, soft_met, ttbar_scale, diboson_scale, bkg_scale",
                                       optarg);
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return cli_usage_error("pe", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("pe", "expects exactly one DATA.h5");
    if (isnan(mu))
        return cli_usage_error("pe", "--mu M is required");
    if (!have_seed)
        return cli_usage_error("pe", "--seed S is required");
    const char *input = argv[optind];
    if (access(input, R_OK) != 0)
        return cli_error("%s: cannot read: %m", input);

    char err[1024];
    hbx_pe_pool *pool;
    int rc = hbx_pe_pool_load(&pool, input, err, sizeof err);
    if (rc != HBX_OK)
        return cli_error("%s", err);

    hbx_nuisances nu;
    hbx_pe_draw_nuisances(seed, mask, &nu);
    hbx_table pe;
    uint64_t cap = hbx_pe_capacity(pool, mu);
    if (hbx_table_alloc(&pe, cap, 0) != HBX_OK) {
        hbx_pe_pool_destroy(pool);
        return cli_error("out of memory for a PE of up to %llu events", (unsigned long long)cap);
    }
    hbx_pe_stats st;
    double t0 = seconds();
    rc = hbx_pe_generate(pool, mu, &nu, seed, &pe, &st);
    double dt = seconds() - t0;
    uint64_t counts[HBX_N_PROCESSES];
    double sums[HBX_N_PROCESSES];
    hbx_pe_pool_totals(pool, counts, sums);
    hbx_pe_pool_destroy(pool);
    if (rc != HBX_OK) {
        hbx_table_free(&pe);
        return cli_error("%s: cannot generate the PE (%s)", input,
                         rc == HBX_E_NOMEM ? "larger than its capacity" : "invalid arguments");
    }

    char syst[128];
    hbx_syst_format(mask, syst, sizeof syst);
    printf("pool:        %s, test split: %llu htautau, %llu ztautau, %llu ttbar, %llu diboson\n",
           input, (unsigned long long)counts[0], (unsigned long long)counts[1],
           (unsigned long long)counts[2], (unsigned long long)counts[3]);
    printf("seed:        %llu\nmu:          %g\nsystematics: %s\n", seed, mu, syst);
    printf("nuisances:   tes %.6f  jes %.6f  soft_met %.6f\n"
           "             ttbar_scale %.6f  diboson_scale %.6f  bkg_scale %.6f\n",
           nu.tes, nu.jes, nu.soft_met, nu.ttbar_scale, nu.diboson_scale, nu.bkg_scale);
    printf("%-10s %14s %12s %12s\n", "process", "expected", "drawn", "kept");
    for (int k = 0; k < HBX_N_PROCESSES; k++)
        printf("%-10s %14.3f %12llu %12llu\n", hbx_process_name(k), st.expected_process[k],
               (unsigned long long)st.drawn_process[k], (unsigned long long)st.kept_process[k]);
    printf("%-10s %14.3f %12llu %12llu\n", "total", st.expected, (unsigned long long)st.drawn,
           (unsigned long long)st.kept);
    printf("generated in %.1f ms\n", dt * 1e3);

    if (output) {
        char *prov = provenance(input, seed, mu, syst, &nu);
        int wrc = prov ? hbx_pe_write(output, &pe, prov, err, sizeof err) : -1;
        if (!prov)
            snprintf(err, sizeof err, "out of memory");
        free(prov);
        if (wrc != 0) {
            hbx_table_free(&pe);
            return cli_error("%s", err);
        }
        printf("wrote %s (%llu events, 28 features)\n", output, (unsigned long long)pe.n);
    }
    hbx_table_free(&pe);
    return 0;
}
