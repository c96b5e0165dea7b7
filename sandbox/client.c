/*
 * The host side of a worker: configuration, calls with time limits, and the
 * verdict of each call. Nothing a worker sends is trusted.
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

hbx_sandbox *hbx_sandbox_new(void)
{
    hbx_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->worker = default_worker();
    sb->log_fd = -1;
    sb->load_timeout_s = 30.0;
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
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rec->detail, sizeof rec->detail, fmt, ap);
        va_end(ap);
    }
}

/* CPU seconds and peak RSS of a live process, from /proc. */
static void sample_usage(pid_t pid, double *cpu_s, uint64_t *peak)
{
    char path[64], buf[1024];
    *cpu_s = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        /* Fields after the command name, which may hold spaces. */
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                        &st) == 2)
            *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (f) {
        while (fgets(buf, sizeof buf, f)) {
            unsigned long long kb;
            if (sscanf(buf, "VmHWM: %llu kB", &kb) == 1)
                *peak = kb * 1024;
        }
        fclose(f);
    }
}

/* ---- worker lifetime ---------------------------------------------------- */

int hbx_worker_spawn(const hbx_sandbox *sb, hbx_worker **out, hbx_call_record *rec)
{
    record_reset(rec);
    *out = NULL;
    if (!sb->plugin) {
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "no plugin set");
        return -1;
    }
    hbx_worker *w = calloc(1, sizeof *w);
    if (!w || !(w->plugin = strdup(sb->plugin)) ||
        (sb->scratch_dir && !(w->scratch_dir = strdup(sb->scratch_dir)))) {
        if (w)
            free(w->plugin);
        free(w);
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "out of memory");
        return -1;
    }
    double t0 = hbx_now();
    w->pid = hbx_spawn_worker(sb, &w->sock, rec->detail, sizeof rec->detail);
    rec->wall_s = hbx_now() - t0;
    if (w->pid < 0) {
        rec->verdict = HBX_VERDICT_LOAD_ERROR;
        free(w->plugin);
        free(w->scratch_dir);
        free(w);
        return -1;
    }
    w->log_fd = sb->log_fd;
    w->load_timeout_s = sb->load_timeout_s;
    *out = w;
    return 0;
}

pid_t hbx_worker_pid(const hbx_worker *w)
{
    return w && !w->dead ? w->pid : -1;
}

void hbx_kill_tree(hbx_worker *w)
{
    if (w->dead)
        return;
    /* Stopped processes ignore SIGKILL until continued on some kernels'
     * accounting paths; wake them first so the group dies at once. */
    kill(-w->pid, SIGCONT);
    kill(-w->pid, SIGKILL);
    kill(w->pid, SIGKILL);
    int status;
    pid_t r;
    do
        r = waitpid(w->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    w->dead = 1;
    w->wait_status = r == w->pid ? status : 0;
}

/* Waits up to `grace` seconds for a worker that closed its socket to exit,
 * then kills what remains. */
static void reap_after_eof(hbx_worker *w, double grace)
{
    double end = hbx_now() + grace;
    while (!w->dead) {
        int status;
        pid_t r = waitpid(w->pid, &status, WNOHANG);
        if (r == w->pid) {
            w->dead = 1;
            w->wait_status = status;
            kill(-w->pid, SIGKILL); /* leftovers of its group */
            break;
        }
        if (hbx_now() > end) {
            hbx_kill_tree(w);
            break;
        }
        usleep(1000);
    }
}

void hbx_worker_destroy(hbx_worker *w)
{
    if (!w)
        return;
    if (!w->dead && w->sock >= 0) {
        hbx_proto_send(w->sock, HBX_MSG_QUIT, NULL, 0, -1);
        reap_after_eof(w, 1.0);
    }
    hbx_kill_tree(w);
    if (w->sock >= 0)
        close(w->sock);
    free(w->plugin);
    free(w->scratch_dir);
    free(w);
}

/* Fills rec from how the (now dead) worker ended. */
static void verdict_from_death(hbx_worker *w, hbx_call_record *rec)
{
    int st = w->wait_status;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (sig == SIGXCPU)
            record_set(rec, HBX_VERDICT_CPU_LIMIT, "CPU time limit");
        else if (sig == SIGSYS)
            record_set(rec, HBX_VERDICT_SYSCALL_DENIED, "forbidden system call");
        else {
            rec->verdict = HBX_VERDICT_CRASHED;
            rec->signal = sig;
            const char *abbrev = sigabbrev_np(sig);
            snprintf(rec->detail, sizeof rec->detail, "killed by SIG%s", abbrev ? abbrev : "?");
        }
    } else if (WIFEXITED(st)) {
        rec->verdict = HBX_VERDICT_EXITED;
        rec->exit_code = WEXITSTATUS(st);
        snprintf(rec->detail, sizeof rec->detail, "exited with status %d", rec->exit_code);
    } else {
        record_set(rec, HBX_VERDICT_CRASHED, "worker vanished");
    }
}

