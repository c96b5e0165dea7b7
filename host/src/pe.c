/*
 * Pseudo-experiment generation (pe.h, HIGGSML.md §5).
 *
 * The pool keeps each test event prepared for the systematics kernel (one
 * 64-byte line: the features the nuisances scale, the others as rounded
 * thousandths, and the DER terms that never change; systematics_kernel.h),
 * grouped by process, plus a Walker alias table for each process whose
 * weights are not all equal. A PE then costs, per drawn event: two words of
 * a counter-based stream for the process and the event (plus an alias
 * entry), one cache line of pool, the event cuts; per kept event two normal
 * deviates and the kernel (shift, roundings, jet removal, DER) in SIMD
 * lanes, and 112 bytes of output written once.
 *
 * Work goes in chunks of CHUNK draws, pipelined so that memory and
 * arithmetic overlap: while the kernel shifts the survivors of chunk c, the
 * pool lines of chunk c + 1 (already drawn) are fetched into L2 a few at a
 * time. The RNG words and the normals are computed several streams at a
 * time (rng.h). Output is gathered in cache-resident rows and leaves in
 * whole 64-byte lines with non-temporal stores: written once, without first
 * being read into the cache.
 */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "higgsbox/dataset.h"
#include "higgsbox/pe.h"
#include "higgsbox/rng.h"
#include "pe_internal.h"

/* Draws per chunk (at most HBX_SYST_BATCH survivors): the chunk's output
 * (28 x 4 bytes x CHUNK) and its prefetched events (64 bytes x CHUNK) stay
 * well inside L2. */
enum { CHUNK = HBX_SYST_BATCH };

/* How far ahead (floats) of the output position each column is touched to
 * warm the TLB: two 4 KiB pages. */
enum { TLB_AHEAD = 2048 };

/* How many draws ahead the event cuts fetch pool lines into L1 (they are
 * in L2 already, but for the first chunk). */
enum { PREFETCH = 12 };

/* One column of a Walker alias table: keep this column's event when a
 * uniform 64-bit word is below `threshold`, else take `alias`. */
typedef struct alias_entry {
    uint64_t threshold;
    uint64_t alias;
} alias_entry;

struct hbx_pe_pool {
    uint64_t n;
    hbx_syst_event *events; /* grouped by process, in test order within one */
    uint64_t start[HBX_N_PROCESSES], count[HBX_N_PROCESSES];
    double sum[HBX_N_PROCESSES];
    alias_entry *alias[HBX_N_PROCESSES]; /* NULL: all weights equal, draw uniformly */
    uint64_t bytes;
};

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* Copies n floats to dst with non-temporal stores where the CPU has them:
 * a PE is written once and read by another process, so pulling each output
 * line into the cache first (what an ordinary store does) would double the
 * memory traffic and evict the pool lines being prefetched. */
static void stream_copy(float *dst, const float *src, unsigned n)
{
    unsigned i = 0;
#if defined(__SSE2__)
    while (i < n && ((uintptr_t)(dst + i) & 15u)) {
        int bits;
        memcpy(&bits, &src[i], sizeof bits);
        _mm_stream_si32((int *)(dst + i), bits);
        i++;
    }
    for (; i + 4 <= n; i += 4)
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
    for (; i < n; i++) {
        int bits;
        memcpy(&bits, &src[i], sizeof bits);
        _mm_stream_si32((int *)(dst + i), bits);
    }
#else
    memcpy(dst, src, (size_t)n * sizeof *dst);
#endif
}

/* Orders the non-temporal stores before whatever publishes the PE. */
static void stream_fence(void)
{
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

/* The pool's big arrays are read at random, one line per drawn event: on
 * 4 KiB pages nearly every draw would also miss the TLB. Asking for 2 MiB
 * pages (transparent huge pages, honoured in the kernel's "madvise" mode)
 * makes one TLB entry cover 32768 events. Harmless where refused. */
static void *pool_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    const size_t align = bytes >= huge ? huge : 64;
    const size_t size = (bytes ? bytes + align - 1 : align) / align * align;
    void *p = aligned_alloc(align, size);
    if (p && align == huge)
        madvise(p, size, MADV_HUGEPAGE);
    return p;
}

