/* The evaluation run: determinism across workers and shards, resume after
 * kill -9, failures on some PEs, budget exhaustion, and the agreement of
 * pes.jsonl with result_<s>.json. */
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "higgsbox/generator.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/run.h"
#include "support.h"

static char *g_dir;      /* per-suite temporary directory */
static char g_data[4200];

static void make_data(void)
{
    g_dir = test_tmpdir();
    ck_assert_ptr_nonnull(g_dir);
    snprintf(g_data, sizeof g_data, "%s/data.h5", g_dir);
    hbx_gen_options o;
    hbx_gen_options_default(&o);
    o.events = 40000;
    o.seed = 7;
    o.threads = 1;
    char err[512];
    ck_assert_msg(hbx_generate_file(&o, g_data, err, sizeof err) == 0, "%s", err);
}

static void drop_data(void)
{
    test_rmtree(g_dir);
    free(g_dir);
}

/* Runs the CLI; returns its exit status. */
static int cli(char *out, size_t cap, const char *a0, ...)
{
    char *argv[40];
    int n = 0;
    argv[n++] = HBX_TEST_CLI;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 39; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    static char scratch[65536];
    return test_run(argv, out ? out : scratch, out ? cap : sizeof scratch);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* pes.jsonl without the fields that measure time or memory. */
static char *results_only(const char *dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/pes.jsonl", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap), *line = NULL;
    size_t lcap = 0;
    out[0] = '\0';
    while (getline(&line, &lcap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(o);
        const char *drop[] = {"wall_s", "cpu_s", "peak_rss", "gen_s"};
        for (int i = 0; i < 4; i++)
            json_object_del(o, drop[i]);
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        size_t sl = strlen(s);
        if (len + sl + 2 > cap)
            out = realloc(out, cap = 2 * (len + sl + 2));
        memcpy(out + len, s, sl);
        len += sl;
        out[len++] = '\n';
        out[len] = '\0';
        free(s);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return out;
}

static void assert_same_run(const char *a, const char *b, unsigned sets)
{
    char *ra = results_only(a), *rb = results_only(b);
    ck_assert_msg(strcmp(ra, rb) == 0, "pes.jsonl of %s and %s differ", a, b);
    free(ra);
    free(rb);
    for (unsigned s = 0; s < sets; s++) {
        char pa[4300], pb[4300];
        snprintf(pa, sizeof pa, "%s/result_%u.json", a, s);
        snprintf(pb, sizeof pb, "%s/result_%u.json", b, s);
        char *x = slurp(pa), *y = slurp(pb);
        ck_assert_msg(x && y, "missing %s or %s", pa, pb);
        ck_assert_msg(strcmp(x, y) == 0, "%s and %s differ", pa, pb);
        free(x);
        free(y);
    }
}

static const char *plugin(const char *name)
{
    return test_plugin("plugins", name);
}

static void run_ok(const char *name, const char *out, const char *workers, const char *extra1,
                   const char *extra2)
{
    char log[65536];
    int rc = cli(log, sizeof log, "run", plugin(name), "--data", g_data, "-o", out, "--sets", "3",
                 "--pseudo-experiments", "4", "--mu", "0.5,1,2", "--workers", workers, "--seed",
                 "11", "--quiet", extra1, extra2, NULL);
    ck_assert_msg(rc == 0, "run failed (%d): %s", rc, log);
}

START_TEST(workers_and_shards_agree)
{
    char one[4300], two[4300], s0[4300], s1[4300], merged[4300];
    snprintf(one, sizeof one, "%s/w1", g_dir);
    snprintf(two, sizeof two, "%s/w2", g_dir);
    snprintf(s0, sizeof s0, "%s/s0", g_dir);
    snprintf(s1, sizeof s1, "%s/s1", g_dir);
    snprintf(merged, sizeof merged, "%s/merged", g_dir);
    run_ok("pe_stat", one, "1", NULL, NULL);
    run_ok("pe_stat", two, "2", NULL, NULL);
    run_ok("pe_stat", s0, "1", "--shard", "0/2");
    run_ok("pe_stat", s1, "2", "--shard", "1/2");
    char log[4096];
    ck_assert_msg(cli(log, sizeof log, "merge", s0, s1, "-o", merged, NULL) == 0, "%s", log);
    assert_same_run(one, two, 3);
    assert_same_run(one, merged, 3);
    /* A shard alone has no original-format results: it is not a whole run. */
    char path[4400];
    snprintf(path, sizeof path, "%s/result_0.json", s0);
    ck_assert_int_ne(access(path, F_OK), 0);
    /* Merging a shard with itself, or half a run, is refused. */
    snprintf(path, sizeof path, "%s/bad", g_dir);
    ck_assert_int_eq(cli(log, sizeof log, "merge", s0, s0, "-o", path, NULL), 1);
    ck_assert_msg(strstr(log, "given twice"), "%s", log);
    ck_assert_int_eq(cli(log, sizeof log, "merge", s0, "-o", path, NULL), 1);
    ck_assert_msg(strstr(log, "missing"), "%s", log);
}
END_TEST

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Copies dataset `src` to `dst` with the same events in other bytes (another
 * provenance), or, with `bump`, with one feature value changed. */
static void copy_data(const char *src, const char *dst, int bump)
{
    char err[512];
    hbx_dataset_writer *w = hbx_dataset_writer_open(dst, "{\"copy\": true}", err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    for (int s = 0; s < 2; s++) {
        hbx_split split = s == 0 ? HBX_SPLIT_TRAIN : HBX_SPLIT_TEST;
        hbx_table t;
        ck_assert_msg(hbx_dataset_load(src, split, &t, err, sizeof err) == 0, "%s", err);
        if (bump && s == 0)
            t.features[HBX_PRI_MET][3] += 1.0f;
        ck_assert_msg(hbx_dataset_writer_append(w, split, &t, err, sizeof err) == 0, "%s", err);
        hbx_table_free(&t);
    }
    ck_assert_msg(hbx_dataset_writer_close(w, 1, err, sizeof err) == 0, "%s", err);
}

START_TEST(resume_after_kill)
{
    char whole[4300], killed[4300], pes[4400];
    snprintf(whole, sizeof whole, "%s/whole", g_dir);
    snprintf(killed, sizeof killed, "%s/killed", g_dir);
    snprintf(pes, sizeof pes, "%s/pes.jsonl", killed);
    run_ok("pe_slow", whole, "2", NULL, NULL);
    /* run.json names the data by its events' hash too. */
    char rj[4400], values[65], err[512];
    snprintf(rj, sizeof rj, "%s/run.json", whole);
    json_t *j = json_load_file(rj, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_msg(hbx_dataset_values_sha256(g_data, values, err, sizeof err) == 0, "%s", err);
    const char *recorded =
        json_string_value(json_object_get(json_object_get(j, "data"), "values_sha256"));
    ck_assert_msg(recorded && !strcmp(recorded, values), "%s", recorded ? recorded : "none");
    json_decref(j);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(HBX_TEST_CLI, HBX_TEST_CLI, "run", plugin("pe_slow"), "--data", g_data, "-o",
              killed, "--sets", "3", "--pseudo-experiments", "4", "--mu", "0.5,1,2", "--workers",
              "2", "--seed", "11", "--quiet", (char *)NULL);
        _exit(127);
    }
    /* Kill it hard once some, but not all, PEs are recorded. */
    for (int i = 0; i < 6000 && count_lines(pes) < 4; i++)
        usleep(5000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    int before = count_lines(pes);
    ck_assert_msg(before >= 4 && before < 12, "%d PEs recorded before the kill", before);
    char log[65536];
    int rc = cli(log, sizeof log, "run", plugin("pe_slow"), "--data", g_data, "-o", killed,
                 "--resume", NULL);
    ck_assert_msg(rc == 0, "resume failed: %s", log);
    ck_assert_msg(strstr(log, "done before (resume)"), "%s", log);
    assert_same_run(whole, killed, 3);
    /* The same events in a file with other bytes are the same data; other
     * events are not. */
    char same[4300], other[4300];
    snprintf(same, sizeof same, "%s/same.h5", g_dir);
    snprintf(other, sizeof other, "%s/other.h5", g_dir);
    copy_data(g_data, same, 0);
    copy_data(g_data, other, 1);
    rc = cli(log, sizeof log, "run", plugin("pe_slow"), "--data", same, "-o", killed, "--resume",
             NULL);
    ck_assert_msg(rc == 0 && strstr(log, "done before (resume)"), "%s", log);
    rc = cli(log, sizeof log, "run", plugin("pe_slow"), "--data", other, "-o", killed,
             "--resume", NULL);
    ck_assert_msg(rc == 1 && strstr(log, "the run used another dataset"), "%s", log);
    /* Without --resume an existing run is not overwritten. */
    rc = cli(log, sizeof log, "run", plugin("pe_slow"), "--data", g_data, "-o", killed, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(log, "holds a run already"), "%s", log);
}
END_TEST

START_TEST(crashes_on_some_pes)
{
    char out[4300];
    snprintf(out, sizeof out, "%s/flaky", g_dir);
    run_ok("pe_flaky", out, "2", NULL, NULL);
    char path[4400];
    snprintf(path, sizeof path, "%s/pes.jsonl", out);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int crashed = 0, ok = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *v = json_string_value(json_object_get(o, "verdict"));
        json_int_t n = json_integer_value(json_object_get(o, "n_events"));
        if (n % 5 == 0) {
            ck_assert_str_eq(v, "CRASHED");
            ck_assert_int_eq(json_integer_value(json_object_get(o, "signal")), SIGSEGV);
            ck_assert(json_is_null(json_object_get(o, "p16")));
            crashed++;
        } else {
            ck_assert_str_eq(v, "OK");
            ok++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    ck_assert_int_eq(crashed + ok, 12);
    ck_assert_msg(ok > 0, "every PE crashed");
}
END_TEST

START_TEST(budget_exhaustion)
{
    char out[4300], log[65536];
    snprintf(out, sizeof out, "%s/budget", g_dir);
    int rc = cli(log, sizeof log, "run", plugin("pe_slow"), "--data", g_data, "-o", out,
                 "--sets", "2", "--pseudo-experiments", "50", "--mu", "1,2", "--workers", "1",
                 "--budget", "2", NULL);
    ck_assert_msg(rc == 0, "%s", log);
    ck_assert_msg(strstr(log, "NOT_RUN"), "%s", log);
    char path[4400];
    snprintf(path, sizeof path, "%s/result_1.json", out);
    json_t *r = json_load_file(path, 0, NULL);
    ck_assert_msg(r != NULL, "no %s", path);
    ck_assert_int_eq(json_array_size(json_object_get(r, "p16")), 50);
    json_decref(r);
    snprintf(path, sizeof path, "%s/run.json", out);
    r = json_load_file(path, 0, NULL);
    ck_assert(json_is_true(json_object_get(r, "complete")));
    json_decref(r);
}
END_TEST

START_TEST(records_match_results)
{
    char out[4300];
    snprintf(out, sizeof out, "%s/match", g_dir);
    run_ok("pe_stat", out, "2", NULL, NULL);
    char path[4400];
    snprintf(path, sizeof path, "%s/pes.jsonl", out);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    json_t *res[3];
    for (int s = 0; s < 3; s++) {
        char rp[4400];
        snprintf(rp, sizeof rp, "%s/result_%d.json", out, s);
        res[s] = json_load_file(rp, 0, NULL);
        ck_assert_ptr_nonnull(res[s]);
    }
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        int s = (int)json_integer_value(json_object_get(o, "set"));
        size_t j = (size_t)json_integer_value(json_object_get(o, "index"));
        const char *keys[][2] = {{"mu_hat", "mu_hats"}, {"delta_mu_hat", "delta_mu_hats"},
                                 {"p16", "p16"}, {"p84", "p84"}};
        for (int k = 0; k < 4; k++)
            ck_assert_double_eq(json_real_value(json_object_get(o, keys[k][0])),
                                json_real_value(json_array_get(json_object_get(res[s], keys[k][1]), j)));
        json_decref(o);
        n++;
    }
    ck_assert_int_eq(n, 12);
    for (int s = 0; s < 3; s++)
        json_decref(res[s]);
    free(line);
    fclose(f);
    snprintf(path, sizeof path, "%s/test_settings.json", out);
    json_t *ts = json_load_file(path, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(ts, "num_of_sets")), 3);
    ck_assert_double_eq(json_real_value(json_array_get(json_object_get(ts, "ground_truth_mus"), 2)), 2.0);
    json_decref(ts);
}
END_TEST

START_TEST(bad_flags)
{
    char log[4096], out[4300];
    snprintf(out, sizeof out, "%s/bad", g_dir);
    ck_assert_int_eq(cli(log, sizeof log, "run", plugin("pe_stat"), "--data", g_data, "-o", out,
                         "--workers", "zero", NULL), 2);
    ck_assert_msg(strstr(log, "--workers"), "%s", log);
    ck_assert_int_eq(cli(log, sizeof log, "run", plugin("pe_stat"), "--data", g_data, "-o", out,
                         "--systematics", "tes,bogus", NULL), 2);
    ck_assert_int_eq(cli(log, sizeof log, "run", plugin("pe_stat"), "--data", g_data, "-o", out,
                         "--sets", "3", "--mu", "1,2", NULL), 1);
    ck_assert_msg(strstr(log, "--mu lists 2 values for 3 sets"), "%s", log);
    ck_assert_int_eq(cli(log, sizeof log, "run", plugin("pe_stat"), "--data", "/nonexistent.h5",
                         "-o", out, NULL), 1);
    ck_assert_msg(strstr(log, "/nonexistent.h5"), "%s", log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, make_data, drop_data);
    tcase_add_test(tc, workers_and_shards_agree);
    tcase_add_test(tc, resume_after_kill);
    tcase_add_test(tc, crashes_on_some_pes);
    tcase_add_test(tc, budget_exhaustion);
    tcase_add_test(tc, records_match_results);
    tcase_add_test(tc, bad_flags);
    suite_add_tcase(s, tc);
    return test_main(s);
}
