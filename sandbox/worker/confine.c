/*
 * The worker's confinement, applied after its own set-up and before the
 * plugin is loaded, each layer checked from inside and reported to the host
 * (CONFINED): the worker as started (descriptors, environment, group, parent
 * death signal), the namespaces init set up, no privilege, limits,
 * no_new_privs / not dumpable / no core, Landlock, then seccomp last.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker.h"

extern char **environ;

#if defined(__SANITIZE_ADDRESS__)
#define HBX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HBX_ASAN 1
#endif
#endif
#ifndef HBX_ASAN
#define HBX_ASAN 0
#endif

static void say(hbx_msg_confined *r, hbx_layer l, int active, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(hbx_msg_confined *r, hbx_layer l, int active, const char *fmt, ...)
{
    r->reported |= 1u << l;
    if (active)
        r->active |= 1u << l;
    else
        r->active &= ~(1u << l);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail[l], sizeof r->detail[l], fmt, ap);
    va_end(ap);
}

/* The process as the host started it: only the protocol's descriptors, a
 * scrubbed environment, the tree's process group, a parent-death signal. */
static void check_worker(hbx_msg_confined *r)
{
    int extra = 0;
    DIR *d = opendir("/proc/self/fd");
    int dfd = d ? dirfd(d) : -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd > HBX_WORKER_SOCK_FD && fd != dfd)
            extra++;
    }
    if (d)
        closedir(d);
    static const char *const allowed[] = {"PATH=", "LC_ALL=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
                                          "LSAN_OPTIONS=", NULL};
    int nenv = 0, foreign = 0;
    for (char **v = environ; *v; v++, nenv++) {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            ok |= strncmp(*v, allowed[i], strlen(allowed[i])) == 0;
        foreign += !ok;
    }
    int pdeath = 0;
    prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0);
    int group = getpgrp() == getppid();
    say(r, HBX_LAYER_WORKER, d && !extra && !foreign && group && pdeath == SIGKILL,
        "fresh exec; descriptors 0-3 only%s; %d environment variables%s; own process group%s; "
        "parent-death signal %s",
        !d ? " (unchecked)" : extra ? " NOT (extra descriptors)" : "", nenv,
        foreign ? " (unexpected ones!)" : "", group ? "" : " NOT", pdeath == SIGKILL ? "SIGKILL" : "missing");
}

static void check_namespaces(hbx_msg_confined *r)
{
    static const struct {
        hbx_layer layer;
        const char *ns;
        unsigned flag;
    } ns[5] = {{HBX_LAYER_USER_NS, "user", HBX_CFG_USER_NS},
               {HBX_LAYER_PID_NS, "pid", HBX_CFG_PID_NS},
               {HBX_LAYER_NET_NS, "net", HBX_CFG_NET_NS},
               {HBX_LAYER_MOUNT_NS, "mnt", HBX_CFG_MOUNT_NS},
               {HBX_LAYER_IPC_NS, "ipc", HBX_CFG_IPC_NS}};
    for (int i = 0; i < 5; i++) {
        if (!(hbx_cfg.flags & ns[i].flag))
            continue; /* the host says why */
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i].ns);
        int differs = stat(path, &st) == 0 && (uint64_t)st.st_ino != hbx_cfg.host_ns[i];
        if (ns[i].layer == HBX_LAYER_MOUNT_NS)
            say(r, ns[i].layer, differs, "own mount namespace%s%s%s",
                differs ? "" : " NOT verified", hbx_private_proc ? ", private /proc" : "; no private /proc: ",
                hbx_proc_why);
        else if (ns[i].layer == HBX_LAYER_PID_NS)
            say(r, ns[i].layer, differs && getppid() == 1,
                "own PID namespace (worker is pid %d, init is 1)%s", (int)getpid(),
                differs ? "" : " NOT verified");
        else if (ns[i].layer == HBX_LAYER_USER_NS)
            say(r, ns[i].layer, differs, "own user namespace, uid %u mapped to itself%s",
                hbx_cfg.uid, differs ? "" : " NOT verified");
        else
            say(r, ns[i].layer, differs, "own %s namespace%s", ns[i].ns,
                differs ? "" : " NOT verified");
    }
}

/* Hex capability mask of a /proc/self/status line, or ~0 if absent. */
static unsigned long long cap_field(const char *status, const char *key)
{
    const char *p = strstr(status, key);
    return p ? strtoull(p + strlen(key), NULL, 16) : ~0ull;
}

static void check_privileges(hbx_msg_confined *r)
{
    char buf[4096] = "";
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        say(r, HBX_LAYER_PRIVILEGES, 0, "cannot read /proc/self/status");
        return;
    }
    buf[n] = '\0';
    unsigned long long eff = cap_field(buf, "CapEff:"), prm = cap_field(buf, "CapPrm:");
    unsigned long long inh = cap_field(buf, "CapInh:"), bnd = cap_field(buf, "CapBnd:");
    unsigned long long amb = cap_field(buf, "CapAmb:");
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    int ids = ru == eu && eu == su && rg == eg && eg == sg && ru != 0 && rg != 0;
    int caps = !eff && !prm && !inh && !amb;
    int ngroups = getgroups(0, NULL);
    say(r, HBX_LAYER_PRIVILEGES, ids && caps,
        "uid %u gid %u inside, %d supplementary groups, capabilities %s, bounding set %s",
        (unsigned)eu, (unsigned)eg, ngroups, caps ? "none" : "PRESENT",
        bnd == 0 ? "empty" : "kept (no privilege to drop it; no_new_privs stops its use)");
}

