/* Broken on purpose (conformance kit test): its fit takes far longer than
 * the limit the test gives it. */
#include <time.h>

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
    struct timespec t = {60, 0};
    while (nanosleep(&t, &t) != 0)
        ;
    return HBX_OK;
}

static int b_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    out->mu_hat = 1.0;
    out->delta_mu_hat = 0.5;
    out->p16 = 0.5;
    out->p84 = 1.5;
    return HBX_OK;
}

static void b_destroy(void *state)
{
    (void)state;
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER, .name = "broken_slow", .version = "1",
    .create = b_create, .fit = b_fit, .predict = b_predict, .destroy = b_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
