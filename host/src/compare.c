/*
 * The leaderboard of several runs. Runs are comparable only over the same
 * data and settings (docs/RUNDIR.md, last paragraph); anything else is
 * refused, or with --allow-mixed shown in separate settings groups.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score_internal.h"

static const char *or_unknown(const char *s)
{
    return s ? s : "unknown";
}

int hbx_compare_settings_differ(const hbx_rundir *a, const hbx_rundir *b, char *why,
                                size_t why_len)
{
    /* The same events, whatever the file's bytes; runs from before
     * values_sha256 fall back to the file's hash. */
    if (a->data_values_sha256 && b->data_values_sha256) {
        if (strcmp(a->data_values_sha256, b->data_values_sha256) != 0) {
            hbx_sc_err(why, why_len, "data.values_sha256 differs (%.12s vs %.12s)",
                       a->data_values_sha256, b->data_values_sha256);
            return 1;
        }
    } else if ((a->data_sha256 == NULL) != (b->data_sha256 == NULL) ||
               (a->data_sha256 && strcmp(a->data_sha256, b->data_sha256) != 0)) {
        hbx_sc_err(why, why_len, "data.sha256 differs (%.12s vs %.12s)",
                   or_unknown(a->data_sha256), or_unknown(b->data_sha256));
        return 1;
    }
    if (a->settings_sets != b->settings_sets || a->n_sets != b->n_sets) {
        hbx_sc_err(why, why_len, "settings.sets differs (%llu vs %llu)",
                   (unsigned long long)a->settings_sets, (unsigned long long)b->settings_sets);
        return 1;
    }
    if (a->pe_per_set != b->pe_per_set) {
        hbx_sc_err(why, why_len, "settings.pseudo_experiments differs (%llu vs %llu)",
                   (unsigned long long)a->pe_per_set, (unsigned long long)b->pe_per_set);
        return 1;
    }
    for (uint32_t s = 0; s < a->n_sets; s++)
        if (a->mu[s] != b->mu[s]) {
            hbx_sc_err(why, why_len, "settings.mu differs (set %u: %.17g vs %.17g)", s,
                       a->mu[s], b->mu[s]);
            return 1;
        }
    if (a->has_systematics != b->has_systematics || a->systematics != b->systematics) {
        hbx_sc_err(why, why_len, "settings.systematics differs");
        return 1;
    }
    if (a->has_seed != b->has_seed || a->seed != b->seed) {
        char x[32] = "unknown", y[32] = "unknown";
        if (a->has_seed)
            snprintf(x, sizeof x, "%llu", (unsigned long long)a->seed);
        if (b->has_seed)
            snprintf(y, sizeof y, "%llu", (unsigned long long)b->seed);
        hbx_sc_err(why, why_len, "settings.seed differs (%s vs %s)", x, y);
        return 1;
    }
    return 0;
}

/* Best first; a NAN score (nothing to score) last; then by path, so the
 * order never depends on the order of the arguments. */
static int by_score(const void *pa, const void *pb)
{
    const hbx_compare_entry *a = pa, *b = pb;
    double x = a->scores->score, y = b->scores->score;
    int xn = isnan(x), yn = isnan(y);
    if (xn != yn)
        return xn - yn;
    if (!xn && x != y)
        return x > y ? -1 : 1;
    return strcmp(a->run->path, b->run->path);
}

int hbx_compare_rank(hbx_compare_entry *e, size_t n, int allow_mixed, int *mixed, char *err,
                     size_t err_len)
{
    *mixed = 0;
    /* Groups in argument order: group g's representative is the first run
     * that opened it. */
    size_t *rep = malloc((n ? n : 1) * sizeof *rep);
    if (!rep)
        return hbx_sc_err(err, err_len, "out of memory");
    unsigned groups = 0;
    for (size_t i = 0; i < n; i++) {
        char why[256];
        unsigned g = 0;
        while (g < groups &&
               hbx_compare_settings_differ(e[rep[g]].run, e[i].run, why, sizeof why))
            g++;
        if (g == groups) {
            if (groups > 0 && !allow_mixed) {
                hbx_compare_settings_differ(e[0].run, e[i].run, why, sizeof why);
                free(rep);
                return hbx_sc_err(err, err_len, "%s and %s are not comparable: %s (runs must "
                                  "share data and settings; --allow-mixed lists them anyway, "
                                  "flagged)", e[0].run->path, e[i].run->path, why);
            }
            rep[groups++] = i;
        }
        e[i].group = g;
    }
    free(rep);
    *mixed = groups > 1;
    qsort(e, n, sizeof *e, by_score);
    for (size_t i = 0; i < n; i++) {
        double s = e[i].scores->score;
        int same_prev = i > 0 && !isnan(s) && e[i - 1].scores->score == s;
        int same_next = i + 1 < n && !isnan(s) && e[i + 1].scores->score == s;
        e[i].rank = same_prev ? e[i - 1].rank : (unsigned)i + 1;
        e[i].tied = same_prev || same_next;
    }
    return 0;
}

