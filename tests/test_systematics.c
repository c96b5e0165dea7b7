/* Systematics (HIGGSML.md §4): real events shifted and checked against the
 * §4 formulas computed independently here; invariants of the nominal point,
 * of tes and jes; the post-selection; the weight scales; the soft-MET noise;
 * the normal generator behind it; and `higgsbox shift`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "higgsbox/higgsbox.h"
#include "higgsbox/rng.h"
#include "higgsbox/systematics_kernel.h"
#include "sample_table.h"
#include "support.h"

/* The kernel's SIMD lanes (baseline instruction set), to test the
 * arctangent on its own. */
#define HBX_LANES HBX_LANES_SSE2
#include "higgsbox/systematics_kernel.h"
#undef HBX_LANES

/* numpy.round(x, 3) as the original applies it, stored as float32. */
static float ref_round3(double x)
{
    return (float)(nearbyint(x * 1000.0) / 1000.0);
}

static hbx_nuisances nuisances(double tes, double jes, double soft, int post)
{
    hbx_nuisances nu = hbx_nuisances_nominal();
    nu.tes = tes;
    nu.jes = jes;
    nu.soft_met = soft;
    nu.post_selection = post;
    return nu;
}

static void shift(const hbx_table *in, const hbx_nuisances *nu, uint64_t seed, hbx_table *out)
{
    hbx_dataset v = hbx_table_view(in);
    ck_assert_int_eq(hbx_systematics_apply(&v, nu, seed, out), HBX_OK);
}

/* Loads the sample or skips the test. */
#define SAMPLE_OR_SKIP(t)                                                                        \
    const char *sample_path_ = test_sample_or_skip();                                            \
    if (!sample_path_)                                                                           \
        return;                                                                                  \
    hbx_table t;                                                                                 \
    ck_assert_uint_eq(sample_table_load(sample_path_, &t), 1000)

START_TEST(round3_is_numpy_round)
{
    /* Exact binary halves: numpy rounds half to even. */
    ck_assert_float_eq(hbx_round3(0.0625), 0.062f);
    ck_assert_float_eq(hbx_round3(0.1875), 0.188f);
    ck_assert_float_eq(hbx_round3(-0.0625), -0.062f);
    ck_assert_float_eq(hbx_round3(55.5451213), 55.545f);
    ck_assert_float_eq(hbx_round3(-1.2773901), -1.277f);
    ck_assert_float_eq(hbx_round3(-25.0), -25.0f);
    /* Zero is +0, whatever side it comes from. */
    ck_assert(!signbit(hbx_round3(-0.0004)));
    for (int k = -40000; k <= 40000; k += 7) {
        double x = k / 1000.0 + 0.00031 * (k % 3 - 1);
        ck_assert_float_eq(hbx_round3(x), ref_round3(x));
    }
}
END_TEST

/* The kernel multiplies by 0.001 where numpy divides by 1000: the same
 * float32 for every integer it is used on (systematics_kernel.h). */
START_TEST(thousandths_multiply_is_exact)
{
    long bad = 0;
    for (long k = -(1L << 25); k <= (1L << 25); k++)
        bad += (float)((double)k * 0.001) != (float)((double)k / 1000.0);
    ck_assert_int_eq(bad, 0);
    for (long k = -(1L << 25); k <= (1L << 25); k += 977)
        ck_assert(hbx_thousandths((double)k) == (float)((double)k / 1000.0));
    /* Beyond the checked range the kernel divides. */
    ck_assert(hbx_thousandths(0x1p40 + 1) == (float)((0x1p40 + 1) / 1000.0));
}
END_TEST

/* Row 74 of the sample (ztautau, two jets), worked by hand in
 * docs/SYSTEMATICS.md: tes 1.02, jes 0.96, no soft term. */
START_TEST(worked_example_row_74)
{
    SAMPLE_OR_SKIP(t);
    float in[HBX_N_FEATURES], out[HBX_N_FEATURES];
    sample_event(&t, 74, in);
    ck_assert_float_eq(in[HBX_PRI_JET_SUBLEADING_PT], 26.776f);
    hbx_nuisances nu = nuisances(1.02, 0.96, 0.0, 1);
    hbx_syst_trace tr;
    ck_assert_int_eq(hbx_systematics_trace(in, &nu, 1, 74, out, &tr), 1);
    /* Values computed independently (Python, double precision) from §4. */
    ck_assert_float_eq(out[HBX_PRI_HAD_PT], 55.545f);
    ck_assert_float_eq(out[HBX_PRI_JET_LEADING_PT], 32.013f);
    ck_assert_float_eq(out[HBX_PRI_JET_SUBLEADING_PT], -25.0f); /* 25.705 <= 26: removed */
    ck_assert_float_eq(out[HBX_PRI_JET_SUBLEADING_ETA], -25.0f);
    ck_assert_float_eq(out[HBX_PRI_JET_SUBLEADING_PHI], -25.0f);
    ck_assert_float_eq(out[HBX_PRI_N_JETS], 1.0f);
    ck_assert_float_eq(out[HBX_PRI_JET_ALL_PT], 32.014f); /* 57.719 - 25.705 */
    ck_assert_float_eq(out[HBX_PRI_MET], 9.705f);
    ck_assert_float_eq(out[HBX_PRI_MET_PHI], -1.277f);
    ck_assert_float_eq(out[HBX_PRI_LEP_PT], in[HBX_PRI_LEP_PT]);
    ck_assert_float_eq(out[HBX_PRI_JET_LEADING_ETA], in[HBX_PRI_JET_LEADING_ETA]);
    ck_assert(fabs(tr.met - 9.705141036) < 1e-5);
    ck_assert(fabs(tr.met_phi - -1.277390145) < 1e-6);
    ck_assert(tr.removed_jet2 && !tr.removed_jet1 && !tr.dropped_had && !tr.dropped_lep);
    /* DER from the shifted PRI, by the one derive implementation. */
    float der[HBX_N_FEATURES - HBX_N_PRIMARY];
    hbx_derive_event(out, der);
    ck_assert_mem_eq(der, out + HBX_N_PRIMARY, sizeof der);
    ck_assert_float_eq(out[HBX_DER_MASS_JET_JET], -25.0f);
    hbx_table_free(&t);
}
END_TEST

