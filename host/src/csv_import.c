/*
 * CSV → dataset import (higgsbox import).
 *
 * Constant memory whatever the file size: the file is read in blocks, parsed
 * line by line into one chunk of events, and each chunk goes through the
 * dataset writer. Two passes: the first counts rows (the test split is the
 * first fraction of them, so the count must be known before the first row is
 * placed) and hashes the file for provenance; the second parses.
 *
 * Parsing is strict: every row must have exactly the header's fields, every
 * number must parse whole and be finite, every process must be known, and
 * labels must agree with processes. The first problem ends the import with
 * file:line:field, and the writer's temporary file is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "higgsbox/higgsbox.h"

#define N_DER (HBX_N_FEATURES - HBX_N_PRIMARY)

enum {
    BLOCK = 1 << 20,    /* bytes per read */
    MAX_LINE = 1 << 16, /* longest accepted line */
    MAX_FIELDS = 64     /* more fields than this in a header is surely wrong */
};

double hbx_der_tolerance(int feature, double official)
{
    if (feature == HBX_DER_MASS_TRANSVERSE_MET_LEP)
        return 1e-2;
    return 1e-4 * fmax(1.0, fabs(official));
}

/* Buffered line reader over a file descriptor. */
typedef struct lines {
    int fd;
    char *buf;      /* BLOCK + MAX_LINE bytes */
    size_t len;     /* bytes held */
    size_t pos;     /* start of the next line */
    int eof;
    uint64_t lineno; /* of the line last returned, 1-based */
} lines;

/* Returns the next line (without its newline or trailing \r), NUL-terminated
 * in place, or NULL at the end (*status 0) or on error (*status -1: read
 * error or line too long). */
static char *next_line(lines *l, size_t *out_len, int *status)
{
    *status = 0;
    for (;;) {
        char *start = l->buf + l->pos;
        char *nl = memchr(start, '\n', l->len - l->pos);
        if (nl || (l->eof && l->pos < l->len)) {
            char *end = nl ? nl : l->buf + l->len;
            l->pos = (size_t)(end - l->buf) + (nl ? 1 : 0);
            if (end > start && end[-1] == '\r')
                end--;
            *end = '\0';
            *out_len = (size_t)(end - start);
            l->lineno++;
            return start;
        }
        if (l->eof)
            return NULL;
        /* Keep the partial line, refill behind it. */
        memmove(l->buf, start, l->len - l->pos);
        l->len -= l->pos;
        l->pos = 0;
        if (l->len >= MAX_LINE) {
            l->lineno++;
            *status = -1;
            errno = EFBIG;
            return NULL;
        }
        ssize_t n;
        do
            n = read(l->fd, l->buf + l->len, BLOCK + MAX_LINE - 1 - l->len);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            *status = -1;
            return NULL;
        }
        if (n == 0)
            l->eof = 1;
        l->len += (size_t)n;
    }
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* Pass 1: rows (non-blank lines after the header) and sha256. */
static int count_and_hash(const char *path, uint64_t *rows, char hex[65], char *err,
                          size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        hbx_set_error(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char *buf = malloc(BLOCK);
    if (!buf) {
        close(fd);
        hbx_set_error(err, err_len, "%s: out of memory", path);
        return -1;
    }
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    uint64_t n_lines = 0;
    int content = 0; /* the current line has a character other than blank/CR */
    ssize_t n;
    for (;;) {
        do
            n = read(fd, buf, BLOCK);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            break;
        sha256_update(&ctx, (size_t)n, (const uint8_t *)buf);
        const char *p = buf, *end = buf + n;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *seg_end = nl ? nl : end;
            for (const char *q = p; !content && q < seg_end; q++)
                content = *q != ' ' && *q != '\t' && *q != '\r';
            if (!nl)
                break;
            n_lines += content;
            content = 0;
            p = nl + 1;
        }
    }
    int read_errno = errno;
    n_lines += content;
    free(buf);
    close(fd);
    if (n < 0) {
        hbx_set_error(err, err_len, "%s: read error: %s", path, strerror(read_errno));
        return -1;
    }
    if (n_lines == 0) {
        hbx_set_error(err, err_len, "%s:1: empty file, expected a header row", path);
        return -1;
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    *rows = n_lines - 1;
    return 0;
}

/* Import state of pass 2. */
typedef struct importer {
    const char *path;
    char *err;
    size_t err_len;
    lines in;
    int n_fields;
    int field_col[MAX_FIELDS]; /* column index of each header field */
    int col_field[HBX_N_COLUMNS]; /* field of each column, -1 if absent */
    hbx_table t;                 /* the current chunk */
    float *der_file[N_DER];      /* the file's DER values of the chunk */
    uint64_t chunk_line[HBX_DATASET_CHUNK]; /* source line of each chunk row */
    hbx_dataset_writer *w;
    hbx_import_report *rep;
} importer;

static int fail_at(importer *im, uint64_t line, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "path:line:field: <message>" (field 0: no field part). */
static int fail_at(importer *im, uint64_t line, int field, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field > 0)
        hbx_set_error(im->err, im->err_len, "%s:%llu:%d: %s", im->path,
                      (unsigned long long)line, field, msg);
    else
        hbx_set_error(im->err, im->err_len, "%s:%llu: %s", im->path, (unsigned long long)line,
                      msg);
    return -1;
}

/* Trims blanks and one pair of enclosing double quotes, in place. */
static char *trim(char *s, char **end)
{
    char *e = *end;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e - s >= 2 && *s == '"' && e[-1] == '"') {
        s++;
        e--;
    }
    *e = '\0';
    *end = e;
    return s;
}

