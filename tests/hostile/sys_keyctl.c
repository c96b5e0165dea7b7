/* Hostile: the kernel keyring. Expected: SYSCALL_DENIED(keyctl). */
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

HOSTILE_SYSCALL("sys_keyctl", syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0))
