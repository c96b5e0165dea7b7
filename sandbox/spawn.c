/*
 * Starting a sandboxed process tree: clone(2) of an init process, in new
 * user, PID, network, mount and IPC namespaces where the kernel allows,
 * then exec of the worker executable in it, so that nothing of the host's
 * memory is inherited. Between clone and exec the child only makes
 * async-signal-safe calls (the host may have threads).
 *
 * Identity: the workers never hold a privilege. As root they get a uid/gid of
 * their own, HBX_UID_BASE + init's pid, outside any user's range (mapped
 * through the user namespace, or set directly in the fallback); unprivileged
 * they keep the caller's uid (mapped to itself). Inside, init drops every
 * capability including the bounding set (worker/init.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* First uid/gid of the per-tree identities used when the host is root; the
 * pid of the tree's init is added (pids stay below 2^22). */
#define HBX_UID_BASE 0x7f000000u

double hbx_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Environment variables that may cross into the worker: none carries a
 * secret, and sanitizer builds need theirs. */
static const char *const passed_env[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};

static void child_fail(int err_pipe, int err)
{
    ssize_t ignored = write(err_pipe, &err, sizeof err);
    (void)ignored;
    _exit(127);
}

int hbx_worker_channels(int *host_sock, int *worker_sock, int *log_r, int *log_w)
{
    int sv[2], lp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    int one = 1;
    if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
        pipe2(lp, O_CLOEXEC) != 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        errno = e;
        return -1;
    }
    /* The host never blocks on a worker's output. */
    fcntl(lp[0], F_SETFL, O_NONBLOCK);
    *host_sock = sv[0];
    *worker_sock = sv[1];
    *log_r = lp[0];
    *log_w = lp[1];
    return 0;
}

int hbx_open_log_sink(const char *log_dir, int log_fd, pid_t pid, int *own)
{
    *own = 0;
    if (log_dir) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/worker-%d.log", log_dir, (int)pid);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0) {
            *own = 1;
            return fd;
        }
    }
    return log_fd;
}

static int write_file(pid_t pid, const char *name, const char *text)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Writes "<key><number>" into buf (async-signal-safe). */
static void put_code(char *buf, const char *key, int value)
{
    size_t n = 0;
    while (*key)
        buf[n++] = *key++;
    char digits[12];
    int k = 0;
    unsigned v = (unsigned)value;
    do
        digits[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 11);
    while (k)
        buf[n++] = digits[--k];
    buf[n] = '\0';
}

/* What the child does before exec, inside its namespaces, while it still
 * holds the capabilities of a new user namespace's creator (an exec by a
 * uid that is not root in the namespace would drop them). */
typedef struct child_setup {
    int sync_fd;      /* the host writes uid, gid once the maps are in place */
    int mount_proc;   /* new PID and mount namespaces: a private /proc */
    int set_ids;
    int clear_groups;
    char *proc_code;  /* argv slot: "ok", or "err<errno>" */
} child_setup;

static void drop_privileges(const child_setup *cs, uid_t uid, gid_t gid, int err_fd)
{
    /* Raised while we may still write it: the worker, which inherits it, is
     * the OOM killer's first choice, never init. */
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t ignored = write(fd, "1000", 4);
        (void)ignored;
        close(fd);
    }
    if (cs->mount_proc) {
        /* Nothing mounted here propagates back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            put_code(cs->proc_code, "err", errno);
        else
            memcpy(cs->proc_code, "ok", 3);
    }
    /* uid 0 never regains capabilities on exec; none can come back. */
    prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                 SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED);
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL)
            break;
    if (cs->clear_groups && setgroups(0, NULL) != 0)
        child_fail(err_fd, errno);
    if (cs->set_ids && (setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0))
        child_fail(err_fd, errno);
    /* The creator of a user namespace keeps its capabilities in it when its
     * uid does not change: clear them all. */
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d) != 0)
        child_fail(err_fd, errno);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

