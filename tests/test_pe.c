/* Pseudo-experiments (HIGGSML.md §5): counts follow sum(norm * w) and scale
 * with mu, each pool event appears Poisson(norm * w) times, the events are
 * those of the systematics service, a seed gives the same PE bit for bit
 * whatever the order or thread, nuisances follow the §5 table, and the
 * `higgsbox pe` command. Pools are the real sample with small weights, so
 * hundreds of PEs take a moment even under sanitizers. */
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "higgsbox/higgsbox.h"
#include "higgsbox/pe.h"
#include "higgsbox/rng.h"
#include "higgsbox/systematics_kernel.h"
#include "sample_table.h"
#include "support.h"

/* The sample with its weights rescaled: signal summing to sig, the
 * backgrounds together to bkg (their relative sizes kept). When `classes`
 * is nonzero every weight is further multiplied by 1 + row % classes. */
static void pool_table(const char *sample, double sig, double bkg, int classes, hbx_table *t)
{
    ck_assert_uint_eq(sample_table_load(sample, t), 1000);
    double s = 0, b = 0;
    for (uint64_t i = 0; i < t->n; i++) {
        if (classes)
            t->weights[i] *= 1 + (double)(i % (uint64_t)classes);
        *(t->process[i] == HBX_HTAUTAU ? &s : &b) += t->weights[i];
    }
    for (uint64_t i = 0; i < t->n; i++)
        t->weights[i] *= t->process[i] == HBX_HTAUTAU ? sig / s : bkg / b;
}

static hbx_pe_pool *make_pool(const hbx_table *t)
{
    hbx_pe_pool *pool;
    char err[256];
    ck_assert_msg(hbx_pe_pool_create(&pool, t, err, sizeof err) == HBX_OK, "%s", err);
    return pool;
}

static hbx_nuisances plain(int post)
{
    hbx_nuisances nu = hbx_nuisances_nominal();
    nu.post_selection = post;
    return nu;
}

#define SAMPLE_OR_SKIP()                                                                         \
    const char *sample = test_sample_or_skip();                                                  \
    if (!sample)                                                                                 \
    return

START_TEST(seeds_and_masks)
{
    ck_assert_uint_eq(hbx_pe_seed(42, 3, 100, 17), 359);
    ck_assert_uint_eq(hbx_pe_seed(0, 0, 1000, 0), 0);
    ck_assert_uint_eq(hbx_pe_seed(UINT64_MAX, 0, 10, 1), 0); /* modulo 2^64 */
    unsigned m = 99;
    ck_assert_int_eq(hbx_syst_parse("all", &m), 0);
    ck_assert_uint_eq(m, HBX_SYST_ALL);
    ck_assert_int_eq(hbx_syst_parse("none", &m), 0);
    ck_assert_uint_eq(m, 0);
    ck_assert_int_eq(hbx_syst_parse("tes,jes", &m), 0);
    ck_assert_uint_eq(m, HBX_SYST_TES | HBX_SYST_JES);
    ck_assert_int_eq(hbx_syst_parse("ttbar,bkg_scale,soft_met", &m), 0);
    ck_assert_uint_eq(m, HBX_SYST_TTBAR | HBX_SYST_BKG | HBX_SYST_SOFT_MET);
    m = 5;
    ck_assert_int_eq(hbx_syst_parse("tes,,jes", &m), -1);
    ck_assert_int_eq(hbx_syst_parse("", &m), -1);
    ck_assert_int_eq(hbx_syst_parse("tes,foo", &m), -1);
    ck_assert_int_eq(hbx_syst_parse("TES", &m), -1);
    ck_assert_uint_eq(m, 5);
    char buf[128];
    hbx_syst_format(HBX_SYST_TES | HBX_SYST_SOFT_MET, buf, sizeof buf);
    ck_assert_str_eq(buf, "tes,soft_met");
    for (unsigned mask = 0; mask <= HBX_SYST_ALL; mask++) {
        unsigned back;
        ck_assert_int_lt(hbx_syst_format(mask, buf, sizeof buf), (int)sizeof buf);
        ck_assert_int_eq(hbx_syst_parse(buf, &back), 0);
        ck_assert_uint_eq(back, mask);
    }
    ck_assert_str_eq(hbx_syst_name(HBX_SYST_DIBOSON), "diboson_scale");
    ck_assert_ptr_null(hbx_syst_name(HBX_SYST_TES | HBX_SYST_JES));
}
END_TEST

