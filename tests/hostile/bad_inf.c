/* Hostile: answers an infinite interval. Expected: BAD_OUTPUT(infinity in
 * the answer). */
#include <math.h>

#include "hostile.h"

static int predict_inf(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    hostile_answer(out, 1.0);
    out->p84 = INFINITY;
    return HBX_OK;
}

HOSTILE_PLUGIN("bad_inf", hostile_fit_ok, predict_inf)
