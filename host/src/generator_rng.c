/* The toy generator's normal variates: ziggurat tables and slow path (the
 * fast path is inline in generator_internal.h). */
#include <math.h>
#include <pthread.h>

#include "generator_internal.h"

/* Marsaglia & Tsang's constants for 128 layers: the base layer starts at
 * R and every layer has area V. */
#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3

static hbx_gen_ziggurat tables;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    double f = exp(-0.5 * ZIG_R * ZIG_R);
    tables.x[0] = ZIG_V / f;
    tables.x[1] = ZIG_R;
    for (int i = 2; i < HBX_ZIG_LAYERS; i++) {
        double prev = tables.x[i - 1];
        tables.x[i] = sqrt(-2.0 * log(ZIG_V / prev + exp(-0.5 * prev * prev)));
    }
    tables.x[HBX_ZIG_LAYERS] = 0.0;
    for (int i = 0; i < HBX_ZIG_LAYERS; i++)
        tables.ratio[i] = tables.x[i + 1] / tables.x[i];
}

const hbx_gen_ziggurat *hbx_gen_ziggurat_tables(void)
{
    pthread_once(&tables_once, build_tables);
    return &tables;
}

double hbx_gen_normal_slow(hbx_gen_rng *r, const hbx_gen_ziggurat *z, double u, unsigned layer)
{
    for (;;) {
        if (layer == 0) {
            /* The tail beyond R (Marsaglia 1964). */
            double x, y;
            do {
                x = -log(hbx_gen_uniform(r)) / ZIG_R;
                y = -log(hbx_gen_uniform(r));
            } while (y + y < x * x);
            return u < 0 ? -(ZIG_R + x) : ZIG_R + x;
        }
        /* The wedge between the layer's box and the curve: accept under
         * the density, uniformly between the heights at the layer's two
         * edges. */
        double x = u * z->x[layer];
        double f0 = exp(-0.5 * (z->x[layer] * z->x[layer] - x * x));
        double f1 = exp(-0.5 * (z->x[layer + 1] * z->x[layer + 1] - x * x));
        if (f1 + hbx_gen_uniform(r) * (f0 - f1) < 1.0)
            return x;
        uint64_t bits = hbx_gen_u64(r);
        layer = (unsigned)(bits & (HBX_ZIG_LAYERS - 1));
        u = ((double)(bits >> 11) + 0.5) * 0x1p-52 - 1.0;
        if (fabs(u) < z->ratio[layer])
            return u * z->x[layer];
    }
}
