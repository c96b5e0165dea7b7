/*
 * count: the stat-only cut-and-count baseline.
 *
 * fit() chooses a signal region on the nominal training set: a window in
 * DER_mass_vis, optionally intersected with a one-sided cut on one other
 * feature, maximising S / sqrt(B + var_MC(B)). predict() counts the events of
 * the pseudo-experiment in the region and turns the count into mu with
 * Poisson statistics only. Systematics are ignored on purpose: this is the
 * floor every uncertainty-aware method must beat in coverage.
 */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"

#define MASS_BINS 120
#define MASS_WIDTH 2.5 /* GeV: the window edges lie on this grid in [0, 300) */
#define CUT_STEPS 20   /* candidate thresholds per second feature (quantiles) */

/* Features tried for the second cut: where signal and Z->tautau differ most
 * (missing energy and boost of the tau pair, angular separation). */
static const int second_features[] = {
    HBX_DER_PT_H, HBX_PRI_MET, HBX_DER_MASS_TRANSVERSE_MET_LEP,
    HBX_DER_DELTAR_HAD_LEP, HBX_PRI_HAD_PT, HBX_DER_SUM_PT,
};
#define N_SECOND ((int)(sizeof second_features / sizeof second_features[0]))

typedef struct count_state {
    const hbx_host_api *host;
    bl_config cfg;
    int fitted;
    float mass_lo, mass_hi; /* window [lo, hi) in DER_mass_vis */
    int cut_feature;        /* -1: no second cut */
    int cut_above;          /* keep x >= cut_value (else x < cut_value) */
    float cut_value;
    bl_region region; /* expected yields in the region (nominal) */
} count_state;

static int mass_bin(float m)
{
    if (!(m >= 0))
        return -1;
    int k = (int)(m / MASS_WIDTH);
    return k < MASS_BINS ? k : -1;
}

