/* Hostile: sets the clock (to fool time limits). Expected:
 * SYSCALL_DENIED(clock_settime). */
#include <time.h>

#include "hostile.h"

static long set_clock(void)
{
    struct timespec ts = {0, 0};
    return clock_settime(CLOCK_REALTIME, &ts);
}

HOSTILE_SYSCALL("sys_clock_settime", set_clock())
