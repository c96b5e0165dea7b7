/*
 * Toy generator throughput: `higgsbox gen` in memory and to a dataset file,
 * with 1 and 2 threads, against baselines measured in the same run:
 *  - the raw random-number rate (xoshiro256** draws per second on one
 *    thread): the generator's cost per event in raw draws says how much
 *    physics it does per random number;
 *  - a memset of the output's size (features, weights, labels, process):
 *    the least any producer of that many events must spend;
 *  - the same events written by HDF5's own filter pipeline (shuffle +
 *    zlib level 1 inside H5Dwrite, one thread: how the writer worked
 *    before it deflated chunks itself): the file rates and sizes are
 *    compared with it;
 *  - the same events' chunks compressed without HDF5 on one thread by
 *    hbx_deflate_values, with the writer's deflater (hbx_deflater_new:
 *    ISA-L's igzip) and with zlib alone in several settings (Huffman-only,
 *    close to what the writer did before igzip; level 1 with the default
 *    strategy, as HDF5's filter does; level 1 with Z_RLE): the choice in
 *    dataset_deflate.c rests on them.
 * Also prints, per process, the candidates made per accepted event (the
 * selection's acceptance) and the single-thread cost per event.
 *
 * usage: bench_gen [EVENTS] [DIR]    (default 2000000 events, files in /tmp)
 * The machine may be shared: every rate is the best of three runs, and the
 * CPU seconds of that run are printed too (events per CPU-second times the
 * thread count is what an idle machine would give, scaling allowing).
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../host/src/dataset_deflate.h"
#include "../host/src/dataset_internal.h"
#include "../host/src/generator_internal.h"
#include "higgsbox/higgsbox.h"

enum { RUNS = 3 };

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

static double file_mb(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
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

/* One timed run: wall seconds, CPU seconds and file size. */
typedef struct run {
    double wall, cpu, mb;
} run;

static run in_memory_once(const hbx_gen_options *o)
{
    hbx_table train, test;
    char err[512];
    double c0 = process_cpu(), t0 = now();
    if (hbx_generate(o, &train, &test, err, sizeof err) != 0) {
        fprintf(stderr, "bench_gen: %s\n", err);
        exit(1);
    }
    run r = {now() - t0, process_cpu() - c0, 0.0};
    hbx_table_free(&train);
    hbx_table_free(&test);
    return r;
}

static run to_file_once(const hbx_gen_options *o, const char *path)
{
    char err[512];
    double c0 = process_cpu(), t0 = now();
    if (hbx_generate_file(o, path, err, sizeof err) != 0) {
        fprintf(stderr, "bench_gen: %s\n", err);
        exit(1);
    }
    run r = {now() - t0, process_cpu() - c0, file_mb(path)};
    unlink(path);
    return r;
}

/* The previous writer's way: the tables through HDF5's shuffle + deflate
 * (level 1) filters, chunk by chunk, on one thread. */
static run hdf5_filters_once(const hbx_table **split, const char *path)
{
    double c0 = process_cpu(), t0 = now();
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int ok = file >= 0;
    for (int s = 0; ok && s < 2; s++) {
        hid_t group = H5Gcreate2(file, s ? "test" : "train", H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT);
        ok = group >= 0;
        for (int c = 0; ok && c < HBX_N_COLUMNS; c++) {
            hsize_t n = split[s]->n, chunk = HBX_DATASET_CHUNK, dims = n;
            hid_t space = H5Screate_simple(1, &dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
            hid_t ftype = hbx_h5_file_type(c), mtype = hbx_h5_mem_type(c);
            H5Pset_chunk(dcpl, 1, &chunk);
            if (hbx_column_size(c) > 1)
                H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 1);
            hid_t d = H5Dcreate2(group, hbx_column_name(c), ftype, space, H5P_DEFAULT, dcpl,
                                 H5P_DEFAULT);
            ok = d >= 0 && (n == 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                               hbx_table_column(split[s], c)) >= 0);
            if (d >= 0)
                H5Dclose(d);
            H5Tclose(ftype);
            H5Tclose(mtype);
            H5Pclose(dcpl);
            H5Sclose(space);
        }
        if (group >= 0)
            H5Gclose(group);
    }
    if (file >= 0 && H5Fclose(file) < 0)
        ok = 0;
    if (!ok) {
        fprintf(stderr, "bench_gen: cannot write %s through HDF5\n", path);
        exit(1);
    }
    run r = {now() - t0, process_cpu() - c0, file_mb(path)};
    unlink(path);
    return r;
}

/* A way of compressing chunks: the writer's, or zlib with other settings. */
typedef struct method {
    const char *name;
    int writer; /* hbx_deflater_new's setting; else level and strategy */
    int level, strategy;
} method;

static const method methods[] = {
    {"the writer's (igzip level 1)", 1, 0, 0},
    {"zlib Huffman-only", 0, 1, Z_HUFFMAN_ONLY},
    {"zlib level 1", 0, 1, Z_DEFAULT_STRATEGY},
    {"zlib level 1, Z_RLE", 0, 1, Z_RLE},
};
enum { N_METHODS = sizeof methods / sizeof methods[0] };

