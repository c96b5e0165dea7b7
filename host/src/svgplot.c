/*
 * Minimal SVG plotting for the reports: a framed plot area with grid, ticks,
 * tick labels, axis labels, title and a legend row. Drawing inside the area
 * is left to the caller, through hbx_svg_x/hbx_svg_y.
 */
#include <math.h>
#include <string.h>

#include "score_internal.h"

#define MARGIN_LEFT 64.0
#define MARGIN_RIGHT 18.0
#define MARGIN_TOP 52.0 /* title, then the legend row */
#define MARGIN_BOTTOM 46.0

/* The step of about `target` ticks over `span`: 1, 2 or 5 times a power of
 * ten, as people read axes. */
static double nice_step(double span, int target)
{
    double raw = span / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static int step_decimals(double step)
{
    int d = (int)-floor(log10(step) + 1e-9);
    return d < 0 ? 0 : d > 9 ? 9 : d;
}

void hbx_svg_pad(double *lo, double *hi, double frac)
{
    if (!(*hi > *lo)) {
        double c = isfinite(*lo) ? *lo : 0;
        double h = fabs(c) > 0 ? fabs(c) * 0.1 : 0.5;
        *lo = c - h;
        *hi = c + h;
        return;
    }
    double span = *hi - *lo;
    *lo -= span * frac;
    *hi += span * frac;
}

double hbx_svg_x(const hbx_svg *p, double x)
{
    double t = (x - p->x0) / (p->x1 - p->x0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return p->left + t * p->w;
}

double hbx_svg_y(const hbx_svg *p, double y)
{
    double t = (y - p->y0) / (p->y1 - p->y0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return p->y_down ? p->top + t * p->h : p->top + (1 - t) * p->h;
}

static void tick_label(FILE *f, double v, int decimals)
{
    if (fabs(v) < 1e-12)
        v = 0; /* no "-0.0" */
    if (fabs(v) >= 1e6 || (fabs(v) > 0 && fabs(v) < 1e-4))
        fprintf(f, "%.3g", v);
    else
        fprintf(f, "%.*f", decimals, v);
}

void hbx_svg_begin(hbx_svg *p, FILE *f, double width, double height, double x0, double x1,
                   double y0, double y1, int y_down, const char *title, const char *xlabel,
                   const char *ylabel)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    hbx_svg_pad(&x0, &x1, 0);
    hbx_svg_pad(&y0, &y1, 0);
    p->x0 = x0, p->x1 = x1, p->y0 = y0, p->y1 = y1;
    p->y_down = y_down;
    p->width = width, p->height = height;
    p->left = MARGIN_LEFT, p->top = MARGIN_TOP;
    p->w = width - MARGIN_LEFT - MARGIN_RIGHT;
    p->h = height - MARGIN_TOP - MARGIN_BOTTOM;
    p->legend_x = p->left;

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
            width, height, width, height);
    hbx_html_text(f, title, 0);
    fputs("\">\n<title>", f);
    hbx_html_text(f, title, 0);
    fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", width,
            height);
    fprintf(f, "<text class=\"title\" x=\"%.1f\" y=\"20\">", p->left);
    hbx_html_text(f, title, 0);
    fputs("</text>\n", f);

    /* Grid and tick labels. */
    double sx = nice_step(x1 - x0, (int)fmax(2, p->w / 90));
    double sy = nice_step(y1 - y0, (int)fmax(2, p->h / 55));
    if (y_down && sy < 1)
        sy = 1; /* PE indices are whole numbers */
    int dx = step_decimals(sx), dy = step_decimals(sy);
    fputs("<g>\n", f);
    double kx = ceil(x0 / sx - 1e-9), ky = ceil(y0 / sy - 1e-9);
    /* Counted loops: with a span tiny against the values, v += step could
     * stand still. */
    for (int i = 0; i < 60 && isfinite(sx); i++) {
        double v = (kx + i) * sx;
        if (v > x1 + sx * 1e-9)
            break;
        double px = hbx_svg_x(p, v);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                px, p->top, px, p->top + p->h);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px,
                p->top + p->h + 16);
        tick_label(f, v, dx);
        fputs("</text>\n", f);
    }
    for (int i = 0; i < 60 && isfinite(sy); i++) {
        double v = (ky + i) * sy;
        if (v > y1 + sy * 1e-9)
            break;
        double py = hbx_svg_y(p, v);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                p->left, py, p->left + p->w, py);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                p->left - 6, py + 4);
        tick_label(f, v, dy);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
    fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            p->left, p->top, p->w, p->h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", p->left + p->w / 2,
            height - 8);
    hbx_html_text(f, xlabel, 0);
    fprintf(f, "</text>\n<text x=\"0\" y=\"0\" text-anchor=\"middle\" "
            "transform=\"translate(16 %.1f) rotate(-90)\">", p->top + p->h / 2);
    hbx_html_text(f, ylabel, 0);
    fputs("</text>\n", f);
}

void hbx_svg_end(hbx_svg *p)
{
    fputs("</svg>\n", p->f);
}

/* Characters (not bytes) of a UTF-8 string, to estimate its width. */
static size_t text_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

void hbx_svg_legend(hbx_svg *p, const char *style, const char *color, const char *label)
{
    FILE *f = p->f;
    double x = p->legend_x, y = 38;
    if (strcmp(style, "box") == 0)
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"9\" fill=\"%s\" "
                "fill-opacity=\"0.35\" stroke=\"%s\"/>", x, y - 4.5, color, color);
    else if (strcmp(style, "dot") == 0)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", x + 7, y, color);
    else
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2.5\"%s/>", x, y, x + 16, y, color,
                strcmp(style, "dash") == 0 ? " stroke-dasharray=\"5 3\"" : "");
    fprintf(f, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">", x + 21, y + 4);
    hbx_html_text(f, label, 0);
    fputs("</text>\n", f);
    p->legend_x = x + 21 + 6.3 * (double)text_chars(label) + 16;
}

void hbx_svg_message(hbx_svg *p, const char *text)
{
    fprintf(p->f, "<text style=\"fill:#5f6775\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
            p->left + p->w / 2, p->top + p->h / 2);
    hbx_html_text(p->f, text, 0);
    fputs("</text>\n", p->f);
}
