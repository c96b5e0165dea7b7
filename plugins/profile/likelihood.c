/*
 * The profile likelihood: expected yields and their gradient, minimisation
 * with GSL's BFGS (simplex as a fallback), and the interval where
 * -2 Delta ln L = 1, found by Brent's method on the profiled curve.
 */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <string.h>

#include "profile.h"

/* Returned for parameters where some bin expects no events: large but
 * finite, so that the line search and Brent's method back away from it. */
#define NLL_WALL 1e30

/* u = soft_met^2 from t = ln soft_met, capped at 5 GeV; du/dt in *du. */
static double met_u(double t, double *du)
{
    double u = exp(2.0 * t), cap = PR_SOFT_MET_MAX * PR_SOFT_MET_MAX;
    if (u >= cap) {
        *du = 0;
        return cap;
    }
    *du = 2.0 * u;
    return u;
}

/* Where the pseudo-experiments clip each nuisance (HIGGSML.md §5), in units
 * of its width: the model holds a nuisance there beyond (derivative 0), so
 * a fit with little data (an empty PE) cannot drive the polynomials into
 * overflow; the constraint still pulls the parameter back. */
static const double clip_lo[PR_N_PARAMS] = {
    [PR_A_TES] = -10, [PR_A_JES] = -10, [PR_A_TTBAR] = -10, [PR_A_DIBOSON] = -4, [PR_A_BKG] = -10};
static const double clip_hi[PR_N_PARAMS] = {
    [PR_A_TES] = 10, [PR_A_JES] = 10, [PR_A_TTBAR] = 10, [PR_A_DIBOSON] = 4, [PR_A_BKG] = 10};

/* The value of nuisance k the model uses, and its derivative (1 or 0). */
static double clipped(const double *p, int k, double *d)
{
    double v = p[k];
    *d = v < clip_lo[k] || v > clip_hi[k] ? 0.0 : 1.0;
    return v < clip_lo[k] ? clip_lo[k] : v > clip_hi[k] ? clip_hi[k] : v;
}

/* Expected events per bin and, when dnu is not NULL, d nu_b / d p_k in
 * dnu[b * PR_N_PARAMS + k]. */
static void expected(const pr_model *m, const double *p, double *nu, double *dnu)
{
    double du, d_tes, d_jes, d_tt, d_db, d_bkg;
    double x[PR_N_SHAPES] = {clipped(p, PR_A_TES, &d_tes), clipped(p, PR_A_JES, &d_jes),
                             met_u(p[PR_T_MET], &du)};
    double dx[PR_N_SHAPES] = {d_tes, d_jes, du};
    double bs = 1.0 + PR_SIGMA_BKG * clipped(p, PR_A_BKG, &d_bkg);
    double tt = 1.0 + PR_SIGMA_TTBAR * clipped(p, PR_A_TTBAR, &d_tt);
    double db = 1.0 + PR_SIGMA_DIBOSON * clipped(p, PR_A_DIBOSON, &d_db);
    double norm[HBX_N_PROCESSES] = {p[PR_MU], bs, bs * tt, bs * db};
    for (int b = 0; b < m->n_bins; b++) {
        double sum = 0, g[PR_N_PARAMS] = {0}, y[HBX_N_PROCESSES];
        for (int q = 0; q < HBX_N_PROCESSES; q++) {
            double lr = 0, dlr[PR_N_SHAPES];
            for (int s = 0; s < PR_N_SHAPES; s++) {
                const double *c = m->coef[s][q][b];
                lr += x[s] * (c[0] + c[1] * x[s]);
                dlr[s] = (c[0] + 2.0 * c[1] * x[s]) * dx[s];
            }
            y[q] = m->yield[q][b] * exp(lr); /* at unit normalisation */
            double v = norm[q] * y[q];
            sum += v;
            g[PR_A_TES] += v * dlr[PR_TES];
            g[PR_A_JES] += v * dlr[PR_JES];
            g[PR_T_MET] += v * dlr[PR_MET];
        }
        nu[b] = sum;
        if (!dnu)
            continue;
        g[PR_MU] = y[HBX_HTAUTAU];
        g[PR_A_TTBAR] = d_tt * bs * PR_SIGMA_TTBAR * y[HBX_TTBAR];
        g[PR_A_DIBOSON] = d_db * bs * PR_SIGMA_DIBOSON * y[HBX_DIBOSON];
        g[PR_A_BKG] =
            d_bkg * PR_SIGMA_BKG * (y[HBX_ZTAUTAU] + tt * y[HBX_TTBAR] + db * y[HBX_DIBOSON]);
        memcpy(dnu + b * PR_N_PARAMS, g, sizeof g);
    }
}

