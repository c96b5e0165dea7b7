/* Broken on purpose (conformance kit test): saves its model beside itself,
 * in host->submission_dir(), which is read-only, instead of under
 * host->scratch_dir(). Reports the failed write like a careful plugin. */
#include <stdio.h>

#include <higgsbox/plugin.h>

static const hbx_host_api *g_host;

static int b_create(const hbx_host_api *host, void **state)
{
    g_host = host;
    *state = NULL;
    return HBX_OK;
}

static int b_fit(void *state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/broken_write.model", g_host->submission_dir());
    FILE *f = fopen(path, "w");
    if (!f) {
        g_host->log(HBX_LOG_ERROR, "cannot save the model beside the plugin");
        return HBX_E_IO;
    }
    fputs("model\n", f);
    return fclose(f) == 0 ? HBX_OK : HBX_E_IO;
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
    HBX_PLUGIN_HEADER, .name = "broken_write", .version = "1",
    .create = b_create, .fit = b_fit, .predict = b_predict, .destroy = b_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
