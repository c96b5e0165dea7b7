/*
 * Reading run directories for scoring: ours (run.json + pes.jsonl,
 * docs/RUNDIR.md) and the original challenge's (result_<s>.json +
 * test_settings.json, HIGGSML.md §8). Everything read is checked; the first
 * problem ends the load with one line naming the file.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "higgsbox/run.h"
#include "score_internal.h"

const char *const hbx_score_syst_names[HBX_SCORE_N_SYST] = {
    "tes", "jes", "soft_met", "ttbar_scale", "diboson_scale", "bkg_scale"};

/* A run beyond this many PEs is not one higgsbox wrote (the final phase of
 * the challenge had 10,000). */
#define MAX_PES 10000000ull
#define MAX_SETS 1000000u

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static int exists(const char *dir, const char *name)
{
    char *p = join(dir, name);
    struct stat st;
    int r = p && stat(p, &st) == 0;
    free(p);
    return r;
}

/* The whole file as one JSON value; NULL with "path:line:col: reason". */
static json_t *load_json(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        hbx_sc_err(err, err_len, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    int rerr = ferror(f);
    fclose(f);
    if (!j) {
        if (rerr)
            hbx_sc_err(err, err_len, "%s: read error", path);
        else
            hbx_sc_err(err, err_len, "%s:%d:%d: malformed JSON: %s", path, je.line, je.column,
                       je.text);
    }
    return j;
}

static int add_note(hbx_rundir *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_note(hbx_rundir *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **n = realloc(r->notes, (r->n_notes + 1) * sizeof *n);
    if (!n)
        return -1;
    r->notes = n;
    if (!(n[r->n_notes] = strdup(buf)))
        return -1;
    r->n_notes++;
    return 0;
}

static char *dup_or_null(json_t *s)
{
    return json_is_string(s) ? strdup(json_string_value(s)) : NULL;
}

/* A whole number in [0, max] (an integer, or a real with an integral value,
 * as some writers print counts). */
static int get_count(json_t *v, uint64_t max, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max)
            return -1;
        *out = (uint64_t)i;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d <= (double)max && d == floor(d)))
            return -1;
        *out = (uint64_t)d;
        return 0;
    }
    return -1;
}

static int get_finite(json_t *v, double *out)
{
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (!isfinite(d))
        return -1;
    *out = d;
    return 0;
}

/* systematics: {"tes": bool, ...}; unknown keys are refused so a typo
 * cannot make two runs look alike. */
static int read_systematics(json_t *o, unsigned *mask, const char *path, char *err,
                            size_t err_len)
{
    if (!json_is_object(o))
        return hbx_sc_err(err, err_len, "%s: \"systematics\" is not an object", path);
    const char *key;
    json_t *v;
    *mask = 0;
    json_object_foreach(o, key, v)
    {
        int i = 0;
        while (i < HBX_SCORE_N_SYST && strcmp(key, hbx_score_syst_names[i]) != 0)
            i++;
        if (i == HBX_SCORE_N_SYST)
            return hbx_sc_err(err, err_len, "%s: unknown systematic \"%s\"", path, key);
        if (!json_is_boolean(v))
            return hbx_sc_err(err, err_len, "%s: systematics.%s is not true/false", path, key);
        if (json_is_true(v))
            *mask |= 1u << i;
    }
    return 0;
}

static int read_mu_list(json_t *a, size_t want, double **out, const char *path,
                        const char *key, char *err, size_t err_len)
{
    if (!json_is_array(a) || json_array_size(a) == 0)
        return hbx_sc_err(err, err_len, "%s: \"%s\" is not a non-empty array", path, key);
    size_t n = json_array_size(a);
    if (want && n != want)
        return hbx_sc_err(err, err_len, "%s: \"%s\" has %zu values, the settings say %zu sets",
                          path, key, n, want);
    if (n > MAX_SETS)
        return hbx_sc_err(err, err_len, "%s: \"%s\" has %zu values, too many", path, key, n);
    double *mu = malloc(n * sizeof *mu);
    if (!mu)
        return hbx_sc_err(err, err_len, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++)
        if (get_finite(json_array_get(a, i), &mu[i]) != 0) {
            free(mu);
            return hbx_sc_err(err, err_len, "%s: %s[%zu] is not a finite number", path, key, i);
        }
    *out = mu;
    return 0;
}

static void pe_blank(hbx_score_pe *p)
{
    memset(p, 0, sizeof *p);
    p->mu_hat = p->delta_mu_hat = p->p16 = p->p84 = NAN;
    p->wall_s = NAN;
}

