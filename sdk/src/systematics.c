/*
 * The systematics of HIGGSML.md §4: the kernel that shifts prepared events
 * and recomputes their DER features (hbx_syst_batch, shared with the
 * pseudo-experiment generator), and the service that applies it to a whole
 * dataset (hbx_systematics_apply) and scales the background weights.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* M_PI */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "higgsbox/physics.h"
#include "higgsbox/rng.h"
#include "higgsbox/systematics_kernel.h"

/* Events prepared per step of the service: 16 KB of prepared lines, so the
 * batch reads them from L1. */
enum { CHUNK = HBX_SYST_BATCH };

void hbx_syst_params_init(hbx_syst_params *p, const hbx_nuisances *nu)
{
    p->tes = nu->tes;
    p->jes = nu->jes;
    p->tes_m1 = nu->tes - 1.0;
    p->jes_m1 = nu->jes - 1.0;
    p->soft_met = nu->soft_met;
    p->post_selection = nu->post_selection != 0;
}

int hbx_nuisances_check(const hbx_nuisances *nu)
{
    const double v[6] = {nu->tes,           nu->jes,           nu->soft_met,
                         nu->ttbar_scale,   nu->diboson_scale, nu->bkg_scale};
    for (int i = 0; i < 6; i++)
        if (!isfinite(v[i]))
            return -1;
    if (!(nu->tes > 0.0) || !(nu->jes > 0.0) || nu->soft_met < 0.0 || nu->ttbar_scale < 0.0 ||
        nu->diboson_scale < 0.0 || nu->bkg_scale < 0.0 || nu->reserved != 0)
        return -1;
    return 0;
}

/* Rounds v to thousandths into *k, as hbx_round3 would; -1 when out of the
 * int16 range. */
static int to_milli(float v, int16_t *k)
{
    double y = (double)v * 1000.0;
    if (!(fabs(y) <= 32767.0))
        return -1;
    *k = (int16_t)((y + 0x1.8p52) - 0x1.8p52);
    return 0;
}

/* Which PRI feature each milli field holds. */
static const int milli_feature[HBX_N_MILLI] = {
    HBX_PRI_LEP_ETA,         HBX_PRI_LEP_PHI,            HBX_PRI_HAD_ETA,
    HBX_PRI_HAD_PHI,         HBX_PRI_JET_LEADING_ETA,    HBX_PRI_JET_LEADING_PHI,
    HBX_PRI_JET_SUBLEADING_ETA, HBX_PRI_JET_SUBLEADING_PHI, HBX_PRI_MET_PHI,
};

int hbx_syst_prepare(const float pri[HBX_N_PRIMARY], hbx_syst_event *ev)
{
    memset(ev, 0, sizeof *ev);
    for (int f = 0; f < HBX_N_PRIMARY; f++)
        if (!isfinite(pri[f]))
            return -1;
    const float nj = pri[HBX_PRI_N_JETS];
    if (!(nj >= 0.0f && nj <= 255.0f) || nj != floorf(nj))
        return -1;
    ev->n_jets = (uint8_t)nj;
    for (int m = 0; m < HBX_N_MILLI; m++)
        if (to_milli(pri[milli_feature[m]], &ev->milli[m]) != 0)
            return -1;

    ev->had_pt = pri[HBX_PRI_HAD_PT];
    ev->jet1_pt = pri[HBX_PRI_JET_LEADING_PT];
    ev->jet2_pt = pri[HBX_PRI_JET_SUBLEADING_PT];
    ev->jet_all_pt = pri[HBX_PRI_JET_ALL_PT];
    ev->met = pri[HBX_PRI_MET];
    ev->lep_pt = hbx_round3(pri[HBX_PRI_LEP_PT]);

    /* The fixed DER terms of the features the kernel outputs unchanged:
     * the rounded ones, with the event's own jets. */
    float r[HBX_N_PRIMARY];
    memcpy(r, pri, sizeof r);
    r[HBX_PRI_LEP_PT] = ev->lep_pt;
    for (int m = 0; m < HBX_N_MILLI; m++)
        r[milli_feature[m]] = hbx_milli_value(ev->milli[m]);
    hbx_der_fixed_of(r, &ev->der);
    const int looked_up[] = {HBX_MILLI_LEP_PHI, HBX_MILLI_HAD_PHI, HBX_MILLI_MET_PHI,
                             HBX_MILLI_JET1_PHI, HBX_MILLI_JET2_PHI};
    const int n_looked_up = 3 + (ev->n_jets >= 1) + (ev->n_jets >= 2);
    for (int a = 0; a < n_looked_up; a++)
        if (abs(ev->milli[looked_up[a]]) > HBX_TRIG_MAX)
            ev->flags |= HBX_EV_WIDE_ANGLE;
    return 0;
}

