/*
 * The host side of a worker: configuration, calls with time and CPU limits,
 * and the verdict of each call. Nothing a worker sends is trusted.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "protocol.h"

/* ---- configuration ----------------------------------------------------- */

static char *default_worker(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return strdup("higgsbox-worker");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/higgsbox-worker", exe);
    if (access(path, X_OK) != 0)
        snprintf(path, sizeof path, "%s/../libexec/higgsbox/higgsbox-worker", exe);
    return strdup(path);
}

static int env_off(const char *name)
{
    const char *v = getenv(name);
    return v && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0 || strcmp(v, "no") == 0);
}

hbx_sandbox *hbx_sandbox_new(void)
{
    hbx_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->worker = default_worker();
    sb->log_fd = -1;
    sb->load_timeout_s = 30.0;
    sb->log_cap = 1u << 20;
    sb->max_tasks = 512;
    sb->max_files = 256;
    sb->max_file_size = 1ull << 30;
    sb->namespaces = !env_off("HBX_SANDBOX_NAMESPACES");
    sb->cgroups = !env_off("HBX_SANDBOX_CGROUPS");
    if (!sb->worker) {
        free(sb);
        return NULL;
    }
    return sb;
}

void hbx_sandbox_destroy(hbx_sandbox *sb)
{
    if (!sb)
        return;
    free(sb->plugin);
    free(sb->worker);
    free(sb->scratch_dir);
    free(sb->log_dir);
    free(sb);
}

