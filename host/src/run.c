/*
 * The evaluation run (higgsbox/run.h).
 *
 * Process model: one worker loads the plugin and fits; predict workers are
 * forked from it after fit (sharing the fitted model copy-on-write). The
 * host, which alone holds the test pool, μ and the nuisances, generates each
 * pseudo-experiment straight into a shared-memory block and hands the
 * worker a read-only descriptor to it. One host thread drives each predict
 * worker, so generation of one PE overlaps prediction of another.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "higgsbox/block.h"
#include "higgsbox/dataset.h"
#include "higgsbox/higgsbox.h"
#include "higgsbox/pe.h"
#include "run_internal.h"

/* The public phase's true μ (HIGGSML.md §6), the default for up to 10 sets. */
static const double public_mu[10] = {2.78, 2.341, 1.979, 0.952, 2.941,
                                     1.169, 0.933, 0.672, 0.923, 2.03};

struct hbx_run {
    char *plugin, *data, *out, *worker;
    run_settings s;
    double *mu_list;
    unsigned n_mu;
    int mu_random;
    int resume;
    hbx_run_progress_fn progress;
    void *progress_user;
};

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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- configuration ------------------------------------------------------ */

hbx_run *hbx_run_new(void)
{
    hbx_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s.sets = 10;
    r->s.n_pe = 100;
    r->s.syst = HBX_SYST_ALL;
    r->s.seed = 42;
    r->s.workers = 2;
    r->s.shard_k = 0;
    r->s.shard_n = 1;
    r->s.fit_timeout = 3600;
    r->s.predict_timeout = 600;
    r->s.budget = 7200;
    r->s.memory = 8ull << 30;
    return r;
}

void hbx_run_destroy(hbx_run *r)
{
    if (!r)
        return;
    free(r->plugin);
    free(r->data);
    free(r->out);
    free(r->worker);
    free(r->mu_list);
    free(r->s.mu);
    free(r);
}

static int replace(char **field, const char *v)
{
    char *c = v ? strdup(v) : NULL;
    if (!c)
        return -1;
    free(*field);
    *field = c;
    return 0;
}

int hbx_run_set_plugin(hbx_run *r, const char *path) { return replace(&r->plugin, path); }
int hbx_run_set_data(hbx_run *r, const char *path) { return replace(&r->data, path); }
int hbx_run_set_output(hbx_run *r, const char *dir) { return replace(&r->out, dir); }
int hbx_run_set_worker(hbx_run *r, const char *path) { return replace(&r->worker, path); }

int hbx_run_set_sets(hbx_run *r, unsigned sets)
{
    if (sets == 0 || sets > 100000)
        return -1;
    r->s.sets = sets;
    return 0;
}

int hbx_run_set_pseudo_experiments(hbx_run *r, unsigned per_set)
{
    if (per_set == 0 || per_set > 10000000)
        return -1;
    r->s.n_pe = per_set;
    return 0;
}

int hbx_run_set_mu_list(hbx_run *r, const double *mu, unsigned n)
{
    if (n == 0)
        return -1;
    for (unsigned i = 0; i < n; i++)
        if (!(mu[i] >= 0) || mu[i] > 1000)
            return -1;
    double *copy = malloc(n * sizeof *copy);
    if (!copy)
        return -1;
    memcpy(copy, mu, n * sizeof *copy);
    free(r->mu_list);
    r->mu_list = copy;
    r->n_mu = n;
    r->mu_random = 0;
    return 0;
}

void hbx_run_set_mu_random(hbx_run *r)
{
    free(r->mu_list);
    r->mu_list = NULL;
    r->n_mu = 0;
    r->mu_random = 1;
}

void hbx_run_set_systematics(hbx_run *r, unsigned mask) { r->s.syst = mask & HBX_SYST_ALL; }

int hbx_run_set_workers(hbx_run *r, unsigned workers)
{
    if (workers == 0 || workers > 1024)
        return -1;
    r->s.workers = workers;
    return 0;
}

void hbx_run_set_seed(hbx_run *r, uint64_t seed) { r->s.seed = seed; }

static int positive(double v) { return v > 0 && v < 1e9; }

int hbx_run_set_fit_timeout(hbx_run *r, double s)
{
    return positive(s) ? (r->s.fit_timeout = s, 0) : -1;
}

