/*
 * cgroups for workers: a memory limit with swap off, an OOM-kill counter and
 * a task limit, per worker process.
 *
 * cgroup v2 is used where this process may create children of a group whose
 * subtree_control already enables memory (a delegated group, or the
 * hierarchy's root when running as root). Otherwise, as root, the v1 memory
 * and pids hierarchies if mounted. Nothing here moves the host itself, so
 * the host's own accounting is never changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

typedef struct cg_info {
    int version;
    char v2_base[PATH_MAX];      /* parent of the leaves (v2) */
    int v2_pids;
    char v1_memory[PATH_MAX];    /* parent groups (v1) */
    char v1_pids[PATH_MAX];
    char why[256];
} cg_info;

static cg_info g_info;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static atomic_uint g_seq;

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static int write_str(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
            (p[n] == '\0' || p[n] == ' ' || p[n] == '\n' || p[n] == ','))
            return 1;
    return 0;
}

/* Mount point of a cgroup hierarchy: v2 (controller NULL) or the v1 one
 * carrying `controller`. */
static int find_mount(const char *controller, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -1;
    char line[4096];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        /* ... mount-point ... - fstype source super-options */
        char *dash = strstr(line, " - ");
        if (!dash)
            continue;
        char mnt[PATH_MAX], fstype[64], src[256], opts[1024] = "";
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
            sscanf(dash + 3, "%63s %255s %1023s", fstype, src, opts) < 2)
            continue;
        if (!controller ? strcmp(fstype, "cgroup2") == 0
                        : strcmp(fstype, "cgroup") == 0 && has_word(opts, controller)) {
            snprintf(out, len, "%s", mnt);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* This process's group in a hierarchy: "0::/x" (v2) or "N:ctrl,...:/x". */
static int own_group(const char *controller, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    char line[4096];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        const char *ctrls = c1 + 1;
        if (!controller ? strcmp(line, "0") == 0 && *ctrls == '\0'
                        : has_word(ctrls, controller)) {
            snprintf(out, len, "%s", c2 + 1);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

static int v2_usable(const char *dir, int *pids)
{
    char path[PATH_MAX + 32], buf[512];
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
    if (read_small(path, buf, sizeof buf) != 0 || !has_word(buf, "memory"))
        return 0;
    if (access(dir, W_OK) != 0)
        return 0;
    *pids = has_word(buf, "pids");
    return 1;
}

static void detect(void)
{
    cg_info *g = &g_info;
    char mnt[PATH_MAX], grp[PATH_MAX];
    if (find_mount(NULL, mnt, sizeof mnt) == 0 && own_group(NULL, grp, sizeof grp) == 0) {
        char own[PATH_MAX * 2];
        snprintf(own, sizeof own, "%s%s", mnt, strcmp(grp, "/") == 0 ? "" : grp);
        if (strlen(own) < sizeof g->v2_base && v2_usable(own, &g->v2_pids)) {
            memcpy(g->v2_base, own, strlen(own) + 1); /* length checked above */
            g->version = 2;
            return;
        }
        if (geteuid() == 0 && v2_usable(mnt, &g->v2_pids)) {
            snprintf(g->v2_base, sizeof g->v2_base, "%s", mnt);
            g->version = 2;
            return;
        }
        snprintf(g->why, sizeof g->why,
                 "cgroup v2 at %.150s: no writable group with the memory controller delegated", mnt);
    } else {
        snprintf(g->why, sizeof g->why, "no cgroup v2 hierarchy mounted");
    }
    char mm[PATH_MAX], mg[PATH_MAX];
    if (find_mount("memory", mm, sizeof mm) == 0 && own_group("memory", mg, sizeof mg) == 0) {
        char base[PATH_MAX * 2];
        snprintf(base, sizeof base, "%s%s", mm, strcmp(mg, "/") == 0 ? "" : mg);
        if (strlen(base) < sizeof g->v1_memory && access(base, W_OK) == 0) {
            memcpy(g->v1_memory, base, strlen(base) + 1); /* length checked above */
            char pm[PATH_MAX], pg[PATH_MAX];
            if (find_mount("pids", pm, sizeof pm) == 0 && own_group("pids", pg, sizeof pg) == 0) {
                snprintf(base, sizeof base, "%s%s", pm, strcmp(pg, "/") == 0 ? "" : pg);
                if (strlen(base) < sizeof g->v1_pids && access(base, W_OK) == 0)
                    memcpy(g->v1_pids, base, strlen(base) + 1);
            }
            g->version = 1;
            return;
        }
        size_t l = strlen(g->why);
        snprintf(g->why + l, sizeof g->why - l, "; cgroup v1 memory group %s not writable",
                 base);
    }
}

int hbx_cgroup_available(char *why, size_t why_len)
{
    pthread_once(&g_once, detect);
    if (!g_info.version && why && why_len)
        snprintf(why, why_len, "%s", g_info.why);
    return g_info.version;
}

static char *make_group(const char *parent, char *why, size_t why_len)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/hbx-%d-%u", parent, (int)getpid(),
             atomic_fetch_add(&g_seq, 1));
    if (mkdir(path, 0755) != 0) {
        snprintf(why, why_len, "mkdir %s: %s", path, strerror(errno));
        return NULL;
    }
    char *copy = strdup(path);
    if (!copy)
        rmdir(path);
    return copy;
}

int hbx_cgroup_create(hbx_cgroup *cg, uint64_t memory_bytes, unsigned max_tasks, char *why,
                      size_t why_len)
{
    memset(cg, 0, sizeof *cg);
    int v = hbx_cgroup_available(why, why_len);
    if (!v)
        return -1;
    char num[32];
    if (v == 2) {
        cg->memory_dir = make_group(g_info.v2_base, why, why_len);
        if (!cg->memory_dir)
            return -1;
        cg->version = 2;
        if (memory_bytes) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)memory_bytes);
            if (write_str(cg->memory_dir, "memory.max", num) != 0)
                goto fail;
            /* Absent without swap accounting: then nothing can swap anyway. */
            if (write_str(cg->memory_dir, "memory.swap.max", "0") != 0 && errno != ENOENT)
                goto fail;
            cg->has_memory = 1;
        }
        if (max_tasks && g_info.v2_pids) {
            snprintf(num, sizeof num, "%u", max_tasks);
            if (write_str(cg->memory_dir, "pids.max", num) != 0)
                goto fail;
            cg->has_pids = 1;
        }
        return 0;
    }
    cg->version = 1;
    if (memory_bytes) {
        cg->memory_dir = make_group(g_info.v1_memory, why, why_len);
        if (!cg->memory_dir)
            goto fail_quiet;
        snprintf(num, sizeof num, "%llu", (unsigned long long)memory_bytes);
        if (write_str(cg->memory_dir, "memory.limit_in_bytes", num) != 0)
            goto fail;
        /* memory+swap equal to memory: no swap. Absent without swap
         * accounting. */
        if (write_str(cg->memory_dir, "memory.memsw.limit_in_bytes", num) != 0 &&
            errno != ENOENT)
            goto fail;
        write_str(cg->memory_dir, "memory.swappiness", "0");
        cg->has_memory = 1;
    }
    if (max_tasks && g_info.v1_pids[0]) {
        cg->pids_dir = make_group(g_info.v1_pids, why, why_len);
        if (!cg->pids_dir)
            goto fail_quiet;
        snprintf(num, sizeof num, "%u", max_tasks);
        if (write_str(cg->pids_dir, "pids.max", num) != 0)
            goto fail;
        cg->has_pids = 1;
    }
    return 0;
