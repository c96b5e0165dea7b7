/*
 * higgsbox random numbers: counter-based streams and fast normal deviates.
 *
 * Every random draw of higgsbox (soft-MET noise, pseudo-experiment sampling,
 * nuisances) comes from here, so that a result depends on its seed and on
 * nothing else: not on threads, chunking or the order in which work is done.
 *
 * Design. A *key* names a family of streams (a seed plus a purpose); a
 * *stream* is the SplitMix64 sequence (Steele, Lea & Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014) started at a point chosen by
 * hashing (key, counter). Event i of a job uses stream (key, i), so any event
 * can be produced alone, by any thread, in any order. SplitMix64 passes
 * BigCrush, costs one add and one 64-bit finaliser per draw (about a
 * nanosecond), and needs no table or state beyond one word; a general-purpose
 * library generator (GSL's) costs a function call and a state struct per
 * stream, which matters at millions of streams per second.
 *
 * Normal deviates use the ziggurat method of Marsaglia & Tsang ("The
 * ziggurat method for generating random variables", J. Stat. Softw. 5, 2000)
 * with 256 layers; the layer index, the sign and the abscissa come from
 * disjoint bits of one 64-bit draw. Tables are built once at load time.
 *
 * Shared by libhiggsbox and the SDK library (hbx_physics); not part of the
 * plugin ABI.
 */
#ifndef HIGGSBOX_RNG_H
#define HIGGSBOX_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SplitMix64's increment (the odd integer closest to 2^64 / golden ratio). */
#define HBX_RNG_GAMMA 0x9e3779b97f4a7c15ULL

/* SplitMix64's output function: a bijection of 64-bit words in which every
 * input bit affects every output bit. */
static inline uint64_t hbx_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* One stream: a SplitMix64 state. Copy freely; it owns nothing. */
typedef struct hbx_rng {
    uint64_t s;
} hbx_rng;

/* The key of the streams of `seed` used for `purpose` (a small constant per
 * use, so that two uses of one seed never share numbers). */
static inline uint64_t hbx_rng_key(uint64_t seed, uint64_t purpose)
{
    return hbx_mix64(hbx_mix64(seed) + purpose * HBX_RNG_GAMMA);
}

/* Stream number `counter` of `key`: SplitMix64 started at mix(key + counter
 * * C), C an odd constant. mix is a bijection and counter -> key + counter * C
 * is one too, so distinct counters start at distinct, scattered points of
 * the 2^64-long cycle; streams of a few draws each do not overlap in
 * practice. */
static inline hbx_rng hbx_rng_at(uint64_t key, uint64_t counter)
{
    hbx_rng r;
    r.s = hbx_mix64(key + counter * 0xd1b54a32d192ed03ULL);
    return r;
}

/* Next 64 random bits. */
static inline uint64_t hbx_rng_next(hbx_rng *r)
{
    r->s += HBX_RNG_GAMMA;
    return hbx_mix64(r->s);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double hbx_rng_uniform(hbx_rng *r)
{
    return (double)(hbx_rng_next(r) >> 11) * 0x1p-53;
}

/* Uniform integer in [0, n) (Lemire's multiply-shift; the bias is below
 * n / 2^64). n = 0 gives 0. */
__extension__ typedef unsigned __int128 hbx_u128_;
static inline uint64_t hbx_rng_below(hbx_rng *r, uint64_t n)
{
    return (uint64_t)(((hbx_u128_)hbx_rng_next(r) * n) >> 64);
}

/* Ziggurat tables: layer i spans [0, x[i]] horizontally; ratio[i] =
 * x[i+1] / x[i] is the fraction of the layer that lies wholly under the
 * curve; f[i] = exp(-x[i]^2 / 2). Filled by hbx_rng_init(). */
typedef struct hbx_ziggurat {
    double x[257];
    double f[257];
    double ratio[256];
    double ratio_x[256][2]; /* ratio[i], x[i] side by side: one read per lane */
} hbx_ziggurat;
extern hbx_ziggurat hbx_zig;

/* Builds the ziggurat tables. Runs automatically when the library is loaded;
 * calling it again is harmless (thread-safe, idempotent). */
void hbx_rng_init(void);

/* Slow path of hbx_rng_normal (wedges and tail), out of line. */
double hbx_rng_normal_slow(hbx_rng *r, uint64_t bits);

/* A standard normal deviate. About 99% of calls take one 64-bit draw and one
 * multiply. The sign (bit 8) is applied by flipping the sign bit rather than
 * by a branch, which would be mispredicted half the time. */
static inline double hbx_rng_normal(hbx_rng *r)
{
    uint64_t b = hbx_rng_next(r);
    unsigned layer = (unsigned)(b & 255u);
    double u = (double)(b >> 11) * 0x1p-53;
    if (__builtin_expect(u < hbx_zig.ratio[layer], 1)) {
        double z = u * hbx_zig.x[layer];
        uint64_t bits;
        __builtin_memcpy(&bits, &z, sizeof bits);
        bits ^= (b & 256u) << 55;
        __builtin_memcpy(&z, &bits, sizeof z);
        return z;
    }
    return hbx_rng_normal_slow(r, b);
}

/* Many streams at once, with SIMD where the CPU has it (AVX-512 or AVX2;
 * integer arithmetic, so the same numbers on every CPU).
 *
 * hbx_rng_first_words: for i < n, with r = hbx_rng_at(key, first + i):
 * word[i] = hbx_rng_next(&r) and state[i] = r.s afterwards. */
void hbx_rng_first_words(uint64_t key, uint64_t first, unsigned n, uint64_t *state,
                         uint64_t *word);

/* For i < n, with r.s = state[i]: a[i] = hbx_rng_normal(&r), then
 * b[i] = hbx_rng_normal(&r). */
void hbx_rng_normal_pairs(const uint64_t *state, unsigned n, double *a, double *b);

/* The SIMD variant the two functions above use: 2 (AVX-512), 1 (AVX2), 0
 * (scalar). level >= 0 selects it, or the widest the CPU runs below it (the
 * tests compare them); returns the level in use. Not thread-safe: for tests
 * and benchmarks. */
int hbx_rng_simd(int level);

#ifdef __cplusplus
}
#endif
#endif /* HIGGSBOX_RNG_H */
