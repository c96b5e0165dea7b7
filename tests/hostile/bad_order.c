/* Hostile: answers p16 > p84. Expected: BAD_OUTPUT(p16 > p84). */
#include "hostile.h"

static int predict_inverted(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    hostile_answer(out, 1.0);
    out->p16 = 2.0;
    out->p84 = 0.5;
    return HBX_OK;
}

HOSTILE_PLUGIN("bad_order", hostile_fit_ok, predict_inverted)