static void plugin_label(char *buf, size_t cap, const hbx_rundir *r)
{
    char name[128], ver[64];
    hbx_sc_term_clean(name, sizeof name, r->plugin_name ? r->plugin_name : "unknown");
    hbx_sc_term_clean(ver, sizeof ver, r->plugin_version ? r->plugin_version : "");
    snprintf(buf, cap, "%s%s%s", name, ver[0] ? " " : "", ver);
}

/* Width of a UTF-8 string in terminal columns (one per character). */
static int cols(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void pad_print(FILE *out, const char *s, int width)
{
    fputs(s, out);
    for (int i = cols(s); i < width; i++)
        fputc(' ', out);
}

void hbx_compare_print(FILE *out, const hbx_compare_entry *e, size_t n, int mixed)
{
    char label[200], score[64], num[6][32];
    int wl = 6;
    for (size_t i = 0; i < n; i++) {
        plugin_label(label, sizeof label, e[i].run);
        wl = cols(label) > wl ? cols(label) : wl;
    }
    wl = wl > 40 ? 40 : wl;
    fprintf(out, "%-5s ", "rank");
    pad_print(out, "plugin", wl);
    fprintf(out, "  %-18s %8s %8s %8s %9s %9s%s  %s\n", "score", "coverage", "width", "RMSE",
            "failures", "time", mixed ? "  settings" : "", "run");
    for (size_t i = 0; i < n; i++) {
        const hbx_scores *s = e[i].scores;
        plugin_label(label, sizeof label, e[i].run);
        if (cols(label) > wl) { /* cut on a character boundary */
            int c = 0;
            char *p = label;
            for (; *p; p++)
                if ((((unsigned char)*p & 0xc0) != 0x80) && ++c > wl - 1)
                    break;
            strcpy(p, "\xe2\x80\xa6");
        }
        char rank[16];
        snprintf(rank, sizeof rank, "%u%s", e[i].rank, e[i].tied ? "=" : "");
        if (s->boot.replicates)
            snprintf(score, sizeof score, "%.4f \xc2\xb1 %.4f", s->score, s->boot.score_std);
        else
            snprintf(score, sizeof score, "%.4f", s->score);
        snprintf(num[0], sizeof num[0], "%.4f", s->coverage);
        snprintf(num[1], sizeof num[1], "%.4f", s->width);
        if (isnan(s->rmse))
            snprintf(num[2], sizeof num[2], "-");
        else
            snprintf(num[2], sizeof num[2], "%.4f", s->rmse);
        snprintf(num[3], sizeof num[3], "%zu/%llu", s->n_failed, (unsigned long long)s->n);
        if (isnan(e[i].run->total_s))
            snprintf(num[4], sizeof num[4], "-");
        else
            snprintf(num[4], sizeof num[4], "%.1f s", e[i].run->total_s);
        char path[300];
        hbx_sc_term_clean(path, sizeof path, e[i].run->path);
        fprintf(out, "%-5s ", rank);
        pad_print(out, label, wl);
        fputs("  ", out);
        pad_print(out, score, 18);
        fprintf(out, " %8s %8s %8s %9s %9s", num[0], num[1], num[2], num[3], num[4]);
        if (mixed)
            fprintf(out, "  %-8c", 'A' + (int)(e[i].group % 26));
        fprintf(out, "  %s\n", path);
    }
    if (mixed)
        fputs("\nwarning: these runs do not share data and settings (column 'settings'); "
              "scores from different groups are not comparable.\n", out);
}

/* ---- HTML -------------------------------------------------------------- */

static void settings_line(FILE *f, const hbx_rundir *r)
{
    fprintf(f, "%llu sets \xc3\x97 %llu PEs, seed ", (unsigned long long)r->settings_sets,
            (unsigned long long)r->pe_per_set);
    if (r->has_seed)
        fprintf(f, "%llu", (unsigned long long)r->seed);
    else
        fputs("unknown", f);
    fputs(", data <code>", f);
    const char *data = r->data_values_sha256 ? r->data_values_sha256 : r->data_sha256;
    hbx_html_text(f, data ? data : "unknown", 16);
    fputs("</code>, systematics: ", f);
    if (!r->has_systematics) {
        fputs("unknown", f);
        return;
    }
    int any = 0;
    for (int i = 0; i < HBX_SCORE_N_SYST; i++)
        if (r->systematics & (1u << i))
            fprintf(f, "%s%s", any++ ? ", " : "", hbx_score_syst_names[i]);
    if (!any)
        fputs("none", f);
}

static void score_chart(FILE *f, const hbx_compare_entry *e, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const hbx_scores *s = e[i].scores;
        double err = s->boot.replicates && isfinite(s->boot.score_std) ? s->boot.score_std : 0;
        if (isfinite(s->score))
            lo = fmin(lo, s->score - err), hi = fmax(hi, s->score + err);
    }
    if (!isfinite(lo))
        lo = 0, hi = 1;
    hbx_svg_pad(&lo, &hi, 0.08);
    double height = 110 + 30.0 * (double)(n ? n : 1);
    hbx_svg p;
    /* Rows at y = 1..n, so the y ticks read as positions in the table. */
    hbx_svg_begin(&p, f, 900, height, lo, hi, 0.3, (double)(n ? n : 1) + 0.5, 1,
                  "Quantile score \xc2\xb1 bootstrap standard deviation", "quantile score",
                  "position");
    hbx_svg_legend(&p, "dot", "#2f6fdf", "score");
    hbx_svg_legend(&p, "line", "#5f6775", "\xc2\xb1 1 std");
    for (size_t i = 0; i < n; i++) {
        const hbx_scores *s = e[i].scores;
        if (!isfinite(s->score))
            continue;
        double y = hbx_svg_y(&p, (double)i + 1);
        if (s->boot.replicates && isfinite(s->boot.score_std))
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#5f6775\" "
                    "stroke-width=\"2\"/>", hbx_svg_x(&p, s->score - s->boot.score_std), y,
                    hbx_svg_x(&p, s->score + s->boot.score_std), y);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#2f6fdf\"/>",
                hbx_svg_x(&p, s->score), y);
        double x = hbx_svg_x(&p, s->score);
        int right = x > p.left + 0.7 * p.w; /* keep the label inside the frame */
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", right ? x - 9 : x + 9,
                y - 7, right ? "end" : "start");
        hbx_html_text(f, e[i].run->plugin_name ? e[i].run->plugin_name : e[i].run->path, 60);
        fputs("</text>\n", f);
    }
    hbx_svg_end(&p);
}

