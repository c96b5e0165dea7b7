/* Scoring: the formulas on hand-computed values, the original program's
 * numbers on a directory in its format, failed PEs, malformed files, the
 * report's markup and the leaderboard's refusal to mix settings. */
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "higgsbox/score.h"
#include "support.h"

#define TOL 1e-12

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

static int file_exists(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* ---- the formulas -------------------------------------------------------- */

/* σ68, lo and hi for N = 100, and f below/above, computed by hand (Python,
 * math module) from f's definition in HIGGSML.md §7. */
#define S68_100 0.046542530012881764
#define LO_100 0.5896149399742364
#define HI_100 0.7757850600257635

START_TEST(penalty_inside_band)
{
    ck_assert_double_eq_tol(hbx_score_sigma68(100), S68_100, TOL);
    ck_assert_double_eq(hbx_score_coverage_penalty(0.6827, 100), 1.0);
    ck_assert_double_eq(hbx_score_coverage_penalty(0.70, 100), 1.0);
    /* The band's edges are inside it. */
    double s = hbx_score_sigma68(100);
    ck_assert_double_eq(hbx_score_coverage_penalty(0.6827 - 2 * s, 100), 1.0);
    ck_assert_double_eq(hbx_score_coverage_penalty(0.6827 + 2 * s, 100), 1.0);
    ck_assert_double_eq_tol(hbx_score_quantile(0.5, 0.68, 100), 0.6911491778972723, TOL);
}
END_TEST

START_TEST(penalty_below_band)
{
    /* 1 + ((0.5 − lo)/σ68)⁴ */
    ck_assert_double_eq_tol(hbx_score_coverage_penalty(0.5, 100), 14.744271421498413, 1e-10);
    ck_assert_double_eq_tol(hbx_score_quantile(0.3, 0.5, 100), -1.4902096149107225, 1e-12);
    /* Just below the edge: the quartic is tiny but not 0. */
    double f = hbx_score_coverage_penalty(LO_100 - 1e-3, 100);
    ck_assert(f > 1.0 && f < 1.0 + 1e-4);
}
END_TEST

START_TEST(penalty_above_band)
{
    /* 1 + ((0.9 − hi)/σ68)³: over-coverage is penalised with a cube. */
    ck_assert_double_eq_tol(hbx_score_coverage_penalty(0.9, 100), 20.00953699237769, 1e-10);
    ck_assert_double_eq_tol(hbx_score_coverage_penalty(1.0, 100),
                            1 + pow((1.0 - HI_100) / S68_100, 3), 1e-10);
    ck_assert(isnan(hbx_score_coverage_penalty(0.5, 0)));
}
END_TEST

START_TEST(epsilon_and_single_pe)
{
    /* Zero width in the band: the score is −ln ε. */
    ck_assert_double_eq_tol(hbx_score_quantile(0.0, 0.6827, 1000), 6.907755278982137, TOL);
    /* N = 1: σ68 = 0.4654 makes the band [−0.248, 1.614], so both
     * possible coverages carry no penalty. */
    ck_assert_double_eq(hbx_score_coverage_penalty(0.0, 1), 1.0);
    ck_assert_double_eq(hbx_score_coverage_penalty(1.0, 1), 1.0);
    ck_assert_double_eq_tol(hbx_score_quantile(0.25, 0.0, 1), -log(0.251), TOL);
}
END_TEST

START_TEST(coverage_boundaries)
{
    ck_assert_int_eq(hbx_score_covers(1.0, 1.0, 1.2), 1); /* on p16 */
    ck_assert_int_eq(hbx_score_covers(1.2, 1.0, 1.2), 1); /* on p84 */
    ck_assert_int_eq(hbx_score_covers(1.1, 1.0, 1.2), 1);
    ck_assert_int_eq(hbx_score_covers(nextafter(1.0, 0), 1.0, 1.2), 0);
    ck_assert_int_eq(hbx_score_covers(nextafter(1.2, 2), 1.0, 1.2), 0);
    ck_assert_int_eq(hbx_score_covers(1.1, 1.2, 1.0), 0); /* inverted */
    ck_assert_int_eq(hbx_score_covers(0.5, -1, -1), 0);   /* a failure's encoding */
}
END_TEST

START_TEST(rmse_mae_hand_values)
{
    /* d = 0.5, δ = 0.3: d² = 0.25, d² − δ² = 0.16, sqrt(0.25 + 0.0256). */
    ck_assert_double_eq_tol(hbx_score_rmse_pe(1.0, 1.5, 0.3), 0.5249761899362675, TOL);
    /* |d| + ||d| − δ| = 0.5 + 0.2 */
    ck_assert_double_eq_tol(hbx_score_mae_pe(1.0, 1.5, 0.3), 0.7, TOL);
    /* Below μ, δ larger than the error. */
    ck_assert_double_eq_tol(hbx_score_mae_pe(2.0, 1.9, 0.4), 0.1 + 0.3, TOL);
    ck_assert_double_eq_tol(hbx_score_rmse_pe(2.0, 2.0, 0.5), 0.25, TOL);
}
END_TEST

START_TEST(bootstrap_draws_match_numpy)
{
    /* numpy.random.RandomState(42).choice(10, 12) and RandomState(43)
     * .choice(3, 12), as the original's bootstrap draws them. */
    static const uint32_t want42[12] = {6, 3, 7, 4, 6, 9, 2, 6, 7, 4, 3, 7};
    static const uint32_t want43[12] = {0, 0, 1, 1, 2, 0, 1, 2, 2, 2, 0, 2};
    uint32_t got[12];
    ck_assert_int_eq(hbx_score_bootstrap_draw(42, 10, 12, got), 0);
    for (int i = 0; i < 12; i++)
        ck_assert_uint_eq(got[i], want42[i]);
    ck_assert_int_eq(hbx_score_bootstrap_draw(43, 3, 12, got), 0);
    for (int i = 0; i < 12; i++)
        ck_assert_uint_eq(got[i], want43[i]);
    ck_assert_int_eq(hbx_score_bootstrap_draw(1, 0, 1, got), -1);
}
END_TEST

/* ---- the original's format ------------------------------------------------ */

/* Three sets of 4, 5 and 3 PEs with μ on p16 (set 0) and on p84 (set 1), a
 * failure as the original encodes it (set 1) and an inverted interval
 * (set 2). */
static const double fx_mu[3] = {1.0, 2.5, 0.3};
static const size_t fx_n[3] = {4, 5, 3};
static const double fx_hat[3][5] = {{1.1, 0.8, 1.0, 1.6}, {2.4, 2.9, -1, 2.5, 2.0}, {0.35, 0.1, 0.3}};
static const double fx_del[3][5] = {{0.2, 0.3, 0.25, 0.1}, {0.3, 0.2, 0, 0.4, 0.5}, {0.1, 0.15, 0.05}};
static const double fx_p16[3][5] = {{0.9, 0.5, 1.0, 1.5}, {2.1, 2.7, -1, 2.1, 1.6}, {0.25, 0.2, 0.1}};
static const double fx_p84[3][5] = {{1.3, 1.1, 1.2, 1.7}, {2.7, 3.1, -1, 2.5, 2.4}, {0.45, 0.0, 0.5}};

static void write_original(const char *dir)
{
    write_text(dir, "test_settings.json",
               "{\"systematics\": {\"tes\": true, \"jes\": false, \"soft_met\": false, "
               "\"ttbar_scale\": false, \"diboson_scale\": false, \"bkg_scale\": false}, "
               "\"num_pseudo_experiments\": 5, \"num_of_sets\": 3, "
               "\"ground_truth_mus\": [1.0, 2.5, 0.3]}\n");
    for (int s = 0; s < 3; s++) {
        char name[32], text[2048];
        size_t o = 0;
        const double *cols[4] = {fx_hat[s], fx_del[s], fx_p16[s], fx_p84[s]};
        static const char *keys[4] = {"mu_hats", "delta_mu_hats", "p16", "p84"};
        o += (size_t)snprintf(text + o, sizeof text - o, "{");
        for (int k = 0; k < 4; k++) {
            o += (size_t)snprintf(text + o, sizeof text - o, "%s\"%s\": [", k ? ", " : "",
                                  keys[k]);
            for (size_t i = 0; i < fx_n[s]; i++)
                o += (size_t)snprintf(text + o, sizeof text - o, "%s%.17g", i ? ", " : "",
                                      cols[k][i]);
            o += (size_t)snprintf(text + o, sizeof text - o, "]");
        }
        snprintf(text + o, sizeof text - o, "}\n");
        snprintf(name, sizeof name, "result_%d.json", s);
        write_text(dir, name, text);
    }
}

static hbx_rundir *load_ok(const char *dir)
{
    char err[1024] = "";
    hbx_rundir *r = NULL;
    ck_assert_msg(hbx_score_load_dir(dir, &r, err, sizeof err) == 0, "load: %s", err);
    return r;
}

static hbx_scores *compute_ok(const hbx_rundir *r, uint64_t boot, uint64_t size, uint64_t seed)
{
    hbx_score_options opt = {.bootstrap = boot, .bootstrap_size = size, .seed = seed};
    char err[1024] = "";
    hbx_scores *sc = NULL;
    ck_assert_msg(hbx_score_compute(r, &opt, &sc, err, sizeof err) == 0, "compute: %s", err);
    return sc;
}

START_TEST(original_round_trip)
{
    char *dir = test_tmpdir();
    write_original(dir);
    hbx_rundir *r = load_ok(dir);
    ck_assert_int_eq(r->format, HBX_RUNDIR_ORIGINAL);
    ck_assert_uint_eq(r->n_sets, 3);
    ck_assert_uint_eq(r->n_pes, 12);
    hbx_scores *sc = compute_ok(r, 10, 50, 42);

    /* Independently: pooled coverage and width, per-set RMSE/MAE means. */
    double w = 0, rmse = 0, mae = 0;
    int covered = 0, n = 0;
    for (int s = 0; s < 3; s++) {
        double sr = 0, sm = 0;
        for (size_t i = 0; i < fx_n[s]; i++) {
            double mu = fx_mu[s], d = fx_hat[s][i] - mu, dl = fx_del[s][i];
            w += fabs(fx_p84[s][i] - fx_p16[s][i]);
            covered += mu >= fx_p16[s][i] && mu <= fx_p84[s][i];
            sr += sqrt(d * d + (d * d - dl * dl) * (d * d - dl * dl));
            sm += fabs(d) + fabs(fabs(d) - dl);
            n++;
        }
        rmse += sr / (double)fx_n[s];
        mae += sm / (double)fx_n[s];
    }
    ck_assert_int_eq(covered, 7);
    ck_assert_uint_eq(sc->n, 12);
    ck_assert_uint_eq(sc->n_covered, 7);
    ck_assert_double_eq_tol(sc->width, w / n, TOL);
    ck_assert_double_eq_tol(sc->coverage, 7.0 / 12, TOL);
    ck_assert_double_eq_tol(sc->rmse, rmse / 3, TOL);
    ck_assert_double_eq_tol(sc->mae, mae / 3, TOL);
    ck_assert_double_eq_tol(sc->score, hbx_score_quantile(w / n, 7.0 / 12, 12), TOL);

    /* The numbers of the original scoring program's formulas (numpy) on
     * these files, including its bootstrap (10 replicates of 50 sets,
     * seeds 42..51). */
    ck_assert_double_eq_tol(sc->rmse, 1.0469004640398867, 1e-9);
    ck_assert_double_eq_tol(sc->mae, 0.7852777777777779, 1e-9);
    ck_assert_double_eq_tol(sc->width, 0.3666666666666667, 1e-9);
    ck_assert_double_eq_tol(sc->coverage, 0.5833333333333334, 1e-9);
    ck_assert_double_eq_tol(sc->score, 1.0005785483967442, 1e-9);
    ck_assert_double_eq_tol(sc->sets[0].score, 1.0469690555162714, 1e-9);
    ck_assert_double_eq_tol(sc->sets[1].rmse, 2.789173410269197, 1e-9);
    ck_assert_double_eq_tol(sc->sets[2].coverage, 2.0 / 3, 1e-9);
    ck_assert_double_eq_tol(sc->boot.score_mean, 0.9493086273955669, 1e-9);
    ck_assert_double_eq_tol(sc->boot.score_std, 0.23379827198884576, 1e-9);

    /* scores.json carries the original's keys with these values. */
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/scores.json", dir);
    ck_assert_msg(hbx_score_write_json(r, sc, path, err, sizeof err) == 0, "%s", err);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert_double_eq(json_number_value(json_object_get(j, "rmse")), sc->rmse);
    ck_assert_double_eq(json_number_value(json_object_get(j, "mae")), sc->mae);
    ck_assert_double_eq(json_number_value(json_object_get(j, "interval")), sc->width);
    ck_assert_double_eq(json_number_value(json_object_get(j, "coverage")), sc->coverage);
    ck_assert_double_eq(json_number_value(json_object_get(j, "quantiles_score")), sc->score);
    ck_assert(json_is_null(json_object_get(j, "ingestion_duration")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "sets")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), 12);
    json_decref(j);
    hbx_scores_free(sc);
    hbx_rundir_free(r);

    /* With the original ingestion's duration file, it is passed through. */
    write_text(dir, "ingestion_duration.json", "{\"ingestion_duration\": 12.5}");
    r = load_ok(dir);
    sc = compute_ok(r, 0, 0, 0);
    ck_assert_double_eq(sc->ingestion_duration, 12.5);
    ck_assert_uint_eq(sc->boot.replicates, 0);
    hbx_scores_free(sc);
    hbx_rundir_free(r);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(bootstrap_reproducible)
{
    char *dir = test_tmpdir();
    write_original(dir);
    hbx_rundir *r = load_ok(dir);
    hbx_scores *a = compute_ok(r, 200, 0, 7), *b = compute_ok(r, 200, 0, 7),
               *c = compute_ok(r, 200, 0, 8);
    ck_assert_uint_eq(a->boot.sample_size, 3); /* default: as many sets as the run */
    ck_assert_mem_eq(a->boot.score, b->boot.score, 200 * sizeof(double));
    ck_assert_double_eq(a->boot.score_mean, b->boot.score_mean);
    ck_assert_double_eq(a->boot.score_std, b->boot.score_std);
    ck_assert(memcmp(a->boot.score, c->boot.score, 200 * sizeof(double)) != 0);
    ck_assert(a->boot.score_mean != c->boot.score_mean);
    ck_assert(a->boot.score_std > 0);
    hbx_scores_free(a);
    hbx_scores_free(b);
    hbx_scores_free(c);
    hbx_rundir_free(r);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- our format --------------------------------------------------------------- */

/* A run.json of 2 sets × 3 PEs. */
static void write_run_json(const char *dir, const char *plugin, unsigned seed, double mu1)
{
    char text[2048];
    json_t *name = json_string(plugin);
    char *name_json = json_dumps(name, JSON_ENCODE_ANY);
    json_decref(name);
    snprintf(text, sizeof text,
             "{\"format\": \"higgsbox-run\", \"version\": 1, \"host_version\": \"0.1.0\",\n"
             " \"plugin\": {\"path\": \"x.so\", \"name\": %s, \"version\": \"1.0\"},\n"
             " \"data\": {\"path\": \"d.h5\", \"sha256\": \"%064d\", \"test_events\": 10},\n"
             " \"settings\": {\"sets\": 2, \"pseudo_experiments\": 3, \"mu\": [1.0, %.17g],\n"
             "   \"systematics\": {\"tes\": true, \"jes\": true, \"soft_met\": false,\n"
             "     \"ttbar_scale\": false, \"diboson_scale\": false, \"bkg_scale\": false},\n"
             "   \"seed\": %u, \"workers\": 2, \"shard\": [0, 1]},\n"
             " \"timing\": {\"fit_s\": 1, \"predict_s\": 2, \"generate_s\": 3, \"total_s\": 4.5},\n"
             " \"complete\": true}\n",
             name_json, 7, mu1, seed);
    free(name_json);
    write_text(dir, "run.json", text);
}

/* Gives run directory `dir` (written by write_run_json) the data hashes of
 * a file `file` holding events `values` ("": no values hash, as runs from
 * before it). */
static void set_data_ids(const char *dir, const char *file, const char *values)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run.json", dir);
    json_t *j = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *data = json_object_get(j, "data");
    json_object_set_new(data, "sha256", json_string(file));
    if (*values)
        json_object_set_new(data, "values_sha256", json_string(values));
    else
        json_object_del(data, "values_sha256");
    ck_assert_int_eq(json_dump_file(j, path, 0), 0);
    json_decref(j);
}

static void pe_line(FILE *f, int set, int index, double mu, const char *verdict,
                    const char *detail, double hat, double delta, double p16, double p84)
{
    json_t *o = json_pack("{s:i, s:i, s:i, s:f, s:s, s:s}", "set", set, "index", index, "seed",
                          set * 3 + index + 42, "mu_true", mu, "verdict", verdict, "detail",
                          detail);
    int ok = strcmp(verdict, "OK") == 0;
    json_object_set_new(o, "mu_hat", ok ? json_real(hat) : json_null());
    json_object_set_new(o, "delta_mu_hat", ok ? json_real(delta) : json_null());
    json_object_set_new(o, "p16", ok ? json_real(p16) : json_null());
    json_object_set_new(o, "p84", ok ? json_real(p84) : json_null());
    json_object_set_new(o, "wall_s", json_real(0.01));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    fprintf(f, "%s\n", s);
    free(s);
    json_decref(o);
}

/* PEs: (0,0) covers, (0,1) crashed, (0,2) misses; (1,0) covers, (1,1)
 * timed out, (1,2) absent from pes.jsonl. `shift` moves every μ̂ and interval
 * (to make runs with different scores). */
static void write_pes(const char *dir, double shift, double mu1, const char *detail)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pes.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    pe_line(f, 0, 0, 1.0, "OK", "", 1.1 + shift, 0.2, 0.9 + shift, 1.3 + shift);
    pe_line(f, 1, 0, mu1, "OK", "", mu1, 0.5, mu1 - 0.3 + shift, mu1 + 0.3 + shift);
    pe_line(f, 0, 1, 1.0, "CRASHED", detail, 0, 0, 0, 0);
    pe_line(f, 0, 2, 1.0, "OK", "", 1.6 + shift, 0.1, 1.5 + shift, 1.7 + shift);
    pe_line(f, 1, 1, mu1, "TIMEOUT", "predict took more than 60 s", 0, 0, 0, 0);
    ck_assert_int_eq(fclose(f), 0);
}