static void copy_log(hbx_worker *w, const hbx_frame *f)
{
    if (w->log_fd < 0)
        return;
    const char *text = (const char *)f->payload + sizeof(hbx_msg_log);
    dprintf(w->log_fd, "[plugin] %s\n", text);
}

/* Waits for the reply to a call: passes LOG frames on, and turns death,
 * silence and garbage into verdicts. Returns 1 with *f holding a reply frame,
 * or 0 with rec's verdict set (the worker is then dead and reaped). */
static int await_reply(hbx_worker *w, double timeout_s, hbx_frame *f, hbx_call_record *rec)
{
    double deadline = hbx_now() + timeout_s;
    for (;;) {
        double left = deadline - hbx_now();
        if (left <= 0) {
            hbx_kill_tree(w);
            record_set(rec, HBX_VERDICT_TIMEOUT, "no answer within %.3g s", timeout_s);
            return 0;
        }
        struct pollfd p = {w->sock, POLLIN, 0};
        int ms = left > 1e6 ? 1000000000 : (int)ceil(left * 1000.0);
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            continue;
        char why[128] = "";
        int got = r > 0 ? hbx_proto_recv(w->sock, f, why, sizeof why) : -1;
        if (got == 0 || (got < 0 && (errno == ECONNRESET || errno == EPIPE))) {
            reap_after_eof(w, 2.0);
            verdict_from_death(w, rec);
            return 0;
        }
        if (got < 0) {
            hbx_kill_tree(w);
            record_set(rec, HBX_VERDICT_PROTOCOL_ERROR, "%s", why);
            return 0;
        }
        if (f->type == HBX_MSG_LOG) {
            copy_log(w, f);
            continue;
        }
        return 1;
    }
}

/* Sends a request; a worker that is gone gets its death as the verdict. */
static int send_call(hbx_worker *w, uint16_t type, const void *payload, size_t len, int fd,
                     hbx_call_record *rec)
{
    if (w->dead) {
        verdict_from_death(w, rec);
        return -1;
    }
    if (hbx_proto_send(w->sock, type, payload, len, fd) != 0) {
        reap_after_eof(w, 2.0);
        verdict_from_death(w, rec);
        return -1;
    }
    return 0;
}

static int unexpected(hbx_worker *w, const hbx_frame *f, hbx_call_record *rec)
{
    if (f->type == HBX_MSG_ERROR) {
        const hbx_msg_error *e = (const void *)f->payload;
        const char *text = (const char *)f->payload + sizeof *e;
        hbx_kill_tree(w);
        record_set(rec, e->kind == HBX_ERR_LOAD || e->kind == HBX_ERR_SANDBOX
                            ? HBX_VERDICT_LOAD_ERROR
                            : HBX_VERDICT_PROTOCOL_ERROR,
                   "%s", text);
        return -1;
    }
    hbx_kill_tree(w);
    record_set(rec, HBX_VERDICT_PROTOCOL_ERROR, "unexpected reply (frame type %u)",
               (unsigned)f->type);
    return -1;
}