void pr_expected(const pr_model *m, const double *p, double *nu)
{
    expected(m, p, nu, NULL);
}

/* -ln L relative to the saturated model, with the simulation-statistics
 * factor gamma of each bin profiled in closed form, plus the constraints.
 * grad (PR_N_PARAMS values) is filled when not NULL. */
static double nll(const pr_model *m, const double *n, const double *p, double *grad)
{
    double nu[PR_MAX_BINS], dnu[PR_MAX_BINS * PR_N_PARAMS];
    expected(m, p, nu, grad ? dnu : NULL);
    double f = 0;
    if (grad)
        memset(grad, 0, PR_N_PARAMS * sizeof *grad);
    for (int b = 0; b < m->n_bins; b++) {
        if (!(nu[b] > 0) || !isfinite(nu[b]))
            return NLL_WALL;
        /* gamma minimises gamma nu - n ln(gamma nu) + (gamma - 1)^2 / (2 d2):
         * the positive root of gamma^2 + (nu d2 - 1) gamma - n d2 = 0. */
        double d2 = m->mc_rel2[b], g = 1.0;
        if (d2 > 0) {
            /* The root in the form that does not cancel for either sign of a. */
            double a = nu[b] * d2 - 1.0, r = sqrt(a * a + 4.0 * n[b] * d2);
            g = a > 0 ? 2.0 * n[b] * d2 / (a + r) : 0.5 * (r - a);
            if (!(g > 0))
                g = 1e-300; /* n = 0 and nu d2 >= 1: the simulation allows no events */
            f += (g - 1.0) * (g - 1.0) / (2.0 * d2);
        }
        double mean = g * nu[b];
        f += mean - n[b] + (n[b] > 0 ? n[b] * log(n[b] / mean) : 0);
        if (grad) {
            /* Envelope theorem: d/dnu of the profiled term is gamma - n/nu. */
            double dfdnu = g - n[b] / nu[b];
            for (int k = 0; k < PR_N_PARAMS; k++)
                grad[k] += dfdnu * dnu[b * PR_N_PARAMS + k];
        }
    }
    for (int k = PR_A_TES; k < PR_N_PARAMS; k++) {
        f += 0.5 * p[k] * p[k];
        if (grad)
            grad[k] += p[k];
    }
    return f;
}

/* ---- minimisation over a subset of the parameters ----------------------- */

typedef struct fit_ctx {
    const pr_model *m;
    const double *n;
    double p[PR_N_PARAMS]; /* fixed values, and the free ones being varied */
    int free_idx[PR_N_PARAMS];
    int n_free;
} fit_ctx;

static void unpack(fit_ctx *c, const gsl_vector *x)
{
    for (int i = 0; i < c->n_free; i++)
        c->p[c->free_idx[i]] = gsl_vector_get(x, (size_t)i);
}

static double f_only(const gsl_vector *x, void *v)
{
    fit_ctx *c = v;
    unpack(c, x);
    return nll(c->m, c->n, c->p, NULL);
}

static void f_and_df(const gsl_vector *x, void *v, double *f, gsl_vector *df)
{
    fit_ctx *c = v;
    unpack(c, x);
    double grad[PR_N_PARAMS];
    *f = nll(c->m, c->n, c->p, grad);
    for (int i = 0; i < c->n_free; i++)
        gsl_vector_set(df, (size_t)i, *f >= NLL_WALL ? 0.0 : grad[c->free_idx[i]]);
}

static void df_only(const gsl_vector *x, void *v, gsl_vector *df)
{
    double f;
    f_and_df(x, v, &f, df);
}

