/* The conformance kit on the shipped constant baseline (must pass) and on
 * plugins broken on purpose (tests/plugins/broken_*.c): each must fail the
 * right check with the message that says what to fix, through the library
 * and through `higgsbox check`. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "higgsbox/conformance.h"
#include "support.h"

#define MAX_CASES 16

/* What a kit suite reported: every test case that did not pass, with its
 * message. */
typedef struct outcome {
    int run, failed;
    char tcase[MAX_CASES][32];
    char msg[MAX_CASES][2048];
} outcome;

static void run_kit(const char *plugin, const hbx_conformance_options *o, outcome *out)
{
    memset(out, 0, sizeof *out);
    Suite *s = hbx_conformance_suite_with(plugin, o);
    ck_assert_ptr_nonnull(s);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_SILENT);
    out->run = srunner_ntests_run(sr);
    out->failed = srunner_ntests_failed(sr);
    TestResult **r = srunner_failures(sr);
    for (int i = 0; i < out->failed && i < MAX_CASES; i++) {
        snprintf(out->tcase[i], sizeof out->tcase[i], "%s", tr_tcname(r[i]));
        snprintf(out->msg[i], sizeof out->msg[i], "%s", tr_msg(r[i]));
    }
    free(r);
    srunner_free(sr);
}

/* The failure message of a test case, or NULL when it passed. */
static const char *failure(const outcome *o, const char *tcase)
{
    for (int i = 0; i < o->failed && i < MAX_CASES; i++)
        if (strcmp(o->tcase[i], tcase) == 0)
            return o->msg[i];
    return NULL;
}

static void dump(const outcome *o)
{
    for (int i = 0; i < o->failed && i < MAX_CASES; i++)
        fprintf(stderr, "  %s: %s\n", o->tcase[i], o->msg[i]);
}

static void expect_fail(const outcome *o, const char *tcase, const char *needle)
{
    const char *m = failure(o, tcase);
    if (!m)
        dump(o);
    ck_assert_msg(m, "'%s' passed but should have failed", tcase);
    ck_assert_msg(strstr(m, needle), "'%s' says \"%s\", which lacks \"%s\"", tcase, m, needle);
}

static void expect_pass(const outcome *o, const char *tcase)
{
    const char *m = failure(o, tcase);
    ck_assert_msg(!m, "'%s' failed: %s", tcase, m ? m : "");
}

static const char *constant_plugin(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/plugins/constant/constant.so", HBX_TEST_BUILD_DIR);
    return path;
}

static hbx_conformance_options quick(void)
{
    hbx_conformance_options o;
    hbx_conformance_options_default(&o);
    o.events = 8000;
    return o;
}

START_TEST(constant_passes)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(constant_plugin(), &opt, &o);
    dump(&o);
    ck_assert_int_eq(o.run, 9);
    ck_assert_int_eq(o.failed, 0);
}
END_TEST

START_TEST(default_suite_and_worker)
{
    /* The kit finds the build tree's worker from its own library's place. */
    const char *w = hbx_conformance_default_worker();
    ck_assert_ptr_nonnull(w);
    char a[PATH_MAX], b[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(w, a));
    ck_assert_ptr_nonnull(realpath(HBX_TEST_WORKER, b));
    ck_assert_str_eq(a, b);
    /* The default options' suite: named after the file, nine cases. */
    Suite *s = hbx_conformance_suite(constant_plugin());
    ck_assert_ptr_nonnull(s);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_SILENT);
    ck_assert_int_eq(srunner_ntests_run(sr), 9);
    ck_assert_int_eq(srunner_ntests_failed(sr), 0);
    srunner_free(sr);
}
END_TEST

START_TEST(interval_must_contain_estimate)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(test_plugin("plugins", "broken_interval"), &opt, &o);
    expect_fail(&o, "interval",
                "predict on PE 0 (mu = 1, ");
    expect_fail(&o, "interval",
                "returned p16 = 1.2 > mu_hat = 1: the interval [p16, p84] must contain the "
                "point estimate");
    expect_pass(&o, "descriptor");
    expect_pass(&o, "fit");
    expect_pass(&o, "predict");
    expect_pass(&o, "deterministic");
    ck_assert_int_eq(o.failed, 1);
}
END_TEST

START_TEST(nan_is_refused)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(test_plugin("plugins", "broken_nan"), &opt, &o);
    expect_fail(&o, "predict", "predict on PE 0 (mu = 1, ");
    expect_fail(&o, "predict",
                "BAD_OUTPUT(NaN in the answer): every field of hbx_prediction must be a finite "
                "number");
    expect_pass(&o, "fit");
    expect_pass(&o, "limits");
}
END_TEST

START_TEST(nondeterministic_predict)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(test_plugin("plugins", "broken_random"), &opt, &o);
    expect_fail(&o, "deterministic", "predict is not deterministic: predict on PE 0 (mu = 1, ");
    expect_fail(&o, "deterministic", "gave mu_hat = 1.125, ");
    expect_fail(&o, "deterministic", "then mu_hat = 1.25, ");
    expect_fail(&o, "deterministic", "when repeated in the same worker: derive any randomness");
    expect_pass(&o, "predict");
    expect_pass(&o, "interval");
    ck_assert_int_eq(o.failed, 1);
}
END_TEST

