/*
 * The hostile plugin suite (tests/hostile/): each plugin is loaded, fit,
 * forked after fit and asked to predict in a sandbox with all layers, and
 * must end with its expected verdict in the expected call; the host
 * survives, leaks no descriptor, and no process or zombie of the worker's
 * tree remains. Legitimate plugins (good_*, omp_*) must keep working. A
 * second table runs a selection in the fallback without namespaces.
 *
 * Each plugin's verdict is printed as "hostile <name>: <call> <verdict>".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "higgsbox/higgsbox.h"
#include "support.h"

/* What the host knows and a plugin must never learn (scan_memory and
 * env_secret look for them). */
static volatile double secret_mu = 1.2345678901234567;
static volatile char secret_token[] = "HBX-SECRET-TOKEN-4f9c2e";

#define MEMORY_LIMIT (256ull << 20)
#define MAX_TASKS 64
#define LOG_CAP (64u << 10)
#define TRAIN_EVENTS 50
#define PE_EVENTS 20

typedef enum { ANY_OK, MU_ZERO, MU_BELOW_TASKS, MU_EVENTS, MU_EXACT } check_kind;

typedef struct expect {
    const char *name;
    const char *call;    /* "load", "fit", "fork", "predict" or "" (all OK) */
    const char *verdict; /* prefix of the description */
    check_kind check;
    double mu;           /* MU_EXACT */
} expect;

typedef struct outcome {
    char call[16];
    hbx_call_record rec;
    hbx_prediction pred;
    char desc[700];
    hbx_sandbox_report report;
    char log_dir[256];
    float pe_first; /* the host's PE block after the calls */
} outcome;

/* Process group of a process, from /proc (0 if gone). */
static pid_t pgid_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int pgrp = 0;
    if (!p || sscanf(p + 2, "%*c %*d %d", &pgrp) != 1)
        return 0;
    return pgrp;
}

/* Processes whose group is `pgid`. */
static int group_members(pid_t pgid)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid > 0 && pgid_of(pid) == pgid)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n - 1; /* the directory's own */
}

static void fill_blocks(hbx_block *train, hbx_block *pe)
{
    ck_assert_int_eq(hbx_block_create(train, "train", TRAIN_EVENTS, HBX_TABLE_TRUTH), 0);
    for (int i = 0; i < TRAIN_EVENTS; i++) {
        for (int f = 0; f < HBX_N_FEATURES; f++)
            train->table.features[f][i] = 10.0f + (float)(i % 7);
        train->table.features[HBX_PRI_N_JETS][i] = 0;
        train->table.weights[i] = 1.0;
        train->table.labels[i] = i % 2;
        train->table.process[i] = i % 2 ? HBX_HTAUTAU : HBX_ZTAUTAU;
    }
    hbx_block_set_count(train, TRAIN_EVENTS);
    ck_assert_int_eq(hbx_block_create(pe, "pe", PE_EVENTS, 0), 0);
    for (int i = 0; i < PE_EVENTS; i++)
        for (int f = 0; f < HBX_N_FEATURES; f++)
            pe->table.features[f][i] = 20.0f;
    hbx_block_set_count(pe, PE_EVENTS);
}

/* Seconds a call may take: short for the plugins that are meant to hang, so
 * the suite stays quick; generous for the rest, whose real work (scanning
 * memory, writing 1 GB) is slow under sanitizers on a loaded machine. */
static double call_timeout(const char *name)
{
    static const char *const hangs[] = {"loop_fit", "loop_predict", "ignore_term", "self_stop"};
    for (size_t i = 0; i < sizeof hangs / sizeof hangs[0]; i++)
        if (strcmp(name, hangs[i]) == 0)
            return 2.0;
    return 60.0;
}

