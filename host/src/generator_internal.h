/* Pieces shared by the toy generator's files (not installed). */
#ifndef HBX_GENERATOR_INTERNAL_H
#define HBX_GENERATOR_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "higgsbox/generator.h"

/* ---------------------------------------------------------------------------
 * Random numbers.
 *
 * Block b of a run draws from its own stream: a xoshiro256** generator
 * (Blackman & Vigna) whose 256-bit state is Philox4x32-10 (Salmon, Moraes,
 * Dror, Shaw, SC11) evaluated at counters (0, b) and (1, b) under the key
 * `seed`. Philox, being counter-based, gives every (seed, block) a
 * well-mixed, unrelated starting state with no seeding heuristics; xoshiro
 * then makes the draws because it is several times cheaper than Philox
 * (measured on the target machine: about 1 ns per 64-bit draw against
 * 4.4 ns per 32 bits) and the generator needs ~20 draws per candidate
 * event, ~10 candidates per accepted Z → ττ event. GSL's generators would
 * cost a call through a function pointer per draw, as much as the physics.
 * Streams of 2^22 draws from random points of a 2^256 cycle do not overlap
 * in practice.
 */

typedef struct hbx_gen_rng {
    uint64_t s[4];
} hbx_gen_rng;

/* One Philox4x32-10 evaluation (exposed for the known-answer test). */
static inline void hbx_philox4x32_10(const uint32_t in[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = in[0], c1 = in[1], c2 = in[2], c3 = in[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Stream `stream` (the block index) of generator `seed`. */
static inline void hbx_gen_rng_init(hbx_gen_rng *r, uint64_t seed, uint64_t stream)
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[8];
    for (uint32_t half = 0; half < 2; half++) {
        const uint32_t ctr[4] = {half, 0, (uint32_t)stream, (uint32_t)(stream >> 32)};
        hbx_philox4x32_10(ctr, key, w + 4 * half);
    }
    for (int i = 0; i < 4; i++)
        r->s[i] = (uint64_t)w[2 * i] << 32 | w[2 * i + 1];
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1; /* the one state xoshiro cannot leave */
}

static inline uint64_t hbx_gen_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits (xoshiro256**). */
static inline uint64_t hbx_gen_u64(hbx_gen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = hbx_gen_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = hbx_gen_rotl(s[3], 45);
    return out;
}

/* Uniform in the open interval (0, 1), 53 bits: never 0, so logarithms
 * are always finite. */
static inline double hbx_gen_uniform(hbx_gen_rng *r)
{
    return ((double)(hbx_gen_u64(r) >> 11) + 0.5) * 0x1p-53;
}

/* Uniform in (-1, 1). */
static inline double hbx_gen_symmetric(hbx_gen_rng *r)
{
    return 2.0 * hbx_gen_uniform(r) - 1.0;
}

/* Ziggurat tables for the normal distribution (generator_rng.c): 128
 * layers; x[i] is the right edge of layer i (x[0] the base layer's
 * equivalent width, x[128] = 0) and ratio[i] = x[i+1] / x[i]. */
#define HBX_ZIG_LAYERS 128
typedef struct hbx_gen_ziggurat {
    double x[HBX_ZIG_LAYERS + 1];
    double ratio[HBX_ZIG_LAYERS];
} hbx_gen_ziggurat;

/* The tables, built on first use (thread-safe). */
const hbx_gen_ziggurat *hbx_gen_ziggurat_tables(void);

/* The rare slow path of hbx_gen_normal (tail and wedges). */
double hbx_gen_normal_slow(hbx_gen_rng *r, const hbx_gen_ziggurat *z, double u, unsigned layer);

/* Standard normal by the ziggurat method (Marsaglia & Tsang 2000, in
 * Doornik's formulation with independent bits for layer and abscissa):
 * one 64-bit draw and a compare ~99 % of the time. The polar method or
 * GSL's ziggurat cost four times as much here (a logarithm per pair; a
 * call through a function pointer per draw), and the generator draws
 * ~10 normals per candidate event. */
static inline double hbx_gen_normal(hbx_gen_rng *r, const hbx_gen_ziggurat *z)
{
    uint64_t bits = hbx_gen_u64(r);
    unsigned layer = (unsigned)(bits & (HBX_ZIG_LAYERS - 1));
    double u = ((double)(bits >> 11) + 0.5) * 0x1p-52 - 1.0; /* (-1, 1) */
    if (fabs(u) < z->ratio[layer])
        return u * z->x[layer];
    return hbx_gen_normal_slow(r, z, u, layer);
}

/* ---------------------------------------------------------------------------
 * Event physics (generator_physics.c)
 */

/* Read-only tables the physics needs, built once per run and shared by all
 * threads. */
typedef struct hbx_gen_physics hbx_gen_physics;

/* Builds the tables; NULL when out of memory. Free with free(). */
hbx_gen_physics *hbx_gen_physics_new(void);

/* Generates candidates of `process` until one passes the selection and
 * writes its 16 PRI features (rounded to 3 decimals as in the data) to
 * `pri`. Returns how many candidates that took. */
uint32_t hbx_gen_event(const hbx_gen_physics *ph, hbx_gen_rng *r, int process,
                       float pri[HBX_N_PRIMARY]);

#endif
