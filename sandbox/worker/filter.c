/*
 * The worker's seccomp filter, installed after its own set-up and before
 * the plugin is loaded.
 *
 * An allow-list of what a numeric plugin, the C/C++ runtimes, OpenMP and the
 * sanitizers use: memory, threads (clone with CLONE_THREAD only; clone3 is
 * answered ENOSYS so that glibc falls back to clone, whose flags the filter
 * can read), files (Landlock decides which), time, signals to itself,
 * sendmsg/recvmsg on descriptors it already has. Everything else (socket,
 * connect, bind, fork/exec, ptrace, process_vm_*, mount, unshare, setns,
 * keyctl, bpf, perf_event_open, io_uring, userfaultfd, setrlimit, kill of
 * another process, clock setting...) is stopped in the kernel and handed to
 * the host (user notification): the host lets through only what it must (the
 * worker's own fork after fit, signals a process sends itself), and kills
 * the worker for anything else, naming the system call in the verdict.
 * Without user notification (old kernels) the default is to kill the
 * process, and the host can only say "a forbidden system call".
 * System calls of another architecture (x32, int 0x80) kill the process.
 */
#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>

#include "worker.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif

static const char *const allowed_calls[] = {
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore", "membarrier",
    "pkey_alloc", "pkey_free", "pkey_mprotect", "get_mempolicy", "set_mempolicy", "mbind",
    "memfd_create",
    /* threads and synchronisation */
    "futex", "futex_waitv", "set_robust_list", "set_tid_address", "rseq", "gettid",
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
    "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min", "sched_getattr",
    "getcpu", "arch_prctl", "exit", "exit_group", "restart_syscall", "wait4", "waitid",
    /* signals (sending one goes through the host) */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
    "rt_sigtimedwait", "sigaltstack", "pause",
    /* time */
    "clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday", "time", "nanosleep",
    "times", "getitimer", "setitimer", "alarm", "timer_create", "timer_settime",
    "timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime",
    "timerfd_gettime",
    /* descriptors and files (Landlock decides which files) */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "flock",
    "open", "openat", "openat2", "creat", "stat", "fstat", "lstat", "newfstatat", "statx",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64",
    "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "fadvise64", "statfs",
    "fstatfs", "getcwd", "chdir", "fchdir", "umask", "mkdir", "mkdirat", "rmdir", "unlink",
    "unlinkat", "rename", "renameat", "renameat2", "chmod", "fchmod", "fchmodat", "utimensat",
    "sendfile", "copy_file_range", "splice", "tee", "pipe", "pipe2", "eventfd", "eventfd2",
    "signalfd", "signalfd4", "poll", "ppoll", "select", "pselect6", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    /* messages on descriptors it already holds (the protocol socket) */
    "sendmsg", "recvmsg", "sendto", "recvfrom", "sendmmsg", "recvmmsg", "shutdown",
    /* information about itself */
    "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
    "getresgid", "getpgrp", "getpgid", "getsid", "getrlimit", "getrusage", "getpriority",
    "uname", "sysinfo", "capget", "getrandom",
    NULL};

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned argc,
                const struct scmp_arg_cmp *args)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        return 0; /* not a system call of this architecture */
    return seccomp_rule_add_array(ctx, action, nr, argc, args);
}

int hbx_filter_apply(int notify, int *listener, char *detail, size_t len)
{
    *listener = -1;
    int use_notify = notify && seccomp_api_get() >= 5;
    scmp_filter_ctx ctx = seccomp_init(use_notify ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS);
    if (!ctx) {
        snprintf(detail, len, "seccomp_init failed");
        return -1;
    }
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    int count = 0;
    for (int i = 0; rc == 0 && allowed_calls[i]; i++, count++)
        rc = rule(ctx, SCMP_ACT_ALLOW, allowed_calls[i], 0, NULL);
    /* Threads, not processes. */
    struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, "clone", 1, &thread);
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    /* Reading limits, not setting them. */
    struct scmp_arg_cmp get_only = SCMP_A2(SCMP_CMP_EQ, 0);
    if (rc == 0)
        rc = rule(ctx, SCMP_ACT_ALLOW, "prlimit64", 1, &get_only);
    /* Terminal queries (isatty) and descriptor flags. */
    static const unsigned long ioctls[] = {TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX,
                                           FIONCLEX};
    for (size_t i = 0; rc == 0 && i < sizeof ioctls / sizeof ioctls[0]; i++) {
        struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, ioctls[i]);
        rc = rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &a);
    }
    /* Thread names and harmless queries. */
    static const int prctls[] = {PR_SET_NAME,     PR_GET_NAME,      PR_GET_DUMPABLE,
                                 PR_GET_SECCOMP,  PR_SET_VMA,       PR_GET_NO_NEW_PRIVS,
                                 PR_CAPBSET_READ, PR_GET_TIMERSLACK, PR_GET_PDEATHSIG,
                                 PR_GET_KEEPCAPS, PR_GET_SECUREBITS, PR_GET_THP_DISABLE};
    for (size_t i = 0; rc == 0 && i < sizeof prctls / sizeof prctls[0]; i++) {
        struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctls[i]);
        rc = rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, &a);
    }
    /* Without a supervisor, signals cannot be checked per target: they are
     * let through, and only the PID namespace, Landlock's signal scope and
     * the worker's own uid keep them within the sandbox. */
    static const char *const signals[] = {"kill", "tgkill", "tkill", "rt_sigqueueinfo",
                                          "rt_tgsigqueueinfo", NULL};
    for (int i = 0; rc == 0 && !use_notify && signals[i]; i++)
        rc = rule(ctx, SCMP_ACT_ALLOW, signals[i], 0, NULL);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (rc != 0) {
        snprintf(detail, len, "seccomp filter: %s", strerror(-rc));
        seccomp_release(ctx);
        return -1;
    }
    if (use_notify) {
        *listener = seccomp_notify_fd(ctx);
        if (*listener < 0) {
            snprintf(detail, len, "seccomp listener unavailable");
            seccomp_release(ctx);
            return -1;
        }
    }
    seccomp_release(ctx);
    int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    if (mode != 2) {
        snprintf(detail, len, "seccomp filter loaded but PR_GET_SECCOMP says %d", mode);
        return -1;
    }
    snprintf(detail, len,
             "filter mode, %d allowed calls (+ thread clone, limited ioctl/prctl/prlimit64)%s",
             count,
             use_notify ? "; anything else stops for the host, which kills and names it"
                        : "; anything else kills the process (no user notification)");
    return 0;
}