/* Why hbx_syst_prepare refused an event, for the error message. */
static void describe_unpreparable(const float pri[HBX_N_PRIMARY], char *buf, size_t len)
{
    for (int f = 0; f < HBX_N_PRIMARY; f++)
        if (!isfinite(pri[f])) {
            snprintf(buf, len, "%s is not finite", hbx_feature_name(f));
            return;
        }
    const float nj = pri[HBX_PRI_N_JETS];
    if (!(nj >= 0.0f && nj <= 255.0f) || nj != floorf(nj)) {
        snprintf(buf, len, "PRI_n_jets = %g is not a whole number in [0, 255]", (double)nj);
        return;
    }
    static const int angles[] = {HBX_PRI_LEP_ETA,         HBX_PRI_LEP_PHI,
                                 HBX_PRI_HAD_ETA,         HBX_PRI_HAD_PHI,
                                 HBX_PRI_JET_LEADING_ETA, HBX_PRI_JET_LEADING_PHI,
                                 HBX_PRI_JET_SUBLEADING_ETA, HBX_PRI_JET_SUBLEADING_PHI,
                                 HBX_PRI_MET_PHI};
    for (size_t a = 0; a < sizeof angles / sizeof angles[0]; a++)
        if (fabs((double)pri[angles[a]]) > HBX_MILLI_MAX) {
            snprintf(buf, len, "%s = %g is beyond +-%g", hbx_feature_name(angles[a]),
                     (double)pri[angles[a]], HBX_MILLI_MAX);
            return;
        }
    snprintf(buf, len, "unusable features");
}

/* Walker's alias table (Vose's construction) for `n` weights summing to
 * `total` > 0: column c keeps itself with probability threshold / 2^64 and
 * otherwise hands over to alias. Returns NULL when out of memory. */
static alias_entry *build_alias(const double *w, uint64_t n, double total)
{
    alias_entry *t = pool_alloc((size_t)n * sizeof *t);
    double *p = malloc((size_t)n * sizeof *p);
    uint64_t *small = malloc((size_t)n * sizeof *small);
    uint64_t *large = malloc((size_t)n * sizeof *large);
    if (!t || !p || !small || !large) {
        free(t);
        t = NULL;
        goto out;
    }
    uint64_t ns = 0, nl = 0;
    for (uint64_t i = 0; i < n; i++) {
        p[i] = w[i] * (double)n / total;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint64_t s = small[--ns], l = large[nl - 1];
        t[s].threshold = (uint64_t)(p[s] * 0x1p64);
        t[s].alias = l;
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What is left is at 1 up to rounding: keeps itself. */
    while (nl) {
        uint64_t l = large[--nl];
        t[l].threshold = UINT64_MAX;
        t[l].alias = l;
    }
    while (ns) {
        uint64_t s = small[--ns];
        t[s].threshold = UINT64_MAX;
        t[s].alias = s;
    }
out:
    free(p);
    free(small);
    free(large);
    return t;
}

void hbx_pe_pool_destroy(hbx_pe_pool *pool)
{
    if (!pool)
        return;
    free(pool->events);
    for (int k = 0; k < HBX_N_PROCESSES; k++)
        free(pool->alias[k]);
    free(pool);
}

/* Builds a pool from events arriving in pieces (a table, or a file read in
 * chunks): the per-process counts are known first, so each event goes
 * straight to its slot and nothing but the pool and the weights is held. */
typedef struct pool_builder {
    hbx_pe_pool *pool;
    double *w;                       /* weights in pool order (for the alias tables) */
    uint64_t next[HBX_N_PROCESSES];  /* next free slot of each process */
    uint64_t seen;                   /* events added so far */
} pool_builder;

static void builder_abort(pool_builder *b)
{
    hbx_pe_pool_destroy(b->pool);
    free(b->w);
    memset(b, 0, sizeof *b);
}

static int builder_start(pool_builder *b, const uint64_t count[HBX_N_PROCESSES], char *err,
                         size_t len)
{
    memset(b, 0, sizeof *b);
    hbx_rng_init();
    uint64_t n = 0;
    for (int k = 0; k < HBX_N_PROCESSES; k++)
        n += count[k];
    b->pool = calloc(1, sizeof *b->pool);
    if (b->pool) {
        b->pool->n = n;
        b->pool->events = pool_alloc((size_t)n * sizeof(hbx_syst_event));
    }
    b->w = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!b->pool || !b->pool->events || !b->w) {
        builder_abort(b);
        set_err(err, len, "out of memory for a pool of %llu events", (unsigned long long)n);
        return HBX_E_NOMEM;
    }
    b->pool->bytes = sizeof *b->pool + (n ? n : 1) * sizeof(hbx_syst_event);
    for (int k = 0; k < HBX_N_PROCESSES; k++) {
        b->pool->count[k] = count[k];
        b->pool->start[k] = k ? b->pool->start[k - 1] + count[k - 1] : 0;
        b->next[k] = b->pool->start[k];
    }
    return HBX_OK;
}

