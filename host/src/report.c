/*
 * report.html: the scores of one run as a single self-contained page —
 * summary, per-set table, inline SVG plots, verdicts and failed PEs, and the
 * run's provenance. Every string taken from the run directory is untrusted
 * (plugin name, failure details, ...) and escaped.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score_internal.h"

#define BLUE "#2f6fdf"
#define ORANGE "#e8870e"
#define RED "#d23f31"
#define GREEN "#1e9e5a"
#define PURPLE "#8a4fd8"
#define GREY "#5f6775"

/* The failed-PE table stops here; scores.json lists them all. */
#define MAX_FAILED_ROWS 500

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Value at quantile q of sorted v[0..n). */
static double quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double t = pos - (double)i;
    return i + 1 < n ? v[i] * (1 - t) + v[i + 1] * t : v[n - 1];
}

/* ---- plots ------------------------------------------------------------- */

/* The original's figure: one horizontal bar per PE from p16 to p84, PEs
 * down the y axis, the true μ as a vertical line. */
static void plot_set_intervals(FILE *f, const hbx_rundir *run, const hbx_scores *sc,
                               uint32_t set, size_t first, size_t count)
{
    const hbx_set_score *st = &sc->sets[set];
    double mu = st->mu;
    double *lo = malloc((count ? count : 1) * sizeof *lo);
    double *hi = malloc((count ? count : 1) * sizeof *hi);
    size_t n_ok = 0;
    double sum_hat = 0;
    for (size_t i = 0; lo && hi && i < count; i++) {
        const hbx_score_pe *p = &run->pes[first + i];
        if (p->ok) {
            lo[n_ok] = fmin(p->p16, p->p84);
            hi[n_ok] = fmax(p->p16, p->p84);
            sum_hat += p->mu_hat;
            n_ok++;
        }
    }
    /* A robust range: one absurd interval must not squash the others
     * (bars beyond it are cut at the frame). */
    double x0 = mu, x1 = mu;
    if (lo && hi && n_ok) {
        qsort(lo, n_ok, sizeof *lo, cmp_double);
        qsort(hi, n_ok, sizeof *hi, cmp_double);
        x0 = fmin(x0, quantile(lo, n_ok, 0.01));
        x1 = fmax(x1, quantile(hi, n_ok, 0.99));
    }
    free(lo);
    free(hi);
    if (x1 - x0 < 1e-6)
        x0 -= 0.5, x1 += 0.5;
    hbx_svg_pad(&x0, &x1, 0.06);
    char title[128];
    snprintf(title, sizeof title, "Set %u \xc2\xb7 true \xce\xbc = %.4g", set, mu);
    hbx_svg p;
    double rows = (double)(count ? count : 1);
    hbx_svg_begin(&p, f, 560, 400, x0, x1, 0, rows, 1, title, "\xce\xbc",
                  "pseudo-experiment");
    hbx_svg_legend(&p, "line", BLUE, "covers \xce\xbc");
    hbx_svg_legend(&p, "line", ORANGE, "misses \xce\xbc");
    if (st->n_ok < st->n)
        hbx_svg_legend(&p, "line", RED, "failed");
    hbx_svg_legend(&p, "line", GREEN, "true \xce\xbc");
    if (n_ok)
        hbx_svg_legend(&p, "dash", PURPLE, "mean \xce\xbc\xcc\x82");

    double bar = p.h / rows * 0.8;
    bar = bar < 0.6 ? 0.6 : bar > 4 ? 4 : bar;
    const char *colour[3] = {BLUE, ORANGE, RED};
    for (int kind = 0; kind < 3; kind++) {
        int any = 0;
        for (size_t i = 0; i < count; i++) {
            const hbx_score_pe *p2 = &run->pes[first + i];
            int k = !p2->ok ? 2 : hbx_score_covers(p2->mu_true, p2->p16, p2->p84) ? 0 : 1;
            if (k != kind)
                continue;
            if (!any)
                fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" d=\"",
                        colour[kind], bar);
            any = 1;
            double y = hbx_svg_y(&p, (double)i + 0.5);
            if (kind == 2) /* a failed PE: a mark at the left edge */
                fprintf(f, "M%.1f %.2fh10", p.left, y);
            else
                fprintf(f, "M%.1f %.2fH%.1f", hbx_svg_x(&p, fmin(p2->p16, p2->p84)), y,
                        fmax(hbx_svg_x(&p, fmax(p2->p16, p2->p84)),
                             hbx_svg_x(&p, fmin(p2->p16, p2->p84)) + 0.8));
        }
        if (any)
            fputs("\"/>\n", f);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"2\"/>\n", hbx_svg_x(&p, mu), p.top, hbx_svg_x(&p, mu),
            p.top + p.h, GREEN);
    if (n_ok) {
        double m = sum_hat / (double)n_ok;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"1.6\" stroke-dasharray=\"6 4\"/>\n", hbx_svg_x(&p, m), p.top,
                hbx_svg_x(&p, m), p.top + p.h, PURPLE);
    } else {
        hbx_svg_message(&p, "no successful pseudo-experiment");
    }
    hbx_svg_end(&p);
}