/* Nelder-Mead from x, for when BFGS stops short (kinks at the soft_met cap,
 * walls). */
static void simplex_polish(fit_ctx *c, gsl_vector *x)
{
    gsl_multimin_function fn = {f_only, (size_t)c->n_free, c};
    gsl_multimin_fminimizer *s =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, (size_t)c->n_free);
    gsl_vector *step = gsl_vector_alloc((size_t)c->n_free);
    if (!s || !step) {
        if (s)
            gsl_multimin_fminimizer_free(s);
        if (step)
            gsl_vector_free(step);
        return;
    }
    gsl_vector_set_all(step, 0.05);
    gsl_multimin_fminimizer_set(s, &fn, x, step);
    for (int it = 0; it < 5000; it++) {
        if (gsl_multimin_fminimizer_iterate(s) != GSL_SUCCESS)
            break;
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-7) == GSL_SUCCESS)
            break;
    }
    gsl_vector_memcpy(x, gsl_multimin_fminimizer_x(s));
    gsl_multimin_fminimizer_free(s);
    gsl_vector_free(step);
}

/* Minimises over the parameters in `free_mask`, starting from p (updated).
 * Returns the minimum, or NAN when GSL could not allocate. */
static double minimise(const pr_model *m, const double *n, double *p, unsigned free_mask)
{
    fit_ctx c = {.m = m, .n = n};
    memcpy(c.p, p, sizeof c.p);
    for (int k = 0; k < PR_N_PARAMS; k++)
        if (free_mask & (1u << k))
            c.free_idx[c.n_free++] = k;
    if (c.n_free == 0)
        return nll(m, n, p, NULL);
    gsl_multimin_function_fdf fn = {f_only, df_only, f_and_df, (size_t)c.n_free, &c};
    gsl_multimin_fdfminimizer *s =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, (size_t)c.n_free);
    gsl_vector *x = gsl_vector_alloc((size_t)c.n_free);
    if (!s || !x) {
        if (s)
            gsl_multimin_fdfminimizer_free(s);
        if (x)
            gsl_vector_free(x);
        return NAN;
    }
    for (int i = 0; i < c.n_free; i++)
        gsl_vector_set(x, (size_t)i, p[c.free_idx[i]]);
    gsl_multimin_fdfminimizer_set(s, &fn, x, 0.1, 0.1);
    int converged = 0;
    for (int it = 0; it < 1000; it++) {
        int status = gsl_multimin_fdfminimizer_iterate(s);
        if (gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(s), 1e-6) ==
            GSL_SUCCESS) {
            converged = 1;
            break;
        }
        if (status != GSL_SUCCESS)
            break; /* no further progress possible from here */
    }
    gsl_vector_memcpy(x, gsl_multimin_fdfminimizer_x(s));
    gsl_multimin_fdfminimizer_free(s);
    if (!converged) {
        simplex_polish(&c, x);
        /* BFGS again from the polished point settles the last digits. */
        s = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2,
                                            (size_t)c.n_free);
        if (s) {
            gsl_multimin_fdfminimizer_set(s, &fn, x, 0.01, 0.1);
            for (int it = 0; it < 1000; it++) {
                int status = gsl_multimin_fdfminimizer_iterate(s);
                if (status != GSL_SUCCESS ||
                    gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(s), 1e-6) ==
                        GSL_SUCCESS)
                    break;
            }
            if (gsl_multimin_fdfminimizer_minimum(s) <= f_only(x, &c))
                gsl_vector_memcpy(x, gsl_multimin_fdfminimizer_x(s));
            gsl_multimin_fdfminimizer_free(s);
        }
    }
    unpack(&c, x);
    gsl_vector_free(x);
    memcpy(p, c.p, sizeof c.p);
    return nll(m, n, p, NULL);
}

/* ---- the interval ------------------------------------------------------- */

typedef struct scan_ctx {
    const pr_model *m;
    const double *n;
    const double *best; /* parameters at the global minimum: each conditional
                           fit starts there, so results never depend on the
                           order of evaluations */
    double nll_min;
    unsigned free_mask;
    int evaluations;
} scan_ctx;