static int builder_add(pool_builder *b, const hbx_table *t, char *err, size_t len)
{
    hbx_pe_pool *pool = b->pool;
    for (uint64_t i = 0; i < t->n; i++) {
        const unsigned long long id = (unsigned long long)(b->seen + i);
        const unsigned k = t->process[i];
        const double w = t->weights[i];
        if (k >= HBX_N_PROCESSES) {
            set_err(err, len, "test event %llu: process %u is not one of htautau, ztautau, ttbar, "
                    "diboson", id, k);
            return HBX_E_INVALID;
        }
        if (!isfinite(w) || w < 0.0) {
            set_err(err, len, "test event %llu: weight %g is not a finite number >= 0", id, w);
            return HBX_E_INVALID;
        }
        if (b->next[k] == pool->start[k] + pool->count[k]) {
            set_err(err, len, "test event %llu: more %s events than announced", id,
                    hbx_process_name((int)k));
            return HBX_E_INVALID;
        }
        float pri[HBX_N_PRIMARY];
        for (int f = 0; f < HBX_N_PRIMARY; f++)
            pri[f] = t->features[f][i];
        const uint64_t at = b->next[k]++;
        if (hbx_syst_prepare(pri, &pool->events[at]) != 0) {
            char why[160];
            describe_unpreparable(pri, why, sizeof why);
            set_err(err, len, "test event %llu cannot be shifted: %s", id, why);
            return HBX_E_INVALID;
        }
        pool->events[at].process = (uint8_t)k;
        b->w[at] = w;
        pool->sum[k] += w;
    }
    b->seen += t->n;
    return HBX_OK;
}

static int builder_finish(pool_builder *b, hbx_pe_pool **out, char *err, size_t len)
{
    hbx_pe_pool *pool = b->pool;
    for (int k = 0; k < HBX_N_PROCESSES; k++)
        if (b->next[k] != pool->start[k] + pool->count[k]) {
            set_err(err, len, "fewer %s events than announced", hbx_process_name(k));
            builder_abort(b);
            return HBX_E_INVALID;
        }
    for (int k = 0; k < HBX_N_PROCESSES; k++) {
        const double *w = b->w + pool->start[k];
        const uint64_t c = pool->count[k];
        int equal = 1;
        for (uint64_t i = 1; i < c && equal; i++)
            equal = w[i] == w[0];
        if (equal || pool->sum[k] <= 0.0)
            continue;
        pool->alias[k] = build_alias(w, c, pool->sum[k]);
        if (!pool->alias[k]) {
            set_err(err, len, "out of memory for the alias table of %llu events",
                    (unsigned long long)c);
            builder_abort(b);
            return HBX_E_NOMEM;
        }
        pool->bytes += c * sizeof(alias_entry);
    }
    free(b->w);
    *out = pool;
    memset(b, 0, sizeof *b);
    return HBX_OK;
}

