/* Hostile: io_uring (a second system-call interface). Expected:
 * SYSCALL_DENIED(io_uring_setup). */
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

static long ring(void)
{
    char params[120];
    memset(params, 0, sizeof params);
    return syscall(SYS_io_uring_setup, 8, params);
}

HOSTILE_SYSCALL("sys_io_uring", ring())