/* Splits a line at commas, in place; returns the field count (up to max+1:
 * one more than max means "too many"). */
static int split_fields(char *line, size_t len, char **fields, char **ends, int max)
{
    int n = 0;
    char *p = line, *stop = line + len;
    for (;;) {
        char *comma = memchr(p, ',', (size_t)(stop - p));
        char *e = comma ? comma : stop;
        if (n < max) {
            ends[n] = e;
            fields[n] = trim(p, &ends[n]);
        }
        n++;
        if (!comma || n > max)
            break;
        p = comma + 1;
    }
    return n;
}

static int parse_header(importer *im)
{
    size_t len;
    int st;
    char *line;
    do
        line = next_line(&im->in, &len, &st);
    while (line && is_blank(line, len));
    if (!line)
        return fail_at(im, im->in.lineno ? im->in.lineno : 1, 0,
                       st ? "cannot read the header row" : "empty file, expected a header row");
    if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) { /* a UTF-8 byte order mark */
        line += 3;
        len -= 3;
    }
    char *fields[MAX_FIELDS], *ends[MAX_FIELDS];
    int n = split_fields(line, len, fields, ends, MAX_FIELDS);
    if (n > MAX_FIELDS)
        return fail_at(im, im->in.lineno, MAX_FIELDS + 1, "header has more than %d columns",
                       MAX_FIELDS);
    for (int c = 0; c < HBX_N_COLUMNS; c++)
        im->col_field[c] = -1;
    for (int f = 0; f < n; f++) {
        int c = hbx_column_index(fields[f]);
        if (c < 0)
            return fail_at(im, im->in.lineno, f + 1, "unknown column '%s'", fields[f]);
        if (im->col_field[c] >= 0)
            return fail_at(im, im->in.lineno, f + 1, "duplicate column '%s' (also field %d)",
                           fields[f], im->col_field[c] + 1);
        im->col_field[c] = f;
        im->field_col[f] = c;
    }
    im->n_fields = n;
    for (int c = 0; c < HBX_N_COLUMNS; c++) {
        int required = c < HBX_N_PRIMARY || c == HBX_COLUMN_WEIGHTS || c == HBX_COLUMN_PROCESS;
        if (required && im->col_field[c] < 0)
            return fail_at(im, im->in.lineno, 0, "missing column '%s'", hbx_column_name(c));
    }
    for (int k = 0; k < N_DER; k++)
        im->rep->der_columns += im->col_field[HBX_N_PRIMARY + k] >= 0;
    return 0;
}

static int parse_process(const char *s)
{
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        if (strcmp(s, hbx_process_name(p)) == 0)
            return p;
    return -1;
}

