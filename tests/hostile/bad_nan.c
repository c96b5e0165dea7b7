/* Hostile: answers NaN. Expected: BAD_OUTPUT(NaN in the answer). */
#include <math.h>

#include "hostile.h"

static int predict_nan(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    hostile_answer(out, 1.0);
    out->mu_hat = NAN;
    return HBX_OK;
}

HOSTILE_PLUGIN("bad_nan", hostile_fit_ok, predict_nan)
