/*
 * mass-likelihood: an example higgsbox plugin.
 *
 * fit():     histograms the visible mass (DER_mass_vis) of the weighted
 *            training set into expected signal and background per bin.
 *            The tau energy scale moves the Z->tautau peak, by far the
 *            largest effect on this feature, so it becomes a nuisance of the
 *            likelihood: the host shifts the training set by one standard
 *            deviation either way (host->systematics) and the background
 *            change per bin is kept. For the other Gaussian nuisances
 *            (HIGGSML.md §5; soft_met is left out to keep the example short)
 *            fit() measures how far the fitted mu moves on the expected
 *            (Asimov) histograms of shifted training sets.
 * predict(): histograms the pseudo-experiment, maximises the binned Poisson
 *            likelihood in mu with the energy scale profiled
 *            (likelihood.c), and widens that interval by the other shifts,
 *            added in quadrature.
 *
 * Everything is deterministic: the same pseudo-experiment always gets the
 * same answer.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <higgsbox/plugin.h>

#include "likelihood.h"

#define N_BINS 40
#define MASS_MAX 200.0 /* GeV; heavier events share the last bin */
#define TRAIN_SEED 12345
#define TES_SIGMA 0.01

typedef struct state {
    const hbx_host_api *host;
    double s[N_BINS], b[N_BINS];
    double db[N_BINS]; /* background change per standard deviation of tes */
    double syst;       /* uncertainty on mu from the nuisances not profiled */
} state;

static int bin_of(float mass)
{
    if (!(mass >= 0.0f))
        return -1; /* undefined (-25) or NaN */
    int i = (int)(mass / (MASS_MAX / N_BINS));
    return i < N_BINS ? i : N_BINS - 1;
}

/* Expected signal and background per bin of a weighted dataset. */
static void fill_templates(const hbx_dataset *d, double *s, double *b)
{
    memset(s, 0, N_BINS * sizeof *s);
    memset(b, 0, N_BINS * sizeof *b);
    const float *mass = d->features[HBX_DER_MASS_VIS];
    for (uint64_t e = 0; e < d->n_events; e++) {
        int i = bin_of(mass[e]);
        if (i >= 0)
            (d->labels[e] ? s : b)[i] += d->weights[e];
    }
}

static int failed(const state *st, int rc)
{
    st->host->log(HBX_LOG_ERROR, st->host->last_error());
    return rc;
}

/* Templates of the training set shifted by `nu` (post-selection applied). */
static int templates_at(const state *st, const hbx_dataset *train, const hbx_nuisances *nu,
                        double *s, double *b)
{
    hbx_dataset *shifted = NULL;
    int rc = st->host->systematics(train, nu, TRAIN_SEED, &shifted);
    if (rc != HBX_OK)
        return failed(st, rc);
    fill_templates(shifted, s, b);
    st->host->dataset_free(shifted);
    return HBX_OK;
}

static int ml_create(const hbx_host_api *host, void **out)
{
    state *st = calloc(1, sizeof *st);
    if (!st)
        return HBX_E_NOMEM;
    st->host = host;
    *out = st;
    return HBX_OK;
}

/* mu fitted on the Asimov histogram of a shifted training set. */
static int shifted_mu(const state *st, const hbx_dataset *train, const hbx_nuisances *nu,
                      double *mu)
{
    double s[N_BINS], b[N_BINS], n[N_BINS];
    int rc = templates_at(st, train, nu, s, b);
    if (rc != HBX_OK)
        return rc;
    for (int i = 0; i < N_BINS; i++)
        n[i] = s[i] + b[i];
    my_template t = {N_BINS, st->s, st->b, st->db};
    my_fit f;
    if (my_fit_mu(&t, n, &f) != 0)
        return HBX_E_PLUGIN;
    *mu = f.mu_hat;
    return HBX_OK;
}

