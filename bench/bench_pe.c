/*
 * Pseudo-experiment generation speed, on one core, against the machine's
 * memory bandwidth and latency measured in the same run.
 *
 *   bench_pe [POOL_EVENTS [PES]]     (defaults: 5000000 events, 10 PEs)
 *
 * The pool is the test split of POOL_EVENTS toy events (hbx_generate, test
 * fraction 1: weights sum to the 10 fb^-1 yields, so a PE holds about 1.05 M
 * events). Every systematic is on (nuisances drawn from each PE's seed), mu = 1.
 * Times are this thread's CPU time (robust to a busy machine); wall time is
 * printed too. Prints: the baselines (memset = pure writes, memcpy, triad;
 * random line reads as the pool is read; the latency of a DRAM read), ms per
 * PE and events/s, the parts of a PE timed alone (SIMD kernel, RNG, output
 * writes) and what recomputing DER from scratch would cost, bytes touched per
 * event against the baselines, and memory: pool, PE buffers, resident set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "higgsbox/generator.h"
#include "higgsbox/pe.h"
#include "higgsbox/rng.h"
#include "higgsbox/systematics_kernel.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU time of this thread: on a machine shared with other work the wall
 * clock also counts time the thread was not running. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Resident set now, bytes (from /proc/self/statm). */
static double rss_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * 4096.0;
}

/* Peak resident set since the last reset_peak(), bytes (VmHWM). */
static double rss_peak(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024.0;
}

/* Resets VmHWM to the current resident set (Linux clear_refs "5"). Returns
 * 0 when the kernel accepted it. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Best of a few runs of the usual bandwidth kernels over `bytes`-sized
 * arrays, GB/s counting the bytes the program asks to move (as STREAM does;
 * write-allocate traffic not counted). */
typedef struct bandwidth {
    double memset_gbs, memcpy_gbs, triad_gbs;
} bandwidth;

static bandwidth measure_bandwidth(size_t bytes)
{
    bandwidth b = {0, 0, 0};
    char *x = aligned_alloc(64, bytes), *y = aligned_alloc(64, bytes);
    char *z = aligned_alloc(64, bytes);
    if (!x || !y || !z) {
        free(x);
        free(y);
        free(z);
        return b;
    }
    memset(x, 1, bytes);
    memset(y, 2, bytes);
    memset(z, 3, bytes);
    double *a = (double *)x, *bb = (double *)y, *c = (double *)z;
    const size_t n = bytes / sizeof(double);
    for (int rep = 0; rep < 5; rep++) {
        double t = now();
        memset(x, rep, bytes);
        double dt = now() - t;
        if (bytes / dt / 1e9 > b.memset_gbs)
            b.memset_gbs = bytes / dt / 1e9;
        t = now();
        memcpy(y, x, bytes);
        dt = now() - t;
        if (2.0 * bytes / dt / 1e9 > b.memcpy_gbs)
            b.memcpy_gbs = 2.0 * bytes / dt / 1e9;
        t = now();
        for (size_t i = 0; i < n; i++)
            a[i] = bb[i] + 3.0 * c[i];
        dt = now() - t;
        if (3.0 * bytes / dt / 1e9 > b.triad_gbs)
            b.triad_gbs = 3.0 * bytes / dt / 1e9;
    }
    volatile double sink = a[n / 2];
    (void)sink;
    free(x);
    free(y);
    free(z);
    return b;
}

/* Random 64-byte line reads over an array of `bytes` on 2 MiB pages, like
 * the pool: ns per line with the reads prefetched into L1 `ahead` = 16 reads
 * ahead, and into L2 (locality 1) 128 ahead, as the PE generator does; and
 * the latency of one dependent read. */
typedef struct gather {
    double l1_ns, l2_ns, latency_ns;
} gather;

