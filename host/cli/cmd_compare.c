/* higgsbox compare: the leaderboard of several scored runs. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "higgsbox/score.h"

static const char help[] =
    "usage: higgsbox compare RUNDIR... [-o compare.html] [--allow-mixed]\n"
    "                        [--bootstrap N] [--seed S]\n"
    "\n"
    "Scores each run directory (as higgsbox score does, without writing into it)\n"
    "and prints the leaderboard: rank, plugin, score +- bootstrap error, coverage,\n"
    "width, RMSE, failures, total time. Runs over different data or settings\n"
    "(the events' data.values_sha256, sets, pseudo_experiments, mu, systematics,\n"
    "seed) are refused.\n"
    "\n"
    "  -o, --output FILE  also write the leaderboard as a self-contained HTML page\n"
    "  --allow-mixed      list runs with different settings anyway, in flagged groups\n"
    "  --bootstrap N      bootstrap replicates per run (default 1000; 0: none)\n"
    "  --seed S           bootstrap seed (default 42)\n";

int cmd_compare(int argc, char **argv)
{
    enum { O_MIXED = 1000, O_BOOT, O_SEED };
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"allow-mixed", no_argument, NULL, O_MIXED},
                                         {"bootstrap", required_argument, NULL, O_BOOT},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {0, 0, 0, 0}};
    hbx_score_options opt;
    hbx_score_options_default(&opt);
    const char *html = NULL;
    int allow_mixed = 0, c;
    unsigned long long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(help, stdout);
            return 0;
        case 'o':
            html = optarg;
            break;
        case O_MIXED:
            allow_mixed = 1;
            break;
        case O_BOOT:
            if (cli_parse_u64("--bootstrap", optarg, &v) != 0)
                return 2;
            if (v > 10000000)
                return cli_usage_error("compare", "--bootstrap: at most 10000000 replicates");
            opt.bootstrap = v;
            break;
        case O_SEED:
            if (cli_parse_u64("--seed", optarg, &v) != 0)
                return 2;
            opt.seed = v;
            break;
        case '?':
            if (optopt == 'o')
                return cli_usage_error("compare", "-o needs a FILE");
            return cli_usage_error("compare", "unknown option '%s'", argv[optind - 1]);
        default:
            return cli_usage_error("compare", "unknown option '%s'", argv[optind - 1]);
        }
    }
    size_t n = (size_t)(argc - optind);
    if (n < 1)
        return cli_usage_error("compare", "expects at least one RUNDIR");

    char err[1024];
    hbx_rundir **runs = calloc(n, sizeof *runs);
    hbx_scores **scores = calloc(n, sizeof *scores);
    hbx_compare_entry *e = calloc(n, sizeof *e);
    int rc = 0, mixed = 0;
    if (!runs || !scores || !e) {
        rc = cli_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (hbx_score_load_dir(argv[optind + (int)i], &runs[i], err, sizeof err) != 0 ||
            hbx_score_compute(runs[i], &opt, &scores[i], err, sizeof err) != 0) {
            rc = cli_error("%s", err);
            goto out;
        }
        e[i].run = runs[i];
        e[i].scores = scores[i];
    }
    if (hbx_compare_rank(e, n, allow_mixed, &mixed, err, sizeof err) != 0) {
        rc = cli_error("%s", err);
        goto out;
    }
    hbx_compare_print(stdout, e, n, mixed);
    if (html) {
        if (hbx_compare_write_html(html, e, n, mixed, err, sizeof err) != 0) {
            rc = cli_error("%s", err);
            goto out;
        }
        printf("\nwrote %s\n", html);
    }
out:
    for (size_t i = 0; runs && scores && i < n; i++) {
        hbx_scores_free(scores[i]);
        hbx_rundir_free(runs[i]);
    }
    free(runs);
    free(scores);
    free(e);
    return rc;
}
