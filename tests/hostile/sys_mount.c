/* Hostile: mounts a file system. Expected: SYSCALL_DENIED(mount). */
#include <sys/mount.h>

#include "hostile.h"

HOSTILE_SYSCALL("sys_mount", mount("none", "/tmp", "tmpfs", 0, 0))
