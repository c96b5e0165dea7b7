/*
 * The conformance session: what an evaluation run does to a plugin, in
 * small. A toy dataset is generated in memory; the plugin is loaded and fit
 * in a sandboxed worker; predict workers forked after fit get
 * pseudo-experiments at several mu, one of them three times, then a tiny
 * and an empty one. Every call's verdict is recorded for the suite's tests.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "higgsbox/block.h"
#include "higgsbox/generator.h"
#include "higgsbox/pe.h"
#include "higgsbox/physics.h"
#include "kit.h"

/* True mu of the session's PEs; the first is the one repeated. */
static const double kit_mu[KIT_N_PE] = {1.0, 0.5, 2.0};

typedef struct run {
    kit_session *s;
    hbx_pe_pool *pool;
    hbx_sandbox *sb;
    hbx_worker *fitted;
    hbx_worker *worker; /* the current predict worker */
    hbx_block pe;
    int pe_fd;
    int log_fd;         /* where the plugin's output goes */
    int own_log;        /* log_fd is the kit's temporary file (tails readable) */
} run;

static void set_error(kit_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(kit_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->setup_error, sizeof s->setup_error, fmt, ap);
    va_end(ap);
}

/* The last non-empty line of the kit's log file, for a failed call. */
static void log_tail(const run *r, kit_call *c)
{
    c->log_tail[0] = '\0';
    if (!r->own_log || c->rec.verdict == HBX_VERDICT_OK)
        return;
    struct stat st;
    if (fstat(r->log_fd, &st) != 0 || st.st_size == 0)
        return;
    char buf[2048];
    off_t from = st.st_size > (off_t)sizeof buf - 1 ? st.st_size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(r->log_fd, buf, sizeof buf - 1, from);
    if (n <= 0)
        return;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    if (*line)
        snprintf(c->log_tail, sizeof c->log_tail, "%.*s", (int)sizeof c->log_tail - 1, line);
}

/* Ensures a predict worker forked from the fitted one; on failure the
 * fork's record becomes the call's. */
static int ensure_worker(run *r, kit_call *c)
{
    if (r->worker)
        return 0;
    if (hbx_worker_fork(r->fitted, &r->worker, &c->rec) == 0)
        return 0;
    c->ran = 1;
    static const char prefix[] = "forking a predict worker after fit: ";
    char d[sizeof c->rec.detail];
    snprintf(d, sizeof d, "%s%.*s", prefix, (int)(sizeof d - sizeof prefix), c->rec.detail);
    memcpy(c->rec.detail, d, sizeof d);
    r->worker = NULL;
    return -1;
}

/* Predicts on the block's current contents in the current worker. A worker
 * that did not answer (dead, killed, confused) is replaced for the next
 * call; one that answered badly is still sound. */
static void predict(run *r, kit_call *c)
{
    if (ensure_worker(r, c) != 0) {
        log_tail(r, c);
        return;
    }
    c->ran = 1;
    hbx_worker_predict(r->worker, r->pe_fd, r->pe.size, r->s->opt.predict_timeout_s, &c->pred,
                       &c->rec);
    if (c->rec.verdict != HBX_VERDICT_OK && c->rec.verdict != HBX_VERDICT_BAD_OUTPUT) {
        hbx_worker_destroy(r->worker);
        r->worker = NULL;
    }
    log_tail(r, c);
}

/* Fills the PE block with a pseudo-experiment at `mu`, nuisances drawn from
 * its own seed like in a run. Returns 0 or -1 (setup_error set). */
