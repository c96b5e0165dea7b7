/* Hostile: execs /bin/sh. Expected: SYSCALL_DENIED(execve). */
#include <unistd.h>

#include "hostile.h"

HOSTILE_SYSCALL("exec_shell", execl("/bin/sh", "sh", "-c", "echo escaped", (char *)0))