static int replace(char **field, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

int hbx_sandbox_set_plugin(hbx_sandbox *sb, const char *path)
{
    return replace(&sb->plugin, path);
}

int hbx_sandbox_set_worker(hbx_sandbox *sb, const char *path)
{
    return path ? replace(&sb->worker, path) : -1;
}

int hbx_sandbox_set_scratch_dir(hbx_sandbox *sb, const char *path)
{
    return replace(&sb->scratch_dir, path);
}

void hbx_sandbox_set_log_fd(hbx_sandbox *sb, int fd)
{
    sb->log_fd = fd;
}

void hbx_sandbox_set_load_timeout(hbx_sandbox *sb, double seconds)
{
    sb->load_timeout_s = seconds;
}

int hbx_sandbox_set_log_dir(hbx_sandbox *sb, const char *dir)
{
    return replace(&sb->log_dir, dir);
}

void hbx_sandbox_set_log_cap(hbx_sandbox *sb, uint64_t bytes)
{
    sb->log_cap = bytes;
}

void hbx_sandbox_set_memory_limit(hbx_sandbox *sb, uint64_t bytes)
{
    sb->memory_bytes = bytes;
}

void hbx_sandbox_set_cpu_limit(hbx_sandbox *sb, double seconds)
{
    sb->cpu_s = seconds > 0 ? seconds : 0;
}

void hbx_sandbox_set_deadline(hbx_sandbox *sb, double seconds)
{
    sb->deadline = seconds > 0 ? hbx_now() + seconds : 0;
}

void hbx_sandbox_set_max_tasks(hbx_sandbox *sb, unsigned n)
{
    sb->max_tasks = n;
}

void hbx_sandbox_set_max_files(hbx_sandbox *sb, unsigned n)
{
    sb->max_files = n;
}

void hbx_sandbox_set_max_file_size(hbx_sandbox *sb, uint64_t bytes)
{
    sb->max_file_size = bytes;
}

void hbx_sandbox_set_namespaces(hbx_sandbox *sb, int on)
{
    sb->namespaces = on != 0;
}

void hbx_sandbox_set_cgroups(hbx_sandbox *sb, int on)
{
    sb->cgroups = on != 0;
}

/* ---- records ------------------------------------------------------------ */

static void record_reset(hbx_call_record *rec)
{
    memset(rec, 0, sizeof *rec);
}

static void record_set(hbx_call_record *rec, hbx_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void record_set(hbx_call_record *rec, hbx_verdict v, const char *fmt, ...)
{
    rec->verdict = v;
    rec->detail[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rec->detail, sizeof rec->detail, fmt, ap);
        va_end(ap);
    }
}

/* CPU seconds of a live process (all threads), from its CPU clock. */
static double cpu_now(const hbx_worker *w)
{
    clockid_t cid;
    struct timespec ts;
    if (w->pid <= 0 || clock_getcpuclockid(w->pid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int worker_dead(hbx_worker *w)
{
    hbx_family_lock(w->fam);
    int d = w->dead;
    hbx_family_unlock(w->fam);
    return d;
}

/* ---- worker lifetime ---------------------------------------------------- */

static void apply_settings(hbx_worker *w, const hbx_sandbox *sb)
{
    w->load_timeout_s = sb->load_timeout_s;
    w->cpu_limit_s = sb->cpu_s;
    w->deadline = sb->deadline;
    w->memory_bytes = sb->memory_bytes;
}

int hbx_worker_spawn(const hbx_sandbox *sb, hbx_worker **out, hbx_call_record *rec)
{
    record_reset(rec);
    *out = NULL;
    if (!sb->plugin) {
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "no plugin set");
        return -1;
    }
    char *plugin = strdup(sb->plugin);
    char *scratch = sb->scratch_dir ? strdup(sb->scratch_dir) : NULL;
    if (!plugin || (sb->scratch_dir && !scratch)) {
        free(plugin);
        free(scratch);
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "out of memory");
        return -1;
    }
    double t0 = hbx_now();
    hbx_worker *w = NULL;
    int rc = hbx_family_spawn(sb, &w, rec->detail, sizeof rec->detail);
    rec->wall_s = hbx_now() - t0;
    if (rc != 0) {
        rec->verdict = HBX_VERDICT_LOAD_ERROR;
        free(plugin);
        free(scratch);
        return -1;
    }
    w->plugin = plugin;
    w->scratch_dir = scratch;
    apply_settings(w, sb);
    hbx_family_host_layers(w->fam, &w->report);
    *out = w;
    return 0;
}

pid_t hbx_worker_pid(const hbx_worker *w)
{
    if (!w || !w->fam)
        return -1;
    hbx_family_lock(w->fam);
    pid_t p = w->dead ? -1 : w->pid;
    hbx_family_unlock(w->fam);
    return p;
}

/* Makes sure the worker is dead and reaped by its init. */
static void finish_off(hbx_worker *w, double grace)
{
    if (hbx_family_wait_dead(w, grace))
        return;
    hbx_family_kill_worker(w);
    hbx_family_wait_dead(w, 10.0);
}

static void close_worker_fds(hbx_worker *w)
{
    if (w->sock >= 0)
        close(w->sock);
    if (w->pidfd >= 0)
        close(w->pidfd);
    if (w->proc_status >= 0)
        close(w->proc_status);
    w->sock = w->pidfd = w->proc_status = -1;
}

void hbx_worker_destroy(hbx_worker *w)
{
    if (!w)
        return;
    if (w->fam) {
        if (!worker_dead(w) && w->sock >= 0 &&
            hbx_proto_send(w->sock, HBX_MSG_QUIT, NULL, 0, -1) == 0)
            finish_off(w, 1.0);
        else
            finish_off(w, 0);
        hbx_family_drain_log(w);
        hbx_family_lock(w->fam);
        if (w->log_own && w->log_out >= 0)
            close(w->log_out);
        w->log_out = -1;
        hbx_family_unlock(w->fam);
        close_worker_fds(w);
        hbx_cgroup_destroy(&w->cg);
        hbx_family_release(w);
    }
    close_worker_fds(w);
    free(w->plugin);
    free(w->scratch_dir);
    free(w);
}

/* ---- verdicts ------------------------------------------------------------ */

/* Fills rec from how the (now dead) worker ended. */
static void verdict_from_death(hbx_worker *w, hbx_call_record *rec)
{
    hbx_family_lock(w->fam);
    int st = w->wait_status, known = w->status_known;
    char denied[sizeof w->denied];
    memcpy(denied, w->denied, sizeof denied);
    double cpu = w->cpu_total_s;
    int dying = w->dying_signal;
    uint64_t vm = w->dying_vm;
    if (w->maxrss > rec->peak_rss)
        rec->peak_rss = w->maxrss;
    hbx_family_unlock(w->fam);
    if (cpu > w->cpu_mark && cpu - w->cpu_mark > rec->cpu_s)
        rec->cpu_s = cpu - w->cpu_mark;
    if (denied[0]) {
        record_set(rec, HBX_VERDICT_SYSCALL_DENIED, "%s", denied);
        return;
    }
    if (!known) {
        record_set(rec, HBX_VERDICT_CRASHED, "the sandbox's init process died");
        rec->signal = SIGKILL;
        return;
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (sig == SIGKILL && hbx_family_oom_kills(w) > 0) {
            record_set(rec, HBX_VERDICT_MEMORY_LIMIT, "killed by the memory cgroup at %llu bytes",
                       (unsigned long long)w->memory_bytes);
            return;
        }
        /* Killed by the filter itself: another ABI (x32, int 0x80), or no
         * supervisor to name the call. */
        if (sig == SIGSYS) {
            record_set(rec, HBX_VERDICT_SYSCALL_DENIED, "unnamed system call (SIGSYS)");
            return;
        }
        if (sig == SIGXCPU || (sig == SIGKILL && w->cpu_limit_s > 0 &&
                               cpu - w->cpu_mark >= w->cpu_limit_s)) {
            record_set(rec, HBX_VERDICT_CPU_LIMIT, "more than %.6g CPU s", w->cpu_limit_s);
            return;
        }
        /* RLIMIT_AS: an allocation failed and the plugin died of it. */
        if (w->memory_rlimit && dying == sig && vm >= w->memory_bytes / 10 * 9 &&
            (sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT)) {
            record_set(rec, HBX_VERDICT_MEMORY_LIMIT,
                       "died of SIG%s with %llu bytes mapped (RLIMIT_AS %llu)",
                       sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", (unsigned long long)vm,
                       (unsigned long long)w->memory_bytes);
            return;
        }
        rec->verdict = HBX_VERDICT_CRASHED;
        rec->signal = sig;
        const char *abbrev = sigabbrev_np(sig);
        snprintf(rec->detail, sizeof rec->detail, "killed by SIG%s", abbrev ? abbrev : "?");
    } else if (WIFEXITED(st)) {
        rec->verdict = HBX_VERDICT_EXITED;
        rec->exit_code = WEXITSTATUS(st);
        snprintf(rec->detail, sizeof rec->detail, "exited with status %d", rec->exit_code);
    } else {
        record_set(rec, HBX_VERDICT_CRASHED, "worker vanished");
    }
}

/* The worker is gone or going: wait for init's word, then judge. */
static void judge_death(hbx_worker *w, hbx_call_record *rec)
{
    finish_off(w, 2.0);
    verdict_from_death(w, rec);
}

/* Kills a worker the host gave up on and records why (TIMEOUT, CPU_LIMIT,
 * PROTOCOL_ERROR); a denied system call, found at the same time, wins. */
static void kill_with(hbx_worker *w, hbx_call_record *rec, hbx_verdict v, const char *detail)
{
    hbx_family_kill_worker(w);
    hbx_family_wait_dead(w, 10.0);
    hbx_family_lock(w->fam);
    int denied = w->denied[0] != 0;
    hbx_family_unlock(w->fam);
    if (denied)
        verdict_from_death(w, rec);
    else
        record_set(rec, v, "%s", detail);
}

/* Moves the worker's RLIMIT_CPU so that this call may use `limit` more CPU
 * seconds. The hard limit follows only where the host may raise it again. */
static void arm_cpu_limit(hbx_worker *w, double used)
{
    if (w->cpu_limit_s <= 0 || w->pid <= 0)
        return;
    struct rlimit cur;
    if (prlimit(w->pid, RLIMIT_CPU, NULL, &cur) != 0)
        return;
    rlim_t soft = (rlim_t)ceil(used + w->cpu_limit_s) + 1;
    struct rlimit nl = {soft, geteuid() == 0 ? soft + 1 : cur.rlim_max};
    if (nl.rlim_cur > nl.rlim_max)
        nl.rlim_cur = nl.rlim_max;
    prlimit(w->pid, RLIMIT_CPU, &nl, NULL);
}

static void copy_confined(hbx_worker *w, const hbx_frame *f)
{
    const hbx_msg_confined *c = (const void *)f->payload;
    for (int i = 0; i < HBX_N_LAYERS; i++) {
        if (!(c->reported & (1u << i)))
            continue;
        hbx_layer_status *s = &w->report.layer[i];
        s->active = (c->active >> i) & 1;
        size_t n = strnlen(c->detail[i], sizeof c->detail[i]);
        if (n >= sizeof s->detail)
            n = sizeof s->detail - 1;
        memcpy(s->detail, c->detail[i], n);
        s->detail[n] = '\0';
    }
    /* The memory layer is RLIMIT_AS when the worker says it applied it. */
    w->memory_rlimit = w->report.layer[HBX_LAYER_MEMORY].active &&
                       strstr(w->report.layer[HBX_LAYER_MEMORY].detail, "RLIMIT_AS") != NULL;
}

/* Frames a worker may send at any time; returns 1 when handled. */
static int side_frame(hbx_worker *w, hbx_frame *f)
{
    switch (f->type) {
    case HBX_MSG_LOG:
        hbx_family_log_line(w, (const char *)f->payload + sizeof(hbx_msg_log));
        return 1;
    case HBX_MSG_NOTIFY_FD:
        hbx_family_set_notify_fd(w->fam, f->fd);
        f->fd = -1;
        return 1;
    case HBX_MSG_CONFINED:
        copy_confined(w, f);
        return 1;
    case HBX_MSG_DYING: {
        const hbx_msg_dying *d = (const void *)f->payload;
        hbx_family_lock(w->fam);
        w->dying_signal = d->signal;
        w->dying_vm = d->vm_peak;
        hbx_family_unlock(w->fam);
        return 1;
    }
    default:
        return 0;
    }
}

/* Waits for the reply to a call: handles side frames, enforces the wall
 * clock (call and run) and CPU limits, and turns death, silence and garbage
 * into verdicts. Returns 1 with *f holding a reply frame, or 0 with rec's
 * verdict set (the worker is then dead and reaped). */
static int await_reply(hbx_worker *w, double timeout_s, hbx_frame *f, hbx_call_record *rec)
{
    double start = hbx_now();
    double deadline = start + timeout_s;
    int run_deadline = w->deadline > 0 && w->deadline < deadline;
    if (run_deadline)
        deadline = w->deadline;
    for (;;) {
        double now = hbx_now();
        double left = deadline - now;
        if (left <= 0) {
            char d[96];
            if (run_deadline)
                snprintf(d, sizeof d, "run deadline reached");
            else
                snprintf(d, sizeof d, "no answer within %.3g s", timeout_s);
            kill_with(w, rec, HBX_VERDICT_TIMEOUT, d);
            return 0;
        }
        double slice = left;
        if (w->cpu_limit_s > 0) {
            double used = cpu_now(w) - w->cpu_mark;
            if (used >= w->cpu_limit_s) {
                char d[96];
                snprintf(d, sizeof d, "more than %.6g CPU s", w->cpu_limit_s);
                kill_with(w, rec, HBX_VERDICT_CPU_LIMIT, d);
                return 0;
            }
            double ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
            double until = (w->cpu_limit_s - used) / (ncpu > 0 ? ncpu : 1);
            if (until < 0.01)
                until = 0.01;
            if (until < slice)
                slice = until;
        }
        struct pollfd p = {w->sock, POLLIN, 0};
        int ms = slice > 1e6 ? 1000000000 : (int)ceil(slice * 1000.0);
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            continue;
        char why[128] = "";
        int got = r > 0 ? hbx_proto_recv(w->sock, f, why, sizeof why) : -1;
        if (got == 0 || (got < 0 && (errno == ECONNRESET || errno == EPIPE))) {
            judge_death(w, rec);
            return 0;
        }
        if (got < 0) {
            char d[160];
            snprintf(d, sizeof d, "%s", why);
            kill_with(w, rec, HBX_VERDICT_PROTOCOL_ERROR, d);
            return 0;
        }
        if (side_frame(w, f))
            continue;
        return 1;
    }
}

/* Sends a request; a worker that is gone gets its death as the verdict. */
static int send_call(hbx_worker *w, uint16_t type, const void *payload, size_t len, int fd,
                     hbx_call_record *rec)
{
    if (worker_dead(w)) {
        verdict_from_death(w, rec);
        return -1;
    }
    if (hbx_proto_send(w->sock, type, payload, len, fd) != 0) {
        judge_death(w, rec);
        return -1;
    }
    return 0;
}

static int unexpected(hbx_worker *w, const hbx_frame *f, hbx_call_record *rec)
{
    if (f->type == HBX_MSG_ERROR) {
        const hbx_msg_error *e = (const void *)f->payload;
        const char *text = (const char *)f->payload + sizeof *e;
        char d[sizeof rec->detail];
        snprintf(d, sizeof d, "%s", text);
        kill_with(w, rec,
                  e->kind == HBX_ERR_LOAD || e->kind == HBX_ERR_SANDBOX
                      ? HBX_VERDICT_LOAD_ERROR
                      : HBX_VERDICT_PROTOCOL_ERROR,
                  d);
        return -1;
    }
    char d[64];
    snprintf(d, sizeof d, "unexpected reply (frame type %u)", (unsigned)f->type);
    kill_with(w, rec, HBX_VERDICT_PROTOCOL_ERROR, d);
    return -1;
}

/* Starts timing a call: wall clock and the worker's CPU so far. */
static double clock_start(hbx_worker *w)
{
    double cpu = cpu_now(w);
    w->cpu_mark = cpu > 0 ? cpu : 0;
    arm_cpu_limit(w, w->cpu_mark);
    return hbx_now();
}

static void clock_stop(hbx_worker *w, double t0, hbx_call_record *rec)
{
    rec->wall_s = hbx_now() - t0;
    if (!worker_dead(w)) {
        double cpu = cpu_now(w);
        if (cpu > w->cpu_mark)
            rec->cpu_s = cpu - w->cpu_mark;
        long long kb = w->proc_status >= 0 ? hbx_proc_status_field(w->proc_status, "VmHWM") : -1;
        if (kb > 0)
            rec->peak_rss = (uint64_t)kb * 1024;
    } else {
        /* What init measured when it reaped the worker. */
        hbx_family_lock(w->fam);
        if (w->status_known && w->cpu_total_s > w->cpu_mark)
            rec->cpu_s = w->cpu_total_s - w->cpu_mark;
        if (w->maxrss > rec->peak_rss)
            rec->peak_rss = w->maxrss;
        hbx_family_unlock(w->fam);
    }
    hbx_family_drain_log(w);
    hbx_family_lock(w->fam);
    if (w->log_truncated)
        rec->flags |= HBX_RECORD_LOG_TRUNCATED;
    hbx_family_unlock(w->fam);
}

/* ---- calls -------------------------------------------------------------- */

/* Sends LOAD or PROBE with the plugin, its directory and the scratch
 * directory, and waits for `reply`. */
static int confine_and(hbx_worker *w, uint16_t type, const char *plugin_path, uint16_t reply,
                       hbx_frame *f, hbx_call_record *rec)
{
    unsigned char buf[HBX_PROTO_MAX_PAYLOAD];
    hbx_msg_load head = {0, 0};
    const char *scratch = w->scratch_dir ? w->scratch_dir : "";
    char dir[PATH_MAX];
    char *real = realpath(plugin_path, NULL);
    const char *plugin = real ? real : plugin_path;
    snprintf(dir, sizeof dir, "%s", plugin);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    size_t lp = strlen(plugin) + 1, ld = strlen(dir) + 1, ls = strlen(scratch) + 1;
    if (sizeof head + lp + ld + ls > sizeof buf) {
        free(real);
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "%s: path too long", plugin_path);
        return -1;
    }
    memcpy(buf, &head, sizeof head);
    memcpy(buf + sizeof head, plugin, lp);
    memcpy(buf + sizeof head + lp, dir, ld);
    memcpy(buf + sizeof head + lp + ld, scratch, ls);
    free(real);
    double t0 = clock_start(w);
    int ok = send_call(w, type, buf, sizeof head + lp + ld + ls, -1, rec) == 0 &&
             await_reply(w, w->load_timeout_s, f, rec);
    clock_stop(w, t0, rec);
    if (ok && f->type != reply)
        ok = unexpected(w, f, rec) == 0;
    return ok ? 0 : -1;
}

int hbx_worker_load(hbx_worker *w, hbx_plugin_info *info, hbx_call_record *rec)
{
    record_reset(rec);
    memset(info, 0, sizeof *info);
    hbx_frame *f = malloc(sizeof *f);
    if (!f) {
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "out of memory");
        return -1;
    }
    int ok = confine_and(w, HBX_MSG_LOAD, w->plugin, HBX_MSG_LOADED, f, rec) == 0;
    if (ok) {
        const hbx_msg_loaded *m = (const void *)f->payload;
        info->abi_major = m->abi_major;
        info->abi_minor = m->abi_minor;
        info->struct_size = m->struct_size;
        memcpy(info->name, m->name, sizeof info->name);
        info->name[sizeof info->name - 1] = '\0';
        memcpy(info->version, m->version, sizeof info->version);
        info->version[sizeof info->version - 1] = '\0';
        w->loaded = 1;
    } else if (rec->verdict != HBX_VERDICT_LOAD_ERROR &&
               rec->verdict != HBX_VERDICT_SYSCALL_DENIED) {
        /* Say the load is what died. */
        static const char prefix[] = "while loading: ";
        size_t keep = sizeof rec->detail - sizeof prefix;
        memmove(rec->detail + sizeof prefix - 1, rec->detail, keep);
        rec->detail[sizeof rec->detail - 1] = '\0';
        memcpy(rec->detail, prefix, sizeof prefix - 1);
    }
    free(f);
    return ok ? 0 : -1;
}

