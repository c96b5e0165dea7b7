/* Hostile: performance counters (a side channel). Expected:
 * SYSCALL_DENIED(perf_event_open). */
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

static long perf(void)
{
    char attr[128];
    memset(attr, 0, sizeof attr);
    return syscall(SYS_perf_event_open, attr, 0, -1, -1, 0);
}

HOSTILE_SYSCALL("sys_perf_event", perf())
