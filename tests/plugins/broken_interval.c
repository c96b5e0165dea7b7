/* Broken on purpose (conformance kit test): its interval [p16, p84] does not
 * contain its own point estimate. */
#include <higgsbox/plugin.h>

static int b_create(const hbx_host_api *host, void **state)
{
    (void)host;
    *state = NULL;
    return HBX_OK;
}

static int b_fit(void *state)
{
    (void)state;
    return HBX_OK;
}

static int b_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    out->mu_hat = 1.0;
    out->delta_mu_hat = 0.15;
    out->p16 = 1.2;
    out->p84 = 1.5;
    return HBX_OK;
}

static void b_destroy(void *state)
{
    (void)state;
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER, .name = "broken_interval", .version = "1",
    .create = b_create, .fit = b_fit, .predict = b_predict, .destroy = b_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