START_TEST(crash_on_empty_pe)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(test_plugin("plugins", "broken_empty"), &opt, &o);
    expect_fail(&o, "empty_pe",
                "predict on an empty PE (0 events): CRASHED(SIGABRT): the plugin aborted");
    expect_pass(&o, "tiny_pe");
    expect_pass(&o, "predict");
    expect_pass(&o, "deterministic");
    ck_assert_int_eq(o.failed, 1);
}
END_TEST

START_TEST(empty_name)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(test_plugin("plugins", "broken_noname"), &opt, &o);
    expect_fail(&o, "descriptor",
                "the descriptor's name is empty: set .name in the hbx_plugin that "
                "hbx_plugin_entry() returns");
    expect_pass(&o, "fit");
    ck_assert_int_eq(o.failed, 1);
}
END_TEST

START_TEST(slow_fit)
{
    outcome o;
    hbx_conformance_options opt = quick();
    opt.fit_timeout_s = 0.5;
    run_kit(test_plugin("plugins", "broken_slow"), &opt, &o);
    expect_fail(&o, "fit", "create + fit on a generated training set of ");
    expect_fail(&o, "fit", "TIMEOUT(no answer within 0.5 s), limit 0.5 s: it took longer");
    expect_fail(&o, "limits", "TIMEOUT(no answer within 0.5 s)");
    expect_fail(&o, "predict", "not checked: predict never ran because fit failed");
    expect_pass(&o, "descriptor");
}
END_TEST

START_TEST(write_outside_scratch)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(test_plugin("plugins", "broken_write"), &opt, &o);
    /* Where the sandbox refuses the write, fit fails; where it cannot, the
     * file appears. Either way the kit says where writes belong. */
    char model[4200];
    snprintf(model, sizeof model, "%s/plugins/broken_write.model", HBX_TEST_PLUGINS);
    int written = access(model, F_OK) == 0;
    unlink(model);
    expect_fail(&o, "writes", "host->scratch_dir()");
    const char *m = failure(&o, "writes");
    if (written)
        ck_assert_msg(strstr(m, "in the plugin's directory ") &&
                          strstr(m, ": created broken_write.model: a plugin may write only"),
                      "%s", m);
    else
        ck_assert_msg(strstr(m, "not confirmed: create + fit on a generated training set"),
                      "%s", m);
}
END_TEST

START_TEST(scratch_writes_pass)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit(test_plugin("plugins", "scratch_writer"), &opt, &o);
    dump(&o);
    ck_assert_int_eq(o.failed, 0);
}
END_TEST

START_TEST(missing_plugin)
{
    outcome o;
    hbx_conformance_options opt = quick();
    run_kit("/nonexistent/plugin.so", &opt, &o);
    expect_fail(&o, "descriptor",
                "loading the plugin in a worker: LOAD_ERROR(/nonexistent/plugin.so: no such "
                "file)");
    expect_fail(&o, "fit", "not checked: fit never ran because loading the plugin failed");
    ck_assert_int_eq(o.failed, 9);
}
END_TEST

START_TEST(cli_check)
{
    static char out[1 << 16];
    char *good[] = {HBX_TEST_CLI, "check", "--events", "8000", (char *)constant_plugin(), NULL};
    ck_assert_int_eq(test_run(good, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "Running suite(s): conformance of constant.so\n"), "%s", out);
    ck_assert_msg(strstr(out, "100%: Checks: 9, Failures: 0, Errors: 0"), "%s", out);

    char *verbose[] = {HBX_TEST_CLI, "check", "-v", "--events", "8000",
                       (char *)test_plugin("plugins", "broken_interval"), NULL};
    ck_assert_int_eq(test_run(verbose, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "88%: Checks: 9, Failures: 1, Errors: 0"), "%s", out);
    ck_assert_msg(strstr(out, ":F:interval:interval:0: predict on PE 0 (mu = 1, ") &&
                      strstr(out, "returned p16 = 1.2 > mu_hat = 1: the interval [p16, p84] "
                                  "must contain the point estimate"),
                  "%s", out);
    ck_assert_msg(strstr(out, ":P:fit:fit:0: Passed"), "%s", out);

    char *usage[][6] = {
        {HBX_TEST_CLI, "check", NULL},
        {HBX_TEST_CLI, "check", "--events", "many", (char *)constant_plugin(), NULL},
        {HBX_TEST_CLI, "check", "--fit-timeout", "-1", (char *)constant_plugin(), NULL},
        {HBX_TEST_CLI, "check", "--bogus", (char *)constant_plugin(), NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        ck_assert_msg(test_run(usage[i], out, sizeof out) == 2, "case %zu: %s", i, out);
    char *missing[] = {HBX_TEST_CLI, "check", "/nonexistent/plugin.so", NULL};
    ck_assert_int_eq(test_run(missing, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "/nonexistent/plugin.so: cannot read") &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conformance");
    TCase *tc = tcase_create("kit");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, constant_passes);
    tcase_add_test(tc, default_suite_and_worker);
    tcase_add_test(tc, interval_must_contain_estimate);
    tcase_add_test(tc, nan_is_refused);
    tcase_add_test(tc, nondeterministic_predict);
    tcase_add_test(tc, crash_on_empty_pe);
    tcase_add_test(tc, empty_name);
    tcase_add_test(tc, slow_fit);
    tcase_add_test(tc, write_outside_scratch);
    tcase_add_test(tc, scratch_writes_pass);
    tcase_add_test(tc, missing_plugin);
    tcase_add_test(tc, cli_check);
    suite_add_tcase(s, tc);
    return test_main(s);
}
