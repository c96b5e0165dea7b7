/*
 * The sandbox's own behaviour: the layer report, fork-after-fit (several
 * children, one killed and replaced, the fitted worker gone while a child
 * lives on), CPU and run-deadline limits, the RLIMIT_AS fallback, the
 * parent-death signal, and a positive control for the memory scan.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "higgsbox/higgsbox.h"
#include "support.h"

static hbx_sandbox *sandbox_for(const char *kind, const char *name)
{
    hbx_sandbox *sb = hbx_sandbox_new();
    ck_assert_ptr_nonnull(sb);
    ck_assert_int_eq(hbx_sandbox_set_plugin(sb, test_plugin(kind, name)), 0);
    ck_assert_int_eq(hbx_sandbox_set_worker(sb, HBX_TEST_WORKER), 0);
    hbx_sandbox_set_log_fd(sb, 2);
    return sb;
}

typedef struct blocks {
    hbx_block train, pe;
    int tfd, pfd;
} blocks;

static void blocks_make(blocks *b)
{
    ck_assert_int_eq(hbx_block_create(&b->train, "train", 10, HBX_TABLE_TRUTH), 0);
    hbx_block_set_count(&b->train, 10);
    ck_assert_int_eq(hbx_block_create(&b->pe, "pe", 16, 0), 0);
    for (int i = 0; i < 16; i++)
        b->pe.table.features[HBX_DER_MASS_VIS][i] = 100.0f + (float)i;
    hbx_block_set_count(&b->pe, 16);
    b->tfd = hbx_block_reader_fd(&b->train);
    b->pfd = hbx_block_reader_fd(&b->pe);
}

static void blocks_free(blocks *b)
{
    close(b->tfd);
    close(b->pfd);
    hbx_block_destroy(&b->train);
    hbx_block_destroy(&b->pe);
}

static hbx_worker *fitted_worker(hbx_sandbox *sb, blocks *b)
{
    hbx_worker *w;
    hbx_call_record rec;
    hbx_plugin_info info;
    ck_assert_int_eq(hbx_worker_spawn(sb, &w, &rec), 0);
    ck_assert_msg(hbx_worker_load(w, &info, &rec) == 0, "load: %s", rec.detail);
    ck_assert_msg(hbx_worker_fit(w, b->tfd, b->train.size, 10, &rec) == 0, "fit: %s", rec.detail);
    return w;
}

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
    return p && sscanf(p + 2, "%*c %*d %d", &pgrp) == 1 ? pgrp : 0;
}

static int group_members(pid_t pgid)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        n += pid > 0 && pgid_of(pid) == pgid;
    }
    if (d)
        closedir(d);
    return n;
}

/* Whether this process could have a user and PID namespace of its own. */
static int namespaces_possible(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(unshare(CLONE_NEWUSER | CLONE_NEWPID) == 0 ? 0 : 1);
    int st;
    waitpid(p, &st, 0);
    return geteuid() == 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(probe_reports_every_layer)
{
    hbx_sandbox *sb = sandbox_for("plugins", "pe_stat");
    hbx_sandbox_set_memory_limit(sb, 1ull << 30);
    hbx_sandbox_set_cpu_limit(sb, 5);
    hbx_sandbox_report r;
    hbx_call_record rec;
    ck_assert_msg(hbx_sandbox_probe(sb, &r, &rec) == 0, "probe: %s", rec.detail);
    static const hbx_layer always[] = {HBX_LAYER_WORKER,  HBX_LAYER_PRIVILEGES, HBX_LAYER_NO_NEW_PRIVS,
                                       HBX_LAYER_SECCOMP, HBX_LAYER_CPU,        HBX_LAYER_FILES,
                                       HBX_LAYER_WALL_CLOCK, HBX_LAYER_LOG};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
        ck_assert_msg(r.layer[always[i]].active, "%s: %s", hbx_layer_name(always[i]),
                      r.layer[always[i]].detail);
    int landlock = syscall(SYS_landlock_create_ruleset, NULL, 0, 1u) >= 1;
    ck_assert_int_eq(r.layer[HBX_LAYER_LANDLOCK].active, landlock);
    int ns = namespaces_possible();
    ck_assert_int_eq(r.layer[HBX_LAYER_PID_NS].active, ns);
    ck_assert_int_eq(r.layer[HBX_LAYER_NET_NS].active, ns);
    ck_assert_int_eq(r.layer[HBX_LAYER_IPC_NS].active, ns);
    /* Every layer says something. */
    for (int i = 0; i < HBX_N_LAYERS; i++)
        ck_assert_msg(r.layer[i].detail[0], "%s has no detail", hbx_layer_name((hbx_layer)i));

    char *text = hbx_sandbox_report_json(&r);
    ck_assert_ptr_nonnull(text);
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    ck_assert_msg(o != NULL, "not JSON: %s", text);
    ck_assert_int_eq(json_object_size(o), HBX_N_LAYERS);
    json_t *sec = json_object_get(o, "seccomp");
    ck_assert(json_is_true(json_object_get(sec, "active")));
    ck_assert(json_is_string(json_object_get(sec, "detail")));
    json_decref(o);
    free(text);

    /* The fallback is reported as such and keeps Landlock and seccomp. */
    hbx_sandbox_set_namespaces(sb, 0);
    ck_assert_int_eq(hbx_sandbox_probe(sb, &r, &rec), 0);
    ck_assert(!r.layer[HBX_LAYER_PID_NS].active);
    ck_assert_msg(strstr(r.layer[HBX_LAYER_PID_NS].detail, "switched off"), "%s",
                  r.layer[HBX_LAYER_PID_NS].detail);
    ck_assert(r.layer[HBX_LAYER_SECCOMP].active);
    ck_assert_int_eq(r.layer[HBX_LAYER_LANDLOCK].active, landlock);
    hbx_sandbox_destroy(sb);
}
END_TEST

static void predict_ok(hbx_worker *w, blocks *b, hbx_prediction *p)
{
    hbx_call_record rec;
    ck_assert_msg(hbx_worker_predict(w, b->pfd, b->pe.size, 10, p, &rec) == 0, "predict: %s",
                  rec.detail);
    ck_assert(rec.wall_s > 0);
    ck_assert(rec.peak_rss > 0);
}

START_TEST(fork_after_fit)
{
    hbx_sandbox *sb = sandbox_for("plugins", "pe_stat");
    hbx_sandbox_set_memory_limit(sb, 512ull << 20);
    blocks b;
    blocks_make(&b);
    hbx_worker *fitted = fitted_worker(sb, &b);
    pid_t group = pgid_of(hbx_worker_pid(fitted));
    ck_assert_int_gt(group, 0);
    hbx_worker *child[3];
    hbx_call_record rec;
    hbx_prediction first, p;
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(hbx_worker_fork(fitted, &child[i], &rec) == 0, "fork %d: %s", i, rec.detail);
        ck_assert_int_ne(hbx_worker_pid(child[i]), hbx_worker_pid(fitted));
        ck_assert_int_eq(pgid_of(hbx_worker_pid(child[i])), group);
    }
    ck_assert_int_ne(hbx_worker_pid(child[0]), hbx_worker_pid(child[1]));
    predict_ok(child[0], &b, &first);
    for (int i = 1; i < 3; i++) {
        predict_ok(child[i], &b, &p);
        ck_assert(p.mu_hat == first.mu_hat);
    }
    /* Each child is in a cgroup of its own when cgroups carry the limits. */
    hbx_sandbox_report r;
    hbx_worker_report(fitted, &r);
    if (strstr(r.layer[HBX_LAYER_MEMORY].detail, "cgroup")) {
        char a[64], c[64], ta[4096], tc[4096];
        snprintf(a, sizeof a, "/proc/%d/cgroup", (int)hbx_worker_pid(fitted));
        snprintf(c, sizeof c, "/proc/%d/cgroup", (int)hbx_worker_pid(child[0]));
        FILE *fa = fopen(a, "r"), *fc = fopen(c, "r");
        ck_assert(fa && fc);
        ta[fread(ta, 1, sizeof ta - 1, fa)] = '\0';
        tc[fread(tc, 1, sizeof tc - 1, fc)] = '\0';
        fclose(fa);
        fclose(fc);
        ck_assert_msg(strcmp(ta, tc) != 0, "the child shares the fitted worker's cgroups");
    }
    /* One child dies: its call says so, and a replacement is forked. */
    ck_assert_int_eq(kill(hbx_worker_pid(child[1]), SIGKILL), 0);
    ck_assert_int_eq(hbx_worker_predict(child[1], b.pfd, b.pe.size, 10, &p, &rec), -1);
    char d[600];
    hbx_call_record_describe(&rec, d, sizeof d);
    ck_assert_str_eq(d, "CRASHED(SIGKILL)");
    hbx_worker_destroy(child[1]);
    ck_assert_int_eq(hbx_worker_fork(fitted, &child[1], &rec), 0);
    predict_ok(child[1], &b, &p);
    ck_assert(p.mu_hat == first.mu_hat);
    /* A forked worker does not fork. */
    hbx_worker *no;
    ck_assert_int_eq(hbx_worker_fork(child[0], &no, &rec), -1);
    /* The fitted worker goes; its children live on. */
    hbx_worker_destroy(fitted);
    predict_ok(child[2], &b, &p);
    ck_assert(p.mu_hat == first.mu_hat);
    for (int i = 0; i < 3; i++)
        hbx_worker_destroy(child[i]);
    ck_assert_int_eq(group_members(group), 0);
    blocks_free(&b);
    hbx_sandbox_destroy(sb);
}
END_TEST