int hbx_run_set_predict_timeout(hbx_run *r, double s)
{
    return positive(s) ? (r->s.predict_timeout = s, 0) : -1;
}

int hbx_run_set_budget(hbx_run *r, double s)
{
    return positive(s) ? (r->s.budget = s, 0) : -1;
}

int hbx_run_set_memory(hbx_run *r, uint64_t bytes)
{
    if (bytes < (16u << 20))
        return -1;
    r->s.memory = bytes;
    return 0;
}

int hbx_run_set_shard(hbx_run *r, unsigned k, unsigned n)
{
    if (n == 0 || k >= n)
        return -1;
    r->s.shard_k = k;
    r->s.shard_n = n;
    return 0;
}

void hbx_run_set_resume(hbx_run *r, int resume) { r->resume = resume; }

void hbx_run_set_progress(hbx_run *r, hbx_run_progress_fn fn, void *user)
{
    r->progress = fn;
    r->progress_user = user;
}

/* ---- the run ------------------------------------------------------------ */

typedef struct run_ctx {
    hbx_run *r;
    run_settings s;    /* effective settings (from run.json when resuming) */
    pe_record *records; /* sets × n_pe */
    size_t total;
    uint32_t *queue;   /* PE ids this invocation runs, in schedule order */
    size_t queue_len, queue_next;
    pthread_mutex_t lock; /* queue, records file, counters, progress */
    hbx_pe_pool *pool;
    uint64_t capacity;
    uint64_t pool_events;
    double pool_bkg_weight; /* mean weight of the pool's background events */
    hbx_sandbox *sb;
    hbx_worker *fitted;
    pthread_mutex_t fork_lock; /* the fitted worker's socket */
    int refits;                /* times the fitted worker had to be rebuilt */
    hbx_block train;
    int train_fd;
    hbx_call_record fit_rec;
    char *layers_json; /* sandbox layers the fitted worker reported */
    int records_fd;
    double t_start, t_predict0, deadline;
    double predict_s, generate_s, fit_s;
    uint64_t done, failures;
    uint64_t verdicts[HBX_N_VERDICTS + 1];
    uint64_t not_run;
    char host_error[512];
} run_ctx;

/* Appends a finished PE to pes.jsonl and reports progress. */
static void finish_pe(run_ctx *c, pe_record *p)
{
    char *line = run_record_line(p);
    pthread_mutex_lock(&c->lock);
    p->done = 1;
    if (line) {
        size_t len = strlen(line), off = 0;
        while (off < len) {
            ssize_t n = write(c->records_fd, line + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                snprintf(c->host_error, sizeof c->host_error, "%s/pes.jsonl: %s", c->r->out,
                         strerror(errno));
                break;
            }
            off += (size_t)n;
        }
    }
    c->done++;
    if (p->not_run)
        c->not_run++;
    else
        c->verdicts[p->rec.verdict]++;
    if (p->not_run || p->rec.verdict != HBX_VERDICT_OK)
        c->failures++;
    c->predict_s += p->rec.wall_s;
    c->generate_s += p->gen_s;
    if (c->r->progress) {
        hbx_run_progress pr = {c->done, c->queue_len, c->failures, now_s() - c->t_predict0};
        c->r->progress(&pr, c->r->progress_user);
    }
    pthread_mutex_unlock(&c->lock);
    free(line);
}

/* Spawns, loads and fits the worker that predict workers are forked from. */
static int build_fitted(run_ctx *c)
{
    hbx_worker *w = NULL;
    hbx_plugin_info info;
    hbx_call_record *rec = &c->fit_rec;
    double t0 = now_s();
    double left = c->deadline - t0;
    double limit = c->s.fit_timeout < left ? c->s.fit_timeout : left;
    int rc = hbx_worker_spawn(c->sb, &w, rec);
    if (rc == 0)
        rc = hbx_worker_load(w, &info, rec);
    if (rc == 0)
        rc = hbx_worker_fit(w, c->train_fd, c->train.size, limit > 0 ? limit : 0.001, rec);
    c->fit_s += now_s() - t0;
    if (rc != 0) {
        if (rec->verdict == HBX_VERDICT_TIMEOUT && limit < c->s.fit_timeout)
            snprintf(rec->detail, sizeof rec->detail, "run budget exhausted during fit");
        hbx_worker_destroy(w);
        return -1;
    }
    c->fitted = w;
    hbx_sandbox_report report;
    if (!c->layers_json && hbx_worker_report(w, &report) == 0)
        c->layers_json = hbx_sandbox_report_json(&report);
    return 0;
}