/* Fills the nominal templates and the energy-scale shift. */
static int build_model(state *st, const hbx_dataset *train)
{
    hbx_nuisances nu = hbx_nuisances_nominal();
    int rc = templates_at(st, train, &nu, st->s, st->b);
    double s[N_BINS], up[N_BINS], down[N_BINS];
    nu.tes = 1.0 + TES_SIGMA;
    if (rc == HBX_OK)
        rc = templates_at(st, train, &nu, s, up);
    nu.tes = 1.0 - TES_SIGMA;
    if (rc == HBX_OK)
        rc = templates_at(st, train, &nu, s, down);
    for (int i = 0; rc == HBX_OK && i < N_BINS; i++)
        st->db[i] = 0.5 * (up[i] - down[i]);
    return rc;
}

static int ml_fit(void *opaque)
{
    state *st = opaque;
    hbx_dataset *train = NULL;
    int rc = st->host->get_train_set(0, TRAIN_SEED, &train);
    if (rc != HBX_OK)
        return failed(st, rc);
    rc = build_model(st, train);

    /* One standard deviation of each nuisance, both ways (HIGGSML.md §5).
     * tes is there too: the profiling absorbs its effect on the background,
     * not on the signal peak. */
    static const struct {
        size_t offset;
        double sigma;
    } moves[] = {
        {offsetof(hbx_nuisances, tes), TES_SIGMA},
        {offsetof(hbx_nuisances, jes), 0.01},
        {offsetof(hbx_nuisances, ttbar_scale), 0.02},
        {offsetof(hbx_nuisances, diboson_scale), 0.25},
        {offsetof(hbx_nuisances, bkg_scale), 0.001},
    };
    double var = 0.0;
    for (size_t k = 0; k < sizeof moves / sizeof moves[0] && rc == HBX_OK; k++) {
        double worst = 0.0;
        for (int sign = -1; sign <= 1 && rc == HBX_OK; sign += 2) {
            hbx_nuisances nu = hbx_nuisances_nominal();
            *(double *)((char *)&nu + moves[k].offset) += sign * moves[k].sigma;
            double mu;
            rc = shifted_mu(st, train, &nu, &mu);
            if (rc == HBX_OK && fabs(mu - 1.0) > worst)
                worst = fabs(mu - 1.0);
        }
        var += worst * worst;
    }
    st->host->dataset_free(train);
    if (rc != HBX_OK)
        return rc;
    st->syst = sqrt(var);
    char line[160];
    snprintf(line, sizeof line, "mass-likelihood: %d bins, tes profiled, other systematics %.4f",
             N_BINS, st->syst);
    st->host->log(HBX_LOG_INFO, line);
    return HBX_OK;
}

static int ml_predict(void *opaque, const hbx_dataset *pe, hbx_prediction *out)
{
    const state *st = opaque;
    double n[N_BINS] = {0};
    const float *mass = pe->features[HBX_DER_MASS_VIS];
    for (uint64_t e = 0; e < pe->n_events; e++) {
        int i = bin_of(mass[e]);
        if (i >= 0)
            n[i] += 1.0;
    }
    my_template t = {N_BINS, st->s, st->b, st->db};
    my_fit f;
    if (my_fit_mu(&t, n, &f) != 0)
        return HBX_E_PLUGIN; /* no signal in the training set at all */
    double down = hypot(f.mu_hat - f.lo, st->syst);
    double up = hypot(f.hi - f.mu_hat, st->syst);
    out->mu_hat = f.mu_hat;
    out->p16 = f.mu_hat - down;
    out->p84 = f.mu_hat + up;
    out->delta_mu_hat = 0.5 * (down + up);
    return HBX_OK;
}

static void ml_destroy(void *opaque)
{
    free(opaque);
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER,
    .name = "mass-likelihood",
    .version = "1.0.0",
    .create = ml_create,
    .fit = ml_fit,
    .predict = ml_predict,
    .destroy = ml_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
