/*
 * The toy generator's driver: which event of which process goes where, and
 * the threads that make them (generator_physics.c makes each event).
 *
 * Determinism: event i (0-based, over both splits) belongs to block
 * i / HBX_GEN_BLOCK, and block b draws all its randomness from Philox stream
 * b under the key `seed`. Which process event i is, and which split it lands
 * in, depend on i and the seed only. So threads may take blocks in any
 * order: every block's events come out the same and go to the same rows.
 *
 * Process mix: event i's process comes from a Weyl sequence
 * frac((i + offset)·φ) compared with the cumulative shares (yield, times the
 * oversampling for the signal). That spreads the processes evenly through
 * the file and lets a cheap counting pass know every split's per-process
 * counts before any physics runs, so each event's weight (yield / count) is
 * final when it is made and streaming needs no second pass.
 *
 * The first round(test_fraction · events) events form the test split, the
 * rest the training split.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "generator_internal.h"
#include "higgsbox/dataset.h"
#include "higgsbox/higgsbox.h"

enum { MAX_THREADS = 256 };

static const double expected_yield[HBX_N_PROCESSES] = {
    [HBX_HTAUTAU] = 1015.0,
    [HBX_ZTAUTAU] = 1002395.0,
    [HBX_TTBAR] = 44192.0,
    [HBX_DIBOSON] = 3783.0,
};

double hbx_expected_yield(int process)
{
    return process >= 0 && process < HBX_N_PROCESSES ? expected_yield[process] : 0.0;
}

void hbx_gen_options_default(hbx_gen_options *o)
{
    o->events = 2000000;
    o->seed = 42;
    o->signal_oversampling = 300.0;
    o->test_fraction = 0.3;
    o->threads = 0;
}

static void set_error(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || !err_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

int hbx_gen_options_check(const hbx_gen_options *o, char *err, size_t err_len)
{
    if (o->events < 1) {
        set_error(err, err_len, "the number of events must be at least 1");
        return -1;
    }
    if (o->seed > (uint64_t)HBX_GEN_SEED_MAX) {
        set_error(err, err_len, "seed %llu is above the largest seed %lld",
                  (unsigned long long)o->seed, (long long)HBX_GEN_SEED_MAX);
        return -1;
    }
    if (!(o->signal_oversampling > 0) || !isfinite(o->signal_oversampling) ||
        o->signal_oversampling > 1e9) {
        set_error(err, err_len, "signal oversampling %g is not in (0, 1e9]",
                  o->signal_oversampling);
        return -1;
    }
    if (!(o->test_fraction >= 0 && o->test_fraction <= 1)) {
        set_error(err, err_len, "test fraction %g is not in [0, 1]", o->test_fraction);
        return -1;
    }
    if (o->threads < 0 || o->threads > MAX_THREADS) {
        set_error(err, err_len, "thread count %d is not in [0, %d]", o->threads, MAX_THREADS);
        return -1;
    }
    return 0;
}

/* ---- the plan: which event is what --------------------------------------- */

typedef struct plan {
    uint64_t events, n_test, n_blocks;
    uint64_t seed, offset;
    uint64_t threshold[HBX_N_PROCESSES - 1]; /* cumulative shares · 2^64 */
    uint64_t count[2][HBX_N_PROCESSES];
    double weight[2][HBX_N_PROCESSES];
} plan;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline int process_of(const plan *p, uint64_t i)
{
    uint64_t u = (i + p->offset) * 0x9E3779B97F4A7C15ull; /* 2^64 / golden ratio, odd */
    int k = 0;
    while (k < HBX_N_PROCESSES - 1 && u >= p->threshold[k])
        k++;
    return k;
}

static inline int split_of(const plan *p, uint64_t i)
{
    return i < p->n_test ? HBX_SPLIT_TEST : HBX_SPLIT_TRAIN;
}