/* One point per set against its true μ; `band` draws the coverage band. */
static void plot_vs_mu(FILE *f, const hbx_scores *sc, int what, const char *title,
                       const char *ylabel)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    uint64_t n_med = 0;
    size_t have = 0;
    for (uint32_t s = 0; s < sc->n_sets; s++) {
        const hbx_set_score *st = &sc->sets[s];
        double v = what == 0 ? st->coverage : what == 1 ? st->width : st->score;
        if (!st->n || !isfinite(v))
            continue;
        x0 = fmin(x0, st->mu), x1 = fmax(x1, st->mu);
        y0 = fmin(y0, v), y1 = fmax(y1, v);
        n_med += st->n;
        have++;
    }
    if (!have) {
        x0 = 0, x1 = 3, y0 = 0, y1 = 1;
    }
    double band_lo = NAN, band_hi = NAN;
    if (what == 0) {
        /* The band of a set of the mean size; sets of other sizes differ
         * slightly, the table gives each set's own penalty. */
        double s68 = hbx_score_sigma68(have ? n_med / have : 0);
        band_lo = HBX_SCORE_ONE_SIGMA - 2 * s68;
        band_hi = HBX_SCORE_ONE_SIGMA + 2 * s68;
        if (isfinite(band_lo))
            y0 = fmin(y0, band_lo), y1 = fmax(y1, band_hi);
        y0 = fmin(y0, HBX_SCORE_ONE_SIGMA), y1 = fmax(y1, HBX_SCORE_ONE_SIGMA);
    }
    if (what == 1)
        y0 = fmin(y0, 0);
    hbx_svg_pad(&x0, &x1, 0.08);
    hbx_svg_pad(&y0, &y1, 0.1);
    if (what == 0)
        y0 = fmax(y0, -0.02), y1 = fmin(y1, 1.02);
    if (what == 1)
        y0 = fmax(y0, 0);
    hbx_svg p;
    hbx_svg_begin(&p, f, 380, 300, x0, x1, y0, y1, 0, title, "true \xce\xbc", ylabel);
    static const char *const colour[3] = {BLUE, ORANGE, PURPLE};
    hbx_svg_legend(&p, "dot", colour[what], "set");
    if (what == 0 && isfinite(band_lo)) {
        hbx_svg_legend(&p, "box", GREEN, "f = 1 band");
        double a = hbx_svg_y(&p, band_hi), b = hbx_svg_y(&p, band_lo);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.14\"/>\n", p.left, a, p.w, b - a, GREEN);
        double t = hbx_svg_y(&p, HBX_SCORE_ONE_SIGMA);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-dasharray=\"5 3\"/>\n", p.left, t, p.left + p.w, t, GREEN);
    }
    for (uint32_t s = 0; s < sc->n_sets; s++) {
        const hbx_set_score *st = &sc->sets[s];
        double v = what == 0 ? st->coverage : what == 1 ? st->width : st->score;
        if (!st->n || !isfinite(v))
            continue;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" stroke=\"#fff\" "
                "stroke-width=\"1\"><title>set %u: %.4f</title></circle>\n",
                hbx_svg_x(&p, st->mu), hbx_svg_y(&p, v), colour[what], st->set, v);
    }
    if (!have)
        hbx_svg_message(&p, "no data");
    hbx_svg_end(&p);
}

