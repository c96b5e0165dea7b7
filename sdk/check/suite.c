/*
 * The conformance suite: one test case per property of a plugin, all judging
 * a single recorded session.
 *
 * The session (spawn, load, fit, predicts: seconds of work) runs once, in an
 * unchecked fixture, so in the parent process whatever Check's fork mode;
 * every test then only reads its outcome. Check's fixtures take no argument,
 * so each suite owns a slot of a small static table and its fixture is the
 * trampoline bound to that slot.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

#define KIT_SLOTS 32

typedef struct slot {
    kit_session s;
    int used;        /* a suite refers to this slot */
    char title[300]; /* the suite's name: Check keeps the pointer, not a copy */
} slot;

static slot g_slots[KIT_SLOTS];
static const kit_session *g_current; /* the session the running tests judge */

static void enter(int k)
{
    kit_session *s = &g_slots[k].s;
    if (!s->ran)
        kit_session_run(s);
    g_current = s;
}

#define KIT_TRAMPOLINE(k) \
    static void enter_##k(void) { enter(k); }
KIT_TRAMPOLINE(0) KIT_TRAMPOLINE(1) KIT_TRAMPOLINE(2) KIT_TRAMPOLINE(3)
KIT_TRAMPOLINE(4) KIT_TRAMPOLINE(5) KIT_TRAMPOLINE(6) KIT_TRAMPOLINE(7)
KIT_TRAMPOLINE(8) KIT_TRAMPOLINE(9) KIT_TRAMPOLINE(10) KIT_TRAMPOLINE(11)
KIT_TRAMPOLINE(12) KIT_TRAMPOLINE(13) KIT_TRAMPOLINE(14) KIT_TRAMPOLINE(15)
KIT_TRAMPOLINE(16) KIT_TRAMPOLINE(17) KIT_TRAMPOLINE(18) KIT_TRAMPOLINE(19)
KIT_TRAMPOLINE(20) KIT_TRAMPOLINE(21) KIT_TRAMPOLINE(22) KIT_TRAMPOLINE(23)
KIT_TRAMPOLINE(24) KIT_TRAMPOLINE(25) KIT_TRAMPOLINE(26) KIT_TRAMPOLINE(27)
KIT_TRAMPOLINE(28) KIT_TRAMPOLINE(29) KIT_TRAMPOLINE(30) KIT_TRAMPOLINE(31)

static void (*const g_enter[KIT_SLOTS])(void) = {
    enter_0,  enter_1,  enter_2,  enter_3,  enter_4,  enter_5,  enter_6,  enter_7,
    enter_8,  enter_9,  enter_10, enter_11, enter_12, enter_13, enter_14, enter_15,
    enter_16, enter_17, enter_18, enter_19, enter_20, enter_21, enter_22, enter_23,
    enter_24, enter_25, enter_26, enter_27, enter_28, enter_29, enter_30, enter_31,
};

/* ---- shared judgements --------------------------------------------------- */

static int ok(const kit_call *c)
{
    return c->ran && c->rec.verdict == HBX_VERDICT_OK;
}

/* Fails the running test with the call's explanation when it did not end OK. */
#define REQUIRE_OK(c)                                                       \
    do {                                                                    \
        if (!ok(c)) {                                                       \
            char why_[1600];                                                \
            kit_call_explain(g_current, (c), why_, sizeof why_);            \
            ck_abort_msg("%s", why_);                                       \
        }                                                                   \
    } while (0)

/* Fails when the session could not get as far as `c`: the earliest failed
 * step is the thing to fix, and has its own test saying so. */
#define REQUIRE_REACHED(c, step)                                                          \
    do {                                                                                  \
        const kit_session *s_ = g_current;                                                \
        if (s_->setup_error[0] && !(c)->ran)                                              \
            ck_abort_msg("not checked: %s", s_->setup_error);                             \
        if (!(c)->ran)                                                                    \
            ck_abort_msg("not checked: %s never ran because %s failed (see that test)",  \
                         step, !ok(&s_->load) ? "loading the plugin" : "fit");           \
    } while (0)

static void fmt_pred(const hbx_prediction *p, char *buf, size_t len)
{
    snprintf(buf, len, "mu_hat = %.17g, delta_mu_hat = %.17g, [p16, p84] = [%.17g, %.17g]",
             p->mu_hat, p->delta_mu_hat, p->p16, p->p84);
}

