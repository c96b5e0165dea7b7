/* Broken on purpose (conformance kit test): its answer depends on how many
 * predictions this process has made, so the same PE gets different answers. */
#include <higgsbox/plugin.h>

static int b_create(const hbx_host_api *host, void **state)
{
    (void)host;
    static int calls;
    *state = &calls;
    return HBX_OK;
}

static int b_fit(void *state)
{
    (void)state;
    return HBX_OK;
}

static int b_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)pe;
    int *calls = state;
    ++*calls;
    out->mu_hat = 1.0 + 0.125 * *calls;
    out->delta_mu_hat = 0.5;
    out->p16 = out->mu_hat - 0.5;
    out->p84 = out->mu_hat + 0.5;
    return HBX_OK;
}

static void b_destroy(void *state)
{
    (void)state;
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER, .name = "broken_random", .version = "1",
    .create = b_create, .fit = b_fit, .predict = b_predict, .destroy = b_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