/* Starts timing a call: wall clock and the worker's CPU so far. */
typedef struct call_clock {
    double t0, cpu0;
} call_clock;

static call_clock clock_start(hbx_worker *w)
{
    call_clock c = {hbx_now(), 0};
    uint64_t peak = 0;
    if (!w->dead)
        sample_usage(w->pid, &c.cpu0, &peak);
    return c;
}

static void clock_stop(hbx_worker *w, const call_clock *c, hbx_call_record *rec)
{
    rec->wall_s = hbx_now() - c->t0;
    double cpu = 0;
    if (!w->dead) {
        sample_usage(w->pid, &cpu, &rec->peak_rss);
        rec->cpu_s = cpu > c->cpu0 ? cpu - c->cpu0 : 0;
    }
}

/* ---- calls -------------------------------------------------------------- */

int hbx_worker_load(hbx_worker *w, hbx_plugin_info *info, hbx_call_record *rec)
{
    record_reset(rec);
    memset(info, 0, sizeof *info);
    unsigned char buf[HBX_PROTO_MAX_PAYLOAD];
    hbx_msg_load head = {0, 0};
    const char *scratch = w->scratch_dir ? w->scratch_dir : "";
    char dir[PATH_MAX];
    char *real = realpath(w->plugin, NULL);
    const char *plugin = real ? real : w->plugin;
    snprintf(dir, sizeof dir, "%s", plugin);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    size_t lp = strlen(plugin) + 1, ld = strlen(dir) + 1, ls = strlen(scratch) + 1;
    if (sizeof head + lp + ld + ls > sizeof buf) {
        free(real);
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "%s: path too long", w->plugin);
        return -1;
    }
    memcpy(buf, &head, sizeof head);
    memcpy(buf + sizeof head, plugin, lp);
    memcpy(buf + sizeof head + lp, dir, ld);
    memcpy(buf + sizeof head + lp + ld, scratch, ls);
    free(real);
    call_clock c = clock_start(w);
    hbx_frame *f = malloc(sizeof *f);
    if (!f) {
        record_set(rec, HBX_VERDICT_LOAD_ERROR, "out of memory");
        return -1;
    }
    int ok = send_call(w, HBX_MSG_LOAD, buf, sizeof head + lp + ld + ls, -1, rec) == 0 &&
             await_reply(w, w->load_timeout_s, f, rec);
    clock_stop(w, &c, rec);
    if (ok && f->type != HBX_MSG_LOADED)
        ok = unexpected(w, f, rec) == 0;
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
    } else if (rec->verdict != HBX_VERDICT_LOAD_ERROR) {
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
    call_clock c = clock_start(w);
    hbx_msg_data d = {train_size, 0};
    int ok = send_call(w, HBX_MSG_TRAIN, &d, sizeof d, train_fd, rec) == 0 &&
             send_call(w, HBX_MSG_FIT, NULL, 0, -1, rec) == 0 &&
             await_reply(w, timeout_s, f, rec);
    clock_stop(w, &c, rec);
    if (ok && f->type != HBX_MSG_DONE)
        ok = unexpected(w, f, rec) == 0;
    if (ok) {
        const hbx_msg_status *s = (const void *)f->payload;
        if (s->status != HBX_OK) {
            record_set(rec, HBX_VERDICT_BAD_OUTPUT, "fit returned error %d", s->status);
            ok = 0;
        }
    }
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
    call_clock c = clock_start(w);
    hbx_msg_data d = {pe_size, 0};
    int ok = send_call(w, HBX_MSG_PREDICT, &d, sizeof d, pe_fd, rec) == 0 &&
             await_reply(w, timeout_s, f, rec);
    clock_stop(w, &c, rec);
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