/* Nominal nuisances without post-selection: the (already rounded) sample
 * comes back bit for bit, DER as hbx_derive_event computes it. */
START_TEST(nominal_changes_nothing)
{
    SAMPLE_OR_SKIP(t);
    hbx_table out;
    hbx_nuisances nu = nuisances(1.0, 1.0, 0.0, 0);
    shift(&t, &nu, 7, &out);
    ck_assert_uint_eq(out.n, t.n);
    for (uint64_t i = 0; i < t.n; i++) {
        float in[HBX_N_FEATURES], der[HBX_N_FEATURES - HBX_N_PRIMARY];
        sample_event(&t, i, in);
        hbx_derive_event(in, der);
        for (int f = 0; f < HBX_N_PRIMARY; f++)
            ck_assert_msg(out.features[f][i] == in[f], "event %llu %s: %.9g != %.9g",
                          (unsigned long long)i, hbx_feature_name(f),
                          (double)out.features[f][i], (double)in[f]);
        for (int k = 0; k < HBX_N_FEATURES - HBX_N_PRIMARY; k++)
            ck_assert(out.features[HBX_N_PRIMARY + k][i] == der[k]);
        ck_assert(out.weights[i] == t.weights[i]);
        ck_assert_uint_eq(out.labels[i], t.labels[i]);
        ck_assert_uint_eq(out.process[i], t.process[i]);
    }
    hbx_table_free(&out);
    hbx_table_free(&t);
}
END_TEST

/* The post-selection computed independently, event by event. */
static void check_post_selection(const hbx_table *t, double tes, double jes)
{
    hbx_table out;
    hbx_nuisances nu = nuisances(tes, jes, 0.0, 1);
    shift(t, &nu, 7, &out);
    uint64_t j = 0, dropped = 0, removed2 = 0, removed1 = 0;
    for (uint64_t i = 0; i < t->n; i++) {
        float in[HBX_N_FEATURES];
        sample_event(t, i, in);
        const int n_jets = (int)in[HBX_PRI_N_JETS];
        float had = ref_round3(in[HBX_PRI_HAD_PT] * tes);
        float j1 = n_jets >= 1 ? ref_round3(in[HBX_PRI_JET_LEADING_PT] * jes) : -25.0f;
        float j2 = n_jets >= 2 ? ref_round3(in[HBX_PRI_JET_SUBLEADING_PT] * jes) : -25.0f;
        float all = ref_round3(in[HBX_PRI_JET_ALL_PT] * jes);
        int n = n_jets;
        if (j2 >= 0 && j2 <= 26) {
            all = (float)((double)all - j2);
            j2 = -25.0f;
            n--;
            removed2++;
        }
        if (j1 >= 0 && j1 <= 26) {
            all = (float)((double)all - j1);
            j1 = -25.0f;
            n--;
            removed1++;
        }
        if (had < 26 || in[HBX_PRI_LEP_PT] < 20) {
            dropped++;
            continue;
        }
        ck_assert_uint_lt(j, out.n);
        ck_assert_float_eq(out.features[HBX_PRI_HAD_PT][j], had);
        ck_assert_float_eq(out.features[HBX_PRI_JET_LEADING_PT][j], j1);
        ck_assert_float_eq(out.features[HBX_PRI_JET_SUBLEADING_PT][j], j2);
        ck_assert_float_eq(out.features[HBX_PRI_JET_ALL_PT][j], all);
        ck_assert_float_eq(out.features[HBX_PRI_N_JETS][j], (float)n);
        if (j1 == -25.0f)
            ck_assert_float_eq(out.features[HBX_PRI_JET_LEADING_ETA][j], -25.0f);
        if (j2 == -25.0f)
            ck_assert_float_eq(out.features[HBX_PRI_JET_SUBLEADING_PHI][j], -25.0f);
        ck_assert(out.weights[j] == t->weights[i]);
        j++;
    }
    ck_assert_uint_eq(out.n, j);
    ck_assert_uint_eq(out.n + dropped, t->n);
    /* The sample is not post-selected: the cuts must have had work to do. */
    ck_assert_uint_gt(dropped, 0);
    ck_assert_uint_gt(removed2, 0);
    ck_assert_uint_gt(removed1, 0);
    hbx_table_free(&out);
}

START_TEST(post_selection_event_by_event)
{
    SAMPLE_OR_SKIP(t);
    check_post_selection(&t, 1.0, 1.0);
    check_post_selection(&t, 0.9, 0.9);
    check_post_selection(&t, 1.1, 1.1);
    check_post_selection(&t, 0.97, 1.04);
    hbx_table_free(&t);
}
END_TEST

/* Every event, several (tes, jes, soft_met): PRI against the §4 formulas in
 * double. The soft term's deviates are those of the row's stream (rng.h,
 * tested on its own below). */
