/* Derived features: the real sample's official DER columns are reproduced
 * for every event, and the edge cases of HIGGSML.md §3 behave as specified. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "higgsbox/physics.h"
#include "higgsbox/systematics_kernel.h"
#include "support.h"

/* Tolerance of HIGGSML.md §3 as the issue states it. */
static double tolerance(int der, double official)
{
    if (der == HBX_DER_MASS_TRANSVERSE_MET_LEP - HBX_N_PRIMARY)
        return 1e-2;
    return 1e-4 * fmax(1.0, fabs(official));
}

/* Reads the sample's 28 feature columns (by header name) into rows. */
static int read_sample(const char *path, float (**rows)[HBX_N_FEATURES])
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char line[8192];
    ck_assert(fgets(line, sizeof line, f) != NULL);
    int map[64];
    int ncol = 0;
    for (char *tok = strtok(line, ",\r\n"); tok && ncol < 64; tok = strtok(NULL, ",\r\n"))
        map[ncol++] = hbx_feature_index(tok);
    int n = 0, cap = 1024;
    float(*r)[HBX_N_FEATURES] = calloc((size_t)cap, sizeof *r);
    while (fgets(line, sizeof line, f)) {
        if (n == cap)
            r = realloc(r, (size_t)(cap *= 2) * sizeof *r);
        char *save = NULL;
        int c = 0;
        for (char *tok = strtok_r(line, ",\r\n", &save); tok && c < ncol;
             tok = strtok_r(NULL, ",\r\n", &save), c++)
            if (map[c] >= 0)
                r[n][map[c]] = strtof(tok, NULL);
        n++;
    }
    fclose(f);
    *rows = r;
    return n;
}

START_TEST(sample_der_reproduced)
{
    const char *path = test_sample_or_skip();
    if (!path)
        return;
    float(*rows)[HBX_N_FEATURES];
    int n = read_sample(path, &rows);
    ck_assert_int_eq(n, 1000);

    double worst[HBX_N_DER] = {0};
    int worst_row[HBX_N_DER] = {0}, bad[HBX_N_DER] = {0};
    for (int i = 0; i < n; i++) {
        float der[HBX_N_DER];
        hbx_derive_event(rows[i], der);
        for (int k = 0; k < HBX_N_DER; k++) {
            double official = rows[i][HBX_N_PRIMARY + k];
            double dev = fabs((double)der[k] - official);
            if (!(dev <= tolerance(k, official)))
                bad[k]++;
            if (!(dev <= worst[k])) {
                worst[k] = dev;
                worst_row[k] = i;
            }
        }
    }
    printf("worst |ours - official| per DER column over %d events:\n", n);
    for (int k = 0; k < HBX_N_DER; k++)
        printf("  %-28s %.3g (row %d, official %.9g)%s\n", hbx_feature_name(HBX_N_PRIMARY + k),
               worst[k], worst_row[k] + 1, rows[worst_row[k]][HBX_N_PRIMARY + k],
               bad[k] ? "  OUT OF TOLERANCE" : "");
    for (int k = 0; k < HBX_N_DER; k++)
        ck_assert_msg(bad[k] == 0, "%s: %d events beyond tolerance (worst %.3g)",
                      hbx_feature_name(HBX_N_PRIMARY + k), bad[k], worst[k]);

    /* The columnar entry point computes the very same values. */
    float *cols[HBX_N_FEATURES];
    for (int f = 0; f < HBX_N_FEATURES; f++) {
        cols[f] = malloc((size_t)n * sizeof(float));
        for (int i = 0; i < n; i++)
            cols[f][i] = f < HBX_N_PRIMARY ? rows[i][f] : NAN;
    }
    hbx_derive_columns(cols, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        float der[HBX_N_DER];
        hbx_derive_event(rows[i], der);
        for (int k = 0; k < HBX_N_DER; k++)
            ck_assert_msg(memcmp(&cols[HBX_N_PRIMARY + k][i], &der[k], sizeof(float)) == 0,
                          "row %d %s differs between event and column kernels", i + 1,
                          hbx_feature_name(HBX_N_PRIMARY + k));
    }
    for (int f = 0; f < HBX_N_FEATURES; f++)
        free(cols[f]);
    free(rows);
}
END_TEST

