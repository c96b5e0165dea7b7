/* higgsbox score: score a run directory, write scores.json and report.html. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "higgsbox/score.h"

static const char help[] =
    "usage: higgsbox score RUNDIR [--bootstrap N] [--bootstrap-size K] [--seed S]\n"
    "                      [--format auto|higgsbox|original] [--no-report]\n"
    "\n"
    "Scores a run directory (docs/SCORING.md): per set and pooled coverage, mean\n"
    "interval width, the quantile score -ln((w + 1e-3) f(c)), RMSE and MAE, and a\n"
    "bootstrap over sets for the score's error bar. Failed PEs count as not\n"
    "covering and are listed. Prints the table, writes RUNDIR/scores.json and\n"
    "RUNDIR/report.html.\n"
    "\n"
    "RUNDIR is a higgsbox run (run.json + pes.jsonl) or a directory in the\n"
    "original challenge's format (result_<set>.json + test_settings.json), on\n"
    "which the numbers equal the original scoring program's.\n"
    "\n"
    "  --bootstrap N       bootstrap replicates (default 1000; 0: none)\n"
    "  --bootstrap-size K  sets drawn per replicate (default: the run's number\n"
    "                      of sets; the original program drew 50)\n"
    "  --seed S            replicate r draws with seed S + r (default 42)\n"
    "  --format F          read RUNDIR as F (default auto: run.json decides)\n"
    "  --no-report         do not write report.html\n";

int cmd_score(int argc, char **argv)
{
    enum { O_BOOT = 1000, O_SIZE, O_SEED, O_FORMAT, O_NOREPORT };
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"bootstrap", required_argument, NULL, O_BOOT},
                                         {"bootstrap-size", required_argument, NULL, O_SIZE},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"format", required_argument, NULL, O_FORMAT},
                                         {"no-report", no_argument, NULL, O_NOREPORT},
                                         {0, 0, 0, 0}};
    hbx_score_options opt;
    hbx_score_options_default(&opt);
    hbx_rundir_format format = HBX_RUNDIR_AUTO;
    int report = 1, c;
    unsigned long long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(help, stdout);
            return 0;
        case O_BOOT:
            if (cli_parse_u64("--bootstrap", optarg, &v) != 0)
                return 2;
            if (v > 10000000)
                return cli_usage_error("score", "--bootstrap: at most 10000000 replicates");
            opt.bootstrap = v;
            break;
        case O_SIZE:
            if (cli_parse_u64("--bootstrap-size", optarg, &v) != 0)
                return 2;
            if (v > 10000000)
                return cli_usage_error("score", "--bootstrap-size: at most 10000000 sets");
            opt.bootstrap_size = v;
            break;
        case O_SEED:
            if (cli_parse_u64("--seed", optarg, &v) != 0)
                return 2;
            opt.seed = v;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "auto") == 0)
                format = HBX_RUNDIR_AUTO;
            else if (strcmp(optarg, "higgsbox") == 0)
                format = HBX_RUNDIR_HIGGSBOX;
            else if (strcmp(optarg, "original") == 0)
                format = HBX_RUNDIR_ORIGINAL;
            else
                return cli_usage_error("score", "--format: '%s' is not auto, higgsbox or "
                                       "original", optarg);
            break;
        case O_NOREPORT:
            report = 0;
            break;
        default:
            return cli_usage_error("score", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("score", "expects exactly one RUNDIR");
    const char *dir = argv[optind];

    char err[1024];
    hbx_rundir *run = NULL;
    hbx_scores *sc = NULL;
    if (hbx_score_load_dir_as(dir, format, &run, err, sizeof err) != 0)
        return cli_error("%s", err);
    if (hbx_score_compute(run, &opt, &sc, err, sizeof err) != 0) {
        hbx_rundir_free(run);
        return cli_error("%s", err);
    }
    hbx_score_print_table(stdout, run, sc);
    size_t len = strlen(dir) + 32;
    char *path = malloc(len);
    int rc = 0;
    if (!path) {
        rc = cli_error("out of memory");
        goto out;
    }
    snprintf(path, len, "%s/scores.json", dir);
    if (hbx_score_write_json(run, sc, path, err, sizeof err) != 0) {
        rc = cli_error("%s", err);
        goto out;
    }
    printf("\nwrote %s\n", path);
    if (report) {
        snprintf(path, len, "%s/report.html", dir);
        if (hbx_report_write_html(run, sc, path, err, sizeof err) != 0) {
            rc = cli_error("%s", err);
            goto out;
        }
        printf("wrote %s\n", path);
    }
out:
    free(path);
    hbx_scores_free(sc);
    hbx_rundir_free(run);
    return rc;
}