static char *make_run(const char *plugin, unsigned seed, double shift, const char *detail)
{
    char *dir = test_tmpdir();
    write_run_json(dir, plugin, seed, 2.0);
    write_pes(dir, shift, 2.0, detail);
    return dir;
}

/* A pool whose background events weigh too much gets a note; a large
 * pool, none. */
static int has_pool_note(const char *dir, double weight)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", dir);
    json_t *j = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_object_set_new(json_object_get(j, "data"), "pool_background_weight", json_real(weight));
    ck_assert_int_eq(json_dump_file(j, path, 0), 0);
    json_decref(j);
    hbx_rundir *r = load_ok(dir);
    int found = 0;
    for (size_t i = 0; i < r->n_notes; i++)
        found |= strstr(r->notes[i], "PE pool's background events weigh") != NULL;
    hbx_rundir_free(r);
    return found;
}

START_TEST(heavy_pool_is_noted)
{
    char *dir = make_run("p", 42, 0, "");
    ck_assert(has_pool_note(dir, 2.26));
    ck_assert(!has_pool_note(dir, 0.01));
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(failed_pes_count_as_not_covering)
{
    char *dir = make_run("flaky", 42, 0, "SIGSEGV");
    hbx_rundir *r = load_ok(dir);
    ck_assert_int_eq(r->format, HBX_RUNDIR_HIGGSBOX);
    ck_assert_uint_eq(r->n_pes, 6);
    ck_assert_uint_eq(r->n_notes, 1); /* the missing PE */
    ck_assert_ptr_nonnull(strstr(r->notes[0], "1 of 6 PEs"));
    hbx_scores *sc = compute_ok(r, 100, 0, 42);
    ck_assert_uint_eq(sc->n, 6);
    ck_assert_uint_eq(sc->n_ok, 3);
    ck_assert_uint_eq(sc->n_covered, 2);
    ck_assert_double_eq_tol(sc->coverage, 2.0 / 6, TOL);
    /* Width over the OK PEs only: 0.4, 0.6, 0.2. */
    ck_assert_double_eq_tol(sc->width, (0.4 + 0.6 + 0.2) / 3, TOL);
    ck_assert_double_eq_tol(sc->score, hbx_score_quantile(0.4, 2.0 / 6, 6), TOL);
    ck_assert_double_eq_tol(sc->sets[0].coverage, 1.0 / 3, TOL);
    ck_assert_double_eq_tol(sc->sets[1].width, 0.6, TOL);
    ck_assert_double_eq_tol(sc->sets[1].rmse, hbx_score_rmse_pe(2.0, 2.0, 0.5), TOL);
    ck_assert_double_eq_tol(sc->rmse,
                            ((hbx_score_rmse_pe(1, 1.1, 0.2) + hbx_score_rmse_pe(1, 1.6, 0.1)) / 2 +
                             hbx_score_rmse_pe(2.0, 2.0, 0.5)) / 2, TOL);
    ck_assert_double_eq(sc->ingestion_duration, 4.5);
    /* The failures, in (set, index) order, with their verdicts. */
    ck_assert_uint_eq(sc->n_failed, 3);
    const char *want[3] = {"CRASHED", "TIMEOUT", "MISSING"};
    const unsigned where[3][2] = {{0, 1}, {1, 1}, {1, 2}};
    for (int i = 0; i < 3; i++) {
        const hbx_score_pe *p = &r->pes[sc->failed[i]];
        ck_assert_str_eq(p->verdict, want[i]);
        ck_assert_uint_eq(p->set, where[i][0]);
        ck_assert_uint_eq(p->index, where[i][1]);
    }
    ck_assert_str_eq(r->pes[sc->failed[0]].detail, "SIGSEGV");
    ck_assert_uint_eq(r->pes[sc->failed[0]].seed, 43);
    /* Verdict counts: OK first, then by count, then by name. */
    ck_assert_uint_eq(sc->n_verdicts, 4);
    ck_assert_str_eq(sc->verdicts[0].verdict, "OK");
    ck_assert_uint_eq(sc->verdicts[0].count, 3);
    ck_assert_str_eq(sc->verdicts[1].verdict, "CRASHED");
    ck_assert_str_eq(sc->verdicts[3].verdict, "TIMEOUT");
    hbx_scores_free(sc);
    hbx_rundir_free(r);

    /* The command line: the table, the failures, scores.json and report. */
    char out[16384];
    char *argv[] = {HBX_TEST_CLI, "score", dir, "--bootstrap", "50", NULL};
    int rc = test_run(argv, out, sizeof out);
    ck_assert_msg(rc == 0, "score exited %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "set 0 index 1 seed 43: CRASHED  SIGSEGV"));
    ck_assert_ptr_nonnull(strstr(out, "set 1 index 2: MISSING"));
    ck_assert_ptr_nonnull(strstr(out, "OK 3, CRASHED 1, MISSING 1, TIMEOUT 1"));
    ck_assert(file_exists(dir, "report.html"));
    char path[4096];
    snprintf(path, sizeof path, "%s/scores.json", dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ck_assert_ptr_nonnull(j);
    json_t *failures = json_object_get(j, "failures");
    ck_assert_int_eq(json_array_size(failures), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(failures, 1), "verdict")),
                     "TIMEOUT");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n_failed")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "bootstrap"),
                                                        "replicates")), 50);
    json_decref(j);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- malformed input ---------------------------------------------------------- */