/* The init child: identity, descriptors in place, then exec. */
static void exec_child(const hbx_sandbox *sb, const child_setup *cs, int err_fd, int devnull,
                       int ws, int lw, int si, pid_t parent, int in_pid_ns, char *const argv[],
                       char *const envp[])
{
    /* Own process group, so that the whole tree can be signalled at once
     * (the only handle on it without a PID namespace). */
    setpgid(0, 0);
    int e_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, 10);
    if (e_fd < 0)
        child_fail(err_fd, errno);
    uint32_t ids[2];
    ssize_t got = 0;
    while (got < (ssize_t)sizeof ids) {
        ssize_t n = read(cs->sync_fd, (char *)ids + got, sizeof ids - (size_t)got);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            _exit(127); /* the host went away */
        if (n > 0)
            got += n;
    }
    drop_privileges(cs, ids[0], ids[1], e_fd);
    /* Dies with the supervisor thread that cloned it (family lifetime) or
     * with the host; in a PID namespace the parent is outside (ppid 0). Set
     * after the identity change, which clears it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || (!in_pid_ns && getppid() != parent))
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    /* Move the kept descriptors above the target numbers first. */
    int s_fd = fcntl(ws, F_DUPFD, 10);
    int l_fd = fcntl(lw, F_DUPFD, 10);
    int i_fd = fcntl(si, F_DUPFD, 10);
    int n_fd = fcntl(devnull, F_DUPFD, 10);
    if (s_fd < 0 || l_fd < 0 || i_fd < 0 || n_fd < 0)
        child_fail(e_fd, errno);
    if (dup2(n_fd, 0) < 0 || dup2(l_fd, 1) < 0 || dup2(l_fd, 2) < 0 ||
        dup2(s_fd, HBX_WORKER_SOCK_FD) < 0 || dup2(i_fd, HBX_WORKER_STATUS_FD) < 0)
        child_fail(e_fd, errno);
    /* Close everything else but the error pipe, which closes on exec. */
    for (int fd = HBX_WORKER_STATUS_FD + 1; fd < 1024; fd++)
        if (fd != e_fd)
            close(fd);
    syscall(SYS_close_range, 1024, ~0u, 0);
    execve(sb->worker, argv, envp);
    child_fail(e_fd, errno);
}

static pid_t clone_child(unsigned long flags)
{
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
}