START_TEST(nuisance_draws)
{
    hbx_nuisances nu;
    hbx_pe_draw_nuisances(7, HBX_SYST_NONE, &nu);
    hbx_nuisances nom = hbx_nuisances_nominal();
    ck_assert_mem_eq(&nu, &nom, sizeof nu);

    enum { N = 4000 };
    double s_tes = 0, ss_tes = 0, s_tt = 0, ss_tt = 0, s_bkg = 0;
    int soft_below_1 = 0, soft_at_5 = 0, tes_clipped = 0;
    for (uint64_t seed = 0; seed < N; seed++) {
        hbx_pe_draw_nuisances(seed, HBX_SYST_ALL, &nu);
        ck_assert(nu.tes >= 0.9 && nu.tes <= 1.1 && nu.jes >= 0.9 && nu.jes <= 1.1);
        ck_assert(nu.soft_met >= 0 && nu.soft_met <= 5);
        ck_assert(nu.ttbar_scale >= 0.8 && nu.ttbar_scale <= 1.2);
        ck_assert(nu.diboson_scale >= 0 && nu.diboson_scale <= 2);
        ck_assert(nu.bkg_scale >= 0.99 && nu.bkg_scale <= 1.01);
        ck_assert_int_eq(nu.post_selection, 1);
        ck_assert(nu.tes != nu.jes);
        s_tes += nu.tes;
        ss_tes += (nu.tes - 1) * (nu.tes - 1);
        s_tt += nu.ttbar_scale;
        ss_tt += (nu.ttbar_scale - 1) * (nu.ttbar_scale - 1);
        s_bkg += nu.bkg_scale;
        soft_below_1 += nu.soft_met < 1.0;
        soft_at_5 += nu.soft_met == 5.0;
        tes_clipped += nu.tes == 0.9 || nu.tes == 1.1;
        /* Each nuisance has its own stream: switching others off leaves it. */
        hbx_nuisances only;
        hbx_pe_draw_nuisances(seed, HBX_SYST_JES | HBX_SYST_DIBOSON, &only);
        ck_assert(only.jes == nu.jes && only.diboson_scale == nu.diboson_scale);
        ck_assert(only.tes == 1.0 && only.soft_met == 0.0 && only.bkg_scale == 1.0);
    }
    ck_assert(fabs(s_tes / N - 1) < 5 * 0.01 / sqrt(N));
    ck_assert(fabs(sqrt(ss_tes / N) / 0.01 - 1) < 0.06);
    ck_assert(fabs(s_tt / N - 1) < 5 * 0.02 / sqrt(N));
    ck_assert(fabs(sqrt(ss_tt / N) / 0.02 - 1) < 0.06);
    ck_assert(fabs(s_bkg / N - 1) < 5 * 0.001 / sqrt(N));
    ck_assert_int_eq(tes_clipped, 0); /* 10 sigma away */
    /* LogNormal(0, 1): median 1; P(> 5) = P(N > ln 5) = 0.0538. */
    ck_assert(fabs(soft_below_1 / (double)N - 0.5) < 5 * 0.5 / sqrt(N));
    ck_assert(fabs(soft_at_5 / (double)N - 0.0538) < 5 * sqrt(0.0538 * 0.9462 / N));
}
END_TEST

START_TEST(pool_refuses_bad_input)
{
    hbx_table t;
    ck_assert_int_eq(hbx_table_alloc(&t, 4, HBX_TABLE_TRUTH), HBX_OK);
    t.n = 2;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        t.features[f][0] = t.features[f][1] = 1.0f;
    t.weights[0] = t.weights[1] = 1.0;
    t.process[0] = t.process[1] = HBX_ZTAUTAU;
    hbx_pe_pool *pool = NULL;
    char err[256];
    ck_assert_int_eq(hbx_pe_pool_create(&pool, &t, err, sizeof err), HBX_OK);
    hbx_pe_pool_destroy(pool);

    t.weights[1] = -1.0;
    ck_assert_int_eq(hbx_pe_pool_create(&pool, &t, err, sizeof err), HBX_E_INVALID);
    ck_assert_msg(strstr(err, "test event 1: weight -1"), "%s", err);
    ck_assert_ptr_null(pool);
    t.weights[1] = 1.0;
    t.process[0] = 9;
    ck_assert_int_eq(hbx_pe_pool_create(&pool, &t, err, sizeof err), HBX_E_INVALID);
    ck_assert_msg(strstr(err, "test event 0: process 9"), "%s", err);
    t.process[0] = HBX_TTBAR;
    t.features[HBX_PRI_MET_PHI][1] = NAN;
    ck_assert_int_eq(hbx_pe_pool_create(&pool, &t, err, sizeof err), HBX_E_INVALID);
    ck_assert_msg(strstr(err, "test event 1 cannot be shifted: PRI_met_phi is not finite"), "%s",
                  err);
    t.features[HBX_PRI_MET_PHI][1] = 1.0f;
    t.features[HBX_PRI_N_JETS][1] = 2.5f;
    ck_assert_int_eq(hbx_pe_pool_create(&pool, &t, err, sizeof err), HBX_E_INVALID);
    ck_assert_msg(strstr(err, "PRI_n_jets = 2.5"), "%s", err);
    t.features[HBX_PRI_N_JETS][1] = 1.0f;
    double *w = t.weights;
    t.weights = NULL;
    ck_assert_int_eq(hbx_pe_pool_create(&pool, &t, err, sizeof err), HBX_E_INVALID);
    ck_assert_msg(strstr(err, "weights"), "%s", err);
    t.weights = w;
    hbx_table_free(&t);
}
END_TEST

