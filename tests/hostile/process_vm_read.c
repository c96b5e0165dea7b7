/* Hostile: reads its parent's memory with process_vm_readv. Expected:
 * SYSCALL_DENIED(process_vm_readv). */
#include <sys/uio.h>
#include <unistd.h>

#include "hostile.h"

static long peek(void)
{
    char buf[64];
    struct iovec local = {buf, sizeof buf}, remote = {(void *)0x400000, sizeof buf};
    return process_vm_readv(getppid(), &local, 1, &remote, 1, 0);
}

HOSTILE_SYSCALL("process_vm_read", peek())