/* Spawn, load, fit, fork, predict: stops at the first call not OK. */
static void run_plugin(const char *name, int namespaces, outcome *o)
{
    memset(o, 0, sizeof *o);
    char *scratch = test_tmpdir(), *logs = test_tmpdir();
    ck_assert_ptr_nonnull(scratch);
    ck_assert_ptr_nonnull(logs);
    snprintf(o->log_dir, sizeof o->log_dir, "%s", logs);
    hbx_sandbox *sb = hbx_sandbox_new();
    ck_assert_int_eq(hbx_sandbox_set_plugin(sb, test_plugin("hostile", name)), 0);
    ck_assert_int_eq(hbx_sandbox_set_worker(sb, HBX_TEST_WORKER), 0);
    ck_assert_int_eq(hbx_sandbox_set_scratch_dir(sb, scratch), 0);
    ck_assert_int_eq(hbx_sandbox_set_log_dir(sb, logs), 0);
    hbx_sandbox_set_log_cap(sb, LOG_CAP);
    hbx_sandbox_set_memory_limit(sb, MEMORY_LIMIT);
    hbx_sandbox_set_max_tasks(sb, MAX_TASKS);
    hbx_sandbox_set_load_timeout(sb, 20);
    hbx_sandbox_set_namespaces(sb, namespaces);
    hbx_block train, pe;
    fill_blocks(&train, &pe);
    int tfd = hbx_block_reader_fd(&train), pfd = hbx_block_reader_fd(&pe);
    int fds_before = open_fds();

    hbx_worker *w = NULL, *child = NULL;
    hbx_plugin_info info;
    snprintf(o->call, sizeof o->call, "spawn");
    int ok = hbx_worker_spawn(sb, &w, &o->rec) == 0;
    pid_t pgid = ok ? pgid_of(hbx_worker_pid(w)) : 0;
    if (ok) {
        snprintf(o->call, sizeof o->call, "load");
        ok = hbx_worker_load(w, &info, &o->rec) == 0;
        hbx_worker_report(w, &o->report);
    }
    if (ok) {
        snprintf(o->call, sizeof o->call, "fit");
        ok = hbx_worker_fit(w, tfd, train.size, call_timeout(name), &o->rec) == 0;
    }
    if (ok) {
        snprintf(o->call, sizeof o->call, "fork");
        ok = hbx_worker_fork(w, &child, &o->rec) == 0;
    }
    if (ok) {
        snprintf(o->call, sizeof o->call, "predict");
        ok = hbx_worker_predict(child, pfd, pe.size, call_timeout(name), &o->pred, &o->rec) == 0;
    }
    if (ok)
        o->call[0] = '\0';
    hbx_call_record_describe(&o->rec, o->desc, sizeof o->desc);
    printf("hostile %s%s: %s %s%s\n", name, namespaces ? "" : " (no namespaces)",
           o->call[0] ? o->call : "all calls", o->desc,
           o->rec.flags & HBX_RECORD_LOG_TRUNCATED ? " [log truncated]" : "");
    fflush(stdout);
    hbx_worker_destroy(child);
    hbx_worker_destroy(w);
    o->pe_first = pe.table.features[HBX_PRI_LEP_PT][0];

    /* Nothing of the tree remains, no zombie, no descriptor leaked. */
    if (pgid > 0)
        ck_assert_msg(group_members(pgid) == 0, "%s: processes of group %d remain", name,
                      (int)pgid);
    int st;
    errno = 0;
    ck_assert_msg(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD,
                  "%s: a child of the host remains", name);
    ck_assert_int_eq(open_fds(), fds_before);

    close(tfd);
    close(pfd);
    hbx_block_destroy(&train);
    hbx_block_destroy(&pe);
    hbx_sandbox_destroy(sb);
    test_rmtree(scratch);
    free(scratch);
    free(logs);
}

