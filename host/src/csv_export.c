/*
 * Dataset → CSV export (higgsbox export), in the official column order of
 * the challenge's files, streaming one chunk of events at a time into a
 * temporary file that is renamed into place only when complete.
 *
 * 9 significant digits identify a float32 and 17 a double, so strtof/strtod
 * of the printed text give back the very same values: export → import is
 * exact.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_internal.h"

/* Formats event i of t as one CSV line into buf; returns its length. */
static size_t format_row(const hbx_table *t, uint64_t i, char *buf, size_t cap)
{
    size_t len = 0;
    for (int k = 0; k < HBX_N_COLUMNS; k++) {
        int c = hbx_csv_column(k);
        size_t room = cap - len;
        int n;
        if (c < HBX_N_FEATURES)
            n = snprintf(buf + len, room, "%.9g", (double)t->features[c][i]);
        else if (c == HBX_COLUMN_WEIGHTS)
            n = snprintf(buf + len, room, "%.17g", t->weights[i]);
        else if (c == HBX_COLUMN_LABELS)
            n = snprintf(buf + len, room, "%u", t->labels[i]);
        else
            n = snprintf(buf + len, room, "%s", hbx_process_name(t->process[i]));
        len += (size_t)n;
        buf[len++] = k + 1 < HBX_N_COLUMNS ? ',' : '\n';
    }
    return len;
}

int hbx_csv_export(const char *h5_path, hbx_split split, const char *csv_path, uint64_t *rows,
                   char *err, size_t err_len)
{
    if (rows)
        *rows = 0;
    hbx_dataset_reader *r = hbx_dataset_reader_open(h5_path, split, err, err_len);
    if (!r)
        return -1;
    hbx_table t;
    if (hbx_table_alloc(&t, HBX_DATASET_CHUNK, HBX_TABLE_TRUTH) != HBX_OK) {
        hbx_set_error(err, err_len, "%s: out of memory", csv_path);
        hbx_dataset_reader_close(r);
        return -1;
    }
    char *tmp = hbx_temp_beside(csv_path, err, err_len);
    FILE *out = tmp ? fopen(tmp, "we") : NULL;
    int rc = -1;
    uint64_t written = 0;
    if (!out) {
        if (tmp)
            hbx_set_error(err, err_len, "%s: cannot write: %s", csv_path, strerror(errno));
        goto done;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    for (int k = 0; k < HBX_N_COLUMNS; k++)
        fprintf(out, "%s%c", hbx_column_name(hbx_csv_column(k)),
                k + 1 < HBX_N_COLUMNS ? ',' : '\n');
    int more;
    char line[HBX_N_COLUMNS * 32];
    while ((more = hbx_dataset_reader_next(r, &t, err, err_len)) == 1) {
        for (uint64_t i = 0; i < t.n; i++) {
            size_t len = format_row(&t, i, line, sizeof line);
            fwrite(line, 1, len, out);
        }
        written += t.n;
        if (ferror(out))
            break;
    }
    if (more < 0)
        goto done;
    if (ferror(out) | (fclose(out) != 0)) {
        out = NULL;
        hbx_set_error(err, err_len, "%s: write error: %s", csv_path, strerror(errno));
        goto done;
    }
    out = NULL;
    if (rename(tmp, csv_path) != 0) {
        hbx_set_error(err, err_len, "%s: cannot move the finished file into place: %s", csv_path,
                      strerror(errno));
        goto done;
    }
    rc = 0;
    if (rows)
        *rows = written;
done:
    if (out)
        fclose(out);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    hbx_table_free(&t);
    hbx_dataset_reader_close(r);
    return rc;
}
