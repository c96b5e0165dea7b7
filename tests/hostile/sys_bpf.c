/* Hostile: loads BPF. Expected: SYSCALL_DENIED(bpf). */
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

HOSTILE_SYSCALL("sys_bpf", syscall(SYS_bpf, 0, 0, 0))