static const expect table[] = {
    {"loop_fit", "fit", "TIMEOUT", ANY_OK, 0},
    {"loop_predict", "predict", "TIMEOUT", ANY_OK, 0},
    {"ignore_term", "predict", "TIMEOUT", ANY_OK, 0},
    {"self_stop", "predict", "TIMEOUT", ANY_OK, 0},
    {"fork_bomb", "predict", "SYSCALL_DENIED(clone)", ANY_OK, 0},
    {"thread_bomb", "", "OK", MU_BELOW_TASKS, 0},
    {"alloc_death", "predict", "MEMORY_LIMIT", ANY_OK, 0},
    {"huge_map", "predict", "MEMORY_LIMIT", ANY_OK, 0},
    {"stdout_flood", "", "OK", ANY_OK, 0},
    {"write_outside", "", "OK", MU_ZERO, 0},
    {"read_secret", "", "OK", MU_ZERO, 0},
    {"proc_host", "", "OK", MU_ZERO, 0},
    {"scan_memory", "", "OK", MU_ZERO, 0},
    {"env_secret", "", "OK", MU_ZERO, 0},
    {"dev_open", "", "OK", MU_ZERO, 0},
    {"ptrace_host", "predict", "SYSCALL_DENIED(ptrace)", ANY_OK, 0},
    {"kill_parent", "predict", "SYSCALL_DENIED(kill)", ANY_OK, 0},
    {"kill_all", "predict", "SYSCALL_DENIED(kill)", ANY_OK, 0},
    {"tcp_socket", "predict", "SYSCALL_DENIED(socket)", ANY_OK, 0},
    {"udp_socket", "predict", "SYSCALL_DENIED(socket)", ANY_OK, 0},
    {"exec_shell", "predict", "SYSCALL_DENIED(execve)", ANY_OK, 0},
    {"setsid_escape", "predict", "SYSCALL_DENIED(setsid)", ANY_OK, 0},
    {"ctor_abort", "load", "CRASHED(SIGABRT)", ANY_OK, 0},
    {"bad_nan", "predict", "BAD_OUTPUT(NaN in the answer)", ANY_OK, 0},
    {"bad_inf", "predict", "BAD_OUTPUT(infinity in the answer)", ANY_OK, 0},
    {"bad_order", "predict", "BAD_OUTPUT(p16 > p84)", ANY_OK, 0},
    {"write_pe", "predict", "CRASHED(SIGSEGV)", ANY_OK, 0},
    {"sys_unshare", "predict", "SYSCALL_DENIED(unshare)", ANY_OK, 0},
    {"sys_io_uring", "predict", "SYSCALL_DENIED(io_uring_setup)", ANY_OK, 0},
    {"sys_userfaultfd", "predict", "SYSCALL_DENIED(userfaultfd)", ANY_OK, 0},
    {"sys_clock_settime", "predict", "SYSCALL_DENIED(clock_settime)", ANY_OK, 0},
    {"sys_personality", "predict", "SYSCALL_DENIED(personality)", ANY_OK, 0},
    {"sys_mount", "predict", "SYSCALL_DENIED(mount)", ANY_OK, 0},
    {"sys_keyctl", "predict", "SYSCALL_DENIED(keyctl)", ANY_OK, 0},
    {"sys_bpf", "predict", "SYSCALL_DENIED(bpf)", ANY_OK, 0},
    {"sys_perf_event", "predict", "SYSCALL_DENIED(perf_event_open)", ANY_OK, 0},
    {"process_vm_read", "predict", "SYSCALL_DENIED(process_vm_readv)", ANY_OK, 0},
    {"raise_limits", "predict", "SYSCALL_DENIED(prlimit64)", ANY_OK, 0},
    {"good_threads", "", "OK", MU_EVENTS, 0},
    {"omp_good", "", "OK", MU_EXACT, PE_EVENTS + TRAIN_EVENTS / 1e6},
    {"good_files", "", "OK", MU_EXACT, 42.5},
    {"good_alloc", "", "OK", MU_EXACT, 7},
    {"good_services", "", "OK", MU_EXACT, TRAIN_EVENTS},
};

