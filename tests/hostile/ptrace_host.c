/* Hostile: attaches to its parent with ptrace. Expected:
 * SYSCALL_DENIED(ptrace). */
#include <sys/ptrace.h>
#include <unistd.h>

#include "hostile.h"

HOSTILE_SYSCALL("ptrace_host", ptrace(PTRACE_ATTACH, getppid(), 0, 0))
