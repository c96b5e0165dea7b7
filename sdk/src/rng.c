/*
 * Ziggurat tables and the rare paths of the normal generator (rng.h).
 *
 * 256 layers of equal area V under f(x) = exp(-x^2/2), the base layer
 * including the tail beyond R. R and V are the published 256-layer values of
 * Marsaglia & Tsang (2000); the layer edges follow from the recurrence
 * f(x[i+1]) = f(x[i]) + V / x[i].
 */
#include <math.h>
#include <pthread.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define HBX_RNG_SIMD 1
#else
#define HBX_RNG_SIMD 0
#endif

#include "higgsbox/rng.h"

#define ZIG_R 3.6541528853610088
#define ZIG_V 4.92867323399e-3

hbx_ziggurat hbx_zig;

static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void pick_simd(void);

static void build_tables(void)
{
    pick_simd();
    hbx_ziggurat *z = &hbx_zig;
    z->f[1] = exp(-0.5 * ZIG_R * ZIG_R);
    z->x[0] = ZIG_V / z->f[1]; /* base layer as a rectangle of area V */
    z->f[0] = z->f[1];         /* unused: the base layer has no wedge */
    z->x[1] = ZIG_R;
    for (int i = 1; i < 256; i++) {
        double next_f = z->f[i] + ZIG_V / z->x[i];
        /* The last step lands on the top of the curve; rounding may push
         * it a hair over 1. */
        z->f[i + 1] = next_f < 1.0 ? next_f : 1.0;
        z->x[i + 1] = next_f < 1.0 ? sqrt(-2.0 * log(next_f)) : 0.0;
    }
    z->x[256] = 0.0;
    z->f[256] = 1.0;
    for (int i = 0; i < 256; i++) {
        z->ratio[i] = z->x[i + 1] / z->x[i];
        z->ratio_x[i][0] = z->ratio[i];
        z->ratio_x[i][1] = z->x[i];
    }
}

void hbx_rng_init(void)
{
    pthread_once(&zig_once, build_tables);
}

/* Tables ready before main() or dlopen() returns, so the inline fast path
 * never has to check. */
__attribute__((constructor)) static void rng_load(void)
{
    hbx_rng_init();
}

/* Uniform in (0, 1]: safe under a logarithm. */
static double open_uniform(hbx_rng *r)
{
    return (double)((hbx_rng_next(r) >> 11) + 1) * 0x1p-53;
}

double hbx_rng_normal_slow(hbx_rng *r, uint64_t b)
{
    const hbx_ziggurat *z = &hbx_zig;
    for (;;) {
        unsigned layer = (unsigned)(b & 255u);
        double u = (double)(b >> 11) * 0x1p-53;
        double x = u * z->x[layer];
        if (u < z->ratio[layer])
            return (b & 256u) ? -x : x;
        if (layer == 0) {
            /* Tail beyond R (Marsaglia 1964): exponential proposals,
             * accepted with the Gaussian-to-exponential ratio. */
            double t, y;
            do {
                t = -log(open_uniform(r)) / ZIG_R;
                y = -log(open_uniform(r));
            } while (y + y < t * t);
            x = ZIG_R + t;
            return (b & 256u) ? -x : x;
        }
        /* Wedge: a point uniform in the layer's box beyond x[layer+1]. */
        double y = z->f[layer] + hbx_rng_uniform(r) * (z->f[layer + 1] - z->f[layer]);
        if (y < exp(-0.5 * x * x))
            return (b & 256u) ? -x : x;
        b = hbx_rng_next(r);
    }
}

/* ---------------------------------------------------------------------------
 * Many streams at once. The scalar loops define the numbers; the SIMD
 * variants compute the same 64-bit integers lane by lane (SplitMix64 is
 * integer arithmetic) and the same ziggurat fast path, leaving the rare
 * slow path, which may read more words, to the scalar code.
 */

