/*
 * constant: the dummy baseline. It ignores its data and always answers
 * mu_hat = 1 with the interval [0.5, 1.5]; it shows the plumbing works and
 * sets the floor every real algorithm must beat.
 */
#include <higgsbox/plugin.h>

static int constant_create(const hbx_host_api *host, void **state)
{
    (void)host;
    *state = NULL;
    return HBX_OK;
}

static int constant_fit(void *state)
{
    (void)state;
    return HBX_OK;
}

static int constant_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    out->mu_hat = 1.0;
    out->delta_mu_hat = 0.5;
    out->p16 = 0.5;
    out->p84 = 1.5;
    return HBX_OK;
}

static void constant_destroy(void *state)
{
    (void)state;
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER,
    .name = "constant",
    .version = "1.0.0",
    .create = constant_create,
    .fit = constant_fit,
    .predict = constant_predict,
    .destroy = constant_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
