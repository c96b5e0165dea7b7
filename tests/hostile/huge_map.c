/* Hostile: maps a 1 TiB region and touches it page by page. Expected:
 * MEMORY_LIMIT under a memory cgroup; under RLIMIT_AS the mapping is
 * refused and the plugin says so (BAD_OUTPUT, error 2). */
#include <sys/mman.h>

#include "hostile.h"

static int predict_map(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    size_t size = (size_t)1 << 40;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return HBX_E_NOMEM;
    for (size_t off = 0; off < size; off += 4096)
        p[off] = 1;
    return hostile_answer(out, 1.0);
}

HOSTILE_PLUGIN("huge_map", hostile_fit_ok, predict_map)