/* Run in the fallback without namespaces: the same verdicts. */
static const char *const fallback[] = {"kill_parent", "fork_bomb",   "read_secret",
                                       "proc_host",   "scan_memory", "self_stop",
                                       "setsid_escape", "write_outside", "omp_good",
                                       "good_files"};

/* Files the secret-reading plugins look for, made readable to anyone so
 * that only the sandbox stands in the way. */
static void plant_secrets(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/hbx-secret-%d", (int)getpid());
    ck_assert_int_eq(mkdir(dir, 0755) == 0 || errno == EEXIST, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/secret.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "mu_true=%.17g\n", secret_mu);
    fclose(f);
    chmod(path, 0644);
    mkdir("/tmp/hbx-secret-known", 0755);
    f = fopen("/tmp/hbx-secret-known/secret.txt", "w");
    if (f) {
        fprintf(f, "%s\n", (const char *)secret_token);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/tests/hbx-secret.txt", HBX_TEST_BUILD_DIR);
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "mu_true=%.17g\n", secret_mu);
        fclose(f);
    }
    setenv("HBX_TEST_SECRET", (const char *)secret_token, 1);
    /* The pretrained value good_files ships in its directory. */
    snprintf(path, sizeof path, "%s/hostile/good_files.dat", HBX_TEST_PLUGINS);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "42.5\n");
    fclose(f);
}

static void remove_secrets(const char *dir)
{
    test_rmtree(dir);
    test_rmtree("/tmp/hbx-secret-known");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/hbx-secret.txt", HBX_TEST_BUILD_DIR);
    unlink(path);
}

static void check_outcome(const expect *e, const outcome *o, int namespaces)
{
    ck_assert_msg(strcmp(o->call, e->call) == 0, "%s: ended in '%s' (%s), expected '%s' %s",
                  e->name, o->call, o->desc, e->call, e->verdict);
    int memory_rlimit = strstr(o->report.layer[HBX_LAYER_MEMORY].detail, "RLIMIT_AS") != NULL;
    const char *want = e->verdict;
    if (strcmp(e->name, "huge_map") == 0 && memory_rlimit)
        want = "BAD_OUTPUT(predict returned error 2)"; /* the mapping was refused */
    ck_assert_msg(strncmp(o->desc, want, strlen(want)) == 0, "%s: got %s, expected %s", e->name,
                  o->desc, want);
    double mu = o->pred.mu_hat;
    switch (e->check) {
    case ANY_OK:
        break;
    case MU_ZERO:
        ck_assert_msg(mu == 0, "%s: %g attempts succeeded", e->name, mu);
        break;
    case MU_BELOW_TASKS:
        ck_assert_msg(mu > 0 && mu < MAX_TASKS, "%s: %g threads", e->name, mu);
        break;
    case MU_EVENTS:
        ck_assert_msg(mu == PE_EVENTS, "%s: counted %g events", e->name, mu);
        break;
    case MU_EXACT:
        ck_assert_msg(fabs(mu - e->mu) < 1e-9, "%s: mu_hat %.12g, expected %.12g", e->name, mu,
                      e->mu);
        break;
    }
    if (strcmp(e->name, "scan_memory") == 0 && o->report.layer[HBX_LAYER_MOUNT_NS].active &&
        namespaces)
        ck_assert_msg(o->pred.delta_mu_hat > 1, "scan_memory scanned only %g MiB",
                      o->pred.delta_mu_hat);
    if (strcmp(e->name, "stdout_flood") == 0) {
        ck_assert_msg(o->rec.flags & HBX_RECORD_LOG_TRUNCATED, "log not flagged as truncated");
        /* The worker's log file holds the cap and the marker, no more. */
        DIR *d = opendir(o->log_dir);
        struct dirent *de;
        off_t biggest = 0;
        while (d && (de = readdir(d))) {
            char path[600];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", o->log_dir, de->d_name);
            if (de->d_name[0] != '.' && stat(path, &st) == 0 && st.st_size > biggest)
                biggest = st.st_size;
        }
        if (d)
            closedir(d);
        ck_assert_msg(biggest >= LOG_CAP && biggest < LOG_CAP + 200, "log of %lld bytes",
                      (long long)biggest);
    }
    if (strcmp(e->name, "write_pe") == 0)
        ck_assert_msg(o->pe_first == 20.0f, "the PE block was changed: %g", o->pe_first);
    if (strcmp(e->name, "write_outside") == 0)
        ck_assert_msg(access("/tmp/hbx-escape-write_outside", F_OK) != 0 &&
                          access("/tmp/hbx-escape-dir", F_OK) != 0,
                      "a file escaped into /tmp");
    if (strcmp(e->name, "good_services") == 0) {
        char cmd[600], out[4096];
        snprintf(cmd, sizeof cmd, "%s", o->log_dir);
        DIR *d = opendir(o->log_dir);
        struct dirent *de;
        int found = 0;
        while (d && (de = readdir(d))) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s", o->log_dir, de->d_name);
            FILE *f = de->d_name[0] != '.' ? fopen(path, "r") : NULL;
            size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
            if (f)
                fclose(f);
            out[n] = '\0';
            found |= strstr(out, "good_services fit: 50 events") != NULL;
        }
        if (d)
            closedir(d);
        ck_assert_msg(found, "the plugin's log line is not in the worker logs");
    }
}