static int make_plan(const hbx_gen_options *o, plan *p, char *err, size_t err_len)
{
    if (hbx_gen_options_check(o, err, err_len) != 0)
        return -1;
    memset(p, 0, sizeof *p);
    p->events = o->events;
    p->seed = o->seed;
    p->offset = splitmix64(o->seed);
    double n_test = floor(o->test_fraction * (double)o->events + 0.5);
    p->n_test = n_test >= (double)o->events ? o->events : (uint64_t)n_test;
    p->n_blocks = (o->events + HBX_GEN_BLOCK - 1) / HBX_GEN_BLOCK;

    double share[HBX_N_PROCESSES], total = 0;
    for (int k = 0; k < HBX_N_PROCESSES; k++) {
        share[k] = expected_yield[k] * (k == HBX_HTAUTAU ? o->signal_oversampling : 1.0);
        total += share[k];
    }
    double cum = 0;
    for (int k = 0; k < HBX_N_PROCESSES - 1; k++) {
        cum += share[k] / total;
        double t = ldexp(cum, 64);
        p->threshold[k] = t >= 0x1p64 ? UINT64_MAX : (uint64_t)t;
    }
    for (uint64_t i = 0; i < p->events; i++)
        p->count[split_of(p, i)][process_of(p, i)]++;
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < HBX_N_PROCESSES; k++)
            p->weight[s][k] = p->count[s][k] ? expected_yield[k] / (double)p->count[s][k] : 0.0;
    return 0;
}

int hbx_gen_counts(const hbx_gen_options *o, uint64_t count[2][HBX_N_PROCESSES], char *err,
                   size_t err_len)
{
    plan p;
    if (make_plan(o, &p, err, err_len) != 0)
        return -1;
    memcpy(count, p.count, sizeof p.count);
    return 0;
}

/* ---- making a block ------------------------------------------------------ */

/* Where a block's events go: event i of split s is row i - base[s] of
 * table[s]. */
typedef struct sink {
    hbx_table *table[2];
    uint64_t base[2];
} sink;

static void derive_rows(hbx_table *t, uint64_t row, uint64_t n)
{
    if (n == 0)
        return;
    float *cols[HBX_N_FEATURES];
    for (int f = 0; f < HBX_N_FEATURES; f++)
        cols[f] = t->features[f] + row;
    hbx_derive_columns(cols, n);
}

static void make_block(const plan *p, const hbx_gen_physics *ph, uint64_t b, const sink *out)
{
    uint64_t first = b * HBX_GEN_BLOCK;
    uint64_t end = first + HBX_GEN_BLOCK < p->events ? first + HBX_GEN_BLOCK : p->events;
    hbx_gen_rng rng;
    hbx_gen_rng_init(&rng, p->seed, b);
    float pri[HBX_N_PRIMARY];
    for (uint64_t i = first; i < end; i++) {
        int s = split_of(p, i), k = process_of(p, i);
        hbx_gen_event(ph, &rng, k, pri);
        hbx_table *t = out->table[s];
        uint64_t row = i - out->base[s];
        for (int f = 0; f < HBX_N_PRIMARY; f++)
            t->features[f][row] = pri[f];
        t->weights[row] = p->weight[s][k];
        t->labels[row] = k == HBX_HTAUTAU;
        t->process[row] = (uint8_t)k;
    }
    uint64_t test_end = end < p->n_test ? end : p->n_test;
    uint64_t train_start = first > p->n_test ? first : p->n_test;
    if (first < test_end)
        derive_rows(out->table[HBX_SPLIT_TEST], first - out->base[HBX_SPLIT_TEST],
                    test_end - first);
    if (train_start < end)
        derive_rows(out->table[HBX_SPLIT_TRAIN], train_start - out->base[HBX_SPLIT_TRAIN],
                    end - train_start);
}

static int thread_count(const hbx_gen_options *o, uint64_t n_blocks)
{
    long t = o->threads;
    if (t == 0) {
        t = sysconf(_SC_NPROCESSORS_ONLN);
        if (t < 1)
            t = 1;
        if (t > MAX_THREADS)
            t = MAX_THREADS;
    }
    if ((uint64_t)t > n_blocks)
        t = (long)n_blocks;
    return (int)t;
}

/* ---- in memory ----------------------------------------------------------- */

typedef struct mem_job {
    const plan *plan;
    const hbx_gen_physics *ph;
    sink out;
    atomic_uint_fast64_t next;
} mem_job;

static void *mem_worker(void *arg)
{
    mem_job *job = arg;
    for (;;) {
        uint64_t b = atomic_fetch_add(&job->next, 1);
        if (b >= job->plan->n_blocks)
            return NULL;
        make_block(job->plan, job->ph, b, &job->out);
    }
}

