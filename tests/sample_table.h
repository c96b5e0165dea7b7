/* The shared real sample as an hbx_table with truth columns, read directly
 * from the CSV (independent of the dataset importer) for the systematics and
 * pseudo-experiment suites. */
#ifndef HBX_TEST_SAMPLE_TABLE_H
#define HBX_TEST_SAMPLE_TABLE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "higgsbox/physics.h"

/* Reads every row of the CSV at `path` into *t (allocated here; the DER
 * columns are the file's). Returns the number of events. */
static inline uint64_t sample_table_load(const char *path, hbx_table *t)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[8192];
    ck_assert(fgets(line, sizeof line, f) != NULL);
    enum { W = -2, L = -3, P = -4 };
    int map[64], ncol = 0;
    for (char *tok = strtok(line, ",\r\n"); tok && ncol < 64; tok = strtok(NULL, ",\r\n")) {
        int idx = hbx_feature_index(tok);
        if (strcmp(tok, "weights") == 0)
            idx = W;
        else if (strcmp(tok, "labels") == 0)
            idx = L;
        else if (strcmp(tok, "detailed_labels") == 0)
            idx = P;
        map[ncol++] = idx;
    }
    ck_assert_int_eq(hbx_table_alloc(t, 1024, HBX_TABLE_TRUTH), HBX_OK);
    while (fgets(line, sizeof line, f)) {
        if (t->n == t->capacity)
            ck_assert_int_eq(hbx_table_reserve(t, 2 * t->capacity), HBX_OK);
        char *save = NULL;
        int c = 0;
        const uint64_t i = t->n;
        for (char *tok = strtok_r(line, ",\r\n", &save); tok && c < ncol;
             tok = strtok_r(NULL, ",\r\n", &save), c++) {
            if (map[c] >= 0)
                t->features[map[c]][i] = strtof(tok, NULL);
            else if (map[c] == W)
                t->weights[i] = strtod(tok, NULL);
            else if (map[c] == L)
                t->labels[i] = (uint8_t)atoi(tok);
            else if (map[c] == P)
                for (int k = 0; k < HBX_N_PROCESSES; k++)
                    if (strcmp(tok, hbx_process_name(k)) == 0)
                        t->process[i] = (uint8_t)k;
        }
        t->n++;
    }
    fclose(f);
    return t->n;
}

/* One event's 28 features. */
static inline void sample_event(const hbx_table *t, uint64_t i, float ev[HBX_N_FEATURES])
{
    for (int f = 0; f < HBX_N_FEATURES; f++)
        ev[f] = t->features[f][i];
}

#endif