int hbx_pe_pool_create(hbx_pe_pool **out, const hbx_table *test, char *err, size_t len)
{
    if (!out || !test) {
        set_err(err, len, "no test events to build a pool from");
        return HBX_E_INVALID;
    }
    *out = NULL;
    if (!test->weights || !test->process) {
        set_err(err, len, "the test events carry no weights or no process column");
        return HBX_E_INVALID;
    }
    uint64_t count[HBX_N_PROCESSES] = {0};
    for (uint64_t i = 0; i < test->n; i++)
        if (test->process[i] < HBX_N_PROCESSES)
            count[test->process[i]]++;
    pool_builder b;
    int rc = builder_start(&b, count, err, len);
    if (rc != HBX_OK)
        return rc;
    if ((rc = builder_add(&b, test, err, len)) != HBX_OK) {
        builder_abort(&b);
        return rc;
    }
    return builder_finish(&b, out, err, len);
}

int hbx_pe_pool_load(hbx_pe_pool **out, const char *path, char *err, size_t len)
{
    if (!out || !path) {
        set_err(err, len, "no dataset to build a pool from");
        return HBX_E_INVALID;
    }
    *out = NULL;
    hbx_dataset_info info;
    if (hbx_dataset_info_read(path, 0, &info, err, len) != 0)
        return HBX_E_IO;
    hbx_dataset_reader *r = hbx_dataset_reader_open(path, HBX_SPLIT_TEST, err, len);
    if (!r)
        return HBX_E_IO;
    hbx_table chunk;
    if (hbx_table_alloc(&chunk, HBX_DATASET_CHUNK, HBX_TABLE_TRUTH) != HBX_OK) {
        hbx_dataset_reader_close(r);
        set_err(err, len, "out of memory");
        return HBX_E_NOMEM;
    }
    pool_builder b;
    int rc = builder_start(&b, info.count[HBX_SPLIT_TEST], err, len);
    int got = 0;
    while (rc == HBX_OK && (got = hbx_dataset_reader_next(r, &chunk, err, len)) == 1)
        rc = builder_add(&b, &chunk, err, len);
    if (rc == HBX_OK && got < 0)
        rc = HBX_E_IO;
    hbx_table_free(&chunk);
    hbx_dataset_reader_close(r);
    if (rc != HBX_OK) {
        /* Reader errors already name the file; ours get it prefixed. */
        if (rc != HBX_E_IO) {
            char why[512];
            snprintf(why, sizeof why, "%s", err ? err : "");
            set_err(err, len, "%s: %s", path, why);
        }
        builder_abort(&b);
        return rc;
    }
    rc = builder_finish(&b, out, err, len);
    if (rc != HBX_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", err ? err : "");
        set_err(err, len, "%s: %s", path, why);
    }
    return rc;
}

void hbx_pe_pool_totals(const hbx_pe_pool *pool, uint64_t counts[HBX_N_PROCESSES],
                        double sums[HBX_N_PROCESSES])
{
    for (int k = 0; k < HBX_N_PROCESSES; k++) {
        if (counts)
            counts[k] = pool->count[k];
        if (sums)
            sums[k] = pool->sum[k];
    }
}

uint64_t hbx_pe_pool_bytes(const hbx_pe_pool *pool)
{
    return pool ? pool->bytes : 0;
}

/* Per-process normalisation of §5 step 1. */
static void norms(double mu, const hbx_nuisances *nu, double norm[HBX_N_PROCESSES])
{
    norm[HBX_HTAUTAU] = mu;
    norm[HBX_ZTAUTAU] = nu->bkg_scale;
    norm[HBX_TTBAR] = nu->ttbar_scale * nu->bkg_scale;
    norm[HBX_DIBOSON] = nu->diboson_scale * nu->bkg_scale;
}

