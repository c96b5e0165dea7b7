/*
 * The scores of a run (HIGGSML.md §7; exact definitions and the original
 * program's behaviour in docs/SCORING.md): coverage, width, the quantile
 * score, RMSE and MAE per set and pooled, the bootstrap over sets, and the
 * PEs that failed.
 */
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score_internal.h"

/* ---- the formulas ------------------------------------------------------ */

double hbx_score_sigma68(uint64_t n)
{
    if (n == 0)
        return NAN;
    /* Written as the original computes it, so branch boundaries agree to
     * the last bit. */
    double dn = (double)n;
    return sqrt((1.0 - HBX_SCORE_ONE_SIGMA) * HBX_SCORE_ONE_SIGMA * dn) / dn;
}

double hbx_score_coverage_penalty(double coverage, uint64_t n)
{
    double s = hbx_score_sigma68(n);
    if (isnan(s) || isnan(coverage))
        return NAN;
    double lo = HBX_SCORE_ONE_SIGMA - 2 * s, hi = HBX_SCORE_ONE_SIGMA + 2 * s;
    if (coverage >= lo && coverage <= hi)
        return 1.0;
    if (coverage < lo)
        return 1.0 + pow(fabs((coverage - lo) / s), 4);
    return 1.0 + pow(fabs((coverage - hi) / s), 3);
}

double hbx_score_quantile(double width, double coverage, uint64_t n)
{
    return -log((width + HBX_SCORE_EPSILON) * hbx_score_coverage_penalty(coverage, n));
}

double hbx_score_rmse_pe(double mu, double mu_hat, double delta_mu_hat)
{
    double d2 = (mu_hat - mu) * (mu_hat - mu);
    double e = d2 - delta_mu_hat * delta_mu_hat;
    return sqrt(d2 + e * e);
}

double hbx_score_mae_pe(double mu, double mu_hat, double delta_mu_hat)
{
    double d = fabs(mu_hat - mu);
    return d + fabs(d - delta_mu_hat);
}

int hbx_score_covers(double mu, double p16, double p84)
{
    return mu >= p16 && mu <= p84;
}

/* The draws of one replicate with generator g (reseeded here). */
static void draw_with(gsl_rng *g, uint64_t seed, uint32_t n_sets, uint64_t k, uint32_t *out)
{
    uint32_t rng_max = n_sets - 1, mask = rng_max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    if (rng_max == 0) { /* numpy draws nothing for a single choice */
        memset(out, 0, k * sizeof *out);
        return;
    }
    /* GSL's MT19937 seeding is Matsumoto–Nishimura's init_genrand, as
     * numpy's legacy RandomState(int) (GSL maps seed 0 to 4357). */
    gsl_rng_set(g, (unsigned long)(seed & 0xffffffffu));
    for (uint64_t i = 0; i < k; i++) {
        uint32_t v;
        do
            v = (uint32_t)gsl_rng_get(g) & mask;
        while (v > rng_max);
        out[i] = v;
    }
}

int hbx_score_bootstrap_draw(uint64_t seed, uint32_t n_sets, uint64_t k, uint32_t *out)
{
    if (n_sets == 0)
        return -1;
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!g)
        return -1;
    draw_with(g, seed, n_sets, k, out);
    gsl_rng_free(g);
    return 0;
}

void hbx_score_options_default(hbx_score_options *opt)
{
    opt->bootstrap = 1000;
    opt->bootstrap_size = 0;
    opt->seed = 42;
}

/* ---- computing --------------------------------------------------------- */