static gather measure_gather(size_t bytes, uint64_t reads)
{
    gather g = {0, 0, 0};
    const size_t huge = (size_t)2 << 20;
    size_t size = (bytes + huge - 1) / huge * huge;
    unsigned char *a = aligned_alloc(huge, size);
    uint64_t *idx = malloc(reads * sizeof *idx);
    if (!a || !idx) {
        free(a);
        free(idx);
        return g;
    }
    madvise(a, size, MADV_HUGEPAGE);
    memset(a, 1, size);
    const uint64_t lines = size / 64;
    for (uint64_t i = 0; i < reads; i++)
        idx[i] = hbx_mix64(i + 1) % lines;
    for (int mode = 0; mode < 2; mode++) {
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            uint64_t acc = 0;
            double t = cpu_now();
            if (mode == 0)
                for (uint64_t i = 0; i < reads; i++) {
                    if (i + 16 < reads)
                        __builtin_prefetch(a + idx[i + 16] * 64);
                    acc += a[idx[i] * 64];
                }
            else
                for (uint64_t i = 0; i < reads; i++) {
                    if (i + 128 < reads)
                        __builtin_prefetch(a + idx[i + 128] * 64, 0, 1);
                    acc += a[idx[i] * 64];
                }
            double dt = cpu_now() - t;
            if (dt < best)
                best = dt;
            volatile uint64_t sink = acc;
            (void)sink;
        }
        *(mode ? &g.l2_ns : &g.l1_ns) = best * 1e9 / (double)reads;
    }
    /* Latency: a cycle through `reads` distinct lines in random order (64
     * MB of them: far more than the caches), each read giving the next. */
    uint64_t *chain = (uint64_t *)a;
    const uint64_t hops = reads < lines ? reads : lines;
    for (uint64_t j = 0; j < hops; j++)
        idx[j] = (j * 2654435761u) % lines; /* distinct: the multiplier is a prime above lines */
    for (uint64_t j = hops - 1; j > 0; j--) {
        const uint64_t k = hbx_mix64(j) % (j + 1), x = idx[j];
        idx[j] = idx[k];
        idx[k] = x;
    }
    for (uint64_t j = 0; j < hops; j++)
        chain[idx[j] * 8] = idx[(j + 1) % hops] * 8;
    uint64_t at = idx[0] * 8;
    double t = now();
    for (uint64_t i = 0; i + 1 < hops; i++)
        at = chain[at];
    g.latency_ns = (now() - t) * 1e9 / (double)(hops - 1);
    volatile uint64_t sink = at;
    (void)sink;
    free(a);
    free(idx);
    return g;
}

/* The SIMD kernel alone (shift + DER, hbx_syst_batch) on `n` prepared events
 * that stay in cache, in batches of random picks: best ns per event. */
static double measure_kernel(const hbx_table *test, const hbx_nuisances *nu)
{
    enum { N = 4096, B = HBX_SYST_BATCH };
    hbx_syst_event *ev = aligned_alloc(64, N * sizeof *ev);
    float(*rows)[HBX_SYST_ROW] = aligned_alloc(64, sizeof(float[HBX_N_FEATURES][HBX_SYST_ROW]));
    if (!ev || !rows) {
        free(ev);
        free(rows);
        return 0;
    }
    unsigned n = 0;
    for (uint64_t i = 0; i < test->n && n < N; i++) {
        float pri[HBX_N_PRIMARY];
        for (int f = 0; f < HBX_N_PRIMARY; f++)
            pri[f] = test->features[f][i];
        n += hbx_syst_prepare(pri, &ev[n]) == 0;
    }
    hbx_syst_params p;
    hbx_syst_params_init(&p, nu);
    const hbx_syst_event *pick[B];
    double gx[B], gy[B];
    hbx_rng r = hbx_rng_at(1, 2);
    for (int i = 0; i < B; i++) {
        gx[i] = hbx_rng_normal(&r);
        gy[i] = hbx_rng_normal(&r);
    }
    double best = 1e30;
    for (int rep = 0; rep < 5 && n > 0; rep++) {
        double t = cpu_now();
        for (int it = 0; it < 200; it++) {
            for (int i = 0; i < B; i++)
                pick[i] = &ev[hbx_rng_below(&r, n)];
            hbx_syst_batch(pick, gx, gy, B, &p, rows, 0, NULL, NULL);
        }
        double dt = cpu_now() - t;
        if (dt < best)
            best = dt;
    }
    free(ev);
    free(rows);
    return best * 1e9 / (200.0 * B);
}