/* Runs loop_predict under `sb` and describes the predict's verdict. */
static void run_loop(hbx_sandbox *sb, double timeout, hbx_call_record *rec)
{
    blocks b;
    blocks_make(&b);
    hbx_worker *w = fitted_worker(sb, &b), *c;
    ck_assert_int_eq(hbx_worker_fork(w, &c, rec), 0);
    hbx_prediction p;
    ck_assert_int_eq(hbx_worker_predict(c, b.pfd, b.pe.size, timeout, &p, rec), -1);
    hbx_worker_destroy(c);
    hbx_worker_destroy(w);
    blocks_free(&b);
}

START_TEST(cpu_limit)
{
    hbx_sandbox *sb = sandbox_for("hostile", "loop_predict");
    hbx_sandbox_set_cpu_limit(sb, 0.5);
    hbx_call_record rec;
    run_loop(sb, 60, &rec);
    ck_assert_str_eq(hbx_verdict_name(rec.verdict), "CPU_LIMIT");
    ck_assert_msg(rec.cpu_s >= 0.5 && rec.wall_s < 30, "cpu %g s, wall %g s", rec.cpu_s,
                  rec.wall_s);
    hbx_sandbox_destroy(sb);
}
END_TEST

START_TEST(run_deadline)
{
    hbx_sandbox *sb = sandbox_for("hostile", "loop_predict");
    hbx_sandbox_set_deadline(sb, 2.0);
    hbx_call_record rec;
    run_loop(sb, 60, &rec);
    ck_assert_str_eq(hbx_verdict_name(rec.verdict), "TIMEOUT");
    ck_assert_str_eq(rec.detail, "run deadline reached");
    hbx_sandbox_destroy(sb);
}
END_TEST