/* The SIMD kernel, compiled for SSE2 and for AVX2 (systematics_kernel.h). */
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
#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512dq,avx512vl,avx512bw")
#define HBX_LANES HBX_LANES_AVX512
#include "higgsbox/systematics_kernel.h"
#undef HBX_LANES
#pragma GCC pop_options
#endif

void hbx_syst_batch(const hbx_syst_event *const *ev, const double *gx, const double *gy,
                    uint32_t n, const hbx_syst_params *p, float (*out)[HBX_SYST_ROW], uint32_t at,
                    hbx_syst_trace *trace, const hbx_syst_overlap *ov)
{
#if HBX_HAVE_AVX2_LANES
    switch (hbx_kernel_width()) {
    case 8:
        syst_batch_avx512(ev, gx, gy, n, p, out, at, trace, ov);
        return;
    case 4:
        syst_batch_avx2(ev, gx, gy, n, p, out, at, trace, ov);
        return;
    }
#endif
    syst_batch_sse2(ev, gx, gy, n, p, out, at, trace, ov);
}

/* The two soft-MET deviates of a row. */
static void row_noise(uint64_t key, uint64_t row, double *gx, double *gy)
{
    hbx_rng r = hbx_rng_at(key, row);
    *gx = hbx_rng_normal(&r);
    *gy = hbx_rng_normal(&r);
}

/* Weight factor of each process (step 7). */
static void weight_factors(const hbx_nuisances *nu, double factor[HBX_N_PROCESSES])
{
    factor[HBX_HTAUTAU] = 1.0;
    factor[HBX_ZTAUTAU] = nu->bkg_scale;
    factor[HBX_TTBAR] = nu->ttbar_scale * nu->bkg_scale;
    factor[HBX_DIBOSON] = nu->diboson_scale * nu->bkg_scale;
}