/* The PE's random numbers alone: for `drawn` streams the first word, and two
 * normal deviates for `kept` of them. Best ms. */
static double measure_rng(uint64_t drawn, uint64_t kept)
{
    enum { B = 256 };
    uint64_t state[B], word[B];
    double a[B], b[B];
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t = cpu_now();
        for (uint64_t j = 0; j < drawn; j += B) {
            hbx_rng_first_words(42, j, B, state, word);
            hbx_rng_normal_pairs(state, (unsigned)(B * kept / drawn), a, b);
        }
        double dt = cpu_now() - t;
        if (dt < best)
            best = dt;
    }
    volatile double sink = a[0] + b[1] + (double)word[2];
    (void)sink;
    return best * 1e3;
}

/* Asks for 2 MiB pages over the 2 MiB-aligned inside of each column (before
 * the first touch: pages already mapped stay as they are). */
static void columns_on_huge_pages(hbx_table *t)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    for (int f = 0; f < HBX_N_FEATURES; f++) {
        uintptr_t a = ((uintptr_t)t->features[f] + huge - 1) & ~(huge - 1);
        uintptr_t e = (uintptr_t)(t->features[f] + t->capacity) & ~(huge - 1);
        if (e > a)
            madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
}

static void touch(hbx_table *t)
{
    for (int f = 0; f < HBX_N_FEATURES; f++)
        memset(t->features[f], 0, t->capacity * sizeof(float));
}

