/* higgsbox shift: apply the systematics of HIGGSML.md §4 to a dataset file. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/systematics_kernel.h"

/* The original's fixed soft-MET seed, kept as our default. */
#define DEFAULT_SEED 31415
#define MAX_SHOW 64

static const char help[] =
    "usage: higgsbox shift DATA.h5 -o OUT.h5 [options]\n"
    "\n"
    "Applies the systematics of HIGGSML.md §4 to every event of a dataset and\n"
    "writes the shifted events (docs/SYSTEMATICS.md states every rule):\n"
    "tes scales the hadronic tau pt, jes the jets, both compensated in the MET;\n"
    "soft-met adds Gaussian noise to the MET; all PRI features are rounded to 3\n"
    "decimals; the post-selection drops events and jets; DER features are\n"
    "recomputed; the background scales multiply the weights.\n"
    "\n"
    "  -o, --output OUT.h5       the dataset to write (replaced only on success)\n"
    "      --tes X               tau energy scale (default 1)\n"
    "      --jes X               jet energy scale (default 1)\n"
    "      --soft-met X          soft MET sigma in GeV (default 0)\n"
    "      --ttbar-scale X       ttbar weight factor (default 1)\n"
    "      --diboson-scale X     diboson weight factor (default 1)\n"
    "      --bkg-scale X         factor on all background weights (default 1)\n"
    "      --no-post-selection   keep every event and jet\n"
    "      --seed S              seed of the soft MET noise (default 31415)\n"
    "      --split train|test|all  which split(s) to shift (default all); the\n"
    "                            others are left out of OUT.h5\n"
    "      --show ROWS           print, step by step, what happens to these\n"
    "                            rows (comma-separated, counted from 0 within\n"
    "                            the shifted splits, test rows first)\n"
    "\n"
    "The noise of an event depends only on the seed and its row in the file\n"
    "(test rows first, then training rows), so shifting one split or all of\n"
    "them gives the same events.\n";

typedef struct shift_run {
    const char *input;
    hbx_nuisances nu;
    uint64_t seed;
    uint64_t show[MAX_SHOW];
    int n_show;
} shift_run;

static void print_row(const char *name, double in, double out, int dropped)
{
    if (dropped)
        printf("  %-28s %14.6g %14s\n", name, in, "-");
    else
        printf("  %-28s %14.6g %14.6g\n", name, in, out);
}

