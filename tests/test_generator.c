/* The toy generator: determinism whatever the thread count, exact yields
 * per split, the event conventions of the real data, realism against
 * HIGGSML.md §9 and the real sample, and the `gen` command. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../host/src/generator_internal.h"
#include "higgsbox/higgsbox.h"
#include "support.h"

/* ---- helpers ------------------------------------------------------------- */

static void gen_or_fail(uint64_t events, uint64_t seed, double test_fraction, int threads,
                        hbx_table *train, hbx_table *test)
{
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = events;
    o.seed = seed;
    o.test_fraction = test_fraction;
    o.threads = threads;
    char err[512] = "";
    int rc = hbx_generate(&o, train, test, err, sizeof err);
    ck_assert_msg(rc == 0, "hbx_generate: %s", err);
}

/* Bit-for-bit equality of every column of the first n events. */
static int tables_identical(const hbx_table *a, const hbx_table *b)
{
    if (a->n != b->n)
        return 0;
    size_t n = (size_t)a->n;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        if (memcmp(a->features[f], b->features[f], n * sizeof(float)) != 0)
            return 0;
    return memcmp(a->weights, b->weights, n * sizeof(double)) == 0 &&
           memcmp(a->labels, b->labels, n) == 0 && memcmp(a->process, b->process, n) == 0;
}

/* ---- random numbers ------------------------------------------------------ */