static void base_event(float pri[HBX_N_PRIMARY])
{
    memset(pri, 0, HBX_N_PRIMARY * sizeof(float));
    pri[HBX_PRI_LEP_PT] = 30;
    pri[HBX_PRI_LEP_ETA] = 0.5f;
    pri[HBX_PRI_LEP_PHI] = 0.1f;
    pri[HBX_PRI_HAD_PT] = 40;
    pri[HBX_PRI_HAD_ETA] = -0.3f;
    pri[HBX_PRI_HAD_PHI] = 2.5f;
    pri[HBX_PRI_MET] = 20;
    pri[HBX_PRI_MET_PHI] = -1.0f;
    for (int f = HBX_PRI_JET_LEADING_PT; f <= HBX_PRI_JET_SUBLEADING_PHI; f++)
        pri[f] = HBX_UNDEFINED;
}

START_TEST(no_jets_undefined)
{
    float pri[HBX_N_PRIMARY], der[HBX_N_DER];
    base_event(pri);
    hbx_derive_event(pri, der);
    ck_assert_float_eq(der[HBX_DER_DELTAETA_JET_JET - HBX_N_PRIMARY], HBX_UNDEFINED);
    ck_assert_float_eq(der[HBX_DER_MASS_JET_JET - HBX_N_PRIMARY], HBX_UNDEFINED);
    ck_assert_float_eq(der[HBX_DER_PRODETA_JET_JET - HBX_N_PRIMARY], HBX_UNDEFINED);
    ck_assert_float_eq(der[HBX_DER_LEP_ETA_CENTRALITY - HBX_N_PRIMARY], HBX_UNDEFINED);
    /* The -25 placeholders must not leak into pt_tot: with no jets it equals pt_h. */
    ck_assert_float_eq(der[HBX_DER_PT_TOT - HBX_N_PRIMARY], der[HBX_DER_PT_H - HBX_N_PRIMARY]);
    ck_assert_float_eq_tol(der[HBX_DER_SUM_PT - HBX_N_PRIMARY], 70.0f, 1e-5f);
    ck_assert_float_eq_tol(der[HBX_DER_PT_RATIO_LEP_HAD - HBX_N_PRIMARY], 0.75f, 1e-7f);
    for (int k = 0; k < HBX_N_DER; k++)
        ck_assert_msg(isfinite(der[k]), "%s not finite", hbx_feature_name(HBX_N_PRIMARY + k));
}
END_TEST

START_TEST(one_jet_counts_in_pt_tot_only)
{
    float pri[HBX_N_PRIMARY], der[HBX_N_DER];
    base_event(pri);
    pri[HBX_PRI_N_JETS] = 1;
    pri[HBX_PRI_JET_LEADING_PT] = 50;
    pri[HBX_PRI_JET_LEADING_ETA] = 1.0f;
    pri[HBX_PRI_JET_LEADING_PHI] = 0.0f;
    pri[HBX_PRI_JET_ALL_PT] = 50;
    hbx_derive_event(pri, der);
    ck_assert_float_eq(der[HBX_DER_MASS_JET_JET - HBX_N_PRIMARY], HBX_UNDEFINED);
    ck_assert_float_ne(der[HBX_DER_PT_TOT - HBX_N_PRIMARY], der[HBX_DER_PT_H - HBX_N_PRIMARY]);
    ck_assert_float_eq_tol(der[HBX_DER_SUM_PT - HBX_N_PRIMARY], 120.0f, 1e-5f);
}
END_TEST

START_TEST(two_jets_equal_eta)
{
    float pri[HBX_N_PRIMARY], der[HBX_N_DER];
    base_event(pri);
    pri[HBX_PRI_N_JETS] = 2;
    pri[HBX_PRI_JET_LEADING_PT] = 60;
    pri[HBX_PRI_JET_LEADING_ETA] = 1.0f;
    pri[HBX_PRI_JET_LEADING_PHI] = 1.0f;
    pri[HBX_PRI_JET_SUBLEADING_PT] = 30;
    pri[HBX_PRI_JET_SUBLEADING_ETA] = 1.0f;
    pri[HBX_PRI_JET_SUBLEADING_PHI] = -2.0f;
    hbx_derive_event(pri, der);
    ck_assert_float_eq(der[HBX_DER_DELTAETA_JET_JET - HBX_N_PRIMARY], 0.0f);
    ck_assert_float_eq_tol(der[HBX_DER_PRODETA_JET_JET - HBX_N_PRIMARY], 1.0f, 1e-6f);
    /* Equal etas: the gap² gets 1e-4, so exp(-4·0.25/1e-4) underflows to 0. */
    ck_assert_float_eq(der[HBX_DER_LEP_ETA_CENTRALITY - HBX_N_PRIMARY], 0.0f);
    /* Two jets of equal eta and azimuths 3 rad apart: m² = 2·pt1·pt2·(1 − cos 3). */
    double m = sqrt(2.0 * 60 * 30 * (1.0 - cos(3.0)));
    ck_assert_double_eq_tol(der[HBX_DER_MASS_JET_JET - HBX_N_PRIMARY], m, 1e-3);
}
END_TEST