/* A predict worker forked from the fitted one; rebuilds the fitted worker
 * (once) if it is gone. Returns NULL with rec set on failure. */
static hbx_worker *new_predict_worker(run_ctx *c, hbx_call_record *rec)
{
    hbx_worker *w = NULL;
    pthread_mutex_lock(&c->fork_lock);
    int rc = c->fitted ? hbx_worker_fork(c->fitted, &w, rec) : -1;
    if (rc != 0 && c->refits < 1) {
        c->refits++;
        hbx_worker_destroy(c->fitted);
        c->fitted = NULL;
        if (build_fitted(c) == 0)
            rc = hbx_worker_fork(c->fitted, &w, rec);
        else
            *rec = c->fit_rec;
    }
    pthread_mutex_unlock(&c->fork_lock);
    return rc == 0 ? w : NULL;
}

static void *slot_main(void *arg)
{
    run_ctx *c = arg;
    hbx_block block;
    if (hbx_block_create(&block, "hbx-pe", c->capacity, 0) != 0) {
        pthread_mutex_lock(&c->lock);
        snprintf(c->host_error, sizeof c->host_error,
                 "cannot allocate a pseudo-experiment buffer of %llu events: %s",
                 (unsigned long long)c->capacity, strerror(errno));
        c->queue_next = c->queue_len;
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    int reader = hbx_block_reader_fd(&block);
    hbx_worker *w = NULL;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        int stop = c->queue_next >= c->queue_len || c->host_error[0];
        uint32_t id = stop ? 0 : c->queue[c->queue_next++];
        pthread_mutex_unlock(&c->lock);
        if (stop)
            break;
        pe_record *p = &c->records[id];
        memset(&p->rec, 0, sizeof p->rec);
        if (now_s() >= c->deadline) {
            p->not_run = 1;
            snprintf(p->rec.detail, sizeof p->rec.detail, "run budget exhausted");
            finish_pe(c, p);
            continue;
        }
        double t0 = now_s();
        int rc = hbx_pe_generate(c->pool, p->mu_true, &p->nu, p->seed, &block.table, NULL);
        p->gen_s = now_s() - t0;
        if (rc != HBX_OK) {
            pthread_mutex_lock(&c->lock);
            snprintf(c->host_error, sizeof c->host_error,
                     "generating PE (set %u, index %u) failed (code %d)", p->set, p->index, rc);
            pthread_mutex_unlock(&c->lock);
            break;
        }
        hbx_block_set_count(&block, block.table.n);
        p->n_events = block.table.n;
        if (!w)
            w = new_predict_worker(c, &p->rec);
        if (w) {
            double left = c->deadline - now_s();
            double limit = c->s.predict_timeout < left ? c->s.predict_timeout : left;
            hbx_worker_predict(w, reader, block.size, limit > 0 ? limit : 0.001, &p->pred,
                               &p->rec);
            if (p->rec.verdict == HBX_VERDICT_TIMEOUT && limit < c->s.predict_timeout)
                snprintf(p->rec.detail, sizeof p->rec.detail, "run budget exhausted");
            /* A worker that answered badly is still sound; any other failure
             * leaves it dead or in an unknown state. */
            if (p->rec.verdict != HBX_VERDICT_OK && p->rec.verdict != HBX_VERDICT_BAD_OUTPUT) {
                hbx_worker_destroy(w);
                w = NULL;
            }
        }
        finish_pe(c, p);
    }
    hbx_worker_destroy(w);
    if (reader >= 0)
        close(reader);
    hbx_block_destroy(&block);
    return NULL;
}

