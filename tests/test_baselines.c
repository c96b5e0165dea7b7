/* The baseline plugins (count, xgb-count, profile), run through the worker as
 * the host runs them: fit on a generated training set (300k events), then
 * predict on pseudo-experiments drawn from the test split (300k events) in
 * the fitted worker and in one forked from it. Small classifiers
 * (baseline.conf in a private submission directory) keep every test to
 * seconds; fixed seeds make every figure reproducible. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "higgsbox/generator.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/pe.h"
#include "support.h"

/* The counting estimate is compiled in from plugins/common (see
 * tests/CMakeLists.txt): its statistics are checked directly. */
#include "baseline.h"

/* The generated data, made once in main() before Check forks the tests. */
static hbx_table g_train, g_test;
static hbx_pe_pool *g_pool;
static uint64_t g_capacity;

/* A small but sensible configuration for the test data: 40 shallow trees
 * train in about a second and still separate signal well. */
static const char *const small_conf = "# test configuration\n"
                                      "fit_threads = 2\n"
                                      "predict_threads = 1\n"
                                      "train_events = 60000\n"
                                      "trees = 40\n"
                                      "depth = 4\n"
                                      "eta = 0.3\n"
                                      "bins = 8\n";

/* One plugin in one worker, from a private submission directory. */
typedef struct run {
    char *dir;
    char plugin[4096], log_path[4200], scratch[4200];
    int log_fd;
    hbx_sandbox *sb;
    hbx_worker *w;     /* the worker that fitted */
    hbx_worker *child; /* a predict worker forked from it, once run_fork() ran */
    hbx_call_record rec;
} run;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(chmod(path, 0644), 0);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_int_eq(chmod(to, 0644), 0);
    ck_assert_msg(in && out, "cannot copy %s to %s", from, to);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

/* Copies the built plugin `name` into a fresh directory with `conf` as its
 * baseline.conf (none when NULL) and starts and loads a worker for it. */
static void run_start(run *r, const char *name, const char *conf)
{
    memset(r, 0, sizeof *r);
    r->dir = test_tmpdir();
    ck_assert_ptr_nonnull(r->dir);
    /* The worker runs under a uid of its own: the submission must be
     * readable by others, the scratch directory writable. */
    ck_assert_int_eq(chmod(r->dir, 0755), 0);
    char built[4096], path[4200];
    snprintf(built, sizeof built, "%s/plugins/%s/%s.so", HBX_TEST_BUILD_DIR, name, name);
    snprintf(r->plugin, sizeof r->plugin, "%s/%s.so", r->dir, name);
    copy_file(built, r->plugin);
    if (conf) {
        snprintf(path, sizeof path, "%s/baseline.conf", r->dir);
        write_file(path, conf);
    }
    snprintf(r->scratch, sizeof r->scratch, "%s/scratch", r->dir);
    ck_assert_int_eq(mkdir(r->scratch, 0700), 0);
    ck_assert_int_eq(chmod(r->scratch, 0777), 0);
    snprintf(r->log_path, sizeof r->log_path, "%s/log", r->dir);
    r->log_fd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ck_assert_int_ge(r->log_fd, 0);
    r->sb = hbx_sandbox_new();
    hbx_sandbox_set_plugin(r->sb, r->plugin);
    hbx_sandbox_set_worker(r->sb, HBX_TEST_WORKER);
    hbx_sandbox_set_scratch_dir(r->sb, r->scratch);
    hbx_sandbox_set_log_fd(r->sb, r->log_fd);
    hbx_plugin_info info;
    ck_assert_int_eq(hbx_worker_spawn(r->sb, &r->w, &r->rec), 0);
    ck_assert_msg(hbx_worker_load(r->w, &info, &r->rec) == 0, "load: %s", r->rec.detail);
    ck_assert_str_eq(info.name, name);
}

