/* Hostile: tries to change the pseudo-experiment it was given (make its
 * pages writable, then write). Expected: CRASHED(SIGSEGV), the host's block
 * unchanged. */
#include <stdint.h>
#include <sys/mman.h>

#include "hostile.h"

static int predict_write(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    float *p = (float *)(uintptr_t)pe->features[HBX_PRI_LEP_PT];
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);
    if (mprotect(page, 4096, PROT_READ | PROT_WRITE) == 0) {
        p[0] = 12345.0f;
        return hostile_answer(out, 1.0);
    }
    p[0] = 12345.0f;
    return hostile_answer(out, 0.0);
}

HOSTILE_PLUGIN("write_pe", hostile_fit_ok, predict_write)