START_TEST(formulas_all_events)
{
    SAMPLE_OR_SKIP(t);
    static const double grid[][3] = {{1.02, 0.97, 0.0}, {0.95, 1.05, 0.0}, {1.1, 0.9, 0.0},
                                     {0.9, 1.1, 0.0},   {1.0, 1.0, 1.5},   {1.03, 0.98, 4.0}};
    for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++) {
        const double tes = grid[g][0], jes = grid[g][1], soft = grid[g][2];
        hbx_table out;
        hbx_nuisances nu = nuisances(tes, jes, soft, 0);
        shift(&t, &nu, 7, &out);
        const uint64_t key = hbx_rng_key(7, HBX_RNG_PURPOSE_SHIFT);
        ck_assert_uint_eq(out.n, t.n);
        uint64_t met_exact = 0;
        for (uint64_t i = 0; i < t.n; i++) {
            float in[HBX_N_FEATURES];
            sample_event(&t, i, in);
            const int nj = (int)in[HBX_PRI_N_JETS];
            double mx = in[HBX_PRI_MET] * cos(in[HBX_PRI_MET_PHI]);
            double my = in[HBX_PRI_MET] * sin(in[HBX_PRI_MET_PHI]);
            mx -= (tes - 1) * in[HBX_PRI_HAD_PT] * cos(in[HBX_PRI_HAD_PHI]);
            my -= (tes - 1) * in[HBX_PRI_HAD_PT] * sin(in[HBX_PRI_HAD_PHI]);
            for (int jet = 0; jet < 2 && jet < nj; jet++) {
                double pt = in[jet ? HBX_PRI_JET_SUBLEADING_PT : HBX_PRI_JET_LEADING_PT];
                double phi = in[jet ? HBX_PRI_JET_SUBLEADING_PHI : HBX_PRI_JET_LEADING_PHI];
                mx -= (jes - 1) * pt * cos(phi);
                my -= (jes - 1) * pt * sin(phi);
            }
            if (soft > 0) {
                hbx_rng r = hbx_rng_at(key, i);
                mx += soft * hbx_rng_normal(&r);
                my += soft * hbx_rng_normal(&r);
            }
            float met = ref_round3(hypot(mx, my)), phi = ref_round3(atan2(my, mx));
            ck_assert_float_eq(out.features[HBX_PRI_HAD_PT][i],
                               ref_round3(in[HBX_PRI_HAD_PT] * tes));
            ck_assert_float_eq(out.features[HBX_PRI_JET_ALL_PT][i],
                               ref_round3(in[HBX_PRI_JET_ALL_PT] * jes));
            if (nj >= 1)
                ck_assert_float_eq(out.features[HBX_PRI_JET_LEADING_PT][i],
                                   ref_round3(in[HBX_PRI_JET_LEADING_PT] * jes));
            if (nj >= 2)
                ck_assert_float_eq(out.features[HBX_PRI_JET_SUBLEADING_PT][i],
                                   ref_round3(in[HBX_PRI_JET_SUBLEADING_PT] * jes));
            else
                ck_assert_float_eq(out.features[HBX_PRI_JET_SUBLEADING_PT][i], -25.0f);
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                if (f == HBX_PRI_LEP_PT || f == HBX_PRI_LEP_ETA || f == HBX_PRI_LEP_PHI ||
                    f == HBX_PRI_HAD_ETA || f == HBX_PRI_HAD_PHI || f == HBX_PRI_N_JETS ||
                    f == HBX_PRI_JET_LEADING_ETA || f == HBX_PRI_JET_SUBLEADING_PHI)
                    ck_assert_float_eq(out.features[f][i], in[f]);
            /* The kernel adds the two jets' vectors before scaling them:
             * the last bits of a double may differ from this reference, so
             * a last-decimal flip at a rounding boundary is allowed,
             * nothing more. */
            ck_assert_msg(fabs(out.features[HBX_PRI_MET][i] - met) <= 1.0011e-3,
                          "event %llu met %.6f vs %.6f", (unsigned long long)i,
                          (double)out.features[HBX_PRI_MET][i], (double)met);
            ck_assert(fabs(out.features[HBX_PRI_MET_PHI][i] - phi) <= 1.0011e-3);
            met_exact += out.features[HBX_PRI_MET][i] == met &&
                         out.features[HBX_PRI_MET_PHI][i] == phi;
            float der[HBX_N_FEATURES - HBX_N_PRIMARY], pri[HBX_N_PRIMARY];
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                pri[f] = out.features[f][i];
            hbx_derive_event(pri, der);
            for (int k = 0; k < HBX_N_FEATURES - HBX_N_PRIMARY; k++)
                ck_assert(out.features[HBX_N_PRIMARY + k][i] == der[k]);
        }
        ck_assert_uint_ge(met_exact, t.n * 99 / 100);
        hbx_table_free(&out);
    }
    hbx_table_free(&t);
}
END_TEST

/* tes moves momentum between the tau and the MET: their vector sum is
 * unchanged before rounding (up to the last bits of doubles). */