START_TEST(philox_known_answers)
{
    /* Random123's published vectors for Philox4x32-10. */
    static const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                       {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                                       {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
    static const uint32_t key[3][2] = {{0, 0}, {0xffffffff, 0xffffffff}, {0xa4093822, 0x299f31d0}};
    static const uint32_t want[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                                        {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                                        {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int k = 0; k < 3; k++) {
        uint32_t out[4];
        hbx_philox4x32_10(ctr[k], key[k], out);
        for (int i = 0; i < 4; i++)
            ck_assert_uint_eq(out[i], want[k][i]);
    }
}
END_TEST

START_TEST(streams_differ_and_repeat)
{
    hbx_gen_rng a, b, c;
    hbx_gen_rng_init(&a, 42, 0);
    hbx_gen_rng_init(&b, 42, 1);
    hbx_gen_rng_init(&c, 42, 0);
    int same_ab = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = hbx_gen_u64(&a), y = hbx_gen_u64(&b), z = hbx_gen_u64(&c);
        same_ab += x == y;
        ck_assert_uint_eq(x, z);
    }
    ck_assert_int_eq(same_ab, 0);
}
END_TEST

START_TEST(normal_moments_and_tails)
{
    /* The ziggurat against the normal's moments and tail probabilities;
     * with 2e6 draws the tolerances are several standard errors. */
    const hbx_gen_ziggurat *z = hbx_gen_ziggurat_tables();
    hbx_gen_rng r;
    hbx_gen_rng_init(&r, 7, 3);
    const int n = 2000000;
    double s1 = 0, s2 = 0, s4 = 0;
    int beyond1 = 0, beyond3 = 0;
    for (int i = 0; i < n; i++) {
        double x = hbx_gen_normal(&r, z);
        s1 += x;
        s2 += x * x;
        s4 += x * x * x * x;
        beyond1 += fabs(x) > 1.0;
        beyond3 += fabs(x) > 3.0;
    }
    ck_assert_double_eq_tol(s1 / n, 0.0, 0.004);
    ck_assert_double_eq_tol(s2 / n, 1.0, 0.006);
    ck_assert_double_eq_tol(s4 / n, 3.0, 0.04);
    ck_assert_double_eq_tol((double)beyond1 / n, 0.317311, 0.0015);
    ck_assert_double_eq_tol((double)beyond3 / n, 0.0026998, 0.00015);
}
END_TEST

/* ---- options ------------------------------------------------------------- */

START_TEST(options_checked)
{
    hbx_gen_options o;
    char err[256];
    hbx_gen_options_default(&o);
    ck_assert_uint_eq(o.events, 2000000);
    ck_assert_double_eq(o.signal_oversampling, 300.0);
    ck_assert_double_eq(o.test_fraction, 0.3);
    ck_assert_int_eq(hbx_gen_options_check(&o, err, sizeof err), 0);

    o.events = 0;
    ck_assert_int_eq(hbx_gen_options_check(&o, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "events"), "%s", err);
    hbx_gen_options_default(&o);
    o.test_fraction = 1.5;
    ck_assert_int_eq(hbx_gen_options_check(&o, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "test fraction"), "%s", err);
    o.test_fraction = NAN;
    ck_assert_int_eq(hbx_gen_options_check(&o, err, sizeof err), -1);
    hbx_gen_options_default(&o);
    o.signal_oversampling = 0;
    ck_assert_int_eq(hbx_gen_options_check(&o, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "oversampling"), "%s", err);
    hbx_gen_options_default(&o);
    o.seed = (uint64_t)INT64_MAX + 1;
    ck_assert_int_eq(hbx_gen_options_check(&o, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "seed"), "%s", err);
    hbx_gen_options_default(&o);
    o.threads = -1;
    ck_assert_int_eq(hbx_gen_options_check(&o, err, sizeof err), -1);

    /* Invalid options leave no half-made tables. */
    hbx_table train, test;
    hbx_gen_options_default(&o);
    o.events = 0;
    ck_assert_int_eq(hbx_generate(&o, &train, &test, err, sizeof err), -1);
    ck_assert_ptr_null(train.features[0]);
    ck_assert_ptr_null(test.weights);
}
END_TEST

/* ---- determinism ----------------------------------------------------------- */

START_TEST(identical_whatever_the_threads)
{
    /* 3.7 blocks, the train/test boundary inside block 1. */
    const uint64_t n = 3 * HBX_GEN_BLOCK + HBX_GEN_BLOCK * 7 / 10;
    hbx_table train[3], test[3];
    for (int t = 0; t < 3; t++)
        gen_or_fail(n, 1234, 0.3, t + 1, &train[t], &test[t]);
    ck_assert_uint_eq(test[0].n, (uint64_t)floor(0.3 * (double)n + 0.5));
    ck_assert_uint_eq(train[0].n + test[0].n, n);
    for (int t = 1; t < 3; t++) {
        ck_assert_msg(tables_identical(&train[0], &train[t]), "train differs with %d threads",
                      t + 1);
        ck_assert_msg(tables_identical(&test[0], &test[t]), "test differs with %d threads", t + 1);
    }
    for (int t = 0; t < 3; t++) {
        hbx_table_free(&train[t]);
        hbx_table_free(&test[t]);
    }
}
END_TEST

START_TEST(seeds_differ)
{
    hbx_table a_train, a_test, b_train, b_test;
    gen_or_fail(5000, 1, 0.5, 1, &a_train, &a_test);
    gen_or_fail(5000, 2, 0.5, 1, &b_train, &b_test);
    ck_assert_uint_eq(a_train.n, b_train.n);
    size_t same = 0;
    for (uint64_t i = 0; i < a_train.n; i++)
        same += a_train.features[HBX_PRI_LEP_PT][i] == b_train.features[HBX_PRI_LEP_PT][i];
    ck_assert_msg(same < a_train.n / 100, "%zu of %llu lepton pt equal across seeds", same,
                  (unsigned long long)a_train.n);
    hbx_table_free(&a_train);
    hbx_table_free(&a_test);
    hbx_table_free(&b_train);
    hbx_table_free(&b_test);
}
END_TEST

/* ---- yields and mix ---------------------------------------------------------- */

START_TEST(yields_exact_per_split)
{
    hbx_table train, test;
    const uint64_t n = 200000;
    gen_or_fail(n, 42, 0.3, 2, &train, &test);
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = n;
    uint64_t count[2][HBX_N_PROCESSES];
    char err[256];
    ck_assert_int_eq(hbx_gen_counts(&o, count, err, sizeof err), 0);

    const hbx_table *split[2] = {[HBX_SPLIT_TRAIN] = &train, [HBX_SPLIT_TEST] = &test};
    double share[HBX_N_PROCESSES], total = 0;
    for (int p = 0; p < HBX_N_PROCESSES; p++) {
        share[p] = hbx_expected_yield(p) * (p == HBX_HTAUTAU ? 300.0 : 1.0);
        total += share[p];
    }
    for (int s = 0; s < 2; s++) {
        const hbx_table *t = split[s];
        double sum[HBX_N_PROCESSES] = {0};
        uint64_t cnt[HBX_N_PROCESSES] = {0};
        for (uint64_t i = 0; i < t->n; i++) {
            ck_assert_uint_lt(t->process[i], HBX_N_PROCESSES);
            ck_assert_uint_eq(t->labels[i], t->process[i] == HBX_HTAUTAU);
            sum[t->process[i]] += t->weights[i];
            cnt[t->process[i]]++;
        }
        for (int p = 0; p < HBX_N_PROCESSES; p++) {
            double target = hbx_expected_yield(p);
            ck_assert_msg(fabs(sum[p] / target - 1.0) < 1e-9, "%s split %s: yield %.6f vs %.0f",
                          hbx_split_name((hbx_split)s), hbx_process_name(p), sum[p], target);
            ck_assert_uint_eq(cnt[p], count[s][p]);
            /* The mix follows yield × oversampling to within a few
             * events (a low-discrepancy sequence, not random draws). */
            double expect = share[p] / total * (double)t->n;
            ck_assert_msg(fabs((double)cnt[p] - expect) < 20.0, "%s: %llu events, expected %.1f",
                          hbx_process_name(p), (unsigned long long)cnt[p], expect);
        }
    }
    hbx_table_free(&train);
    hbx_table_free(&test);
}
END_TEST

START_TEST(oversampling_changes_the_mix)
{
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = 1000000;
    o.signal_oversampling = 1.0;
    uint64_t count[2][HBX_N_PROCESSES];
    char err[256];
    ck_assert_int_eq(hbx_gen_counts(&o, count, err, sizeof err), 0);
    double all = (double)o.events;
    double signal = (double)(count[0][HBX_HTAUTAU] + count[1][HBX_HTAUTAU]);
    ck_assert_double_eq_tol(signal / all, 1015.0 / 1051385.0, 2e-5);
}
END_TEST

/* ---- event conventions ------------------------------------------------------- */

/* v is the float nearest to a multiple of 0.001 (up to float precision). */
static int rounded_to_3_decimals(float v)
{
    double k = (double)v * 1000.0;
    return fabs(k - nearbyint(k)) <= 1e-3 + fabs(k) * 0x1p-23;
}

START_TEST(events_follow_the_data_conventions)
{
    hbx_table train, test;
    gen_or_fail(30000, 5, 0.0, 2, &train, &test);
    ck_assert_uint_eq(test.n, 0);
    uint64_t jets_seen[4] = {0};
    for (uint64_t i = 0; i < train.n; i++) {
        float pri[HBX_N_PRIMARY], der[HBX_N_FEATURES - HBX_N_PRIMARY];
        for (int f = 0; f < HBX_N_PRIMARY; f++) {
            pri[f] = train.features[f][i];
            ck_assert_msg(rounded_to_3_decimals(pri[f]), "event %llu %s = %.9g not rounded",
                          (unsigned long long)i, hbx_feature_name(f), pri[f]);
        }
        ck_assert_float_ge(pri[HBX_PRI_LEP_PT], 20.0f);
        ck_assert_float_ge(pri[HBX_PRI_HAD_PT], 20.0f);
        ck_assert_float_le(fabsf(pri[HBX_PRI_LEP_ETA]), 2.5f);
        ck_assert_float_le(fabsf(pri[HBX_PRI_HAD_ETA]), 2.5f);
        ck_assert_float_le(fabsf(pri[HBX_PRI_MET_PHI]), 3.142f);
        ck_assert_float_ge(pri[HBX_PRI_MET], 0.0f);
        float nj = pri[HBX_PRI_N_JETS];
        ck_assert_float_eq(nj, floorf(nj));
        jets_seen[nj >= 3 ? 3 : (int)nj]++;
        float lead = pri[HBX_PRI_JET_LEADING_PT], sub = pri[HBX_PRI_JET_SUBLEADING_PT];
        if (nj < 1) {
            ck_assert_float_eq(lead, HBX_UNDEFINED);
            ck_assert_float_eq(pri[HBX_PRI_JET_LEADING_ETA], HBX_UNDEFINED);
            ck_assert_float_eq(pri[HBX_PRI_JET_ALL_PT], 0.0f);
        } else {
            ck_assert_float_ge(lead, 20.0f);
            ck_assert_float_lt(fabsf(pri[HBX_PRI_JET_LEADING_ETA]), 4.7f);
            ck_assert_float_ge(pri[HBX_PRI_JET_ALL_PT], lead - 0.01f);
        }
        if (nj < 2) {
            ck_assert_float_eq(sub, HBX_UNDEFINED);
            ck_assert_float_eq(pri[HBX_PRI_JET_SUBLEADING_PHI], HBX_UNDEFINED);
        } else {
            ck_assert_float_ge(sub, 20.0f);
            ck_assert_float_le(sub, lead);
            ck_assert_float_ge(pri[HBX_PRI_JET_ALL_PT], lead + sub - 0.01f);
        }
        if (nj >= 3)
            ck_assert_float_gt(pri[HBX_PRI_JET_ALL_PT], lead + sub + 20.0f - 0.01f);
        /* DER columns are hbx_derive_columns' values of the PRI columns. */
        hbx_derive_event(pri, der);
        for (int k = 0; k < HBX_N_FEATURES - HBX_N_PRIMARY; k++)
            ck_assert_msg(memcmp(&der[k], &train.features[HBX_N_PRIMARY + k][i], sizeof(float)) ==
                              0,
                          "event %llu %s: %.9g vs derived %.9g", (unsigned long long)i,
                          hbx_feature_name(HBX_N_PRIMARY + k),
                          train.features[HBX_N_PRIMARY + k][i], der[k]);
    }
    for (int j = 0; j < 4; j++)
        ck_assert_msg(jets_seen[j] > 100, "only %llu events with %d jets",
                      (unsigned long long)jets_seen[j], j);
    hbx_table_free(&train);
    hbx_table_free(&test);
}
END_TEST

/* ---- realism ----------------------------------------------------------------- */

/* HIGGSML.md §9: medians (16–84 %) after had_pt ≥ 26. */
static const struct {
    double mvis, mvis_q16, mvis_q84, met, njets[4];
} target[HBX_N_PROCESSES] = {
    [HBX_HTAUTAU] = {82, 66, 100, 28, {.30, .32, .21, .18}},
    [HBX_ZTAUTAU] = {69, 58, 80, 14, {.65, .23, .08, .05}},
    [HBX_TTBAR] = {101, 62, 174, 56, {.01, .08, .25, .66}},
    [HBX_DIBOSON] = {94, 58, 163, 42, {.42, .30, .19, .10}},
};
#define TARGET_LEP_PT 28.0 /* overall, HIGGSML.md §9 */
#define TARGET_HAD_PT 39.0
#define TOL_MVIS 0.10
#define TOL_MET 0.20
#define TOL_NJETS 0.08
#define TOL_PT 0.15
#define REALISM_EVENTS 200000
#define REALISM_SEED 42
/* Per-process lepton and tau medians of the real sample are compared only
 * where it holds enough events for its median to be known better than the
 * tolerance (ttbar has 25, diboson 3). */
#define REAL_MIN_EVENTS 100

static double rel(double got, double want)
{
    return got / want - 1.0;
}

/* The real sample's summary, through the importer; 0 when absent. */
static int real_summary(hbx_kin_summary *out)
{
    const char *csv = test_sample_or_skip();
    if (!csv)
        return 0;
    char *dir = test_tmpdir(), h5[4096], err[1024];
    snprintf(h5, sizeof h5, "%s/sample.h5", dir);
    ck_assert_msg(hbx_csv_import(csv, h5, 0.0, NULL, err, sizeof err) == 0, "%s", err);
    hbx_table t;
    ck_assert_msg(hbx_dataset_load(h5, HBX_SPLIT_ALL, &t, err, sizeof err) == 0, "%s", err);
    hbx_dataset v = hbx_table_view(&t);
    ck_assert_int_eq(hbx_kinematics_summary(&v, 26.0, out), HBX_OK);
    hbx_table_free(&t);
    test_rmtree(dir);
    free(dir);
    return 1;
}

START_TEST(realism_against_the_real_data)
{
    hbx_table train, test;
    gen_or_fail(REALISM_EVENTS, REALISM_SEED, 0.0, 2, &train, &test);
    hbx_dataset v = hbx_table_view(&train);
    hbx_kin_summary gen, real;
    ck_assert_int_eq(hbx_kinematics_summary(&v, 26.0, &gen), HBX_OK);
    int have_real = real_summary(&real);

    int bad = 0;
    printf("\nRealism after had_pt >= 26: %d generated events (seed %d) against HIGGSML.md §9%s.\n"
           "Each cell: generated [target] deviation; * marks one out of tolerance (m_vis 10%%, "
           "MET 20%%, n_jets fractions 0.08).\n\n",
           REALISM_EVENTS, REALISM_SEED, have_real ? " and the real sample" : "");
    printf("| process | events | m_vis median (16-84 %%) | MET median | n_jets 0 / 1 / 2 / >=3 |\n"
           "|---|---|---|---|---|\n");
    for (int p = 0; p < HBX_N_PROCESSES; p++) {
        const hbx_kin_stats *g = &gen.process[p];
        double dm = rel(g->mvis_median, target[p].mvis), dmet = rel(g->met_median, target[p].met);
        int m_ok = fabs(dm) <= TOL_MVIS, met_ok = fabs(dmet) <= TOL_MET, nj_ok = 1;
        for (int j = 0; j < 4; j++)
            nj_ok &= fabs(g->njets_frac[j] - target[p].njets[j]) <= TOL_NJETS;
        printf("| %s | %llu | %.1f (%.0f-%.0f) [%.0f (%.0f-%.0f)] %+.1f%%%s | %.1f [%.0f] "
               "%+.1f%%%s | %.2f / %.2f / %.2f / %.2f [%.2f / %.2f / %.2f / %.2f]%s |\n",
               hbx_process_name(p), (unsigned long long)g->n, g->mvis_median, g->mvis_q16,
               g->mvis_q84, target[p].mvis, target[p].mvis_q16, target[p].mvis_q84, 100 * dm,
               m_ok ? "" : " *", g->met_median, target[p].met, 100 * dmet, met_ok ? "" : " *",
               g->njets_frac[0], g->njets_frac[1], g->njets_frac[2], g->njets_frac[3],
               target[p].njets[0], target[p].njets[1], target[p].njets[2], target[p].njets[3],
               nj_ok ? "" : " *");
        bad += !m_ok + !met_ok + !nj_ok;
    }

    printf("\nLepton and tau pt medians (GeV), tolerance 15%%; the real sample's per-process "
           "medians are checked where it has >= %d events.\n\n"
           "| process | lepton pt | tau pt |\n|---|---|---|\n",
           REAL_MIN_EVENTS);
    for (int p = 0; have_real && p < HBX_N_PROCESSES; p++) {
        const hbx_kin_stats *g = &gen.process[p], *r = &real.process[p];
        int checked = r->n >= REAL_MIN_EVENTS;
        double dl = rel(g->lep_pt_median, r->lep_pt_median);
        double dh = rel(g->had_pt_median, r->had_pt_median);
        int ok = !checked || (fabs(dl) <= TOL_PT && fabs(dh) <= TOL_PT);
        printf("| %s | %.1f [real %.1f, %llu events] %+.1f%%%s | %.1f [real %.1f] %+.1f%%%s |\n",
               hbx_process_name(p), g->lep_pt_median, r->lep_pt_median,
               (unsigned long long)r->n, 100 * dl, !checked ? " (not checked)" : ok ? "" : " *",
               g->had_pt_median, r->had_pt_median, 100 * dh,
               !checked ? " (not checked)" : ok ? "" : " *");
        bad += !ok;
    }
    double dl = rel(gen.lep_pt_median_weighted, TARGET_LEP_PT);
    double dh = rel(gen.had_pt_median_weighted, TARGET_HAD_PT);
    int ok = fabs(dl) <= TOL_PT && fabs(dh) <= TOL_PT;
    printf("| all, weighted | %.1f [%.0f] %+.1f%%%s | %.1f [%.0f] %+.1f%%%s |\n",
           gen.lep_pt_median_weighted, TARGET_LEP_PT, 100 * dl, ok ? "" : " *",
           gen.had_pt_median_weighted, TARGET_HAD_PT, 100 * dh, ok ? "" : " *");
    if (have_real)
        printf("\n(real sample, weighted: lepton %.1f, tau %.1f)\n", real.lep_pt_median_weighted,
               real.had_pt_median_weighted);
    bad += !ok;
    ck_assert_msg(bad == 0, "%d comparisons out of tolerance (see the table)", bad);
    hbx_table_free(&train);
    hbx_table_free(&test);
}
END_TEST

/* ---- files and the command ---------------------------------------------------- */

static void load_split(const char *path, hbx_split s, hbx_table *t)
{
    char err[1024];
    ck_assert_msg(hbx_dataset_load(path, s, t, err, sizeof err) == 0, "%s", err);
}

START_TEST(file_matches_memory)
{
    char *dir = test_tmpdir(), path[4096], err[1024];
    snprintf(path, sizeof path, "%s/gen.h5", dir);
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = 2 * HBX_GEN_BLOCK + 123;
    o.seed = 99;
    o.threads = 3;
    ck_assert_msg(hbx_generate_file(&o, path, err, sizeof err) == 0, "%s", err);
    hbx_table mem_train, mem_test, f_train, f_test;
    o.threads = 1;
    ck_assert_int_eq(hbx_generate(&o, &mem_train, &mem_test, err, sizeof err), 0);
    load_split(path, HBX_SPLIT_TRAIN, &f_train);
    load_split(path, HBX_SPLIT_TEST, &f_test);
    ck_assert(tables_identical(&mem_train, &f_train));
    ck_assert(tables_identical(&mem_test, &f_test));

    hbx_dataset_info info;
    ck_assert_msg(hbx_dataset_info_read(path, 0, &info, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(strstr(info.provenance, "\"generator\":\"higgsbox gen\""), "%s",
                  info.provenance);
    ck_assert_msg(strstr(info.provenance, "\"seed\":99"), "%s", info.provenance);
    ck_assert_msg(strstr(info.provenance, "\"events\":16507"), "%s", info.provenance);
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < HBX_N_PROCESSES; p++)
            ck_assert_double_eq_tol(info.sum_weights[s][p], hbx_expected_yield(p),
                                    1e-9 * hbx_expected_yield(p));
    hbx_table_free(&mem_train);
    hbx_table_free(&mem_test);
    hbx_table_free(&f_train);
    hbx_table_free(&f_test);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* The bytes of a file (malloc'd), and their count. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    ck_assert(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

START_TEST(file_bytes_identical_whatever_the_threads)
{
    /* Full and partial chunks in both splits, deflated by the workers in
     * whatever order they get to them. */
    char *dir = test_tmpdir(), path[2][4096], err[1024];
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = 2 * HBX_DATASET_CHUNK + 5000;
    o.test_fraction = 0.5;
    o.seed = 7;
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%s/t%d.h5", dir, k);
        o.threads = k ? 3 : 1;
        ck_assert_msg(hbx_generate_file(&o, path[k], err, sizeof err) == 0, "%s", err);
    }
    size_t len[2];
    unsigned char *a = slurp(path[0], &len[0]), *b = slurp(path[1], &len[1]);
    ck_assert_uint_eq(len[0], len[1]);
    ck_assert_msg(memcmp(a, b, len[0]) == 0, "files differ with 1 and 3 threads");
    free(a);
    free(b);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(bad_path_leaves_nothing)
{
    char err[1024];
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = 100;
    ck_assert_int_eq(hbx_generate_file(&o, "/nonexistent-dir/x.h5", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "/nonexistent-dir/x.h5"), "%s", err);
    ck_assert_int_ne(access("/nonexistent-dir/x.h5", F_OK), 0);
}
END_TEST

START_TEST(cli_writes_a_loadable_file)
{
    char *dir = test_tmpdir(), path[4096], out[8192];
    snprintf(path, sizeof path, "%s/cli.h5", dir);
    char *argv[] = {HBX_TEST_CLI, "gen", "-o", path, "--events", "20000", "--seed", "7",
                    "--threads", "2", "--test-fraction", "0.25", NULL};
    int rc = test_run(argv, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "20000 events (train 15000, test 5000)"), "%s", out);
    hbx_table train, test;
    load_split(path, HBX_SPLIT_TRAIN, &train);
    load_split(path, HBX_SPLIT_TEST, &test);
    ck_assert_uint_eq(train.n, 15000);
    ck_assert_uint_eq(test.n, 5000);
    /* Same options through the library, one thread: the same events. */
    hbx_table mem_train, mem_test;
    gen_or_fail(20000, 7, 0.25, 1, &mem_train, &mem_test);
    ck_assert(tables_identical(&train, &mem_train));
    ck_assert(tables_identical(&test, &mem_test));
    hbx_table_free(&train);
    hbx_table_free(&test);
    hbx_table_free(&mem_train);
    hbx_table_free(&mem_test);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(cli_refuses_bad_input)
{
    char *dir = test_tmpdir(), path[4096], out[8192];
    snprintf(path, sizeof path, "%s/bad.h5", dir);
    struct {
        const char *flag, *value, *needle;
        int status;
    } cases[] = {
        {"--events", "0", "events", 2},
        {"--events", "12x", "--events: '12x' is not a whole number", 2},
        {"--test-fraction", "1.5", "test fraction 1.5", 2},
        {"--signal-oversampling", "-3", "oversampling", 2},
        {"--seed", "-1", "--seed", 2},
        {"--threads", "100000", "thread count", 2},
        {"--bogus", "1", "unknown option", 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *argv[] = {HBX_TEST_CLI, "gen", "-o", path, (char *)cases[k].flag,
                        (char *)cases[k].value, NULL};
        int rc = test_run(argv, out, sizeof out);
        ck_assert_msg(rc == cases[k].status, "%s %s: exit %d: %s", cases[k].flag,
                      cases[k].value, rc, out);
        ck_assert_msg(strstr(out, cases[k].needle), "%s %s: '%s' lacks '%s'", cases[k].flag,
                      cases[k].value, out, cases[k].needle);
        ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: '%s'", out);
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    char *no_output[] = {HBX_TEST_CLI, "gen", "--events", "10", NULL};
    ck_assert_int_eq(test_run(no_output, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "-o FILE"), "%s", out);
    char *bad_dir[] = {HBX_TEST_CLI, "gen", "-o", "/nonexistent-dir/x.h5", "--events", "10",
                       NULL};
    ck_assert_int_eq(test_run(bad_dir, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "/nonexistent-dir/x.h5"), "%s", out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("generator");
    TCase *tc = tcase_create("generator");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, streams_differ_and_repeat);
    tcase_add_test(tc, normal_moments_and_tails);
    tcase_add_test(tc, options_checked);
    tcase_add_test(tc, identical_whatever_the_threads);
    tcase_add_test(tc, seeds_differ);
    tcase_add_test(tc, yields_exact_per_split);
    tcase_add_test(tc, oversampling_changes_the_mix);
    tcase_add_test(tc, events_follow_the_data_conventions);
    tcase_add_test(tc, realism_against_the_real_data);
    tcase_add_test(tc, file_matches_memory);
    tcase_add_test(tc, file_bytes_identical_whatever_the_threads);
    tcase_add_test(tc, bad_path_leaves_nothing);
    tcase_add_test(tc, cli_writes_a_loadable_file);
    tcase_add_test(tc, cli_refuses_bad_input);
    suite_add_tcase(s, tc);
    /* Without the real sample the rest still runs; the suite then reports
     * itself skipped once it passes. */
    int failed = test_main(s);
    if (!failed && access(HBX_TEST_SAMPLE, R_OK) != 0)
        return 77;
    return failed;
}