int hbx_systematics_apply_from(const hbx_dataset *in, const hbx_nuisances *nu, uint64_t seed,
                               uint64_t first_row, hbx_table *out)
{
    if (!out)
        return HBX_E_INVALID;
    memset(out, 0, sizeof *out);
    if (!in || !nu || hbx_nuisances_check(nu) != 0)
        return HBX_E_INVALID;
    const uint64_t n = in->n_events;
    for (int f = 0; f < HBX_N_PRIMARY; f++)
        if (n > 0 && !in->features[f])
            return HBX_E_INVALID;
    const int scaled = nu->ttbar_scale != 1.0 || nu->diboson_scale != 1.0 || nu->bkg_scale != 1.0;
    if (in->weights && scaled && !in->process)
        return HBX_E_INVALID;
    double factor[HBX_N_PROCESSES];
    weight_factors(nu, factor);

    unsigned flags = (in->weights ? HBX_TABLE_WEIGHTS : 0u) | (in->labels ? HBX_TABLE_LABELS : 0u) |
                     (in->process ? HBX_TABLE_PROCESS : 0u);
    if (hbx_table_alloc(out, n, flags) != HBX_OK)
        return HBX_E_NOMEM;

    /* Normally done at load time; cheap when already done. */
    hbx_rng_init();
    hbx_physics_init();
    hbx_syst_params p;
    hbx_syst_params_init(&p, nu);
    const uint64_t key = hbx_rng_key(seed, HBX_RNG_PURPOSE_SHIFT);
    hbx_syst_event ev[CHUNK];
    const hbx_syst_event *kept_ev[CHUNK];
    double gx[CHUNK], gy[CHUNK];
    uint64_t src[CHUNK];
    /* The batch's output rows (36 KB: not on a plugin thread's stack). */
    float(*rows)[HBX_SYST_ROW] = malloc(sizeof(float[HBX_N_FEATURES][HBX_SYST_ROW]));
    if (!rows) {
        hbx_table_free(out);
        return HBX_E_NOMEM;
    }
    for (uint64_t start = 0; start < n; start += CHUNK) {
        const uint64_t end = n - start < CHUNK ? n : start + CHUNK;
        uint32_t kept = 0;
        for (uint64_t i = start; i < end; i++) {
            float in_pri[HBX_N_PRIMARY];
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                in_pri[f] = in->features[f][i];
            if (hbx_syst_prepare(in_pri, &ev[kept]) != 0 ||
                (in->process && scaled && in->process[i] >= HBX_N_PROCESSES)) {
                free(rows);
                hbx_table_free(out);
                return HBX_E_INVALID;
            }
            if (!hbx_syst_passes_event_cuts(&ev[kept], &p))
                continue;
            if (p.soft_met > 0.0)
                row_noise(key, first_row + i, &gx[kept], &gy[kept]);
            kept_ev[kept] = &ev[kept];
            src[kept++] = i;
        }
        hbx_syst_batch(kept_ev, gx, gy, kept, &p, rows, 0, NULL, NULL);
        for (int f = 0; f < HBX_N_FEATURES; f++)
            memcpy(out->features[f] + out->n, rows[f], kept * sizeof(float));
        for (uint32_t j = 0; j < kept; j++) {
            const uint64_t i = src[j], o = out->n + j;
            if (out->weights)
                out->weights[o] = scaled ? in->weights[i] * factor[in->process[i]] : in->weights[i];
            if (out->labels)
                out->labels[o] = in->labels[i];
            if (out->process)
                out->process[o] = in->process[i];
        }
        out->n += kept;
    }
    free(rows);
    return HBX_OK;
}

int hbx_systematics_apply(const hbx_dataset *in, const hbx_nuisances *nu, uint64_t seed,
                          hbx_table *out)
{
    return hbx_systematics_apply_from(in, nu, seed, 0, out);
}

int hbx_systematics_trace(const float pri[HBX_N_PRIMARY], const hbx_nuisances *nu, uint64_t seed,
                          uint64_t row, float out[HBX_N_FEATURES], hbx_syst_trace *trace)
{
    hbx_syst_event ev;
    if (hbx_nuisances_check(nu) != 0 || hbx_syst_prepare(pri, &ev) != 0)
        return -1;
    hbx_rng_init();
    hbx_physics_init();
    hbx_syst_params p;
    hbx_syst_params_init(&p, nu);
    double gx = 0.0, gy = 0.0;
    if (p.soft_met > 0.0)
        row_noise(hbx_rng_key(seed, HBX_RNG_PURPOSE_SHIFT), row, &gx, &gy);
    float(*rows)[HBX_SYST_ROW] = malloc(sizeof(float[HBX_N_FEATURES][HBX_SYST_ROW]));
    if (!rows)
        return -1;
    const hbx_syst_event *one = &ev;
    hbx_syst_batch(&one, &gx, &gy, 1, &p, rows, 0, trace, NULL);
    for (int f = 0; f < HBX_N_FEATURES; f++)
        out[f] = rows[f][0];
    free(rows);
    return hbx_syst_passes_event_cuts(&ev, &p);
}
