/* higgsbox run / merge: evaluate a submission on pseudo-experiments. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/pe.h"

static const char run_help[] =
    "usage: higgsbox run PLUGIN.so --data DATA.h5 -o RUNDIR [options]\n"
    "\n"
    "Fits the plugin once in a sandboxed worker, then runs predict on every\n"
    "pseudo-experiment (PE) in workers forked from it, and writes the results\n"
    "to RUNDIR (docs/RUNDIR.md). Same seed, same results, whatever --workers\n"
    "or --shard.\n"
    "\n"
    "  --data FILE              dataset (higgsbox gen / import)\n"
    "  -o, --output DIR         run directory to create\n"
    "  --sets N                 number of sets, each with its own true mu (10)\n"
    "  --pseudo-experiments N   PEs per set (100)\n"
    "  --mu LIST|random         true mu per set: comma-separated list, or\n"
    "                           Uniform(0.1, 3) per set from the seed\n"
    "                           (default: the public-phase list, up to 10 sets)\n"
    "  --systematics S          all | none | comma list of tes,jes,soft_met,\n"
    "                           ttbar_scale,diboson_scale,bkg_scale (all)\n"
    "  --workers N              parallel predict workers (2)\n"
    "  --seed S                 base seed (42)\n"
    "  --fit-timeout T          seconds for fit (3600)\n"
    "  --predict-timeout T      seconds per predict (600)\n"
    "  --budget T               seconds for the whole run (7200); PEs left\n"
    "                           when it runs out are recorded as NOT_RUN\n"
    "  --memory M               memory limit per worker, e.g. 4G (8G)\n"
    "  --shard K/N              run only shard K of N (0-based); see merge\n"
    "  --resume                 finish the run already in RUNDIR\n"
    "  --quiet                  no progress output\n";

static const char merge_help[] =
    "usage: higgsbox merge SHARDDIR... -o RUNDIR\n"
    "\n"
    "Merges the run directories of the shards of one run (higgsbox run\n"
    "--shard K/N) into one run directory, identical in its results to the\n"
    "unsharded run.\n";

static int parse_mu(const char *text, hbx_run *r)
{
    if (strcmp(text, "random") == 0) {
        hbx_run_set_mu_random(r);
        return 0;
    }
    double mu[4096];
    unsigned n = 0;
    char *copy = strdup(text);
    if (!copy)
        return -1;
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == sizeof mu / sizeof mu[0] || cli_parse_double("--mu", tok, &mu[n]) != 0)
            rc = -1;
        n++;
    }
    free(copy);
    if (rc == 0 && hbx_run_set_mu_list(r, mu, n) != 0) {
        fprintf(stderr, "higgsbox: --mu: '%s' must list values in [0, 1000]\n", text);
        rc = -1;
    }
    return rc;
}

typedef struct progress_state {
    int tty;
    double last;
} progress_state;

static void format_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "--");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void show_progress(const hbx_run_progress *p, void *user)
{
    progress_state *st = user;
    double rate = p->elapsed_s > 0 ? (double)p->done / p->elapsed_s : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : NAN;
    char eta_s[32];
    format_duration(eta, eta_s, sizeof eta_s);
    if (st->tty) {
        int width = 30, filled = p->total ? (int)(width * p->done / p->total) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %llu/%llu PEs  %.1f PE/s  ETA %s  failures %llu ", bar,
                (unsigned long long)p->done, (unsigned long long)p->total, rate, eta_s,
                (unsigned long long)p->failures);
        if (p->done == p->total)
            fputc('\n', stderr);
    } else if (p->elapsed_s - st->last >= 10 || p->done == p->total) {
        st->last = p->elapsed_s;
        fprintf(stderr, "higgsbox run: %llu/%llu PEs, %.1f PE/s, ETA %s, %llu failures\n",
                (unsigned long long)p->done, (unsigned long long)p->total, rate, eta_s,
                (unsigned long long)p->failures);
    }
}

static void print_summary(const hbx_run_summary *s, const char *out)
{
    printf("run:       %s\n", out);
    printf("fit:       %s (%.2f s)\n", s->fit_verdict, s->fit_s);
    printf("PEs:       %llu in this shard, %llu done before (resume)\n",
           (unsigned long long)s->planned, (unsigned long long)s->skipped);
    printf("verdicts: ");
    int any = 0;
    for (int v = 0; v < HBX_N_VERDICTS; v++)
        if (s->verdicts[v]) {
            printf(" %s %llu", hbx_verdict_name((hbx_verdict)v),
                   (unsigned long long)s->verdicts[v]);
            any = 1;
        }
    if (s->not_run) {
        printf(" NOT_RUN %llu", (unsigned long long)s->not_run);
        any = 1;
    }
    printf("%s\n", any ? "" : " none (nothing to do)");
    printf("time:      total %.2f s; fit %.2f s; predict %.2f s and PE generation %.2f s "
           "(summed over workers)\n",
           s->total_s, s->fit_s, s->predict_s, s->generate_s);
    printf("pool:      background events weigh %.3g on average\n", s->pool_background_weight);
    if (s->pool_background_weight > HBX_POOL_WEIGHT_NOTE)
        printf("note:      %s\n", "the pool's own fluctuation biases coverage low; "
               "`higgsbox score` explains (docs/ANALYSIS.md)");
}

int cmd_run(int argc, char **argv)
{
    enum { O_DATA = 256, O_SETS, O_NPE, O_MU, O_SYST, O_WORKERS, O_SEED, O_FIT_T, O_PRED_T,
           O_BUDGET, O_MEMORY, O_SHARD, O_RESUME, O_QUIET, O_WORKER };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data", required_argument, NULL, O_DATA},
        {"output", required_argument, NULL, 'o'},
        {"sets", required_argument, NULL, O_SETS},
        {"pseudo-experiments", required_argument, NULL, O_NPE},
        {"mu", required_argument, NULL, O_MU},
        {"systematics", required_argument, NULL, O_SYST},
        {"workers", required_argument, NULL, O_WORKERS},
        {"seed", required_argument, NULL, O_SEED},
        {"fit-timeout", required_argument, NULL, O_FIT_T},
        {"predict-timeout", required_argument, NULL, O_PRED_T},
        {"budget", required_argument, NULL, O_BUDGET},
        {"memory", required_argument, NULL, O_MEMORY},
        {"shard", required_argument, NULL, O_SHARD},
        {"resume", no_argument, NULL, O_RESUME},
        {"quiet", no_argument, NULL, O_QUIET},
        {"worker", required_argument, NULL, O_WORKER},
        {0, 0, 0, 0}};
    hbx_run *r = hbx_run_new();
    if (!r)
        return cli_error("out of memory");
    int c, rc = 0, quiet = 0;
    const char *out = NULL, *data = NULL;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        unsigned long long u;
        double d;
        switch (c) {
        case 'h':
            fputs(run_help, stdout);
            hbx_run_destroy(r);
            return 0;
        case 'o':
            out = optarg;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_SETS:
            rc = cli_parse_u64("--sets", optarg, &u) || u > 100000 ||
                 hbx_run_set_sets(r, (unsigned)u);
            break;
        case O_NPE:
            rc = cli_parse_u64("--pseudo-experiments", optarg, &u) || u > 10000000 ||
                 hbx_run_set_pseudo_experiments(r, (unsigned)u);
            break;
        case O_MU:
            rc = parse_mu(optarg, r) != 0;
            break;
        case O_SYST: {
            unsigned mask;
            if (hbx_syst_parse(optarg, &mask) != 0) {
                fprintf(stderr, "higgsbox: --systematics: '%s' is not all, none or a list of "
                                "tes,jes,soft_met,ttbar_scale,diboson_scale,bkg_scale\n",
                        optarg);
                rc = 1;
            } else
                hbx_run_set_systematics(r, mask);
            break;
        }
        case O_WORKERS:
            rc = cli_parse_u64("--workers", optarg, &u) || u > 1024 ||
                 hbx_run_set_workers(r, (unsigned)u);
            break;
        case O_SEED:
            rc = cli_parse_u64("--seed", optarg, &u);
            if (!rc)
                hbx_run_set_seed(r, u);
            break;
        case O_FIT_T:
            rc = cli_parse_double("--fit-timeout", optarg, &d) || hbx_run_set_fit_timeout(r, d);
            break;
        case O_PRED_T:
            rc = cli_parse_double("--predict-timeout", optarg, &d) ||
                 hbx_run_set_predict_timeout(r, d);
            break;
        case O_BUDGET:
            rc = cli_parse_double("--budget", optarg, &d) || hbx_run_set_budget(r, d);
            break;
        case O_MEMORY: {
            uint64_t b;
            if (cli_parse_bytes(optarg, &b) != 0) {
                fprintf(stderr, "higgsbox: --memory: '%s' is not a size such as 512M or 4G\n",
                        optarg);
                rc = 1;
            } else if (hbx_run_set_memory(r, b) != 0) {
                fprintf(stderr, "higgsbox: --memory: '%s' is below the 16M minimum\n", optarg);
                rc = 1;
            }
            break;
        }
        case O_SHARD: {
            unsigned k, n;
            char tail;
            if (sscanf(optarg, "%u/%u%c", &k, &n, &tail) != 2 || hbx_run_set_shard(r, k, n)) {
                fprintf(stderr, "higgsbox: --shard: '%s' is not K/N with 0 <= K < N\n", optarg);
                rc = 1;
            }
            break;
        }
        case O_RESUME:
            hbx_run_set_resume(r, 1);
            break;
        case O_QUIET:
            quiet = 1;
            break;
        case O_WORKER:
            rc = hbx_run_set_worker(r, optarg);
            break;
        default:
            hbx_run_destroy(r);
            return cli_usage_error("run", "unknown option");
        }
        if (rc && c != O_MU && c != O_SYST && c != O_MEMORY && c != O_SHARD &&
            c != O_WORKER)
            fprintf(stderr, "higgsbox: %s: value '%s' out of range\n", argv[optind - 1],
                    optarg);
    }
    if (rc) {
        hbx_run_destroy(r);
        return 2;
    }
    if (argc - optind != 1 || !data || !out) {
        hbx_run_destroy(r);
        return cli_usage_error("run", "expects PLUGIN.so, --data DATA.h5 and -o RUNDIR");
    }
    hbx_run_set_plugin(r, argv[optind]);
    hbx_run_set_data(r, data);
    hbx_run_set_output(r, out);
    progress_state st = {isatty(2), -1e9};
    if (!quiet)
        hbx_run_set_progress(r, show_progress, &st);
    hbx_run_summary s;
    char err[1024];
    rc = hbx_run_execute(r, &s, err, sizeof err);
    hbx_run_destroy(r);
    if (rc != 0)
        return cli_error("%s", err);
    print_summary(&s, out);
    return 0;
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"output", required_argument, NULL, 'o'},
                                         {0, 0, 0, 0}};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(merge_help, stdout);
            return 0;
        }
        if (c == 'o')
            out = optarg;
        else
            return cli_usage_error("merge", "unknown option");
    }
    if (!out || argc - optind < 1)
        return cli_usage_error("merge", "expects SHARDDIR... and -o RUNDIR");
    char err[1024];
    if (hbx_run_merge((const char *const *)argv + optind, (unsigned)(argc - optind), out, err,
                      sizeof err) != 0)
        return cli_error("%s", err);
    printf("merged %d shards into %s\n", argc - optind, out);
    return 0;
}
