/*
 * profile: the uncertainty-aware baseline. fit() trains the XGBoost
 * classifier (as xgb-count does) and builds a binned likelihood on its score
 * with templates at shifted nuisances (templates.c); predict() histograms the
 * pseudo-experiment's scores and returns the profile-likelihood interval
 * (likelihood.c), every nuisance profiled with its constraint.
 */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

typedef struct profile_state {
    const hbx_host_api *host;
    bl_config cfg;
    bl_classifier clf;
    pr_model model;
    int fitted;
} profile_state;

static int profile_create(const hbx_host_api *host, void **state)
{
    gsl_set_error_handler_off();
    profile_state *st = calloc(1, sizeof *st);
    if (!st)
        return HBX_E_NOMEM;
    st->host = host;
    bl_classifier_init(host);
    *state = st;
    return HBX_OK;
}

/* Logs the model and what it expects at mu = 1 (Asimov counts): the
 * interval with every nuisance profiled and the stat-only one. */
static void describe(const profile_state *st, double seconds)
{
    const pr_model *m = &st->model;
    char line[1024];
    int len = snprintf(line, sizeof line, "profile: %d bins, S/B per bin:", m->n_bins);
    for (int b = 0; b < m->n_bins && len < (int)sizeof line - 32; b++) {
        double bkg = 0;
        for (int p = 1; p < HBX_N_PROCESSES; p++)
            bkg += m->yield[p][b];
        len += snprintf(line + len, sizeof line - (size_t)len, " %.3g", m->yield[0][b] / bkg);
    }
    bl_log(st->host, HBX_LOG_INFO, "%s", line);
    int top = m->n_bins - 1;
    double p0[PR_N_PARAMS] = {[PR_MU] = 1.0}, nu0[PR_MAX_BINS], nu[PR_MAX_BINS];
    pr_expected(m, p0, nu0);
    double effect[3];
    for (int k = 0; k < 3; k++) {
        double p[PR_N_PARAMS] = {[PR_MU] = 1.0};
        p[k == 0 ? PR_A_TES : k == 1 ? PR_A_JES : PR_T_MET] = 1.0;
        pr_expected(m, p, nu);
        effect[k] = 100.0 * (nu[top] / nu0[top] - 1.0);
    }
    bl_log(st->host, HBX_LOG_INFO,
           "profile: top bin expects %.1f events (MC stat %.2f%%); +1 sigma tes %+.2f%%, "
           "jes %+.2f%%, soft_met e^1 GeV %+.2f%% (vs 1 GeV)",
           nu0[top], 100.0 * sqrt(m->mc_rel2[top]), effect[0], effect[1], effect[2]);
    hbx_prediction full, stat;
    if (pr_fit_interval(m, nu0, PR_ALL_NUISANCES, &full, NULL) == HBX_OK &&
        pr_fit_interval(m, nu0, 0, &stat, NULL) == HBX_OK)
        bl_log(st->host, HBX_LOG_INFO,
               "profile: expected interval at mu = 1 (Asimov): [%.3f, %.3f] with systematics, "
               "[%.3f, %.3f] stat-only; fit took %.2f s",
               full.p16, full.p84, stat.p16, stat.p84, seconds);
}

static int profile_fit(void *state)
{
    profile_state *st = state;
    double t0 = bl_now();
    int rc = bl_config_load(st->host, &st->cfg);
    if (rc != HBX_OK)
        return rc;
    bl_events train, rest;
    rc = bl_split_train_set(st->host, st->cfg.train_fraction, st->cfg.train_events,
                            st->cfg.seed, &train, &rest);
    if (rc != HBX_OK)
        return rc;
    rc = bl_classifier_prepare_events(&st->clf, st->host, &st->cfg, &train);
    bl_events_free(&train);
    double t1 = bl_now();
    if (rc == HBX_OK)
        rc = pr_build_model(st->host, &st->cfg, &st->clf, &rest, &st->model);
    bl_events_free(&rest);
    if (rc == HBX_OK)
        rc = bl_classifier_set_threads(&st->clf, st->cfg.predict_threads);
    if (rc != HBX_OK)
        return rc;
    bl_log(st->host, HBX_LOG_INFO, "profile: templates built in %.2f s", bl_now() - t1);
    st->fitted = 1;
    describe(st, bl_now() - t0);
    return HBX_OK;
}

static int profile_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    const profile_state *st = state;
    if (!st->fitted)
        return HBX_E_INVALID;
    float *scores = malloc((pe->n_events ? pe->n_events : 1) * sizeof *scores);
    if (!scores)
        return HBX_E_NOMEM;
    int rc = bl_classifier_score(&st->clf, pe, scores);
    double n[PR_MAX_BINS] = {0};
    for (uint64_t i = 0; rc == HBX_OK && i < pe->n_events; i++)
        n[pr_bin_of(&st->model, scores[i])] += 1.0;
    free(scores);
    if (rc != HBX_OK)
        return rc;
    pr_fit fit;
    rc = pr_fit_interval(&st->model, n, PR_ALL_NUISANCES, out, &fit);
    if (rc != HBX_OK)
        bl_log(st->host, HBX_LOG_ERROR, "profile: the likelihood fit failed on %llu events",
               (unsigned long long)pe->n_events);
    else if (fit.unbounded)
        bl_log(st->host, HBX_LOG_WARN,
               "profile: %llu events do not bound mu on both sides; interval cut at [%g, %g]",
               (unsigned long long)pe->n_events, out->p16, out->p84);
    return rc;
}

static void profile_destroy(void *state)
{
    profile_state *st = state;
    if (st)
        bl_classifier_free(&st->clf);
    free(st);
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER,
    .name = "profile",
    .version = "1.0.0",
    .create = profile_create,
    .fit = profile_fit,
    .predict = profile_predict,
    .destroy = profile_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