#define HBX_RNG_STREAM_STEP 0xd1b54a32d192ed03ULL /* hbx_rng_at's counter multiplier */

static void first_words_scalar(uint64_t key, uint64_t first, unsigned n, uint64_t *state,
                               uint64_t *word)
{
    for (unsigned i = 0; i < n; i++) {
        hbx_rng r = hbx_rng_at(key, first + i);
        word[i] = hbx_rng_next(&r);
        state[i] = r.s;
    }
}

static void normal_pairs_scalar(const uint64_t *state, unsigned n, double *a, double *b)
{
    for (unsigned i = 0; i < n; i++) {
        hbx_rng r = {state[i]};
        a[i] = hbx_rng_normal(&r);
        b[i] = hbx_rng_normal(&r);
    }
}

/* The normals of lanes whose fast path failed: first deviate rejected
 * (redo both from the start), or only the second (its slow path takes the
 * stream after the second word). */
static void normal_pairs_fix(const uint64_t *state, unsigned i, unsigned lanes, unsigned bad_a,
                             unsigned bad_b, const uint64_t *b2, double *a, double *b)
{
    for (unsigned l = 0; l < lanes; l++) {
        if (bad_a >> l & 1) {
            normal_pairs_scalar(state + i + l, 1, a + i + l, b + i + l);
        } else if (bad_b >> l & 1) {
            hbx_rng r = {state[i + l] + 2 * HBX_RNG_GAMMA};
            b[i + l] = hbx_rng_normal_slow(&r, b2[l]);
        }
    }
}

#if HBX_RNG_SIMD
#pragma GCC push_options
#pragma GCC target("avx2")

/* a * b mod 2^64, four lanes: AVX2 multiplies 32-bit halves. */
static inline __m256i mullo64_avx2(__m256i a, __m256i b)
{
    const __m256i lo = _mm256_mul_epu32(a, b);
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)),
                                           _mm256_mul_epu32(_mm256_srli_epi64(a, 32), b));
    return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

static inline __m256i mix64_avx2(__m256i z)
{
    z = mullo64_avx2(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)),
                     _mm256_set1_epi64x((long long)0xbf58476d1ce4e5b9ULL));
    z = mullo64_avx2(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)),
                     _mm256_set1_epi64x((long long)0x94d049bb133111ebULL));
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

static void first_words_avx2(uint64_t key, uint64_t first, unsigned n, uint64_t *state,
                             uint64_t *word)
{
    const __m256i step = _mm256_set1_epi64x((long long)HBX_RNG_STREAM_STEP);
    const __m256i k = _mm256_set1_epi64x((long long)key);
    const __m256i gamma = _mm256_set1_epi64x((long long)HBX_RNG_GAMMA);
    unsigned i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint64_t c = first + i;
        const __m256i counter = _mm256_setr_epi64x((long long)c, (long long)(c + 1),
                                                   (long long)(c + 2), (long long)(c + 3));
        const __m256i start = mix64_avx2(_mm256_add_epi64(k, mullo64_avx2(counter, step)));
        const __m256i s = _mm256_add_epi64(start, gamma);
        _mm256_storeu_si256((__m256i *)(state + i), s);
        _mm256_storeu_si256((__m256i *)(word + i), mix64_avx2(s));
    }
    first_words_scalar(key, first + i, n - i, state + i, word + i);
}

/* (double)(x >> 11) * 2^-53 for four words: the 53-bit integer split in
 * halves, each exact through the 2^52 and 2^84 exponent tricks. */
static inline __m256d unit_avx2(__m256i x)
{
    x = _mm256_srli_epi64(x, 11);
    const __m256d lo = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(x, _mm256_set1_epi64x(0xffffffff)),
                                            _mm256_set1_epi64x(0x4330000000000000))),
        _mm256_set1_pd(0x1p52));
    const __m256d hi = _mm256_sub_pd(
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(x, 32),
                                            _mm256_set1_epi64x(0x4530000000000000))),
        _mm256_set1_pd(0x1p84));
    return _mm256_mul_pd(_mm256_add_pd(hi, lo), _mm256_set1_pd(0x1p-53));
}