/* The worker's log so far (static buffer). */
static const char *run_log(const run *r)
{
    static char text[65536];
    FILE *f = fopen(r->log_path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    return text;
}

/* Fits on the generated training set; returns the verdict. */
static hbx_verdict run_fit(run *r)
{
    hbx_block train;
    hbx_dataset view = hbx_table_view(&g_train);
    ck_assert_int_eq(hbx_block_from_dataset(&train, "train", &view), 0);
    int fd = hbx_block_reader_fd(&train);
    ck_assert_int_ge(fd, 0);
    hbx_worker_fit(r->w, fd, train.size, 300, &r->rec);
    close(fd);
    hbx_block_destroy(&train);
    printf("fit %s in %.2f s (cpu %.2f s), log:\n%s", hbx_verdict_name(r->rec.verdict),
           r->rec.wall_s, r->rec.cpu_s, run_log(r));
    return r->rec.verdict;
}

/* One pseudo-experiment at mu with the given nuisances; asserts the
 * prediction is OK and well-formed, and returns it. */
static hbx_prediction run_predict_nu(run *r, double mu, const hbx_nuisances *nuisances,
                                     uint64_t seed)
{
    hbx_block pe;
    ck_assert_int_eq(hbx_block_create(&pe, "pe", g_capacity, 0), 0);
    hbx_nuisances nu = *nuisances;
    ck_assert_int_eq(hbx_pe_generate(g_pool, mu, &nu, seed, &pe.table, NULL), HBX_OK);
    hbx_block_set_count(&pe, pe.table.n);
    int fd = hbx_block_reader_fd(&pe);
    hbx_prediction out;
    int rc = hbx_worker_predict(r->child ? r->child : r->w, fd, pe.size, 120, &out, &r->rec);
    close(fd);
    hbx_block_destroy(&pe);
    ck_assert_msg(rc == 0, "predict: %s %s; log:\n%s", hbx_verdict_name(r->rec.verdict),
                  r->rec.detail, run_log(r));
    ck_assert(isfinite(out.mu_hat) && isfinite(out.delta_mu_hat));
    ck_assert(isfinite(out.p16) && isfinite(out.p84));
    ck_assert_msg(out.p16 <= out.mu_hat && out.mu_hat <= out.p84 && out.delta_mu_hat >= 0,
                  "malformed: mu_hat %g delta %g [%g, %g]", out.mu_hat, out.delta_mu_hat,
                  out.p16, out.p84);
    printf("  mu=%.1f seed=%llu tes=%.3f: mu_hat %.3f +- %.3f [%.3f, %.3f] (%.2f s)\n", mu,
           (unsigned long long)seed, nu.tes, out.mu_hat, out.delta_mu_hat, out.p16, out.p84,
           r->rec.wall_s);
    return out;
}

/* One pseudo-experiment at mu with the nuisances of `syst` drawn from the
 * seed (HBX_SYST_NONE: nominal). */
static hbx_prediction run_predict(run *r, double mu, unsigned syst, uint64_t seed)
{
    hbx_nuisances nu;
    hbx_pe_draw_nuisances(seed, syst, &nu);
    return run_predict_nu(r, mu, &nu, seed);
}

/* From now on, predictions run in a worker forked from the fitted one, as
 * the host runs them. */
static void run_fork(run *r)
{
    ck_assert_msg(hbx_worker_fork(r->w, &r->child, &r->rec) == 0, "fork: %s %s",
                  hbx_verdict_name(r->rec.verdict), r->rec.detail);
}

/* A PE of only `n` events (the first ones of a nominal PE at mu = 1; n may
 * be 0): far from what any baseline expects, but the answer must stay
 * well-formed. */
static hbx_prediction run_predict_tiny(run *r, uint64_t n)
{
    hbx_block full, tiny;
    ck_assert_int_eq(hbx_block_create(&full, "pe", g_capacity, 0), 0);
    hbx_nuisances nu = hbx_nuisances_nominal();
    ck_assert_int_eq(hbx_pe_generate(g_pool, 1.0, &nu, 77, &full.table, NULL), HBX_OK);
    ck_assert_int_eq(hbx_block_create(&tiny, "tiny", n ? n : 1, 0), 0);
    for (int f = 0; f < HBX_N_FEATURES; f++)
        memcpy(tiny.table.features[f], full.table.features[f], n * sizeof(float));
    hbx_block_set_count(&tiny, n);
    hbx_block_destroy(&full);
    int fd = hbx_block_reader_fd(&tiny);
    hbx_prediction out;
    int rc = hbx_worker_predict(r->child ? r->child : r->w, fd, tiny.size, 60, &out, &r->rec);
    close(fd);
    hbx_block_destroy(&tiny);
    ck_assert_msg(rc == 0, "tiny PE: %s %s", hbx_verdict_name(r->rec.verdict), r->rec.detail);
    ck_assert_msg(out.p16 <= out.mu_hat && out.mu_hat <= out.p84 && out.delta_mu_hat >= 0,
                  "tiny PE: mu_hat %g delta %g [%g, %g]", out.mu_hat, out.delta_mu_hat, out.p16,
                  out.p84);
    printf("  %llu events: mu_hat %.3f [%.3f, %.3f]\n", (unsigned long long)n, out.mu_hat,
           out.p16, out.p84);
    return out;
}

/* How far mu_hat moves when the same PE (same seed, hence the same Poisson
 * draws) has its tau energy scale 2 sigma high: the pure systematic
 * response of the method. */
static double tes_response(run *r)
{
    hbx_nuisances nominal = hbx_nuisances_nominal(), shifted = nominal;
    shifted.tes = 1.02;
    double a = run_predict_nu(r, 2.0, &nominal, 4000).mu_hat;
    double move = run_predict_nu(r, 2.0, &shifted, 4000).mu_hat - a;
    printf("  tes +2 sigma moves mu_hat by %+.3f\n", move);
    return move;
}

static void run_end(run *r)
{
    hbx_worker_destroy(r->child);
    hbx_worker_destroy(r->w);
    hbx_sandbox_destroy(r->sb);
    close(r->log_fd);
    test_rmtree(r->dir);
    free(r->dir);
}

#define N_PE 4
#define MU_LO 0.5
#define MU_HI 3.5

/* Fits, predicts N_PE nominal PEs at MU_LO and at MU_HI and checks that
 * mu_hat follows mu; predicts the first again to check determinism.
 *
 * Only the difference of the means is asserted: the absolute level carries
 * the offset between the expected background estimated from the training
 * split and the one the PE pool really holds, a fixed simulation-statistics
 * error of the small test samples (up to a few tenths in mu here) that
 * every PE shares. The difference (expected 3) carries only the PE's
 * Poisson noise, at most 0.5 per PE for these baselines, so 0.35 per
 * standard deviation of the difference of two means of four: (1.5, 4.5)
 * is over four of them either way. */
static void check_tracks_mu(run *r, hbx_prediction *first)
{
    /* The first PE in the fitted worker itself, the rest in a forked one;
     * the first again there must give the same answer. */
    *first = run_predict(r, MU_LO, HBX_SYST_NONE, 1000);
    run_fork(r);
    double mean[2] = {first->mu_hat / N_PE, 0}, width = (first->p84 - first->p16) / (2 * N_PE);
    for (int k = 0; k < 2; k++) {
        double mu = k == 0 ? MU_LO : MU_HI;
        for (int j = k == 0; j < N_PE; j++) {
            hbx_prediction p = run_predict(r, mu, HBX_SYST_NONE, 1000 + 10 * (uint64_t)k + j);
            mean[k] += p.mu_hat / N_PE;
            width += (p.p84 - p.p16) / (2 * N_PE);
        }
    }
    printf("  mean mu_hat: %.3f at mu = %g, %.3f at mu = %g; mean width %.3f\n", mean[0], MU_LO,
           mean[1], MU_HI, width);
    ck_assert_msg(mean[1] - mean[0] > 1.5 && mean[1] - mean[0] < 4.5,
                  "mu_hat does not track mu: %.3f at mu = %g, %.3f at mu = %g", mean[0], MU_LO,
                  mean[1], MU_HI);
    hbx_prediction again = run_predict(r, MU_LO, HBX_SYST_NONE, 1000);
    ck_assert_msg(memcmp(first, &again, sizeof again) == 0,
                  "same PE, different answers: %.17g, then %.17g in a forked worker",
                  first->mu_hat, again.mu_hat);
}

START_TEST(count_baseline)
{
    run r;
    run_start(&r, "count", NULL);
    ck_assert_int_eq(run_fit(&r), HBX_VERDICT_OK);
    const char *log = run_log(&r);
    ck_assert_msg(strstr(log, "count: region") && strstr(log, "DER_mass_vis"), "log:\n%s", log);
    hbx_prediction first;
    check_tracks_mu(&r, &first);
    run_predict_tiny(&r, 10);
    run_predict_tiny(&r, 0);
    run_end(&r);
}
END_TEST

/* xgb-count end to end; then its saved model, shipped in a fresh submission
 * directory, is loaded instead of retrained and gives the same answers. */
START_TEST(xgb_count_baseline)
{
    run r;
    run_start(&r, "xgb-count", small_conf);
    ck_assert_int_eq(run_fit(&r), HBX_VERDICT_OK);
    const char *log = run_log(&r);
    ck_assert_msg(strstr(log, "classifier: 40 trees of depth 4") && strstr(log, "region score >="),
                  "log:\n%s", log);
    ck_assert_msg(strstr(log, "model saved to"), "log:\n%s", log);
    hbx_prediction first;
    check_tracks_mu(&r, &first);
    run_predict_tiny(&r, 10);
    run_predict_tiny(&r, 0);
    /* Stat-only: a 2% tau energy scale shift moves the count above the
     * threshold by several stat-only errors (+4.3 in mu when written). */
    double move = tes_response(&r);
    ck_assert_msg(fabs(move) > 1.5, "tes +2 sigma moved xgb-count by only %+.3f", move);

    run shipped;
    run_start(&shipped, "xgb-count", small_conf);
    char from[4300], to[4300];
    snprintf(from, sizeof from, "%s/classifier.ubj", r.scratch);
    snprintf(to, sizeof to, "%s/classifier.ubj", shipped.dir);
    copy_file(from, to);
    run_end(&r);
    ck_assert_int_eq(run_fit(&shipped), HBX_VERDICT_OK);
    log = run_log(&shipped);
    ck_assert_msg(strstr(log, "classifier: loaded") && !strstr(log, "trees of depth"), "log:\n%s",
                  log);
    hbx_prediction p = run_predict(&shipped, MU_LO, HBX_SYST_NONE, 1000);
    ck_assert_msg(memcmp(&first, &p, sizeof p) == 0, "shipped model: %.6f, trained: %.6f",
                  p.mu_hat, first.mu_hat);
    run_end(&shipped);
}
END_TEST

/* Fit with one thread and with two, predict with one and with three: the
 * classifier and the answers do not depend on the thread counts. */
START_TEST(xgb_count_threads)
{
    hbx_prediction p[2];
    for (int k = 0; k < 2; k++) {
        char conf[512];
        snprintf(conf, sizeof conf, "%sfit_threads = %d\npredict_threads = %d\n", small_conf,
                 k ? 2 : 1, k ? 3 : 1);
        run r;
        run_start(&r, "xgb-count", conf);
        ck_assert_int_eq(run_fit(&r), HBX_VERDICT_OK);
        ck_assert_ptr_nonnull(strstr(run_log(&r), k ? "with 2 threads" : "with 1 threads"));
        run_fork(&r);
        p[k] = run_predict(&r, 2.0, HBX_SYST_ALL, 3000);
        run_end(&r);
    }
    ck_assert_msg(memcmp(&p[0], &p[1], sizeof p[0]) == 0, "1 thread: %.6f, 2 threads: %.6f",
                  p[0].mu_hat, p[1].mu_hat);
}
END_TEST

/* The uncertainty-aware baseline: tracks mu, and with every systematic on
 * its answer stays well-formed and sane. */
START_TEST(profile_baseline)
{
    run r;
    run_start(&r, "profile", small_conf);
    ck_assert_int_eq(run_fit(&r), HBX_VERDICT_OK);
    const char *log = run_log(&r);
    ck_assert_msg(strstr(log, "profile: expected interval at mu = 1"), "log:\n%s", log);
    hbx_prediction first;
    check_tracks_mu(&r, &first);
    for (int j = 0; j < 2; j++) {
        hbx_prediction p = run_predict(&r, 2.0, HBX_SYST_ALL, 2000 + (uint64_t)j);
        ck_assert_msg(fabs(p.mu_hat - 2.0) < 3.0, "mu_hat %.3f at mu = 2", p.mu_hat);
    }
    run_predict_tiny(&r, 0);
    run_predict_tiny(&r, 10);
    run_predict_tiny(&r, 1000);
    /* Profiled, the same shift is absorbed by the tes nuisance: -0.11 in mu
     * when written, against +4.3 for xgb-count on the same events. */
    double move = tes_response(&r);
    ck_assert_msg(fabs(move) < 0.6, "tes +2 sigma moved profile by %+.3f", move);
    run_end(&r);
}
END_TEST

/* A bad baseline.conf fails fit with one line naming file, line and key. */
START_TEST(bad_config)
{
    run r;
    run_start(&r, "count", "seed = 1\ntrees = many\n");
    hbx_verdict v = run_fit(&r);
    ck_assert_int_ne(v, HBX_VERDICT_OK);
    const char *log = run_log(&r);
    ck_assert_msg(strstr(log, "baseline.conf:2: trees: expected an integer"), "log:\n%s", log);
    run_end(&r);
}
END_TEST

/* -2 ln of the profile likelihood ratio of the counting model at mu, by
 * brute force: the background scanned finely around its profiled value
 * (an independent check of the closed form in counting.c). */
static double count_q_scan(double mu, double n, double s, double b, double v)
{
    double best = INFINITY;
    const double sd = sqrt(v);
    for (int k = -200000; k <= 200000; k++) {
        double beta = b + sd * 8.0 * k / 200000.0;
        double nu = mu * s + beta;
        if (!(nu > 0))
            continue;
        double q = 2.0 * (nu - n + n * log(n / nu)) + (beta - b) * (beta - b) / v;
        if (q < best)
            best = q;
    }
    return best;
}

START_TEST(count_interval_statistics)
{
    hbx_prediction p;
    /* b known exactly: the Poisson likelihood-ratio interval; for n = 1e6
     * it is the Gaussian one, sqrt(n)/s on each side, to 0.1 %. */
    ck_assert_int_eq(bl_count_estimate(1e6, 1000.0, 9e5, 0.0, &p), HBX_OK);
    ck_assert_double_eq_tol(p.mu_hat, 100.0, 1e-9);
    ck_assert_double_eq_tol(p.mu_hat - p.p16, 1.0, 1e-3);
    ck_assert_double_eq_tol(p.p84 - p.mu_hat, 1.0, 1e-3);
    /* The simulation's variance of b adds in quadrature: with b_var = n the
     * half-width grows by sqrt(2). */
    ck_assert_int_eq(bl_count_estimate(1e6, 1000.0, 9e5, 1e6, &p), HBX_OK);
    ck_assert_double_eq_tol(p.mu_hat, 100.0, 1e-9);
    ck_assert_double_eq_tol(p.delta_mu_hat, sqrt(2.0), 2e-3);
    /* Small counts: the ends are where the profiled -2 ln(L/Lmax) is 1,
     * checked against a brute-force scan of the background. */
    ck_assert_int_eq(bl_count_estimate(12.0, 3.0, 7.0, 4.0, &p), HBX_OK);
    ck_assert_double_eq_tol(p.mu_hat, 5.0 / 3.0, 1e-12);
    ck_assert_double_eq_tol(count_q_scan(p.p16, 12.0, 3.0, 7.0, 4.0), 1.0, 1e-4);
    ck_assert_double_eq_tol(count_q_scan(p.p84, 12.0, 3.0, 7.0, 4.0), 1.0, 1e-4);
    ck_assert(p.p16 < p.mu_hat && p.mu_hat < p.p84);
    /* A vanishing b_var gives back the exact-b interval. */
    hbx_prediction exact;
    ck_assert_int_eq(bl_count_estimate(12.0, 3.0, 7.0, 0.0, &exact), HBX_OK);
    ck_assert_int_eq(bl_count_estimate(12.0, 3.0, 7.0, 1e-9, &p), HBX_OK);
    ck_assert_double_eq_tol(p.p16, exact.p16, 1e-6);
    ck_assert_double_eq_tol(p.p84, exact.p84, 1e-6);
    /* Nothing counted. */
    ck_assert_int_eq(bl_count_estimate(0.0, 3.0, 7.0, 4.0, &p), HBX_OK);
    ck_assert(p.p16 < p.mu_hat && p.mu_hat < p.p84);
    ck_assert_int_eq(bl_count_estimate(12.0, 3.0, 7.0, -1.0, &p), HBX_E_INVALID);
    ck_assert_int_eq(bl_count_estimate(12.0, 0.0, 7.0, 1.0, &p), HBX_E_INVALID);
}
END_TEST

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines survive a failing test */
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = 600000;
    o.seed = 7;
    o.test_fraction = 0.5;
    char err[512];
    if (hbx_generate(&o, &g_train, &g_test, err, sizeof err) != 0 ||
        hbx_pe_pool_create(&g_pool, &g_test, err, sizeof err) != HBX_OK) {
        fprintf(stderr, "test data: %s\n", err);
        return 1;
    }
    hbx_table_free(&g_test);
    g_capacity = hbx_pe_capacity(g_pool, MU_HI);
    Suite *s = suite_create("baselines");
    TCase *tc = tcase_create("plugins");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, count_interval_statistics);
    tcase_add_test(tc, count_baseline);
    tcase_add_test(tc, xgb_count_baseline);
    tcase_add_test(tc, xgb_count_threads);
    tcase_add_test(tc, profile_baseline);
    tcase_add_test(tc, bad_config);
    suite_add_tcase(s, tc);
    int rc = test_main(s);
    hbx_pe_pool_destroy(g_pool);
    hbx_table_free(&g_train);
    return rc;
}