static int in_region(const count_state *st, const hbx_dataset *d, uint64_t i)
{
    float m = d->features[HBX_DER_MASS_VIS][i];
    if (!(m >= st->mass_lo && m < st->mass_hi))
        return 0;
    if (st->cut_feature < 0)
        return 1;
    float x = d->features[st->cut_feature][i];
    return st->cut_above ? x >= st->cut_value : x < st->cut_value;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* CUT_STEPS - 1 thresholds at the quantiles of feature f (sorted, may
 * repeat), from a strided sample of at most 200k events. */
static int quantile_edges(const hbx_dataset *d, int f, float edges[CUT_STEPS - 1])
{
    uint64_t stride = d->n_events / 200000 + 1, m = (d->n_events + stride - 1) / stride;
    float *v = malloc((m ? m : 1) * sizeof *v);
    if (!v)
        return HBX_E_NOMEM;
    for (uint64_t i = 0, j = 0; j < m; i += stride, j++)
        v[j] = d->features[f][i];
    qsort(v, m, sizeof *v, cmp_float);
    for (int k = 1; k < CUT_STEPS; k++)
        edges[k - 1] = m ? v[(uint64_t)((double)k / CUT_STEPS * (double)(m - 1))] : 0.0f;
    free(v);
    return HBX_OK;
}

/* Per-mass-bin sums of one candidate selection. */
typedef struct mass_hist {
    double s[MASS_BINS], b[MASS_BINS], b2[MASS_BINS];
    uint64_t ns[MASS_BINS], nb[MASS_BINS];
} mass_hist;

static void hist_add(mass_hist *h, const mass_hist *o)
{
    for (int m = 0; m < MASS_BINS; m++) {
        h->s[m] += o->s[m];
        h->b[m] += o->b[m];
        h->b2[m] += o->b2[m];
        h->ns[m] += o->ns[m];
        h->nb[m] += o->nb[m];
    }
}

/* Best mass window for one selection; updates *best when it beats it. */
static void scan_windows(const mass_hist *h, uint64_t min_mc, double *best_z, int *lo, int *hi,
                         bl_region *best)
{
    for (int a = 0; a < MASS_BINS; a++) {
        bl_region r = {0, 0, 0, 0, 0};
        for (int c = a; c < MASS_BINS; c++) {
            r.s += h->s[c];
            r.b += h->b[c];
            r.b_var += h->b2[c];
            r.n_sig += h->ns[c];
            r.n_bkg += h->nb[c];
            double z = bl_region_significance(&r, min_mc);
            if (z > *best_z) {
                *best_z = z;
                *lo = a;
                *hi = c + 1;
                *best = r;
            }
        }
    }
}

/* Tries every (feature, direction, threshold) and every mass window. */
static int choose_region(count_state *st, const hbx_dataset *d)
{
    mass_hist *h = calloc(CUT_STEPS, sizeof *h);
    mass_hist *acc = malloc(sizeof *acc);
    if (!h || !acc) {
        free(h);
        free(acc);
        return HBX_E_NOMEM;
    }
    double best_z = -1;
    int lo = 0, hi = 0;
    bl_region best = {0, 0, 0, 0, 0};
    st->cut_feature = -1;
    int rc = HBX_OK;
    for (int fi = -1; fi < N_SECOND && rc == HBX_OK; fi++) {
        int f = fi < 0 ? -1 : second_features[fi];
        float edges[CUT_STEPS - 1];
        if (f >= 0 && (rc = quantile_edges(d, f, edges)) != HBX_OK)
            break;
        memset(h, 0, CUT_STEPS * sizeof *h);
        /* h[t]: events whose feature value lies in quantile slice t. */
        for (uint64_t i = 0; i < d->n_events; i++) {
            int m = mass_bin(d->features[HBX_DER_MASS_VIS][i]);
            if (m < 0)
                continue;
            int t = 0;
            if (f >= 0) {
                float x = d->features[f][i];
                int a = 0, b = CUT_STEPS - 1; /* t = number of edges <= x */
                while (a < b) {
                    int mid = (a + b) / 2;
                    if (edges[mid] <= x)
                        a = mid + 1;
                    else
                        b = mid;
                }
                t = a;
            }
            double w = d->weights[i];
            if (d->labels[i]) {
                h[t].s[m] += w;
                h[t].ns[m]++;
            } else {
                h[t].b[m] += w;
                h[t].b2[m] += w * w;
                h[t].nb[m]++;
            }
        }
        if (f < 0) {
            double z0 = best_z;
            scan_windows(&h[0], st->cfg.min_mc_events, &best_z, &lo, &hi, &best);
            if (best_z > z0)
                st->cut_feature = -1;
            continue;
        }
        /* Keep x >= edges[k-1] is slices [k, CUT_STEPS); x < edges[k-1] is [0, k). */
        for (int above = 0; above <= 1; above++) {
            for (int k = 1; k < CUT_STEPS; k++) {
                memset(acc, 0, sizeof *acc);
                for (int t = above ? k : 0; t < (above ? CUT_STEPS : k); t++)
                    hist_add(acc, &h[t]);
                double z0 = best_z;
                scan_windows(acc, st->cfg.min_mc_events, &best_z, &lo, &hi, &best);
                if (best_z > z0) {
                    st->cut_feature = f;
                    st->cut_above = above;
                    st->cut_value = edges[k - 1];
                }
            }
        }
    }
    free(h);
    free(acc);
    if (rc != HBX_OK)
        return rc;
    if (best_z <= 0) {
        bl_log(st->host, HBX_LOG_ERROR,
               "count: no region holds %llu simulated signal and background events",
               (unsigned long long)st->cfg.min_mc_events);
        return HBX_E_PLUGIN;
    }
    st->mass_lo = (float)(lo * MASS_WIDTH);
    st->mass_hi = (float)(hi * MASS_WIDTH);
    st->region = best;
    return HBX_OK;
}

static int count_create(const hbx_host_api *host, void **state)
{
    gsl_set_error_handler_off(); /* GSL reports through return codes, never aborts */
    count_state *st = calloc(1, sizeof *st);
    if (!st)
        return HBX_E_NOMEM;
    st->host = host;
    *state = st;
    return HBX_OK;
}

/* The yields of the chosen region in `d`. */
static void region_yields(const count_state *st, const hbx_dataset *d, bl_region *r)
{
    memset(r, 0, sizeof *r);
    for (uint64_t i = 0; i < d->n_events; i++) {
        if (!in_region(st, d, i))
            continue;
        double w = d->weights[i];
        if (d->labels[i]) {
            r->s += w;
            r->n_sig++;
        } else {
            r->b += w;
            r->b_var += w * w;
            r->n_bkg++;
        }
    }
}

static int count_fit(void *state)
{
    count_state *st = state;
    double t0 = bl_now();
    int rc = bl_config_load(st->host, &st->cfg);
    if (rc != HBX_OK)
        return rc;
    /* The region is chosen on one part of the training set and its yields
     * measured on the other: measured where it was chosen, the background
     * would come out low (the search favours downward fluctuations). */
    bl_events choose, measure, shifted;
    rc = bl_split_train_set(st->host, st->cfg.train_fraction, UINT64_MAX, st->cfg.seed, &choose,
                            &measure);
    if (rc != HBX_OK)
        return rc;
    hbx_nuisances nom = hbx_nuisances_nominal();
    bl_region chosen = {0, 0, 0, 0, 0};
    rc = bl_shift(st->host, &choose, &nom, st->cfg.seed, &shifted);
    if (rc == HBX_OK) {
        rc = choose_region(st, &shifted.view);
        chosen = st->region;
        bl_events_free(&shifted);
    }
    uint64_t n = 0;
    if (rc == HBX_OK && (rc = bl_shift(st->host, &measure, &nom, st->cfg.seed + 1, &shifted)) ==
                            HBX_OK) {
        region_yields(st, &shifted.view, &st->region);
        n = shifted.view.n_events;
        bl_events_free(&shifted);
        if (!(st->region.s > 0)) {
            bl_log(st->host, HBX_LOG_ERROR, "count: no signal left in the region");
            rc = HBX_E_PLUGIN;
        }
    }
    bl_events_free(&choose);
    bl_events_free(&measure);
    if (rc != HBX_OK)
        return rc;
    st->fitted = 1;
    const bl_region *r = &st->region;
    char cut[128] = "no second cut";
    if (st->cut_feature >= 0)
        snprintf(cut, sizeof cut, "%s %s %g", hbx_feature_name(st->cut_feature),
                 st->cut_above ? ">=" : "<", st->cut_value);
    bl_log(st->host, HBX_LOG_INFO,
           "count: region %g <= DER_mass_vis < %g GeV, %s: S = %.2f, B = %.1f (+- %.1f MC) on "
           "%llu events (S = %.2f, B = %.1f where chosen); S/sqrt(B) = %.3f, expected stat-only "
           "delta_mu = %.3f; fit took %.2f s",
           st->mass_lo, st->mass_hi, cut, r->s, r->b, sqrt(r->b_var), (unsigned long long)n,
           chosen.s, chosen.b, r->s / sqrt(r->b), sqrt(r->s + r->b) / r->s, bl_now() - t0);
    return HBX_OK;
}

static int count_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    const count_state *st = state;
    if (!st->fitted)
        return HBX_E_INVALID;
    uint64_t n = 0;
    for (uint64_t i = 0; i < pe->n_events; i++)
        n += (uint64_t)in_region(st, pe, i);
    return bl_count_estimate((double)n, st->region.s, st->region.b, st->region.b_var, out);
}

static void count_destroy(void *state)
{
    free(state);
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER,
    .name = "count",
    .version = "1.0.0",
    .create = count_create,
    .fit = count_fit,
    .predict = count_predict,
    .destroy = count_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