/* ---- the tests ----------------------------------------------------------- */

START_TEST(descriptor)
{
    const kit_session *s = g_current;
    if (s->setup_error[0] && !s->load.ran)
        ck_abort_msg("%s", s->setup_error);
    REQUIRE_OK(&s->load);
    ck_assert_msg(s->info.name[0] != '\0',
                  "the descriptor's name is empty: set .name in the hbx_plugin that "
                  "hbx_plugin_entry() returns (a short identifier, e.g. \"my-plugin\")");
    ck_assert_msg(s->info.version[0] != '\0',
                  "the descriptor's version is empty: set .version in the hbx_plugin that "
                  "hbx_plugin_entry() returns (free-form, e.g. \"1.0.0\")");
}
END_TEST

START_TEST(fit)
{
    REQUIRE_REACHED(&g_current->fit, "fit");
    REQUIRE_OK(&g_current->fit);
}
END_TEST

START_TEST(predict)
{
    const kit_session *s = g_current;
    for (int i = 0; i < KIT_N_PE; i++) {
        REQUIRE_REACHED(&s->pe[i], "predict");
        REQUIRE_OK(&s->pe[i]);
    }
}
END_TEST

/* p16 <= mu_hat <= p84 for every answer the session got. */
static void check_interval(const kit_call *c)
{
    if (!ok(c))
        return;
    const hbx_prediction *p = &c->pred;
    if (p->p16 > p->mu_hat)
        ck_abort_msg("%s returned p16 = %.6g > mu_hat = %.6g: the interval [p16, p84] must "
                     "contain the point estimate",
                     c->what, p->p16, p->mu_hat);
    if (p->mu_hat > p->p84)
        ck_abort_msg("%s returned mu_hat = %.6g > p84 = %.6g: the interval [p16, p84] must "
                     "contain the point estimate",
                     c->what, p->mu_hat, p->p84);
}

START_TEST(interval)
{
    const kit_session *s = g_current;
    int answers = 0;
    /* The empty and tiny PEs may get any finite answer: not judged here. */
    const kit_call *all[] = {&s->pe[0], &s->pe[1], &s->pe[2], &s->again_same,
                             &s->again_fresh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        check_interval(all[i]);
        answers += ok(all[i]);
    }
    if (!answers) {
        REQUIRE_REACHED(&s->pe[0], "predict");
        ck_abort_msg("not checked: no predict call returned an answer (see predict)");
    }
}
END_TEST

static void check_same(const kit_call *first, const kit_call *again, const char *where)
{
    if (!ok(again)) {
        char why[1600];
        kit_call_explain(g_current, again, why, sizeof why);
        ck_abort_msg("repeating a predict failed: %s", why);
    }
    if (memcmp(&first->pred, &again->pred, sizeof first->pred) != 0) {
        char a[256], b[256];
        fmt_pred(&first->pred, a, sizeof a);
        fmt_pred(&again->pred, b, sizeof b);
        ck_abort_msg("predict is not deterministic: %s gave %s, then %s %s: derive any "
                     "randomness from a fixed seed or from the PE's contents, never from the "
                     "time, the process id or a call counter",
                     first->what, a, b, where);
    }
}

START_TEST(deterministic)
{
    const kit_session *s = g_current;
    REQUIRE_REACHED(&s->pe[0], "predict");
    if (!ok(&s->pe[0]))
        ck_abort_msg("not checked: the first predict failed (see predict)");
    check_same(&s->pe[0], &s->again_same, "when repeated in the same worker");
    check_same(&s->pe[0], &s->again_fresh, "in another worker forked after the same fit");
}
END_TEST

START_TEST(empty_pe)
{
    REQUIRE_REACHED(&g_current->empty, "predict on an empty PE");
    REQUIRE_OK(&g_current->empty);
}
END_TEST

START_TEST(tiny_pe)
{
    REQUIRE_REACHED(&g_current->tiny, "predict on a tiny PE");
    REQUIRE_OK(&g_current->tiny);
}
END_TEST