/* ---- set-up helpers ----------------------------------------------------- */

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static json_t *machine_json(void)
{
    char model[256] = "unknown", line[512];
    unsigned long long mem_kb = 0;
    FILE *f = fopen("/proc/cpuinfo", "re");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon && strncmp(line, "model name", 10) == 0) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    f = fopen("/proc/meminfo", "re");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %llu kB", &mem_kb) == 1)
            break;
    if (f)
        fclose(f);
    return json_pack("{s:s, s:i, s:I}", "cpu", model, "cores", (int)sysconf(_SC_NPROCESSORS_ONLN),
                     "memory_bytes", (json_int_t)(mem_kb * 1024));
}

static json_t *record_json(const hbx_call_record *rec)
{
    char d[600];
    hbx_call_record_describe(rec, d, sizeof d);
    return json_pack("{s:s, s:s, s:f, s:f, s:I}", "verdict", hbx_verdict_name(rec->verdict),
                     "description", d, "wall_s", rec->wall_s, "cpu_s", rec->cpu_s, "peak_rss",
                     (json_int_t)rec->peak_rss);
}

/* Writes run.json: provenance, settings, limits, machine, and (once known)
 * the fit record and timing. */
static int write_run_json(run_ctx *c, const char *plugin_sha, const char *data_sha,
                          const char *data_values, const hbx_plugin_info *info, int complete,
                          char *err, size_t err_len)
{
    json_t *limits = json_pack("{s:f, s:f, s:f, s:I}", "fit_timeout_s", c->s.fit_timeout,
                               "predict_timeout_s", c->s.predict_timeout, "budget_s", c->s.budget,
                               "memory_bytes", (json_int_t)c->s.memory);
    char abs_plugin[4096], abs_data[4096];
    if (!realpath(c->r->plugin, abs_plugin))
        snprintf(abs_plugin, sizeof abs_plugin, "%s", c->r->plugin);
    if (!realpath(c->r->data, abs_data))
        snprintf(abs_data, sizeof abs_data, "%s", c->r->data);
    json_t *j = json_pack("{s:s, s:i, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:I}, s:o, s:o, "
                          "s:o, s:b}",
                          "format", "higgsbox-run", "version", 1, "host_version", hbx_version(),
                          "plugin", "path", abs_plugin, "name", info->name, "version",
                          info->version, "sha256", plugin_sha, "data", "path", abs_data, "sha256",
                          data_sha, "test_events", (json_int_t)c->pool_events, "settings",
                          run_settings_json(&c->s), "limits", limits, "machine", machine_json(),
                          "complete", complete);
    json_object_set_new(json_object_get(j, "data"), "values_sha256", json_string(data_values));
    json_object_set_new(json_object_get(j, "data"), "pool_background_weight",
                        json_real(c->pool_bkg_weight));
    json_object_set_new(j, "fit", record_json(&c->fit_rec));
    json_t *layers = c->layers_json ? json_loads(c->layers_json, 0, NULL) : NULL;
    json_object_set_new(j, "sandbox", json_pack("{s:o}", "layers", layers ? layers : json_null()));
    json_object_set_new(j, "timing",
                        json_pack("{s:f, s:f, s:f, s:f}", "fit_s", c->fit_s, "predict_s",
                                  c->predict_s, "generate_s", c->generate_s, "total_s",
                                  now_s() - c->t_start));
    int rc = run_write_json_file(c->r->out, "run.json", j, err, err_len);
    json_decref(j);
    return rc;
}

/* Whether run.json `j` used the data of these hashes: the same values when
 * both sides know them, else (run directories from before values_sha256)
 * the same file. */
static int same_data(const json_t *j, const char *data_sha, const char *data_values)
{
    const json_t *data = json_object_get(j, "data");
    const char *values = json_string_value(json_object_get(data, "values_sha256"));
    if (values && data_values)
        return !strcmp(values, data_values);
    const char *sha = json_string_value(json_object_get(data, "sha256"));
    return sha && data_sha && !strcmp(sha, data_sha);
}