/* What happens to one event, step by step. */
static void show_event(const shift_run *run, hbx_split split, uint64_t local_row,
                       uint64_t noise_row, const hbx_table *t, uint64_t i)
{
    const hbx_nuisances *nu = &run->nu;
    float in[HBX_N_FEATURES], out[HBX_N_FEATURES];
    for (int f = 0; f < HBX_N_FEATURES; f++)
        in[f] = t->features[f][i];
    hbx_syst_trace tr;
    int keep = hbx_systematics_trace(in, nu, run->seed, noise_row, out, &tr);
    unsigned proc = t->process[i];
    printf("== %s row %llu: %s, weight %.9g (noise row %llu of seed %llu) ==\n",
           hbx_split_name(split), (unsigned long long)local_row, hbx_process_name((int)proc),
           t->weights[i], (unsigned long long)noise_row, (unsigned long long)run->seed);
    if (keep < 0) {
        printf("  this event cannot be shifted (non-finite or out-of-range features)\n\n");
        return;
    }
    const int n_jets = (int)in[HBX_PRI_N_JETS];
    printf("  prepared: had_pxy = (%.6f, %.6f), jets_pxy = (%.6f, %.6f) [%d jet%s counted],\n"
           "            MET_xy = (%.6f, %.6f)\n",
           tr.had_px, tr.had_py, tr.jet_px, tr.jet_py, n_jets < 2 ? n_jets : 2,
           (n_jets < 2 ? n_jets : 2) == 1 ? "" : "s", tr.met_x0, tr.met_y0);
    printf("  1 tes %.6g: had_pt %.3f -> %.6f; MET_xy -= %.6g * had_pxy -> (%.6f, %.6f)\n",
           nu->tes, (double)in[HBX_PRI_HAD_PT], tr.had_pt, nu->tes - 1.0, tr.met_x_tes,
           tr.met_y_tes);
    char lead[64] = "absent", sub[64] = "absent";
    if (n_jets >= 1)
        snprintf(lead, sizeof lead, "%.3f -> %.6f", (double)in[HBX_PRI_JET_LEADING_PT], tr.jet1_pt);
    if (n_jets >= 2)
        snprintf(sub, sizeof sub, "%.3f -> %.6f", (double)in[HBX_PRI_JET_SUBLEADING_PT],
                 tr.jet2_pt);
    printf("  2 jes %.6g: leading %s, subleading %s, jet_all_pt %.3f -> %.6f;\n"
           "    MET_xy -= %.6g * jets_pxy -> (%.6f, %.6f)\n",
           nu->jes, lead, sub, (double)in[HBX_PRI_JET_ALL_PT], tr.jet_all_pt, nu->jes - 1.0,
           tr.met_x_jes, tr.met_y_jes);
    printf("  3 soft_met %.6g: noise (%.6f, %.6f) GeV -> MET_xy (%.6f, %.6f)\n", nu->soft_met,
           tr.soft_x, tr.soft_y, tr.met_x, tr.met_y);
    printf("  4 met = %.6f -> %.3f, met_phi = %.6f -> %.3f; every PRI rounded to 3 decimals\n",
           tr.met, (double)tr.rounded[HBX_PRI_MET], tr.met_phi,
           (double)tr.rounded[HBX_PRI_MET_PHI]);
    if (nu->post_selection) {
        printf("  5 post-selection: had_pt %.3f %s; subleading jet %s; leading jet %s; "
               "lep_pt %.3f %s\n",
               (double)tr.rounded[HBX_PRI_HAD_PT], tr.dropped_had ? "< 26: DROP" : ">= 26 ok",
               tr.removed_jet2 ? "in [0, 26]: removed" : n_jets >= 2 ? "> 26 kept" : "absent",
               tr.removed_jet1 ? "in [0, 26]: removed" : n_jets >= 1 ? "> 26 kept" : "absent",
               (double)tr.rounded[HBX_PRI_LEP_PT], tr.dropped_lep ? "< 20: DROP" : ">= 20 ok");
    } else {
        printf("  5 post-selection: off\n");
    }
    printf("  6 DER recomputed from the shifted PRI\n");
    static const char *factor_text[HBX_N_PROCESSES] = {"1 (signal)", "bkg_scale",
                                                       "ttbar_scale * bkg_scale",
                                                       "diboson_scale * bkg_scale"};
    double factors[HBX_N_PROCESSES] = {1.0, nu->bkg_scale, nu->ttbar_scale * nu->bkg_scale,
                                       nu->diboson_scale * nu->bkg_scale};
    printf("  7 weight x %s = %.9g\n", factor_text[proc < HBX_N_PROCESSES ? proc : 0],
           t->weights[i] * factors[proc < HBX_N_PROCESSES ? proc : 0]);
    printf("  %-28s %14s %14s\n", "feature", "input", keep ? "output" : "(dropped)");
    for (int f = 0; f < HBX_N_FEATURES; f++)
        print_row(hbx_feature_name(f), in[f], out[f], !keep);
    printf("\n");
}

/* Provenance of the output: the source and everything that shaped the shift. */
static char *provenance(const shift_run *run, const char *split_name, char *err, size_t len)
{
    char sha[65] = "";
    if (hbx_sha256_file(run->input, sha) != 0) {
        snprintf(err, len, "%s: cannot read: %m", run->input);
        return NULL;
    }
    json_t *nu = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:b}", "tes", run->nu.tes, "jes",
                           run->nu.jes, "soft_met", run->nu.soft_met, "ttbar_scale",
                           run->nu.ttbar_scale, "diboson_scale", run->nu.diboson_scale,
                           "bkg_scale", run->nu.bkg_scale, "post_selection",
                           run->nu.post_selection != 0);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "tool", "higgsbox shift",
                          "higgsbox_version", hbx_version(), "source", run->input,
                          "source_sha256", sha, "split", split_name, "seed",
                          (json_int_t)run->seed, "nuisances", nu);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        snprintf(err, len, "out of memory");
    return text;
}

