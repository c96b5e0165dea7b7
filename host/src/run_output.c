/*
 * What a run leaves on disk (docs/RUNDIR.md): per-PE records in pes.jsonl,
 * the original challenge's result_<s>.json and test_settings.json, and the
 * settings block of run.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "higgsbox/pe.h"
#include "run_internal.h"

static const char *const nuisance_names[6] = {"tes",         "jes",           "soft_met",
                                              "ttbar_scale", "diboson_scale", "bkg_scale"};
static const unsigned syst_bits[6] = {HBX_SYST_TES,   HBX_SYST_JES,     HBX_SYST_SOFT_MET,
                                      HBX_SYST_TTBAR, HBX_SYST_DIBOSON, HBX_SYST_BKG};

static double *nu_field(hbx_nuisances *nu, int i)
{
    double *f[6] = {&nu->tes, &nu->jes, &nu->soft_met, &nu->ttbar_scale, &nu->diboson_scale,
                    &nu->bkg_scale};
    return f[i];
}

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))

static int set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

char *run_record_line(const pe_record *p)
{
    json_t *nu = json_object();
    hbx_nuisances n = p->nu;
    for (int i = 0; i < 6; i++)
        json_object_set_new(nu, nuisance_names[i], json_real(*nu_field(&n, i)));
    int ok = !p->not_run && p->rec.verdict == HBX_VERDICT_OK;
    json_t *o = json_pack("{s:i, s:i, s:I, s:f, s:o, s:I}", "set", (int)p->set, "index",
                          (int)p->index, "seed", (json_int_t)p->seed, "mu_true", p->mu_true,
                          "nuisances", nu, "n_events", (json_int_t)p->n_events);
    json_object_set_new(o, "mu_hat", ok ? json_real(p->pred.mu_hat) : json_null());
    json_object_set_new(o, "delta_mu_hat", ok ? json_real(p->pred.delta_mu_hat) : json_null());
    json_object_set_new(o, "p16", ok ? json_real(p->pred.p16) : json_null());
    json_object_set_new(o, "p84", ok ? json_real(p->pred.p84) : json_null());
    json_object_set_new(o, "verdict",
                        json_string(p->not_run ? HBX_NOT_RUN : hbx_verdict_name(p->rec.verdict)));
    json_object_set_new(o, "detail", json_string(p->rec.detail));
    json_object_set_new(o, "signal", json_integer(p->rec.signal));
    json_object_set_new(o, "exit_code", json_integer(p->rec.exit_code));
    json_object_set_new(o, "log_truncated", json_boolean(p->rec.flags & HBX_RECORD_LOG_TRUNCATED));
    json_object_set_new(o, "wall_s", json_real(p->rec.wall_s));
    json_object_set_new(o, "cpu_s", json_real(p->rec.cpu_s));
    json_object_set_new(o, "peak_rss", json_integer((json_int_t)p->rec.peak_rss));
    json_object_set_new(o, "gen_s", json_real(p->gen_s));
    char *s = json_dumps(o, JSON_FLAGS | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return NULL;
    size_t len = strlen(s);
    char *line = realloc(s, len + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    return line;
}

static double num(json_t *o, const char *key, int *bad)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) {
        *bad = 1;
        return 0;
    }
    return json_number_value(v);
}

int run_record_parse(const char *line, pe_record *p, char *why, size_t why_len)
{
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (!o)
        return set_err(why, why_len, "not JSON: %s", je.text);
    int bad = !json_is_object(o);
    memset(p, 0, sizeof *p);
    p->set = (unsigned)num(o, "set", &bad);
    p->index = (unsigned)num(o, "index", &bad);
    json_t *seed = json_object_get(o, "seed");
    bad |= !json_is_integer(seed);
    p->seed = (uint64_t)json_integer_value(seed);
    p->mu_true = num(o, "mu_true", &bad);
    p->n_events = (uint64_t)num(o, "n_events", &bad);
    json_t *nu = json_object_get(o, "nuisances");
    for (int i = 0; i < 6; i++)
        *nu_field(&p->nu, i) = num(nu, nuisance_names[i], &bad);
    const char *verdict = json_string_value(json_object_get(o, "verdict"));
    const char *detail = json_string_value(json_object_get(o, "detail"));
    bad |= !verdict || !detail;
    if (!bad) {
        p->not_run = strcmp(verdict, HBX_NOT_RUN) == 0;
        int found = p->not_run;
        for (int v = 0; v < HBX_N_VERDICTS && !found; v++)
            if (strcmp(verdict, hbx_verdict_name((hbx_verdict)v)) == 0) {
                p->rec.verdict = (hbx_verdict)v;
                found = 1;
            }
        bad |= !found;
        snprintf(p->rec.detail, sizeof p->rec.detail, "%s", detail);
    }
    if (!bad && !p->not_run && p->rec.verdict == HBX_VERDICT_OK) {
        p->pred.mu_hat = num(o, "mu_hat", &bad);
        p->pred.delta_mu_hat = num(o, "delta_mu_hat", &bad);
        p->pred.p16 = num(o, "p16", &bad);
        p->pred.p84 = num(o, "p84", &bad);
    }
    p->rec.signal = (int)num(o, "signal", &bad);
    p->rec.exit_code = (int)num(o, "exit_code", &bad);
    if (json_is_true(json_object_get(o, "log_truncated")))
        p->rec.flags |= HBX_RECORD_LOG_TRUNCATED;
    p->rec.wall_s = num(o, "wall_s", &bad);
    p->rec.cpu_s = num(o, "cpu_s", &bad);
    p->rec.peak_rss = (uint64_t)num(o, "peak_rss", &bad);
    p->gen_s = num(o, "gen_s", &bad);
    json_decref(o);
    if (bad)
        return set_err(why, why_len, "missing or mistyped field");
    p->done = 1;
    return 0;
}

long run_records_load(const char *dir, pe_record *records, unsigned sets, unsigned n_pe,
                      char *err, size_t err_len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pes.jsonl", dir);
    FILE *f = fopen(path, "r+e");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        return set_err(err, err_len, "%s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long count = 0, lineno = 0;
    off_t good_end = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n')
            break; /* cut short: dropped below */
        pe_record p;
        char why[200];
        if (run_record_parse(line, &p, why, sizeof why) != 0) {
            rc = set_err(err, err_len, "%s:%ld: %s", path, lineno, why);
            break;
        }
        if (p.set >= sets || p.index >= n_pe) {
            rc = set_err(err, err_len, "%s:%ld: PE (%u, %u) outside the run", path, lineno,
                         p.set, p.index);
            break;
        }
        pe_record *slot = &records[(size_t)p.set * n_pe + p.index];
        if (slot->done) {
            rc = set_err(err, err_len, "%s:%ld: PE (%u, %u) recorded twice", path, lineno,
                         p.set, p.index);
            break;
        }
        if (slot->seed != p.seed) {
            rc = set_err(err, err_len, "%s:%ld: PE (%u, %u) has seed %llu, the run expects %llu",
                         path, lineno, p.set, p.index, (unsigned long long)p.seed,
                         (unsigned long long)slot->seed);
            break;
        }
        *slot = p;
        count++;
        good_end += len;
    }
    free(line);
    fclose(f);
    if (rc != 0)
        return -1;
    /* Drop a partial last line so appends start on a fresh line. */
    if (truncate(path, good_end) != 0)
        return set_err(err, err_len, "%s: %s", path, strerror(errno));
    return count;
}

