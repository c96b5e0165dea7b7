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

#include "higgsbox/rng.h"

#define ZIG_R 3.6541528853610088
#define ZIG_V 4.92867323399e-3

hbx_ziggurat hbx_zig;

static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
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
    for (int i = 0; i < 256; i++)
        z->ratio[i] = z->x[i + 1] / z->x[i];
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