/* Over 200 PEs the counts average sum(norm * w) within Poisson errors, per
 * process, and the signal scales with mu. */
START_TEST(counts_follow_weights_and_mu)
{
    SAMPLE_OR_SKIP();
    hbx_table t;
    pool_table(sample, 150.0, 600.0, 0, &t);
    hbx_pe_pool *pool = make_pool(&t);
    hbx_table pe;
    ck_assert_int_eq(hbx_table_alloc(&pe, hbx_pe_capacity(pool, 3.0), 0), HBX_OK);
    double sums[HBX_N_PROCESSES];
    hbx_pe_pool_totals(pool, NULL, sums);
    enum { N = 200 };
    const double mus[2] = {1.0, 2.0};
    double mean_signal[2];
    hbx_nuisances nu = plain(0);
    nu.ttbar_scale = 1.2; /* the norms: bkg for ztautau, ttbar * bkg... */
    nu.bkg_scale = 1.01;
    for (int m = 0; m < 2; m++) {
        double drawn[HBX_N_PROCESSES] = {0}, total = 0;
        for (uint64_t seed = 0; seed < N; seed++) {
            hbx_pe_stats st;
            ck_assert_int_eq(hbx_pe_generate(pool, mus[m], &nu, 1000 + seed, &pe, &st), HBX_OK);
            ck_assert_uint_eq(st.kept, st.drawn); /* no post-selection */
            ck_assert_uint_eq(pe.n, st.kept);
            ck_assert_uint_le(st.drawn, pe.capacity);
            for (int k = 0; k < HBX_N_PROCESSES; k++)
                drawn[k] += (double)st.drawn_process[k];
            total += (double)st.drawn;
            if (seed == 0) {
                const double norm[HBX_N_PROCESSES] = {mus[m], 1.01, 1.2 * 1.01, 1.01};
                for (int k = 0; k < HBX_N_PROCESSES; k++)
                    ck_assert_double_eq_tol(st.expected_process[k], norm[k] * sums[k], 1e-9);
            }
        }
        hbx_pe_stats st;
        ck_assert_int_eq(hbx_pe_generate(pool, mus[m], &nu, 1, &pe, &st), HBX_OK);
        for (int k = 0; k < HBX_N_PROCESSES; k++) {
            double lam = st.expected_process[k];
            ck_assert_msg(fabs(drawn[k] / N - lam) < 4 * sqrt(lam / N) + 1e-9,
                          "mu %g %s: mean %.3f, expected %.3f", mus[m], hbx_process_name(k),
                          drawn[k] / N, lam);
        }
        ck_assert(fabs(total / N - st.expected) < 4 * sqrt(st.expected / N));
        mean_signal[m] = drawn[HBX_HTAUTAU] / N;
    }
    /* Signal doubles with mu: 150 -> 300, within the errors of the means. */
    ck_assert(fabs(mean_signal[1] - 2 * mean_signal[0]) < 4 * sqrt((300.0 + 4 * 150.0) / N));
    hbx_table_free(&pe);
    hbx_pe_pool_destroy(pool);
    hbx_table_free(&t);
}
END_TEST

/* Row of the pool an output event came from (nominal, no soft term: the
 * sample's PRI come back unchanged), by binary search on a key. */
typedef struct keyed {
    uint64_t key;
    uint64_t row;
} keyed;

static uint64_t event_key(const float pri[HBX_N_PRIMARY])
{
    uint64_t h = 1469598103934665603ULL;
    for (int f = 0; f < HBX_N_PRIMARY; f++) {
        uint32_t bits;
        memcpy(&bits, &pri[f], sizeof bits);
        h = (h ^ bits) * 1099511628211ULL;
    }
    return h;
}

