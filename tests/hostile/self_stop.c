/* Hostile: stops itself with SIGSTOP in predict. Expected: TIMEOUT, and the
 * stopped process is still killed and reaped. */
#include <signal.h>

#include "hostile.h"

static int predict_stop(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    raise(SIGSTOP);
    return hostile_answer(out, 1.0);
}

HOSTILE_PLUGIN("self_stop", hostile_fit_ok, predict_stop)