static void expect_load_error(const char *dir, const char *n1, const char *n2)
{
    char err[1024] = "";
    hbx_rundir *r = NULL;
    ck_assert_int_eq(hbx_score_load_dir(dir, &r, err, sizeof err), -1);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, n1) && (!n2 || strstr(err, n2)), "error '%s' lacks '%s'/'%s'",
                  err, n1, n2 ? n2 : "");
    ck_assert_msg(!strchr(err, '\n'), "error '%s' is not one line", err);
}

START_TEST(malformed_files_are_named)
{
    char *dir = make_run("p", 42, 0, "x");
    /* A truncated run.json: file, line and column. */
    write_text(dir, "run.json", "{\"format\": \"higgsbox-run\",\n \"settings\": {\"sets\": 2");
    expect_load_error(dir, "run.json:2:", "malformed JSON");
    write_run_json(dir, "p", 42, 2.0);

    /* A bad line in pes.jsonl. */
    write_text(dir, "pes.jsonl",
               "{\"set\": 0, \"index\": 0, \"mu_true\": 1.0, \"verdict\": \"CRASHED\"}\n"
               "{\"set\": 0, \"index\": 1,, \"mu_true\": 1.0}\n");
    expect_load_error(dir, "pes.jsonl:2:", "malformed JSON");
    /* A last line cut short (a run killed while appending). */
    write_text(dir, "pes.jsonl",
               "{\"set\": 0, \"index\": 0, \"mu_true\": 1.0, \"verdict\": \"CRASHED\"}\n"
               "{\"set\": 0, \"index\": 1, \"mu_tr");
    expect_load_error(dir, "pes.jsonl:2:", "truncated");
    /* Inconsistent records. */
    write_text(dir, "pes.jsonl",
               "{\"set\": 0, \"index\": 0, \"mu_true\": 1.5, \"verdict\": \"CRASHED\"}\n");
    expect_load_error(dir, "pes.jsonl:1:", "differs from settings.mu[0]");
    write_text(dir, "pes.jsonl",
               "{\"set\": 0, \"index\": 0, \"mu_true\": 1.0, \"verdict\": \"OK\", "
               "\"mu_hat\": 1, \"delta_mu_hat\": 0.1, \"p16\": null, \"p84\": 1.2}\n");
    expect_load_error(dir, "pes.jsonl:1:", "\"p16\"");
    write_text(dir, "pes.jsonl",
               "{\"set\": 0, \"index\": 0, \"mu_true\": 1.0, \"verdict\": \"CRASHED\"}\n"
               "{\"set\": 0, \"index\": 0, \"mu_true\": 1.0, \"verdict\": \"CRASHED\"}\n");
    expect_load_error(dir, "pes.jsonl:2:", "twice");
    write_text(dir, "pes.jsonl",
               "{\"set\": 5, \"index\": 0, \"mu_true\": 1.0, \"verdict\": \"CRASHED\"}\n");
    expect_load_error(dir, "pes.jsonl:1:", "outside the run");

    /* The command line: one line naming the file, nothing written. */
    char out[4096];
    char *argv[] = {HBX_TEST_CLI, "score", dir, NULL};
    ck_assert_int_eq(test_run(argv, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "pes.jsonl:1:"));
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    ck_assert(!file_exists(dir, "scores.json"));
    ck_assert(!file_exists(dir, "report.html"));
    test_rmtree(dir);
    free(dir);

    /* The original's format. */
    dir = test_tmpdir();
    write_original(dir);
    write_text(dir, "result_1.json", "{\"mu_hats\": [1, 2], \"delta_mu_hats\": [0.1, ");
    expect_load_error(dir, "result_1.json:1:", "malformed JSON");
    write_text(dir, "result_1.json",
               "{\"mu_hats\": [1, 2], \"delta_mu_hats\": [0.1], \"p16\": [1, 2], \"p84\": [1, 2]}");
    expect_load_error(dir, "result_1.json", "\"delta_mu_hats\" has 1 values");
    write_text(dir, "result_1.json",
               "{\"mu_hats\": [1], \"delta_mu_hats\": [0.1], \"p16\": [\"a\"], \"p84\": [1]}");
    expect_load_error(dir, "result_1.json", "p16[0]");
    char path[4096];
    snprintf(path, sizeof path, "%s/result_1.json", dir);
    ck_assert_int_eq(unlink(path), 0);
    expect_load_error(dir, "result_1.json is missing", NULL);
    write_text(dir, "test_settings.json", "{\"ground_truth_mus\": [1.0, 2.5]}");
    write_text(dir, "result_1.json", "{\"mu_hats\": [1], \"delta_mu_hats\": [0.1], "
                                     "\"p16\": [1], \"p84\": [1]}");
    expect_load_error(dir, "3 result files but only 2 ground_truth_mus", NULL);
    write_text(dir, "test_settings.json", "[1, 2");
    expect_load_error(dir, "test_settings.json:1:", "malformed JSON");
    test_rmtree(dir);
    free(dir);

    dir = test_tmpdir();
    expect_load_error(dir, "not a run directory", NULL);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the report --------------------------------------------------------------- */

static size_t count_elements(xmlNode *n, const char *name)
{
    size_t c = 0;
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0)
            c++;
        c += count_elements(n->children, name);
    }
    return c;
}