static int by_key(const void *a, const void *b)
{
    uint64_t x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
    return x < y ? -1 : x > y;
}

/* Each pool event appears Poisson(norm * w) times: unequal weights go
 * through the alias tables. Per-row chi-square over 200 PEs. */
START_TEST(multiplicities_are_poisson_in_weight)
{
    SAMPLE_OR_SKIP();
    hbx_table t;
    pool_table(sample, 200.0, 600.0, 4, &t);
    hbx_pe_pool *pool = make_pool(&t);
    keyed *keys = malloc(t.n * sizeof *keys);
    for (uint64_t i = 0; i < t.n; i++) {
        float pri[HBX_N_FEATURES];
        sample_event(&t, i, pri);
        keys[i].key = event_key(pri);
        keys[i].row = i;
    }
    qsort(keys, t.n, sizeof *keys, by_key);
    hbx_table pe;
    ck_assert_int_eq(hbx_table_alloc(&pe, hbx_pe_capacity(pool, 1.0), 0), HBX_OK);
    double *count = calloc(t.n, sizeof *count);
    enum { N = 200 };
    hbx_nuisances nu = plain(0);
    for (uint64_t seed = 0; seed < N; seed++) {
        ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, 77 + seed, &pe, NULL), HBX_OK);
        for (uint64_t j = 0; j < pe.n; j++) {
            float pri[HBX_N_PRIMARY];
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                pri[f] = pe.features[f][j];
            keyed probe = {event_key(pri), 0};
            keyed *hit = bsearch(&probe, keys, t.n, sizeof *keys, by_key);
            ck_assert_ptr_nonnull(hit);
            count[hit->row] += 1;
        }
    }
    /* Rows with identical PRI (if any) share one key: merge expectations. */
    double chi2 = 0, class_obs[4] = {0}, class_exp[4] = {0};
    int dof = 0;
    for (uint64_t a = 0; a < t.n;) {
        uint64_t b = a;
        double obs = 0, exp = 0;
        while (b < t.n && keys[b].key == keys[a].key) {
            uint64_t r = keys[b].row;
            obs += count[r];
            exp += N * t.weights[r];
            class_obs[r % 4] += count[r];
            class_exp[r % 4] += N * t.weights[r];
            b++;
        }
        if (exp >= 5) {
            chi2 += (obs - exp) * (obs - exp) / exp;
            dof++;
        }
        a = b;
    }
    ck_assert_int_gt(dof, 900);
    ck_assert_msg(chi2 < dof + 6 * sqrt(2.0 * dof), "chi2 %.1f for %d rows", chi2, dof);
    for (int c = 0; c < 4; c++)
        ck_assert_msg(fabs(class_obs[c] - class_exp[c]) < 5 * sqrt(class_exp[c]),
                      "weight class %d: %.0f drawn, %.1f expected", c, class_obs[c], class_exp[c]);
    free(count);
    free(keys);
    hbx_table_free(&pe);
    hbx_pe_pool_destroy(pool);
    hbx_table_free(&t);
}
END_TEST

static void assert_same_pe(const hbx_table *a, const hbx_table *b)
{
    ck_assert_uint_eq(a->n, b->n);
    for (int f = 0; f < HBX_N_FEATURES; f++)
        ck_assert_mem_eq(a->features[f], b->features[f], a->n * sizeof(float));
}

typedef struct job {
    const hbx_pe_pool *pool;
    hbx_table *pes;
    int first, last, step; /* indices into pes, walked first..last by step */
} job;

static const uint64_t job_seed0 = 5000;

static hbx_nuisances job_nuisances(uint64_t seed)
{
    hbx_nuisances nu;
    hbx_pe_draw_nuisances(seed, HBX_SYST_ALL, &nu);
    return nu;
}

static void *run_job(void *arg)
{
    job *j = arg;
    for (int i = j->first; i != j->last + j->step; i += j->step) {
        hbx_nuisances nu = job_nuisances(job_seed0 + (uint64_t)i);
        if (hbx_pe_generate(j->pool, 1.3, &nu, job_seed0 + (uint64_t)i, &j->pes[i], NULL) != HBX_OK)
            return (void *)1;
    }
    return NULL;
}

/* Same seed, same PE; and PEs made in another order, on other threads,
 * into other buffers, are the same bits. */
