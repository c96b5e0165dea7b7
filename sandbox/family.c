/*
 * Families: one sandboxed process tree and the host thread that watches it.
 *
 * The supervisor thread of a family
 *   - clones the tree's init (so that init's parent-death signal fires when
 *     the family ends or the host dies, not when some caller thread exits);
 *   - answers the seccomp listener: every system call outside the worker's
 *     allow-list stops in the kernel until the supervisor decides. It lets
 *     through a clone by the fitted worker's main thread while the host has a
 *     FORK outstanding (and the one clone of the resulting intermediate
 *     child), and signals a process sends to itself; for anything else it
 *     records the call's name against the worker and kills that worker. The
 *     system call is never executed, and no signal handler of the plugin can
 *     interfere;
 *   - relays init's reports of reaped processes (wait status, CPU, RSS);
 *   - drains every worker's stdout/stderr pipe into its log sink, keeping at
 *     most log_cap bytes, so that a worker never blocks on a full pipe and
 *     the host never buffers without bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define MAX_ORPHANS 16

typedef struct orphan {
    hbx_init_msg m;
    double when;
} orphan;

struct hbx_family {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    pid_t init_pid;     /* host view; the tree's process group too */
    int init_sock;      /* init channel */
    int notify_fd;      /* seccomp listener, -1 until the worker sends it */
    int wake[2];        /* wakes the supervisor */
    pthread_t thread;
    int thread_started;
    int stop;
    int init_gone;
    hbx_worker **w;
    size_t nw, capw;
    orphan orphans[MAX_ORPHANS];
    size_t norphans;
    pid_t fork_parent;  /* host pid allowed to fork, 0: none */
    int fork_stage;     /* 1: its clone expected, 2: the intermediate's */
    hbx_cgroup cg0;     /* the first worker's (and init's) cgroups */
    /* spawn hand-off to the supervisor thread */
    const hbx_sandbox *sb;
    hbx_spawn_plan plan;
    int spawn_done;
    pid_t spawn_pid;
    int spawn_sock, spawn_log;
    char spawn_why[512];
    /* settings */
    char *log_dir;
    int log_fd;
    uint64_t log_cap;
    unsigned cfg_flags;
    char memory_detail[96], tasks_detail[96];
    int cgroups;
    uint64_t memory_bytes;
    unsigned max_tasks, max_files;
    uint64_t max_file_size;
    double cpu_s, deadline;
};

static void wake(hbx_family *fam)
{
    char c = 1;
    ssize_t ignored = write(fam->wake[1], &c, 1);
    (void)ignored;
}

void hbx_family_lock(hbx_family *fam)
{
    pthread_mutex_lock(&fam->mu);
}

void hbx_family_unlock(hbx_family *fam)
{
    pthread_mutex_unlock(&fam->mu);
}

long long hbx_proc_status_field(int fd, const char *key)
{
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    size_t kl = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            /* For multi-valued fields (NSpid) the last value is the innermost. */
            char *end = strchr(line, '\n');
            if (end)
                *end = '\0';
            char *last = strrchr(line + kl + 1, '\t');
            char *sp = strrchr(line + kl + 1, ' ');
            const char *v = line + kl + 1;
            if (last && (!sp || last > sp))
                v = last + 1;
            else if (sp && sp[1] >= '0' && sp[1] <= '9')
                v = sp + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return strtoll(v, NULL, 10);
        }
    return -1;
}

/* ---- logs ----------------------------------------------------------------- */

static void log_write(hbx_worker *w, const char *data, size_t n)
{
    uint64_t room = w->log_written < w->log_cap ? w->log_cap - w->log_written : 0;
    size_t take = n < room ? n : (size_t)room;
    if (w->log_out >= 0 && take) {
        size_t off = 0;
        while (off < take) {
            ssize_t k = write(w->log_out, data + off, take - off);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            off += (size_t)k;
        }
    }
    w->log_written += n;
    if (n > take && !w->log_truncated) {
        w->log_truncated = 1;
        if (w->log_out >= 0)
            dprintf(w->log_out, "\n[higgsbox: output truncated at %llu bytes]\n",
                    (unsigned long long)w->log_cap);
    }
}