/* Histogram of `v` (n values) in `bins` bins over [lo, hi]; returns the
 * counts (malloc'd) and the number outside. */
static unsigned *histogram(const double *v, size_t n, double lo, double hi, int bins,
                           size_t *outside, unsigned *max)
{
    unsigned *c = calloc((size_t)bins, sizeof *c);
    *outside = 0;
    *max = 0;
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] >= lo && v[i] <= hi)) {
            (*outside)++;
            continue;
        }
        int b = (int)((v[i] - lo) / (hi - lo) * bins);
        b = b >= bins ? bins - 1 : b;
        if (++c[b] > *max)
            *max = c[b];
    }
    return c;
}

static void draw_bars(FILE *f, const hbx_svg *p, const unsigned *c, int bins, double lo,
                      double hi, const char *colour)
{
    fprintf(f, "<g fill=\"%s\" fill-opacity=\"0.55\" stroke=\"%s\" stroke-width=\"0.8\">\n",
            colour, colour);
    double bw = (hi - lo) / bins;
    for (int b = 0; b < bins; b++) {
        if (!c[b])
            continue;
        double xa = hbx_svg_x(p, lo + b * bw), xb = hbx_svg_x(p, lo + (b + 1) * bw);
        double yt = hbx_svg_y(p, c[b]), yb = hbx_svg_y(p, 0);
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", xa, yt,
                xb - xa, yb - yt);
    }
    fputs("\n</g>\n", f);
}

