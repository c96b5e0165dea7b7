/* Hostile: userfaultfd (used to win kernel races). Expected:
 * SYSCALL_DENIED(userfaultfd). */
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

HOSTILE_SYSCALL("sys_userfaultfd", syscall(SYS_userfaultfd, 0))
