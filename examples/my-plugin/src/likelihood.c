#include "likelihood.h"

#include <math.h>

#define BISECTIONS 200

/* Bins with no expected background are left out of the fit: with b = 0 a
 * single observed event would pin mu to an arbitrary bound. */
static int usable(const my_template *t, size_t i)
{
    return t->b[i] > 0.0 && t->s[i] >= 0.0;
}

static double db_of(const my_template *t, size_t i)
{
    return t->db ? t->db[i] : 0.0;
}

static int converged(double a, double b)
{
    return b - a <= 1e-12 * (fabs(a) + fabs(b) + 1.0);
}

double my_mu_min(const my_template *t)
{
    /* mu s + b > 0 for every bin: mu > -b / s. Stay a little inside. */
    double lo = -MY_MU_MAX;
    for (size_t i = 0; i < t->n_bins; i++)
        if (usable(t, i) && t->s[i] > 0.0) {
            double m = -t->b[i] / t->s[i];
            if (m > lo)
                lo = m;
        }
    return lo + 1e-9 * (fabs(lo) + 1.0);
}

static double nll_at(const my_template *t, const double *n, double mu, double a)
{
    double sum = 0.5 * a * a;
    for (size_t i = 0; i < t->n_bins; i++) {
        if (!usable(t, i))
            continue;
        double nu = mu * t->s[i] + t->b[i] + a * db_of(t, i);
        sum += nu - (n[i] > 0.0 ? n[i] * log(nu) : 0.0);
    }
    return sum;
}

/* The nuisance minimising NLL(mu, a): within [-MY_A_MAX, MY_A_MAX] and where
 * every nu stays positive (a range that holds a = 0 for mu >= my_mu_min). */
static double best_a(const my_template *t, const double *n, double mu)
{
    if (!t->db)
        return 0.0;
    double lo = -MY_A_MAX, hi = MY_A_MAX;
    for (size_t i = 0; i < t->n_bins; i++) {
        double d = t->db[i], c = mu * t->s[i] + t->b[i];
        if (!usable(t, i) || d == 0.0)
            continue;
        double edge = -c / d; /* nu = 0 there */
        if (d > 0.0 && edge > lo)
            lo = edge + 1e-9 * (fabs(edge) + 1.0);
        if (d < 0.0 && edge < hi)
            hi = edge - 1e-9 * (fabs(edge) + 1.0);
    }
    if (lo >= hi)
        return 0.0;
    /* dNLL/da = a + sum db (1 - n / nu): increasing in a. */
    double a = lo, b = hi;
    for (int k = 0; k < BISECTIONS && !converged(a, b); k++) {
        double m = 0.5 * (a + b), d = m;
        for (size_t i = 0; i < t->n_bins; i++)
            if (usable(t, i))
                d += t->db[i] * (1.0 - n[i] / (mu * t->s[i] + t->b[i] + m * t->db[i]));
        if (d < 0.0)
            a = m;
        else
            b = m;
    }
    return 0.5 * (a + b);
}

double my_nll(const my_template *t, const double *n, double mu)
{
    return nll_at(t, n, mu, best_a(t, n, mu));
}

/* dNLL/dmu at the profiled nuisance (the envelope theorem): increasing. */
static double slope(const my_template *t, const double *n, double mu)
{
    double a = best_a(t, n, mu), d = 0.0;
    for (size_t i = 0; i < t->n_bins; i++)
        if (usable(t, i))
            d += t->s[i] * (1.0 - n[i] / (mu * t->s[i] + t->b[i] + a * db_of(t, i)));
    return d;
}

/* The mu in [a, b] where NLL(mu) - target changes sign. */
static double cross(const my_template *t, const double *n, double target, double a, double b)
{
    double fa = my_nll(t, n, a) - target;
    for (int k = 0; k < BISECTIONS && !converged(a, b); k++) {
        double m = 0.5 * (a + b);
        double fm = my_nll(t, n, m) - target;
        if ((fm > 0) == (fa > 0)) {
            a = m;
            fa = fm;
        } else {
            b = m;
        }
    }
    return 0.5 * (a + b);
}

int my_fit_mu(const my_template *t, const double *n, my_fit *out)
{
    int has_signal = 0;
    for (size_t i = 0; i < t->n_bins; i++)
        has_signal |= usable(t, i) && t->s[i] > 0.0;
    if (!has_signal)
        return -1;
    double lo = my_mu_min(t), hi = MY_MU_MAX;
    double mu;
    if (slope(t, n, lo) >= 0.0) {
        mu = lo; /* fewer events than even the background alone predicts */
    } else if (slope(t, n, hi) <= 0.0) {
        mu = hi;
    } else {
        double a = lo, b = hi;
        for (int k = 0; k < BISECTIONS && !converged(a, b); k++) {
            double m = 0.5 * (a + b);
            if (slope(t, n, m) < 0.0)
                a = m;
            else
                b = m;
        }
        mu = 0.5 * (a + b);
    }
    double target = my_nll(t, n, mu) + 0.5;
    out->mu_hat = mu;
    out->lo = my_nll(t, n, lo) > target ? cross(t, n, target, lo, mu) : lo;
    out->hi = my_nll(t, n, hi) > target ? cross(t, n, target, mu, hi) : hi;
    /* The bisections stop within rounding of mu; keep the order exact. */
    if (out->lo > mu)
        out->lo = mu;
    if (out->hi < mu)
        out->hi = mu;
    return 0;
}
