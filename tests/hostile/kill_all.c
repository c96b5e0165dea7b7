/* Hostile: kill(-1): every process it may signal. Expected:
 * SYSCALL_DENIED(kill). */
#include <signal.h>

#include "hostile.h"

HOSTILE_SYSCALL("kill_all", kill(-1, SIGKILL))