START_TEST(writes)
{
    const kit_session *s = g_current;
    if (s->changed[0])
        ck_abort_msg("%s: a plugin may write only under host->scratch_dir()", s->changed);
    /* Unchanged directories prove little if the calls failed: the sandbox
     * refuses a write outside scratch, and the plugin then typically fails. */
    const kit_call *steps[] = {&s->load, &s->fit, &s->pe[0], &s->pe[1], &s->pe[2]};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (!ok(steps[i])) {
            if (s->setup_error[0] && !steps[i]->ran)
                ck_abort_msg("not checked: %s", s->setup_error);
            ck_abort_msg("not confirmed: %s did not succeed, and a write the sandbox refuses "
                         "(anything outside host->scratch_dir()) makes a call fail; fix that "
                         "first",
                         steps[i]->ran ? steps[i]->what : "a step of the session");
        }
}
END_TEST

START_TEST(limits)
{
    const kit_session *s = g_current;
    const kit_call *all[] = {&s->load, &s->fit, &s->pe[0], &s->pe[1], &s->pe[2],
                             &s->again_same, &s->again_fresh, &s->tiny, &s->empty};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        hbx_verdict v = all[i]->ran ? all[i]->rec.verdict : HBX_VERDICT_OK;
        if (v == HBX_VERDICT_TIMEOUT || v == HBX_VERDICT_CPU_LIMIT ||
            v == HBX_VERDICT_MEMORY_LIMIT) {
            char why[1600];
            kit_call_explain(s, all[i], why, sizeof why);
            ck_abort_msg("%s", why);
        }
    }
    /* Nothing exceeded, but calls that never ran prove nothing either. */
    REQUIRE_REACHED(&s->fit, "fit");
    if (!ok(&s->fit))
        ck_abort_msg("not checked: predict never ran because fit failed (see fit)");
}
END_TEST

/* ---- suites -------------------------------------------------------------- */

void hbx_conformance_options_default(hbx_conformance_options *o)
{
    memset(o, 0, sizeof *o);
    o->events = 30000;
    o->seed = 1;
    o->fit_timeout_s = 120.0;
    o->predict_timeout_s = 60.0;
    o->memory_bytes = 8ull << 30;
    o->worker = NULL;
    o->log_fd = -1;
}

/* A free slot, or one whose suite has already run (its outcome is no longer
 * needed). -1 when all are taken. */
static int take_slot(void)
{
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < KIT_SLOTS; k++)
            if (!g_slots[k].used || (pass == 1 && g_slots[k].s.ran)) {
                if (g_current == &g_slots[k].s)
                    g_current = NULL;
                kit_session_clear(&g_slots[k].s);
                memset(&g_slots[k], 0, sizeof g_slots[k]);
                g_slots[k].used = 1;
                return k;
            }
    return -1;
}

static void add_case(Suite *suite, int k, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, g_enter[k], NULL);
    /* Tests only read the recorded session; the time went into the fixture. */
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test);
    suite_add_tcase(suite, tc);
}

Suite *hbx_conformance_suite_with(const char *plugin_path, const hbx_conformance_options *o)
{
    hbx_conformance_options defaults;
    hbx_conformance_options_default(&defaults);
    if (!o)
        o = &defaults;
    int k = take_slot();
    if (k < 0) {
        fprintf(stderr, "hbx_conformance_suite: more than %d suites awaiting their run\n",
                KIT_SLOTS);
        return NULL;
    }
    kit_session *s = &g_slots[k].s;
    s->opt = *o;
    s->plugin = strdup(plugin_path ? plugin_path : "");
    const char *worker = o->worker ? o->worker : kit_find_worker();
    s->worker = worker ? strdup(worker) : NULL;
    s->opt.worker = s->worker;
    if (!s->plugin || (worker && !s->worker)) {
        kit_session_clear(s);
        g_slots[k].used = 0;
        return NULL;
    }

    const char *base = strrchr(s->plugin, '/');
    char *title = g_slots[k].title;
    snprintf(title, sizeof g_slots[k].title, "conformance of %s", base ? base + 1 : s->plugin);
    Suite *suite = suite_create(title);
    add_case(suite, k, "descriptor", descriptor);
    add_case(suite, k, "fit", fit);
    add_case(suite, k, "predict", predict);
    add_case(suite, k, "interval", interval);
    add_case(suite, k, "deterministic", deterministic);
    add_case(suite, k, "empty_pe", empty_pe);
    add_case(suite, k, "tiny_pe", tiny_pe);
    add_case(suite, k, "writes", writes);
    add_case(suite, k, "limits", limits);
    return suite;
}

Suite *hbx_conformance_suite(const char *plugin_path)
{
    return hbx_conformance_suite_with(plugin_path, NULL);
}