static xmlDoc *parse_xml(const char *path)
{
    xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                              XML_PARSE_NOWARNING);
    const xmlError *e = xmlGetLastError();
    ck_assert_msg(doc != NULL, "%s is not well-formed: %s (line %d)", path,
                  e ? e->message : "?", e ? e->line : 0);
    return doc;
}

START_TEST(report_is_wellformed)
{
    /* Hostile text everywhere it can come from: the plugin name and a
     * failure's detail, with markup, an entity, quotes and a control
     * character (not allowed in XML even escaped). */
    const char *name = "<script>alert(1)</script> & \"x\" \x01 \xce\xbc";
    char *dir = make_run(name, 42, 0, "<b>crash</b> &amp; \x02 ]]>");
    hbx_rundir *r = load_ok(dir);
    hbx_scores *sc = compute_ok(r, 100, 0, 1);
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/report.html", dir);
    ck_assert_msg(hbx_report_write_html(r, sc, path, err, sizeof err) == 0, "%s", err);
    xmlDoc *doc = parse_xml(path);
    xmlNode *root = xmlDocGetRootElement(doc);
    ck_assert_str_eq((const char *)root->name, "html");
    /* Per set the intervals, then coverage, width, score vs μ, the pulls
     * and the bootstrap. */
    ck_assert_uint_eq(hbx_report_plot_count(sc), 2 + 5);
    ck_assert_uint_eq(count_elements(root, "svg"), 2 + 5);
    ck_assert_uint_eq(count_elements(root, "script"), 0);
    ck_assert_uint_eq(count_elements(root, "b"), 0);
    /* The name is shown as text. */
    xmlChar *all = xmlNodeGetContent(root);
    ck_assert_ptr_nonnull(strstr((const char *)all, "<script>alert(1)</script> & \"x\""));
    ck_assert_ptr_nonnull(strstr((const char *)all, "<b>crash</b> &amp;"));
    ck_assert_ptr_nonnull(strstr((const char *)all, "MISSING"));
    xmlFree(all);
    xmlFreeDoc(doc);
    hbx_scores_free(sc);
    hbx_rundir_free(r);

    /* Without bootstrap: one plot less; the original's format works too. */
    test_rmtree(dir);
    free(dir);
    dir = test_tmpdir();
    write_original(dir);
    r = load_ok(dir);
    sc = compute_ok(r, 0, 0, 0);
    snprintf(path, sizeof path, "%s/report.html", dir);
    ck_assert_msg(hbx_report_write_html(r, sc, path, err, sizeof err) == 0, "%s", err);
    doc = parse_xml(path);
    ck_assert_uint_eq(count_elements(xmlDocGetRootElement(doc), "svg"), 3 + 4);
    ck_assert_uint_eq(hbx_report_plot_count(sc), 3 + 4);
    xmlFreeDoc(doc);
    hbx_scores_free(sc);
    hbx_rundir_free(r);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- comparing runs ---------------------------------------------------------- */

START_TEST(compare_refuses_mixed_settings)
{
    char *a = make_run("alpha", 42, 0, "x"), *b = make_run("beta", 42, 0.15, "x");
    char *c = make_run("gamma", 7, 0, "x"); /* another seed */
    hbx_rundir *ra = load_ok(a), *rb = load_ok(b), *rc = load_ok(c);
    char why[512];
    ck_assert_int_eq(hbx_compare_settings_differ(ra, rb, why, sizeof why), 0);
    ck_assert_int_eq(hbx_compare_settings_differ(ra, rc, why, sizeof why), 1);
    ck_assert_ptr_nonnull(strstr(why, "settings.seed"));
    hbx_scores *sa = compute_ok(ra, 20, 0, 1), *sb = compute_ok(rb, 20, 0, 1),
               *scc = compute_ok(rc, 20, 0, 1);
    ck_assert(sa->score != sb->score);

    hbx_compare_entry e[3] = {{.run = ra, .scores = sa}, {.run = rb, .scores = sb},
                              {.run = rc, .scores = scc}};
    int mixed = -1;
    char err[1024] = "";
    ck_assert_int_eq(hbx_compare_rank(e, 3, 0, &mixed, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not comparable"));
    ck_assert_ptr_nonnull(strstr(err, "settings.seed"));
    ck_assert_ptr_nonnull(strstr(err, c));
    ck_assert_int_eq(hbx_compare_rank(e, 3, 1, &mixed, err, sizeof err), 0);
    ck_assert_int_eq(mixed, 1);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(e[i].group, e[i].run == rc ? 1 : 0);
    /* Two comparable runs: ranked by score, best first. */
    hbx_compare_entry two[2] = {{.run = ra, .scores = sa}, {.run = rb, .scores = sb}};
    ck_assert_int_eq(hbx_compare_rank(two, 2, 0, &mixed, err, sizeof err), 0);
    ck_assert_int_eq(mixed, 0);
    ck_assert(two[0].scores->score > two[1].scores->score);
    ck_assert_uint_eq(two[0].rank, 1);
    ck_assert_uint_eq(two[1].rank, 2);
    /* Equal scores share a rank. */
    hbx_compare_entry same[2] = {{.run = ra, .scores = sa}, {.run = ra, .scores = sa}};
    ck_assert_int_eq(hbx_compare_rank(same, 2, 0, &mixed, err, sizeof err), 0);
    ck_assert_uint_eq(same[0].rank, 1);
    ck_assert_uint_eq(same[1].rank, 1);
    ck_assert(same[0].tied && same[1].tied);

    /* Other settings that must agree: μ, data, systematics. */
    char *d = test_tmpdir();
    write_run_json(d, "delta", 42, 2.5);
    write_pes(d, 0, 2.5, "x");
    hbx_rundir *rd = load_ok(d);
    ck_assert_int_eq(hbx_compare_settings_differ(ra, rd, why, sizeof why), 1);
    ck_assert_ptr_nonnull(strstr(why, "settings.mu"));
    hbx_rundir_free(rd);
    char *o = test_tmpdir();
    write_original(o);
    hbx_rundir *ro = load_ok(o);
    ck_assert_int_eq(hbx_compare_settings_differ(ra, ro, why, sizeof why), 1);
    ck_assert_ptr_nonnull(strstr(why, "data.sha256"));
    hbx_rundir_free(ro);

    /* Data: the events' hash decides when both runs have it, whatever the
     * files' bytes; else the files' hash. */
    char *e1 = make_run("e1", 42, 0.0, "x"), *e2 = make_run("e2", 42, 0.0, "x");
    set_data_ids(e1, "f1", "v1");
    set_data_ids(e2, "f2", "v1");
    hbx_rundir *re1 = load_ok(e1), *re2 = load_ok(e2);
    ck_assert_msg(hbx_compare_settings_differ(re1, re2, why, sizeof why) == 0, "%s", why);
    hbx_rundir_free(re2);
    set_data_ids(e2, "f1", "v2");
    re2 = load_ok(e2);
    ck_assert_int_eq(hbx_compare_settings_differ(re1, re2, why, sizeof why), 1);
    ck_assert_ptr_nonnull(strstr(why, "data.values_sha256"));
    hbx_rundir_free(re2);
    set_data_ids(e2, "f2", "");
    re2 = load_ok(e2);
    ck_assert_int_eq(hbx_compare_settings_differ(re1, re2, why, sizeof why), 1);
    ck_assert_ptr_nonnull(strstr(why, "data.sha256"));
    hbx_rundir_free(re2);
    hbx_rundir_free(re1);
    test_rmtree(e1);
    test_rmtree(e2);
    free(e1);
    free(e2);

    /* The command line. */
    char out[8192], html[4200];
    snprintf(html, sizeof html, "%s/compare.html", d);
    char *argv1[] = {HBX_TEST_CLI, "compare", a, b, c, "-o", html, NULL};
    ck_assert_int_eq(test_run(argv1, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "not comparable"));
    ck_assert(access(html, F_OK) != 0);
    char *argv2[] = {HBX_TEST_CLI, "compare", a, b, c, "--allow-mixed", "--bootstrap", "20",
                     "-o", html, NULL};
    int rc2 = test_run(argv2, out, sizeof out);
    ck_assert_msg(rc2 == 0, "compare exited %d: %s", rc2, out);
    ck_assert_ptr_nonnull(strstr(out, "settings"));
    ck_assert_ptr_nonnull(strstr(out, "warning: these runs do not share"));
    xmlDoc *doc = parse_xml(html);
    ck_assert_uint_eq(count_elements(xmlDocGetRootElement(doc), "tr"), 1 + 3);
    xmlFreeDoc(doc);
    char *argv3[] = {HBX_TEST_CLI, "compare", a, b, NULL};
    ck_assert_int_eq(test_run(argv3, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "alpha"));
    ck_assert(strstr(out, "alpha") < strstr(out, "beta"));

    hbx_scores_free(sa);
    hbx_scores_free(sb);
    hbx_scores_free(scc);
    hbx_rundir_free(ra);
    hbx_rundir_free(rb);
    hbx_rundir_free(rc);
    char *dirs[5] = {a, b, c, d, o};
    for (int i = 0; i < 5; i++) {
        test_rmtree(dirs[i]);
        free(dirs[i]);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("score");
    TCase *f = tcase_create("formulas");
    tcase_add_test(f, penalty_inside_band);
    tcase_add_test(f, penalty_below_band);
    tcase_add_test(f, penalty_above_band);
    tcase_add_test(f, epsilon_and_single_pe);
    tcase_add_test(f, coverage_boundaries);
    tcase_add_test(f, rmse_mae_hand_values);
    tcase_add_test(f, bootstrap_draws_match_numpy);
    suite_add_tcase(s, f);
    TCase *d = tcase_create("rundirs");
    tcase_add_test(d, original_round_trip);
    tcase_add_test(d, bootstrap_reproducible);
    tcase_add_test(d, failed_pes_count_as_not_covering);
    tcase_add_test(d, heavy_pool_is_noted);
    tcase_add_test(d, malformed_files_are_named);
    tcase_add_test(d, report_is_wellformed);
    tcase_add_test(d, compare_refuses_mixed_settings);
    suite_add_tcase(s, d);
    return s;
}

int main(void)
{
    return test_main(suite());
}
