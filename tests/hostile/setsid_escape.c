/* Hostile: leaves its session and process group, then double-forks to
 * escape the tree. Expected: SYSCALL_DENIED(setsid). */
#include <unistd.h>

#include "hostile.h"

static long escape(void)
{
    if (setsid() < 0)
        return -1;
    if (fork() == 0) {
        if (fork() == 0)
            for (;;)
                pause();
        _exit(0);
    }
    return 0;
}

HOSTILE_SYSCALL("setsid_escape", escape())