START_TEST(reproducible_any_order_any_thread)
{
    SAMPLE_OR_SKIP();
    hbx_table t;
    pool_table(sample, 100.0, 500.0, 3, &t);
    hbx_pe_pool *pool = make_pool(&t);
    hbx_table_free(&t); /* the pool keeps what it needs */
    enum { N = 12 };
    const uint64_t cap = hbx_pe_capacity(pool, 1.3);
    hbx_table serial[N], threaded[N];
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(hbx_table_alloc(&serial[i], cap, 0), HBX_OK);
        ck_assert_int_eq(hbx_table_alloc(&threaded[i], cap, HBX_TABLE_TRUTH), HBX_OK);
    }
    job forward = {pool, serial, 0, N - 1, 1};
    ck_assert_ptr_null(run_job(&forward));
    /* All systematics on: the soft term makes every event distinct. */
    ck_assert_uint_gt(serial[0].n, 300);
    ck_assert(memcmp(serial[0].features[HBX_PRI_MET], serial[1].features[HBX_PRI_MET],
                     100 * sizeof(float)) != 0);
    job back_a = {pool, threaded, N - 1, N / 2, -1}, back_b = {pool, threaded, N / 2 - 1, 0, -1};
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, run_job, &back_a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, run_job, &back_b), 0);
    void *ra, *rb;
    pthread_join(ta, &ra);
    pthread_join(tb, &rb);
    ck_assert_ptr_null(ra);
    ck_assert_ptr_null(rb);
    for (int i = 0; i < N; i++)
        assert_same_pe(&serial[i], &threaded[i]);
    /* Once more, same buffer reused. */
    hbx_nuisances nu = job_nuisances(job_seed0 + 3);
    ck_assert_int_eq(hbx_pe_generate(pool, 1.3, &nu, job_seed0 + 3, &threaded[0], NULL), HBX_OK);
    assert_same_pe(&serial[3], &threaded[0]);
    for (int i = 0; i < N; i++) {
        hbx_table_free(&serial[i]);
        hbx_table_free(&threaded[i]);
    }
    hbx_pe_pool_destroy(pool);
}
END_TEST

/* The instruction sets do not show: a PE is the same bytes whatever the
 * kernel's lane width and the RNG's SIMD variant, and whatever the
 * alignment of the output columns (whole-line streaming or not). */
START_TEST(same_bytes_any_cpu_path)
{
    SAMPLE_OR_SKIP();
    hbx_table t;
    pool_table(sample, 300.0, 900.0, 3, &t);
    hbx_pe_pool *pool = make_pool(&t);
    hbx_table_free(&t);
    const uint64_t cap = hbx_pe_capacity(pool, 1.0);
    const int width0 = hbx_kernel_width(), simd0 = hbx_rng_simd(-1);
    hbx_table ref, pe;
    ck_assert_int_eq(hbx_table_alloc(&ref, cap, 0), HBX_OK);
    ck_assert_int_eq(hbx_table_alloc(&pe, cap, 0), HBX_OK);
    for (uint64_t seed = 40; seed < 44; seed++) {
        hbx_nuisances nu = job_nuisances(seed);
        hbx_kernel_force_width(2);
        hbx_rng_simd(0);
        ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, seed, &ref, NULL), HBX_OK);
        ck_assert_uint_gt(ref.n, 500);
        for (int w = 4; w <= 8; w *= 2)
            for (int level = 1; level <= 2; level++) {
                if (hbx_kernel_force_width(w) != w || hbx_rng_simd(level) != level)
                    continue;
                ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, seed, &pe, NULL), HBX_OK);
                assert_same_pe(&ref, &pe);
            }
    }
    hbx_kernel_force_width(width0);
    hbx_rng_simd(simd0);

    /* Columns off the line boundaries, equally (a carried head) or not
     * (chunks streamed as they are). */
    for (int shape = 0; shape < 2; shape++) {
        hbx_table big;
        ck_assert_int_eq(hbx_table_alloc(&big, cap + 16, 0), HBX_OK);
        hbx_table view = big;
        for (int f = 0; f < HBX_N_FEATURES; f++)
            view.features[f] = big.features[f] + (shape == 0 ? 5 : f % 16);
        view.capacity = cap;
        hbx_nuisances nu = job_nuisances(41);
        ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, 41, &ref, NULL), HBX_OK);
        ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, 41, &view, NULL), HBX_OK);
        assert_same_pe(&ref, &view);
        hbx_table_free(&big);
    }
    hbx_table_free(&ref);
    hbx_table_free(&pe);
    hbx_pe_pool_destroy(pool);
}
END_TEST