START_TEST(tes_conserves_had_plus_met)
{
    SAMPLE_OR_SKIP(t);
    for (uint64_t i = 0; i < t.n; i += 3) {
        float in[HBX_N_FEATURES], out[HBX_N_FEATURES];
        sample_event(&t, i, in);
        hbx_nuisances nu = nuisances(i % 2 ? 1.07 : 0.93, 1.0, 0.0, 0);
        hbx_syst_trace tr;
        ck_assert_int_eq(hbx_systematics_trace(in, &nu, 1, i, out, &tr), 1);
        double c = cos(in[HBX_PRI_HAD_PHI]), s = sin(in[HBX_PRI_HAD_PHI]);
        double before_x = in[HBX_PRI_HAD_PT] * c + in[HBX_PRI_MET] * cos(in[HBX_PRI_MET_PHI]);
        double before_y = in[HBX_PRI_HAD_PT] * s + in[HBX_PRI_MET] * sin(in[HBX_PRI_MET_PHI]);
        double after_x = tr.had_pt * c + tr.met_x, after_y = tr.had_pt * s + tr.met_y;
        ck_assert_msg(fabs(after_x - before_x) < 2e-5 && fabs(after_y - before_y) < 2e-5,
                      "event %llu: (%.9f, %.9f) -> (%.9f, %.9f)", (unsigned long long)i, before_x,
                      before_y, after_x, after_y);
        /* And the MET really moved. */
        ck_assert(fabs(tr.met_x - tr.met_x0) + fabs(tr.met_y - tr.met_y0) > 1e-3);
    }
    hbx_table_free(&t);
}
END_TEST

START_TEST(jets_stay_ordered)
{
    SAMPLE_OR_SKIP(t);
    static const double jes[] = {0.9, 0.95, 1.05, 1.1};
    for (size_t g = 0; g < 4; g++)
        for (int post = 0; post <= 1; post++) {
            hbx_table out;
            hbx_nuisances nu = nuisances(1.0, jes[g], 2.0, post);
            shift(&t, &nu, 11, &out);
            uint64_t pairs = 0;
            for (uint64_t i = 0; i < out.n; i++) {
                float j1 = out.features[HBX_PRI_JET_LEADING_PT][i];
                float j2 = out.features[HBX_PRI_JET_SUBLEADING_PT][i];
                if (j2 != -25.0f) {
                    ck_assert_float_ge(j1, j2);
                    pairs++;
                }
                if (post && j1 != -25.0f)
                    ck_assert_float_gt(j1, 26.0f);
                if (post) {
                    ck_assert_float_ge(out.features[HBX_PRI_HAD_PT][i], 26.0f);
                    ck_assert_float_ge(out.features[HBX_PRI_LEP_PT][i], 20.0f);
                }
            }
            ck_assert_uint_gt(pairs, 50);
            hbx_table_free(&out);
        }
    hbx_table_free(&t);
}
END_TEST

START_TEST(weights_scaled_per_process)
{
    SAMPLE_OR_SKIP(t);
    hbx_nuisances nu = nuisances(1.0, 1.0, 0.0, 0);
    nu.ttbar_scale = 1.1;
    nu.diboson_scale = 1.7;
    nu.bkg_scale = 1.01;
    hbx_table out;
    shift(&t, &nu, 1, &out);
    ck_assert_uint_eq(out.n, t.n);
    const double factor[HBX_N_PROCESSES] = {1.0, 1.01, 1.1 * 1.01, 1.7 * 1.01};
    int seen[HBX_N_PROCESSES] = {0};
    for (uint64_t i = 0; i < t.n; i++) {
        const unsigned k = t.process[i];
        seen[k] = 1;
        ck_assert_double_eq_tol(out.weights[i], t.weights[i] * factor[k], 1e-12 * t.weights[i]);
        ck_assert_uint_eq(out.labels[i], t.labels[i]);
    }
    for (int k = 0; k < HBX_N_PROCESSES; k++)
        ck_assert(seen[k]);
    hbx_table_free(&out);

    /* Without a process column the scales cannot act: refused... */
    hbx_dataset v = hbx_table_view(&t);
    v.process = NULL;
    ck_assert_int_eq(hbx_systematics_apply(&v, &nu, 1, &out), HBX_E_INVALID);
    /* ...unless there are no weights for them to act on. */
    v.weights = NULL;
    ck_assert_int_eq(hbx_systematics_apply(&v, &nu, 1, &out), HBX_OK);
    ck_assert_ptr_null(out.weights);
    ck_assert_ptr_null(out.process);
    ck_assert_ptr_nonnull(out.labels);
    hbx_table_free(&out);
    hbx_table_free(&t);
}
END_TEST

