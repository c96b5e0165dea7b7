/*
 * The evaluation run: fit a submission once, then predict on many
 * pseudo-experiments in sandboxed workers, within a time budget, leaving
 * everything in a run directory (docs/RUNDIR.md).
 *
 *   hbx_run *r = hbx_run_new();
 *   hbx_run_set_plugin(r, "constant.so");
 *   hbx_run_set_data(r, "data.h5");
 *   hbx_run_set_output(r, "runs/constant");
 *   hbx_run_summary s;
 *   if (hbx_run_execute(r, &s, err, sizeof err) != 0) ...
 *   hbx_run_destroy(r);
 *
 * Results are bit-identical for the same seed whatever the number of
 * workers or shards: every PE is generated from its own seed alone.
 */
#ifndef HIGGSBOX_RUN_H
#define HIGGSBOX_RUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hbx_run hbx_run;

/* Above this mean background weight in the PE pool, a run and its score
 * carry a note: the pool's own fluctuation then adds more than 5 % to a
 * PE's variance, a bias no method can see (docs/ANALYSIS.md). */
#define HBX_POOL_WEIGHT_NOTE 0.05

/* Progress after each pseudo-experiment. Called from the thread that
 * finished it, serialised by the run (never concurrently). */
typedef struct hbx_run_progress {
    uint64_t done;     /* PEs finished in this invocation (any verdict) */
    uint64_t total;    /* PEs this invocation has to do */
    uint64_t failures; /* of done, verdict not OK */
    double elapsed_s;  /* since the first predict */
} hbx_run_progress;
typedef void (*hbx_run_progress_fn)(const hbx_run_progress *p, void *user);

/* Totals of a finished run invocation. */
typedef struct hbx_run_summary {
    uint64_t planned;         /* PEs of this shard */
    uint64_t skipped;         /* already done (resume) */
    uint64_t verdicts[16];    /* count per hbx_verdict of the PEs done now */
    uint64_t not_run;         /* left when the budget ran out */
    double setup_s;           /* loading data, building the PE pool, run.json */
    double fit_s, predict_s, generate_s, total_s;
    int fit_ok;
    char fit_verdict[600];    /* hbx_call_record_describe of fit */
    /* Mean weight of the test pool's background events: the pool's own
     * statistical fluctuation, shared by every PE, adds about this fraction
     * to a PE's Poisson variance (docs/ANALYSIS.md). */
    double pool_background_weight;
} hbx_run_summary;

/* A run with the defaults: 10 sets × 100 PEs, the public-phase list of true
 * μ, all systematics, 2 workers, seed 42, fit 3600 s, predict 600 s, budget
 * 7200 s, memory 8 GiB. NULL on allocation failure. */
hbx_run *hbx_run_new(void);
void hbx_run_destroy(hbx_run *r);

/* Required: the plugin, the dataset, the run directory (created; must not
 * hold another run unless resuming). Strings are copied. 0 or -1. */
int hbx_run_set_plugin(hbx_run *r, const char *path);
int hbx_run_set_data(hbx_run *r, const char *path);
int hbx_run_set_output(hbx_run *r, const char *dir);

/* Optional settings. Setters returning int reject bad values with -1. */
int hbx_run_set_sets(hbx_run *r, unsigned sets);
int hbx_run_set_pseudo_experiments(hbx_run *r, unsigned per_set);
/* True μ per set: a list (its length must equal the number of sets when the
 * run starts), or drawn Uniform(0.1, 3) per set from the seed. */
int hbx_run_set_mu_list(hbx_run *r, const double *mu, unsigned n);
void hbx_run_set_mu_random(hbx_run *r);
/* Systematics switched on (HBX_SYST_* mask from pe.h). */
void hbx_run_set_systematics(hbx_run *r, unsigned mask);
int hbx_run_set_workers(hbx_run *r, unsigned workers);
void hbx_run_set_seed(hbx_run *r, uint64_t seed);
int hbx_run_set_fit_timeout(hbx_run *r, double seconds);
int hbx_run_set_predict_timeout(hbx_run *r, double seconds);
int hbx_run_set_budget(hbx_run *r, double seconds);
int hbx_run_set_memory(hbx_run *r, uint64_t bytes);
/* Only PEs at positions p of the shuffled schedule with p % n == k. */
int hbx_run_set_shard(hbx_run *r, unsigned k, unsigned n);
/* Continue the run already in the output directory: its settings are
 * taken from its run.json; PEs already recorded are not redone. */
void hbx_run_set_resume(hbx_run *r, int resume);
void hbx_run_set_progress(hbx_run *r, hbx_run_progress_fn fn, void *user);
/* The worker executable (default: beside the running program). */
int hbx_run_set_worker(hbx_run *r, const char *path);

/* Runs. Returns 0 when the run directory is complete and consistent (even
 * if some PEs failed: their verdicts are recorded), or -1 with a one-line
 * reason in `err` (bad settings, unreadable data, ...); results already
 * recorded stay in the run directory. */
int hbx_run_execute(hbx_run *r, hbx_run_summary *summary, char *err, size_t err_len);

/* Merges the run directories of the shards of one run into `out` (created),
 * equal to the unsharded run's. Returns 0, or -1 with `err`. */
int hbx_run_merge(const char *const *dirs, unsigned n, const char *out, char *err,
                  size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
