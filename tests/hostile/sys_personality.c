/* Hostile: turns address randomisation off. Expected:
 * SYSCALL_DENIED(personality). */
#include <sys/personality.h>

#include "hostile.h"

HOSTILE_SYSCALL("sys_personality", personality(ADDR_NO_RANDOMIZE))