START_TEST(memory_rlimit_fallback)
{
    hbx_sandbox *sb = sandbox_for("hostile", "alloc_death");
    hbx_sandbox_set_cgroups(sb, 0);
    hbx_sandbox_set_memory_limit(sb, 256ull << 20);
    hbx_sandbox_report r;
    hbx_call_record rec;
    ck_assert_int_eq(hbx_sandbox_probe(sb, &r, &rec), 0);
    const hbx_layer_status *m = &r.layer[HBX_LAYER_MEMORY];
    if (!m->active) {
        /* Only an AddressSanitizer worker may go without. */
        ck_assert_msg(strstr(m->detail, "AddressSanitizer"), "%s", m->detail);
        hbx_sandbox_destroy(sb);
        return;
    }
    ck_assert_msg(strstr(m->detail, "RLIMIT_AS"), "%s", m->detail);
    blocks b;
    blocks_make(&b);
    hbx_worker *w = fitted_worker(sb, &b), *c;
    ck_assert_int_eq(hbx_worker_fork(w, &c, &rec), 0);
    hbx_prediction p;
    ck_assert_int_eq(hbx_worker_predict(c, b.pfd, b.pe.size, 30, &p, &rec), -1);
    char d[600];
    hbx_call_record_describe(&rec, d, sizeof d);
    ck_assert_msg(rec.verdict == HBX_VERDICT_MEMORY_LIMIT, "%s", d);
    hbx_worker_destroy(c);
    hbx_worker_destroy(w);
    blocks_free(&b);
    hbx_sandbox_destroy(sb);
}
END_TEST