static void write_page(FILE *f, const hbx_compare_entry *e, size_t n, int mixed)
{
    hbx_html_begin(f, "higgsbox leaderboard");
    fprintf(f, "<h1>Leaderboard</h1>\n<p class=\"sub\">%zu runs, ranked by quantile score "
            "(higher is better).</p>\n", n);
    if (mixed)
        fputs("<p class=\"note\"><strong>Mixed settings.</strong> These runs do not share "
              "data and settings (docs/RUNDIR.md): scores from different groups (column "
              "\xe2\x80\x9csettings\xe2\x80\x9d) are not comparable.</p>\n", f);
    fputs("<table>\n<thead><tr><th>rank</th><th class=\"l\">plugin</th><th>score</th>"
          "<th>\xc2\xb1 error</th><th>coverage</th><th>width</th><th>RMSE</th><th>MAE</th>"
          "<th>failures</th><th>total time</th>", f);
    if (mixed)
        fputs("<th>settings</th>", f);
    fputs("<th class=\"l\">run</th></tr></thead>\n<tbody>\n", f);
    for (size_t i = 0; i < n; i++) {
        const hbx_scores *s = e[i].scores;
        const hbx_rundir *r = e[i].run;
        fprintf(f, "<tr><td>%u%s</td><td class=\"l\">", e[i].rank, e[i].tied ? "=" : "");
        hbx_html_text(f, r->plugin_name ? r->plugin_name : "unknown", 120);
        if (r->plugin_version) {
            fputs(" <span class=\"muted\">", f);
            hbx_html_text(f, r->plugin_version, 40);
            fputs("</span>", f);
        }
        fputs("</td><td><strong>", f);
        hbx_html_num(f, s->score, 4);
        fputs("</strong></td><td>", f);
        hbx_html_num(f, s->boot.replicates ? s->boot.score_std : NAN, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, s->coverage, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, s->width, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, s->rmse, 4);
        fputs("</td><td>", f);
        hbx_html_num(f, s->mae, 4);
        fprintf(f, "</td><td%s>%zu / %llu</td><td>", s->n_failed ? " class=\"bad\"" : "",
                s->n_failed, (unsigned long long)s->n);
        if (!isnan(r->total_s))
            fprintf(f, "%.1f s", r->total_s);
        else
            hbx_html_num(f, NAN, 0);
        fputs("</td>", f);
        if (mixed)
            fprintf(f, "<td>%c</td>", 'A' + (int)(e[i].group % 26));
        fputs("<td class=\"l\"><code>", f);
        hbx_html_text(f, r->path, 200);
        fputs("</code></td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
    fputs("<p class=\"muted\">Error: standard deviation of the score over the bootstrap "
          "replicates (sets resampled with replacement). Equal scores share a rank "
          "(\xe2\x80\x9c=\xe2\x80\x9d).</p>\n", f);
    fputs("<figure>\n", f);
    score_chart(f, e, n);
    fputs("</figure>\n<h2>Settings</h2>\n<ul>\n", f);
    for (size_t i = 0; i < n; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++)
            first &= e[j].group != e[i].group;
        if (!first)
            continue;
        fputs("<li>", f);
        if (mixed)
            fprintf(f, "<strong>%c</strong>: ", 'A' + (int)(e[i].group % 26));
        settings_line(f, e[i].run);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
    hbx_html_end(f);
}

int hbx_compare_write_html(const char *path, const hbx_compare_entry *e, size_t n, int mixed,
                           char *err, size_t err_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return hbx_sc_err(err, err_len, "%s: out of memory", path);
    write_page(f, e, n, mixed);
    if (fclose(f) != 0) {
        free(buf);
        return hbx_sc_err(err, err_len, "%s: out of memory", path);
    }
    int rc = hbx_sc_write_atomic(path, buf, len, err, err_len);
    free(buf);
    return rc;
}