/* One read from the worker's pipe; returns 0 when nothing more is there. */
static int log_pump(hbx_worker *w)
{
    if (w->log_r < 0)
        return 0;
    char buf[65536];
    ssize_t n = read(w->log_r, buf, sizeof buf);
    if (n > 0) {
        log_write(w, buf, (size_t)n);
        return 1;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(w->log_r);
        w->log_r = -1;
    }
    return 0;
}

void hbx_family_drain_log(hbx_worker *w)
{
    hbx_family_lock(w->fam);
    /* Bounded: a worker still writing cannot hold the caller here. */
    for (int i = 0; i < 64 && log_pump(w); i++)
        ;
    hbx_family_unlock(w->fam);
}

void hbx_family_log_line(hbx_worker *w, const char *text)
{
    char line[HBX_PROTO_MAX_TEXT + 16];
    int n = snprintf(line, sizeof line, "[plugin] %s\n", text);
    hbx_family_lock(w->fam);
    log_write(w, line, n > 0 ? (size_t)n : 0);
    hbx_family_unlock(w->fam);
}

/* ---- deaths ------------------------------------------------------------- */

static hbx_worker *by_ns_pid(hbx_family *fam, pid_t ns_pid)
{
    for (size_t i = 0; i < fam->nw; i++)
        if (fam->w[i]->ns_pid == ns_pid && !fam->w[i]->dead)
            return fam->w[i];
    return NULL;
}

static hbx_worker *by_pid(hbx_family *fam, pid_t pid)
{
    for (size_t i = 0; i < fam->nw; i++)
        if (fam->w[i]->pid == pid && !fam->w[i]->dead)
            return fam->w[i];
    return NULL;
}

static void mark_dead(hbx_worker *w, const hbx_init_msg *m)
{
    w->dead = 1;
    w->wait_status = m ? m->status : SIGKILL;
    w->status_known = m != NULL;
    if (m) {
        w->cpu_total_s = (double)m->cpu_ns * 1e-9;
        w->maxrss = m->maxrss;
    }
}

static void on_init_msg(hbx_family *fam, const hbx_init_msg *m)
{
    if (m->type != HBX_INIT_EXITED)
        return;
    hbx_worker *w = by_ns_pid(fam, m->pid);
    if (w) {
        mark_dead(w, m);
        pthread_cond_broadcast(&fam->cv);
        return;
    }
    /* Reaped before its HELLO was seen: kept for a while. */
    double now = hbx_now();
    size_t k = 0;
    for (size_t i = 0; i < fam->norphans; i++)
        if (now - fam->orphans[i].when < 60)
            fam->orphans[k++] = fam->orphans[i];
    fam->norphans = k;
    if (fam->norphans == MAX_ORPHANS)
        memmove(fam->orphans, fam->orphans + 1, (MAX_ORPHANS - 1) * sizeof *fam->orphans);
    else
        fam->norphans++;
    fam->orphans[fam->norphans - 1] = (orphan){*m, now};
}

static void read_init(hbx_family *fam)
{
    hbx_init_msg m;
    ssize_t n = recv(fam->init_sock, &m, sizeof m, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    hbx_family_lock(fam);
    if (n == (ssize_t)sizeof m) {
        on_init_msg(fam, &m);
    } else {
        /* init is gone: so is every process of a PID namespace; in the
         * fallback the tree's group is killed. */
        fam->init_gone = 1;
        if (fam->init_pid > 0)
            kill(-fam->init_pid, SIGKILL);
        for (size_t i = 0; i < fam->nw; i++)
            if (!fam->w[i]->dead)
                mark_dead(fam->w[i], NULL);
        pthread_cond_broadcast(&fam->cv);
    }
    hbx_family_unlock(fam);
}

/* ---- seccomp notifications ------------------------------------------------ */

/* Numbers from /proc/<tid>/status: Tgid and PPid (host view), NStgid and
 * NSpid (innermost namespace). */
typedef struct task_ids {
    long long tgid, ppid, ns_tgid, ns_tid;
} task_ids;

static int task_ids_of(pid_t tid, task_ids *t)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    t->tgid = hbx_proc_status_field(fd, "Tgid");
    t->ppid = hbx_proc_status_field(fd, "PPid");
    t->ns_tgid = hbx_proc_status_field(fd, "NStgid");
    t->ns_tid = hbx_proc_status_field(fd, "NSpid");
    close(fd);
    return t->tgid > 0 ? 0 : -1;
}

