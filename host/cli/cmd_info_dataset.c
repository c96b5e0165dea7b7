/* higgsbox info on a dataset file: header, per-split and per-process
 * counts and yields, per-column min/median/max, provenance. */
#include <gsl/gsl_statistics_double.h>
#include <stdlib.h>

#include "cli.h"
#include "higgsbox/higgsbox.h"

typedef struct range {
    uint64_t n;
    double min, median, max;
} range;

/* One column's range over both splits. The column is loaded alone (one
 * array of doubles at a time), so memory is one column, not the file. */
static int column_range(const char *path, int column, range *r)
{
    char err[512];
    double *v;
    if (hbx_dataset_load_column(path, HBX_SPLIT_ALL, column, &v, &r->n, err, sizeof err) != 0)
        return cli_error("%s", err);
    if (r->n) {
        gsl_stats_minmax(&r->min, &r->max, v, 1, r->n);
        /* Quickselect, reorders v: fine, v is ours and used only here. */
        r->median = gsl_stats_median(v, 1, r->n);
    }
    free(v);
    return 0;
}

int cmd_info_dataset(const char *path)
{
    char err[512];
    hbx_dataset_info info;
    if (hbx_dataset_info_read(path, 1, &info, err, sizeof err) != 0)
        return cli_error("%s", err);
    /* Everything is read before anything is printed, so a damaged file
     * gives its one error line rather than half a report. */
    range ranges[HBX_COLUMN_WEIGHTS + 1];
    for (int c = 0; c <= HBX_COLUMN_WEIGHTS; c++)
        if (column_range(path, c, &ranges[c]) != 0)
            return 1;
    /* Reads every event once more (constant memory), which also checks the
     * label and process columns the ranges do not cover. */
    char values[65];
    if (hbx_dataset_values_sha256(path, values, err, sizeof err) != 0)
        return cli_error("%s", err);

    printf("dataset:    %s\n", path);
    printf("format:     higgsbox dataset v%u, luminosity %g fb^-1\n", info.format_version,
           info.luminosity);
    printf("sha256:     %s (the file)\n", info.checksum);
    printf("values:     %s (sha256 of the events)\n", values);
    printf("provenance: %s\n\n", info.provenance);

    printf("%-10s %10s %16s\n", "split", "events", "sum of weights");
    for (int s = 0; s < 2; s++) {
        uint64_t n = 0;
        double w = 0;
        for (int p = 0; p < HBX_N_PROCESSES; p++) {
            n += info.count[s][p];
            w += info.sum_weights[s][p];
        }
        printf("%-10s %10llu %16.6f\n", hbx_split_name((hbx_split)s), (unsigned long long)n, w);
        for (int p = 0; p < HBX_N_PROCESSES; p++)
            printf("  %-8s %10llu %16.6f\n", hbx_process_name(p),
                   (unsigned long long)info.count[s][p], info.sum_weights[s][p]);
    }

    printf("\ncolumns (both splits):\n  %-28s %14s %14s %14s\n", "name", "min", "median", "max");
    for (int c = 0; c <= HBX_COLUMN_WEIGHTS; c++) {
        if (ranges[c].n == 0)
            printf("  %-28s %14s %14s %14s\n", hbx_column_name(c), "-", "-", "-");
        else
            printf("  %-28s %14.6g %14.6g %14.6g\n", hbx_column_name(c), ranges[c].min,
                   ranges[c].median, ranges[c].max);
    }
    return 0;
}
