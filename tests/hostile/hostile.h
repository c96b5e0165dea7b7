/*
 * Shared scaffolding of the hostile plugins (tests/test_hostile.c runs
 * them). Each plugin defines what it attacks in fit or predict with
 * HOSTILE_PLUGIN(name, fit, predict); the defaults below behave.
 *
 * Probing plugins return, in mu_hat, how many of their attempts succeeded:
 * the suite expects 0.
 */
#ifndef HBX_HOSTILE_H
#define HBX_HOSTILE_H

#include <higgsbox/plugin.h>

static const hbx_host_api *hostile_host;

static int hostile_create(const hbx_host_api *host, void **state)
{
    hostile_host = host;
    *state = 0;
    return HBX_OK;
}

__attribute__((unused)) static int hostile_fit_ok(void *state)
{
    (void)state;
    return HBX_OK;
}

/* A plain, valid answer carrying `count` in mu_hat. */
static int hostile_answer(hbx_prediction *out, double count)
{
    out->mu_hat = count;
    out->delta_mu_hat = 0.1;
    out->p16 = count - 0.1;
    out->p84 = count + 0.1;
    return HBX_OK;
}

__attribute__((unused)) static int hostile_predict_ok(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    return hostile_answer(out, 1.0);
}

static void hostile_destroy(void *state)
{
    (void)state;
}

#define HOSTILE_PLUGIN(NAME, FIT, PREDICT)                                                  \
    static const hbx_plugin hostile_descriptor = {HBX_PLUGIN_HEADER, NAME, "1",             \
                                                  hostile_create, FIT, PREDICT,             \
                                                  hostile_destroy};                         \
    HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void)                                     \
    {                                                                                       \
        return &hostile_descriptor;                                                         \
    }

/* A plugin whose predict makes one forbidden system call. */
#define HOSTILE_SYSCALL(NAME, CALL)                                                         \
    static int hostile_predict_call(void *state, const hbx_dataset *pe, hbx_prediction *out) \
    {                                                                                       \
        (void)state;                                                                        \
        (void)pe;                                                                           \
        long r = (long)(CALL);                                                              \
        return hostile_answer(out, r == -1 ? 0.0 : 1.0);                                     \
    }                                                                                       \
    HOSTILE_PLUGIN(NAME, hostile_fit_ok, hostile_predict_call)

#endif
