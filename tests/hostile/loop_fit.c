/* Hostile: never returns from fit. Expected: TIMEOUT. */
#include "hostile.h"

static int fit_forever(void *state)
{
    (void)state;
    for (volatile unsigned long i = 0;; i++)
        ;
    return HBX_OK;
}

HOSTILE_PLUGIN("loop_fit", fit_forever, hostile_predict_ok)