/* Shifts one split into the writer; counts events and weights in and out. */
static int shift_split(const shift_run *run, hbx_split split, uint64_t first_row,
                       hbx_dataset_writer *w, uint64_t *shown_base, char *err, size_t len)
{
    hbx_dataset_reader *r = hbx_dataset_reader_open(run->input, split, err, len);
    if (!r)
        return -1;
    hbx_table buf, out;
    memset(&out, 0, sizeof out);
    if (hbx_table_alloc(&buf, HBX_DATASET_CHUNK, HBX_TABLE_TRUTH) != HBX_OK) {
        hbx_dataset_reader_close(r);
        snprintf(err, len, "out of memory");
        return -1;
    }
    uint64_t in_count[HBX_N_PROCESSES] = {0}, out_count[HBX_N_PROCESSES] = {0};
    double in_sum[HBX_N_PROCESSES] = {0}, out_sum[HBX_N_PROCESSES] = {0};
    uint64_t row = 0;
    int rc = 0, got;
    while ((got = hbx_dataset_reader_next(r, &buf, err, len)) == 1) {
        for (int s = 0; s < run->n_show; s++) {
            uint64_t want = run->show[s];
            if (want >= *shown_base + row && want < *shown_base + row + buf.n)
                show_event(run, split, want - *shown_base,
                           first_row + (want - *shown_base), &buf, want - *shown_base - row);
        }
        hbx_dataset view = hbx_table_view(&buf);
        int src = hbx_systematics_apply_from(&view, &run->nu, run->seed, first_row + row, &out);
        if (src != HBX_OK) {
            snprintf(err, len, "%s: %s split, rows %llu-%llu: %s", run->input,
                     hbx_split_name(split), (unsigned long long)row,
                     (unsigned long long)(row + buf.n - 1),
                     src == HBX_E_NOMEM ? "out of memory"
                                        : "an event cannot be shifted (non-finite feature, "
                                          "|eta| or |phi| above 32.767, or a bad n_jets)");
            rc = -1;
            break;
        }
        for (uint64_t i = 0; i < buf.n; i++) {
            in_count[buf.process[i]]++;
            in_sum[buf.process[i]] += buf.weights[i];
        }
        for (uint64_t i = 0; i < out.n; i++) {
            out_count[out.process[i]]++;
            out_sum[out.process[i]] += out.weights[i];
        }
        if (out.n && hbx_dataset_writer_append(w, split, &out, err, len) != 0) {
            rc = -1;
            break;
        }
        hbx_table_free(&out);
        row += buf.n;
    }
    if (got < 0)
        rc = -1;
    hbx_table_free(&out);
    hbx_table_free(&buf);
    hbx_dataset_reader_close(r);
    if (rc == 0) {
        uint64_t tin = 0, tout = 0;
        for (int k = 0; k < HBX_N_PROCESSES; k++) {
            tin += in_count[k];
            tout += out_count[k];
        }
        printf("%s: %llu events in, %llu out (%llu dropped by the post-selection)\n",
               hbx_split_name(split), (unsigned long long)tin, (unsigned long long)tout,
               (unsigned long long)(tin - tout));
        for (int k = 0; k < HBX_N_PROCESSES; k++)
            printf("  %-8s %10llu -> %10llu events, weights %14.6f -> %14.6f\n",
                   hbx_process_name(k), (unsigned long long)in_count[k],
                   (unsigned long long)out_count[k], in_sum[k], out_sum[k]);
        *shown_base += row;
    }
    return rc;
}

static int parse_show(const char *text, shift_run *run)
{
    char *copy = strdup(text);
    if (!copy)
        return -1;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        unsigned long long v;
        if (run->n_show == MAX_SHOW) {
            fprintf(stderr, "higgsbox: --show: at most %d rows\n", MAX_SHOW);
            rc = -1;
        } else if (cli_parse_u64("--show", tok, &v) != 0) {
            rc = -1;
        } else {
            run->show[run->n_show++] = v;
        }
    }
    free(copy);
    return rc;
}

