/* Hostile: a user namespace of its own. Expected: SYSCALL_DENIED(unshare). */
#include <sched.h>

#include "hostile.h"

HOSTILE_SYSCALL("sys_unshare", unshare(CLONE_NEWUSER))