int run_write_json_file(const char *dir, const char *name, json_t *json, char *err,
                        size_t err_len)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(json, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(17) |
                                      JSON_PRESERVE_ORDER) != 0) {
        unlink(tmp);
        return set_err(err, err_len, "%s: cannot write", path);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return set_err(err, err_len, "%s: %s", path, strerror(errno));
    }
    return 0;
}

static int compare_records(const void *a, const void *b)
{
    const pe_record *x = *(pe_record *const *)a, *y = *(pe_record *const *)b;
    if (x->set != y->set)
        return x->set < y->set ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int run_write_outputs(const char *dir, const run_settings *s, const pe_record *records,
                      char *err, size_t err_len)
{
    size_t total = (size_t)s->sets * s->n_pe, done = 0;
    const pe_record **order = malloc((total ? total : 1) * sizeof *order);
    if (!order)
        return set_err(err, err_len, "out of memory");
    for (size_t i = 0; i < total; i++)
        if (records[i].done)
            order[done++] = &records[i];
    qsort(order, done, sizeof *order, compare_records);

    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/pes.jsonl", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    int rc = f ? 0 : set_err(err, err_len, "%s: %s", tmp, strerror(errno));
    for (size_t i = 0; rc == 0 && i < done; i++) {
        char *line = run_record_line(order[i]);
        if (!line || fputs(line, f) == EOF)
            rc = set_err(err, err_len, "%s: cannot write", tmp);
        free(line);
    }
    if (f && (fclose(f) != 0) && rc == 0)
        rc = set_err(err, err_len, "%s: cannot write", tmp);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = set_err(err, err_len, "%s: %s", path, strerror(errno));
    free(order);
    if (rc != 0 || done != total)
        return rc;

    /* The original challenge's files: only for a run holding all its PEs. */
    for (unsigned set = 0; rc == 0 && set < s->sets; set++) {
        json_t *mu_hats = json_array(), *deltas = json_array(), *p16 = json_array(),
               *p84 = json_array();
        for (unsigned j = 0; j < s->n_pe; j++) {
            const pe_record *p = &records[(size_t)set * s->n_pe + j];
            int ok = !p->not_run && p->rec.verdict == HBX_VERDICT_OK;
            /* A failed PE: an empty interval that covers no positive mu. */
            json_array_append_new(mu_hats, json_real(ok ? p->pred.mu_hat : -1.0));
            json_array_append_new(deltas, json_real(ok ? p->pred.delta_mu_hat : 0.0));
            json_array_append_new(p16, json_real(ok ? p->pred.p16 : -1.0));
            json_array_append_new(p84, json_real(ok ? p->pred.p84 : -1.0));
        }
        json_t *res = json_pack("{s:o, s:o, s:o, s:o}", "mu_hats", mu_hats, "delta_mu_hats",
                                deltas, "p16", p16, "p84", p84);
        char name[64];
        snprintf(name, sizeof name, "result_%u.json", set);
        rc = run_write_json_file(dir, name, res, err, err_len);
        json_decref(res);
    }
    if (rc == 0) {
        json_t *syst = json_object();
        for (int i = 0; i < 6; i++)
            json_object_set_new(syst, nuisance_names[i], json_boolean(s->syst & syst_bits[i]));
        json_t *mus = json_array();
        for (unsigned set = 0; set < s->sets; set++)
            json_array_append_new(mus, json_real(s->mu[set]));
        json_t *ts = json_pack("{s:o, s:i, s:i, s:o}", "systematics", syst,
                               "num_pseudo_experiments", (int)s->n_pe, "num_of_sets",
                               (int)s->sets, "ground_truth_mus", mus);
        rc = run_write_json_file(dir, "test_settings.json", ts, err, err_len);
        json_decref(ts);
    }
    return rc;
}

json_t *run_settings_json(const run_settings *s)
{
    json_t *syst = json_object();
    for (int i = 0; i < 6; i++)
        json_object_set_new(syst, nuisance_names[i], json_boolean(s->syst & syst_bits[i]));
    json_t *mus = json_array();
    for (unsigned i = 0; i < s->sets; i++)
        json_array_append_new(mus, json_real(s->mu[i]));
    return json_pack("{s:i, s:i, s:o, s:o, s:I, s:i, s:[i,i]}", "sets", (int)s->sets,
                     "pseudo_experiments", (int)s->n_pe, "mu", mus, "systematics", syst, "seed",
                     (json_int_t)s->seed, "workers", (int)s->workers, "shard", (int)s->shard_k,
                     (int)s->shard_n);
}

int run_settings_from_json(json_t *j, run_settings *s, char *err, size_t err_len)
{
    json_t *mus = NULL, *syst = NULL;
    int sets, n_pe, workers, k, n;
    json_int_t seed;
    json_error_t je;
    if (json_unpack_ex(j, &je, 0, "{s:i, s:i, s:o, s:o, s:I, s:i, s:[i,i]}", "sets", &sets,
                       "pseudo_experiments", &n_pe, "mu", &mus, "systematics", &syst, "seed",
                       &seed, "workers", &workers, "shard", &k, &n) != 0)
        return set_err(err, err_len, "settings: %s", je.text);
    if (sets <= 0 || n_pe <= 0 || workers <= 0 || n <= 0 || k < 0 || k >= n ||
        !json_is_array(mus) || json_array_size(mus) != (size_t)sets)
        return set_err(err, err_len, "settings: values out of range");
    s->sets = (unsigned)sets;
    s->n_pe = (unsigned)n_pe;
    s->workers = (unsigned)workers;
    s->seed = (uint64_t)seed;
    s->shard_k = (unsigned)k;
    s->shard_n = (unsigned)n;
    s->mu = malloc((size_t)sets * sizeof *s->mu);
    if (!s->mu)
        return set_err(err, err_len, "out of memory");
    for (int i = 0; i < sets; i++)
        s->mu[i] = json_number_value(json_array_get(mus, (size_t)i));
    s->syst = 0;
    for (int i = 0; i < 6; i++)
        if (json_is_true(json_object_get(syst, nuisance_names[i])))
            s->syst |= syst_bits[i];
    return 0;
}

int run_settings_same_run(const run_settings *a, const run_settings *b)
{
    if (a->sets != b->sets || a->n_pe != b->n_pe || a->syst != b->syst || a->seed != b->seed)
        return 0;
    for (unsigned i = 0; i < a->sets; i++)
        if (a->mu[i] != b->mu[i])
            return 0;
    return 1;
}