static void mean_std(const double *v, uint64_t n, double *mean, double *std)
{
    double m = 0, s = 0;
    for (uint64_t i = 0; i < n; i++)
        m += v[i];
    m = n ? m / (double)n : NAN;
    for (uint64_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = n ? sqrt(s / (double)n) : NAN;
}

static int bootstrap(hbx_scores *sc, const hbx_score_options *opt, char *err, size_t err_len)
{
    hbx_bootstrap *b = &sc->boot;
    /* Sets without any PE (possible in a shard) have no coverage to draw. */
    uint32_t m = 0;
    for (uint32_t s = 0; s < sc->n_sets; s++)
        m += sc->sets[s].n > 0;
    uint64_t k = opt->bootstrap_size ? opt->bootstrap_size : m;
    if (k > 100000000u || opt->bootstrap > 100000000u)
        return hbx_sc_err(err, err_len, "bootstrap of %llu replicates of %llu sets is too large",
                          (unsigned long long)opt->bootstrap, (unsigned long long)k);
    uint32_t *eligible = malloc((m ? m : 1) * sizeof *eligible);
    uint32_t *draw = malloc((k ? k : 1) * sizeof *draw);
    b->replicates = opt->bootstrap;
    b->sample_size = k;
    b->seed = opt->seed;
    b->score = malloc(opt->bootstrap * sizeof *b->score);
    b->coverage = malloc(opt->bootstrap * sizeof *b->coverage);
    b->width = malloc(opt->bootstrap * sizeof *b->width);
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = -1;
    if (!g || !eligible || !draw || !b->score || !b->coverage || !b->width) {
        hbx_sc_err(err, err_len, "out of memory (bootstrap)");
        goto out;
    }
    m = 0;
    for (uint32_t s = 0; s < sc->n_sets; s++)
        if (sc->sets[s].n > 0)
            eligible[m++] = s;
    if (m == 0 || k == 0) {
        hbx_sc_err(err, err_len, "bootstrap: no set to draw from");
        goto out;
    }
    for (uint64_t r = 0; r < opt->bootstrap; r++) {
        draw_with(g, opt->seed + r, m, k, draw);
        double cov = 0, width = 0;
        uint64_t n = 0;
        for (uint64_t i = 0; i < k; i++) {
            const hbx_set_score *st = &sc->sets[eligible[draw[i]]];
            cov += st->coverage;
            width += st->width;
            n += st->n;
        }
        cov /= (double)k;
        width /= (double)k;
        b->coverage[r] = cov;
        b->width[r] = width;
        b->score[r] = hbx_score_quantile(width, cov, n);
    }
    mean_std(b->score, b->replicates, &b->score_mean, &b->score_std);
    mean_std(b->coverage, b->replicates, &b->coverage_mean, &b->coverage_std);
    mean_std(b->width, b->replicates, &b->width_mean, &b->width_std);
    rc = 0;
out:
    if (g)
        gsl_rng_free(g);
    free(eligible);
    free(draw);
    return rc;
}

static int by_count(const void *a, const void *b)
{
    const hbx_verdict_count *x = a, *y = b;
    int xo = strcmp(x->verdict, "OK") == 0, yo = strcmp(y->verdict, "OK") == 0;
    if (xo != yo)
        return yo - xo;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->verdict, y->verdict);
}

static int count_verdicts(const hbx_rundir *run, hbx_scores *sc)
{
    size_t cap = 0;
    for (size_t i = 0; i < run->n_pes; i++) {
        const char *v = run->pes[i].verdict;
        size_t j = 0;
        while (j < sc->n_verdicts && strcmp(sc->verdicts[j].verdict, v) != 0)
            j++;
        if (j == sc->n_verdicts) {
            if (j == cap) {
                cap = cap ? 2 * cap : 8;
                hbx_verdict_count *nv = realloc(sc->verdicts, cap * sizeof *nv);
                if (!nv)
                    return -1;
                sc->verdicts = nv;
            }
            snprintf(sc->verdicts[j].verdict, sizeof sc->verdicts[j].verdict, "%s", v);
            sc->verdicts[j].count = 0;
            sc->n_verdicts++;
        }
        sc->verdicts[j].count++;
    }
    qsort(sc->verdicts, sc->n_verdicts, sizeof *sc->verdicts, by_count);
    return 0;
}