/* Reads a previous invocation's run.json for --resume. */
static int load_previous(run_ctx *c, const char *plugin_sha, const char *data_sha,
                         const char *data_values, char *err, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", c->r->out);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return set_err(err, len, "%s: cannot resume: %s (line %d)", path, je.text, je.line);
    const char *psha = json_string_value(json_object_get(json_object_get(j, "plugin"), "sha256"));
    int rc = 0;
    if (!psha || strcmp(psha, plugin_sha) != 0)
        rc = set_err(err, len, "%s: cannot resume: the run used another plugin build", path);
    else if (!same_data(j, data_sha, data_values))
        rc = set_err(err, len, "%s: cannot resume: the run used another dataset", path);
    else {
        run_settings prev;
        memset(&prev, 0, sizeof prev);
        rc = run_settings_from_json(json_object_get(j, "settings"), &prev, err, len);
        if (rc == 0) {
            free(c->s.mu);
            c->s.sets = prev.sets;
            c->s.n_pe = prev.n_pe;
            c->s.mu = prev.mu;
            c->s.syst = prev.syst;
            c->s.seed = prev.seed;
            c->s.shard_k = prev.shard_k;
            c->s.shard_n = prev.shard_n;
        }
    }
    json_decref(j);
    return rc;
}

/* True μ per set, from the list, the seed, or the public-phase default. */
static int choose_mu(run_ctx *c, char *err, size_t len)
{
    hbx_run *r = c->r;
    c->s.mu = malloc(c->s.sets * sizeof *c->s.mu);
    if (!c->s.mu)
        return set_err(err, len, "out of memory");
    if (r->mu_random) {
        /* Its own stream, so that the list does not shift the PE seeds. */
        gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
        if (!g)
            return set_err(err, len, "out of memory");
        gsl_rng_set(g, (unsigned long)(c->s.seed ^ 0x6d75u));
        for (unsigned i = 0; i < c->s.sets; i++)
            c->s.mu[i] = gsl_ran_flat(g, 0.1, 3.0);
        gsl_rng_free(g);
    } else if (r->mu_list) {
        if (r->n_mu != c->s.sets)
            return set_err(err, len, "--mu lists %u values for %u sets", r->n_mu, c->s.sets);
        memcpy(c->s.mu, r->mu_list, c->s.sets * sizeof *c->s.mu);
    } else {
        if (c->s.sets > 10)
            return set_err(err, len,
                           "%u sets but the default list of true mu has 10: give --mu LIST or "
                           "--mu random",
                           c->s.sets);
        memcpy(c->s.mu, public_mu, c->s.sets * sizeof *c->s.mu);
    }
    return 0;
}

static void destroy_ctx(run_ctx *c)
{
    hbx_worker_destroy(c->fitted);
    hbx_sandbox_destroy(c->sb);
    if (c->train_fd >= 0)
        close(c->train_fd);
    hbx_block_destroy(&c->train);
    hbx_pe_pool_destroy(c->pool);
    if (c->records_fd >= 0)
        close(c->records_fd);
    free(c->records);
    free(c->queue);
    free(c->s.mu);
    free(c->layers_json);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->fork_lock);
}

