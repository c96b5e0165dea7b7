/*
 * Import throughput: `higgsbox import` (count+hash pass, strict parse, DER
 * recomputation and comparison, compressed HDF5 writing) against a baseline
 * measured in the same run on the same file: a bare read + strtod of every
 * numeric field, which is the least any CSV import has to do.
 *
 * Also times loading the resulting dataset and exporting it back to CSV.
 *
 * usage: bench_import [ROWS] [DIR]    (default 1000000 rows, in /tmp)
 * The CSV is written by the bench itself: synthetic events in the official
 * 31-column layout, DER columns included.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "higgsbox/higgsbox.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Event i: plausible kinematics, 0-3 jets, processes in challenge-like
 * proportions. Cheap integer hashing keeps generation fast. */
static void synth(uint64_t i, float f[HBX_N_FEATURES], int *process, double *w)
{
    uint64_t h = i * 0x9e3779b97f4a7c15ull;
    double u = (double)((h >> 11) & 0xfffff) / 1048576.0;
    double v = (double)((h >> 31) & 0xfffff) / 1048576.0;
    int jets = (int)((h >> 55) % 4);
    f[HBX_PRI_LEP_PT] = (float)(20 + 80 * u);
    f[HBX_PRI_LEP_ETA] = (float)(-2.4 + 4.8 * v);
    f[HBX_PRI_LEP_PHI] = (float)(-3.1 + 6.2 * u * v);
    f[HBX_PRI_HAD_PT] = (float)(25 + 60 * v);
    f[HBX_PRI_HAD_ETA] = (float)(2.3 - 4.6 * u);
    f[HBX_PRI_HAD_PHI] = (float)(3.0 - 6.0 * v * v);
    f[HBX_PRI_JET_LEADING_PT] = jets >= 1 ? (float)(30 + 100 * v) : -25;
    f[HBX_PRI_JET_LEADING_ETA] = jets >= 1 ? (float)(-4 + 8 * u) : -25;
    f[HBX_PRI_JET_LEADING_PHI] = jets >= 1 ? (float)(-3 + 6 * u) : -25;
    f[HBX_PRI_JET_SUBLEADING_PT] = jets >= 2 ? (float)(25 + 20 * u) : -25;
    f[HBX_PRI_JET_SUBLEADING_ETA] = jets >= 2 ? (float)(4 - 8 * v) : -25;
    f[HBX_PRI_JET_SUBLEADING_PHI] = jets >= 2 ? (float)(1 - 2 * v) : -25;
    f[HBX_PRI_N_JETS] = (float)jets;
    f[HBX_PRI_JET_ALL_PT] = (jets >= 1 ? f[HBX_PRI_JET_LEADING_PT] : 0) +
                            (jets >= 2 ? f[HBX_PRI_JET_SUBLEADING_PT] : 0);
    f[HBX_PRI_MET] = (float)(5 + 50 * u * u);
    f[HBX_PRI_MET_PHI] = (float)(-3 + 6 * v);
    hbx_derive_event(f, f + HBX_N_PRIMARY);
    unsigned r = (unsigned)(h % 1000);
    *process = r < 300 ? HBX_HTAUTAU : r < 900 ? HBX_ZTAUTAU : r < 980 ? HBX_TTBAR : HBX_DIBOSON;
    *w = *process == HBX_HTAUTAU ? 2e-5 * (1 + u) : 0.006 * (1 + v);
}

static int write_csv(const char *path, uint64_t rows)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fputs("PRI_lep_pt,PRI_lep_eta,PRI_lep_phi,PRI_had_pt,PRI_had_eta,PRI_had_phi,"
          "PRI_jet_leading_pt,PRI_jet_leading_eta,PRI_jet_leading_phi,PRI_jet_subleading_pt,"
          "PRI_jet_subleading_eta,PRI_jet_subleading_phi,PRI_n_jets,PRI_jet_all_pt,PRI_met,"
          "PRI_met_phi,weights,detailed_labels,labels",
          f);
    for (int k = HBX_N_PRIMARY; k < HBX_N_FEATURES; k++)
        fprintf(f, ",%s", hbx_feature_name(k));
    fputc('\n', f);
    for (uint64_t i = 0; i < rows; i++) {
        float x[HBX_N_FEATURES];
        int p;
        double w;
        synth(i, x, &p, &w);
        for (int k = 0; k < HBX_N_PRIMARY; k++)
            fprintf(f, "%.9g,", (double)x[k]);
        fprintf(f, "%.17g,%s,%d", w, hbx_process_name(p), p == HBX_HTAUTAU);
        for (int k = HBX_N_PRIMARY; k < HBX_N_FEATURES; k++)
            fprintf(f, ",%.9g", (double)x[k]);
        fputc('\n', f);
    }
    return fclose(f);
}

