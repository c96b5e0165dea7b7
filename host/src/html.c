/*
 * Writing the HTML of reports: safe text, the page frame and its stylesheet.
 * Pages are XHTML-compatible (well-formed XML) so they can be validated with
 * an XML parser, and self-contained (no network, no script).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "score_internal.h"

/* Decodes one UTF-8 character at s; returns its length, or 0 when the bytes
 * are not a valid, shortest-form encoding of a scalar value. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, c = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, c = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* The characters XML 1.0 allows in a document. */
static int xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
           (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

void hbx_html_text(FILE *f, const char *str, size_t max_bytes)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t used = 0;
    while (*s) {
        if (max_bytes && used >= max_bytes) {
            fputs("\xe2\x80\xa6", f); /* … */
            return;
        }
        uint32_t cp;
        size_t len = utf8_next(s, &cp);
        if (len == 0 || !xml_char(cp) || (cp >= 0x7f && cp <= 0x9f)) {
            fputs("\xef\xbf\xbd", f); /* U+FFFD */
            s += len ? len : 1;
            used += len ? len : 1;
            continue;
        }
        switch (cp) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fwrite(s, 1, len, f);
        }
        s += len;
        used += len;
    }
}

void hbx_html_num(FILE *f, double v, int digits)
{
    if (isnan(v))
        fputs("\xe2\x80\x94", f); /* — */
    else
        fprintf(f, "%.*f", digits, v);
}

static const char css[] =
    ":root{--fg:#1d2330;--muted:#5f6775;--panel:#f5f7fa;--line:#e2e6ec;--accent:#2f6fdf;"
    "--bad:#d23f31;--good:#1e9e5a;--warn:#d98a06}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;color:var(--fg);background:#fff;line-height:1.5;"
    "font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
    "'Noto Sans','Liberation Sans',sans-serif}\n"
    "main{max-width:1180px;margin:0 auto;padding:28px 28px 64px}\n"
    "h1{font-size:1.75rem;margin:0 0 2px;letter-spacing:-.01em}\n"
    "h2{font-size:1.2rem;margin:40px 0 14px;padding-bottom:6px;border-bottom:2px solid var(--line)}\n"
    "h3{font-size:1rem;margin:22px 0 8px}\n"
    "p{margin:6px 0}\n"
    ".sub{color:var(--muted);margin:0 0 18px}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));gap:12px;"
    "margin:18px 0 8px}\n"
    ".card{background:var(--panel);border:1px solid var(--line);border-radius:10px;"
    "padding:12px 16px}\n"
    ".card .k{font-size:.74rem;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}\n"
    ".card .v{font-size:1.5rem;font-weight:650;font-variant-numeric:tabular-nums}\n"
    ".card .d{font-size:.82rem;color:var(--muted)}\n"
    ".card.main{background:#eef4ff;border-color:#c9dafb}\n"
    ".card.fail{background:#fff2f0;border-color:#f2c4bf}\n"
    "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;"
    "font-size:.9rem;margin:6px 0 10px}\n"
    "th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:right;"
    "vertical-align:top}\n"
    "th{background:var(--panel);font-weight:600;white-space:nowrap}\n"
    ".l{text-align:left}\n"
    "table.narrow{width:auto;min-width:360px}\n"
    "tbody tr:nth-child(even) td{background:#fafbfd}\n"
    "tr.total td{font-weight:650;border-top:2px solid var(--line)}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}\n"
    "figure{margin:0;border:1px solid var(--line);border-radius:10px;padding:8px 8px 4px;"
    "background:#fff}\n"
    "figcaption{font-size:.84rem;color:var(--muted);padding:2px 8px 6px}\n"
    "svg{display:block;width:100%;height:auto}\n"
    "svg text{font-family:inherit;font-size:12px;fill:#1d2330}\n"
    "svg .title{font-size:14px;font-weight:600}\n"
    "svg .tick{font-size:11px;fill:#5f6775}\n"
    "svg .grid{stroke:#e8ebf0;stroke-width:1}\n"
    "svg .frame{fill:none;stroke:#9aa3b0;stroke-width:1}\n"
    "svg .legend{font-size:11px;fill:#3b4250}\n"
    "code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',"
    "monospace;font-size:.84em;overflow-wrap:anywhere}\n"
    ".bad{color:var(--bad);font-weight:600}\n"
    ".ok{color:var(--good);font-weight:600}\n"
    ".note{background:#fff8e6;border:1px solid #f3d98b;border-radius:8px;padding:8px 12px;"
    "margin:10px 0}\n"
    ".muted{color:var(--muted)}\n"
    "footer{margin-top:48px;color:var(--muted);font-size:.8rem}\n";

void hbx_html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
          "<head>\n<meta charset=\"utf-8\"/>\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>",
          f);
    hbx_html_text(f, title, 0);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", css);
}

void hbx_html_end(FILE *f)
{
    fprintf(f, "<footer>Generated by higgsbox %s.</footer>\n</main>\n</body>\n</html>\n",
            HBX_VERSION);
}