int hbx_score_compute(const hbx_rundir *run, const hbx_score_options *opt, hbx_scores **out,
                      char *err, size_t err_len)
{
    *out = NULL;
    if (run->n_pes == 0)
        return hbx_sc_err(err, err_len, "%s: no pseudo-experiment to score", run->path);
    hbx_scores *sc = calloc(1, sizeof *sc);
    if (!sc)
        return hbx_sc_err(err, err_len, "out of memory");
    sc->n_sets = run->n_sets;
    sc->sets = calloc(run->n_sets, sizeof *sc->sets);
    double *sum_w = calloc(run->n_sets, sizeof *sum_w);
    double *sum_rmse = calloc(run->n_sets, sizeof *sum_rmse);
    double *sum_mae = calloc(run->n_sets, sizeof *sum_mae);
    sc->failed = malloc(run->n_pes * sizeof *sc->failed);
    if (!sc->sets || !sum_w || !sum_rmse || !sum_mae || !sc->failed)
        goto oom;

    double pooled_w = 0;
    for (size_t i = 0; i < run->n_pes; i++) {
        const hbx_score_pe *p = &run->pes[i];
        hbx_set_score *st = &sc->sets[p->set];
        st->n++;
        if (!p->ok) {
            sc->failed[sc->n_failed++] = i;
            continue;
        }
        st->n_ok++;
        double w = fabs(p->p84 - p->p16);
        sum_w[p->set] += w;
        pooled_w += w;
        st->n_covered += hbx_score_covers(p->mu_true, p->p16, p->p84);
        sum_rmse[p->set] += hbx_score_rmse_pe(p->mu_true, p->mu_hat, p->delta_mu_hat);
        sum_mae[p->set] += hbx_score_mae_pe(p->mu_true, p->mu_hat, p->delta_mu_hat);
    }

    double rmse = 0, mae = 0;
    uint32_t with_ok = 0;
    for (uint32_t s = 0; s < run->n_sets; s++) {
        hbx_set_score *st = &sc->sets[s];
        st->set = s;
        st->mu = run->mu[s];
        /* A set where every PE failed has no interval to measure: width 0,
         * as the original's encoding of a failure (docs/SCORING.md). */
        st->width = st->n_ok ? sum_w[s] / (double)st->n_ok : 0.0;
        st->coverage = st->n ? (double)st->n_covered / (double)st->n : NAN;
        st->penalty = hbx_score_coverage_penalty(st->coverage, st->n);
        st->score = st->n ? hbx_score_quantile(st->width, st->coverage, st->n) : NAN;
        st->rmse = st->n_ok ? sum_rmse[s] / (double)st->n_ok : NAN;
        st->mae = st->n_ok ? sum_mae[s] / (double)st->n_ok : NAN;
        if (st->n_ok) {
            rmse += st->rmse;
            mae += st->mae;
            with_ok++;
        }
        sc->n += st->n;
        sc->n_ok += st->n_ok;
        sc->n_covered += st->n_covered;
    }
    sc->width = sc->n_ok ? pooled_w / (double)sc->n_ok : 0.0;
    sc->coverage = (double)sc->n_covered / (double)sc->n;
    sc->penalty = hbx_score_coverage_penalty(sc->coverage, sc->n);
    sc->score = hbx_score_quantile(sc->width, sc->coverage, sc->n);
    sc->rmse = with_ok ? rmse / with_ok : NAN;
    sc->mae = with_ok ? mae / with_ok : NAN;
    sc->ingestion_duration = run->ingestion_duration;
    free(sum_w);
    free(sum_rmse);
    free(sum_mae);
    sum_w = sum_rmse = sum_mae = NULL;

    if (count_verdicts(run, sc) != 0)
        goto oom;
    if (opt->bootstrap && bootstrap(sc, opt, err, err_len) != 0) {
        hbx_scores_free(sc);
        return -1;
    }
    *out = sc;
    return 0;
oom:
    free(sum_w);
    free(sum_rmse);
    free(sum_mae);
    hbx_scores_free(sc);
    return hbx_sc_err(err, err_len, "out of memory");
}

void hbx_scores_free(hbx_scores *sc)
{
    if (!sc)
        return;
    free(sc->sets);
    free(sc->boot.score);
    free(sc->boot.coverage);
    free(sc->boot.width);
    free(sc->verdicts);
    free(sc->failed);
    free(sc);
}