static int memory_layer_active(void)
{
    /* alloc_death without any memory limit would eat the machine. */
    hbx_sandbox *sb = hbx_sandbox_new();
    hbx_sandbox_set_worker(sb, HBX_TEST_WORKER);
    hbx_sandbox_set_memory_limit(sb, MEMORY_LIMIT);
    hbx_sandbox_report r;
    hbx_call_record rec;
    int ok = hbx_sandbox_probe(sb, &r, &rec) == 0 && r.layer[HBX_LAYER_MEMORY].active;
    hbx_sandbox_destroy(sb);
    return ok;
}

START_TEST(hostile_plugin)
{
    const expect *e = &table[_i];
    char secrets[256];
    plant_secrets(secrets, sizeof secrets);
    if ((strcmp(e->name, "alloc_death") == 0 || strcmp(e->name, "huge_map") == 0) &&
        !memory_layer_active()) {
        printf("hostile %s: skipped, no memory limit can be applied here\n", e->name);
        remove_secrets(secrets);
        return;
    }
    outcome o;
    run_plugin(e->name, 1, &o);
    remove_secrets(secrets);
    check_outcome(e, &o, 1);
    test_rmtree(o.log_dir);
}
END_TEST

START_TEST(hostile_fallback)
{
    const char *name = fallback[_i];
    const expect *e = NULL;
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (strcmp(table[k].name, name) == 0)
            e = &table[k];
    ck_assert_ptr_nonnull(e);
    char secrets[256];
    plant_secrets(secrets, sizeof secrets);
    outcome o;
    run_plugin(name, 0, &o);
    ck_assert_msg(!o.report.layer[HBX_LAYER_PID_NS].active, "namespaces were not switched off");
    ck_assert(o.report.layer[HBX_LAYER_LANDLOCK].active);
    ck_assert(o.report.layer[HBX_LAYER_SECCOMP].active);
    remove_secrets(secrets);
    check_outcome(e, &o, 0);
    test_rmtree(o.log_dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("all_layers");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, hostile_plugin, 0, (int)(sizeof table / sizeof table[0]));
    suite_add_tcase(s, tc);
    TCase *fb = tcase_create("fallback");
    tcase_set_timeout(fb, 120);
    tcase_add_loop_test(fb, hostile_fallback, 0, (int)(sizeof fallback / sizeof fallback[0]));
    suite_add_tcase(s, fb);
    return test_main(s);
}
