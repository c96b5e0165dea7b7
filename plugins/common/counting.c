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

/* A count n with Poisson mean mu*s + beta, the background beta constrained
 * by Normal(b, b_var) from the simulation statistics of its estimate. */
typedef struct count_model {
    double n, s, b, b_var;
} count_model;

/* -2 ln of the profile likelihood ratio at mu, minus 1 (b_var > 0). beta
 * is profiled in closed form: d/dbeta = 0 gives
 * nu^2 - (mu*s + b - b_var)*nu - b_var*n = 0 for nu = mu*s + beta, whose
 * non-negative root is the minimum (the same "Barlow-Beeston lite"
 * treatment as the profile baseline's bins). */
static double q_minus_one(double mu, void *p)
{
    const count_model *m = p;
    const double t = mu * m->s;
    const double a = t + m->b - m->b_var;
    const double nu = 0.5 * (a + sqrt(a * a + 4.0 * m->b_var * m->n));
    const double beta = nu - t;
    double q = (beta - m->b) * (beta - m->b) / m->b_var;
    if (m->n > 0)
        q += 2.0 * (nu - m->n + m->n * log(m->n / nu));
    else
        q += 2.0 * nu;
    return q - 1.0;
}

/* The same for b known exactly, as a function of nu = mu*s + b. */
static double poisson_q_minus_one(double nu, void *p)
{
    const double n = ((const count_model *)p)->n;
    double q = n > 0 ? 2.0 * (nu - n + n * log(n / nu)) : 2.0 * nu;
    return q - 1.0;
}

/* The root of fn between lo and hi (which must bracket it). */
static int solve(double (*fn)(double, void *), count_model *m, double lo, double hi,
                 double *root)
{
    gsl_function f = {fn, m};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s)
        return HBX_E_NOMEM;
    if (gsl_root_fsolver_set(s, &f, lo, hi) != GSL_SUCCESS) {
        gsl_root_fsolver_free(s);
        return HBX_E_PLUGIN;
    }
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

/* Steps from mu_hat in direction dir (doubling) until q exceeds 1, then
 * solves q = 1 between the last two points. */
static int crossing(count_model *m, double mu_hat, double step, int dir, double *root)
{
    double inner = mu_hat, outer = mu_hat + dir * step;
    for (int k = 0; q_minus_one(outer, m) < 0; k++) {
        if (k == 200)
            return HBX_E_PLUGIN;
        inner = outer;
        step *= 2.0;
        outer = mu_hat + dir * step;
    }
    return dir > 0 ? solve(q_minus_one, m, inner, outer, root)
                   : solve(q_minus_one, m, outer, inner, root);
}

int bl_count_estimate(double n, double s, double b, double b_var, hbx_prediction *out)
{
    if (!(s > 0) || !(b >= 0) || !(n >= 0) || !(b_var >= 0) || !isfinite(b_var))
        return HBX_E_INVALID;
    count_model m = {n, s, b, b_var};
    /* The likelihood peaks at nu = n, beta = b. */
    const double mu_hat = (n - b) / s;
    double lo, hi;
    int rc;
    if (b_var > 0) {
        /* First step: the Gaussian error (n and b_var add in quadrature). */
        const double step = sqrt((n > 1 ? n : 1.0) + b_var) / s;
        rc = crossing(&m, mu_hat, step, -1, &lo);
        if (rc == HBX_OK)
            rc = crossing(&m, mu_hat, step, +1, &hi);
    } else {
        /* Solved on the Poisson mean nu, which cannot go below 0. */
        double nu_lo = 0, nu_hi, top = n + 1.0;
        rc = n > 0 ? solve(poisson_q_minus_one, &m, n * 1e-12, n, &nu_lo) : HBX_OK;
        while (poisson_q_minus_one(top, &m) < 0)
            top = n + 2.0 * (top - n);
        if (rc == HBX_OK)
            rc = solve(poisson_q_minus_one, &m, n > 0 ? n : 1e-300, top, &nu_hi);
        lo = (nu_lo - b) / s;
        hi = (nu_hi - b) / s;
    }
    if (rc != HBX_OK)
        return rc;
    out->mu_hat = mu_hat;
    out->p16 = lo;
    out->p84 = hi;
    out->delta_mu_hat = 0.5 * (hi - lo);
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