/* Pulls (μ̂ − μ)/δμ̂ of the OK PEs with δμ̂ > 0, against a unit Gaussian. */
static void plot_pulls(FILE *f, const hbx_rundir *run, char *caption, size_t cap)
{
    double *v = malloc((run->n_pes ? run->n_pes : 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; v && i < run->n_pes; i++) {
        const hbx_score_pe *p = &run->pes[i];
        if (p->ok && p->delta_mu_hat > 0) {
            double pull = (p->mu_hat - p->mu_true) / p->delta_mu_hat;
            if (isfinite(pull))
                v[n++] = pull;
        }
    }
    const double lo = -5, hi = 5;
    const int bins = 40;
    size_t outside = 0;
    unsigned max = 0;
    unsigned *c = v ? histogram(v, n, lo, hi, bins, &outside, &max) : NULL;
    double norm = (double)n * (hi - lo) / bins; /* expected count per unit density */
    double peak = fmax((double)max, norm * 0.3989422804014327);
    hbx_svg p;
    hbx_svg_begin(&p, f, 560, 340, lo, hi, 0, peak > 0 ? peak * 1.12 : 1, 0,
                  "Pull (\xce\xbc\xcc\x82 \xe2\x88\x92 \xce\xbc) / \xce\xb4\xce\xbc\xcc\x82",
                  "pull", "pseudo-experiments");
    hbx_svg_legend(&p, "box", BLUE, "PEs");
    hbx_svg_legend(&p, "line", RED, "unit Gaussian");
    if (c && n) {
        draw_bars(f, &p, c, bins, lo, hi, BLUE);
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", RED);
        for (int i = 0; i <= 200; i++) {
            double x = lo + (hi - lo) * i / 200.0;
            double y = norm * exp(-0.5 * x * x) * 0.3989422804014327;
            fprintf(f, "%.1f,%.1f ", hbx_svg_x(&p, x), hbx_svg_y(&p, y));
        }
        fputs("\"/>\n", f);
    } else {
        hbx_svg_message(&p, "no pull to show (no successful PE with \xce\xb4\xce\xbc\xcc\x82 > 0)");
    }
    hbx_svg_end(&p);
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m = n ? m / (double)n : NAN;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    s = n > 1 ? sqrt(s / (double)(n - 1)) : NAN;
    if (n == 0)
        snprintf(caption, cap, "No pull: no successful PE with a positive \xce\xb4\xce\xbc\xcc\x82.");
    else
        snprintf(caption, cap, "%zu pulls: mean %.3f, standard deviation %.3f (a calibrated "
             "\xce\xb4\xce\xbc\xcc\x82 gives 0 and 1); %zu outside [\xe2\x88\x92" "5, 5].",
             n, m, s, outside);
    free(c);
    free(v);
}

static void plot_bootstrap(FILE *f, const hbx_scores *sc)
{
    const hbx_bootstrap *b = &sc->boot;
    double lo = INFINITY, hi = -INFINITY;
    for (uint64_t i = 0; i < b->replicates; i++)
        if (isfinite(b->score[i]))
            lo = fmin(lo, b->score[i]), hi = fmax(hi, b->score[i]);
    if (isfinite(sc->score))
        lo = fmin(lo, sc->score), hi = fmax(hi, sc->score);
    if (!isfinite(lo))
        lo = 0, hi = 1;
    hbx_svg_pad(&lo, &hi, 0.05);
    const int bins = 30;
    size_t outside;
    unsigned max;
    unsigned *c = histogram(b->score, b->replicates, lo, hi, bins, &outside, &max);
    hbx_svg p;
    hbx_svg_begin(&p, f, 560, 340, lo, hi, 0, max ? max * 1.12 : 1, 0,
                  "Bootstrap of the quantile score over sets", "quantile score", "replicates");
    hbx_svg_legend(&p, "box", PURPLE, "replicates");
    hbx_svg_legend(&p, "box", GREY, "mean \xc2\xb1 std");
    hbx_svg_legend(&p, "line", RED, "score of the run");
    if (isfinite(b->score_std)) {
        double xa = hbx_svg_x(&p, b->score_mean - b->score_std);
        double xb = hbx_svg_x(&p, b->score_mean + b->score_std);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.12\"/>\n", xa, p.top, xb - xa, p.h, GREY);
    }
    if (c)
        draw_bars(f, &p, c, bins, lo, hi, PURPLE);
    if (isfinite(sc->score)) {
        double x = hbx_svg_x(&p, sc->score);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n", x, p.top, x, p.top + p.h, RED);
    }
    hbx_svg_end(&p);
    free(c);
}

size_t hbx_report_plot_count(const hbx_scores *sc)
{
    return (size_t)sc->n_sets + 4 + (sc->boot.replicates ? 1 : 0);
}

/* ---- tables ------------------------------------------------------------- */

static void card(FILE *f, const char *cls, const char *key, const char *value,
                 const char *detail)
{
    fprintf(f, "<div class=\"card%s\"><div class=\"k\">%s</div><div class=\"v\">%s</div>",
            cls, key, value);
    if (detail)
        fprintf(f, "<div class=\"d\">%s</div>", detail);
    fputs("</div>\n", f);
}

static void summary_cards(FILE *f, const hbx_scores *sc)
{
    char v[96], d[160];
    double s68 = hbx_score_sigma68(sc->n);
    fputs("<div class=\"cards\">\n", f);
    snprintf(v, sizeof v, "%.4f", sc->score);
    if (sc->boot.replicates)
        snprintf(d, sizeof d, "\xc2\xb1 %.4f (bootstrap, %llu replicates)", sc->boot.score_std,
                 (unsigned long long)sc->boot.replicates);
    else
        snprintf(d, sizeof d, "no bootstrap");
    card(f, " main", "Quantile score", v, d);
    snprintf(v, sizeof v, "%.4f", sc->coverage);
    snprintf(d, sizeof d, "target 0.6827; f = 1 in [%.4f, %.4f]", HBX_SCORE_ONE_SIGMA - 2 * s68,
             HBX_SCORE_ONE_SIGMA + 2 * s68);
    card(f, "", "Coverage", v, d);
    snprintf(v, sizeof v, "%.4f", sc->width);
    snprintf(d, sizeof d, "mean |p84 \xe2\x88\x92 p16|; penalty f = %.4g", sc->penalty);
    card(f, "", "Interval width", v, d);
    snprintf(v, sizeof v, isnan(sc->rmse) ? "\xe2\x80\x94" : "%.4f", sc->rmse);
    snprintf(d, sizeof d, isnan(sc->mae) ? "MAE \xe2\x80\x94" : "MAE %.4f", sc->mae);
    card(f, "", "RMSE", v, d);
    snprintf(v, sizeof v, "%llu", (unsigned long long)sc->n);
    snprintf(d, sizeof d, "%zu failed", sc->n_failed);
    card(f, sc->n_failed ? " fail" : "", "Pseudo-experiments", v, d);
    if (!isnan(sc->ingestion_duration)) {
        snprintf(v, sizeof v, "%.1f s", sc->ingestion_duration);
        card(f, "", "Duration", v, "fit + all predictions");
    }
    fputs("</div>\n", f);
}