/* The ziggurat fast path for four words; bit l of *ok set when lane l
 * took it. */
static inline __m256d normal_fast_avx2(__m256i bits, int *ok)
{
    uint64_t w[4];
    _mm256_storeu_si256((__m256i *)w, bits);
    const double(*t)[2] = hbx_zig.ratio_x;
    const __m256d x02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(t[w[0] & 255])),
                                             _mm_loadu_pd(t[w[2] & 255]), 1);
    const __m256d x13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(t[w[1] & 255])),
                                             _mm_loadu_pd(t[w[3] & 255]), 1);
    const __m256d ratio = _mm256_unpacklo_pd(x02, x13), x = _mm256_unpackhi_pd(x02, x13);
    const __m256d u = unit_avx2(bits);
    *ok = _mm256_movemask_pd(_mm256_cmp_pd(u, ratio, _CMP_LT_OQ));
    const __m256i sign = _mm256_slli_epi64(_mm256_and_si256(bits, _mm256_set1_epi64x(256)), 55);
    return _mm256_castsi256_pd(_mm256_xor_si256(_mm256_castpd_si256(_mm256_mul_pd(u, x)), sign));
}

static void normal_pairs_avx2(const uint64_t *state, unsigned n, double *a, double *b)
{
    const __m256i gamma = _mm256_set1_epi64x((long long)HBX_RNG_GAMMA);
    unsigned i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256i s0 = _mm256_loadu_si256((const __m256i *)(state + i));
        const __m256i s1 = _mm256_add_epi64(s0, gamma);
        const __m256i w1 = mix64_avx2(s1), w2 = mix64_avx2(_mm256_add_epi64(s1, gamma));
        int ok_a, ok_b;
        _mm256_storeu_pd(a + i, normal_fast_avx2(w1, &ok_a));
        _mm256_storeu_pd(b + i, normal_fast_avx2(w2, &ok_b));
        if (__builtin_expect((ok_a & ok_b) != 15, 0)) {
            uint64_t w2s[4];
            _mm256_storeu_si256((__m256i *)w2s, w2);
            normal_pairs_fix(state, i, 4, ~ok_a & 15, ~ok_b & 15, w2s, a, b);
        }
    }
    normal_pairs_scalar(state + i, n - i, a + i, b + i);
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512dq,avx512vl")

static inline __m512i mix64_avx512(__m512i z)
{
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                           _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                           _mm512_set1_epi64((long long)0x94d049bb133111ebULL));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

static void first_words_avx512(uint64_t key, uint64_t first, unsigned n, uint64_t *state,
                               uint64_t *word)
{
    const __m512i step = _mm512_set1_epi64((long long)HBX_RNG_STREAM_STEP);
    const __m512i k = _mm512_set1_epi64((long long)key);
    const __m512i gamma = _mm512_set1_epi64((long long)HBX_RNG_GAMMA);
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    unsigned i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512i counter = _mm512_add_epi64(_mm512_set1_epi64((long long)(first + i)), lane);
        const __m512i s =
            _mm512_add_epi64(mix64_avx512(_mm512_add_epi64(k, _mm512_mullo_epi64(counter, step))),
                             gamma);
        _mm512_storeu_si512(state + i, s);
        _mm512_storeu_si512(word + i, mix64_avx512(s));
    }
    first_words_scalar(key, first + i, n - i, state + i, word + i);
}

