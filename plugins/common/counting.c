/*
 * Stat-only counting: how a region is chosen and how mu is estimated from
 * the number of events in it.
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <stdlib.h>

#include "baseline.h"

double bl_region_significance(const bl_region *r, uint64_t min_mc)
{
    if (r->n_sig < min_mc || r->n_bkg < min_mc || r->s <= 0 || r->b <= 0)
        return -1;
    return r->s / sqrt(r->b + r->b_var);
}

/* -2 ln(L(nu)/L(n)) - 1 for a Poisson count n with mean nu. */
static double lr_minus_one(double nu, void *p)
{
    double n = *(const double *)p;
    double q = n > 0 ? 2.0 * (nu - n + n * log(n / nu)) : 2.0 * nu;
    return q - 1.0;
}

/* The root of lr_minus_one in [lo, hi] (which must bracket it). */
static int solve(double n, double lo, double hi, double *root)
{
    gsl_function f = {lr_minus_one, &n};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s)
        return HBX_E_NOMEM;
    gsl_root_fsolver_set(s, &f, lo, hi);
    int status = GSL_CONTINUE;
    for (int it = 0; it < 200 && status == GSL_CONTINUE; it++) {
        gsl_root_fsolver_iterate(s);
        status = gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s),
                                        1e-12, 1e-12);
    }
    *root = gsl_root_fsolver_root(s);
    gsl_root_fsolver_free(s);
    return status == GSL_SUCCESS ? HBX_OK : HBX_E_PLUGIN;
}

int bl_count_estimate(double n, double s, double b, hbx_prediction *out)
{
    if (!(s > 0) || !(b >= 0) || !(n >= 0))
        return HBX_E_INVALID;
    /* The interval is found on the Poisson mean nu = mu*s + b, then mapped to
     * mu; the likelihood in nu has its maximum at nu = n. */
    double nu_lo = 0, nu_hi;
    if (n > 0) {
        int rc = solve(n, n * 1e-12, n, &nu_lo);
        if (rc != HBX_OK)
            return rc;
    }
    double hi = n + 1.0;
    while (lr_minus_one(hi, &n) < 0)
        hi = n + 2.0 * (hi - n);
    int rc = solve(n, n > 0 ? n : 1e-300, hi, &nu_hi);
    if (rc != HBX_OK)
        return rc;
    out->mu_hat = (n - b) / s;
    out->p16 = (nu_lo - b) / s;
    out->p84 = (nu_hi - b) / s;
    out->delta_mu_hat = 0.5 * (out->p84 - out->p16);
    return HBX_OK;
}

typedef struct scored {
    float score;
    uint32_t lo, hi; /* event index, split so the struct packs in 12 bytes */
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    /* Ties in event order keep the sort (and so the result) deterministic. */
    uint64_t i = (uint64_t)x->hi << 32 | x->lo, j = (uint64_t)y->hi << 32 | y->lo;
    return (i > j) - (i < j);
}

int bl_best_threshold(const hbx_dataset *d, const float *scores, uint64_t min_mc,
                      float *threshold, bl_region *region)
{
    uint64_t n = d->n_events;
    scored *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return HBX_E_NOMEM;
    for (uint64_t i = 0; i < n; i++)
        v[i] = (scored){scores[i], (uint32_t)i, (uint32_t)(i >> 32)};
    qsort(v, n, sizeof *v, by_score_desc);
    bl_region r = {0, 0, 0, 0, 0};
    double best = -1;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t i = (uint64_t)v[k].hi << 32 | v[k].lo;
        double w = d->weights[i];
        if (d->labels[i]) {
            r.s += w;
            r.n_sig++;
        } else {
            r.b += w;
            r.b_var += w * w;
            r.n_bkg++;
        }
        /* A threshold can only sit between distinct scores. */
        if (k + 1 < n && v[k + 1].score == v[k].score)
            continue;
        double z = bl_region_significance(&r, min_mc);
        if (z > best) {
            best = z;
            *threshold = v[k].score;
            *region = r;
        }
    }
    free(v);
    return best > 0 ? HBX_OK : HBX_E_PLUGIN;
}

void bl_region_above(const hbx_dataset *d, const float *scores, float threshold,
                     bl_region *region)
{
    bl_region r = {0, 0, 0, 0, 0};
    for (uint64_t i = 0; i < d->n_events; i++) {
        if (!(scores[i] >= threshold))
            continue;
        double w = d->weights[i];
        if (d->labels[i]) {
            r.s += w;
            r.n_sig++;
        } else {
            r.b += w;
            r.b_var += w * w;
            r.n_bkg++;
        }
    }
    *region = r;
}