int hbx_worker_fit(hbx_worker *w, int train_fd, uint64_t train_size, double timeout_s,
                   hbx_call_record *rec)
{
    record_reset(rec);
    hbx_frame *f = malloc(sizeof *f);
    if (!f) {
        record_set(rec, HBX_VERDICT_PROTOCOL_ERROR, "out of memory");
        return -1;
    }
    double t0 = clock_start(w);
    hbx_msg_data d = {train_size, 0};
    int ok = send_call(w, HBX_MSG_TRAIN, &d, sizeof d, train_fd, rec) == 0 &&
             send_call(w, HBX_MSG_FIT, NULL, 0, -1, rec) == 0 &&
             await_reply(w, timeout_s, f, rec);
    clock_stop(w, t0, rec);
    if (ok && f->type != HBX_MSG_DONE)
        ok = unexpected(w, f, rec) == 0;
    if (ok) {
        const hbx_msg_status *s = (const void *)f->payload;
        if (s->status != HBX_OK) {
            record_set(rec, HBX_VERDICT_BAD_OUTPUT, "fit returned error %d", s->status);
            ok = 0;
        }
    }
    w->fitted = ok;
    free(f);
    return ok ? 0 : -1;
}

/* Checks an answer; returns NULL when usable, else why not. */
static const char *check_prediction(const hbx_prediction *p)
{
    if (!isfinite(p->mu_hat) || !isfinite(p->delta_mu_hat) || !isfinite(p->p16) ||
        !isfinite(p->p84))
        return isnan(p->mu_hat) || isnan(p->delta_mu_hat) || isnan(p->p16) || isnan(p->p84)
                   ? "NaN in the answer"
                   : "infinity in the answer";
    if (p->p16 > p->p84)
        return "p16 > p84";
    if (p->delta_mu_hat < 0)
        return "delta_mu_hat < 0";
    return NULL;
}