/* Every chunk of every column compressed by `m`, one thread, no HDF5. */
static run encoder_once(const hbx_table **split, const method *m)
{
    unsigned char *out = malloc(hbx_deflate_bound(HBX_DATASET_CHUNK, sizeof(double)));
    hbx_deflater *d = m->writer ? hbx_deflater_new() : hbx_deflater_new_with(m->level, m->strategy);
    if (!out || !d)
        exit(1);
    double bytes = 0, c0 = process_cpu(), t0 = now();
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < HBX_N_COLUMNS; c++) {
            size_t sz = hbx_column_size(c);
            const char *col = hbx_table_column(split[s], c);
            for (uint64_t at = 0; at < split[s]->n; at += HBX_DATASET_CHUNK) {
                uint64_t n = split[s]->n - at < HBX_DATASET_CHUNK ? split[s]->n - at
                                                                   : HBX_DATASET_CHUNK;
                size_t len = hbx_deflate_values(d, col + at * sz, n, HBX_DATASET_CHUNK - n, sz,
                                                out);
                if (len == 0) {
                    fprintf(stderr, "bench_gen: %s failed\n", m->name);
                    exit(1);
                }
                bytes += (double)len;
            }
        }
    run r = {now() - t0, process_cpu() - c0, bytes / 1e6};
    hbx_deflater_free(d);
    free(out);
    return r;
}

/* What a timed run needs. */
typedef struct ctx {
    const hbx_gen_options *o;
    const char *path;
    const hbx_table **split;
    const method *m;
} ctx;

static run do_in_memory(const ctx *c)
{
    return in_memory_once(c->o);
}

static run do_to_file(const ctx *c)
{
    return to_file_once(c->o, c->path);
}

static run do_hdf5_filters(const ctx *c)
{
    return hdf5_filters_once(c->split, c->path);
}

static run do_encoder(const ctx *c)
{
    return encoder_once(c->split, c->m);
}

/* Best of RUNS by wall time. */
static run best_of(run (*f)(const ctx *), const ctx *c)
{
    run best = {1e30, 0, 0};
    for (int k = 0; k < RUNS; k++) {
        run r = f(c);
        if (r.wall < best.wall)
            best = r;
    }
    return best;
}

static void print_row(const char *label, run r, uint64_t events, double draws, double fill,
                      double versus, const char *versus_name)
{
    printf("%-22s %8.3f %8.2f %8.3f %10.2f %10.0f %8.0f %9.1f", label, r.wall,
           (double)events / r.wall / 1e6, r.cpu, (double)events / r.cpu / 1e6,
           r.cpu * draws / (double)events, fill > 0 ? r.wall / fill : 0.0, r.mb);
    if (versus > 0)
        printf("   x%.2f %s", versus / r.wall, versus_name);
    printf("\n");
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
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    size_t bytes = (size_t)events * (HBX_N_FEATURES * sizeof(float) + sizeof(double) + 2);
    double draws = rng_rate();
    double fill = memset_time(bytes);
    printf("bench_gen: %llu events, seed 42, block %d, chunk %d, %ld CPUs online\n",
           (unsigned long long)events, HBX_GEN_BLOCK, HBX_DATASET_CHUNK,
           sysconf(_SC_NPROCESSORS_ONLN));
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

    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = events;
    o.threads = 2;
    hbx_table train, test;
    char err[512];
    if (hbx_generate(&o, &train, &test, err, sizeof err) != 0) {
        fprintf(stderr, "bench_gen: %s\n", err);
        return 1;
    }
    const hbx_table *split[2] = {&train, &test};
    ctx c = {&o, path, split, NULL};
    run lib = best_of(do_hdf5_filters, &c);
    printf("baseline: the same events through HDF5's shuffle + zlib-1 filters (1 thread) "
           "%.3f s, %.1f MB (%.2f M events/s)\n",
           lib.wall, lib.mb, (double)events / lib.wall / 1e6);
    double padded = 0; /* bytes of the whole chunks, last ones padded with zeros */
    for (int s = 0; s < 2; s++)
        padded += (double)((split[s]->n + HBX_DATASET_CHUNK - 1) / HBX_DATASET_CHUNK *
                           HBX_DATASET_CHUNK) *
                  (double)(HBX_N_FEATURES * sizeof(float) + sizeof(double) + 2);
    printf("\nthe chunks compressed alone (1 thread, no HDF5; %.0f MB of values, %.0f MB "
           "with the padding):\n",
           (double)bytes / 1e6, padded / 1e6);
    printf("%-34s %8s %8s %8s %10s\n", "", "seconds", "MB/s", "CPU s", "chunks MB");
    for (int k = 0; k < N_METHODS; k++) {
        c.m = &methods[k];
        run r = best_of(do_encoder, &c);
        printf("%-34s %8.3f %8.0f %8.3f %10.1f\n", methods[k].name, r.wall,
               (double)bytes / r.wall / 1e6, r.cpu, r.mb);
    }
    hbx_table_free(&train);
    hbx_table_free(&test);

    printf("\n%-22s %8s %8s %8s %10s %10s %8s %9s\n", "", "seconds", "M ev/s", "CPU s",
           "M ev/CPU-s", "draws/ev", "x memset", "file MB");
    run mem[3] = {{0}};
    for (int threads = 1; threads <= 2; threads++) {
        o.threads = threads;
        mem[threads] = best_of(do_in_memory, &c);
        char label[64];
        snprintf(label, sizeof label, "in memory, %d thread%s", threads, threads > 1 ? "s" : "");
        print_row(label, mem[threads], events, draws, fill, 0, "");
    }
    for (int threads = 1; threads <= 2; threads++) {
        o.threads = threads;
        run r = best_of(do_to_file, &c);
        char label[64];
        snprintf(label, sizeof label, "to file, %d thread%s", threads, threads > 1 ? "s" : "");
        print_row(label, r, events, draws, fill, lib.wall + mem[threads].wall,
                  "vs generate + HDF5 filters");
        if (threads == 2)
            printf("\nto file / in memory (2 threads): %.2f of the rate; file %.1f MB, x%.3f the "
                   "size HDF5's filters give\n",
                   mem[2].wall / r.wall, r.mb, r.mb / lib.mb);
    }
    return 0;
}
