/*
 * Landlock: the file system as the plugin may see it.
 *
 * Read-only: the submission directory (the plugin and whatever it ships),
 * the system's library directories and the loader's cache (dlopen of the
 * plugin and its dependencies: libstdc++, libgomp, libxgboost...), CPU
 * topology under /sys (thread pools size themselves from it), the harmless
 * character devices, and /proc when it is the worker's own (private, PID
 * namespace). Read-write: the scratch directory and /dev/null. Nothing
 * else: not the data, not the run directory, not /tmp, not $HOME, no
 * execution of anything. From ABI 4 no TCP bind/connect, from ABI 6 no
 * signals to processes outside the sandbox and no abstract unix sockets.
 *
 * The ABI is probed and every right it offers is handled, so a newer kernel
 * never leaves a right uncovered that this code knows of.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "worker.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
/* Rights newer than the installed kernel headers. */
#define LL_FS_TRUNCATE (1ull << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ull << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix. */
typedef struct ll_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
} ll_attr;

typedef struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed)) ll_path_beneath;

#define R_FILE LANDLOCK_ACCESS_FS_READ_FILE
#define R_DIR (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* Adds a rule for `path` if it exists; rights are trimmed to what the
 * ruleset handles and to what applies to a file. Returns -1 on a real
 * error. */
static int allow(int ruleset, const char *path, uint64_t rights, uint64_t handled, int *count)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? 0 : -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        rights &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                  LANDLOCK_ACCESS_FS_EXECUTE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV;
    ll_path_beneath pb = {rights & handled, fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int e = errno;
    close(fd);
    errno = e;
    if (rc != 0)
        return -1;
    (*count)++;
    return 0;
}

int hbx_landlock_apply(const char *submission_dir, const char *scratch, int allow_proc,
                       char *detail, size_t len)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        snprintf(detail, len, "Landlock unavailable: %s",
                 errno == EOPNOTSUPP ? "disabled at boot (not in the lsm= list)"
                                     : errno == ENOSYS ? "kernel without Landlock"
                                                       : strerror(errno));
        return 0;
    }
    ll_attr attr = {0, 0, 0};
    attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
    if (abi >= 2)
        attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        attr.handled_access_fs |= LL_FS_TRUNCATE;
    if (abi >= 5)
        attr.handled_access_fs |= LL_FS_IOCTL_DEV;
    size_t attr_size = sizeof(uint64_t);
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        attr_size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        attr_size = 3 * sizeof(uint64_t);
    }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (rs < 0) {
        snprintf(detail, len, "landlock_create_ruleset: %s", strerror(errno));
        return -1;
    }
    uint64_t h = attr.handled_access_fs;
    uint64_t rw_dir = R_DIR | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                      LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
                      LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REFER | LL_FS_TRUNCATE;
    static const char *const ro_dirs[] = {
        "/usr/lib",        "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/lib32",
        "/sys/devices/system/cpu", "/sys/devices/system/node", NULL};
    static const char *const ro_files[] = {"/etc/ld.so.cache", "/etc/localtime", "/dev/zero",
                                           "/dev/urandom",     "/dev/random",    NULL};
    int n = 0, bad = 0;
    const char *what = "";
    if (submission_dir[0] && allow(rs, submission_dir, R_DIR, h, &n) != 0)
        bad = 1, what = submission_dir;
    for (int i = 0; !bad && ro_dirs[i]; i++)
        if (allow(rs, ro_dirs[i], R_DIR, h, &n) != 0)
            bad = 1, what = ro_dirs[i];
    for (int i = 0; !bad && ro_files[i]; i++)
        if (allow(rs, ro_files[i], R_FILE, h, &n) != 0)
            bad = 1, what = ro_files[i];
    if (!bad && allow(rs, "/dev/null", R_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LL_FS_TRUNCATE, h,
                      &n) != 0)
        bad = 1, what = "/dev/null";
    if (!bad && allow_proc && allow(rs, "/proc", R_DIR, h, &n) != 0)
        bad = 1, what = "/proc";
    if (!bad && scratch[0] && allow(rs, scratch, rw_dir, h, &n) != 0)
        bad = 1, what = scratch;
    if (bad) {
        snprintf(detail, len, "landlock rule for %s: %s", what, strerror(errno));
        close(rs);
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
        snprintf(detail, len, "landlock_restrict_self: %s", strerror(errno));
        close(rs);
        return -1;
    }
    close(rs);
    /* Check: the root directory is now out of reach. */
    int probe = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (probe >= 0 || errno != EACCES) {
        if (probe >= 0)
            close(probe);
        snprintf(detail, len, "Landlock ABI %ld applied but / is still readable", abi);
        return -1;
    }
    snprintf(detail, len,
             "ABI %ld: %d read-only/read-write rules (submission dir, system libraries, %sscratch)"
             "%s%s",
             abi, n, allow_proc ? "private /proc, " : "", abi >= 4 ? ", no TCP" : "",
             abi >= 6 ? ", signals and abstract sockets scoped" : "");
    return 1;
}