int hbx_worker_predict(hbx_worker *w, int pe_fd, uint64_t pe_size, double timeout_s,
                       hbx_prediction *out, hbx_call_record *rec)
{
    record_reset(rec);
    hbx_frame *f = malloc(sizeof *f);
    if (!f) {
        record_set(rec, HBX_VERDICT_PROTOCOL_ERROR, "out of memory");
        return -1;
    }
    double t0 = clock_start(w);
    hbx_msg_data d = {pe_size, 0};
    int ok = send_call(w, HBX_MSG_PREDICT, &d, sizeof d, pe_fd, rec) == 0 &&
             await_reply(w, timeout_s, f, rec);
    clock_stop(w, t0, rec);
    if (ok && f->type != HBX_MSG_RESULT)
        ok = unexpected(w, f, rec) == 0;
    if (ok) {
        const hbx_msg_result *r = (const void *)f->payload;
        hbx_prediction p = {r->mu_hat, r->delta_mu_hat, r->p16, r->p84};
        const char *bad = check_prediction(&p);
        if (r->status != HBX_OK) {
            record_set(rec, HBX_VERDICT_BAD_OUTPUT, "predict returned error %d", r->status);
            ok = 0;
        } else if (bad) {
            record_set(rec, HBX_VERDICT_BAD_OUTPUT, "%s", bad);
            ok = 0;
        } else {
            *out = p;
        }
    }
    free(f);
    return ok ? 0 : -1;
}

