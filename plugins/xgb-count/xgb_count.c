/*
 * xgb-count: the organisers' stat-only baseline. An XGBoost classifier
 * separates signal from background; fit() picks the score threshold that
 * maximises S / sqrt(B + var_MC(B)) on events held out from training, and
 * predict() counts pseudo-experiment events above it, turning the count into
 * mu with Poisson statistics only (no systematics: it under-covers when they
 * are on, by design).
 */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdlib.h>

#include "baseline.h"
#include "classifier.h"

typedef struct xgbc_state {
    const hbx_host_api *host;
    bl_config cfg;
    bl_classifier clf;
    int fitted;
    float threshold; /* signal region: score >= threshold */
    bl_region region;
} xgbc_state;

static int xgbc_create(const hbx_host_api *host, void **state)
{
    gsl_set_error_handler_off();
    xgbc_state *st = calloc(1, sizeof *st);
    if (!st)
        return HBX_E_NOMEM;
    st->host = host;
    bl_classifier_init(host);
    *state = st;
    return HBX_OK;
}

/* Scores `ev` after the nominal systematics; *scores and *shifted are the
 * caller's to free. */
static int score_nominal(const xgbc_state *st, const bl_events *ev, uint64_t seed,
                         bl_events *shifted, float **scores)
{
    hbx_nuisances nom = hbx_nuisances_nominal();
    *scores = NULL;
    int rc = bl_shift(st->host, ev, &nom, seed, shifted);
    if (rc != HBX_OK)
        return rc;
    uint64_t n = shifted->view.n_events;
    *scores = malloc((n ? n : 1) * sizeof **scores);
    return *scores ? bl_classifier_score(&st->clf, &shifted->view, *scores) : HBX_E_NOMEM;
}

static int xgbc_fit(void *state)
{
    xgbc_state *st = state;
    double t0 = bl_now();
    int rc = bl_config_load(st->host, &st->cfg);
    if (rc != HBX_OK)
        return rc;
    bl_events train, rest, choose, measure, shifted;
    rc = bl_split_train_set(st->host, st->cfg.train_fraction, st->cfg.train_events,
                            st->cfg.seed, &train, &rest);
    if (rc != HBX_OK)
        return rc;
    rc = bl_classifier_prepare_events(&st->clf, st->host, &st->cfg, &train);
    bl_events_free(&train);
    /* The held-out events: half to choose the threshold, half to measure
     * the yields above it (measured where it was chosen, the background
     * would come out low). */
    if (rc == HBX_OK)
        rc = bl_split(st->host, &rest.view, 0.5, UINT64_MAX, st->cfg.seed + 1, &choose, &measure);
    bl_events_free(&rest);
    if (rc != HBX_OK)
        return rc;
    float *scores = NULL;
    bl_region chosen = {0, 0, 0, 0, 0};
    rc = score_nominal(st, &choose, st->cfg.seed + 2, &shifted, &scores);
    if (rc == HBX_OK) {
        rc = bl_best_threshold(&shifted.view, scores, st->cfg.min_mc_events, &st->threshold,
                               &chosen);
        if (rc == HBX_E_PLUGIN)
            bl_log(st->host, HBX_LOG_ERROR,
                   "xgb-count: no threshold keeps %llu held-out events of each class",
                   (unsigned long long)st->cfg.min_mc_events);
    }
    free(scores);
    bl_events_free(&shifted);
    uint64_t n = 0;
    if (rc == HBX_OK && (rc = score_nominal(st, &measure, st->cfg.seed + 3, &shifted, &scores)) ==
                            HBX_OK) {
        bl_region_above(&shifted.view, scores, st->threshold, &st->region);
        n = shifted.view.n_events;
        if (!(st->region.s > 0)) {
            bl_log(st->host, HBX_LOG_ERROR, "xgb-count: no signal above the threshold");
            rc = HBX_E_PLUGIN;
        }
    }
    free(scores);
    bl_events_free(&shifted);
    bl_events_free(&choose);
    bl_events_free(&measure);
    if (rc == HBX_OK)
        rc = bl_classifier_set_threads(&st->clf, st->cfg.predict_threads);
    if (rc != HBX_OK)
        return rc;
    st->fitted = 1;
    const bl_region *r = &st->region;
    bl_log(st->host, HBX_LOG_INFO,
           "xgb-count: region score >= %.6f: S = %.2f, B = %.1f (+- %.1f MC) on %llu events "
           "(S = %.2f, B = %.1f where chosen); S/sqrt(B) = %.3f, expected stat-only delta_mu = "
           "%.3f; fit took %.2f s",
           st->threshold, r->s, r->b, sqrt(r->b_var), (unsigned long long)n, chosen.s, chosen.b,
           r->s / sqrt(r->b), sqrt(r->s + r->b) / r->s, bl_now() - t0);
    return HBX_OK;
}

static int xgbc_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    const xgbc_state *st = state;
    if (!st->fitted)
        return HBX_E_INVALID;
    float *scores = malloc((pe->n_events ? pe->n_events : 1) * sizeof *scores);
    if (!scores)
        return HBX_E_NOMEM;
    int rc = bl_classifier_score(&st->clf, pe, scores);
    uint64_t n = 0;
    for (uint64_t i = 0; rc == HBX_OK && i < pe->n_events; i++)
        n += scores[i] >= st->threshold;
    free(scores);
    return rc == HBX_OK ? bl_count_estimate((double)n, st->region.s, st->region.b, st->region.b_var, out) : rc;
}

static void xgbc_destroy(void *state)
{
    xgbc_state *st = state;
    if (st)
        bl_classifier_free(&st->clf);
    free(st);
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER,
    .name = "xgb-count",
    .version = "1.0.0",
    .create = xgbc_create,
    .fit = xgbc_fit,
    .predict = xgbc_predict,
    .destroy = xgbc_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