/* ---- scores.json ----------------------------------------------------------- */

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int hbx_score_write_json(const hbx_rundir *run, const hbx_scores *sc, const char *path,
                         char *err, size_t err_len)
{
    json_t *o = json_object();
    /* The original's keys first, in its order. */
    json_object_set_new(o, "rmse", num(sc->rmse));
    json_object_set_new(o, "mae", num(sc->mae));
    json_object_set_new(o, "interval", num(sc->width));
    json_object_set_new(o, "coverage", num(sc->coverage));
    json_object_set_new(o, "quantiles_score", num(sc->score));
    json_object_set_new(o, "ingestion_duration", num(sc->ingestion_duration));
    /* Ours. */
    json_object_set_new(o, "format", json_string("higgsbox-scores"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set_new(o, "source", json_string(run->format == HBX_RUNDIR_ORIGINAL
                                                     ? "original"
                                                     : "higgsbox"));
    json_object_set_new(o, "epsilon", json_real(HBX_SCORE_EPSILON));
    json_object_set_new(o, "n", json_integer((json_int_t)sc->n));
    json_object_set_new(o, "n_ok", json_integer((json_int_t)sc->n_ok));
    json_object_set_new(o, "n_covered", json_integer((json_int_t)sc->n_covered));
    json_object_set_new(o, "n_failed", json_integer((json_int_t)sc->n_failed));
    double s68 = hbx_score_sigma68(sc->n);
    json_object_set_new(o, "coverage_band",
                        json_pack("[o, o]", num(HBX_SCORE_ONE_SIGMA - 2 * s68),
                                  num(HBX_SCORE_ONE_SIGMA + 2 * s68)));
    json_object_set_new(o, "coverage_penalty", num(sc->penalty));

    json_t *sets = json_array();
    for (uint32_t s = 0; s < sc->n_sets; s++) {
        const hbx_set_score *st = &sc->sets[s];
        json_t *j = json_object();
        json_object_set_new(j, "set", json_integer(st->set));
        json_object_set_new(j, "mu", num(st->mu));
        json_object_set_new(j, "n", json_integer((json_int_t)st->n));
        json_object_set_new(j, "n_ok", json_integer((json_int_t)st->n_ok));
        json_object_set_new(j, "n_covered", json_integer((json_int_t)st->n_covered));
        json_object_set_new(j, "interval", num(st->width));
        json_object_set_new(j, "coverage", num(st->coverage));
        json_object_set_new(j, "coverage_penalty", num(st->penalty));
        json_object_set_new(j, "quantiles_score", num(st->score));
        json_object_set_new(j, "rmse", num(st->rmse));
        json_object_set_new(j, "mae", num(st->mae));
        json_array_append_new(sets, j);
    }
    json_object_set_new(o, "sets", sets);

    const hbx_bootstrap *b = &sc->boot;
    if (b->replicates) {
        json_t *j = json_object();
        json_object_set_new(j, "replicates", json_integer((json_int_t)b->replicates));
        json_object_set_new(j, "sample_size", json_integer((json_int_t)b->sample_size));
        json_object_set_new(j, "seed", json_integer((json_int_t)b->seed));
        json_object_set_new(j, "quantiles_score_mean", num(b->score_mean));
        json_object_set_new(j, "quantiles_score_std", num(b->score_std));
        json_object_set_new(j, "coverage_mean", num(b->coverage_mean));
        json_object_set_new(j, "coverage_std", num(b->coverage_std));
        json_object_set_new(j, "interval_mean", num(b->width_mean));
        json_object_set_new(j, "interval_std", num(b->width_std));
        json_object_set_new(o, "bootstrap", j);
    } else {
        json_object_set_new(o, "bootstrap", json_null());
    }

    json_t *verdicts = json_object();
    for (size_t i = 0; i < sc->n_verdicts; i++)
        json_object_set_new(verdicts, sc->verdicts[i].verdict,
                            json_integer((json_int_t)sc->verdicts[i].count));
    json_object_set_new(o, "verdicts", verdicts);

    json_t *failures = json_array();
    for (size_t i = 0; i < sc->n_failed; i++) {
        const hbx_score_pe *p = &run->pes[sc->failed[i]];
        json_t *j = json_object();
        json_object_set_new(j, "set", json_integer(p->set));
        json_object_set_new(j, "index", json_integer(p->index));
        json_object_set_new(j, "seed", p->has_seed ? json_integer((json_int_t)p->seed)
                                                   : json_null());
        json_object_set_new(j, "verdict", json_string(p->verdict));
        json_t *d = json_string(p->detail); /* NULL if not UTF-8 */
        json_object_set_new(j, "detail", d ? d : json_string("(not UTF-8)"));
        json_array_append_new(failures, j);
    }
    json_object_set_new(o, "failures", failures);
    json_t *notes = json_array();
    for (size_t i = 0; i < run->n_notes; i++)
        json_array_append_new(notes, json_string(run->notes[i]));
    json_object_set_new(o, "notes", notes);

    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text)
        return hbx_sc_err(err, err_len, "%s: cannot encode the scores", path);
    size_t len = strlen(text);
    char *full = realloc(text, len + 2);
    if (!full) {
        free(text);
        return hbx_sc_err(err, err_len, "out of memory");
    }
    full[len] = '\n';
    full[len + 1] = '\0';
    int rc = hbx_sc_write_atomic(path, full, len + 1, err, err_len);
    free(full);
    return rc;
}

/* ---- the table --------------------------------------------------------------- */

static void fmt_num(char *buf, size_t cap, double v, int digits)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.*f", digits, v);
}