int hbx_worker_fork(hbx_worker *fitted, hbx_worker **child, hbx_call_record *rec)
{
    record_reset(rec);
    *child = NULL;
    if (!fitted->fitted || fitted->forked) {
        record_set(rec, HBX_VERDICT_PROTOCOL_ERROR, "%s",
                   fitted->forked ? "a forked worker does not fork again"
                                  : "fork needs a worker whose fit ended OK");
        return -1;
    }
    hbx_worker *w = calloc(1, sizeof *w);
    hbx_frame *f = malloc(sizeof *f);
    char *plugin = strdup(fitted->plugin);
    char *scratch = fitted->scratch_dir ? strdup(fitted->scratch_dir) : NULL;
    int hs = -1, ws = -1, lr = -1, lw = -1;
    if (!w || !f || !plugin || (fitted->scratch_dir && !scratch) ||
        hbx_worker_channels(&hs, &ws, &lr, &lw) != 0) {
        record_set(rec, HBX_VERDICT_PROTOCOL_ERROR, "cannot set up a new worker: %s",
                   strerror(errno ? errno : ENOMEM));
        free(w);
        free(f);
        free(plugin);
        free(scratch);
        return -1;
    }
    w->sock = hs;
    w->log_r = lr;
    w->pidfd = w->proc_status = w->log_out = -1;
    w->plugin = plugin;
    w->scratch_dir = scratch;
    w->forked = w->loaded = w->fitted = 1;
    w->load_timeout_s = fitted->load_timeout_s;
    w->cpu_limit_s = fitted->cpu_limit_s;
    w->deadline = fitted->deadline;
    w->memory_bytes = fitted->memory_bytes;
    w->memory_rlimit = fitted->memory_rlimit;
    w->report = fitted->report;

    double t0 = clock_start(fitted);
    hbx_family_allow_fork(fitted->fam, fitted->pid);
    int sent = !worker_dead(fitted) && hbx_proto_send2(fitted->sock, HBX_MSG_FORK, NULL, 0, ws, lw) == 0;
    close(ws);
    close(lw);
    int ok = 0;
    if (!sent)
        judge_death(fitted, rec);
    else if (await_reply(fitted, fitted->load_timeout_s, f, rec)) {
        if (f->type != HBX_MSG_FORKED)
            unexpected(fitted, f, rec);
        else if (((const hbx_msg_status *)f->payload)->status != 0)
            record_set(rec, HBX_VERDICT_PROTOCOL_ERROR, "the fitted worker could not fork");
        else
            ok = 1;
    }
    hbx_family_allow_fork(fitted->fam, 0);
    clock_stop(fitted, t0, rec);
    if (ok && hbx_await_hello(hs, fitted->load_timeout_s, &w->pid, &w->ns_pid, rec->detail,
                              sizeof rec->detail) != 0) {
        rec->verdict = HBX_VERDICT_PROTOCOL_ERROR;
        ok = 0;
    }
    free(f);
    if (!ok) {
        close(hs);
        close(lr);
        free(plugin);
        free(scratch);
        free(w);
        return -1;
    }
    /* Its own cgroups, before it runs any plugin code (it waits for a
     * request): memory it allocates from now on is its own. */
    hbx_family_add(fitted->fam, w);
    uint64_t cg_memory = 0;
    unsigned cg_tasks = 0;
    hbx_family_cgroup_limits(fitted->fam, &cg_memory, &cg_tasks);
    char why[256] = "";
    if ((cg_memory || cg_tasks) &&
        (hbx_cgroup_create(&w->cg, cg_memory, cg_tasks, why, sizeof why) != 0 ||
         hbx_cgroup_attach(&w->cg, w->pid) != 0)) {
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "cannot give the forked worker its cgroup: %s",
                   why[0] ? why : strerror(errno));
        hbx_worker_destroy(w);
        return -1;
    }
    *child = w;
    return 0;
}