static int set_limit(int resource, rlim_t value)
{
    struct rlimit rl = {value, value};
    return setrlimit(resource, &rl);
}

static int apply_limits(hbx_msg_confined *r, char *why, size_t why_len)
{
    const hbx_init_config *c = &hbx_cfg;
    if (set_limit(RLIMIT_CORE, 0) != 0 || set_limit(RLIMIT_MSGQUEUE, 0) != 0) {
        snprintf(why, why_len, "setrlimit: %s", strerror(errno));
        return -1;
    }
    if (c->max_files && set_limit(RLIMIT_NOFILE, c->max_files) != 0) {
        snprintf(why, why_len, "RLIMIT_NOFILE: %s", strerror(errno));
        return -1;
    }
    if (c->max_file_size && set_limit(RLIMIT_FSIZE, c->max_file_size) != 0) {
        snprintf(why, why_len, "RLIMIT_FSIZE: %s", strerror(errno));
        return -1;
    }
    say(r, HBX_LAYER_FILES, c->max_files || c->max_file_size,
        "RLIMIT_NOFILE %u, RLIMIT_FSIZE %llu bytes", c->max_files,
        (unsigned long long)c->max_file_size);
    if (c->flags & HBX_CFG_RLIMIT_NPROC) {
        if (set_limit(RLIMIT_NPROC, c->max_tasks) != 0) {
            snprintf(why, why_len, "RLIMIT_NPROC: %s", strerror(errno));
            return -1;
        }
        say(r, HBX_LAYER_TASKS, 1, "RLIMIT_NPROC %u (%s); %s", c->max_tasks,
            c->flags & HBX_CFG_USER_NS ? "counted in its own user namespace" : "its own uid",
            c->tasks_detail);
    }
    if (c->flags & HBX_CFG_RLIMIT_AS) {
        if (HBX_ASAN) {
            say(r, HBX_LAYER_MEMORY, 0,
                "none: %s, and RLIMIT_AS cannot be used in an AddressSanitizer build (its "
                "shadow memory reserves terabytes of address space)",
                c->memory_detail);
        } else if (set_limit(RLIMIT_AS, c->memory_bytes) != 0) {
            snprintf(why, why_len, "RLIMIT_AS: %s", strerror(errno));
            return -1;
        } else {
            say(r, HBX_LAYER_MEMORY, 1, "RLIMIT_AS %llu bytes (%s)",
                (unsigned long long)c->memory_bytes, c->memory_detail);
        }
    }
    return 0;
}

static hbx_msg_confined g_report;

void hbx_confine_begin(void)
{
    memset(&g_report, 0, sizeof g_report);
    check_worker(&g_report);
}

int hbx_confine(const hbx_worker_ctx *ctx, char *why, size_t why_len)
{
    hbx_msg_confined r = g_report;
    check_namespaces(&r);
    check_privileges(&r);
    if (apply_limits(&r, why, why_len) != 0)
        return -1;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(why, why_len, "prctl: %s", strerror(errno));
        return -1;
    }
    struct rlimit core;
    getrlimit(RLIMIT_CORE, &core);
    int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 &&
              prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 && core.rlim_max == 0;
    say(&r, HBX_LAYER_NO_NEW_PRIVS, nnp, "no_new_privs %s, not dumpable, RLIMIT_CORE 0",
        nnp ? "set" : "NOT verified");
    /* Kept open for the fatal-signal handler's report (the plugin may read
     * its own status; it holds nothing else). */
    hbx_dying_setup(ctx->sock, open("/proc/self/status", O_RDONLY | O_CLOEXEC));

    char detail[HBX_LAYER_DETAIL];
    int ll = hbx_landlock_apply(ctx->submission_dir, ctx->scratch_dir, hbx_private_proc, detail,
                                sizeof detail);
    if (ll < 0) {
        snprintf(why, why_len, "%s", detail);
        return -1;
    }
    say(&r, HBX_LAYER_LANDLOCK, ll == 1, "%s", detail);

    int listener = -1;
    if (hbx_filter_apply((hbx_cfg.flags & HBX_CFG_NOTIFY) != 0, &listener, detail,
                         sizeof detail) != 0) {
        snprintf(why, why_len, "%s", detail);
        return -1;
    }
    say(&r, HBX_LAYER_SECCOMP, 1, "%s", detail);
    /* The listener goes to the host, and not one moment longer stays here:
     * a plugin holding it could answer its own forbidden calls. */
    if (listener >= 0) {
        int rc = hbx_proto_send(ctx->sock, HBX_MSG_NOTIFY_FD, NULL, 0, listener);
        close(listener);
        if (rc != 0) {
            snprintf(why, why_len, "cannot hand the seccomp listener to the host: %s",
                     strerror(errno));
            return -1;
        }
    }
    if (hbx_proto_send(ctx->sock, HBX_MSG_CONFINED, &r, sizeof r, -1) != 0) {
        snprintf(why, why_len, "cannot report the layers: %s", strerror(errno));
        return -1;
    }
    return 0;
}