/* Flags glibc's fork() passes to clone. */
static int plain_fork(uint64_t flags)
{
    const uint64_t ok = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PARENT_SETTID | 0xff;
    return (flags & ~ok) == 0 && (flags & 0xff) == SIGCHLD;
}

/* Decides whether a stopped system call may go on (CONTINUE). */
static int allowed(hbx_family *fam, const struct seccomp_notif *req, const task_ids *t)
{
    const struct seccomp_data *d = &req->data;
    long long a0 = (long long)(int)d->args[0];
    switch (d->nr) {
    case SYS_clone: {
        if (!plain_fork(d->args[0]))
            return 0;
        int ok = 0;
        hbx_family_lock(fam);
        if (fam->fork_stage == 1 && (pid_t)req->pid == fam->fork_parent) {
            fam->fork_stage = 2;
            ok = 1;
        } else if (fam->fork_stage == 2 && t->ppid == fam->fork_parent &&
                   t->tgid == (long long)req->pid) {
            fam->fork_stage = 3;
            ok = 1;
        }
        hbx_family_unlock(fam);
        return ok;
    }
    /* Signals a process sends to itself (raise, abort, pthread_kill). */
    case SYS_kill:
    case SYS_rt_sigqueueinfo:
    case SYS_tgkill:
    case SYS_rt_tgsigqueueinfo:
        return a0 > 0 && a0 == t->ns_tgid;
    case SYS_tkill:
        return a0 > 0 && a0 == t->ns_tid;
    default:
        return 0;
    }
}

static void deny(hbx_family *fam, const struct seccomp_notif *req, const task_ids *t)
{
    char *name = seccomp_syscall_resolve_num_arch(req->data.arch, (int)req->data.nr);
    pid_t tgid = t->tgid > 0 ? (pid_t)t->tgid : (pid_t)req->pid;
    hbx_family_lock(fam);
    hbx_worker *w = by_pid(fam, tgid);
    if (w && !w->denied[0]) {
        if (name)
            snprintf(w->denied, sizeof w->denied, "%s", name);
        else
            snprintf(w->denied, sizeof w->denied, "syscall %d", (int)req->data.nr);
    }
    int pidfd = w ? w->pidfd : -1;
    hbx_family_unlock(fam);
    free(name);
    /* The process dies before its call returns: nothing of the plugin runs
     * after a forbidden system call. */
    if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) != 0)
        kill(tgid, SIGKILL);
}

