/* Pieces shared by scoring, the report and the leaderboard (not installed). */
#ifndef HBX_SCORE_INTERNAL_H
#define HBX_SCORE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "higgsbox/score.h"

/* Formats a one-line message into err; returns −1 so callers can
 * `return hbx_sc_err(...)`. */
int hbx_sc_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes `len` bytes to `path` through a temporary file in the same
 * directory renamed into place, so readers never see half a file.
 * 0, or −1 with err naming `path`. */
int hbx_sc_write_atomic(const char *path, const char *data, size_t len, char *err,
                        size_t err_len);

/* Copies untrusted `src` into dst (always NUL-terminated) with control
 * characters (escape sequences!) replaced by '?', cut to `cap` − 1 bytes on
 * a character boundary. For terminal output. */
void hbx_sc_term_clean(char *dst, size_t cap, const char *src);

/* ---- HTML ---------------------------------------------------------------- */

/* Writes `s` as XML character data / attribute value: markup characters as
 * entities, invalid UTF-8 and characters XML 1.0 forbids as U+FFFD. At most
 * `max_bytes` source bytes (then "…"); 0 means no limit. */
void hbx_html_text(FILE *f, const char *s, size_t max_bytes);

/* Document start (doctype, head with the shared stylesheet, <body>) and end.
 * The title is escaped. */
void hbx_html_begin(FILE *f, const char *title);
void hbx_html_end(FILE *f);

/* Formats a number for tables: `digits` decimals, "—" for NAN. */
void hbx_html_num(FILE *f, double v, int digits);

/* ---- SVG plots -------------------------------------------------------------- */

/* A plot frame: data ranges mapped onto the plot area of a fixed-size SVG. */
typedef struct hbx_svg {
    FILE *f;
    double x0, x1, y0, y1;     /* data range */
    int y_down;                /* y grows downwards (PE indices) */
    double left, top, w, h;    /* plot area, px */
    double width, height;      /* whole picture, px */
    double legend_x;           /* where the next legend entry goes */
} hbx_svg;

/* Opens an <svg> of width × height px with title, axis labels, grid, ticks
 * and tick labels for the data ranges [x0, x1] × [y0, y1] (y_down: the
 * y axis grows downwards, for PE indices). Labels are escaped. */
void hbx_svg_begin(hbx_svg *p, FILE *f, double width, double height, double x0, double x1,
                   double y0, double y1, int y_down, const char *title, const char *xlabel,
                   const char *ylabel);
void hbx_svg_end(hbx_svg *p);

/* Data → px, clamped to the plot area. */
double hbx_svg_x(const hbx_svg *p, double x);
double hbx_svg_y(const hbx_svg *p, double y);

/* Appends an entry to the legend row under the title: a swatch drawn with
 * `style` ("line", "dash", "dot", "box") in `color`, then the label. */
void hbx_svg_legend(hbx_svg *p, const char *style, const char *color, const char *label);

/* A message centred in the plot area (e.g. "no data"). */
void hbx_svg_message(hbx_svg *p, const char *text);

/* "Nice" range padding: widens [lo, hi] by `frac` of its span (a unit span
 * around a single value), so points do not sit on the frame. */
void hbx_svg_pad(double *lo, double *hi, double frac);

#endif
