/*
 * The init of a sandboxed process tree.
 *
 * The host clones this process into the new namespaces, where (before exec,
 * sandbox/spawn.c) it mounts a private /proc and gives up every privilege,
 * and execs the worker executable in it. It waits for its configuration,
 * then forks the worker proper and stays behind as the reaper of the tree: PID 1 of the PID
 * namespace, or a child subreaper in the fallback. For every process it
 * reaps it tells the host the wait status, CPU time and peak RSS, so that a
 * verdict is exact even for processes that are not the host's children.
 *
 * The worker is not PID 1 itself: the kernel ignores signals a PID 1 sends
 * itself without a handler, so raise(SIGABRT) in a plugin would not kill it.
 *
 * When the host's channel closes (the host died or ended the family), init
 * kills every process of the tree and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker.h"

hbx_init_config hbx_cfg;
int hbx_private_proc;
char hbx_proc_why[128] = "no PID and mount namespaces";

static void die(const char *what)
{
    fprintf(stderr, "higgsbox-worker (init): %s: %s\n", what, strerror(errno));
    _exit(120);
}

/* Reports every reaped process; never returns. */
static void reap_loop(int status_fd, int sfd, int in_pid_ns)
{
    for (;;) {
        struct pollfd p[2] = {{status_fd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                ;
            for (;;) {
                int st;
                struct rusage ru;
                pid_t pid = wait4(-1, &st, WNOHANG | __WALL, &ru);
                if (pid <= 0)
                    break;
                hbx_init_msg m = {HBX_INIT_EXITED, pid, st, 0, 0, 0};
                m.cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
                               1000000000ull +
                           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
                m.maxrss = (uint64_t)ru.ru_maxrss * 1024;
                send(status_fd, &m, sizeof m, MSG_NOSIGNAL);
            }
        }
        if (p[0].revents) {
            char c;
            if (recv(status_fd, &c, 1, MSG_DONTWAIT) == 0 || (p[0].revents & (POLLHUP | POLLERR)))
                break;
        }
    }
    /* The host is gone or ends the tree: nothing of it may outlive it. */
    if (in_pid_ns)
        kill(-1, SIGKILL);
    else
        kill(0, SIGKILL);
    _exit(0);
}

int hbx_init_main(int status_fd, const char *proc_code)
{
    /* What the host's child did about /proc before exec (spawn.c). */
    if (strcmp(proc_code, "ok") == 0) {
        hbx_private_proc = 1;
        hbx_proc_why[0] = '\0';
    } else if (strncmp(proc_code, "err", 3) == 0) {
        snprintf(hbx_proc_why, sizeof hbx_proc_why, "mounting /proc: %s",
                 strerror(atoi(proc_code + 3)));
    }
    ssize_t n;
    do
        n = recv(status_fd, &hbx_cfg, sizeof hbx_cfg, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        _exit(0); /* the host gave up before configuring us */
    if (n != (ssize_t)sizeof hbx_cfg || hbx_cfg.magic != HBX_INIT_MAGIC) {
        fprintf(stderr, "higgsbox-worker (init): bad configuration from the host\n");
        return -1;
    }
    const hbx_init_config *c = &hbx_cfg;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        die("PR_SET_PDEATHSIG");
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_DUMPABLE, 0);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        die("signalfd");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(sfd);
        close(status_fd);
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            die("PR_SET_PDEATHSIG");
        return 0;
    }
    /* init keeps nothing of the worker's. */
    close(HBX_WORKER_SOCK_FD);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        close(devnull);
    }
    reap_loop(status_fd, sfd, (c->flags & HBX_CFG_PID_NS) != 0);
    return -1;
}