static void handle_notification(hbx_family *fam, struct seccomp_notif *req, size_t req_size,
                                struct seccomp_notif_resp *resp, size_t resp_size)
{
    memset(req, 0, req_size);
    if (ioctl(fam->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
        if (errno != ENOENT && errno != EINTR) {
            hbx_family_lock(fam);
            close(fam->notify_fd);
            fam->notify_fd = -1;
            hbx_family_unlock(fam);
        }
        return;
    }
    task_ids t = {-1, -1, -1, -1};
    int known = task_ids_of((pid_t)req->pid, &t) == 0;
    /* The task may have died and its id been reused while we looked. */
    if (ioctl(fam->notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0)
        return;
    memset(resp, 0, resp_size);
    resp->id = req->id;
    if (known && allowed(fam, req, &t)) {
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
        deny(fam, req, &t);
        resp->error = -EPERM;
    }
    ioctl(fam->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

/* ---- the supervisor thread ------------------------------------------------ */

typedef struct watch {
    int kind; /* 0 wake, 1 init, 2 notify, 3 log */
    hbx_worker *w;
} watch;

static void *supervisor(void *arg)
{
    hbx_family *fam = arg;
    int sock = -1, log_r = -1;
    char why[512] = "";
    pid_t pid = hbx_spawn_init(fam->sb, &fam->plan, &sock, &fam->init_sock, &log_r, why,
                               sizeof why);
    hbx_family_lock(fam);
    if (pid > 0)
        fam->init_pid = pid;
    fam->spawn_pid = pid;
    fam->spawn_sock = sock;
    fam->spawn_log = log_r;
    snprintf(fam->spawn_why, sizeof fam->spawn_why, "%s", why);
    fam->spawn_done = 1;
    fam->sb = NULL;
    pthread_cond_broadcast(&fam->cv);
    hbx_family_unlock(fam);
    if (pid < 0)
        return NULL;

    struct seccomp_notif_sizes sizes = {0, 0, 0};
    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
    size_t req_size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif
                                                                         : sizeof(struct seccomp_notif);
    size_t resp_size = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
                           ? sizes.seccomp_notif_resp
                           : sizeof(struct seccomp_notif_resp);
    struct seccomp_notif *req = calloc(1, req_size);
    struct seccomp_notif_resp *resp = calloc(1, resp_size);
    size_t cap = 16;
    struct pollfd *p = calloc(cap, sizeof *p);
    watch *wt = calloc(cap, sizeof *wt);
    if (!req || !resp || !p || !wt)
        abort(); /* a few hundred bytes: nothing sensible is left to do */

    for (;;) {
        hbx_family_lock(fam);
        if (fam->stop) {
            hbx_family_unlock(fam);
            break;
        }
        if (fam->nw + 3 > cap) {
            cap = fam->nw + 16;
            struct pollfd *np = realloc(p, cap * sizeof *p);
            watch *nwt = np ? realloc(wt, cap * sizeof *wt) : NULL;
            if (!np || !nwt)
                abort();
            p = np;
            wt = nwt;
        }
        size_t n = 0;
        p[n] = (struct pollfd){fam->wake[0], POLLIN, 0};
        wt[n++] = (watch){0, NULL};
        if (!fam->init_gone) {
            p[n] = (struct pollfd){fam->init_sock, POLLIN, 0};
            wt[n++] = (watch){1, NULL};
        }
        if (fam->notify_fd >= 0) {
            p[n] = (struct pollfd){fam->notify_fd, POLLIN, 0};
            wt[n++] = (watch){2, NULL};
        }
        for (size_t i = 0; i < fam->nw; i++)
            if (fam->w[i]->log_r >= 0) {
                p[n] = (struct pollfd){fam->w[i]->log_r, POLLIN, 0};
                wt[n++] = (watch){3, fam->w[i]};
            }
        hbx_family_unlock(fam);

        if (poll(p, n, -1) < 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!p[i].revents)
                continue;
            switch (wt[i].kind) {
            case 0: {
                char buf[64];
                while (read(fam->wake[0], buf, sizeof buf) > 0)
                    ;
                break;
            }
            case 1:
                read_init(fam);
                break;
            case 2:
                if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                    /* Every process of the filter is gone. */
                    hbx_family_lock(fam);
                    if (fam->notify_fd == p[i].fd) {
                        close(fam->notify_fd);
                        fam->notify_fd = -1;
                    }
                    hbx_family_unlock(fam);
                } else {
                    handle_notification(fam, req, req_size, resp, resp_size);
                }
                break;
            case 3:
                hbx_family_lock(fam);
                /* Still registered, and still that pipe? */
                for (size_t k = 0; k < fam->nw; k++)
                    if (fam->w[k] == wt[i].w && wt[i].w->log_r == p[i].fd) {
                        log_pump(wt[i].w);
                        break;
                    }
                hbx_family_unlock(fam);
                break;
            }
        }
    }
    free(req);
    free(resp);
    free(p);
    free(wt);
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------- */

static void add_locked(hbx_family *fam, hbx_worker *w)
{
    if (fam->nw == fam->capw) {
        size_t cap = fam->capw ? fam->capw * 2 : 8;
        hbx_worker **nw = realloc(fam->w, cap * sizeof *nw);
        if (!nw)
            abort();
        fam->w = nw;
        fam->capw = cap;
    }
    fam->w[fam->nw++] = w;
    fam->refs++;
    for (size_t i = 0; i < fam->norphans; i++)
        if (fam->orphans[i].m.pid == w->ns_pid) {
            mark_dead(w, &fam->orphans[i].m);
            fam->orphans[i] = fam->orphans[--fam->norphans];
            break;
        }
}

/* Opens the per-worker handles once its host pid is known. */
static void adopt(hbx_family *fam, hbx_worker *w)
{
    w->fam = fam;
    w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)w->pid);
    w->proc_status = open(path, O_RDONLY | O_CLOEXEC);
    w->log_cap = fam->log_cap;
    w->log_out = hbx_open_log_sink(fam->log_dir, fam->log_fd, w->pid, &w->log_own);
}

void hbx_family_add(hbx_family *fam, hbx_worker *w)
{
    adopt(fam, w);
    hbx_family_lock(fam);
    add_locked(fam, w);
    hbx_family_unlock(fam);
    wake(fam);
}

void hbx_family_allow_fork(hbx_family *fam, pid_t parent)
{
    hbx_family_lock(fam);
    fam->fork_parent = parent;
    fam->fork_stage = parent ? 1 : 0;
    hbx_family_unlock(fam);
}

void hbx_family_set_notify_fd(hbx_family *fam, int fd)
{
    hbx_family_lock(fam);
    if (fam->notify_fd >= 0)
        close(fd); /* only the first listener counts */
    else
        fam->notify_fd = fd;
    hbx_family_unlock(fam);
    wake(fam);
}

int hbx_family_wait_dead(hbx_worker *w, double seconds)
{
    hbx_family *fam = w->fam;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double end = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + seconds;
    hbx_family_lock(fam);
    while (!w->dead) {
        struct timespec until = {(time_t)end, (long)((end - (double)(time_t)end) * 1e9)};
        if (pthread_cond_timedwait(&fam->cv, &fam->mu, &until) == ETIMEDOUT)
            break;
    }
    int dead = w->dead;
    hbx_family_unlock(fam);
    return dead;
}

void hbx_family_kill_worker(hbx_worker *w)
{
    hbx_family_lock(w->fam);
    int alive = !w->dead && w->pid > 0;
    if (alive)
        w->killed_by_host = 1;
    hbx_family_unlock(w->fam);
    if (!alive)
        return;
    /* A stopped process is woken first so that it dies at once. */
    if (w->pidfd >= 0 && syscall(SYS_pidfd_send_signal, w->pidfd, SIGCONT, NULL, 0) == 0) {
        syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
    } else {
        kill(w->pid, SIGCONT);
        kill(w->pid, SIGKILL);
    }
}

static void family_free(hbx_family *fam)
{
    if (fam->thread_started) {
        hbx_family_lock(fam);
        fam->stop = 1;
        hbx_family_unlock(fam);
        wake(fam);
        pthread_join(fam->thread, NULL);
    }
    if (fam->notify_fd >= 0)
        close(fam->notify_fd);
    if (fam->init_sock >= 0)
        close(fam->init_sock);
    close(fam->wake[0]);
    close(fam->wake[1]);
    hbx_cgroup_destroy(&fam->cg0);
    free(fam->w);
    free(fam->log_dir);
    pthread_cond_destroy(&fam->cv);
    pthread_mutex_destroy(&fam->mu);
    free(fam);
}

/* Kills the whole tree and reaps init. */
static void teardown(hbx_family *fam)
{
    if (fam->init_pid > 0) {
        /* PID namespace: init's death kills every process in it. Fallback:
         * the tree's process group (the plugin cannot leave it: setsid and
         * setpgid are not in its allow-list, nor is fork). */
        kill(-fam->init_pid, SIGCONT);
        kill(-fam->init_pid, SIGKILL);
        kill(fam->init_pid, SIGKILL);
        int status;
        while (waitpid(fam->init_pid, &status, 0) < 0 && errno == EINTR)
            ;
        fam->init_pid = 0;
    }
    family_free(fam);
}

void hbx_family_release(hbx_worker *w)
{
    hbx_family *fam = w->fam;
    if (!fam)
        return;
    hbx_family_lock(fam);
    for (size_t i = 0; i < fam->nw; i++)
        if (fam->w[i] == w) {
            fam->w[i] = fam->w[--fam->nw];
            break;
        }
    if (w->log_r >= 0) {
        close(w->log_r);
        w->log_r = -1;
    }
    int last = --fam->refs == 0;
    hbx_family_unlock(fam);
    wake(fam);
    w->fam = NULL;
    if (last)
        teardown(fam);
}

/* Builds and sends init's configuration; creates the first cgroups. */
static int configure(hbx_family *fam, const hbx_sandbox *sb, char *why, size_t why_len)
{
    hbx_init_config c;
    memset(&c, 0, sizeof c);
    c.magic = HBX_INIT_MAGIC;
    unsigned f = fam->plan.ns_flags | HBX_CFG_NOTIFY;
    int root = geteuid() == 0;
    if ((f & HBX_CFG_USER_NS) || root)
        f |= HBX_CFG_SET_IDS;
    if (root)
        f |= HBX_CFG_CLEAR_GROUPS;
    char cg_why[256] = "";
    if (sb->cgroups && (sb->memory_bytes || sb->max_tasks)) {
        if (hbx_cgroup_create(&fam->cg0, sb->memory_bytes, sb->max_tasks, cg_why,
                              sizeof cg_why) == 0 &&
            hbx_cgroup_attach(&fam->cg0, fam->init_pid) != 0) {
            snprintf(cg_why, sizeof cg_why, "cannot move the worker into its cgroup: %s",
                     strerror(errno));
            hbx_cgroup_destroy(&fam->cg0);
        }
    } else if (!sb->cgroups) {
        snprintf(cg_why, sizeof cg_why, "cgroups switched off");
    }
    char cgd[128];
    hbx_cgroup_describe(&fam->cg0, cgd, sizeof cgd);
    if (sb->memory_bytes && fam->cg0.has_memory)
        snprintf(c.memory_detail, sizeof c.memory_detail, "%.50s, limit %llu bytes", cgd,
                 (unsigned long long)sb->memory_bytes);
    else if (sb->memory_bytes)
        snprintf(c.memory_detail, sizeof c.memory_detail, "%.95s", cg_why);
    if (sb->memory_bytes && !fam->cg0.has_memory)
        f |= HBX_CFG_RLIMIT_AS;
    if (sb->max_tasks && fam->cg0.has_pids)
        snprintf(c.tasks_detail, sizeof c.tasks_detail, "%.50s, pids.max %u", cgd, sb->max_tasks);
    else if (sb->max_tasks)
        snprintf(c.tasks_detail, sizeof c.tasks_detail, "%.95s", cg_why[0] ? cg_why : "no pids cgroup");
    /* RLIMIT_NPROC counts per uid (per user namespace): only sound where the
     * tree has a uid or a user namespace of its own. */
    if (sb->max_tasks && !fam->cg0.has_pids && ((f & HBX_CFG_USER_NS) || root))
        f |= HBX_CFG_RLIMIT_NPROC;
    c.flags = f;
    c.uid = fam->plan.uid_out;
    c.gid = fam->plan.gid_out;
    c.max_tasks = sb->max_tasks;
    c.max_files = sb->max_files;
    c.memory_bytes = sb->memory_bytes;
    c.max_file_size = sb->max_file_size;
    static const char *const ns[5] = {"user", "pid", "net", "mnt", "ipc"};
    for (int i = 0; i < 5; i++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
        c.host_ns[i] = stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
    }
    fam->cfg_flags = f;
    snprintf(fam->memory_detail, sizeof fam->memory_detail, "%s", c.memory_detail);
    snprintf(fam->tasks_detail, sizeof fam->tasks_detail, "%s", c.tasks_detail);
    /* The tree's own uid must be able to write its scratch directory. */
    if (root && sb->scratch_dir && (f & HBX_CFG_SET_IDS) &&
        chown(sb->scratch_dir, fam->plan.uid_out, fam->plan.gid_out) != 0) {
        snprintf(why, why_len, "%s: cannot hand the scratch directory to the worker: %s",
                 sb->scratch_dir, strerror(errno));
        return -1;
    }
    if (send(fam->init_sock, &c, sizeof c, MSG_NOSIGNAL) != (ssize_t)sizeof c) {
        snprintf(why, why_len, "cannot configure the worker's init: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int hbx_await_hello(int sock, double timeout_s, pid_t *pid, pid_t *ns_pid, char *why,
                    size_t why_len)
{
    struct pollfd p = {sock, POLLIN, 0};
    int ms = timeout_s > 1e6 ? 1000000000 : (int)(timeout_s * 1000.0) + 1;
    int r;
    do
        r = poll(&p, 1, ms);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        snprintf(why, why_len, "the worker did not start within %.3g s", timeout_s);
        return -1;
    }
    hbx_frame *f = malloc(sizeof *f);
    if (!f) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    char reason[128] = "connection closed";
    int got = hbx_proto_recv(sock, f, reason, sizeof reason);
    int ok = got == 1 && f->type == HBX_MSG_HELLO && f->cred_pid > 0;
    if (ok) {
        const hbx_msg_hello *h = (const void *)f->payload;
        *pid = f->cred_pid;
        *ns_pid = h->ns_pid;
    } else {
        if (got == 1 && f->type == HBX_MSG_ERROR)
            snprintf(reason, sizeof reason, "%s",
                     (const char *)f->payload + sizeof(hbx_msg_error));
        else if (got == 1)
            snprintf(reason, sizeof reason, "unexpected first frame (type %u)", f->type);
        snprintf(why, why_len, "the worker failed to start: %s", reason);
        if (f->fd >= 0)
            close(f->fd);
    }
    free(f);
    return ok ? 0 : -1;
}

int hbx_family_spawn(const hbx_sandbox *sb, hbx_worker **out, char *why, size_t why_len)
{
    hbx_family *fam = calloc(1, sizeof *fam);
    hbx_worker *w = calloc(1, sizeof *w);
    if (!fam || !w || pipe2(fam->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(fam);
        free(w);
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    pthread_mutex_init(&fam->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fam->cv, &ca);
    pthread_condattr_destroy(&ca);
    fam->notify_fd = fam->init_sock = -1;
    fam->sb = sb;
    fam->log_dir = sb->log_dir ? strdup(sb->log_dir) : NULL;
    fam->log_fd = sb->log_fd;
    fam->log_cap = sb->log_cap;
    fam->cgroups = sb->cgroups;
    fam->memory_bytes = sb->memory_bytes;
    fam->max_tasks = sb->max_tasks;
    fam->max_files = sb->max_files;
    fam->max_file_size = sb->max_file_size;
    fam->cpu_s = sb->cpu_s;
    fam->deadline = sb->deadline;
    w->sock = w->pidfd = w->proc_status = w->log_r = w->log_out = -1;
    if (pthread_create(&fam->thread, NULL, supervisor, fam) != 0) {
        snprintf(why, why_len, "cannot start the supervisor thread");
        fam->sb = NULL;
        family_free(fam);
        free(w);
        return -1;
    }
    fam->thread_started = 1;
    hbx_family_lock(fam);
    while (!fam->spawn_done)
        pthread_cond_wait(&fam->cv, &fam->mu);
    hbx_family_unlock(fam);
    if (fam->spawn_pid < 0) {
        snprintf(why, why_len, "%s", fam->spawn_why);
        family_free(fam);
        free(w);
        return -1;
    }
    w->sock = fam->spawn_sock;
    w->log_r = fam->spawn_log;
    if (configure(fam, sb, why, why_len) != 0 ||
        hbx_await_hello(w->sock, sb->load_timeout_s, &w->pid, &w->ns_pid, why, why_len) != 0) {
        close(w->sock);
        close(w->log_r);
        free(w);
        teardown(fam);
        return -1;
    }
    w->cg.version = 0; /* its cgroups are the family's cg0 */
    adopt(fam, w);
    hbx_family_lock(fam);
    add_locked(fam, w);
    hbx_family_unlock(fam);
    wake(fam);
    *out = w;
    return 0;
}

void hbx_family_cgroup_limits(hbx_family *fam, uint64_t *memory_bytes, unsigned *max_tasks)
{
    *memory_bytes = fam->cg0.has_memory ? fam->memory_bytes : 0;
    *max_tasks = fam->cg0.has_pids ? fam->max_tasks : 0;
}

uint64_t hbx_family_oom_kills(const hbx_worker *w)
{
    return hbx_cgroup_oom_kills(w->forked ? &w->cg : &w->fam->cg0);
}

void hbx_family_host_layers(hbx_family *fam, hbx_sandbox_report *r)
{
    hbx_layer_status *l = r->layer;
    unsigned f = fam->cfg_flags;
    static const struct {
        hbx_layer layer;
        unsigned flag;
    } ns[] = {{HBX_LAYER_USER_NS, HBX_CFG_USER_NS}, {HBX_LAYER_PID_NS, HBX_CFG_PID_NS},
              {HBX_LAYER_NET_NS, HBX_CFG_NET_NS},   {HBX_LAYER_MOUNT_NS, HBX_CFG_MOUNT_NS},
              {HBX_LAYER_IPC_NS, HBX_CFG_IPC_NS}};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        hbx_layer_status *s = &l[ns[i].layer];
        s->active = (f & ns[i].flag) != 0;
        if (s->active)
            snprintf(s->detail, sizeof s->detail, "requested at clone");
        else
            snprintf(s->detail, sizeof s->detail, "%s",
                     fam->plan.ns_why[0] ? fam->plan.ns_why : "not requested");
    }
    hbx_layer_status *m = &l[HBX_LAYER_MEMORY];
    m->active = fam->cg0.has_memory;
    if (!fam->memory_bytes)
        snprintf(m->detail, sizeof m->detail, "no memory limit set");
    else
        snprintf(m->detail, sizeof m->detail, "%s", fam->memory_detail);
    hbx_layer_status *t = &l[HBX_LAYER_TASKS];
    t->active = fam->cg0.has_pids;
    if (!fam->max_tasks)
        snprintf(t->detail, sizeof t->detail, "no task limit set");
    else
        snprintf(t->detail, sizeof t->detail, "%s", fam->tasks_detail);
    hbx_layer_status *c = &l[HBX_LAYER_CPU];
    c->active = fam->cpu_s > 0;
    if (c->active)
        snprintf(c->detail, sizeof c->detail,
                 "%.6g CPU s per call: RLIMIT_CPU moved before each call, host watches the CPU "
                 "clock",
                 fam->cpu_s);
    else
        snprintf(c->detail, sizeof c->detail, "no CPU limit set");
    hbx_layer_status *wc = &l[HBX_LAYER_WALL_CLOCK];
    wc->active = 1;
    snprintf(wc->detail, sizeof wc->detail, "per call%s",
             fam->deadline > 0 ? ", and the run's deadline" : "; no run deadline set");
    hbx_layer_status *lg = &l[HBX_LAYER_LOG];
    lg->active = 1;
    snprintf(lg->detail, sizeof lg->detail, "stdout/stderr drained by the host, %llu bytes kept per worker%s",
             (unsigned long long)fam->log_cap,
             fam->log_dir ? " (log directory)" : fam->log_fd >= 0 ? " (log descriptor)" : " (discarded)");
    hbx_layer_status *pv = &l[HBX_LAYER_PRIVILEGES];
    snprintf(pv->detail, sizeof pv->detail, "uid %u gid %u outside%s%s", (unsigned)fam->plan.uid_out,
             (unsigned)fam->plan.gid_out, fam->plan.ids_why[0] ? "; " : "", fam->plan.ids_why);
}