static inline __m512d normal_fast_avx512(__m512i bits, int *ok)
{
    uint64_t w[8];
    _mm512_storeu_si512(w, bits);
    const double(*t)[2] = hbx_zig.ratio_x;
    const __m512d x = _mm512_insertf64x2(
        _mm512_insertf64x2(_mm512_insertf64x2(_mm512_castpd128_pd512(_mm_loadu_pd(t[w[0] & 255])),
                                              _mm_loadu_pd(t[w[2] & 255]), 1),
                           _mm_loadu_pd(t[w[4] & 255]), 2),
        _mm_loadu_pd(t[w[6] & 255]), 3);
    const __m512d y = _mm512_insertf64x2(
        _mm512_insertf64x2(_mm512_insertf64x2(_mm512_castpd128_pd512(_mm_loadu_pd(t[w[1] & 255])),
                                              _mm_loadu_pd(t[w[3] & 255]), 1),
                           _mm_loadu_pd(t[w[5] & 255]), 2),
        _mm_loadu_pd(t[w[7] & 255]), 3);
    const __m512d ratio = _mm512_unpacklo_pd(x, y), xs = _mm512_unpackhi_pd(x, y);
    /* (bits >> 11) < 2^53: exact as a double. */
    const __m512d u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(bits, 11)),
                                    _mm512_set1_pd(0x1p-53));
    *ok = _mm512_cmp_pd_mask(u, ratio, _CMP_LT_OQ);
    const __m512i sign = _mm512_slli_epi64(_mm512_and_si512(bits, _mm512_set1_epi64(256)), 55);
    return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(_mm512_mul_pd(u, xs)), sign));
}

static void normal_pairs_avx512(const uint64_t *state, unsigned n, double *a, double *b)
{
    const __m512i gamma = _mm512_set1_epi64((long long)HBX_RNG_GAMMA);
    unsigned i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512i s1 = _mm512_add_epi64(_mm512_loadu_si512(state + i), gamma);
        const __m512i w1 = mix64_avx512(s1), w2 = mix64_avx512(_mm512_add_epi64(s1, gamma));
        int ok_a, ok_b;
        _mm512_storeu_pd(a + i, normal_fast_avx512(w1, &ok_a));
        _mm512_storeu_pd(b + i, normal_fast_avx512(w2, &ok_b));
        if (__builtin_expect((ok_a & ok_b) != 255, 0)) {
            uint64_t w2s[8];
            _mm512_storeu_si512(w2s, w2);
            normal_pairs_fix(state, i, 8, ~ok_a & 255, ~ok_b & 255, w2s, a, b);
        }
    }
    normal_pairs_scalar(state + i, n - i, a + i, b + i);
}
#pragma GCC pop_options
#endif

/* The SIMD variant in use: 2 AVX-512, 1 AVX2, 0 scalar; the widest the CPU
 * runs unless hbx_rng_simd() chose another. */
static int simd_level = -1;

static int simd_supported(void)
{
#if HBX_RNG_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2"))
        return 1;
#endif
    return 0;
}

static void pick_simd(void)
{
    simd_level = simd_supported();
}

/* Chosen with the tables (hbx_rng_init: once, before any use). */
static int rng_simd_level(void)
{
    if (__builtin_expect(simd_level < 0, 0))
        hbx_rng_init();
    return simd_level;
}

int hbx_rng_simd(int level)
{
    if (level >= 0) {
        const int top = simd_supported();
        simd_level = level < top ? level : top;
    }
    return rng_simd_level();
}

void hbx_rng_first_words(uint64_t key, uint64_t first, unsigned n, uint64_t *state,
                         uint64_t *word)
{
#if HBX_RNG_SIMD
    switch (rng_simd_level()) {
    case 2:
        first_words_avx512(key, first, n, state, word);
        return;
    case 1:
        first_words_avx2(key, first, n, state, word);
        return;
    }
#endif
    first_words_scalar(key, first, n, state, word);
}

void hbx_rng_normal_pairs(const uint64_t *state, unsigned n, double *a, double *b)
{
#if HBX_RNG_SIMD
    switch (rng_simd_level()) {
    case 2:
        normal_pairs_avx512(state, n, a, b);
        return;
    case 1:
        normal_pairs_avx2(state, n, a, b);
        return;
    }
#endif
    normal_pairs_scalar(state, n, a, b);
}
