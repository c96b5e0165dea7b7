/* A sound plugin that keeps its model in host->scratch_dir(), as allowed:
 * the conformance kit must not count that as a write outside scratch. */
#include <stdio.h>

#include <higgsbox/plugin.h>

static const hbx_host_api *g_host;

static int s_create(const hbx_host_api *host, void **state)
{
    g_host = host;
    *state = NULL;
    return HBX_OK;
}

static int s_fit(void *state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.bin", g_host->scratch_dir());
    FILE *f = fopen(path, "w");
    if (!f)
        return HBX_E_IO;
    fputs("model\n", f);
    if (fclose(f) != 0)
        return HBX_E_IO;
    f = fopen(path, "r");
    if (!f)
        return HBX_E_IO;
    return fclose(f) == 0 ? HBX_OK : HBX_E_IO;
}

static int s_predict(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    out->mu_hat = 1.0;
    out->delta_mu_hat = 0.5;
    out->p16 = 0.5;
    out->p84 = 1.5;
    return HBX_OK;
}

static void s_destroy(void *state)
{
    (void)state;
}

static const hbx_plugin descriptor = {
    HBX_PLUGIN_HEADER, .name = "scratch_writer", .version = "1",
    .create = s_create, .fit = s_fit, .predict = s_predict, .destroy = s_destroy,
};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &descriptor;
}