int hbx_worker_report(const hbx_worker *w, hbx_sandbox_report *out)
{
    if (!w || !out)
        return -1;
    *out = w->report;
    return 0;
}

/* ---- probing ---------------------------------------------------------------- */

int hbx_sandbox_probe(const hbx_sandbox *sb, hbx_sandbox_report *out, hbx_call_record *rec)
{
    record_reset(rec);
    memset(out, 0, sizeof *out);
    hbx_sandbox *copy = hbx_sandbox_new();
    if (!copy) {
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "out of memory");
        return -1;
    }
    char *worker = copy->worker;
    *copy = *sb;
    copy->worker = worker;
    copy->plugin = copy->scratch_dir = copy->log_dir = NULL;
    int rc = hbx_sandbox_set_worker(copy, sb->worker) | hbx_sandbox_set_plugin(copy, sb->worker) |
             hbx_sandbox_set_scratch_dir(copy, sb->scratch_dir) |
             hbx_sandbox_set_log_dir(copy, sb->log_dir);
    hbx_worker *w = NULL;
    if (rc == 0)
        rc = hbx_worker_spawn(copy, &w, rec);
    else
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "out of memory");
    if (rc == 0) {
        hbx_frame *f = malloc(sizeof *f);
        /* The layers arrive as CONFINED; DONE closes the probe. */
        rc = f ? confine_and(w, HBX_MSG_PROBE, w->plugin, HBX_MSG_DONE, f, rec) : -1;
        free(f);
        *out = w->report;
    }
    hbx_worker_destroy(w);
    hbx_sandbox_destroy(copy);
    return rc;
}