int cmd_shift(int argc, char **argv)
{
    enum {
        O_TES = 256, O_JES, O_SOFT, O_TTBAR, O_DIBOSON, O_BKG,
        O_NOPOST, O_SEED, O_SPLIT, O_SHOW
    };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"tes", required_argument, NULL, O_TES},
        {"jes", required_argument, NULL, O_JES},
        {"soft-met", required_argument, NULL, O_SOFT},
        {"ttbar-scale", required_argument, NULL, O_TTBAR},
        {"diboson-scale", required_argument, NULL, O_DIBOSON},
        {"bkg-scale", required_argument, NULL, O_BKG},
        {"no-post-selection", no_argument, NULL, O_NOPOST},
        {"seed", required_argument, NULL, O_SEED},
        {"split", required_argument, NULL, O_SPLIT},
        {"show", required_argument, NULL, O_SHOW},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    shift_run run;
    memset(&run, 0, sizeof run);
    run.nu = hbx_nuisances_nominal();
    run.seed = DEFAULT_SEED;
    hbx_split split = HBX_SPLIT_ALL;
    const char *output = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        double *target = NULL;
        const char *flag = NULL;
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case O_TES:
            target = &run.nu.tes;
            flag = "--tes";
            break;
        case O_JES:
            target = &run.nu.jes;
            flag = "--jes";
            break;
        case O_SOFT:
            target = &run.nu.soft_met;
            flag = "--soft-met";
            break;
        case O_TTBAR:
            target = &run.nu.ttbar_scale;
            flag = "--ttbar-scale";
            break;
        case O_DIBOSON:
            target = &run.nu.diboson_scale;
            flag = "--diboson-scale";
            break;
        case O_BKG:
            target = &run.nu.bkg_scale;
            flag = "--bkg-scale";
            break;
        case O_NOPOST:
            run.nu.post_selection = 0;
            break;
        case O_SEED: {
            unsigned long long v;
            if (cli_parse_u64("--seed", optarg, &v) != 0)
                return 2;
            run.seed = v;
            break;
        }
        case O_SPLIT:
            if (hbx_split_parse(optarg, &split) != 0)
                return cli_usage_error("shift", "--split '%s' is not train, test or all", optarg);
            break;
        case O_SHOW:
            if (parse_show(optarg, &run) != 0)
                return 2;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            return cli_usage_error("shift", "unknown option or missing value '%s'",
                                   argv[optind - 1]);
        }
        if (target) {
            if (cli_parse_double(flag, optarg, target) != 0)
                return 2;
            const int scale = c == O_TES || c == O_JES;
            if (scale ? !(*target > 0.0) : !(*target >= 0.0))
                return cli_usage_error("shift", "%s %s must be %s", flag, optarg,
                                       scale ? "> 0" : ">= 0");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("shift", "expects exactly one DATA.h5");
    if (!output)
        return cli_usage_error("shift", "-o OUT.h5 is required");
    run.input = argv[optind];
    if (access(run.input, R_OK) != 0)
        return cli_error("%s: cannot read: %m", run.input);

    char err[1024];
    hbx_dataset_info info;
    if (hbx_dataset_info_read(run.input, 0, &info, err, sizeof err) != 0)
        return cli_error("%s", err);
    uint64_t n_test = 0;
    for (int k = 0; k < HBX_N_PROCESSES; k++)
        n_test += info.count[HBX_SPLIT_TEST][k];

    char *prov = provenance(&run, hbx_split_name(split), err, sizeof err);
    if (!prov)
        return cli_error("%s", err);
    hbx_dataset_writer *w = hbx_dataset_writer_open(output, prov, err, sizeof err);
    free(prov);
    if (!w)
        return cli_error("%s", err);

    /* Test rows first, as in the file's "all" order that numbers the noise. */
    uint64_t shown_base = 0;
    int rc = 0;
    if (split == HBX_SPLIT_TEST || split == HBX_SPLIT_ALL)
        rc = shift_split(&run, HBX_SPLIT_TEST, 0, w, &shown_base, err, sizeof err);
    if (rc == 0 && (split == HBX_SPLIT_TRAIN || split == HBX_SPLIT_ALL))
        rc = shift_split(&run, HBX_SPLIT_TRAIN, n_test, w, &shown_base, err, sizeof err);
    char cerr[1024];
    if (hbx_dataset_writer_close(w, rc == 0, cerr, sizeof cerr) != 0 && rc == 0) {
        snprintf(err, sizeof err, "%s", cerr);
        rc = -1;
    }
    if (rc != 0)
        return cli_error("%s", err);
    for (int i = 0; i < run.n_show; i++)
        if (run.show[i] >= shown_base)
            fprintf(stderr, "higgsbox: warning: --show %llu: only %llu rows were shifted\n",
                    (unsigned long long)run.show[i], (unsigned long long)shown_base);
    printf("wrote %s\n", output);
    return 0;
}