/* Parses one data row into slot `k` of the chunk. */
static int parse_row(importer *im, char *line, size_t len, uint64_t k)
{
    char *fields[MAX_FIELDS], *ends[MAX_FIELDS];
    uint64_t ln = im->in.lineno;
    int n = split_fields(line, len, fields, ends, im->n_fields);
    if (n < im->n_fields)
        return fail_at(im, ln, n + 1, "short row: %d fields, the header has %d", n,
                       im->n_fields);
    if (n > im->n_fields)
        return fail_at(im, ln, im->n_fields + 1, "long row: more than the header's %d fields",
                       im->n_fields);
    int label = -1;
    for (int f = 0; f < n; f++) {
        int c = im->field_col[f];
        const char *s = fields[f];
        char *end;
        if (c == HBX_COLUMN_PROCESS) {
            int p = parse_process(s);
            if (p < 0)
                return fail_at(im, ln, f + 1,
                               "detailed_labels: unknown process '%s' (expected %s, %s, %s or %s)",
                               s, hbx_process_name(0), hbx_process_name(1),
                               hbx_process_name(2), hbx_process_name(3));
            im->t.process[k] = (uint8_t)p;
            continue;
        }
        if (*s == '\0')
            return fail_at(im, ln, f + 1, "%s: empty value", hbx_column_name(c));
        errno = 0;
        if (c < HBX_N_FEATURES) {
            float v = strtof(s, &end);
            if (end != ends[f])
                return fail_at(im, ln, f + 1, "%s: '%s' is not a number", hbx_column_name(c), s);
            if (!isfinite(v))
                return fail_at(im, ln, f + 1, "%s: '%s' is not finite%s", hbx_column_name(c), s,
                               isnan(v) || isinf(strtod(s, NULL)) ? ""
                                                                  : " as a float32");
            if (c == HBX_PRI_N_JETS && (v < 0 || v != floorf(v)))
                return fail_at(im, ln, f + 1, "PRI_n_jets: '%s' is not a whole number >= 0", s);
            if (c < HBX_N_PRIMARY)
                im->t.features[c][k] = v;
            else
                im->der_file[c - HBX_N_PRIMARY][k] = v;
        } else {
            double v = strtod(s, &end);
            if (end != ends[f])
                return fail_at(im, ln, f + 1, "%s: '%s' is not a number", hbx_column_name(c), s);
            if (!isfinite(v))
                return fail_at(im, ln, f + 1, "%s: '%s' is not finite", hbx_column_name(c), s);
            if (c == HBX_COLUMN_WEIGHTS)
                im->t.weights[k] = v;
            else if (v != 0 && v != 1)
                return fail_at(im, ln, f + 1, "labels: '%s' is not 0 or 1", s);
            else
                label = (int)v;
        }
    }
    im->t.labels[k] = im->t.process[k] == HBX_HTAUTAU;
    if (label >= 0 && label != im->t.labels[k])
        return fail_at(im, ln, im->col_field[HBX_COLUMN_LABELS] + 1,
                       "labels: %d contradicts detailed_labels '%s'", label,
                       hbx_process_name(im->t.process[k]));
    im->chunk_line[k] = ln;
    return 0;
}

/* Computes DER for the chunk, compares with the file's, appends to `split`. */
static int flush_chunk(importer *im, hbx_split split)
{
    if (im->t.n == 0)
        return 0;
    hbx_derive_columns(im->t.features, im->t.n);
    hbx_import_report *r = im->rep;
    for (int k = 0; k < N_DER; k++) {
        if (im->col_field[HBX_N_PRIMARY + k] < 0)
            continue;
        const float *ours = im->t.features[HBX_N_PRIMARY + k], *theirs = im->der_file[k];
        for (uint64_t i = 0; i < im->t.n; i++) {
            double dev = fabs((double)ours[i] - (double)theirs[i]);
            if (dev > hbx_der_tolerance(HBX_N_PRIMARY + k, theirs[i])) {
                r->der_mismatch[k]++;
                if (dev > r->der_worst[k]) {
                    r->der_worst[k] = dev;
                    r->der_worst_line[k] = im->chunk_line[i];
                }
            }
        }
    }
    for (uint64_t i = 0; i < im->t.n; i++) {
        r->count[split][im->t.process[i]]++;
        r->file_sum_weights[im->t.process[i]] += im->t.weights[i];
    }
    char why[512];
    if (hbx_dataset_writer_append(im->w, split, &im->t, why, sizeof why) != 0) {
        hbx_set_error(im->err, im->err_len, "%s", why);
        return -1;
    }
    im->t.n = 0;
    return 0;
}

static char *provenance_json(const char *csv_path, const char *sha, uint64_t rows,
                             double test_fraction)
{
    const char *base = strrchr(csv_path, '/');
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:f, s:s}", "source", "csv", "file",
                          base ? base + 1 : csv_path, "sha256", sha, "rows", (json_int_t)rows,
                          "test_fraction", test_fraction, "higgsbox", hbx_version());
    /* The shortest digits that give back the fraction: 0.3, not 0.29999999999999999. */
    int digits = 1;
    for (char buf[40]; digits < 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, test_fraction);
        if (strtod(buf, NULL) == test_fraction)
            break;
    }
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(digits)) : NULL;
    json_decref(j);
    return text;
}