void hbx_score_print_table(FILE *out, const hbx_rundir *run, const hbx_scores *sc)
{
    char a[64], b[64], name[160];
    hbx_sc_term_clean(name, sizeof name, run->plugin_name ? run->plugin_name : "");
    char dir[512];
    hbx_sc_term_clean(dir, sizeof dir, run->path);
    char ver[64];
    hbx_sc_term_clean(ver, sizeof ver, run->plugin_version ? run->plugin_version : "");
    fprintf(out, "%s%s%s%s%s (%s format)\n", dir, name[0] ? ": " : "", name, ver[0] ? " " : "",
            ver, run->format == HBX_RUNDIR_ORIGINAL ? "original" : "higgsbox");
    fprintf(out, "%4s %9s %7s %7s %8s %9s %9s %9s %9s %9s\n", "set", "mu", "N", "OK", "covered",
            "coverage", "width", "score", "RMSE", "MAE");
    char c[6][32];
    for (uint32_t s = 0; s < sc->n_sets; s++) {
        const hbx_set_score *st = &sc->sets[s];
        fmt_num(c[0], sizeof c[0], st->coverage, 4);
        fmt_num(c[1], sizeof c[1], st->n_ok ? st->width : NAN, 4);
        fmt_num(c[2], sizeof c[2], st->score, 4);
        fmt_num(c[3], sizeof c[3], st->rmse, 4);
        fmt_num(c[4], sizeof c[4], st->mae, 4);
        fprintf(out, "%4u %9.4f %7llu %7llu %8llu %9s %9s %9s %9s %9s\n", st->set, st->mu,
                (unsigned long long)st->n, (unsigned long long)st->n_ok,
                (unsigned long long)st->n_covered, c[0], c[1], c[2], c[3], c[4]);
    }
    fmt_num(c[0], sizeof c[0], sc->coverage, 4);
    fmt_num(c[1], sizeof c[1], sc->width, 4);
    fmt_num(c[2], sizeof c[2], sc->score, 4);
    fmt_num(c[3], sizeof c[3], sc->rmse, 4);
    fmt_num(c[4], sizeof c[4], sc->mae, 4);
    fprintf(out, "%4s %9s %7llu %7llu %8llu %9s %9s %9s %9s %9s\n", "all", "",
            (unsigned long long)sc->n, (unsigned long long)sc->n_ok,
            (unsigned long long)sc->n_covered, c[0], c[1], c[2], c[3], c[4]);
    double s68 = hbx_score_sigma68(sc->n);
    fprintf(out, "\nquantile score  %.4f", sc->score);
    if (sc->boot.replicates) {
        fmt_num(a, sizeof a, sc->boot.score_std, 4);
        fmt_num(b, sizeof b, sc->boot.score_mean, 4);
        fprintf(out, " ± %s  (bootstrap: %llu replicates of %llu sets, seed %llu; mean %s)", a,
                (unsigned long long)sc->boot.replicates,
                (unsigned long long)sc->boot.sample_size, (unsigned long long)sc->boot.seed, b);
    }
    fprintf(out, "\ncoverage        %.4f  (band for N = %llu: [%.4f, %.4f], penalty f = %.6g)\n",
            sc->coverage, (unsigned long long)sc->n, HBX_SCORE_ONE_SIGMA - 2 * s68,
            HBX_SCORE_ONE_SIGMA + 2 * s68, sc->penalty);
    fprintf(out, "mean width      %.4f\n", sc->width);
    if (!isnan(sc->ingestion_duration))
        fprintf(out, "duration        %.3f s\n", sc->ingestion_duration);
    fprintf(out, "verdicts       ");
    for (size_t i = 0; i < sc->n_verdicts; i++)
        fprintf(out, " %s %llu%s", sc->verdicts[i].verdict,
                (unsigned long long)sc->verdicts[i].count, i + 1 < sc->n_verdicts ? "," : "");
    fputc('\n', out);
    if (sc->n_failed) {
        const size_t shown = 20;
        fprintf(out, "failed PEs (%zu, counted as not covering):\n", sc->n_failed);
        for (size_t i = 0; i < sc->n_failed && i < shown; i++) {
            const hbx_score_pe *p = &run->pes[sc->failed[i]];
            char v[64], d[200];
            hbx_sc_term_clean(v, sizeof v, p->verdict);
            hbx_sc_term_clean(d, sizeof d, p->detail);
            if (p->has_seed)
                snprintf(a, sizeof a, " seed %llu", (unsigned long long)p->seed);
            else
                a[0] = '\0';
            fprintf(out, "  set %u index %u%s: %s%s%s\n", p->set, p->index, a, v,
                    d[0] ? "  " : "", d);
        }
        if (sc->n_failed > shown)
            fprintf(out, "  ... and %zu more (scores.json lists them all)\n",
                    sc->n_failed - shown);
    }
    for (size_t i = 0; i < run->n_notes; i++)
        fprintf(out, "note: %s\n", run->notes[i]);
}