/* ---- ours ------------------------------------------------------------------ */

static int read_run_json(hbx_rundir *r, char *err, size_t err_len)
{
    char *path = join(r->path, "run.json");
    if (!path)
        return hbx_sc_err(err, err_len, "out of memory");
    json_t *j = load_json(path, err, err_len);
    int rc = -1;
    if (!j)
        goto out;
    r->provenance = j;
    if (!json_is_object(j)) {
        hbx_sc_err(err, err_len, "%s: not a JSON object", path);
        goto out;
    }
    json_t *fmt = json_object_get(j, "format"), *ver = json_object_get(j, "version");
    if (fmt && !(json_is_string(fmt) && strcmp(json_string_value(fmt), "higgsbox-run") == 0)) {
        hbx_sc_err(err, err_len, "%s: \"format\" is not \"higgsbox-run\"", path);
        goto out;
    }
    if (ver && !(json_is_integer(ver) && json_integer_value(ver) == 1)) {
        hbx_sc_err(err, err_len, "%s: unsupported run.json version (this host reads 1)", path);
        goto out;
    }
    json_t *s = json_object_get(j, "settings");
    if (!json_is_object(s)) {
        hbx_sc_err(err, err_len, "%s: no \"settings\" object", path);
        goto out;
    }
    uint64_t sets, per;
    if (get_count(json_object_get(s, "sets"), MAX_SETS, &sets) != 0 || sets == 0) {
        hbx_sc_err(err, err_len, "%s: settings.sets is not a positive whole number", path);
        goto out;
    }
    if (get_count(json_object_get(s, "pseudo_experiments"), MAX_PES, &per) != 0 || per == 0 ||
        sets * per > MAX_PES) {
        hbx_sc_err(err, err_len, "%s: settings.pseudo_experiments is not a positive whole "
                   "number (at most %llu PEs in all)", path, MAX_PES);
        goto out;
    }
    r->n_sets = (uint32_t)sets;
    r->settings_sets = sets;
    r->pe_per_set = per;
    if (read_mu_list(json_object_get(s, "mu"), sets, &r->mu, path, "settings.mu", err,
                     err_len) != 0)
        goto out;
    json_t *seed = json_object_get(s, "seed");
    if (seed) {
        if (get_count(seed, UINT64_MAX >> 1, &r->seed) != 0) {
            hbx_sc_err(err, err_len, "%s: settings.seed is not a whole number", path);
            goto out;
        }
        r->has_seed = 1;
    }
    json_t *syst = json_object_get(s, "systematics");
    if (syst) {
        if (read_systematics(syst, &r->systematics, path, err, err_len) != 0)
            goto out;
        r->has_systematics = 1;
    }
    json_t *shard = json_object_get(s, "shard");
    r->shard_k = 0;
    r->shard_n = 1;
    if (shard) {
        uint64_t k, n;
        if (!json_is_array(shard) || json_array_size(shard) != 2 ||
            get_count(json_array_get(shard, 0), UINT32_MAX, &k) != 0 ||
            get_count(json_array_get(shard, 1), UINT32_MAX, &n) != 0 || n == 0 || k >= n) {
            hbx_sc_err(err, err_len, "%s: settings.shard is not [K, N] with 0 <= K < N", path);
            goto out;
        }
        r->shard_k = (uint32_t)k;
        r->shard_n = (uint32_t)n;
    }
    json_t *plugin = json_object_get(j, "plugin"), *data = json_object_get(j, "data");
    r->plugin_name = dup_or_null(json_object_get(plugin, "name"));
    r->plugin_version = dup_or_null(json_object_get(plugin, "version"));
    r->data_sha256 = dup_or_null(json_object_get(data, "sha256"));
    r->data_values_sha256 = dup_or_null(json_object_get(data, "values_sha256"));
    double t;
    if (get_finite(json_object_get(json_object_get(j, "timing"), "total_s"), &t) == 0)
        r->total_s = r->ingestion_duration = t;
    double pool_w;
    if (get_finite(json_object_get(data, "pool_background_weight"), &pool_w) == 0 &&
        pool_w > HBX_POOL_WEIGHT_NOTE &&
        add_note(r, "the PE pool's background events weigh %.3g on average: the pool's own "
                 "fluctuation, shared by every PE, adds about %.0f%% to a PE's Poisson "
                 "variance and biases coverage low for any method; use a larger test pool "
                 "(docs/ANALYSIS.md)", pool_w, 100.0 * pool_w) != 0) {
        hbx_sc_err(err, err_len, "out of memory");
        goto out;
    }
    json_t *complete = json_object_get(j, "complete");
    r->complete = json_is_boolean(complete) ? json_is_true(complete) : -1;
    if (r->complete == 0 && add_note(r, "run.json says the run is not complete") != 0) {
        hbx_sc_err(err, err_len, "out of memory");
        goto out;
    }
    rc = 0;
out:
    free(path);
    return rc;
}