static int run_import(importer *im, uint64_t rows, uint64_t n_test)
{
    if (parse_header(im) != 0)
        return -1;
    uint64_t row = 0;
    hbx_split split = n_test > 0 ? HBX_SPLIT_TEST : HBX_SPLIT_TRAIN;
    for (;;) {
        size_t len;
        int st;
        char *line = next_line(&im->in, &len, &st);
        if (!line) {
            if (st)
                return fail_at(im, im->in.lineno, 0, "%s",
                               errno == EFBIG ? "line longer than 64 KiB" : strerror(errno));
            break;
        }
        if (is_blank(line, len))
            continue;
        if (row == rows)
            return fail_at(im, im->in.lineno, 0,
                           "more rows than the first pass counted: the file changed");
        if (parse_row(im, line, len, im->t.n) != 0)
            return -1;
        im->t.n++;
        row++;
        /* Flush at chunk size and at the test/train boundary. */
        if (im->t.n == HBX_DATASET_CHUNK || row == n_test) {
            if (flush_chunk(im, split) != 0)
                return -1;
            if (row == n_test)
                split = HBX_SPLIT_TRAIN;
        }
    }
    if (flush_chunk(im, split) != 0)
        return -1;
    if (row != rows)
        return fail_at(im, im->in.lineno, 0,
                       "fewer rows than the first pass counted: the file changed");
    return 0;
}

int hbx_csv_import(const char *csv_path, const char *h5_path, double test_fraction,
                   hbx_import_report *report, char *err, size_t err_len)
{
    hbx_import_report scratch;
    if (!report)
        report = &scratch;
    memset(report, 0, sizeof *report);
    if (!(test_fraction >= 0 && test_fraction <= 1)) {
        hbx_set_error(err, err_len, "test fraction %g is not within [0, 1]", test_fraction);
        return -1;
    }
    uint64_t rows;
    char sha[65];
    if (count_and_hash(csv_path, &rows, sha, err, err_len) != 0)
        return -1;
    uint64_t n_test = (uint64_t)floor(test_fraction * (double)rows + 0.5);
    if (n_test > rows)
        n_test = rows;
    report->rows = rows;

    importer *im = calloc(1, sizeof *im);
    if (im)
        im->in.fd = -1;
    char *prov = provenance_json(csv_path, sha, rows, test_fraction);
    int ok = im && prov && (im->in.buf = malloc(BLOCK + MAX_LINE)) != NULL &&
             hbx_table_alloc(&im->t, HBX_DATASET_CHUNK, HBX_TABLE_TRUTH) == HBX_OK;
    for (int k = 0; ok && k < N_DER; k++)
        ok = (im->der_file[k] = malloc(HBX_DATASET_CHUNK * sizeof(float))) != NULL;
    int rc = -1;
    if (!ok) {
        hbx_set_error(err, err_len, "%s: out of memory", csv_path);
        goto out;
    }
    im->path = csv_path;
    im->err = err;
    im->err_len = err_len;
    im->rep = report;
    im->in.fd = open(csv_path, O_RDONLY | O_CLOEXEC);
    if (im->in.fd < 0) {
        hbx_set_error(err, err_len, "%s: cannot open: %s", csv_path, strerror(errno));
        goto out;
    }
    posix_fadvise(im->in.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (!(im->w = hbx_dataset_writer_open(h5_path, prov, err, err_len)))
        goto out;
    if (run_import(im, rows, n_test) != 0) {
        hbx_dataset_writer_close(im->w, 0, NULL, 0);
        goto out;
    }
    /* Each split sums, per process, to the whole file's total. */
    double totals[HBX_N_PROCESSES], test_sum[HBX_N_PROCESSES];
    hbx_dataset_writer_sums(im->w, HBX_SPLIT_TRAIN, totals, NULL);
    hbx_dataset_writer_sums(im->w, HBX_SPLIT_TEST, test_sum, NULL);
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        totals[p] += test_sum[p];
    hbx_dataset_writer_set_totals(im->w, totals);
    rc = hbx_dataset_writer_close(im->w, 1, err, err_len);
out:
    if (im) {
        if (im->in.fd >= 0)
            close(im->in.fd);
        free(im->in.buf);
        hbx_table_free(&im->t);
        for (int k = 0; k < N_DER; k++)
            free(im->der_file[k]);
        free(im);
    }
    free(prov);
    return rc;
}