START_TEST(workers_die_with_the_host)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t host = fork();
    if (host == 0) {
        close(p[0]);
        hbx_sandbox *sb = sandbox_for("plugins", "pe_stat");
        hbx_worker *w;
        hbx_call_record rec;
        hbx_plugin_info info;
        if (hbx_worker_spawn(sb, &w, &rec) != 0 || hbx_worker_load(w, &info, &rec) != 0)
            _exit(1);
        pid_t ids[2] = {hbx_worker_pid(w), pgid_of(hbx_worker_pid(w))};
        if (write(p[1], ids, sizeof ids) != (ssize_t)sizeof ids)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    pid_t ids[2];
    ck_assert_int_eq(read(p[0], ids, sizeof ids), (ssize_t)sizeof ids);
    close(p[0]);
    ck_assert_int_eq(kill(ids[0], 0), 0);
    kill(host, SIGKILL);
    int st;
    waitpid(host, &st, 0);
    /* The parent-death signal takes the tree down; no one waits for it. */
    int gone = 0;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = group_members(ids[1]) == 0;
        if (!gone)
            usleep(10000);
    }
    ck_assert_msg(gone, "worker %d survived its host", (int)ids[0]);
}
END_TEST

START_TEST(memory_scan_finds_what_is_there)
{
    /* Positive control for scan_memory: the token planted in the PE's
     * bytes is found, so its 0 in test_hostile means something. */
    hbx_sandbox *sb = sandbox_for("hostile", "scan_memory");
    blocks b;
    blocks_make(&b);
    static const char token[] = "HBX-SECRET-TOKEN-4f9c2e";
    memcpy(b.pe.table.features[HBX_PRI_LEP_PT], token, sizeof token);
    hbx_worker *w = fitted_worker(sb, &b);
    hbx_prediction p;
    predict_ok(w, &b, &p);
    ck_assert_msg(p.mu_hat >= 1, "the scan found %g", p.mu_hat);
    hbx_worker_destroy(w);
    blocks_free(&b);
    hbx_sandbox_destroy(sb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("sandbox");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, probe_reports_every_layer);
    tcase_add_test(tc, fork_after_fit);
    tcase_add_test(tc, cpu_limit);
    tcase_add_test(tc, run_deadline);
    tcase_add_test(tc, memory_rlimit_fallback);
    tcase_add_test(tc, workers_die_with_the_host);
    tcase_add_test(tc, memory_scan_finds_what_is_there);
    suite_add_tcase(s, tc);
    return test_main(s);
}