static int make_pe(run *r, double mu, uint64_t seed)
{
    hbx_nuisances nu;
    hbx_pe_draw_nuisances(seed, HBX_SYST_ALL, &nu);
    int rc = hbx_pe_generate(r->pool, mu, &nu, seed, &r->pe.table, NULL);
    if (rc != HBX_OK) {
        set_error(r->s, "generating a pseudo-experiment failed (code %d)", rc);
        return -1;
    }
    hbx_block_set_count(&r->pe, r->pe.table.n);
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rmtree(const char *dir)
{
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh private directory under $TMPDIR (or /tmp). */
static int make_dir(char *out, size_t len, const char *what)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(out, len, "%s/hbx-kit-%s-XXXXXX", tmp, what);
    return mkdtemp(out) ? 0 : -1;
}

static void name_calls(kit_session *s)
{
    snprintf(s->load.what, sizeof s->load.what, "loading the plugin in a worker");
    snprintf(s->fit.what, sizeof s->fit.what,
             "create + fit on a generated training set of %llu events",
             (unsigned long long)s->train_events);
    for (int i = 0; i < KIT_N_PE; i++)
        snprintf(s->pe[i].what, sizeof s->pe[i].what, "predict on PE %d (mu = %g, %llu events)",
                 i, s->mu[i], (unsigned long long)s->pe_events[i]);
    snprintf(s->again_same.what, sizeof s->again_same.what,
             "predict on PE 0 repeated in the same worker");
    snprintf(s->again_fresh.what, sizeof s->again_fresh.what,
             "predict on PE 0 in another worker forked after fit");
    snprintf(s->tiny.what, sizeof s->tiny.what, "predict on a tiny PE (%d events)",
             KIT_TINY_EVENTS);
    snprintf(s->empty.what, sizeof s->empty.what, "predict on an empty PE (0 events)");
}

/* Load, fit and the predicts, once the data and directories are ready. */
static void calls(run *r, const hbx_block *train, int train_fd, const char *probe)
{
    kit_session *s = r->s;
    /* The worker starts in the probe directory: a plugin's relative paths
     * land there, where the kit can see them. */
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int moved = here >= 0 && chdir(probe) == 0;
    s->load.ran = 1;
    int rc = hbx_worker_spawn(r->sb, &r->fitted, &s->load.rec);
    if (moved && fchdir(here) != 0)
        set_error(s, "cannot return to the working directory: %s", strerror(errno));
    if (here >= 0)
        close(here);
    if (rc == 0)
        rc = hbx_worker_load(r->fitted, &s->info, &s->load.rec);
    log_tail(r, &s->load);
    if (rc != 0)
        return;

    s->fit.ran = 1;
    rc = hbx_worker_fit(r->fitted, train_fd, train->size, s->opt.fit_timeout_s, &s->fit.rec);
    log_tail(r, &s->fit);
    if (rc != 0)
        return;

    for (int i = 0; i < KIT_N_PE; i++) {
        if (make_pe(r, s->mu[i], s->opt.seed + 1 + (uint64_t)i) != 0)
            return;
        s->pe_events[i] = r->pe.table.n;
        name_calls(s);
        predict(r, &s->pe[i]);
        if (i == 0) {
            /* The same events again: in this worker, then in a fresh one. */
            predict(r, &s->again_same);
            hbx_worker *first = r->worker;
            r->worker = NULL;
            predict(r, &s->again_fresh);
            hbx_worker_destroy(r->worker);
            r->worker = first;
        }
    }
    if (make_pe(r, 1.0, s->opt.seed + 1 + KIT_N_PE) != 0)
        return;
    hbx_block_set_count(&r->pe, r->pe.table.n < KIT_TINY_EVENTS ? r->pe.table.n : KIT_TINY_EVENTS);
    predict(r, &s->tiny);
    hbx_block_set_count(&r->pe, 0);
    predict(r, &s->empty);
}

void kit_session_run(kit_session *s)
{
    s->ran = 1;
    for (int i = 0; i < KIT_N_PE; i++)
        s->mu[i] = kit_mu[i];
    run r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.pe_fd = r.log_fd = -1;
    hbx_table train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    hbx_block train_block;
    memset(&train_block, 0, sizeof train_block);
    int train_fd = -1;
    char scratch[PATH_MAX] = "", probe[PATH_MAX] = "", plugin_dir[PATH_MAX] = "";
    kit_snapshot *plugin_snap = NULL, *probe_snap = NULL;
    char err[512];
    name_calls(s);

    if (!s->worker) {
        set_error(s, "cannot find the higgsbox-worker executable relative to the conformance "
                     "kit; set hbx_conformance_options.worker");
        goto out;
    }
    /* A plugin that does not exist gets the worker's precise verdict. */
    char *real = realpath(s->plugin, NULL);
    if (real) {
        snprintf(plugin_dir, sizeof plugin_dir, "%s", real);
        free(real);
        *strrchr(plugin_dir, '/') = '\0';
    }

    hbx_gen_options g;
    hbx_gen_options_default(&g);
    g.events = s->opt.events;
    g.seed = s->opt.seed;
    g.threads = 0;
    if (hbx_generate(&g, &train, &test, err, sizeof err) != 0) {
        set_error(s, "generating the toy dataset: %s", err);
        goto out;
    }
    s->train_events = train.n;
    name_calls(s);
    if (hbx_pe_pool_create(&r.pool, &test, err, sizeof err) != 0) {
        set_error(s, "preparing pseudo-experiments: %s", err);
        goto out;
    }
    double mu_max = 1.0;
    for (int i = 0; i < KIT_N_PE; i++)
        mu_max = s->mu[i] > mu_max ? s->mu[i] : mu_max;
    hbx_dataset view = hbx_table_view(&train);
    if (hbx_block_from_dataset(&train_block, "hbx-kit-train", &view) != 0 ||
        (train_fd = hbx_block_reader_fd(&train_block)) < 0 ||
        hbx_block_create(&r.pe, "hbx-kit-pe", hbx_pe_capacity(r.pool, mu_max), 0) != 0 ||
        (r.pe_fd = hbx_block_reader_fd(&r.pe)) < 0) {
        set_error(s, "cannot allocate shared memory for the data: %s", strerror(errno));
        goto out;
    }
    hbx_table_free(&train);

    if (make_dir(scratch, sizeof scratch, "scratch") != 0 ||
        make_dir(probe, sizeof probe, "probe") != 0) {
        set_error(s, "cannot create a temporary directory: %s", strerror(errno));
        goto out;
    }
    plugin_snap = plugin_dir[0] ? kit_snapshot_take(plugin_dir, 1) : NULL;
    probe_snap = kit_snapshot_take(probe, 8);
    if ((plugin_dir[0] && !plugin_snap) || !probe_snap) {
        set_error(s, "cannot list %s: %s", plugin_snap ? probe : plugin_dir, strerror(errno));
        goto out;
    }

    if (s->opt.log_fd >= 0) {
        r.log_fd = s->opt.log_fd;
    } else {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/log", probe) >= (int)sizeof path) {
            set_error(s, "the working directory's path is too long: %s", probe);
            goto out;
        }
        r.log_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (r.log_fd < 0 || unlink(path) != 0) {
            set_error(s, "cannot create a log file: %s", strerror(errno));
            goto out;
        }
        r.own_log = 1;
    }
    r.sb = hbx_sandbox_new();
    if (!r.sb || hbx_sandbox_set_plugin(r.sb, s->plugin) != 0 ||
        hbx_sandbox_set_worker(r.sb, s->worker) != 0 ||
        hbx_sandbox_set_scratch_dir(r.sb, scratch) != 0) {
        set_error(s, "out of memory");
        goto out;
    }
    hbx_sandbox_set_log_fd(r.sb, r.log_fd);
    hbx_sandbox_set_memory_limit(r.sb, s->opt.memory_bytes);

    calls(&r, &train_block, train_fd, probe);

    hbx_worker_destroy(r.worker);
    r.worker = NULL;
    hbx_worker_destroy(r.fitted);
    r.fitted = NULL;
    /* Sized so that the message fits s->changed whole. */
    char what[256];
    if (plugin_snap && kit_snapshot_changed(plugin_snap, what, sizeof what))
        snprintf(s->changed, sizeof s->changed, "in the plugin's directory %.250s: %s",
                 plugin_dir, what);
    else if (kit_snapshot_changed(probe_snap, what, sizeof what))
        snprintf(s->changed, sizeof s->changed, "in the worker's working directory: %s", what);

out:
    hbx_worker_destroy(r.worker);
    hbx_worker_destroy(r.fitted);
    hbx_sandbox_destroy(r.sb);
    if (r.own_log)
        close(r.log_fd);
    kit_snapshot_free(plugin_snap);
    kit_snapshot_free(probe_snap);
    rmtree(scratch);
    rmtree(probe);
    if (r.pe_fd >= 0)
        close(r.pe_fd);
    hbx_block_destroy(&r.pe);
    if (train_fd >= 0)
        close(train_fd);
    hbx_block_destroy(&train_block);
    hbx_pe_pool_destroy(r.pool);
    hbx_table_free(&train);
    hbx_table_free(&test);
}

void kit_session_clear(kit_session *s)
{
    free(s->plugin);
    free(s->worker);
    memset(s, 0, sizeof *s);
}
