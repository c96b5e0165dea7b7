/* Legitimate: OpenMP (libgomp, as XGBoost uses it) in fit and in predict,
 * which runs in workers forked after fit. Expected: OK with mu_hat = the
 * PE's events + the training events / 1e6. */
#include <omp.h>

#include "hostile.h"

static double train_events;

static int fit_omp(void *state)
{
    (void)state;
    hbx_dataset *train = NULL;
    if (hostile_host->get_train_set(0, 1, &train) != HBX_OK)
        return HBX_E_PLUGIN;
    long n = (long)train->n_events, count = 0;
#pragma omp parallel for reduction(+ : count)
    for (long i = 0; i < n; i++)
        count += train->weights[i] >= 0;
    hostile_host->dataset_free(train);
    train_events = (double)count;
    return HBX_OK;
}

static int predict_omp(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    long n = (long)pe->n_events, count = 0;
#pragma omp parallel for reduction(+ : count)
    for (long i = 0; i < n; i++)
        count += pe->features[HBX_PRI_LEP_PT][i] >= 0.0f;
    return hostile_answer(out, (double)count + train_events / 1e6);
}

HOSTILE_PLUGIN("omp_good", fit_omp, predict_omp)
