/* Hostile: ignores SIGTERM (and SIGINT, SIGHUP) and sleeps forever in
 * predict. Expected: TIMEOUT (the host kills with SIGKILL). */
#include <signal.h>
#include <unistd.h>

#include "hostile.h"

static int predict_stubborn(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    (void)out;
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    for (;;)
        pause();
    return HBX_OK;
}

HOSTILE_PLUGIN("ignore_term", hostile_fit_ok, predict_stubborn)
