/* Legitimate: allocates and touches 96 MiB in predict (within the test's
 * 256 MiB limit). Expected: OK. */
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

static int predict_alloc(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    size_t n = 96u << 20;
    char *p = malloc(n);
    if (!p)
        return HBX_E_NOMEM;
    memset(p, 7, n);
    double v = p[n - 1];
    free(p);
    return hostile_answer(out, v);
}

HOSTILE_PLUGIN("good_alloc", hostile_fit_ok, predict_alloc)