static void set_table(FILE *f, const hbx_scores *sc)
{
    fputs("<table>\n<thead><tr><th>set</th><th>true \xce\xbc</th><th>N</th><th>OK</th>"
          "<th>covered</th><th>coverage</th><th>penalty f</th><th>width</th><th>score</th>"
          "<th>RMSE</th><th>MAE</th></tr></thead>\n<tbody>\n", f);
    for (uint32_t s = 0; s < sc->n_sets; s++) {
        const hbx_set_score *st = &sc->sets[s];
        fprintf(f, "<tr><td>%u</td><td>%.4f</td><td>%llu</td><td>%llu</td><td>%llu</td><td>",
                st->set, st->mu, (unsigned long long)st->n, (unsigned long long)st->n_ok,
                (unsigned long long)st->n_covered);
        hbx_html_num(f, st->coverage, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, st->penalty, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, st->n_ok ? st->width : NAN, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, st->score, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, st->rmse, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, st->mae, 4);
        fputs("</td></tr>\n", f);
    }
    fprintf(f, "<tr class=\"total\"><td class=\"l\">all</td><td></td><td>%llu</td><td>%llu</td>"
            "<td>%llu</td><td>", (unsigned long long)sc->n, (unsigned long long)sc->n_ok,
            (unsigned long long)sc->n_covered);
    hbx_html_num(f, sc->coverage, 4);
    fputs("</td><td>", f);
    hbx_html_num(f, sc->penalty, 4);
    fputs("</td><td>", f);
    hbx_html_num(f, sc->width, 4);
    fputs("</td><td>", f);
    hbx_html_num(f, sc->score, 4);
    fputs("</td><td>", f);
    hbx_html_num(f, sc->rmse, 4);
    fputs("</td><td>", f);
    hbx_html_num(f, sc->mae, 4);
    fputs("</td></tr>\n</tbody>\n</table>\n", f);
    fputs("<p class=\"muted\">Pooled: coverage and width over all PEs, the penalty for their "
          "total N; RMSE and MAE are the means of the sets' values (as the original). A "
          "failed PE counts as not covering and has no width.</p>\n", f);
}

