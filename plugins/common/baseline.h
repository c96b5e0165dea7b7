/*
 * Code shared by the baseline plugins (count, xgb-count, profile). It is not
 * a library: each plugin compiles the files it needs into its own module, so
 * a plugin still links nothing of the host. Every symbol here is internal to
 * the module that includes it (the plugins build with hidden visibility).
 */
#ifndef HBX_BASELINE_H
#define HBX_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include <higgsbox/plugin.h>

/* ---------------------------------------------------------------------------
 * Configuration: optional `baseline.conf` in the submission directory, lines
 * of `key = value` ('#' starts a comment). Each plugin's README lists the keys
 * it reads; all of them have defaults, so the file is optional.
 */
#define BL_CONFIG_FILE "baseline.conf"

typedef struct bl_config {
    int fit_threads;        /* threads for training and template scoring */
    int predict_threads;    /* threads per predict call (1: safe after fork) */
    uint64_t train_events;  /* most events the classifier trains on */
    double train_fraction;  /* largest share of the training set used for training */
    int trees;              /* boosting rounds */
    int depth;              /* tree depth */
    double eta;             /* learning rate */
    int bins;               /* profile: score bins of the likelihood */
    uint64_t min_mc_events; /* fewest simulated events a region/bin may hold per class */
    uint64_t seed;          /* split and soft-MET template seeds */
    char model[256];        /* classifier file name in the submission directory */
} bl_config;

/* Fills *cfg with defaults, then overrides them from the submission
 * directory's baseline.conf when there is one. Returns HBX_OK, or
 * HBX_E_INVALID after logging one line naming the file, line and problem. */
int bl_config_load(const hbx_host_api *host, bl_config *cfg);

/* Logs a printf-style line through host->log. */
void bl_log(const hbx_host_api *host, hbx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Seconds on the monotonic clock, for the timings the plugins log. */
double bl_now(void);

/* ---------------------------------------------------------------------------
 * Events: a read-only view plus whoever owns its memory (the plugin, or the
 * host when it came from a service).
 */
typedef struct bl_events {
    hbx_dataset view;           /* what the algorithms read */
    hbx_dataset *host_owned;    /* set when `view` belongs to a host dataset */
    const hbx_host_api *host;   /* to free host_owned */
    void *memory;               /* set when the plugin owns the arrays */
} bl_events;

/* Releases whichever memory backs `ev` and zeroes it. Safe on a zeroed one. */
void bl_events_free(bl_events *ev);

/* Fetches the whole training set (host->get_train_set) and splits it at
 * random (from `seed`) into `train`, which gets fraction·N events but at most
 * max_train, and `rest`, which gets the others. The weights of each part are
 * rescaled so that each process keeps its total expected yield in each part.
 * fraction 0 puts every event in `rest`. Both outputs are owned by the
 * caller. Returns HBX_OK or an HBX_E_* code (logged). */
int bl_split_train_set(const hbx_host_api *host, double fraction, uint64_t max_train,
                       uint64_t seed, bl_events *train, bl_events *rest);

/* Splits the labelled, weighted events of `all` at random (from `seed`):
 * `first` gets fraction·N of them but at most max_first, `second` the rest;
 * each part's weights are rescaled so every process keeps its total. */
int bl_split(const hbx_host_api *host, const hbx_dataset *all, double fraction,
             uint64_t max_first, uint64_t seed, bl_events *first, bl_events *second);

/* Applies nuisances through the host's systematics service; *out (owned by
 * the caller) is the shifted copy of `in`. A host without the service
 * (HBX_E_UNAVAILABLE) is tolerated for nominal nuisances only: *out then
 * borrows `in` unchanged, after a warning. Returns HBX_OK or an HBX_E_*. */
int bl_shift(const hbx_host_api *host, const bl_events *in, const hbx_nuisances *nu,
             uint64_t seed, bl_events *out);

/* Sum of the weights of each process (indexed by hbx_process). */
void bl_process_yields(const hbx_dataset *d, double yields[HBX_N_PROCESSES]);

/* ---------------------------------------------------------------------------
 * Counting statistics (stat-only)
 */

/* The summary of one selected region in weighted simulation. */
typedef struct bl_region {
    double s;       /* expected signal events at mu = 1 */
    double b;       /* expected background events */
    double b_var;   /* variance of b from simulation statistics: sum of w^2 */
    uint64_t n_sig; /* simulated signal events in the region */
    uint64_t n_bkg; /* simulated background events in the region */
} bl_region;

/* The figure of merit a region is chosen by: S / sqrt(B + var_MC(B)), which
 * is S/sqrt(B) penalised where the simulation is thin; -1 when the region
 * holds fewer than min_mc simulated events of either class. */
double bl_region_significance(const bl_region *r, uint64_t min_mc);

/* Chooses the score threshold t maximising bl_region_significance() of the
 * region score >= t over the labelled, weighted events of `d` (scores[i]
 * belongs to event i). On HBX_OK *threshold and *region are set; returns
 * HBX_E_PLUGIN when no threshold leaves min_mc simulated events of each
 * class, HBX_E_NOMEM. */
int bl_best_threshold(const hbx_dataset *d, const float *scores, uint64_t min_mc,
                      float *threshold, bl_region *region);

/* The yields of the region score >= threshold in `d`. */
void bl_region_above(const hbx_dataset *d, const float *scores, float threshold,
                     bl_region *region);

/* Estimate of mu from n events counted where s signal (mu = 1) and b
 * background events are expected, b itself known to a variance b_var from
 * the simulation statistics of its estimate (0: exactly). mu_hat = (n - b)/s;
 * [p16, p84] where -2 ln of the profile likelihood ratio is 1, the
 * background profiled with its Gaussian constraint; so the interval
 * carries the data's Poisson fluctuation and the estimate's own. No
 * systematics. delta_mu_hat is half the interval. Returns HBX_OK,
 * HBX_E_INVALID (s <= 0, b < 0, b_var < 0) or HBX_E_PLUGIN. */
int bl_count_estimate(double n, double s, double b, double b_var, hbx_prediction *out);

#endif