pid_t hbx_spawn_init(const hbx_sandbox *sb, hbx_spawn_plan *plan, int *sock_out, int *status_out,
                     int *log_out, char *why, size_t why_len)
{
    memset(plan, 0, sizeof *plan);
    if (access(sb->worker, X_OK) != 0) {
        snprintf(why, why_len, "%s: worker executable not usable: %s", sb->worker, strerror(errno));
        return -1;
    }
    /* Everything the child needs is prepared before clone. */
    char *envp[8];
    size_t ne = 0;
    envp[ne++] = "PATH=/usr/bin:/bin";
    envp[ne++] = "LC_ALL=C";
    char envbuf[3][1024];
    for (size_t i = 0; passed_env[i]; i++) {
        const char *v = getenv(passed_env[i]);
        size_t lk = strlen(passed_env[i]), lv = v ? strlen(v) : 0;
        if (v && lk + lv + 2 <= sizeof envbuf[i]) {
            memcpy(envbuf[i], passed_env[i], lk);
            envbuf[i][lk] = '=';
            memcpy(envbuf[i] + lk + 1, v, lv + 1);
            envp[ne++] = envbuf[i];
        }
    }
    envp[ne] = NULL;
    char proc_code[32] = "none";
    char *argv[] = {"higgsbox-worker", "--fd", "3", "--init", "4", "--proc", proc_code, NULL};

    int hs, ws, lr, lw, st[2], errp[2], syncp[2];
    if (hbx_worker_channels(&hs, &ws, &lr, &lw) != 0) {
        snprintf(why, why_len, "cannot create the worker's channels: %s", strerror(errno));
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, st) != 0 ||
        pipe2(errp, O_CLOEXEC) != 0 || pipe2(syncp, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "cannot create the init channel: %s", strerror(errno));
        close(hs);
        close(ws);
        close(lr);
        close(lw);
        return -1;
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t parent = getpid();
    int root = geteuid() == 0;

    unsigned long all_ns = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC;
    unsigned long flags = sb->namespaces ? all_ns : 0;
    pid_t pid = -1;
    for (;;) {
        pid = clone_child(flags);
        if (pid == 0) {
            child_setup cs = {syncp[0], (flags & (CLONE_NEWPID | CLONE_NEWNS)) ==
                                            (CLONE_NEWPID | CLONE_NEWNS),
                              (flags & CLONE_NEWUSER) || root, root, proc_code};
            exec_child(sb, &cs, errp[1], devnull, ws, lw, st[1], parent,
                       (flags & CLONE_NEWPID) != 0, argv, envp);
        }
        if (pid > 0 || flags == 0)
            break;
        int e = errno;
        if (flags & CLONE_NEWUSER) {
            snprintf(plan->ns_why, sizeof plan->ns_why, "user namespace refused: %s%s",
                     strerror(e), root ? "; namespaces without it" : "");
            /* Root can still have the others without a user namespace. */
            flags = root ? all_ns & ~(unsigned long)CLONE_NEWUSER : 0;
        } else {
            size_t l = strlen(plan->ns_why);
            snprintf(plan->ns_why + l, sizeof plan->ns_why - l, "%snamespaces refused: %s",
                     l ? "; " : "", strerror(e));
            flags = 0;
        }
    }
    int clone_errno = errno;
    close(ws);
    close(lw);
    close(st[1]);
    close(errp[1]);
    close(syncp[0]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        close(syncp[1]);
        snprintf(why, why_len, "cannot start the worker: %s", strerror(clone_errno));
        close(hs);
        close(lr);
        close(st[0]);
        close(errp[0]);
        return -1;
    }
    if (!sb->namespaces)
        snprintf(plan->ns_why, sizeof plan->ns_why, "namespaces switched off");
    plan->ns_flags = (flags & CLONE_NEWUSER ? HBX_CFG_USER_NS : 0) |
                     (flags & CLONE_NEWPID ? HBX_CFG_PID_NS : 0) |
                     (flags & CLONE_NEWNET ? HBX_CFG_NET_NS : 0) |
                     (flags & CLONE_NEWNS ? HBX_CFG_MOUNT_NS : 0) |
                     (flags & CLONE_NEWIPC ? HBX_CFG_IPC_NS : 0);
    plan->uid_out = root ? HBX_UID_BASE + (uid_t)pid : getuid();
    plan->gid_out = root ? HBX_UID_BASE + (gid_t)pid : getgid();

    const char *fail = NULL;
    int fail_errno = 0;
    if (flags & CLONE_NEWUSER) {
        /* The same number inside and out. Unprivileged, the kernel only lets
         * us map our own ids, and only once setgroups is denied. */
        char map[64];
        snprintf(map, sizeof map, "%u %u 1\n", (unsigned)plan->uid_out, (unsigned)plan->uid_out);
        if ((!root && write_file(pid, "setgroups", "deny") != 0) ||
            write_file(pid, "uid_map", map) != 0)
            fail = "uid_map", fail_errno = errno;
        snprintf(map, sizeof map, "%u %u 1\n", (unsigned)plan->gid_out, (unsigned)plan->gid_out);
        if (!fail && write_file(pid, "gid_map", map) != 0)
            fail = "gid_map", fail_errno = errno;
    }
    /* The child may go on: its identity. */
    uint32_t ids[2] = {plan->uid_out, plan->gid_out};
    if (!fail && write(syncp[1], ids, sizeof ids) != (ssize_t)sizeof ids)
        fail = "identity", fail_errno = errno;
    close(syncp[1]);
    /* Exec result: EOF when the exec succeeded. */
    int child_errno = 0;
    ssize_t n;
    do
        n = read(errp[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(errp[0]);
    if (fail || n > 0) {
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        close(hs);
        close(lr);
        close(st[0]);
        if (fail)
            snprintf(why, why_len, "cannot write the worker's %s: %s", fail, strerror(fail_errno));
        else
            snprintf(why, why_len, "%s: cannot start worker: %s", sb->worker,
                     strerror(child_errno));
        return -1;
    }
    if (root)
        plan->ids_why[0] = '\0';
    else if (!(flags & CLONE_NEWUSER))
        snprintf(plan->ids_why, sizeof plan->ids_why,
                 "unprivileged without a user namespace: runs as the caller's uid");
    *sock_out = hs;
    *status_out = st[0];
    *log_out = lr;
    return pid;
}
