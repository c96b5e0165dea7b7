/*
 * The systematics service of HIGGSML.md §4 on a whole dataset: prepare each
 * event, shift it with the shared kernel (systematics_kernel.h), recompute
 * the DER features of the survivors, scale the background weights.
 *
 * Events are processed in chunks small enough that the freshly written PRI
 * columns are still in cache when hbx_derive_columns() reads them back.
 */
#include <math.h>
#include <string.h>

#include "higgsbox/physics.h"
#include "higgsbox/rng.h"
#include "higgsbox/systematics_kernel.h"

enum { CHUNK = 1024 };

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

    static const int milli_of[HBX_N_MILLI] = {
        HBX_PRI_LEP_ETA,         HBX_PRI_LEP_PHI,         HBX_PRI_HAD_ETA,
        HBX_PRI_HAD_PHI,         HBX_PRI_JET_LEADING_ETA, HBX_PRI_JET_LEADING_PHI,
        HBX_PRI_JET_SUBLEADING_ETA, HBX_PRI_JET_SUBLEADING_PHI,
    };
    for (int m = 0; m < HBX_N_MILLI; m++)
        if (to_milli(pri[milli_of[m]], &ev->milli[m]) != 0)
            return -1;

    ev->had_pt = pri[HBX_PRI_HAD_PT];
    ev->jet1_pt = pri[HBX_PRI_JET_LEADING_PT];
    ev->jet2_pt = pri[HBX_PRI_JET_SUBLEADING_PT];
    ev->jet_all_pt = pri[HBX_PRI_JET_ALL_PT];
    ev->lep_pt = hbx_round3(pri[HBX_PRI_LEP_PT]);

    /* Transverse vectors from the features as given (before rounding). */
    double s, c;
    sincos(pri[HBX_PRI_MET_PHI], &s, &c);
    ev->met_x = (float)(pri[HBX_PRI_MET] * c);
    ev->met_y = (float)(pri[HBX_PRI_MET] * s);
    sincos(pri[HBX_PRI_HAD_PHI], &s, &c);
    ev->had_px = (float)(pri[HBX_PRI_HAD_PT] * c);
    ev->had_py = (float)(pri[HBX_PRI_HAD_PT] * s);
    double jx = 0.0, jy = 0.0;
    if (ev->n_jets >= 1) {
        sincos(pri[HBX_PRI_JET_LEADING_PHI], &s, &c);
        jx += pri[HBX_PRI_JET_LEADING_PT] * c;
        jy += pri[HBX_PRI_JET_LEADING_PT] * s;
    }
    if (ev->n_jets >= 2) {
        sincos(pri[HBX_PRI_JET_SUBLEADING_PHI], &s, &c);
        jx += pri[HBX_PRI_JET_SUBLEADING_PT] * c;
        jy += pri[HBX_PRI_JET_SUBLEADING_PT] * s;
    }
    ev->jet_px = (float)jx;
    ev->jet_py = (float)jy;
    return 0;
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

    hbx_rng_init(); /* normally done at load time; cheap when already done */
    hbx_syst_params p;
    hbx_syst_params_init(&p, nu);
    const uint64_t key = hbx_rng_key(seed, HBX_RNG_PURPOSE_SHIFT);
    for (uint64_t start = 0; start < n; start += CHUNK) {
        const uint64_t end = n - start < CHUNK ? n : start + CHUNK;
        const uint64_t first_out = out->n;
        for (uint64_t i = start; i < end; i++) {
            float in_pri[HBX_N_PRIMARY], pri[HBX_N_PRIMARY];
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                in_pri[f] = in->features[f][i];
            hbx_syst_event ev;
            if (hbx_syst_prepare(in_pri, &ev) != 0 ||
                (in->process && scaled && in->process[i] >= HBX_N_PROCESSES)) {
                hbx_table_free(out);
                return HBX_E_INVALID;
            }
            if (!hbx_syst_passes_event_cuts(&ev, &p))
                continue;
            double gx = 0.0, gy = 0.0;
            if (p.soft_met > 0.0)
                row_noise(key, first_row + i, &gx, &gy);
            if (!hbx_syst_shift(&ev, &p, gx, gy, pri, NULL))
                continue;
            const uint64_t j = out->n++;
            for (int f = 0; f < HBX_N_PRIMARY; f++)
                out->features[f][j] = pri[f];
            if (out->weights)
                out->weights[j] = scaled ? in->weights[i] * factor[in->process[i]] : in->weights[i];
            if (out->labels)
                out->labels[j] = in->labels[i];
            if (out->process)
                out->process[j] = in->process[i];
        }
        float *cols[HBX_N_FEATURES];
        for (int f = 0; f < HBX_N_FEATURES; f++)
            cols[f] = out->features[f] + first_out;
        hbx_derive_columns(cols, out->n - first_out);
    }
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
    hbx_syst_params p;
    hbx_syst_params_init(&p, nu);
    double gx = 0.0, gy = 0.0;
    if (p.soft_met > 0.0)
        row_noise(hbx_rng_key(seed, HBX_RNG_PURPOSE_SHIFT), row, &gx, &gy);
    int keep = hbx_syst_shift(&ev, &p, gx, gy, out, trace);
    hbx_derive_event(out, out + HBX_N_PRIMARY);
    return keep;
}