/* One line of pes.jsonl into *p; −1 with "path:line:col: reason". */
static int parse_pe_line(const hbx_rundir *r, const char *path, long lineno, const char *line,
                         size_t len, hbx_score_pe *p, char *err, size_t err_len)
{
    json_error_t je;
    pe_blank(p);
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return hbx_sc_err(err, err_len, "%s:%ld:%d: malformed JSON: %s", path, lineno,
                          je.column, je.text);
    int rc = -1;
    const char *bad = NULL;
    uint64_t set, index, seed;
    if (!json_is_object(o)) {
        bad = "not a JSON object";
        goto out;
    }
    if (get_count(json_object_get(o, "set"), UINT32_MAX, &set) != 0) {
        bad = "\"set\" is not a whole number";
        goto out;
    }
    if (get_count(json_object_get(o, "index"), UINT32_MAX, &index) != 0) {
        bad = "\"index\" is not a whole number";
        goto out;
    }
    if (set >= r->n_sets || index >= r->pe_per_set) {
        rc = hbx_sc_err(err, err_len,
                        "%s:%ld: PE (set %llu, index %llu) is outside the run (%u sets of "
                        "%llu PEs)",
                        path, lineno, (unsigned long long)set, (unsigned long long)index,
                        r->n_sets, (unsigned long long)r->pe_per_set);
        goto out;
    }
    p->set = (uint32_t)set;
    p->index = (uint32_t)index;
    json_t *js = json_object_get(o, "seed");
    if (js) {
        if (get_count(js, UINT64_MAX >> 1, &seed) != 0) {
            bad = "\"seed\" is not a whole number";
            goto out;
        }
        p->seed = seed;
        p->has_seed = 1;
    }
    if (get_finite(json_object_get(o, "mu_true"), &p->mu_true) != 0) {
        bad = "\"mu_true\" is not a finite number";
        goto out;
    }
    double want = r->mu[set];
    if (fabs(p->mu_true - want) > 1e-9 * fmax(1.0, fabs(want))) {
        rc = hbx_sc_err(err, err_len, "%s:%ld: mu_true %.17g differs from settings.mu[%llu] = "
                        "%.17g in run.json", path, lineno, p->mu_true,
                        (unsigned long long)set, want);
        goto out;
    }
    json_t *v = json_object_get(o, "verdict");
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= sizeof p->verdict) {
        bad = "\"verdict\" is not a verdict name";
        goto out;
    }
    memcpy(p->verdict, json_string_value(v), json_string_length(v) + 1);
    json_t *d = json_object_get(o, "detail");
    if (d && !json_is_string(d)) {
        bad = "\"detail\" is not a string";
        goto out;
    }
    if (!(p->detail = strdup(d ? json_string_value(d) : ""))) {
        bad = "out of memory";
        goto out;
    }
    double w;
    if (get_finite(json_object_get(o, "wall_s"), &w) == 0)
        p->wall_s = w;
    p->ok = strcmp(p->verdict, "OK") == 0;
    if (p->ok) {
        static const char *const keys[4] = {"mu_hat", "delta_mu_hat", "p16", "p84"};
        double *dst[4] = {&p->mu_hat, &p->delta_mu_hat, &p->p16, &p->p84};
        for (int i = 0; i < 4; i++)
            if (get_finite(json_object_get(o, keys[i]), dst[i]) != 0) {
                rc = hbx_sc_err(err, err_len, "%s:%ld: verdict OK but \"%s\" is not a finite "
                                "number", path, lineno, keys[i]);
                goto out;
            }
    }
    rc = 0;
out:
    if (bad)
        rc = hbx_sc_err(err, err_len, "%s:%ld: %s", path, lineno, bad);
    json_decref(o);
    return rc;
}