int main(int argc, char **argv)
{
    uint64_t pool_events = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
    int n_pe = argc > 2 ? atoi(argv[2]) : 10;
    if (pool_events == 0 || n_pe < 1) {
        fprintf(stderr, "usage: bench_pe [POOL_EVENTS [PES]]\n");
        return 2;
    }
    char err[512];

    printf("bench_pe: pool of %llu generated events, %d PEs, every systematic on, mu = 1, one "
           "core, %d-lane kernel\n\n",
           (unsigned long long)pool_events, n_pe, hbx_kernel_width());
    bandwidth bw = measure_bandwidth((size_t)256 << 20);
    printf("memory bandwidth (256 MiB arrays, best of 5):\n"
           "  memset %6.2f GB/s   memcpy %6.2f GB/s   triad %6.2f GB/s\n",
           bw.memset_gbs, bw.memcpy_gbs, bw.triad_gbs);
    const gather gather_ns =
        measure_gather((size_t)pool_events * sizeof(hbx_syst_event), 1000000);
    printf("random 64 B line reads over a pool-sized array: %.1f ns per line prefetched 16 reads "
           "ahead into L1,\n  %.1f ns prefetched 128 ahead into L2 (as the pool is read); one "
           "dependent read: %.0f ns\n\n",
           gather_ns.l1_ns, gather_ns.l2_ns, gather_ns.latency_ns);

    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = pool_events;
    o.test_fraction = 1.0;
    o.seed = 1;
    hbx_table train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    double t = now();
    if (hbx_generate(&o, &train, &test, err, sizeof err) != 0) {
        fprintf(stderr, "bench_pe: %s\n", err);
        return 1;
    }
    double gen_s = now() - t;
    hbx_table_free(&train);
    t = now();
    hbx_pe_pool *pool;
    if (hbx_pe_pool_create(&pool, &test, err, sizeof err) != HBX_OK) {
        fprintf(stderr, "bench_pe: %s\n", err);
        return 1;
    }
    double pool_s = now() - t;
    hbx_nuisances nu_kernel;
    hbx_pe_draw_nuisances(1000, HBX_SYST_ALL, &nu_kernel);
    const double kernel_ns = measure_kernel(&test, &nu_kernel);
    hbx_table_free(&test);
    const double pool_bytes = (double)hbx_pe_pool_bytes(pool);
    printf("setup: toy generation %.1f s (all cores), pool build %.2f s (one core), pool %.0f MB "
           "(%.0f B/event)\n",
           gen_s, pool_s, pool_bytes / 1e6, pool_bytes / (double)pool_events);

    const uint64_t cap = hbx_pe_capacity(pool, 1.0);
    hbx_table buf[2];
    for (int b = 0; b < 2; b++)
        if (hbx_table_alloc(&buf[b], cap, 0) != HBX_OK) {
            fprintf(stderr, "bench_pe: out of memory\n");
            return 1;
        }
    const double buf_bytes = (double)cap * HBX_N_FEATURES * sizeof(float);
    /* Touch both buffers once so the first PE does not pay page faults that
     * a long-running host would have paid long before. They are on 4 KiB
     * pages, like the host's shared-memory blocks. */
    for (int b = 0; b < 2; b++)
        touch(&buf[b]);

    const double peak_setup = rss_peak();
    const int peak_reset = reset_peak() == 0;
    double *ms = malloc((size_t)n_pe * sizeof *ms), *wall_ms = malloc((size_t)n_pe * sizeof *ms);
    double events = 0, drawn = 0;
    for (int i = 0; i < n_pe; i++) {
        const uint64_t seed = 1000 + (uint64_t)i;
        hbx_nuisances nu;
        hbx_pe_draw_nuisances(seed, HBX_SYST_ALL, &nu);
        hbx_pe_stats st;
        t = now();
        double c = cpu_now();
        int rc = hbx_pe_generate(pool, 1.0, &nu, seed, &buf[i & 1], &st);
        ms[i] = (cpu_now() - c) * 1e3;
        wall_ms[i] = (now() - t) * 1e3;
        if (rc != HBX_OK) {
            fprintf(stderr, "bench_pe: generation failed (%d)\n", rc);
            return 1;
        }
        events += (double)st.kept;
        drawn += (double)st.drawn;
    }
    const double peak_pe = rss_peak();
    const double mean_events = events / n_pe, mean_drawn = drawn / n_pe;
    double total_ms = 0;
    for (int i = 0; i < n_pe; i++)
        total_ms += ms[i];
    qsort(ms, (size_t)n_pe, sizeof *ms, cmp_double);
    qsort(wall_ms, (size_t)n_pe, sizeof *ms, cmp_double);
    /* The breakdown uses the best PE: the least disturbed by other work. */
    const double best = ms[0], median = ms[n_pe / 2];

    /* DER recomputed from scratch on a PE already in a buffer (in place):
     * what the generator's output would cost without the fixed terms. */
    hbx_table *last = &buf[(n_pe - 1) & 1];
    double der_ms = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        t = cpu_now();
        hbx_derive_columns(last->features, last->n);
        double d = (cpu_now() - t) * 1e3;
        if (d < der_ms)
            der_ms = d;
    }
    /* Pure writes of a PE's 28 columns: the floor for the output alone. */
    double write_ms = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        t = cpu_now();
        for (int f = 0; f < HBX_N_FEATURES; f++)
            memset(last->features[f], rep, last->n * sizeof(float));
        double d = (cpu_now() - t) * 1e3;
        if (d < write_ms)
            write_ms = d;
    }
    const double rng_ms = measure_rng((uint64_t)mean_drawn, (uint64_t)mean_events);
    const double kernel_ms = kernel_ns * mean_events * 1e-6;

    /* The same PEs into a buffer on 2 MiB pages (freed and made again, so
     * still two buffers): what huge-page shared memory would give. */
    hbx_table_free(&buf[1]);
    double huge_ms = 1e30;
    if (hbx_table_alloc(&buf[1], cap, 0) == HBX_OK) {
        columns_on_huge_pages(&buf[1]);
        touch(&buf[1]);
        for (int i = 0; i < n_pe && i < 10; i++) {
            const uint64_t seed = 1000 + (uint64_t)i;
            hbx_nuisances nu;
            hbx_pe_draw_nuisances(seed, HBX_SYST_ALL, &nu);
            double c = cpu_now();
            if (hbx_pe_generate(pool, 1.0, &nu, seed, &buf[1], NULL) != HBX_OK)
                break;
            c = (cpu_now() - c) * 1e3;
            if (c < huge_ms)
                huge_ms = c;
        }
    }

    /* Bytes per kept event: the pool line of each drawn event (64 B, plus
     * 16 B of alias table for processes with unequal weights, not counted),
     * 112 B of output written once (non-temporal stores). */
    const double read_b = 64.0 * mean_drawn / mean_events;
    const double write_b = HBX_N_FEATURES * sizeof(float);
    const double achieved_gbs = (read_b + write_b) * mean_events / (best * 1e-3) / 1e9;
    const double floor_read = mean_drawn * gather_ns.l2_ns * 1e-6;
    const double floor_write = write_b * mean_events / bw.memset_gbs * 1e-6;

    printf("PE: %.0f events drawn, %.0f kept after the post-selection (capacity %llu)\n",
           mean_drawn, mean_events, (unsigned long long)cap);
    printf("  CPU time per PE: best %.1f ms, median %.1f ms, mean %.1f ms\n", best, median,
           total_ms / n_pe);
    printf("  wall time per PE: best %.1f ms, median %.1f ms (more than CPU time when the machine "
           "is busy)\n",
           wall_ms[0], wall_ms[n_pe / 2]);
    printf("  target 30 ms: best / target = %.2f\n", best / 30.0);
    printf("  throughput (best): %.2f M events/s, %.1f ns per kept event, %.1f ns per drawn "
           "event\n",
           mean_events / best / 1e3, best * 1e6 / mean_events, best * 1e6 / mean_drawn);
    printf("  into a buffer on 2 MiB pages (best of %d): %.1f ms (the host's shared memory is on "
           "4 KiB pages)\n",
           n_pe < 10 ? n_pe : 10, huge_ms);
    printf("parts of a PE timed alone (best PE = 100%%):\n");
    printf("  SIMD kernel, shift + DER of the kept events, in cache: %.1f ns per event = %.1f ms "
           "(%.0f%%)\n",
           kernel_ns, kernel_ms, 100.0 * kernel_ms / best);
    printf("  random numbers, a stream word per draw and two normals per kept event: %.1f ms "
           "(%.0f%%)\n",
           rng_ms, 100.0 * rng_ms / best);
    printf("  writing the 28 columns (memset): %.1f ms (%.0f%%)\n", write_ms,
           100.0 * write_ms / best);
    printf("  the rest (pool reads not hidden, draws, cuts, bookkeeping): about %.1f ms\n",
           best - kernel_ms - rng_ms - write_ms);
    printf("  for comparison, DER from scratch over the PE (hbx_derive_columns): %.1f ms, %.1f ns "
           "per event = %.0f%% of the best PE\n",
           der_ms, der_ms * 1e6 / mean_events, 100.0 * der_ms / best);
    printf("memory traffic per kept event: %.0f B read (random pool lines) + %.0f B written\n",
           read_b, write_b);
    printf("  = %.2f GB/s at the best PE time, %.0f%% of the memset bandwidth (%.2f GB/s)\n",
           achieved_gbs, 100.0 * achieved_gbs / bw.memset_gbs, bw.memset_gbs);
    printf("  floor from memory alone: %.1f ms of random pool reads + %.1f ms of writes at memset "
           "speed = %.1f ms (best PE / floor = %.1f)\n",
           floor_read, floor_write, floor_read + floor_write,
           best / (floor_read + floor_write));
    printf("memory: pool %.0f MB + 2 PE buffers %.0f MB = %.0f MB\n", pool_bytes / 1e6,
           2 * buf_bytes / 1e6, (pool_bytes + 2 * buf_bytes) / 1e6);
    if (peak_reset)
        printf("  peak resident set while generating the PEs: %.0f MB (%+.0f MB over pool + "
               "buffers: program, libraries, stacks)\n",
               peak_pe / 1e6, (peak_pe - pool_bytes - 2 * buf_bytes) / 1e6);
    else
        printf("  resident now %.0f MB (the kernel refused to reset the peak counter)\n",
               rss_now() / 1e6);
    printf("  peak during setup %.0f MB: the toy generator's tables and the pool coexist "
           "there\n",
           peak_setup / 1e6);

    free(ms);
    free(wall_ms);
    for (int b = 0; b < 2; b++)
        hbx_table_free(&buf[b]);
    hbx_pe_pool_destroy(pool);
    return 0;
}
