/*
 * The derived (DER_*) features of HIGGSML.md §3: the one implementation,
 * used by the importer, the generator, the systematics and the plugins.
 *
 * The formulas live in systematics_kernel.h, split in two: the terms built
 * only from features the systematics never change (hbx_der_fixed, computed
 * here by hbx_der_fixed_of) and the rest, evaluated a few events at a time
 * by hbx_der_lanes(). The pseudo-experiment generator computes the first
 * part once per pool event and only the second per drawn copy; this file
 * does both for arbitrary events, so the two paths give the same bits.
 *
 * Cheap by construction: the cosines and sines of azimuths at 3 decimals
 * come from a table (libm's own values), one sinh per pair of objects for
 * the masses, one exp for the η centrality; no allocation. All arithmetic
 * is double and each output is rounded to float once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sincos, M_PI: also when built outside this tree */
#endif
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "higgsbox/physics.h"
#include "higgsbox/systematics_kernel.h"

hbx_cs hbx_trig_table[2 * HBX_TRIG_MAX + 1];

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

hbx_cs hbx_trig_compute(double k)
{
    hbx_cs a;
    sincos((double)hbx_thousandths(k), &a.s, &a.c);
    return a;
}

static void build_trig(void)
{
    for (int k = -HBX_TRIG_MAX; k <= HBX_TRIG_MAX; k++)
        hbx_trig_table[k + HBX_TRIG_MAX] = hbx_trig_compute(k);
}

hbx_cs hbx_trig_of(float phi)
{
    const double k = hbx_round3_k(phi);
    if (fabs(k) <= HBX_TRIG_MAX && hbx_thousandths(k) == phi)
        return hbx_trig_table[(int)k + HBX_TRIG_MAX];
    hbx_cs a;
    sincos((double)phi, &a.s, &a.c);
    return a;
}

/* 4 sinh²(Δη/2) + |u_a − u_b|² = 2 (cosh Δη − cos Δφ), without the
 * cancellation of the right-hand side for nearly collinear objects. */
static double pair_bracket(double deta, hbx_cs a, hbx_cs b)
{
    const double sh = sinh(0.5 * deta), dc = a.c - b.c, ds = a.s - b.s;
    return 4.0 * sh * sh + dc * dc + ds * ds;
}

/* The fixed terms, given the azimuths' cosines and sines. */
static void fixed_terms(const float pri[HBX_N_PRIMARY], int has2, hbx_cs lep, hbx_cs had,
                        hbx_cs j1, hbx_cs j2, hbx_der_fixed *fx)
{
    const double lep_pt = pri[HBX_PRI_LEP_PT], lep_eta = pri[HBX_PRI_LEP_ETA];
    const double had_eta = pri[HBX_PRI_HAD_ETA];
    fx->vis = (float)(lep_pt * pair_bracket(lep_eta - had_eta, lep, had));
    {
        /* Δφ = |((φlep − φhad + 3π) mod 2π) − π|, the mod as x − 2π·floor(x / 2π):
         * the value of fmod for the positive x of real azimuths, cheaper. */
        const double deta = lep_eta - had_eta;
        const double x = (double)pri[HBX_PRI_LEP_PHI] - (double)pri[HBX_PRI_HAD_PHI] + 3.0 * M_PI;
        const double dphi = fabs(x - 2.0 * M_PI * floor(x * (0.5 / M_PI)) - M_PI);
        fx->deltar = (float)sqrt(deta * deta + dphi * dphi);
    }
    if (has2) {
        const double e1 = pri[HBX_PRI_JET_LEADING_ETA], e2 = pri[HBX_PRI_JET_SUBLEADING_ETA];
        fx->jj = (float)pair_bracket(e1 - e2, j1, j2);
        double gap2 = (e1 - e2) * (e1 - e2);
        gap2 += gap2 == 0 ? 1e-4 : 0.0;
        const double d = lep_eta - 0.5 * (e1 + e2);
        fx->lep_eta_centrality = (float)exp(-4.0 * d * d / gap2);
    } else {
        fx->jj = 0.0f;
        fx->lep_eta_centrality = HBX_UNDEFINED;
    }
}

static void terms_of(const float pri[HBX_N_PRIMARY], hbx_der_terms *t)
{
    const float n_jets = pri[HBX_PRI_N_JETS];
    t->has1 = n_jets >= 1;
    t->has2 = n_jets >= 2;
    t->lep = hbx_trig_of(pri[HBX_PRI_LEP_PHI]);
    t->had = hbx_trig_of(pri[HBX_PRI_HAD_PHI]);
    t->met = hbx_trig_of(pri[HBX_PRI_MET_PHI]);
    /* An absent jet's placeholders never enter a formula (selects on has1,
     * has2), so its azimuth need not be looked at. */
    t->j1 = t->has1 ? hbx_trig_of(pri[HBX_PRI_JET_LEADING_PHI]) : hbx_trig_k(0);
    t->j2 = t->has2 ? hbx_trig_of(pri[HBX_PRI_JET_SUBLEADING_PHI]) : hbx_trig_k(0);
    fixed_terms(pri, t->has2, t->lep, t->had, t->j1, t->j2, &t->fx);
}