/* The baseline: read the file in blocks and strtod every numeric field
 * (the process name is skipped). Returns rows seen; *sink defeats dead-code
 * elimination. */
static uint64_t baseline_parse(const char *path, double *sink)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char buf[1 << 20];
    size_t keep = 0, n;
    uint64_t rows = 0;
    double acc = 0;
    int header = 1;
    while ((n = fread(buf + keep, 1, sizeof buf - 1 - keep, f)) > 0 || keep) {
        size_t len = keep + n;
        buf[len] = '\0';
        char *p = buf, *end = buf + len;
        for (;;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                break;
            *nl = '\0';
            if (header)
                header = 0;
            else {
                rows++;
                for (char *q = p; q < nl;) {
                    char *e;
                    double x = strtod(q, &e);
                    if (e == q) /* the process name */
                        e = strchr(q, ',') ? strchr(q, ',') : nl;
                    acc += x;
                    q = e + 1;
                }
            }
            p = nl + 1;
        }
        keep = (size_t)(end - p);
        memmove(buf, p, keep);
        if (n == 0)
            break;
    }
    fclose(f);
    *sink = acc;
    return rows;
}

int main(int argc, char **argv)
{
    uint64_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/hbx-bench-import-XXXXXX", dir);
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        return 1;
    }
    char csv[4200], h5[4200], back[4200], err[1024];
    snprintf(csv, sizeof csv, "%s/events.csv", tmpl);
    snprintf(h5, sizeof h5, "%s/events.h5", tmpl);
    snprintf(back, sizeof back, "%s/back.csv", tmpl);

    printf("bench_import: %llu rows\n", (unsigned long long)rows);
    double t0 = now();
    if (write_csv(csv, rows) != 0) {
        perror(csv);
        return 1;
    }
    struct stat st;
    stat(csv, &st);
    double mb = (double)st.st_size / 1e6;
    printf("  wrote CSV: %.1f MB in %.2f s\n", mb, now() - t0);

    /* Baseline twice: the first run warms the page cache for both sides. */
    double sink = 0;
    baseline_parse(csv, &sink);
    t0 = now();
    uint64_t seen = baseline_parse(csv, &sink);
    double t_base = now() - t0;
    if (seen != rows) {
        fprintf(stderr, "baseline saw %llu rows\n", (unsigned long long)seen);
        return 1;
    }

    hbx_import_report rep;
    t0 = now();
    if (hbx_csv_import(csv, h5, HBX_DEFAULT_TEST_FRACTION, &rep, err, sizeof err) != 0) {
        fprintf(stderr, "import failed: %s\n", err);
        return 1;
    }
    double t_import = now() - t0;
    stat(h5, &st);
    double h5_mb = (double)st.st_size / 1e6;

    hbx_table t;
    t0 = now();
    if (hbx_dataset_load(h5, HBX_SPLIT_ALL, &t, err, sizeof err) != 0) {
        fprintf(stderr, "load failed: %s\n", err);
        return 1;
    }
    double t_load = now() - t0;
    hbx_table_free(&t);

    t0 = now();
    if (hbx_csv_export(h5, HBX_SPLIT_ALL, back, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "export failed: %s\n", err);
        return 1;
    }
    double t_export = now() - t0;

    printf("  baseline (read + strtod of every field): %7.2f s  %10.0f events/s  %7.1f MB/s"
           "  (checksum %g)\n",
           t_base, (double)rows / t_base, mb / t_base, sink);
    printf("  higgsbox import (2 passes, DER, HDF5):   %7.2f s  %10.0f events/s  %7.1f MB/s\n",
           t_import, (double)rows / t_import, mb / t_import);
    printf("  import / baseline time ratio: %.2f\n", t_import / t_base);
    printf("  dataset: %.1f MB (%.1f%% of the CSV)\n", h5_mb, 100 * h5_mb / mb);
    printf("  load whole dataset: %.3f s (%.0f events/s)\n", t_load, (double)rows / t_load);
    printf("  export to CSV:      %.2f s (%.0f events/s)\n", t_export,
           (double)rows / t_export);
    unlink(csv);
    unlink(h5);
    unlink(back);
    rmdir(tmpl);
    return 0;
}