uint64_t hbx_pe_capacity(const hbx_pe_pool *pool, double mu_max)
{
    if (!pool || !(mu_max >= 0.0) || !isfinite(mu_max))
        return 0;
    /* The largest norms the §5 clipping allows. */
    hbx_nuisances hi = hbx_nuisances_nominal();
    hi.bkg_scale = 1.01;
    hi.ttbar_scale = 1.2;
    hi.diboson_scale = 2.0;
    double norm[HBX_N_PROCESSES], lam = 0.0;
    norms(mu_max, &hi, norm);
    for (int k = 0; k < HBX_N_PROCESSES; k++)
        lam += norm[k] * pool->sum[k];
    return (uint64_t)ceil(lam + 10.0 * sqrt(lam) + 32.0);
}

/* GSL's Poisson sampler fed by one of our streams: a generator type whose
 * state is an hbx_rng. */
static void gsl_stream_set(void *state, unsigned long seed)
{
    ((hbx_rng *)state)->s = seed;
}

static unsigned long gsl_stream_get(void *state)
{
    return (unsigned long)(hbx_rng_next(state) >> 32);
}

static double gsl_stream_get_double(void *state)
{
    return hbx_rng_uniform(state);
}

static const gsl_rng_type gsl_stream_type = {
    "higgsbox-splitmix64", 0xffffffffUL, 0, sizeof(hbx_rng),
    gsl_stream_set,        gsl_stream_get, gsl_stream_get_double,
};

/* K ~ Poisson(lam) from the PE's count stream. */
static int draw_total(uint64_t pe_seed, double lam, uint64_t *k)
{
    *k = 0;
    if (lam <= 0.0)
        return HBX_OK;
    gsl_rng *g = gsl_rng_alloc(&gsl_stream_type);
    if (!g)
        return HBX_E_NOMEM;
    *(hbx_rng *)g->state = hbx_rng_at(hbx_rng_key(pe_seed, HBX_RNG_PURPOSE_COUNT), 0);
    *k = gsl_ran_poisson(g, lam);
    gsl_rng_free(g);
    return HBX_OK;
}

/* What the draws of one PE need: per process, the lower end of its share of
 * the 64-bit words and the factor that maps a word within that share to a
 * column of the process. */
typedef struct draw_plan {
    uint64_t key;
    uint64_t low[HBX_N_PROCESSES];   /* process k takes words in [low[k], low[k + 1]) */
    uint64_t scale[HBX_N_PROCESSES]; /* column = (word - low[k]) * scale[k] >> 64 */
    unsigned last;                   /* last process with a positive share */
} draw_plan;

/* Draws of one chunk: their streams (positioned at the soft-MET deviates),
 * processes and events. */
typedef struct draw_chunk {
    unsigned m;
    uint64_t stream[CHUNK]; /* hbx_rng states */
    uint8_t proc[CHUNK];
    const hbx_syst_event *ev[CHUNK];
} draw_chunk;

/* Draws j0 .. j0 + m - 1. Stream layout of draw j: one word for the process
 * and the column, one for the alias coin (only for a process with an alias
 * table), then the soft-MET deviates. */