START_TEST(soft_met_noise)
{
    SAMPLE_OR_SKIP(t);
    const double sigma = 3.0;
    hbx_nuisances nu = nuisances(1.0, 1.0, sigma, 0);
    hbx_table a, b, c;
    shift(&t, &nu, 99, &a);
    shift(&t, &nu, 99, &b);
    shift(&t, &nu, 100, &c);
    double sx = 0, sy = 0, sxx = 0, syy = 0;
    uint64_t differ = 0;
    for (uint64_t i = 0; i < t.n; i++) {
        for (int f = 0; f < HBX_N_FEATURES; f++)
            ck_assert(a.features[f][i] == b.features[f][i]);
        differ += a.features[HBX_PRI_MET][i] != c.features[HBX_PRI_MET][i];
        double dx = a.features[HBX_PRI_MET][i] * cos(a.features[HBX_PRI_MET_PHI][i]) -
                    t.features[HBX_PRI_MET][i] * cos(t.features[HBX_PRI_MET_PHI][i]);
        double dy = a.features[HBX_PRI_MET][i] * sin(a.features[HBX_PRI_MET_PHI][i]) -
                    t.features[HBX_PRI_MET][i] * sin(t.features[HBX_PRI_MET_PHI][i]);
        sx += dx;
        sy += dy;
        sxx += dx * dx;
        syy += dy * dy;
        /* The soft term moves MET only. */
        ck_assert(a.features[HBX_PRI_HAD_PT][i] == t.features[HBX_PRI_HAD_PT][i]);
    }
    const double n = (double)t.n;
    ck_assert(fabs(sx / n) < 4 * sigma / sqrt(n) && fabs(sy / n) < 4 * sigma / sqrt(n));
    ck_assert(fabs(sxx / n / (sigma * sigma) - 1) < 0.2);
    ck_assert(fabs(syy / n / (sigma * sigma) - 1) < 0.2);
    ck_assert_uint_gt(differ, t.n * 9 / 10);

    /* In two pieces with row offsets: the same events as one call. */
    hbx_dataset v = hbx_table_view(&t);
    hbx_dataset first = v, second = v;
    first.n_events = 400;
    second.n_events = t.n - 400;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        second.features[f] += 400;
    second.weights += 400;
    second.labels += 400;
    second.process += 400;
    hbx_table p1, p2;
    ck_assert_int_eq(hbx_systematics_apply_from(&first, &nu, 99, 0, &p1), HBX_OK);
    ck_assert_int_eq(hbx_systematics_apply_from(&second, &nu, 99, 400, &p2), HBX_OK);
    ck_assert_uint_eq(p1.n + p2.n, a.n);
    for (int f = 0; f < HBX_N_FEATURES; f++) {
        ck_assert_mem_eq(p1.features[f], a.features[f], p1.n * sizeof(float));
        ck_assert_mem_eq(p2.features[f], a.features[f] + p1.n, p2.n * sizeof(float));
    }
    /* The trace of a row sees that row's noise. */
    float in[HBX_N_FEATURES], out[HBX_N_FEATURES];
    sample_event(&t, 517, in);
    hbx_syst_trace tr;
    ck_assert_int_eq(hbx_systematics_trace(in, &nu, 99, 517, out, &tr), 1);
    for (int f = 0; f < HBX_N_FEATURES; f++)
        ck_assert(out[f] == a.features[f][517]);
    ck_assert(fabs(tr.soft_x) > 0);
    hbx_table_free(&p1);
    hbx_table_free(&p2);
    hbx_table_free(&a);
    hbx_table_free(&b);
    hbx_table_free(&c);
    hbx_table_free(&t);
}
END_TEST

START_TEST(bad_arguments_refused)
{
    hbx_table t, out;
    ck_assert_int_eq(hbx_table_alloc(&t, 4, HBX_TABLE_TRUTH), HBX_OK);
    t.n = 1;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        t.features[f][0] = 1.0f;
    t.features[HBX_PRI_HAD_PT][0] = 40.0f;
    t.features[HBX_PRI_LEP_PT][0] = 30.0f;
    t.features[HBX_PRI_N_JETS][0] = 2.0f;
    t.weights[0] = 1.0;
    t.labels[0] = 0;
    t.process[0] = HBX_ZTAUTAU;
    hbx_dataset v = hbx_table_view(&t);
    hbx_nuisances ok = hbx_nuisances_nominal();
    ck_assert_int_eq(hbx_systematics_apply(&v, &ok, 0, &out), HBX_OK);
    ck_assert_uint_eq(out.n, 1);
    hbx_table_free(&out);

    const double bad[][6] = {{0, 1, 0, 1, 1, 1},   {1, -1, 0, 1, 1, 1}, {1, 1, -0.5, 1, 1, 1},
                             {1, 1, 0, -1, 1, 1},  {1, 1, 0, 1, -2, 1}, {1, 1, 0, 1, 1, -1},
                             {NAN, 1, 0, 1, 1, 1}, {1, INFINITY, 0, 1, 1, 1}};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        hbx_nuisances nu = {bad[b][0], bad[b][1], bad[b][2], bad[b][3], bad[b][4], bad[b][5], 1, 0};
        ck_assert_int_eq(hbx_systematics_apply(&v, &nu, 0, &out), HBX_E_INVALID);
        ck_assert_ptr_null(out.features[0]);
    }
    hbx_nuisances res = ok;
    res.reserved = 1;
    ck_assert_int_eq(hbx_systematics_apply(&v, &res, 0, &out), HBX_E_INVALID);
    t.features[HBX_PRI_MET][0] = NAN;
    ck_assert_int_eq(hbx_systematics_apply(&v, &ok, 0, &out), HBX_E_INVALID);
    t.features[HBX_PRI_MET][0] = 1.0f;
    t.features[HBX_PRI_N_JETS][0] = 1.5f;
    ck_assert_int_eq(hbx_systematics_apply(&v, &ok, 0, &out), HBX_E_INVALID);
    t.features[HBX_PRI_N_JETS][0] = 1.0f;
    t.features[HBX_PRI_HAD_ETA][0] = 40.0f;
    ck_assert_int_eq(hbx_systematics_apply(&v, &ok, 0, &out), HBX_E_INVALID);
    ck_assert_int_eq(hbx_systematics_apply(&v, &ok, 0, NULL), HBX_E_INVALID);
    ck_assert_int_eq(hbx_systematics_apply(NULL, &ok, 0, &out), HBX_E_INVALID);
    /* An empty dataset is fine. */
    v.n_events = 0;
    ck_assert_int_eq(hbx_systematics_apply(&v, &ok, 0, &out), HBX_OK);
    ck_assert_uint_eq(out.n, 0);
    hbx_table_free(&out);
    hbx_table_free(&t);
}
END_TEST

/* Standard normal CDF. */
static double phi_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

