/* Hostile: never returns from predict. Expected: TIMEOUT. */
#include "hostile.h"

static int predict_forever(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    (void)out;
    for (volatile unsigned long i = 0;; i++)
        ;
    return HBX_OK;
}

HOSTILE_PLUGIN("loop_predict", hostile_fit_ok, predict_forever)
