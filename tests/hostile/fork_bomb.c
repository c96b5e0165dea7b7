/* Hostile: a fork bomb in predict. Expected: SYSCALL_DENIED(clone), at the
 * first fork. */
#include <unistd.h>

#include "hostile.h"

static int predict_bomb(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    for (;;)
        fork();
    return hostile_answer(out, 1.0);
}

HOSTILE_PLUGIN("fork_bomb", hostile_fit_ok, predict_bomb)
