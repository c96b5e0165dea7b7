/*
 * A binned Poisson likelihood for the signal strength mu in one feature,
 * with one constrained nuisance profiled.
 *
 * Expected events in bin i: nu_i = mu * s[i] + b[i] + a * db[i], where a is
 * the nuisance in units of its standard deviation (constraint a ~ N(0, 1))
 * and db[i] how much one standard deviation moves the background. Given
 * observed counts n[i], the negative log-likelihood (up to a constant) is
 *     NLL(mu, a) = sum_i (nu_i - n_i log nu_i) + a^2 / 2,
 * jointly convex in (mu, a) because nu is linear in both. The profile
 * NLL(mu) = min_a NLL(mu, a) is then convex too, so its minimum and the
 * points where it has risen by 1/2 (the 68.27 % interval) are found by
 * bisection. Pure C, no higgsbox: unit-testable on its own.
 */
#ifndef MY_LIKELIHOOD_H
#define MY_LIKELIHOOD_H

#include <stddef.h>

#define MY_MU_MAX 50.0 /* search range ceiling for mu */
#define MY_A_MAX 5.0   /* the nuisance is profiled within +-5 standard deviations */

typedef struct my_template {
    size_t n_bins;
    const double *s;  /* expected signal events per bin at mu = 1 */
    const double *b;  /* expected background events per bin */
    const double *db; /* background change per standard deviation of the nuisance;
                         NULL: no nuisance */
} my_template;

typedef struct my_fit {
    double mu_hat;
    double lo, hi; /* where NLL = NLL(mu_hat) + 1/2, clamped to the search range */
} my_fit;

/* Lowest mu for which every bin's expectation stays positive (at a = 0). */
double my_mu_min(const my_template *t);

/* The profile NLL(mu) for observed counts n (n_bins values). */
double my_nll(const my_template *t, const double *n, double mu);

/* Maximum-likelihood mu and its 68 % interval for observed counts n.
 * Returns 0, or -1 when the template has no bin with signal. */
int my_fit_mu(const my_template *t, const double *n, my_fit *out);

#endif
