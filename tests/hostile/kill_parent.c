/* Hostile: kills its parent. Expected: SYSCALL_DENIED(kill). */
#include <signal.h>
#include <unistd.h>

#include "hostile.h"

HOSTILE_SYSCALL("kill_parent", kill(getppid(), SIGKILL))