START_TEST(met_phi_centrality_degenerate)
{
    float pri[HBX_N_PRIMARY], der[HBX_N_DER];
    base_event(pri);
    /* All azimuths equal: s = 0 so A = B = 0; the retry with φlep + 1e-4
     * gives s = -1, A = sin(1e-4), B = 0, hence exactly 1. */
    pri[HBX_PRI_LEP_PHI] = 1.0f;
    pri[HBX_PRI_HAD_PHI] = 1.0f;
    pri[HBX_PRI_MET_PHI] = 1.0f;
    hbx_derive_event(pri, der);
    float c = der[HBX_DER_MET_PHI_CENTRALITY - HBX_N_PRIMARY];
    ck_assert_msg(isfinite(c), "centrality %g", (double)c);
    ck_assert_float_eq_tol(c, 1.0f, 1e-6f);
    /* MET exactly between lep and tau: A = B, centrality sqrt(2). */
    base_event(pri);
    pri[HBX_PRI_LEP_PHI] = 0.0f;
    pri[HBX_PRI_HAD_PHI] = 1.0f;
    pri[HBX_PRI_MET_PHI] = 0.5f;
    hbx_derive_event(pri, der);
    ck_assert_float_eq_tol(der[HBX_DER_MET_PHI_CENTRALITY - HBX_N_PRIMARY], (float)M_SQRT2, 1e-6f);
}
END_TEST

/* Azimuths at 3 decimals are looked up: the table holds exactly what
 * sincos gives for those floats, and other values are computed. */
START_TEST(azimuth_table_is_sincos)
{
    for (int k = -HBX_TRIG_MAX; k <= HBX_TRIG_MAX; k++) {
        const float phi = hbx_thousandths(k);
        double s, c;
        sincos((double)phi, &s, &c);
        const hbx_cs a = hbx_trig_of(phi), b = hbx_trig_k(k);
        ck_assert(memcmp(&a.c, &c, sizeof c) == 0 && memcmp(&a.s, &s, sizeof s) == 0);
        ck_assert(memcmp(&a, &b, sizeof a) == 0);
    }
    const float odd[] = {0.0005f, -1.23456f, 3.1425f, -3.5f, 10.0f, 3.14159265f};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        double s, c;
        sincos((double)odd[i], &s, &c);
        const hbx_cs a = hbx_trig_of(odd[i]);
        ck_assert(a.c == c && a.s == s);
    }
    /* Beyond the table's range, by thousandths too. */
    const hbx_cs far = hbx_trig_k(5000);
    ck_assert(far.c == cos((double)hbx_thousandths(5000)));
}
END_TEST

START_TEST(deltar_wraps_azimuth)
{
    float pri[HBX_N_PRIMARY], der[HBX_N_DER];
    base_event(pri);
    pri[HBX_PRI_LEP_ETA] = 0;
    pri[HBX_PRI_HAD_ETA] = 0;
    pri[HBX_PRI_LEP_PHI] = 3.0f;
    pri[HBX_PRI_HAD_PHI] = -3.0f;
    hbx_derive_event(pri, der);
    ck_assert_double_eq_tol(der[HBX_DER_DELTAR_HAD_LEP - HBX_N_PRIMARY],
                            2 * M_PI - 6.0, 1e-6);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("derived");
    TCase *tc = tcase_create("derived");
    tcase_add_test(tc, sample_der_reproduced);
    tcase_add_test(tc, no_jets_undefined);
    tcase_add_test(tc, one_jet_counts_in_pt_tot_only);
    tcase_add_test(tc, two_jets_equal_eta);
    tcase_add_test(tc, met_phi_centrality_degenerate);
    tcase_add_test(tc, deltar_wraps_azimuth);
    tcase_add_test(tc, azimuth_table_is_sincos);
    suite_add_tcase(s, tc);
    /* The edge cases run regardless; without the sample the suite reports
     * itself skipped once they pass. */
    int failed = test_main(s);
    if (!failed && access(HBX_TEST_SAMPLE, R_OK) != 0)
        return 77;
    return failed;
}