fail:
    snprintf(why, why_len, "cgroup limit: %s", strerror(errno));
fail_quiet:
    hbx_cgroup_destroy(cg);
    return -1;
}

int hbx_cgroup_attach(const hbx_cgroup *cg, pid_t pid)
{
    char num[32];
    snprintf(num, sizeof num, "%d", (int)pid);
    if (cg->memory_dir && write_str(cg->memory_dir, "cgroup.procs", num) != 0)
        return -1;
    if (cg->pids_dir && write_str(cg->pids_dir, "cgroup.procs", num) != 0)
        return -1;
    return 0;
}

uint64_t hbx_cgroup_oom_kills(const hbx_cgroup *cg)
{
    if (!cg->memory_dir)
        return 0;
    char path[PATH_MAX + 32], buf[1024];
    snprintf(path, sizeof path, "%s/%s", cg->memory_dir,
             cg->version == 2 ? "memory.events" : "memory.oom_control");
    if (read_small(path, buf, sizeof buf) != 0)
        return 0;
    const char *p = strstr(buf, "oom_kill ");
    return p ? strtoull(p + 9, NULL, 10) : 0;
}

static void remove_group(char *dir)
{
    if (!dir)
        return;
    /* A group empties a moment after its last process is reaped. */
    for (int i = 0; i < 200 && rmdir(dir) != 0 && errno == EBUSY; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    free(dir);
}

void hbx_cgroup_destroy(hbx_cgroup *cg)
{
    remove_group(cg->memory_dir);
    remove_group(cg->pids_dir);
    memset(cg, 0, sizeof *cg);
}

void hbx_cgroup_describe(const hbx_cgroup *cg, char *buf, size_t len)
{
    if (!cg->version) {
        snprintf(buf, len, "no cgroup");
        return;
    }
    snprintf(buf, len, "cgroup v%d%s%s", cg->version, cg->has_memory ? " memory (swap off)" : "",
             cg->has_pids ? " pids" : "");
}