static void verdict_tables(FILE *f, const hbx_rundir *run, const hbx_scores *sc)
{
    fputs("<table class=\"narrow\">\n<thead><tr><th class=\"l\">verdict</th><th>PEs</th><th>share</th></tr>"
          "</thead>\n<tbody>\n", f);
    for (size_t i = 0; i < sc->n_verdicts; i++) {
        int ok = strcmp(sc->verdicts[i].verdict, "OK") == 0;
        fprintf(f, "<tr><td class=\"l %s\">", ok ? "ok" : "bad");
        hbx_html_text(f, sc->verdicts[i].verdict, 0);
        fprintf(f, "</td><td>%llu</td><td>%.2f %%</td></tr>\n",
                (unsigned long long)sc->verdicts[i].count,
                100.0 * (double)sc->verdicts[i].count / (double)(sc->n ? sc->n : 1));
    }
    fputs("</tbody>\n</table>\n", f);
    if (!sc->n_failed) {
        fputs("<p>No pseudo-experiment failed.</p>\n", f);
        return;
    }
    fprintf(f, "<h3>Failed pseudo-experiments (%zu, counted as not covering)</h3>\n",
            sc->n_failed);
    fputs("<table>\n<thead><tr><th>set</th><th>index</th><th>seed</th><th>true \xce\xbc</th>"
          "<th class=\"l\">verdict</th><th class=\"l\">detail</th></tr></thead>\n<tbody>\n", f);
    for (size_t i = 0; i < sc->n_failed && i < MAX_FAILED_ROWS; i++) {
        const hbx_score_pe *p = &run->pes[sc->failed[i]];
        fprintf(f, "<tr><td>%u</td><td>%u</td><td>", p->set, p->index);
        if (p->has_seed)
            fprintf(f, "%llu", (unsigned long long)p->seed);
        fprintf(f, "</td><td>%.4f</td><td class=\"l bad\">", p->mu_true);
        hbx_html_text(f, p->verdict, 0);
        fputs("</td><td class=\"l\"><code>", f);
        hbx_html_text(f, p->detail, 300);
        fputs("</code></td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
    if (sc->n_failed > MAX_FAILED_ROWS)
        fprintf(f, "<p class=\"muted\">\xe2\x80\xa6 and %zu more: scores.json lists them all.</p>\n",
                sc->n_failed - MAX_FAILED_ROWS);
}

/* run.json flattened into "a.b.c → value" rows. */
static void provenance_rows(FILE *f, json_t *j, char *key, size_t len, size_t cap)
{
    if (json_is_object(j) && json_object_size(j) > 0) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            int n = snprintf(key + len, cap - len, "%s%s", len ? "." : "", k);
            size_t nl = n < 0 ? len : len + (size_t)n >= cap ? cap - 1 : len + (size_t)n;
            provenance_rows(f, v, key, nl, cap);
            key[len] = '\0';
        }
        return;
    }
    fputs("<tr><td class=\"l\"><code>", f);
    hbx_html_text(f, key, 0);
    fputs("</code></td><td class=\"l\"><code>", f);
    if (json_is_string(j)) {
        hbx_html_text(f, json_string_value(j), 2000);
    } else {
        char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER |
                                    JSON_REAL_PRECISION(10));
        hbx_html_text(f, s ? s : "?", 4000);
        free(s);
    }
    fputs("</code></td></tr>\n", f);
}

/* ---- the page ------------------------------------------------------------ */

