/* Unit tests of the likelihood fit, on hand-made histograms. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "likelihood.h"

static const double S[4] = {5.0, 20.0, 40.0, 5.0};
static const double B[4] = {1000.0, 800.0, 600.0, 400.0};
static const double DB[4] = {30.0, 10.0, -10.0, -30.0};
static const my_template T = {4, S, B, NULL};
static const my_template TN = {4, S, B, DB};

START_TEST(asimov_gives_back_mu)
{
    const double mus[] = {0.0, 0.5, 1.0, 2.5};
    for (size_t k = 0; k < sizeof mus / sizeof mus[0]; k++) {
        double n[4];
        for (int i = 0; i < 4; i++)
            n[i] = mus[k] * S[i] + B[i];
        my_fit f;
        ck_assert_int_eq(my_fit_mu(&T, n, &f), 0);
        ck_assert_double_eq_tol(f.mu_hat, mus[k], 1e-6);
        ck_assert(f.lo < f.mu_hat && f.mu_hat < f.hi);
    }
}
END_TEST

START_TEST(interval_is_one_half_unit_of_nll)
{
    double n[4];
    for (int i = 0; i < 4; i++)
        n[i] = S[i] + B[i];
    my_fit f;
    ck_assert_int_eq(my_fit_mu(&T, n, &f), 0);
    double at_min = my_nll(&T, n, f.mu_hat);
    ck_assert_double_eq_tol(my_nll(&T, n, f.lo) - at_min, 0.5, 1e-6);
    ck_assert_double_eq_tol(my_nll(&T, n, f.hi) - at_min, 0.5, 1e-6);
    /* Gaussian approximation: sigma^2 = 1 / sum s^2 / (s + b). */
    double fisher = 0.0;
    for (int i = 0; i < 4; i++)
        fisher += S[i] * S[i] / (S[i] + B[i]);
    ck_assert_double_eq_tol(0.5 * (f.hi - f.lo), 1.0 / sqrt(fisher), 0.05);
}
END_TEST

START_TEST(no_events_stays_finite)
{
    const double n[4] = {0, 0, 0, 0};
    my_fit f;
    ck_assert_int_eq(my_fit_mu(&T, n, &f), 0);
    ck_assert(isfinite(f.mu_hat) && isfinite(f.lo) && isfinite(f.hi));
    ck_assert_double_eq_tol(f.mu_hat, my_mu_min(&T), 1e-9);
    ck_assert(f.lo <= f.mu_hat && f.mu_hat <= f.hi);
}
END_TEST

START_TEST(profiled_nuisance_absorbs_its_shift)
{
    /* Data one standard deviation away in the nuisance, at mu = 1. */
    double n[4];
    for (int i = 0; i < 4; i++)
        n[i] = S[i] + B[i] + DB[i];
    my_fit with, without;
    ck_assert_int_eq(my_fit_mu(&TN, n, &with), 0);
    ck_assert_int_eq(my_fit_mu(&T, n, &without), 0);
    ck_assert_msg(fabs(with.mu_hat - 1.0) < 0.5 * fabs(without.mu_hat - 1.0),
                  "profiled mu_hat %g, unprofiled %g", with.mu_hat, without.mu_hat);
    ck_assert(with.lo < 1.0 && 1.0 < with.hi);
    /* Not knowing the nuisance costs precision. */
    for (int i = 0; i < 4; i++)
        n[i] = S[i] + B[i];
    ck_assert_int_eq(my_fit_mu(&TN, n, &with), 0);
    ck_assert_int_eq(my_fit_mu(&T, n, &without), 0);
    ck_assert_double_eq_tol(with.mu_hat, 1.0, 1e-6);
    ck_assert(with.hi - with.lo > without.hi - without.lo);
}
END_TEST

START_TEST(template_without_signal_is_refused)
{
    const double s0[2] = {0, 0}, b0[2] = {10, 10}, n[2] = {10, 10};
    const my_template t = {2, s0, b0, NULL};
    my_fit f;
    ck_assert_int_eq(my_fit_mu(&t, n, &f), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("likelihood");
    TCase *tc = tcase_create("fit");
    tcase_add_test(tc, asimov_gives_back_mu);
    tcase_add_test(tc, interval_is_one_half_unit_of_nll);
    tcase_add_test(tc, no_events_stays_finite);
    tcase_add_test(tc, profiled_nuisance_absorbs_its_shift);
    tcase_add_test(tc, template_without_signal_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