/* A PE is made of events exactly as the systematics service shifts them. */
START_TEST(events_are_the_service_s)
{
    SAMPLE_OR_SKIP();
    hbx_table t;
    pool_table(sample, 150.0, 600.0, 0, &t);
    hbx_pe_pool *pool = make_pool(&t);
    hbx_nuisances nu = plain(1);
    nu.tes = 1.03;
    nu.jes = 0.95;
    hbx_table shifted;
    hbx_dataset v = hbx_table_view(&t);
    ck_assert_int_eq(hbx_systematics_apply(&v, &nu, 0, &shifted), HBX_OK);
    keyed *keys = malloc(shifted.n * sizeof *keys);
    for (uint64_t i = 0; i < shifted.n; i++) {
        uint64_t h = 1469598103934665603ULL;
        for (int f = 0; f < HBX_N_FEATURES; f++) {
            uint32_t bits;
            memcpy(&bits, &shifted.features[f][i], sizeof bits);
            h = (h ^ bits) * 1099511628211ULL;
        }
        keys[i].key = h;
        keys[i].row = i;
    }
    qsort(keys, shifted.n, sizeof *keys, by_key);
    hbx_table pe;
    ck_assert_int_eq(hbx_table_alloc(&pe, hbx_pe_capacity(pool, 1.0), 0), HBX_OK);
    uint64_t dropped = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        hbx_pe_stats st;
        ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, seed, &pe, &st), HBX_OK);
        dropped += st.drawn - st.kept;
        for (uint64_t j = 0; j < pe.n; j++) {
            uint64_t h = 1469598103934665603ULL;
            for (int f = 0; f < HBX_N_FEATURES; f++) {
                uint32_t bits;
                memcpy(&bits, &pe.features[f][j], sizeof bits);
                h = (h ^ bits) * 1099511628211ULL;
            }
            keyed probe = {h, 0};
            ck_assert_msg(bsearch(&probe, keys, shifted.n, sizeof *keys, by_key),
                          "PE %llu event %llu is not a shifted pool event",
                          (unsigned long long)seed, (unsigned long long)j);
        }
    }
    ck_assert_uint_gt(dropped, 0); /* the post-selection acted in the PEs too */
    free(keys);
    hbx_table_free(&pe);
    hbx_table_free(&shifted);
    hbx_pe_pool_destroy(pool);
    hbx_table_free(&t);
}
END_TEST

START_TEST(fixed_capacity_respected)
{
    SAMPLE_OR_SKIP();
    hbx_table t;
    pool_table(sample, 150.0, 600.0, 0, &t);
    hbx_pe_pool *pool = make_pool(&t);
    hbx_nuisances nu = plain(1);
    hbx_table small, none, truth;
    ck_assert_int_eq(hbx_table_alloc(&small, 50, 0), HBX_OK);
    float *before = small.features[0];
    ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, 3, &small, NULL), HBX_E_NOMEM);
    ck_assert_uint_eq(small.n, 0);
    ck_assert_uint_eq(small.capacity, 50);
    ck_assert_ptr_eq(small.features[0], before);
    ck_assert_int_eq(hbx_table_alloc(&none, 0, 0), HBX_OK);
    ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, 3, &none, NULL), HBX_E_NOMEM);

    /* Truth columns of the output, if any, are not touched. */
    const uint64_t cap = hbx_pe_capacity(pool, 1.0);
    ck_assert_uint_gt(cap, 750);
    ck_assert_uint_lt(cap, 1200);
    ck_assert_int_eq(hbx_table_alloc(&truth, cap, HBX_TABLE_TRUTH), HBX_OK);
    for (uint64_t i = 0; i < cap; i++) {
        truth.weights[i] = 7.0;
        truth.labels[i] = 9;
        truth.process[i] = 9;
    }
    ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &nu, 3, &truth, NULL), HBX_OK);
    ck_assert_uint_gt(truth.n, 0);
    for (uint64_t i = 0; i < cap; i++)
        ck_assert(truth.weights[i] == 7.0 && truth.labels[i] == 9 && truth.process[i] == 9);

    /* mu = 0: no signal at all. */
    hbx_pe_stats st;
    ck_assert_int_eq(hbx_pe_generate(pool, 0.0, &nu, 3, &truth, &st), HBX_OK);
    ck_assert_uint_eq(st.drawn_process[HBX_HTAUTAU], 0);
    ck_assert_uint_gt(st.drawn, 0);
    /* Bad arguments. */
    ck_assert_int_eq(hbx_pe_generate(pool, -1.0, &nu, 3, &truth, NULL), HBX_E_INVALID);
    ck_assert_int_eq(hbx_pe_generate(pool, NAN, &nu, 3, &truth, NULL), HBX_E_INVALID);
    hbx_nuisances bad = nu;
    bad.tes = 0;
    ck_assert_int_eq(hbx_pe_generate(pool, 1.0, &bad, 3, &truth, NULL), HBX_E_INVALID);
    ck_assert_int_eq(hbx_pe_generate(NULL, 1.0, &nu, 3, &truth, NULL), HBX_E_INVALID);
    hbx_table_free(&small);
    hbx_table_free(&none);
    hbx_table_free(&truth);
    hbx_pe_pool_destroy(pool);
    hbx_table_free(&t);
}
END_TEST

