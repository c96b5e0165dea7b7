/* Hostile: allocates and touches memory until it dies, then uses the NULL
 * it got. Expected: MEMORY_LIMIT (cgroup OOM kill, or the crash after
 * RLIMIT_AS refused the allocation). */
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

static int predict_hog(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    for (;;) {
        char *p = malloc(16 << 20);
        memset(p, 1, 16 << 20); /* NULL once refused: a crash */
        out->mu_hat += p[4096];
    }
    return HBX_OK;
}

HOSTILE_PLUGIN("alloc_death", hostile_fit_ok, predict_hog)
