/*
 * Starting a worker: fork, then exec of the worker executable, so that the
 * worker inherits none of the host's memory. Between fork and exec the child
 * only calls async-signal-safe functions (the host may have threads).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Descriptor number the worker finds its protocol socket on. */
#define WORKER_SOCK_FD 3

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

pid_t hbx_spawn_worker(const hbx_sandbox *sb, int *sock_out, char *why, size_t why_len)
{
    if (access(sb->worker, X_OK) != 0) {
        snprintf(why, why_len, "%s: worker executable not usable: %s", sb->worker, strerror(errno));
        return -1;
    }
    /* Everything the child needs is prepared before fork. */
    char *envp[8];
    size_t ne = 0;
    envp[ne++] = "PATH=/usr/bin:/bin";
    envp[ne++] = "LC_ALL=C";
    static char envbuf[3][PATH_MAX];
    for (size_t i = 0; passed_env[i]; i++) {
        const char *v = getenv(passed_env[i]);
        size_t lk = strlen(passed_env[i]), lv = v ? strlen(v) : 0;
        if (v && lk + lv + 2 <= PATH_MAX) {
            memcpy(envbuf[i], passed_env[i], lk);
            envbuf[i][lk] = '=';
            memcpy(envbuf[i] + lk + 1, v, lv + 1);
            envp[ne++] = envbuf[i];
        }
    }
    envp[ne] = NULL;
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", WORKER_SOCK_FD);
    char *argv[] = {"higgsbox-worker", "--fd", fdarg, NULL};

    int sv[2], errp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(why, why_len, "socketpair: %s", strerror(errno));
        return -1;
    }
    if (pipe2(errp, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        close(errp[0]);
        close(errp[1]);
        if (devnull >= 0)
            close(devnull);
        return -1;
    }
    if (pid == 0) {
        /* Child. Own process group, so the whole tree can be killed at once;
         * dies with the host. */
        setpgid(0, 0);
        int e_fd = fcntl(errp[1], F_DUPFD_CLOEXEC, 10);
        if (e_fd < 0)
            child_fail(errp[1], errno);
        errp[1] = e_fd;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int s = 1; s < NSIG; s++)
            signal(s, SIG_DFL);
        int out = sb->log_fd >= 0 ? sb->log_fd : devnull;
        /* Move the kept descriptors above the target numbers first. */
        int s_fd = fcntl(sv[1], F_DUPFD, 10);
        int o_fd = out >= 0 ? fcntl(out, F_DUPFD, 10) : -1;
        int n_fd = devnull >= 0 ? fcntl(devnull, F_DUPFD, 10) : -1;
        if (s_fd < 0 || o_fd < 0 || n_fd < 0)
            child_fail(errp[1], errno);
        if (dup2(n_fd, 0) < 0 || dup2(o_fd, 1) < 0 || dup2(o_fd, 2) < 0 ||
            dup2(s_fd, WORKER_SOCK_FD) < 0)
            child_fail(errp[1], errno);
        /* Close everything else but the error pipe, which closes on exec. */
        for (int fd = WORKER_SOCK_FD + 1; fd < 1024; fd++)
            if (fd != errp[1])
                close(fd);
        syscall(SYS_close_range, 1024, ~0u, 0);
        execve(sb->worker, argv, envp);
        child_fail(errp[1], errno);
    }
    /* Parent: also set the group here, so it exists whichever runs first. */
    setpgid(pid, pid);
    close(sv[1]);
    close(errp[1]);
    if (devnull >= 0)
        close(devnull);
    int child_errno = 0;
    ssize_t n;
    do
        n = read(errp[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(errp[0]);
    if (n > 0) {
        int status;
        waitpid(pid, &status, 0);
        close(sv[0]);
        snprintf(why, why_len, "%s: cannot start worker: %s", sb->worker, strerror(child_errno));
        return -1;
    }
    *sock_out = sv[0];
    return pid;
}
