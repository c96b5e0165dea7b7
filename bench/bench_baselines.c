/*
 * The baseline plugins end to end, as the host runs them: fit time, predict
 * time per pseudo-experiment, and what the intervals are worth (coverage,
 * width, bias) with systematics off and on. Predict times are compared with
 * the constant plugin's, measured in the same run: that is the cost of the
 * transport alone (block mapping, protocol), so the ratio shows what each
 * algorithm adds.
 *
 * usage: bench_baselines [EVENTS [N_PE [SEED [PLUGIN...]]]]
 *   EVENTS generated toy events, half training set, half PE pool (2000000)
 *   N_PE   pseudo-experiments per (plugin, systematics) pair (20)
 *   SEED   generator seed (42)
 *   PLUGIN among count, xgb-count, profile (all three)
 * The plugins run from the build tree with their default configuration.
 */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "higgsbox/generator.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/pe.h"

static hbx_pe_pool *g_pool;
static uint64_t g_capacity;
static hbx_block g_train;

static int remove_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct summary {
    int ok, covered;
    double width, bias, bias2, predict_s;
} summary;

/* Starts, loads and fits `name`; returns the worker or NULL. */
static hbx_worker *start(const char *name, const char *scratch, double *fit_s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s.so", HBX_BENCH_PLUGINS, name, name);
    hbx_sandbox *sb = hbx_sandbox_new();
    hbx_sandbox_set_plugin(sb, path);
    hbx_sandbox_set_worker(sb, HBX_BENCH_WORKER);
    hbx_sandbox_set_scratch_dir(sb, scratch);
    hbx_sandbox_set_log_fd(sb, 2);
    hbx_worker *w = NULL;
    hbx_call_record rec;
    hbx_plugin_info info;
    int fd = hbx_block_reader_fd(&g_train);
    int ok = hbx_worker_spawn(sb, &w, &rec) == 0 && hbx_worker_load(w, &info, &rec) == 0 &&
             hbx_worker_fit(w, fd, g_train.size, 3600, &rec) == 0;
    close(fd);
    hbx_sandbox_destroy(sb);
    *fit_s = rec.wall_s;
    if (!ok) {
        char d[600];
        hbx_call_record_describe(&rec, d, sizeof d);
        fprintf(stderr, "%s: %s %s\n", name, d, rec.detail);
        hbx_worker_destroy(w);
        return NULL;
    }
    return w;
}

/* n_pe PEs at mu with the nuisances of `syst` drawn per PE. */
static void run_pes(hbx_worker *w, unsigned syst, int n_pe, double mu, summary *s)
{
    memset(s, 0, sizeof *s);
    hbx_block pe;
    if (hbx_block_create(&pe, "pe", g_capacity, 0) != 0)
        return;
    for (int j = 0; j < n_pe; j++) {
        uint64_t seed = hbx_pe_seed(4242, syst ? 1 : 0, (unsigned)n_pe, (unsigned)j);
        hbx_nuisances nu;
        hbx_pe_draw_nuisances(seed, syst, &nu);
        if (hbx_pe_generate(g_pool, mu, &nu, seed, &pe.table, NULL) != HBX_OK)
            continue;
        hbx_block_set_count(&pe, pe.table.n);
        int fd = hbx_block_reader_fd(&pe);
        hbx_prediction out;
        hbx_call_record rec;
        int rc = hbx_worker_predict(w, fd, pe.size, 600, &out, &rec);
        close(fd);
        if (rc != 0) {
            fprintf(stderr, "  predict failed: %s %s\n", hbx_verdict_name(rec.verdict),
                    rec.detail);
            continue;
        }
        s->ok++;
        s->covered += out.p16 <= mu && mu <= out.p84;
        s->width += out.p84 - out.p16;
        s->bias += out.mu_hat - mu;
        s->bias2 += (out.mu_hat - mu) * (out.mu_hat - mu);
        s->predict_s += rec.wall_s;
    }
    hbx_block_destroy(&pe);
    if (s->ok) {
        s->width /= s->ok;
        s->bias /= s->ok;
        s->bias2 /= s->ok;
        s->predict_s /= s->ok;
    }
}

int main(int argc, char **argv)
{
    uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    int n_pe = argc > 2 ? atoi(argv[2]) : 20;
    const char *all[] = {"count", "xgb-count", "profile"};
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 42;
    const char **names = argc > 4 ? (const char **)argv + 4 : all;
    int n_names = argc > 4 ? argc - 4 : 3;
    if (events < 1000 || n_pe < 1) {
        fprintf(stderr,
                "usage: bench_baselines [EVENTS >= 1000 [N_PE >= 1 [SEED [PLUGIN...]]]]\n");
        return 2;
    }
    char scratch[] = "/tmp/hbx-bench-XXXXXX";
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 1;
    }
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = events;
    o.test_fraction = 0.5;
    o.seed = seed;
    hbx_table train = {0}, test = {0};
    char err[512];
    double t0 = now();
    if (hbx_generate(&o, &train, &test, err, sizeof err) != 0 ||
        hbx_pe_pool_create(&g_pool, &test, err, sizeof err) != HBX_OK) {
        fprintf(stderr, "bench_baselines: %s\n", err);
        return 1;
    }
    hbx_dataset view = hbx_table_view(&train);
    if (hbx_block_from_dataset(&g_train, "train", &view) != 0) {
        perror("bench_baselines: training block");
        return 1;
    }
    hbx_table_free(&train);
    hbx_table_free(&test);
    g_capacity = hbx_pe_capacity(g_pool, 3.0);
    printf("data: %llu events (seed %llu) generated in %.1f s; %d PEs per row, mu = 1\n",
           (unsigned long long)events, (unsigned long long)seed, now() - t0, n_pe);

    double fit_s, base_predict = 0;
    hbx_worker *w = start("constant", scratch, &fit_s);
    if (w) {
        summary s;
        run_pes(w, HBX_SYST_NONE, n_pe, 1.0, &s);
        base_predict = s.predict_s;
        hbx_worker_destroy(w);
    }
    printf("baseline: constant plugin predict %.4f s per PE (transport only)\n\n", base_predict);
    printf("%-10s %-5s %7s %9s %8s %8s %7s %7s %9s %7s\n", "plugin", "syst", "fit_s", "coverage",
           "width", "bias", "rmse", "ok", "predict_s", "ratio");
    for (int k = 0; k < n_names; k++) {
        w = start(names[k], scratch, &fit_s);
        if (!w)
            continue;
        for (int syst = 0; syst <= 1; syst++) {
            summary s;
            run_pes(w, syst ? HBX_SYST_ALL : HBX_SYST_NONE, n_pe, 1.0, &s);
            printf("%-10s %-5s %7.2f %9.3f %8.3f %+8.3f %7.3f %4d/%-2d %9.3f %7.1f\n", names[k],
                   syst ? "all" : "none", fit_s, s.ok ? (double)s.covered / s.ok : 0.0, s.width,
                   s.bias, sqrt(s.bias2), s.ok, n_pe, s.predict_s,
                   base_predict > 0 ? s.predict_s / base_predict : 0.0);
            fflush(stdout);
        }
        hbx_worker_destroy(w);
    }
    hbx_block_destroy(&g_train);
    hbx_pe_pool_destroy(g_pool);
    nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
