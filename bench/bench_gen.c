/*
 * Toy generator throughput: `higgsbox gen` in memory and to a dataset file,
 * with 1 and 2 threads, against two baselines measured in the same run:
 *  - the raw random-number rate (xoshiro256** draws per second on one
 *    thread): the generator's cost per event in raw draws says how much
 *    physics it does per random number;
 *  - a memset of the output's size (features, weights, labels, process):
 *    the least any producer of that many events must spend.
 * Also prints, per process, the candidates made per accepted event (the
 * selection's acceptance) and the single-thread cost per event.
 *
 * usage: bench_gen [EVENTS] [DIR]    (default 2000000 events, files in /tmp)
 * The machine may be shared: in-memory rates are the best of three runs, and
 * the CPU seconds of each run are printed too (events per CPU-second times
 * the thread count is what an idle machine would give, scaling allowing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../host/src/generator_internal.h"
#include "higgsbox/higgsbox.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds used by the whole process so far (all threads). */
static double process_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Raw draws per second (one thread). */
static double rng_rate(void)
{
    hbx_gen_rng r;
    hbx_gen_rng_init(&r, 1, 0);
    const long n = 200000000;
    uint64_t acc = 0;
    double t0 = now();
    for (long i = 0; i < n; i++)
        acc ^= hbx_gen_u64(&r);
    double dt = now() - t0;
    if (acc == 42) /* keeps the loop */
        puts("");
    return (double)n / dt;
}

/* Seconds to memset `bytes` (already touched once, so no page faults). */
static double memset_time(size_t bytes)
{
    unsigned char *p = malloc(bytes);
    if (!p)
        return 0;
    memset(p, 1, bytes);
    double best = 1e30;
    for (int k = 0; k < 3; k++) {
        double t0 = now();
        memset(p, k, bytes);
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    if (p[bytes / 2] == 7)
        puts("");
    free(p);
    return best;
}

/* Best wall time of three runs; *cpu gets that run's CPU seconds. */
static double in_memory(const hbx_gen_options *o, double *cpu)
{
    double best = 1e30;
    for (int k = 0; k < 3; k++) {
        hbx_table train, test;
        char err[512];
        double c0 = process_cpu();
        double t0 = now();
        if (hbx_generate(o, &train, &test, err, sizeof err) != 0) {
            fprintf(stderr, "bench_gen: %s\n", err);
            exit(1);
        }
        double dt = now() - t0;
        if (dt < best) {
            best = dt;
            *cpu = process_cpu() - c0;
        }
        hbx_table_free(&train);
        hbx_table_free(&test);
    }
    return best;
}

static double to_file(const hbx_gen_options *o, const char *path, double *cpu)
{
    char err[512];
    double c0 = process_cpu();
    double t0 = now();
    if (hbx_generate_file(o, path, err, sizeof err) != 0) {
        fprintf(stderr, "bench_gen: %s\n", err);
        exit(1);
    }
    double dt = now() - t0;
    *cpu = process_cpu() - c0;
    unlink(path);
    return dt;
}

int main(int argc, char **argv)
{
    uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (events == 0) {
        fprintf(stderr, "usage: bench_gen [EVENTS] [DIR]\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_gen_%d.h5", dir, (int)getpid());

    size_t bytes = (size_t)events * (HBX_N_FEATURES * sizeof(float) + sizeof(double) + 2);
    double draws = rng_rate();
    double fill = memset_time(bytes);
    printf("bench_gen: %llu events, seed 42, block %d\n", (unsigned long long)events,
           HBX_GEN_BLOCK);
    printf("baseline: %.0f M raw draws/s (1 thread); memset of the %.0f MB output %.3f s\n",
           draws / 1e6, (double)bytes / 1e6, fill);

    /* Per process: acceptance and cost on one thread. */
    hbx_gen_physics *ph = hbx_gen_physics_new();
    if (!ph)
        return 1;
    printf("\n%-9s %22s %16s\n", "process", "candidates per event", "ns/event (1 thr)");
    for (int p = 0; p < HBX_N_PROCESSES; p++) {
        hbx_gen_rng r;
        hbx_gen_rng_init(&r, 42, (uint64_t)p);
        float pri[HBX_N_PRIMARY];
        const int n = 200000;
        uint64_t tries = 0;
        double t0 = cpu_now();
        for (int i = 0; i < n; i++)
            tries += hbx_gen_event(ph, &r, p, pri);
        double dt = cpu_now() - t0;
        printf("%-9s %22.2f %16.0f\n", hbx_process_name(p), (double)tries / n, dt / n * 1e9);
    }
    free(ph);

    printf("\n%-24s %9s %11s %9s %14s %16s %14s\n", "", "seconds", "M events/s", "CPU s",
           "M events/CPU-s", "raw draws/event", "x memset time");
    for (int mode = 0; mode < 2; mode++) {
        for (int threads = 1; threads <= 2; threads++) {
            hbx_gen_options o;
            hbx_gen_options_default(&o);
            o.events = events;
            o.threads = threads;
            double cpu = 0;
            double dt = mode == 0 ? in_memory(&o, &cpu) : to_file(&o, path, &cpu);
            char label[64];
            snprintf(label, sizeof label, "%s, %d thread%s", mode ? "to file" : "in memory",
                     threads, threads > 1 ? "s" : "");
            printf("%-24s %9.3f %11.2f %9.3f %14.2f %16.0f %14.0f\n", label, dt,
                   (double)events / dt / 1e6, cpu, (double)events / cpu / 1e6,
                   cpu * draws / (double)events, fill > 0 ? dt / fill : 0.0);
        }
    }
    return 0;
}
