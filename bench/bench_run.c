/*
 * Evaluation-run throughput: the constant plugin (which does no work), so
 * what is measured is the platform: PE generation, the hand-over to a
 * worker, verdicts and records. 10 sets × 100 PEs from a pool of 5 M
 * generated events (about 1.5 M in the test split; every PE still holds
 * ~1 M events), with 1 and then 2 workers.
 *
 * usage: bench_run [EVENTS] [SETS] [PES_PER_SET]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "higgsbox/generator.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/run.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(const char *plugin, const char *data, const char *dir, unsigned workers,
               unsigned sets, unsigned n_pe, hbx_run_summary *s)
{
    hbx_run *r = hbx_run_new();
    hbx_run_set_plugin(r, plugin);
    hbx_run_set_data(r, data);
    hbx_run_set_output(r, dir);
    hbx_run_set_worker(r, HBX_BENCH_WORKER);
    hbx_run_set_workers(r, workers);
    hbx_run_set_sets(r, sets);
    hbx_run_set_pseudo_experiments(r, n_pe);
    hbx_run_set_mu_random(r);
    char err[1024];
    int rc = hbx_run_execute(r, s, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "bench_run: %s\n", err);
    hbx_run_destroy(r);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
    unsigned sets = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
    unsigned n_pe = argc > 3 ? (unsigned)atoi(argv[3]) : 100;
    char dir[] = "/tmp/hbx-bench-run-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char data[256], plugin[512], out1[256], out2[256];
    snprintf(data, sizeof data, "%s/pool.h5", dir);
    snprintf(out1, sizeof out1, "%s/w1", dir);
    snprintf(out2, sizeof out2, "%s/w2", dir);
    snprintf(plugin, sizeof plugin, "%s/constant/constant.so", HBX_BENCH_PLUGINS);
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = events;
    o.seed = 1;
    o.threads = 2;
    char err[512];
    double t0 = now_s();
    if (hbx_generate_file(&o, data, err, sizeof err) != 0) {
        fprintf(stderr, "bench_run: %s\n", err);
        return 1;
    }
    printf("pool: %llu events generated in %.1f s\n", (unsigned long long)events, now_s() - t0);
    hbx_run_summary s1, s2;
    unsigned total = sets * n_pe;
    if (run(plugin, data, out1, 1, sets, n_pe, &s1) != 0 ||
        run(plugin, data, out2, 2, sets, n_pe, &s2) != 0)
        return 1;
    const hbx_run_summary *s[2] = {&s1, &s2};
    printf("%u sets x %u PEs, constant plugin\n", sets, n_pe);
    printf("%-8s %9s %9s %12s %12s %12s %12s\n", "workers", "total_s", "PE/s", "gen_ms/PE",
           "predict_ms", "fit_s", "overhead_ms");
    for (int i = 0; i < 2; i++) {
        double per = (s[i]->total_s - s[i]->fit_s - s[i]->setup_s) / total * 1e3;
        printf("%-8d %9.2f %9.1f %12.2f %12.2f %12.2f %12.2f\n", i + 1, s[i]->total_s,
               total / (s[i]->total_s - s[i]->fit_s - s[i]->setup_s), s[i]->generate_s / total * 1e3,
               s[i]->predict_s / total * 1e3, s[i]->fit_s, per);
    }
    double speedup = (s1.total_s - s1.fit_s - s1.setup_s) / (s2.total_s - s2.fit_s - s2.setup_s);
    printf("speed-up 1 -> 2 workers: %.2fx (ideal 2.00x)\n", speedup);
    printf("host time per PE (1 worker) = generation %.2f ms + predict round trip %.2f ms; "
           "the rest (%.2f ms) is scheduling, records and output; set-up (data load, pool) %.2f s\n",
           s1.generate_s / total * 1e3, s1.predict_s / total * 1e3,
           ((s1.total_s - s1.fit_s - s1.setup_s) - s1.generate_s - s1.predict_s) / total * 1e3, s1.setup_s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
