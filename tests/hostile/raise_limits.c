/* Hostile: lifts its own CPU-time limit. Expected:
 * SYSCALL_DENIED(prlimit64). */
#include <sys/resource.h>

#include "hostile.h"

static long lift(void)
{
    struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
    return setrlimit(RLIMIT_CPU, &r);
}

HOSTILE_SYSCALL("raise_limits", lift())