int hbx_generate(const hbx_gen_options *o, hbx_table *train, hbx_table *test, char *err,
                 size_t err_len)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    plan *p = malloc(sizeof *p);
    if (!p) {
        set_error(err, err_len, "out of memory");
        return -1;
    }
    if (make_plan(o, p, err, err_len) != 0) {
        free(p);
        return -1;
    }
    hbx_gen_physics *ph = hbx_gen_physics_new();
    if (!ph || hbx_table_alloc(test, p->n_test, HBX_TABLE_TRUTH) != HBX_OK ||
        hbx_table_alloc(train, p->events - p->n_test, HBX_TABLE_TRUTH) != HBX_OK) {
        set_error(err, err_len, "out of memory for %llu events", (unsigned long long)p->events);
        hbx_table_free(train);
        hbx_table_free(test);
        free(ph);
        free(p);
        return -1;
    }
    mem_job job = {.plan = p, .ph = ph};
    job.out.table[HBX_SPLIT_TEST] = test;
    job.out.table[HBX_SPLIT_TRAIN] = train;
    job.out.base[HBX_SPLIT_TEST] = 0;
    job.out.base[HBX_SPLIT_TRAIN] = p->n_test;
    atomic_init(&job.next, 0);

    /* The calling thread works too; a thread that cannot start only costs
     * speed, never changes the result. */
    int n = thread_count(o, p->n_blocks);
    pthread_t tids[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < n; t++)
        if (pthread_create(&tids[started], NULL, mem_worker, &job) == 0)
            started++;
    mem_worker(&job);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);

    test->n = p->n_test;
    train->n = p->events - p->n_test;
    free(ph);
    free(p);
    return 0;
}

/* ---- to a file ----------------------------------------------------------- */

/* Workers make blocks into a ring of slots; the calling thread appends them
 * to the writer in block order. A worker holding block b waits until block
 * b - n_slots has been written, so memory is n_slots blocks (plus the
 * writer's chunks). Workers also deflate the writer's full chunks, before
 * making another block: that keeps the writer's queue short, and the
 * appending thread, which alone calls HDF5, free to store chunks. */
typedef struct file_job {
    const plan *plan;
    const hbx_gen_physics *ph;
    hbx_dataset_writer *w;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next;     /* next block to claim */
    uint64_t consumed; /* blocks appended to the writer */
    int stop;          /* an error: workers leave */
    int input_done;    /* every block appended: workers leave once nothing is left to deflate */
    int n_slots;
    hbx_table *slot;
    uint64_t *ready; /* ready[s] = b + 1 once slot s holds finished block b */
} file_job;

static void fill_slot(file_job *job, uint64_t b)
{
    hbx_table *t = &job->slot[b % (uint64_t)job->n_slots];
    sink out = {{t, t}, {b * HBX_GEN_BLOCK, b * HBX_GEN_BLOCK}};
    make_block(job->plan, job->ph, b, &out);
    uint64_t end = (b + 1) * HBX_GEN_BLOCK;
    t->n = (end < job->plan->events ? end : job->plan->events) - b * HBX_GEN_BLOCK;
}

static void *file_worker(void *arg)
{
    file_job *job = arg;
    for (;;) {
        if (hbx_dataset_writer_help(job->w))
            continue;
        pthread_mutex_lock(&job->mu);
        if (job->stop || (job->input_done && job->next >= job->plan->n_blocks)) {
            pthread_mutex_unlock(&job->mu);
            return NULL;
        }
        if (job->next < job->plan->n_blocks &&
            job->next < job->consumed + (uint64_t)job->n_slots) {
            uint64_t b = job->next++;
            pthread_mutex_unlock(&job->mu);
            fill_slot(job, b);
            pthread_mutex_lock(&job->mu);
            job->ready[b % (uint64_t)job->n_slots] = b + 1;
            pthread_cond_broadcast(&job->cv);
        } else {
            /* The ring is full or every block is claimed: woken when the
             * appender takes a block (which may also queue a chunk to
             * deflate) or is done. */
            pthread_cond_wait(&job->cv, &job->mu);
        }
        pthread_mutex_unlock(&job->mu);
    }
}

/* Rows [from, from + n) of `t` as a table of their own (borrowed memory). */
static hbx_table rows_of(const hbx_table *t, uint64_t from, uint64_t n)
{
    hbx_table v = *t;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        v.features[f] = t->features[f] + from;
    v.weights = t->weights + from;
    v.labels = t->labels + from;
    v.process = t->process + from;
    v.n = v.capacity = n;
    return v;
}

static int append_block(hbx_dataset_writer *w, const plan *p, uint64_t b, const hbx_table *t,
                        char *err, size_t err_len)
{
    uint64_t first = b * HBX_GEN_BLOCK;
    uint64_t n_test = p->n_test > first ? p->n_test - first : 0;
    if (n_test > t->n)
        n_test = t->n;
    hbx_table part = rows_of(t, 0, n_test);
    if (n_test && hbx_dataset_writer_append(w, HBX_SPLIT_TEST, &part, err, err_len) != 0)
        return -1;
    part = rows_of(t, n_test, t->n - n_test);
    if (part.n && hbx_dataset_writer_append(w, HBX_SPLIT_TRAIN, &part, err, err_len) != 0)
        return -1;
    return 0;
}

