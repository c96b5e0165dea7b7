/*
 * Training data for the baselines: fetching and splitting the training set,
 * and shifting it through the host's systematics service.
 */
#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"

void bl_events_free(bl_events *ev)
{
    if (ev->host_owned && ev->host && ev->host->dataset_free)
        ev->host->dataset_free(ev->host_owned);
    free(ev->memory);
    memset(ev, 0, sizeof *ev);
}

/* Gives `ev` its own arrays for n events with all columns. */
static int events_alloc(bl_events *ev, uint64_t n)
{
    memset(ev, 0, sizeof *ev);
    size_t per = HBX_N_FEATURES * sizeof(float) + sizeof(double) + 2;
    if (n > (SIZE_MAX - 64) / per)
        return HBX_E_NOMEM;
    /* Doubles first keeps them aligned; floats next; bytes last. */
    char *m = malloc(n * per + 64);
    if (!m)
        return HBX_E_NOMEM;
    ev->memory = m;
    ev->view.n_events = n;
    double *w = (double *)m;
    float *f = (float *)(w + n);
    uint8_t *b = (uint8_t *)(f + (size_t)n * HBX_N_FEATURES);
    ev->view.weights = w;
    for (int k = 0; k < HBX_N_FEATURES; k++)
        ev->view.features[k] = f + (size_t)k * n;
    ev->view.labels = b;
    ev->view.process = b + n;
    return HBX_OK;
}

void bl_process_yields(const hbx_dataset *d, double yields[HBX_N_PROCESSES])
{
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        yields[p] = 0;
    for (uint64_t i = 0; i < d->n_events; i++)
        if (d->process[i] < HBX_N_PROCESSES)
            yields[d->process[i]] += d->weights[i];
}

/* Copies the events of `src` whose keep[i] equals `which` into `dst`, then
 * rescales its weights so each process totals what it does in `src`. */
static int copy_part(const hbx_dataset *src, const uint8_t *keep, uint8_t which, uint64_t n,
                     bl_events *dst)
{
    int rc = events_alloc(dst, n);
    if (rc != HBX_OK)
        return rc;
    float *feat[HBX_N_FEATURES];
    for (int k = 0; k < HBX_N_FEATURES; k++)
        feat[k] = (float *)dst->view.features[k];
    double *w = (double *)dst->view.weights;
    uint8_t *lab = (uint8_t *)dst->view.labels, *proc = (uint8_t *)dst->view.process;
    uint64_t j = 0;
    for (uint64_t i = 0; i < src->n_events; i++) {
        if (keep[i] != which)
            continue;
        for (int k = 0; k < HBX_N_FEATURES; k++)
            feat[k][j] = src->features[k][i];
        w[j] = src->weights[i];
        lab[j] = src->labels[i];
        proc[j] = src->process[i];
        j++;
    }
    double full[HBX_N_PROCESSES], part[HBX_N_PROCESSES], scale[HBX_N_PROCESSES];
    bl_process_yields(src, full);
    bl_process_yields(&dst->view, part);
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        scale[p] = part[p] > 0 ? full[p] / part[p] : 1.0;
    for (uint64_t i = 0; i < n; i++)
        if (proc[i] < HBX_N_PROCESSES)
            w[i] *= scale[proc[i]];
    return HBX_OK;
}

int bl_split(const hbx_host_api *host, const hbx_dataset *all, double fraction,
             uint64_t max_first, uint64_t seed, bl_events *first, bl_events *second)
{
    memset(first, 0, sizeof *first);
    memset(second, 0, sizeof *second);
    uint64_t n = all->n_events;
    uint64_t n_first = (uint64_t)(fraction * (double)n);
    if (n_first > max_first)
        n_first = max_first;
    uint8_t *keep = malloc(n ? n : 1);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!keep || !r) {
        free(keep);
        if (r)
            gsl_rng_free(r);
        return HBX_E_NOMEM;
    }
    gsl_rng_set(r, (unsigned long)seed);
    /* Selection sampling: exactly n_first of n, each subset equally likely. */
    uint64_t chosen = 0;
    for (uint64_t i = 0; i < n; i++) {
        int take = chosen < n_first &&
                   (double)(n - i) * gsl_rng_uniform(r) < (double)(n_first - chosen);
        keep[i] = (uint8_t)take;
        chosen += (uint64_t)take;
    }
    gsl_rng_free(r);
    int rc = copy_part(all, keep, 1, n_first, first);
    if (rc == HBX_OK)
        rc = copy_part(all, keep, 0, n - n_first, second);
    free(keep);
    if (rc != HBX_OK) {
        bl_events_free(first);
        bl_events_free(second);
        bl_log(host, HBX_LOG_ERROR, "out of memory splitting %llu events", (unsigned long long)n);
    }
    return rc;
}

int bl_split_train_set(const hbx_host_api *host, double fraction, uint64_t max_train,
                       uint64_t seed, bl_events *train, bl_events *rest)
{
    memset(train, 0, sizeof *train);
    memset(rest, 0, sizeof *rest);
    hbx_dataset *all = NULL;
    int rc = host->get_train_set(0, 0, &all);
    if (rc != HBX_OK) {
        bl_log(host, HBX_LOG_ERROR, "get_train_set failed: %s", host->last_error());
        return rc;
    }
    if (!all->weights || !all->labels || !all->process) {
        bl_log(host, HBX_LOG_ERROR, "the training set lacks weights, labels or process");
        host->dataset_free(all);
        return HBX_E_INVALID;
    }
    rc = bl_split(host, all, fraction, max_train, seed, train, rest);
    host->dataset_free(all);
    return rc;
}

static int is_nominal(const hbx_nuisances *nu)
{
    hbx_nuisances nom = hbx_nuisances_nominal();
    return nu->tes == nom.tes && nu->jes == nom.jes && nu->soft_met == nom.soft_met &&
           nu->ttbar_scale == nom.ttbar_scale && nu->diboson_scale == nom.diboson_scale &&
           nu->bkg_scale == nom.bkg_scale;
}

int bl_shift(const hbx_host_api *host, const bl_events *in, const hbx_nuisances *nu,
             uint64_t seed, bl_events *out)
{
    memset(out, 0, sizeof *out);
    hbx_dataset *shifted = NULL;
    int rc = host->systematics(&in->view, nu, seed, &shifted);
    if (rc == HBX_E_UNAVAILABLE && is_nominal(nu)) {
        static int warned;
        if (!warned++)
            bl_log(host, HBX_LOG_WARN,
                   "systematics service unavailable (%s): using the training set as given",
                   host->last_error());
        out->view = in->view;
        return HBX_OK;
    }
    if (rc != HBX_OK) {
        bl_log(host, HBX_LOG_ERROR,
               "systematics(tes=%g jes=%g soft_met=%g ttbar=%g diboson=%g bkg=%g) failed: %s",
               nu->tes, nu->jes, nu->soft_met, nu->ttbar_scale, nu->diboson_scale,
               nu->bkg_scale, host->last_error());
        return rc;
    }
    out->view = *shifted;
    out->host_owned = shifted;
    out->host = host;
    return HBX_OK;
}