static void draw(const hbx_pe_pool *pool, const draw_plan *plan, uint64_t j0, unsigned m,
                 draw_chunk *c)
{
    uint64_t word[CHUNK], column[CHUNK], coin[CHUNK];
    c->m = m;
    hbx_rng_first_words(plan->key, j0, m, c->stream, word);
    const uint64_t low1 = plan->low[1], low2 = plan->low[2], low3 = plan->low[3];
    const unsigned last = plan->last;
    int aliased = 0;
    for (unsigned d = 0; d < m; d++) {
        const uint64_t w = word[d];
        /* Branch-free: the process of a draw is as random as the draw. */
        unsigned k = (w >= low1) + (w >= low2) + (w >= low3);
        k = k < last ? k : last;
        column[d] = (uint64_t)(((hbx_u128_)(w - plan->low[k]) * plan->scale[k]) >> 64);
        c->proc[d] = (uint8_t)k;
        c->ev[d] = &pool->events[pool->start[k] + column[d]];
        aliased |= pool->alias[k] != NULL;
    }
    if (!aliased)
        return;
    /* Processes with unequal weights: the coin of the column's alias entry
     * (fetched ahead into L2), then the event it picks. */
    for (unsigned d = 0; d < m; d++) {
        const alias_entry *a = pool->alias[c->proc[d]];
        if (a) {
            hbx_rng r = {c->stream[d]};
            coin[d] = hbx_rng_next(&r);
            c->stream[d] = r.s;
            __builtin_prefetch(&a[column[d]], 0, 1);
        }
    }
    for (unsigned d = 0; d < m; d++) {
        const unsigned k = c->proc[d];
        const alias_entry *a = pool->alias[k];
        if (a && coin[d] >= a[column[d]].threshold)
            c->ev[d] = &pool->events[pool->start[k] + a[column[d]].alias];
    }
}

/* Full 64-byte lines of floats with non-temporal stores: n a multiple of 16,
 * dst on a line boundary. A PE is written once and read by another process,
 * so pulling each output line into the cache first (what an ordinary store
 * does) would double the memory traffic and evict the pool lines being
 * prefetched. Whole lines, each in as few stores as the CPU allows, let the
 * write-combining buffers leave in one burst: on the development machine a
 * line in one or two stores streams about three times faster than in four
 * 16-byte ones. */
static void stream_lines_sse2(float *dst, const float *src, unsigned n)
{
#if defined(__SSE2__)
    for (unsigned i = 0; i < n; i += 4)
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
#else
    memcpy(dst, src, (size_t)n * sizeof *dst);
#endif
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("avx"))) static void stream_lines_avx(float *dst, const float *src,
                                                             unsigned n)
{
    for (unsigned i = 0; i < n; i += 8)
        _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
}

__attribute__((target("avx512f"))) static void stream_lines_avx512(float *dst, const float *src,
                                                                   unsigned n)
{
    for (unsigned i = 0; i < n; i += 16)
        _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
}
#endif

typedef void stream_lines_fn(float *dst, const float *src, unsigned n);

static stream_lines_fn *pick_stream_lines(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    if (__builtin_cpu_supports("avx512f"))
        return stream_lines_avx512;
    if (__builtin_cpu_supports("avx"))
        return stream_lines_avx;
#endif
    return stream_lines_sse2;
}

/* What a PE needs besides its output: the draws of two chunks, the
 * survivors of one, their streams and deviates, and the output rows. About
 * 60 KB, allocated per PE rather than on the caller's stack. */
typedef struct pe_work {
    draw_chunk chunk[2];
    const hbx_syst_event *kept_ev[CHUNK];
    uint64_t kept_stream[CHUNK];
    double gx[CHUNK], gy[CHUNK];
    float rows[HBX_N_FEATURES][HBX_SYST_ROW] __attribute__((aligned(64)));
} pe_work;