static void write_page(FILE *f, const hbx_rundir *run, const hbx_scores *sc)
{
    char title[512];
    snprintf(title, sizeof title, "higgsbox report \xe2\x80\x94 %s%s%s",
             run->plugin_name ? run->plugin_name : run->path, run->plugin_version ? " " : "",
             run->plugin_version ? run->plugin_version : "");
    hbx_html_begin(f, title);
    fputs("<h1>", f);
    hbx_html_text(f, title, 0);
    fputs("</h1>\n<p class=\"sub\">Run directory <code>", f);
    hbx_html_text(f, run->path, 0);
    fprintf(f, "</code> \xc2\xb7 %s format \xc2\xb7 %u sets \xc2\xb7 %llu pseudo-experiments</p>\n",
            run->format == HBX_RUNDIR_ORIGINAL ? "original challenge" : "higgsbox", sc->n_sets,
            (unsigned long long)sc->n);
    for (size_t i = 0; i < run->n_notes; i++) {
        fputs("<p class=\"note\">", f);
        hbx_html_text(f, run->notes[i], 0);
        fputs("</p>\n", f);
    }
    summary_cards(f, sc);
    fputs("<p class=\"muted\">Quantile score = \xe2\x88\x92ln((w + \xce\xb5)\xc2\xb7"
          "f(c)), \xce\xb5 = 0.001; higher is better (HIGGSML.md \xc2\xa7" "7, "
          "docs/SCORING.md).</p>\n", f);

    fputs("<h2 id=\"sets\">Sets</h2>\n", f);
    set_table(f, sc);

    fputs("<h2 id=\"vs-mu\">Coverage, width and score against the true \xce\xbc</h2>\n<div class=\"grid\" "
          "style=\"grid-template-columns:repeat(auto-fill,minmax(340px,1fr))\">\n", f);
    static const char *const what[3][3] = {
        {"Coverage vs \xce\xbc", "coverage", "Fraction of the set's PEs whose interval holds the true \xce\xbc."},
        {"Width vs \xce\xbc", "mean interval width", "Mean |p84 \xe2\x88\x92 p16| over the set's successful PEs."},
        {"Score vs \xce\xbc", "quantile score", "Quantile score of each set on its own."}};
    for (int k = 0; k < 3; k++) {
        fputs("<figure>\n", f);
        plot_vs_mu(f, sc, k, what[k][0], what[k][1]);
        fprintf(f, "<figcaption>%s</figcaption>\n</figure>\n", what[k][2]);
    }
    fputs("</div>\n", f);

    fputs("<h2 id=\"calibration\">Calibration</h2>\n<div class=\"grid\">\n<figure>\n", f);
    char caption[400];
    plot_pulls(f, run, caption, sizeof caption);
    fputs("<figcaption>", f);
    hbx_html_text(f, caption, 0);
    fputs("</figcaption>\n</figure>\n", f);
    if (sc->boot.replicates) {
        fputs("<figure>\n", f);
        plot_bootstrap(f, sc);
        fprintf(f, "<figcaption>%llu replicates, each %llu sets drawn with replacement "
                "(seed %llu): mean %.4f, standard deviation %.4f.</figcaption>\n</figure>\n",
                (unsigned long long)sc->boot.replicates,
                (unsigned long long)sc->boot.sample_size, (unsigned long long)sc->boot.seed,
                sc->boot.score_mean, sc->boot.score_std);
    }
    fputs("</div>\n", f);

    fputs("<h2 id=\"intervals\">Intervals per set</h2>\n<p class=\"muted\">Each horizontal bar is one "
          "pseudo-experiment's interval [p16, p84]; the green line is the true \xce\xbc, the "
          "dashed line the mean \xce\xbc\xcc\x82. Bars beyond the frame are cut at its "
          "edge.</p>\n<div class=\"grid\">\n", f);
    size_t at = 0;
    for (uint32_t s = 0; s < sc->n_sets; s++) {
        size_t first = at;
        while (at < run->n_pes && run->pes[at].set == s)
            at++;
        const hbx_set_score *st = &sc->sets[s];
        fputs("<figure>\n", f);
        plot_set_intervals(f, run, sc, s, first, at - first);
        fprintf(f, "<figcaption>N = %llu, coverage ", (unsigned long long)st->n);
        hbx_html_num(f, st->coverage, 3);
        fputs(", width ", f);
        hbx_html_num(f, st->n_ok ? st->width : NAN, 3);
        fputs(", score ", f);
        hbx_html_num(f, st->score, 3);
        fputs("</figcaption>\n</figure>\n", f);
    }
    fputs("</div>\n", f);

    fputs("<h2 id=\"verdicts\">Verdicts</h2>\n", f);
    verdict_tables(f, run, sc);

    fputs("<h2 id=\"provenance\">Provenance</h2>\n", f);
    if (run->provenance) {
        fprintf(f, "<p class=\"muted\">From <code>%s</code>.</p>\n",
                run->format == HBX_RUNDIR_ORIGINAL ? "test_settings.json" : "run.json");
        fputs("<table>\n<tbody>\n", f);
        char key[512] = "";
        provenance_rows(f, run->provenance, key, 0, sizeof key);
        fputs("</tbody>\n</table>\n", f);
    }
    hbx_html_end(f);
}

int hbx_report_write_html(const hbx_rundir *run, const hbx_scores *sc, const char *path,
                          char *err, size_t err_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return hbx_sc_err(err, err_len, "%s: out of memory", path);
    write_page(f, run, sc);
    if (fclose(f) != 0) {
        free(buf);
        return hbx_sc_err(err, err_len, "%s: out of memory", path);
    }
    int rc = hbx_sc_write_atomic(path, buf, len, err, err_len);
    free(buf);
    return rc;
}