int hbx_run_execute(hbx_run *r, hbx_run_summary *summary, char *err, size_t err_len)
{
    memset(summary, 0, sizeof *summary);
    if (!r->plugin || !r->data || !r->out)
        return set_err(err, err_len, "a run needs a plugin, a dataset and an output directory");
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.s = r->s;
    c.s.mu = NULL;
    c.train_fd = -1;
    c.records_fd = -1;
    c.train.fd = -1;
    pthread_mutex_init(&c.lock, NULL);
    pthread_mutex_init(&c.fork_lock, NULL);
    c.t_start = now_s();
    c.deadline = c.t_start + c.s.budget;
    int rc = -1;
    hbx_table train;
    memset(&train, 0, sizeof train);
    hbx_plugin_info info;
    memset(&info, 0, sizeof info);
    char plugin_sha[65], data_sha[65], data_values[65], scratch[] = "/tmp/hbx-scratch-XXXXXX";
    int have_scratch = 0;

    if (hbx_sha256_file(r->plugin, plugin_sha) != 0) {
        set_err(err, err_len, "%s: cannot read: %s", r->plugin, strerror(errno));
        goto out;
    }
    if (hbx_sha256_file(r->data, data_sha) != 0) {
        set_err(err, err_len, "%s: cannot read: %s", r->data, strerror(errno));
        goto out;
    }
    if (hbx_dataset_values_sha256(r->data, data_values, err, err_len) != 0)
        goto out;
    char runjson[4096];
    snprintf(runjson, sizeof runjson, "%s/run.json", r->out);
    if (r->resume) {
        if (load_previous(&c, plugin_sha, data_sha, data_values, err, err_len) != 0)
            goto out;
    } else {
        if (access(runjson, F_OK) == 0) {
            set_err(err, err_len, "%s: holds a run already (use --resume, or another directory)",
                    r->out);
            goto out;
        }
        if (choose_mu(&c, err, err_len) != 0)
            goto out;
    }
    if (mkdir_p(r->out) != 0) {
        set_err(err, err_len, "%s: cannot create: %s", r->out, strerror(errno));
        goto out;
    }

    /* Every PE of the run, with its seed, μ and nuisances. */
    c.total = (size_t)c.s.sets * c.s.n_pe;
    c.records = calloc(c.total, sizeof *c.records);
    c.queue = malloc(c.total * sizeof *c.queue);
    if (!c.records || !c.queue) {
        set_err(err, err_len, "out of memory for %zu pseudo-experiments", c.total);
        goto out;
    }
    for (unsigned s = 0; s < c.s.sets; s++)
        for (unsigned j = 0; j < c.s.n_pe; j++) {
            pe_record *p = &c.records[(size_t)s * c.s.n_pe + j];
            p->set = s;
            p->index = j;
            p->seed = hbx_pe_seed(c.s.seed, s, c.s.n_pe, j);
            p->mu_true = c.s.mu[s];
            hbx_pe_draw_nuisances(p->seed, c.s.syst, &p->nu);
        }
    if (r->resume) {
        long n = run_records_load(r->out, c.records, c.s.sets, c.s.n_pe, err, err_len);
        if (n < 0)
            goto out;
        summary->skipped = (uint64_t)n;
    }
    /* The schedule: all sets interleaved in a seeded shuffle; a shard
     * takes every n-th position. */
    for (size_t i = 0; i < c.total; i++)
        c.queue[i] = (uint32_t)i;
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!g) {
        set_err(err, err_len, "out of memory");
        goto out;
    }
    gsl_rng_set(g, (unsigned long)c.s.seed);
    gsl_ran_shuffle(g, c.queue, c.total, sizeof *c.queue);
    gsl_rng_free(g);
    for (size_t i = 0; i < c.total; i++)
        if (i % c.s.shard_n == c.s.shard_k) {
            summary->planned++;
            if (!c.records[c.queue[i]].done)
                c.queue[c.queue_len++] = c.queue[i];
        }

    /* Data: the test split stays on the host (as the PE pool); the training
     * split goes to the fit worker through a read-only block. */
    if (hbx_pe_pool_load(&c.pool, r->data, err, err_len) != HBX_OK ||
        hbx_dataset_load(r->data, HBX_SPLIT_TRAIN, &train, err, err_len) != 0)
        goto out;
    uint64_t pool_counts[HBX_N_PROCESSES], bkg_events = 0;
    double pool_sums[HBX_N_PROCESSES], bkg_sum = 0;
    hbx_pe_pool_totals(c.pool, pool_counts, pool_sums);
    for (int k = 0; k < HBX_N_PROCESSES; k++) {
        c.pool_events += pool_counts[k];
        if (k != HBX_HTAUTAU) {
            bkg_events += pool_counts[k];
            bkg_sum += pool_sums[k];
        }
    }
    c.pool_bkg_weight = bkg_events ? bkg_sum / (double)bkg_events : 0.0;
    summary->pool_background_weight = c.pool_bkg_weight;
    double mu_max = 0;
    for (unsigned s = 0; s < c.s.sets; s++)
        mu_max = c.s.mu[s] > mu_max ? c.s.mu[s] : mu_max;
    c.capacity = hbx_pe_capacity(c.pool, mu_max);
    hbx_dataset tv = hbx_table_view(&train);
    if (hbx_block_from_dataset(&c.train, "hbx-train", &tv) != 0 ||
        (c.train_fd = hbx_block_reader_fd(&c.train)) < 0) {
        set_err(err, err_len, "cannot share the training set: %s", strerror(errno));
        goto out;
    }
    hbx_table_free(&train);

    char path[4200];
    snprintf(path, sizeof path, "%s/pes.jsonl", r->out);
    c.records_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c.records_fd < 0) {
        set_err(err, err_len, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!mkdtemp(scratch)) {
        set_err(err, err_len, "cannot create a scratch directory: %s", strerror(errno));
        goto out;
    }
    have_scratch = 1;
    char logs[4200];
    snprintf(logs, sizeof logs, "%s/logs", r->out);
    if (mkdir_p(logs) != 0) {
        set_err(err, err_len, "%s: cannot create: %s", logs, strerror(errno));
        goto out;
    }
    c.sb = hbx_sandbox_new();
    if (c.sb) {
        hbx_sandbox_set_memory_limit(c.sb, c.s.memory);
        hbx_sandbox_set_deadline(c.sb, c.deadline - now_s());
    }
    if (!c.sb || hbx_sandbox_set_plugin(c.sb, r->plugin) != 0 ||
        hbx_sandbox_set_scratch_dir(c.sb, scratch) != 0 ||
        hbx_sandbox_set_log_dir(c.sb, logs) != 0 ||
        (r->worker && hbx_sandbox_set_worker(c.sb, r->worker) != 0)) {
        set_err(err, err_len, "out of memory");
        goto out;
    }
    if (hbx_plugin_describe(r->plugin, r->worker, &info, &c.fit_rec) != 0) {
        char d[600];
        hbx_call_record_describe(&c.fit_rec, d, sizeof d);
        set_err(err, err_len, "%s", c.fit_rec.verdict == HBX_VERDICT_LOAD_ERROR
                                         ? c.fit_rec.detail
                                         : d);
        goto out;
    }
    if (write_run_json(&c, plugin_sha, data_sha, data_values, &info, 0, err, err_len) != 0)
        goto out;

    summary->setup_s = now_s() - c.t_start;
    if (c.queue_len > 0) {
        summary->fit_ok = build_fitted(&c) == 0;
        c.t_predict0 = now_s();
        if (!summary->fit_ok) {
            /* No model: every PE of this invocation carries the fit's verdict. */
            for (size_t i = 0; i < c.queue_len; i++) {
                pe_record *p = &c.records[c.queue[i]];
                p->rec = c.fit_rec;
                p->rec.wall_s = p->rec.cpu_s = 0;
                static const char prefix[] = "fit failed: ";
                memcpy(p->rec.detail, prefix, sizeof prefix - 1);
                memcpy(p->rec.detail + sizeof prefix - 1, c.fit_rec.detail,
                       sizeof p->rec.detail - sizeof prefix);
                p->rec.detail[sizeof p->rec.detail - 1] = '\0';
                finish_pe(&c, p);
            }
        } else {
            unsigned nw = c.s.workers < c.queue_len ? c.s.workers : (unsigned)c.queue_len;
            pthread_t *th = calloc(nw, sizeof *th);
            unsigned started = 0;
            for (unsigned i = 0; th && i < nw; i++)
                if (pthread_create(&th[i], NULL, slot_main, &c) == 0)
                    started++;
            if (started == 0)
                slot_main(&c);
            for (unsigned i = 0; i < started; i++)
                pthread_join(th[i], NULL);
            free(th);
        }
    } else {
        summary->fit_ok = 1;
    }
    hbx_call_record_describe(&c.fit_rec, summary->fit_verdict, sizeof summary->fit_verdict);

    int complete = 1;
    for (size_t i = 0; i < c.total; i++)
        complete &= c.records[i].done;
    if (run_write_outputs(r->out, &c.s, c.records, err, err_len) != 0 ||
        write_run_json(&c, plugin_sha, data_sha, data_values, &info, complete, err, err_len) != 0)
        goto out;
    if (c.host_error[0]) {
        set_err(err, err_len, "%s", c.host_error);
        goto out;
    }
    rc = 0;
out:
    summary->fit_s = c.fit_s;
    summary->predict_s = c.predict_s;
    summary->generate_s = c.generate_s;
    summary->total_s = now_s() - c.t_start;
    summary->not_run = c.not_run;
    for (int v = 0; v < HBX_N_VERDICTS && v < 16; v++)
        summary->verdicts[v] = c.verdicts[v];
    hbx_table_free(&train);
    destroy_ctx(&c);
    if (have_scratch)
        nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/* ---- merging shards ----------------------------------------------------- */

int hbx_run_merge(const char *const *dirs, unsigned n, const char *out, char *err,
                  size_t err_len)
{
    if (n == 0)
        return set_err(err, err_len, "nothing to merge");
    json_t *first = NULL;
    run_settings base;
    memset(&base, 0, sizeof base);
    pe_record *records = NULL;
    unsigned char *seen = NULL;
    int rc = -1;
    double fit_s = 0, predict_s = 0, generate_s = 0;
    for (unsigned d = 0; d < n; d++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/run.json", dirs[d]);
        json_error_t je;
        json_t *j = json_load_file(path, 0, &je);
        if (!j) {
            set_err(err, err_len, "%s: %s (line %d)", path, je.text, je.line);
            goto out;
        }
        run_settings s;
        memset(&s, 0, sizeof s);
        if (run_settings_from_json(json_object_get(j, "settings"), &s, err, err_len) != 0) {
            json_decref(j);
            goto out;
        }
        json_t *timing = json_object_get(j, "timing");
        fit_s += json_number_value(json_object_get(timing, "fit_s"));
        predict_s += json_number_value(json_object_get(timing, "predict_s"));
        generate_s += json_number_value(json_object_get(timing, "generate_s"));
        if (d == 0) {
            first = j;
            base = s;
            records = calloc((size_t)s.sets * s.n_pe, sizeof *records);
            seen = calloc(s.shard_n, 1);
            if (!records || !seen) {
                free(s.mu);
                set_err(err, err_len, "out of memory");
                goto out;
            }
            for (unsigned a = 0; a < s.sets; a++)
                for (unsigned b = 0; b < s.n_pe; b++) {
                    pe_record *p = &records[(size_t)a * s.n_pe + b];
                    p->set = a;
                    p->index = b;
                    p->seed = hbx_pe_seed(s.seed, a, s.n_pe, b);
                }
        } else {
            const char *pa = json_string_value(
                json_object_get(json_object_get(first, "plugin"), "sha256"));
            const char *pb =
                json_string_value(json_object_get(json_object_get(j, "plugin"), "sha256"));
            const json_t *data = json_object_get(j, "data");
            int same = run_settings_same_run(&base, &s) && s.shard_n == base.shard_n && pa &&
                       pb && !strcmp(pa, pb) &&
                       same_data(first,
                                 json_string_value(json_object_get(data, "sha256")),
                                 json_string_value(json_object_get(data, "values_sha256")));
            json_decref(j);
            free(s.mu);
            if (!same) {
                set_err(err, err_len, "%s: not a shard of the same run as %s", dirs[d], dirs[0]);
                goto out;
            }
        }
        if (seen[s.shard_k]++) {
            set_err(err, err_len, "%s: shard %u/%u given twice", dirs[d], s.shard_k, s.shard_n);
            goto out;
        }
        if (run_records_load(dirs[d], records, base.sets, base.n_pe, err, err_len) < 0)
            goto out;
    }
    for (unsigned k = 0; k < base.shard_n; k++)
        if (!seen[k]) {
            set_err(err, err_len, "shard %u/%u is missing", k, base.shard_n);
            goto out;
        }
    if (mkdir_p(out) != 0) {
        set_err(err, err_len, "%s: cannot create: %s", out, strerror(errno));
        goto out;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", out);
    if (access(path, F_OK) == 0) {
        set_err(err, err_len, "%s: holds a run already", out);
        goto out;
    }
    base.shard_k = 0;
    base.shard_n = 1;
    if (run_write_outputs(out, &base, records, err, err_len) != 0)
        goto out;
    int complete = 1;
    for (size_t i = 0; i < (size_t)base.sets * base.n_pe; i++)
        complete &= records[i].done;
    json_object_set_new(first, "settings", run_settings_json(&base));
    json_object_set_new(first, "complete", json_boolean(complete));
    json_object_set_new(first, "merged_from", json_integer(n));
    json_object_set_new(first, "timing",
                        json_pack("{s:f, s:f, s:f}", "fit_s", fit_s, "predict_s", predict_s,
                                  "generate_s", generate_s));
    rc = run_write_json_file(out, "run.json", first, err, err_len);
out:
    json_decref(first);
    free(base.mu);
    free(records);
    free(seen);
    return rc;
}
