/* Test plugin: a deterministic answer computed from the PE's contents (the
 * mean visible mass), so runs can be compared bit for bit. With
 * HBX_PE_STAT_FLAKY it crashes on PEs whose event count is a multiple of 5;
 * with HBX_PE_STAT_SLOW it takes 100 ms per predict. */
#include <higgsbox/plugin.h>
#include <signal.h>
#include <time.h>

static int p_create(const hbx_host_api *h, void **s)
{
    (void)h;
    *s = NULL;
    return HBX_OK;
}

static int p_fit(void *s)
{
    (void)s;
    return HBX_OK;
}

static int p_predict(void *s, const hbx_dataset *pe, hbx_prediction *o)
{
    (void)s;
#ifdef HBX_PE_STAT_FLAKY
    if (pe->n_events % 5 == 0)
        raise(SIGSEGV);
#endif
#ifdef HBX_PE_STAT_SLOW
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
#endif
    double sum = 0;
    const float *m = pe->features[HBX_DER_MASS_VIS];
    for (uint64_t i = 0; i < pe->n_events; i++)
        sum += m[i];
    double mean = pe->n_events ? sum / (double)pe->n_events : 0;
    o->mu_hat = mean / 50.0;
    o->delta_mu_hat = 0.25;
    o->p16 = o->mu_hat - 0.25;
    o->p84 = o->mu_hat + 0.25;
    return HBX_OK;
}

static void p_destroy(void *s)
{
    (void)s;
}

static const hbx_plugin d = {HBX_PLUGIN_HEADER, "pe_stat", "1", p_create, p_fit, p_predict,
                             p_destroy};

HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)
{
    return &d;
}