START_TEST(normal_generator)
{
    /* The ziggurat closes: the last layer reaches the top of the curve. */
    ck_assert(hbx_zig.x[255] > 0 && hbx_zig.x[255] < 0.5);
    ck_assert(fabs(hbx_zig.f[255] + 4.92867323399e-3 / hbx_zig.x[255] - 1.0) < 1e-6);
    enum { N = 400000, BINS = 48 };
    static uint64_t hist[BINS + 2];
    memset(hist, 0, sizeof hist);
    double s = 0, ss = 0;
    uint64_t beyond_r = 0;
    const uint64_t key = hbx_rng_key(12345, 9);
    for (int i = 0; i < N; i++) {
        hbx_rng r = hbx_rng_at(key, (uint64_t)i);
        double z = hbx_rng_normal(&r);
        s += z;
        ss += z * z;
        beyond_r += fabs(z) > 3.6541528853610088;
        int b = (int)floor((z + 4.0) / 8.0 * BINS);
        hist[b < 0 ? BINS : b >= BINS ? BINS + 1 : b]++;
    }
    ck_assert(fabs(s / N) < 5.0 / sqrt(N));
    ck_assert(fabs(ss / N - 1.0) < 5.0 * sqrt(2.0 / N));
    /* The tail path is taken, about as often as it should be. */
    double p_tail = 2 * (1 - phi_cdf(3.6541528853610088));
    ck_assert(fabs(beyond_r - N * p_tail) < 5 * sqrt(N * p_tail));
    /* Chi-square over the bins (plus both overflows): 49 degrees of freedom,
     * mean 49, sd ~10; 110 is far out in the tail. */
    double chi2 = 0;
    for (int b = 0; b < BINS + 2; b++) {
        double lo = b == BINS ? -INFINITY : b == BINS + 1 ? 4.0 : -4.0 + 8.0 * b / BINS;
        double hi = b == BINS ? -4.0 : b == BINS + 1 ? INFINITY : -4.0 + 8.0 * (b + 1) / BINS;
        double e = N * (phi_cdf(hi) - phi_cdf(lo));
        chi2 += (hist[b] - e) * (hist[b] - e) / e;
    }
    ck_assert_msg(chi2 < 110, "chi2 %.1f", chi2);
}
END_TEST

/* The kernel writes the features it never changes as k / 1000.0f from their
 * int16 thousandths k: the float of hbx_milli_value(k) for every such k. */
START_TEST(thousandths_float_division_is_exact)
{
    long bad = 0;
    for (long k = -32768; k <= 32767; k++)
        bad += (float)k / 1000.0f != hbx_milli_value((int16_t)k);
    ck_assert_int_eq(bad, 0);
}
END_TEST

/* The event cuts test had_pt * tes * 1000 >= 25999.5 instead of rounding:
 * the same answer as hbx_round3(had_pt * tes) >= 26, also at the boundary. */
START_TEST(event_cut_is_the_rounded_one)
{
    hbx_syst_event e;
    memset(&e, 0, sizeof e);
    hbx_nuisances nu = nuisances(1.0, 1.0, 0.0, 1);
    hbx_syst_params p;
    uint64_t boundary = 0;
    hbx_rng r = hbx_rng_at(hbx_rng_key(3, 7), 0);
    for (int i = 0; i < 400000; i++) {
        nu.tes = 0.9 + 0.2 * hbx_rng_uniform(&r);
        if (i % 4 == 0)
            nu.tes = 1.0;
        hbx_syst_params_init(&p, &nu);
        /* Near the cut: 25.9995 / tes, give or take a few float steps. */
        const float near = (float)(25.9995 / nu.tes);
        e.had_pt = i % 2 ? near : (float)(20.0 + 15.0 * hbx_rng_uniform(&r));
        for (int step = (int)(hbx_rng_below(&r, 9)) - 4; step != 0; step += step > 0 ? -1 : 1)
            e.had_pt = nextafterf(e.had_pt, step > 0 ? INFINITY : 0.0f);
        e.lep_pt = i % 3 ? 25.0f : 19.999f;
        const int want = hbx_round3((double)e.had_pt * nu.tes) >= HBX_CUT_HAD_PT &&
                         e.lep_pt >= HBX_CUT_LEP_PT;
        ck_assert_int_eq(hbx_syst_passes_event_cuts(&e, &p), want);
        boundary += fabs((double)e.had_pt * nu.tes * 1000.0 - 25999.5) < 1e-3;
    }
    ck_assert_uint_gt(boundary, 1000);
    e.had_pt = 0.0f;
    nu.post_selection = 0;
    hbx_syst_params_init(&p, &nu);
    ck_assert_int_eq(hbx_syst_passes_event_cuts(&e, &p), 1);
}
END_TEST

/* met_phi: the polynomial arctangent, with atan2 where it cannot decide,
 * rounds exactly as hbx_round3(atan2(y, x)), over magnitudes, quadrants,
 * the axes, zeros and values on the rounding boundaries. */