static char *provenance_json(const hbx_gen_options *o)
{
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f}", "generator", "higgsbox gen",
                          "version", hbx_version(), "seed", (json_int_t)o->seed, "events",
                          (json_int_t)o->events, "signal_oversampling",
                          o->signal_oversampling, "test_fraction", o->test_fraction);
    /* The fewest digits that give back both reals exactly: 0.3, not
     * 0.29999999999999999. */
    int digits = 15;
    for (; digits < 17; digits++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%.*g", digits, o->signal_oversampling);
        snprintf(b, sizeof b, "%.*g", digits, o->test_fraction);
        if (strtod(a, NULL) == o->signal_oversampling && strtod(b, NULL) == o->test_fraction)
            break;
    }
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(digits)) : NULL;
    json_decref(j);
    return text;
}

int hbx_generate_file(const hbx_gen_options *o, const char *path, char *err, size_t err_len)
{
    plan *p = malloc(sizeof *p);
    if (!p) {
        set_error(err, err_len, "%s: out of memory", path);
        return -1;
    }
    if (make_plan(o, p, err, err_len) != 0) {
        free(p);
        return -1;
    }
    char *prov = provenance_json(o);
    hbx_dataset_writer *w = prov ? hbx_dataset_writer_open(path, prov, err, err_len) : NULL;
    if (!prov)
        set_error(err, err_len, "%s: out of memory", path);
    free(prov);
    if (!w) {
        free(p);
        return -1;
    }

    int n_threads = thread_count(o, p->n_blocks);
    file_job job = {.plan = p, .w = w, .n_slots = 2 * n_threads + 2};
    hbx_gen_physics *ph = hbx_gen_physics_new();
    job.ph = ph;
    job.slot = calloc((size_t)job.n_slots, sizeof *job.slot);
    job.ready = calloc((size_t)job.n_slots, sizeof *job.ready);
    int rc = job.ph && job.slot && job.ready ? 0 : -1;
    for (int s = 0; rc == 0 && s < job.n_slots; s++)
        if (hbx_table_alloc(&job.slot[s], HBX_GEN_BLOCK, HBX_TABLE_TRUTH) != HBX_OK)
            rc = -1;
    if (rc != 0)
        set_error(err, err_len, "%s: out of memory", path);
    pthread_mutex_init(&job.mu, NULL);
    pthread_cond_init(&job.cv, NULL);

    pthread_t tids[MAX_THREADS];
    int started = 0;
    for (int t = 0; rc == 0 && t < n_threads; t++)
        if (pthread_create(&tids[started], NULL, file_worker, &job) == 0)
            started++;
    hbx_dataset_writer_set_helpers(w, started);
    for (uint64_t b = 0; rc == 0 && b < p->n_blocks; b++) {
        uint64_t s = b % (uint64_t)job.n_slots;
        if (started == 0) {
            fill_slot(&job, b); /* no worker could start: make it here */
        } else {
            pthread_mutex_lock(&job.mu);
            while (job.ready[s] != b + 1)
                pthread_cond_wait(&job.cv, &job.mu);
            pthread_mutex_unlock(&job.mu);
        }
        rc = append_block(w, p, b, &job.slot[s], err, err_len);
        pthread_mutex_lock(&job.mu);
        job.consumed = b + 1;
        if (rc != 0)
            job.stop = 1;
        pthread_cond_broadcast(&job.cv);
        pthread_mutex_unlock(&job.mu);
    }
    /* The last chunks are deflated with the workers' help, which they give
     * until nothing is left; only then may the writer go. */
    pthread_mutex_lock(&job.mu);
    job.input_done = 1;
    pthread_cond_broadcast(&job.cv);
    pthread_mutex_unlock(&job.mu);
    if (rc == 0 && hbx_dataset_writer_flush(w, err, err_len) != 0)
        rc = -1;
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);

    char close_err[512];
    if (hbx_dataset_writer_close(w, rc == 0, close_err, sizeof close_err) != 0 && rc == 0) {
        set_error(err, err_len, "%s", close_err);
        rc = -1;
    }
    pthread_cond_destroy(&job.cv);
    pthread_mutex_destroy(&job.mu);
    for (int s = 0; job.slot && s < job.n_slots; s++)
        hbx_table_free(&job.slot[s]);
    free(job.slot);
    free(job.ready);
    free(ph);
    free(p);
    return rc;
}