/* -2 Delta ln L at mu, nuisances profiled, minus 1. */
static double q_minus_one(double mu, void *v)
{
    scan_ctx *c = v;
    double p[PR_N_PARAMS];
    memcpy(p, c->best, sizeof p);
    p[PR_MU] = mu;
    c->evaluations++;
    double f = minimise(c->m, c->n, p, c->free_mask & ~(1u << PR_MU));
    if (!isfinite(f))
        return NLL_WALL;
    return 2.0 * (f - c->nll_min) - 1.0;
}

/* Steps further from mu_hat than this many first steps mean that the data
 * do not bound mu on that side (an empty pseudo-experiment, say); the
 * interval then ends there. */
#define MAX_REACH 1024.0

/* Finds the crossing of q = 1 on one side of mu_hat (dir = +1 or -1); sets
 * *unbounded when there is none within MAX_REACH first steps. */
static int crossing(scan_ctx *c, double mu_hat, double dir, double step, double *out,
                    int *unbounded)
{
    double inside = mu_hat, outside = mu_hat + dir * step, reach = MAX_REACH * step;
    double q = q_minus_one(outside, c);
    while (q < 0) {
        if (step >= reach) {
            *out = outside;
            *unbounded = 1;
            return HBX_OK;
        }
        inside = outside;
        step = 2.0 * step < reach ? 2.0 * step : reach;
        outside = mu_hat + dir * step;
        q = q_minus_one(outside, c);
    }
    gsl_function fn = {q_minus_one, c};
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    if (!s)
        return HBX_E_NOMEM;
    double lo = inside < outside ? inside : outside, hi = inside < outside ? outside : inside;
    if (gsl_root_fsolver_set(s, &fn, lo, hi) != GSL_SUCCESS) {
        gsl_root_fsolver_free(s);
        return HBX_E_PLUGIN;
    }
    int status = GSL_CONTINUE;
    for (int it = 0; it < 100 && status == GSL_CONTINUE; it++) {
        if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS)
            break;
        status = gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s),
                                        1e-5, 0);
    }
    *out = gsl_root_fsolver_root(s);
    gsl_root_fsolver_free(s);
    return status == GSL_SUCCESS ? HBX_OK : HBX_E_PLUGIN;
}

int pr_fit_interval(const pr_model *m, const double *n, unsigned free_mask, hbx_prediction *out,
                    pr_fit *info)
{
    double p[PR_N_PARAMS] = {[PR_MU] = 1.0};
    unsigned mask = (free_mask & PR_ALL_NUISANCES) | (1u << PR_MU);
    double f = minimise(m, n, p, mask);
    if (!isfinite(f) || f >= NLL_WALL)
        return HBX_E_PLUGIN;
    scan_ctx c = {m, n, p, f, mask, 0};
    /* First step: the stat-only curvature in mu, from the gradient of nu. */
    double nu[PR_MAX_BINS], dnu[PR_MAX_BINS * PR_N_PARAMS], fisher = 0;
    expected(m, p, nu, dnu);
    for (int b = 0; b < m->n_bins; b++) {
        double g = dnu[b * PR_N_PARAMS + PR_MU];
        fisher += g * g / nu[b];
    }
    double step = fisher > 0 ? 1.0 / sqrt(fisher) : 0.5;
    double lo, hi;
    int unbounded = 0;
    int rc = crossing(&c, p[PR_MU], -1.0, step, &lo, &unbounded);
    if (rc == HBX_OK)
        rc = crossing(&c, p[PR_MU], +1.0, step, &hi, &unbounded);
    if (rc != HBX_OK)
        return rc;
    out->mu_hat = p[PR_MU];
    out->p16 = lo < out->mu_hat ? lo : out->mu_hat;
    out->p84 = hi > out->mu_hat ? hi : out->mu_hat;
    out->delta_mu_hat = 0.5 * (out->p84 - out->p16);
    if (info) {
        memcpy(info->params, p, sizeof info->params);
        info->evaluations = c.evaluations;
        info->unbounded = unbounded;
    }
    return HBX_OK;
}