START_TEST(met_phi_rounds_as_atan2)
{
    hbx_rng r = hbx_rng_at(hbx_rng_key(11, 5), 0);
    long flagged = 0, n = 0;
    for (int i = 0; i < 1 << 21; i += 2) {
        vd_sse2 x, y;
        for (int l = 0; l < 2; l++) {
            const int kind = (int)hbx_rng_below(&r, 8);
            double mag = exp(-10.0 + 20.0 * hbx_rng_uniform(&r));
            double a = (hbx_rng_uniform(&r) * 2.0 - 1.0) * 3.2;
            if (kind == 0) /* on a rounding boundary, up to an ulp */
                a = ((double)(int64_t)hbx_rng_below(&r, 6284) - 3142.0 + 0.5) / 1000.0;
            x[l] = mag * cos(a);
            y[l] = mag * sin(a);
            if (kind == 1)
                x[l] = 0.0;
            if (kind == 2)
                y[l] = hbx_rng_below(&r, 2) ? -0.0 : 0.0;
            if (kind == 3)
                x[l] = y[l] = 0.0;
        }
        vm_sse2 flag;
        vd_sse2 k = vatan2_k_sse2(y, x, &flag);
        for (int l = 0; l < 2; l++) {
            const double want = hbx_round3_k(atan2(y[l], x[l]));
            flagged += flag[l] != 0;
            n++;
            if (!flag[l])
                ck_assert_msg(k[l] == want, "atan2(%a, %a): %g, want %g", y[l], x[l], k[l], want);
        }
    }
    /* The boundary cases and zeros (half the lanes) go to atan2; little
     * else does. */
    ck_assert_int_gt(flagged, n / 2);
    ck_assert_int_lt(flagged, n / 2 + n / 100);
}
END_TEST

/* Every lane width gives the same bytes: shift service with every
 * systematic, the sample's DER recomputed. */
START_TEST(widths_agree)
{
    SAMPLE_OR_SKIP(t);
    const int start = hbx_kernel_width();
    hbx_nuisances nu = nuisances(1.013, 0.987, 2.5, 1);
    hbx_table ref;
    ck_assert_int_eq(hbx_kernel_force_width(2), 2);
    shift(&t, &nu, 123, &ref);
    float(*der2)[HBX_N_DER] = malloc(t.n * sizeof *der2);
    for (uint64_t i = 0; i < t.n; i++) {
        float pri[HBX_N_FEATURES];
        sample_event(&t, i, pri);
        hbx_derive_event(pri, der2[i]);
    }
    const int widths[] = {4, 8};
    for (int w = 0; w < 2; w++) {
        if (hbx_kernel_force_width(widths[w]) != widths[w])
            continue;
        hbx_table out;
        shift(&t, &nu, 123, &out);
        ck_assert_uint_eq(out.n, ref.n);
        for (int f = 0; f < HBX_N_FEATURES; f++)
            ck_assert_mem_eq(out.features[f], ref.features[f], ref.n * sizeof(float));
        for (uint64_t i = 0; i < t.n; i++) {
            float pri[HBX_N_FEATURES], der[HBX_N_DER];
            sample_event(&t, i, pri);
            hbx_derive_event(pri, der);
            ck_assert_mem_eq(der, der2[i], sizeof der);
        }
        hbx_table_free(&out);
    }
    hbx_kernel_force_width(start);
    free(der2);
    hbx_table_free(&ref);
    hbx_table_free(&t);
}
END_TEST

/* Many streams at once (the PE generator's RNG) give the numbers of the
 * streams one by one, with every SIMD variant. */
START_TEST(many_streams_agree)
{
    enum { N = 20003 };
    static uint64_t state[N], word[N], state2[N], word2[N];
    static double a[N], b[N], a2[N], b2[N];
    const uint64_t key = hbx_rng_key(77, 4);
    const int start = hbx_rng_simd(-1);
    for (int level = 0; level <= 2; level++) {
        if (hbx_rng_simd(level) != level)
            continue;
        hbx_rng_first_words(key, 1000, N, state, word);
        for (unsigned i = 0; i < N; i++) {
            hbx_rng r = hbx_rng_at(key, 1000 + i);
            ck_assert_uint_eq(hbx_rng_next(&r), word[i]);
            ck_assert_uint_eq(r.s, state[i]);
        }
        hbx_rng_normal_pairs(state, N, a, b);
        long slow = 0;
        for (unsigned i = 0; i < N; i++) {
            hbx_rng r = {state[i]};
            const double x = hbx_rng_normal(&r), y = hbx_rng_normal(&r);
            ck_assert(memcmp(&x, &a[i], sizeof x) == 0 && memcmp(&y, &b[i], sizeof y) == 0);
            slow += r.s != state[i] + 2 * HBX_RNG_GAMMA;
        }
        ck_assert_int_gt(slow, 100); /* the slow paths were exercised */
        /* Odd counts and offsets: the tails. */
        hbx_rng_first_words(key, 7, 13, state2, word2);
        hbx_rng_normal_pairs(state + 5, 11, a2, b2);
        for (unsigned i = 0; i < 11; i++)
            ck_assert(a2[i] == a[5 + i] && b2[i] == b[5 + i]);
        for (unsigned i = 0; i < 13; i++) {
            hbx_rng r = hbx_rng_at(key, 7 + i);
            ck_assert_uint_eq(hbx_rng_next(&r), word2[i]);
        }
    }
    hbx_rng_simd(start);
}
END_TEST

/* `higgsbox shift` on the imported sample: the file holds what
 * hbx_systematics_apply gives, per split, with file-wide noise rows. */
