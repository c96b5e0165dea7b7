/* Legitimate: uses the host services from inside the sandbox: get_train_set
 * (all and a subsample), systematics, derive_features, log. Expected: OK
 * with mu_hat = the training events, and "good_services fit" in the log. */
#include <stdio.h>
#include <stdlib.h>

#include "hostile.h"

static double events;

static int fit_services(void *state)
{
    (void)state;
    const hbx_host_api *h = hostile_host;
    hbx_dataset *all = NULL, *some = NULL, *shifted = NULL;
    if (h->get_train_set(0, 7, &all) != HBX_OK || h->get_train_set(2, 7, &some) != HBX_OK ||
        some->n_events != 2)
        return HBX_E_PLUGIN;
    hbx_nuisances nu = hbx_nuisances_nominal();
    nu.post_selection = 0;
    if (h->systematics(all, &nu, 3, &shifted) != HBX_OK || shifted->n_events != all->n_events)
        return HBX_E_PLUGIN;
    events = (double)all->n_events;
    char line[128];
    snprintf(line, sizeof line, "good_services fit: %.0f events", events);
    h->log(HBX_LOG_INFO, line);
    h->dataset_free(all);
    h->dataset_free(some);
    h->dataset_free(shifted);
    return HBX_OK;
}

static int predict_services(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    hbx_dataset *t = NULL;
    /* Training data is for fit only. */
    if (hostile_host->get_train_set(0, 1, &t) != HBX_E_UNAVAILABLE)
        return HBX_E_PLUGIN;
    return hostile_answer(out, events);
}

HOSTILE_PLUGIN("good_services", fit_services, predict_services)