/* A pool read from a file in chunks is the pool of the loaded split. */
START_TEST(pool_from_file)
{
    SAMPLE_OR_SKIP();
    char *dir = test_tmpdir();
    char data[4096], err[1024];
    snprintf(data, sizeof data, "%s/sample.h5", dir);
    ck_assert_msg(hbx_csv_import(sample, data, 0.6, NULL, err, sizeof err) == 0, "%s", err);
    hbx_table test;
    ck_assert_int_eq(hbx_dataset_load(data, HBX_SPLIT_TEST, &test, err, sizeof err), 0);
    hbx_pe_pool *a = make_pool(&test), *b = NULL;
    ck_assert_msg(hbx_pe_pool_load(&b, data, err, sizeof err) == HBX_OK, "%s", err);
    uint64_t ca[HBX_N_PROCESSES], cb[HBX_N_PROCESSES];
    double sa[HBX_N_PROCESSES], sb[HBX_N_PROCESSES];
    hbx_pe_pool_totals(a, ca, sa);
    hbx_pe_pool_totals(b, cb, sb);
    ck_assert_mem_eq(ca, cb, sizeof ca);
    ck_assert_mem_eq(sa, sb, sizeof sa);
    ck_assert_uint_eq(hbx_pe_pool_bytes(a), hbx_pe_pool_bytes(b));
    hbx_table pa, pb;
    const uint64_t cap = hbx_pe_capacity(a, 1.0);
    ck_assert_int_eq(hbx_table_alloc(&pa, cap, 0), HBX_OK);
    ck_assert_int_eq(hbx_table_alloc(&pb, cap, 0), HBX_OK);
    /* The file's weights are the full yields: a small bkg_scale keeps the
     * PE small. */
    hbx_nuisances nu;
    hbx_pe_draw_nuisances(11, HBX_SYST_ALL, &nu);
    nu.bkg_scale = 0.002;
    ck_assert_int_eq(hbx_pe_generate(a, 1.0, &nu, 11, &pa, NULL), HBX_OK);
    ck_assert_int_eq(hbx_pe_generate(b, 1.0, &nu, 11, &pb, NULL), HBX_OK);
    ck_assert_uint_gt(pa.n, 1000);
    assert_same_pe(&pa, &pb);

    char missing[4096];
    snprintf(missing, sizeof missing, "%s/missing.h5", dir);
    hbx_pe_pool *c = NULL;
    ck_assert_int_ne(hbx_pe_pool_load(&c, missing, err, sizeof err), HBX_OK);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, missing), "%s", err);
    hbx_table_free(&pa);
    hbx_table_free(&pb);
    hbx_table_free(&test);
    hbx_pe_pool_destroy(a);
    hbx_pe_pool_destroy(b);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* Reads column `name` of group "pe" of a PE file. */