static int read_pes_jsonl(hbx_rundir *r, char *err, size_t err_len)
{
    char *path = join(r->path, "pes.jsonl");
    if (!path)
        return hbx_sc_err(err, err_len, "out of memory");
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        hbx_sc_err(err, err_len, "%s: cannot read: %s", path, strerror(e));
        free(path);
        return -1;
    }
    size_t total = (size_t)r->n_sets * r->pe_per_set;
    hbx_score_pe *slots = malloc(total * sizeof *slots);
    unsigned char *seen = calloc(total, 1);
    char *line = NULL;
    size_t cap = 0, found = 0;
    ssize_t len;
    long lineno = 0;
    int rc = -1;
    if (!slots || !seen) {
        hbx_sc_err(err, err_len, "%s: out of memory", path);
        goto out;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        int complete = line[len - 1] == '\n';
        hbx_score_pe p;
        if (parse_pe_line(r, path, lineno, line, (size_t)len, &p, err, err_len) != 0) {
            if (!complete) /* say why the JSON ended early */
                hbx_sc_err(err, err_len, "%s:%ld: truncated last line (the run was "
                           "interrupted; resume it with higgsbox run --resume)", path, lineno);
            free(p.detail);
            goto out;
        }
        size_t at = (size_t)p.set * r->pe_per_set + p.index;
        if (seen[at]) {
            hbx_sc_err(err, err_len, "%s:%ld: PE (set %u, index %u) recorded twice", path,
                       lineno, p.set, p.index);
            free(p.detail);
            goto out;
        }
        seen[at] = 1;
        slots[at] = p;
        found++;
    }
    if (ferror(f)) {
        hbx_sc_err(err, err_len, "%s: read error", path);
        goto out;
    }
    size_t missing = total - found;
    int fill = r->shard_n == 1;
    if (missing && fill && add_note(r, "%zu of %zu PEs are absent from pes.jsonl: scored as "
                                    "not covering (verdict MISSING)", missing, total) != 0)
        goto oom;
    if (missing && !fill &&
        add_note(r, "shard %u of %u: only the %zu PEs recorded here are scored", r->shard_k,
                 r->shard_n, found) != 0)
        goto oom;
    r->n_pes = fill ? total : found;
    r->pes = malloc((r->n_pes ? r->n_pes : 1) * sizeof *r->pes);
    if (!r->pes)
        goto oom;
    size_t o = 0;
    for (size_t i = 0; i < total; i++) {
        if (seen[i]) {
            r->pes[o++] = slots[i];
            seen[i] = 0; /* ownership of detail moved */
        } else if (fill) {
            hbx_score_pe *p = &r->pes[o++];
            pe_blank(p);
            p->set = (uint32_t)(i / r->pe_per_set);
            p->index = (uint32_t)(i % r->pe_per_set);
            p->mu_true = r->mu[p->set];
            strcpy(p->verdict, "MISSING");
            if (!(p->detail = strdup("absent from pes.jsonl"))) {
                r->n_pes = o - 1;
                goto oom;
            }
        }
    }
    rc = 0;
    goto out;
oom:
    hbx_sc_err(err, err_len, "%s: out of memory", path);
out:
    if (seen)
        for (size_t i = 0; i < total; i++)
            if (seen[i])
                free(slots[i].detail);
    free(seen);
    free(slots);
    free(line);
    fclose(f);
    free(path);
    return rc;
}

/* ---- the original's ---------------------------------------------------------- */

typedef struct result_file {
    unsigned long index;
    char *name;
} result_file;