START_TEST(cli_shift)
{
    const char *sample = test_sample_or_skip();
    if (!sample)
        return;
    char *dir = test_tmpdir();
    char data[4096], out[4096], test_only[4096], text[1 << 16];
    snprintf(data, sizeof data, "%s/sample.h5", dir);
    snprintf(out, sizeof out, "%s/shifted.h5", dir);
    snprintf(test_only, sizeof test_only, "%s/test_only.h5", dir);
    char err[1024];
    ck_assert_msg(hbx_csv_import(sample, data, 0.3, NULL, err, sizeof err) == 0, "%s", err);

    char *argv[] = {HBX_TEST_CLI, "shift", data, "-o", out, "--tes", "1.02", "--jes", "0.96",
                    "--soft-met", "2.5", "--bkg-scale", "1.005", "--ttbar-scale", "1.1",
                    "--seed", "5", "--show", "74", NULL};
    int rc = test_run(argv, text, sizeof text);
    ck_assert_msg(rc == 0, "%s", text);
    ck_assert_msg(strstr(text, "== test row 74: ztautau"), "%s", text);
    ck_assert(strstr(text, "subleading jet in [0, 26]: removed"));

    hbx_nuisances nu = nuisances(1.02, 0.96, 2.5, 1);
    nu.bkg_scale = 1.005;
    nu.ttbar_scale = 1.1;
    hbx_table in_test, in_train, got, want;
    ck_assert_int_eq(hbx_dataset_load(data, HBX_SPLIT_TEST, &in_test, err, sizeof err), 0);
    ck_assert_int_eq(hbx_dataset_load(data, HBX_SPLIT_TRAIN, &in_train, err, sizeof err), 0);
    for (int s = 0; s < 2; s++) {
        const hbx_table *in = s ? &in_train : &in_test;
        hbx_dataset v = hbx_table_view(in);
        ck_assert_int_eq(hbx_systematics_apply_from(&v, &nu, 5, s ? in_test.n : 0, &want), HBX_OK);
        ck_assert_int_eq(hbx_dataset_load(out, s ? HBX_SPLIT_TRAIN : HBX_SPLIT_TEST, &got, err,
                                          sizeof err),
                         0);
        ck_assert_uint_eq(got.n, want.n);
        ck_assert_uint_lt(got.n, in->n);
        for (int f = 0; f < HBX_N_FEATURES; f++)
            ck_assert_mem_eq(got.features[f], want.features[f], got.n * sizeof(float));
        ck_assert_mem_eq(got.weights, want.weights, got.n * sizeof(double));
        hbx_table_free(&got);
        hbx_table_free(&want);
    }

    /* One split alone: the same test events, no training events. */
    char *argv2[] = {HBX_TEST_CLI, "shift", data, "-o", test_only, "--tes", "1.02", "--jes",
                     "0.96", "--soft-met", "2.5", "--bkg-scale", "1.005", "--ttbar-scale", "1.1",
                     "--seed", "5", "--split", "test", NULL};
    ck_assert_msg(test_run(argv2, text, sizeof text) == 0, "%s", text);
    hbx_table a, b;
    ck_assert_int_eq(hbx_dataset_load(test_only, HBX_SPLIT_TEST, &a, err, sizeof err), 0);
    ck_assert_int_eq(hbx_dataset_load(out, HBX_SPLIT_TEST, &b, err, sizeof err), 0);
    ck_assert_uint_eq(a.n, b.n);
    for (int f = 0; f < HBX_N_FEATURES; f++)
        ck_assert_mem_eq(a.features[f], b.features[f], a.n * sizeof(float));
    hbx_table_free(&a);
    hbx_table_free(&b);
    ck_assert_int_eq(hbx_dataset_load(test_only, HBX_SPLIT_TRAIN, &a, err, sizeof err), 0);
    ck_assert_uint_eq(a.n, 0);
    hbx_table_free(&a);

    /* Bad input: one line, non-zero exit, no output file. */
    char bad_out[4096];
    snprintf(bad_out, sizeof bad_out, "%s/never.h5", dir);
    char *argv3[] = {HBX_TEST_CLI, "shift", data, "-o", bad_out, "--tes", "0", NULL};
    ck_assert_int_eq(test_run(argv3, text, sizeof text), 2);
    ck_assert_msg(strstr(text, "--tes 0 must be > 0"), "%s", text);
    char *argv4[] = {HBX_TEST_CLI, "shift", data, "-o", bad_out, "--jes", "abc", NULL};
    ck_assert_int_eq(test_run(argv4, text, sizeof text), 2);
    char *argv5[] = {HBX_TEST_CLI, "shift", (char *)sample, "-o", bad_out, NULL};
    ck_assert_int_eq(test_run(argv5, text, sizeof text), 1);
    ck_assert_msg(strstr(text, sample), "%s", text);
    char *argv6[] = {HBX_TEST_CLI, "shift", data, "-o", bad_out, "--split", "both", NULL};
    ck_assert_int_eq(test_run(argv6, text, sizeof text), 2);
    ck_assert_int_ne(access(bad_out, F_OK), 0);

    hbx_table_free(&in_test);
    hbx_table_free(&in_train);
    test_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("systematics");
    TCase *tc = tcase_create("systematics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round3_is_numpy_round);
    tcase_add_test(tc, thousandths_multiply_is_exact);
    tcase_add_test(tc, worked_example_row_74);
    tcase_add_test(tc, nominal_changes_nothing);
    tcase_add_test(tc, post_selection_event_by_event);
    tcase_add_test(tc, formulas_all_events);
    tcase_add_test(tc, tes_conserves_had_plus_met);
    tcase_add_test(tc, jets_stay_ordered);
    tcase_add_test(tc, weights_scaled_per_process);
    tcase_add_test(tc, soft_met_noise);
    tcase_add_test(tc, bad_arguments_refused);
    tcase_add_test(tc, normal_generator);
    tcase_add_test(tc, thousandths_float_division_is_exact);
    tcase_add_test(tc, event_cut_is_the_rounded_one);
    tcase_add_test(tc, met_phi_rounds_as_atan2);
    tcase_add_test(tc, widths_agree);
    tcase_add_test(tc, many_streams_agree);
    tcase_add_test(tc, cli_shift);
    suite_add_tcase(s, tc);
    int rc = test_main(s);
    return rc == 0 && !test_sample_or_skip() ? 77 : rc;
}