void hbx_der_fixed_of(const float pri[HBX_N_PRIMARY], hbx_der_fixed *fx)
{
    hbx_der_terms t;
    terms_of(pri, &t);
    *fx = t.fx;
}

/* DER_met_phi_centrality when A² + B² = 0 (all three azimuths aligned):
 * HIGGSML.md §3 retries with the lepton turned by 1e-4 rad, then gives -25. */
static float centrality_retry(const float pri[HBX_N_PRIMARY], const hbx_der_terms *t)
{
    hbx_cs lep;
    sincos((double)pri[HBX_PRI_LEP_PHI] + 1e-4, &lep.s, &lep.c);
    const double d = t->had.s * lep.c - t->had.c * lep.s;
    const double s = (double)((d > 0) - (d < 0));
    const double a = (t->met.s * lep.c - t->met.c * lep.s) * s;
    const double b = (t->had.s * t->met.c - t->had.c * t->met.s) * s;
    const double n2 = a * a + b * b;
    return n2 > 0 ? (float)((a + b) / sqrt(n2)) : HBX_UNDEFINED;
}

/* The DER lanes, compiled for SSE2 and for AVX2 (systematics_kernel.h). */
#define HBX_LANES HBX_LANES_SSE2
#include "higgsbox/systematics_kernel.h"
#undef HBX_LANES
#if HBX_HAVE_AVX2_LANES
#pragma GCC push_options
#pragma GCC target("avx2")
#define HBX_LANES HBX_LANES_AVX2
#include "higgsbox/systematics_kernel.h"
#undef HBX_LANES
#pragma GCC pop_options
#endif

/* Lanes in use: 8 when the CPU runs AVX-512, 4 with AVX2, else 2 (chosen
 * at load). */
static int lane_width = 2;

int hbx_kernel_width(void)
{
    return lane_width;
}

int hbx_kernel_force_width(int width)
{
#if HBX_HAVE_AVX2_LANES
    __builtin_cpu_init();
    if (width == 8 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        lane_width = 8;
    if (width == 4 && __builtin_cpu_supports("avx2"))
        lane_width = 4;
#endif
    if (width == 2)
        lane_width = 2;
    return lane_width;
}

static void build_tables(void)
{
    build_trig();
    if (hbx_kernel_force_width(8) != 8)
        hbx_kernel_force_width(4);
}

void hbx_physics_init(void)
{
    pthread_once(&tables_once, build_tables);
}

/* Tables ready before main() or dlopen() returns (100 KB, ~0.1 ms), so the
 * inline look-ups never have to check. */
__attribute__((constructor)) static void physics_load(void)
{
    hbx_physics_init();
}

/* DER of up to 4 events (rows of `pri`, `der`); m >= 1. */
static void derive_rows(const float (*pri)[HBX_N_PRIMARY], float (*der)[HBX_N_DER], unsigned m)
{
    hbx_der_terms t[4];
    for (unsigned l = 0; l < m; l++)
        terms_of(pri[l], &t[l]);
    int degenerate = 0;
#if HBX_HAVE_AVX2_LANES
    if (lane_width >= 4)
        degenerate = der_rows_avx2(pri, t, der, m);
    else
#endif
    {
        degenerate = der_rows_sse2(pri, t, der, m < 2 ? m : 2);
        if (m > 2)
            degenerate |= der_rows_sse2(pri + 2, t + 2, der + 2, m - 2) << 2;
    }
    for (unsigned l = 0; l < m; l++)
        if (__builtin_expect(degenerate >> l & 1, 0))
            der[l][HBX_DER_MET_PHI_CENTRALITY - HBX_N_PRIMARY] = centrality_retry(pri[l], &t[l]);
}

void hbx_derive_event(const float pri[HBX_N_PRIMARY], float der[HBX_N_FEATURES - HBX_N_PRIMARY])
{
    derive_rows((const float(*)[HBX_N_PRIMARY])pri, (float(*)[HBX_N_DER])der, 1);
}

void hbx_derive_columns(float *const columns[HBX_N_FEATURES], uint64_t n)
{
    /* Tiles of events, moved between the columns and row-major scratch one
     * column at a time: each column is then read and written sequentially,
     * instead of 28 interleaved streams per event that defeat the
     * prefetcher. */
    enum { TILE = 64 };
    float pri[TILE][HBX_N_PRIMARY], der[TILE][HBX_N_DER];
    for (uint64_t base = 0; base < n; base += TILE) {
        unsigned m = n - base < TILE ? (unsigned)(n - base) : TILE;
        for (int f = 0; f < HBX_N_PRIMARY; f++) {
            const float *col = columns[f] + base;
            for (unsigned i = 0; i < m; i++)
                pri[i][f] = col[i];
        }
        for (unsigned i = 0; i < m; i += 4)
            derive_rows((const float(*)[HBX_N_PRIMARY])(pri + i), der + i, m - i < 4 ? m - i : 4);
        for (int k = 0; k < HBX_N_DER; k++) {
            float *col = columns[HBX_N_PRIMARY + k] + base;
            for (unsigned i = 0; i < m; i++)
                col[i] = der[i][k];
        }
    }
}