static int by_index(const void *a, const void *b)
{
    const result_file *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* result_<digits>.json → its index; −1 for any other name. */
static long result_index(const char *name)
{
    if (strncmp(name, "result_", 7) != 0 || !isdigit((unsigned char)name[7]))
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(name + 7, &end, 10);
    if (errno || strcmp(end, ".json") != 0 || v >= MAX_SETS)
        return -1;
    return (long)v;
}

static int read_result(hbx_rundir *r, uint32_t set, const char *path, size_t *cap, char *err,
                       size_t err_len)
{
    json_t *j = load_json(path, err, err_len);
    if (!j)
        return -1;
    int rc = -1;
    static const char *const keys[4] = {"mu_hats", "delta_mu_hats", "p16", "p84"};
    json_t *a[4];
    if (!json_is_object(j)) {
        hbx_sc_err(err, err_len, "%s: not a JSON object", path);
        goto out;
    }
    for (int k = 0; k < 4; k++) {
        a[k] = json_object_get(j, keys[k]);
        if (!json_is_array(a[k])) {
            hbx_sc_err(err, err_len, "%s: \"%s\" is missing or not an array", path, keys[k]);
            goto out;
        }
    }
    size_t n = json_array_size(a[0]);
    if (n == 0) {
        hbx_sc_err(err, err_len, "%s: no pseudo-experiments (\"mu_hats\" is empty)", path);
        goto out;
    }
    for (int k = 1; k < 4; k++)
        if (json_array_size(a[k]) != n) {
            hbx_sc_err(err, err_len, "%s: \"%s\" has %zu values, \"mu_hats\" %zu", path,
                       keys[k], json_array_size(a[k]), n);
            goto out;
        }
    if (r->n_pes + n > MAX_PES) {
        hbx_sc_err(err, err_len, "%s: too many pseudo-experiments", path);
        goto out;
    }
    if (r->n_pes + n > *cap) {
        size_t nc = (*cap ? *cap * 2 : 1024);
        while (nc < r->n_pes + n)
            nc *= 2;
        hbx_score_pe *np = realloc(r->pes, nc * sizeof *np);
        if (!np) {
            hbx_sc_err(err, err_len, "%s: out of memory", path);
            goto out;
        }
        r->pes = np;
        *cap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        double v[4];
        for (int k = 0; k < 4; k++)
            if (get_finite(json_array_get(a[k], i), &v[k]) != 0) {
                hbx_sc_err(err, err_len, "%s: %s[%zu] is not a finite number", path, keys[k], i);
                goto out;
            }
        hbx_score_pe *p = &r->pes[r->n_pes];
        pe_blank(p);
        if (!(p->detail = strdup(""))) {
            hbx_sc_err(err, err_len, "%s: out of memory", path);
            goto out;
        }
        r->n_pes++;
        p->set = set;
        p->index = (uint32_t)i;
        p->mu_true = r->mu[set];
        p->ok = 1;
        strcpy(p->verdict, "OK");
        p->mu_hat = v[0];
        p->delta_mu_hat = v[1];
        p->p16 = v[2];
        p->p84 = v[3];
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

static int read_original(hbx_rundir *r, char *err, size_t err_len)
{
    char *path = join(r->path, "test_settings.json");
    if (!path)
        return hbx_sc_err(err, err_len, "out of memory");
    int rc = -1;
    result_file *files = NULL;
    size_t nfiles = 0, cap = 0, pe_cap = 0;
    DIR *d = NULL;
    json_t *j = load_json(path, err, err_len);
    if (!j)
        goto out;
    r->provenance = j;
    if (!json_is_object(j)) {
        hbx_sc_err(err, err_len, "%s: not a JSON object", path);
        goto out;
    }
    json_t *mus = json_object_get(j, "ground_truth_mus");
    if (!mus) {
        hbx_sc_err(err, err_len, "%s: no \"ground_truth_mus\"", path);
        goto out;
    }
    if (read_mu_list(mus, 0, &r->mu, path, "ground_truth_mus", err, err_len) != 0)
        goto out;
    size_t n_mu = json_array_size(mus);
    uint64_t v;
    json_t *jn = json_object_get(j, "num_of_sets");
    if (jn) {
        if (get_count(jn, MAX_SETS, &v) != 0) {
            hbx_sc_err(err, err_len, "%s: \"num_of_sets\" is not a whole number", path);
            goto out;
        }
        r->settings_sets = v;
    } else {
        r->settings_sets = n_mu;
    }
    jn = json_object_get(j, "num_pseudo_experiments");
    if (jn) {
        if (get_count(jn, MAX_PES, &v) != 0) {
            hbx_sc_err(err, err_len, "%s: \"num_pseudo_experiments\" is not a whole number",
                       path);
            goto out;
        }
        r->pe_per_set = v;
    }
    json_t *syst = json_object_get(j, "systematics");
    if (syst) {
        if (read_systematics(syst, &r->systematics, path, err, err_len) != 0)
            goto out;
        r->has_systematics = 1;
    }

    if (!(d = opendir(r->path))) {
        hbx_sc_err(err, err_len, "%s: cannot list: %s", r->path, strerror(errno));
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        long idx = result_index(e->d_name);
        if (idx < 0)
            continue;
        if (nfiles == cap) {
            cap = cap ? cap * 2 : 16;
            result_file *nf = realloc(files, cap * sizeof *nf);
            if (!nf) {
                hbx_sc_err(err, err_len, "%s: out of memory", r->path);
                goto out;
            }
            files = nf;
        }
        files[nfiles].index = (unsigned long)idx;
        if (!(files[nfiles].name = strdup(e->d_name))) {
            hbx_sc_err(err, err_len, "%s: out of memory", r->path);
            goto out;
        }
        nfiles++;
    }
    if (nfiles == 0) {
        hbx_sc_err(err, err_len, "%s: no result_<set>.json files", r->path);
        goto out;
    }
    qsort(files, nfiles, sizeof *files, by_index);
    for (size_t i = 0; i < nfiles; i++)
        if (files[i].index != i) {
            /* result_007.json and result_7.json, or a gap: the original would
             * pair results with the wrong μ. */
            if (i > 0 && files[i].index == files[i - 1].index)
                hbx_sc_err(err, err_len, "%s: %s and %s are both set %lu", r->path,
                           files[i - 1].name, files[i].name, files[i].index);
            else
                hbx_sc_err(err, err_len, "%s: result_%zu.json is missing (found %s)", r->path,
                           i, files[i].name);
            goto out;
        }
    if (nfiles > n_mu) {
        hbx_sc_err(err, err_len, "%s: %zu result files but only %zu ground_truth_mus", path,
                   nfiles, n_mu);
        goto out;
    }
    if (nfiles < n_mu && add_note(r, "test_settings.json lists %zu sets, only %zu result files "
                                  "are present: scoring those", n_mu, nfiles) != 0) {
        hbx_sc_err(err, err_len, "out of memory");
        goto out;
    }
    r->n_sets = (uint32_t)nfiles;
    for (size_t i = 0; i < nfiles; i++) {
        char *fp = join(r->path, files[i].name);
        if (!fp) {
            hbx_sc_err(err, err_len, "out of memory");
            goto out;
        }
        int st = read_result(r, (uint32_t)i, fp, &pe_cap, err, err_len);
        free(fp);
        if (st != 0)
            goto out;
    }

    /* ingestion_duration.json, when the original's ingestion left one. */
    char *dp = join(r->path, "ingestion_duration.json");
    if (dp && access(dp, F_OK) == 0) {
        json_t *dj = load_json(dp, err, err_len);
        double t;
        if (!dj || get_finite(json_object_get(dj, "ingestion_duration"), &t) != 0) {
            if (dj)
                hbx_sc_err(err, err_len, "%s: \"ingestion_duration\" is not a number", dp);
            json_decref(dj);
            free(dp);
            goto out;
        }
        r->ingestion_duration = r->total_s = t;
        json_decref(dj);
    }
    free(dp);
    rc = 0;
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].name);
    free(files);
    free(path);
    return rc;
}

/* ---- entry points -------------------------------------------------------- */

int hbx_score_load_dir_as(const char *dir, hbx_rundir_format format, hbx_rundir **out,
                          char *err, size_t err_len)
{
    *out = NULL;
    struct stat st;
    if (stat(dir, &st) != 0)
        return hbx_sc_err(err, err_len, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return hbx_sc_err(err, err_len, "%s: not a directory", dir);
    if (format == HBX_RUNDIR_AUTO) {
        if (exists(dir, "run.json"))
            format = HBX_RUNDIR_HIGGSBOX;
        else if (exists(dir, "test_settings.json"))
            format = HBX_RUNDIR_ORIGINAL;
        else
            return hbx_sc_err(err, err_len, "%s: not a run directory (neither run.json nor "
                              "test_settings.json)", dir);
    }
    hbx_rundir *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(dir))) {
        free(r);
        return hbx_sc_err(err, err_len, "out of memory");
    }
    r->format = format;
    r->total_s = r->ingestion_duration = NAN;
    r->complete = -1;
    r->shard_n = 1;
    int rc = format == HBX_RUNDIR_HIGGSBOX
                 ? (read_run_json(r, err, err_len) == 0 ? read_pes_jsonl(r, err, err_len) : -1)
                 : read_original(r, err, err_len);
    if (rc != 0) {
        hbx_rundir_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

int hbx_score_load_dir(const char *dir, hbx_rundir **out, char *err, size_t err_len)
{
    return hbx_score_load_dir_as(dir, HBX_RUNDIR_AUTO, out, err, err_len);
}

void hbx_rundir_free(hbx_rundir *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_pes; i++)
        free(r->pes[i].detail);
    free(r->pes);
    free(r->mu);
    free(r->path);
    free(r->plugin_name);
    free(r->plugin_version);
    free(r->data_sha256);
    free(r->data_values_sha256);
    json_decref(r->provenance);
    for (size_t i = 0; i < r->n_notes; i++)
        free(r->notes[i]);
    free(r->notes);
    free(r);
}