int hbx_pe_generate(const hbx_pe_pool *pool, double mu, const hbx_nuisances *nu, uint64_t pe_seed,
                    hbx_table *out, hbx_pe_stats *stats)
{
    if (!pool || !nu || !out || !(mu >= 0.0) || !isfinite(mu) || hbx_nuisances_check(nu) != 0)
        return HBX_E_INVALID;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        if (out->capacity > 0 && !out->features[f])
            return HBX_E_INVALID;
    out->n = 0;

    double norm[HBX_N_PROCESSES], lam_k[HBX_N_PROCESSES], lam = 0.0;
    norms(mu, nu, norm);
    for (int k = 0; k < HBX_N_PROCESSES; k++) {
        lam_k[k] = pool->count[k] ? norm[k] * pool->sum[k] : 0.0;
        lam += lam_k[k];
    }
    /* gsl_ran_poisson returns an unsigned int. */
    if (!(lam < 4.0e9))
        return HBX_E_INVALID;
    hbx_pe_stats st;
    memset(&st, 0, sizeof st);
    st.expected = lam;
    memcpy(st.expected_process, lam_k, sizeof lam_k);

    uint64_t total;
    int rc = draw_total(pe_seed, lam, &total);
    if (rc != HBX_OK)
        return rc;
    st.drawn = total;

    /* A draw's first word w picks its process, k with probability Λ_k / Λ
     * (the share [low[k], low[k + 1]) of the 2^64 words), and, through
     * w - low[k], its column among the process's events: one word for both,
     * as an inverse CDF over the processes and their columns. A column gets
     * span / count words, ±1: its probability is 1 / count to within
     * count / span (below 1e-9 for any process above a millionth of Λ). */
    draw_plan plan;
    plan.key = hbx_rng_key(pe_seed, HBX_RNG_PURPOSE_DRAW);
    plan.last = 0;
    for (unsigned k = 0; k < HBX_N_PROCESSES; k++)
        if (lam_k[k] > 0.0)
            plan.last = k;
    {
        double acc = 0.0;
        for (unsigned k = 0; k < HBX_N_PROCESSES; k++) {
            /* Processes after the last with a share are never picked. */
            const double at = acc / lam * 0x1p64;
            plan.low[k] = k == 0 ? 0 : k > plan.last || at >= 0x1p64 ? UINT64_MAX : (uint64_t)at;
            acc += lam_k[k];
        }
        for (unsigned k = 0; k < HBX_N_PROCESSES; k++) {
            const hbx_u128_ span = (k < plan.last ? (hbx_u128_)plan.low[k + 1]
                                                  : (hbx_u128_)1 << 64) - plan.low[k];
            const hbx_u128_ scale =
                k <= plan.last && span > 0 ? (((hbx_u128_)pool->count[k]) << 64) / span : 0;
            /* Beyond 2^64 only for a share under count / 2^64, never drawn
             * in practice; clamped, columns stay below the count. */
            plan.scale[k] = scale > UINT64_MAX ? UINT64_MAX : (uint64_t)scale;
        }
    }

    hbx_syst_params p;
    hbx_syst_params_init(&p, nu);
    const int soft = p.soft_met > 0.0;
    const uint64_t cap = out->capacity;
    float *const *cols = out->features;

    /* Output goes through rows of cache-resident scratch and leaves in whole
     * 64-byte lines; up to 15 trailing values of each column wait for the
     * next chunk ("carry"). That needs the columns equally placed relative
     * to line boundaries (hbx_table_alloc and shared-memory blocks align
     * them to 64 bytes); otherwise each chunk goes out as it is. */
    const uintptr_t phase = (uintptr_t)cols[0] & 63;
    int lines = phase % sizeof(float) == 0;
    for (int f = 1; f < HBX_N_FEATURES && lines; f++)
        lines = ((uintptr_t)cols[f] & 63) == phase;
    const unsigned lead = lines ? (unsigned)((64 - phase) & 63) / sizeof(float) : 0;
    uint64_t n_out = 0, written = 0;
    unsigned carry = 0;
    stream_lines_fn *const stream_lines = pick_stream_lines();

    pe_work *w = aligned_alloc(64, sizeof *w);
    if (!w)
        return HBX_E_NOMEM;
    float(*rows)[HBX_SYST_ROW] = w->rows;

    /* The draws run one chunk ahead: the pool lines of chunk c + 1 are
     * fetched while chunk c is shifted, so memory latency overlaps
     * arithmetic. */
    if (total > 0)
        draw(pool, &plan, 0, total < CHUNK ? (unsigned)total : CHUNK, &w->chunk[0]);
    for (uint64_t j0 = 0, c = 0; j0 < total; c++) {
        draw_chunk *cur = &w->chunk[c & 1], *next = &w->chunk[(c + 1) & 1];
        const unsigned m = cur->m;
        /* Event cuts, without branches (a fifth of the events go, at
         * random): every event is written to the survivors' list, which
         * grows only for those kept. Per-process tallies are packed 16 bits
         * apart in one register (a chunk has at most 256 events). */
        unsigned kept = 0;
        uint64_t drawn_packed = 0, kept_packed = 0;
        for (unsigned d = 0; d < m; d++) {
            if (d + PREFETCH < m)
                __builtin_prefetch(cur->ev[d + PREFETCH]);
            const hbx_syst_event *e = cur->ev[d];
            const unsigned pass = (unsigned)hbx_syst_passes_event_cuts(e, &p);
            const unsigned shift = 16u * cur->proc[d];
            drawn_packed += (uint64_t)1 << shift;
            kept_packed += (uint64_t)pass << shift;
            w->kept_ev[kept] = e;
            w->kept_stream[kept] = cur->stream[d];
            kept += pass;
        }
        for (int k = 0; k < HBX_N_PROCESSES; k++) {
            st.drawn_process[k] += (drawn_packed >> (16 * k)) & 0xffff;
            st.kept_process[k] += (kept_packed >> (16 * k)) & 0xffff;
        }
        /* The survivors' soft-MET deviates (a dropped event's would be
         * thrown away: they are not drawn). */
        if (soft)
            hbx_rng_normal_pairs(w->kept_stream, kept, w->gx, w->gy);
        if (kept > cap - n_out) {
            free(w);
            out->n = 0;
            return HBX_E_NOMEM;
        }
        const uint64_t j1 = j0 + m;
        next->m = 0;
        if (j1 < total)
            draw(pool, &plan, j1, total - j1 < CHUNK ? (unsigned)(total - j1) : CHUNK, next);

        /* Shift this chunk while the next one's events are fetched. */
        const hbx_syst_overlap ov = {(const void *const *)next->ev, next->m};
        hbx_syst_batch(w->kept_ev, w->gx, w->gy, kept, &p, rows, carry, NULL, &ov);
        n_out += kept;

        /* Out: rows [0, carry + kept) belong at column position `written`.
         * (Spreading these stores over the next batch, like the reads,
         * measured no faster.) */
        const unsigned have = carry + kept;
        unsigned from = 0;
        if (written < lead) {
            /* The part before the columns' first line boundary. */
            if (have < lead) {
                carry = have;
                j0 = j1;
                continue;
            }
            for (int f = 0; f < HBX_N_FEATURES; f++)
                memcpy(cols[f], rows[f], lead * sizeof(float));
            from = lead;
        }
        const unsigned full = lines ? (have - from) & ~15u : have - from;
        for (int f = 0; f < HBX_N_FEATURES; f++) {
            if (lines)
                stream_lines(cols[f] + written + from, rows[f] + from, full);
            else
                stream_copy(cols[f] + written + from, rows[f] + from, full);
            memmove(rows[f], rows[f] + from + full, (have - from - full) * sizeof(float));
        }
        written += from + full;
        carry = have - from - full;
        /* Non-temporal stores into a page the TLB does not hold wait for
         * its walk (180 ns on a virtual machine); touching each column two
         * pages ahead has the walks done sooner, while stores are not
         * waiting on them. (About one output line in 128 is then read
         * needlessly; spreading these touches over the batch, like the
         * pool reads, measured slower.) */
        if (written + TLB_AHEAD < cap)
            for (int f = 0; f < HBX_N_FEATURES; f++)
                __builtin_prefetch(cols[f] + written + TLB_AHEAD, 0, 0);
        j0 = j1;
    }
    for (int f = 0; f < HBX_N_FEATURES; f++)
        memcpy(cols[f] + written, rows[f], carry * sizeof(float));
    free(w);
    stream_fence();
    out->n = n_out;
    st.kept = n_out;
    if (stats)
        *stats = st;
    return HBX_OK;
}