static float *read_pe_column(const char *path, const char *name, uint64_t *n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    char full[128];
    snprintf(full, sizeof full, "pe/%s", name);
    hid_t d = H5Dopen2(f, full, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    hid_t s = H5Dget_space(d);
    hsize_t dims;
    ck_assert_int_eq(H5Sget_simple_extent_ndims(s), 1);
    H5Sget_simple_extent_dims(s, &dims, NULL);
    float *v = malloc((dims ? dims : 1) * sizeof *v);
    if (dims)
        ck_assert_int_ge(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    *n = dims;
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

/* `higgsbox pe` draws the PE the library draws, writes its 28 columns and
 * nothing else. */
START_TEST(cli_pe)
{
    SAMPLE_OR_SKIP();
    char *dir = test_tmpdir();
    char data[4096], pe_path[4096], text[1 << 15], err[1024];
    snprintf(data, sizeof data, "%s/sample.h5", dir);
    snprintf(pe_path, sizeof pe_path, "%s/pe.h5", dir);
    ck_assert_msg(hbx_csv_import(sample, data, 0.3, NULL, err, sizeof err) == 0, "%s", err);
    char *argv[] = {HBX_TEST_CLI, "pe", data, "--mu", "1.5", "--seed", "7", "--systematics",
                    "tes,jes,soft_met", "-o", pe_path, NULL};
    int rc = test_run(argv, text, sizeof text);
    ck_assert_msg(rc == 0, "%s", text);
    ck_assert_msg(strstr(text, "systematics: tes,jes,soft_met"), "%s", text);
    ck_assert(strstr(text, "ttbar_scale 1.000000"));

    /* The same PE from the library. */
    hbx_table test, pe;
    ck_assert_int_eq(hbx_dataset_load(data, HBX_SPLIT_TEST, &test, err, sizeof err), 0);
    hbx_pe_pool *pool = make_pool(&test);
    hbx_nuisances nu;
    hbx_pe_draw_nuisances(7, HBX_SYST_TES | HBX_SYST_JES | HBX_SYST_SOFT_MET, &nu);
    ck_assert_int_eq(hbx_table_alloc(&pe, hbx_pe_capacity(pool, 1.5), 0), HBX_OK);
    hbx_pe_stats st;
    ck_assert_int_eq(hbx_pe_generate(pool, 1.5, &nu, 7, &pe, &st), HBX_OK);
    char line[128];
    snprintf(line, sizeof line, "total");
    ck_assert(strstr(text, line));
    snprintf(line, sizeof line, " %llu\n", (unsigned long long)st.kept);
    ck_assert_msg(strstr(text, line), "%s lacks %s", text, line);
    for (int f = 0; f < HBX_N_FEATURES; f++) {
        uint64_t n;
        float *v = read_pe_column(pe_path, hbx_feature_name(f), &n);
        ck_assert_uint_eq(n, pe.n);
        ck_assert_mem_eq(v, pe.features[f], n * sizeof(float));
        free(v);
    }
    /* Features only. */
    hid_t fh = H5Fopen(pe_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(fh, "pe", H5P_DEFAULT);
    H5G_info_t gi;
    H5Gget_info(g, &gi);
    ck_assert_uint_eq(gi.nlinks, HBX_N_FEATURES);
    ck_assert_int_le(H5Lexists(g, "weights", H5P_DEFAULT), 0);
    H5Gclose(g);
    H5Fclose(fh);

    /* Errors: one line, exit code, no file. */
    char never[4096];
    snprintf(never, sizeof never, "%s/never.h5", dir);
    char *a1[] = {HBX_TEST_CLI, "pe", data, "--seed", "1", "-o", never, NULL};
    ck_assert_int_eq(test_run(a1, text, sizeof text), 2);
    ck_assert_msg(strstr(text, "--mu"), "%s", text);
    char *a2[] = {HBX_TEST_CLI, "pe", data, "--mu", "1", "--seed", "1", "--systematics", "tes,x",
                  "-o", never, NULL};
    ck_assert_int_eq(test_run(a2, text, sizeof text), 2);
    char *a3[] = {HBX_TEST_CLI, "pe", data, "--mu", "-1", "--seed", "1", "-o", never, NULL};
    ck_assert_int_eq(test_run(a3, text, sizeof text), 2);
    char *a4[] = {HBX_TEST_CLI, "pe", (char *)sample, "--mu", "1",
                  "--seed", "1", "-o", never, NULL};
    ck_assert_int_eq(test_run(a4, text, sizeof text), 1);
    ck_assert_msg(strstr(text, sample), "%s", text);
    char nodir[4096];
    snprintf(nodir, sizeof nodir, "%s/missing/pe.h5", dir);
    char *a5[] = {HBX_TEST_CLI, "pe", data, "--mu", "1", "--seed", "1", "-o", nodir, NULL};
    ck_assert_int_eq(test_run(a5, text, sizeof text), 1);
    ck_assert_int_ne(access(never, F_OK), 0);

    hbx_table_free(&pe);
    hbx_table_free(&test);
    hbx_pe_pool_destroy(pool);
    test_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pe");
    TCase *tc = tcase_create("pe");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, seeds_and_masks);
    tcase_add_test(tc, nuisance_draws);
    tcase_add_test(tc, pool_refuses_bad_input);
    tcase_add_test(tc, counts_follow_weights_and_mu);
    tcase_add_test(tc, multiplicities_are_poisson_in_weight);
    tcase_add_test(tc, reproducible_any_order_any_thread);
    tcase_add_test(tc, same_bytes_any_cpu_path);
    tcase_add_test(tc, events_are_the_service_s);
    tcase_add_test(tc, fixed_capacity_respected);
    tcase_add_test(tc, pool_from_file);
    tcase_add_test(tc, cli_pe);
    suite_add_tcase(s, tc);
    int rc = test_main(s);
    return rc == 0 && !test_sample_or_skip() ? 77 : rc;
}
