/*
 * Scoring a run directory (HIGGSML.md §7, docs/SCORING.md): per set and
 * pooled coverage, interval width, the quantile score, RMSE and MAE, a
 * bootstrap of the score over sets, the failed PEs; scores.json, the HTML
 * report and the leaderboard of several runs.
 *
 *   hbx_rundir *run;
 *   hbx_scores *sc;
 *   hbx_score_options opt;
 *   hbx_score_options_default(&opt);
 *   if (hbx_score_load_dir("runs/x", &run, err, sizeof err) != 0 ||
 *       hbx_score_compute(run, &opt, &sc, err, sizeof err) != 0) ...
 *   hbx_score_write_json(run, sc, "runs/x/scores.json", err, sizeof err);
 *   hbx_report_write_html(run, sc, "runs/x/report.html", err, sizeof err);
 *   hbx_scores_free(sc);
 *   hbx_rundir_free(run);
 *
 * Errors are one line in `err` naming the file (and line:column for JSON).
 */
#ifndef HIGGSBOX_SCORE_H
#define HIGGSBOX_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_t;

/* The constants of the original scoring program. */
#define HBX_SCORE_EPSILON 1e-3  /* added to the width inside the log */
#define HBX_SCORE_ONE_SIGMA 0.6827 /* the target coverage */

/* ---- the formulas ------------------------------------------------------ */

/* σ68 = sqrt(0.6827·0.3173·n)/n, the binomial spread of the coverage of n
 * PEs. NAN for n = 0. */
double hbx_score_sigma68(uint64_t n);

/* The coverage penalty f(c) for n PEs: 1 inside [0.6827 − 2σ68,
 * 0.6827 + 2σ68], 1 + |(c − lo)/σ68|⁴ below, 1 + |(c − hi)/σ68|³ above.
 * NAN for n = 0 or a NAN coverage. */
double hbx_score_coverage_penalty(double coverage, uint64_t n);

/* The quantile score −ln((width + ε)·f(coverage)); higher is better. */
double hbx_score_quantile(double width, double coverage, uint64_t n);

/* Point-estimate errors of one PE with true μ:
 * RMSE_PE = sqrt(d² + (d² − δ²)²), MAE_PE = |d| + ||d| − δ|, d = μ̂ − μ. */
double hbx_score_rmse_pe(double mu, double mu_hat, double delta_mu_hat);
double hbx_score_mae_pe(double mu, double mu_hat, double delta_mu_hat);

/* 1 when p16 ≤ μ ≤ p84 (both ends count as covered), else 0. */
int hbx_score_covers(double mu, double p16, double p84);

/* The set indices one bootstrap replicate draws: `k` draws with replacement
 * from 0..n_sets−1, from an MT19937 seeded with `seed`, each a 32-bit output
 * masked to the smallest 2^b−1 ≥ n_sets−1 and redrawn when too large — the
 * draws of numpy's RandomState(seed).choice(n_sets, k), so a run of the
 * original's bootstrap can be reproduced exactly (docs/SCORING.md). Fills
 * out[0..k−1]; returns 0, or −1 when n_sets is 0 or out of memory. */
int hbx_score_bootstrap_draw(uint64_t seed, uint32_t n_sets, uint64_t k, uint32_t *out);

/* ---- run directories --------------------------------------------------- */

typedef enum hbx_rundir_format {
    HBX_RUNDIR_AUTO = 0,     /* run.json present → higgsbox, else original */
    HBX_RUNDIR_HIGGSBOX = 1, /* run.json + pes.jsonl (docs/RUNDIR.md) */
    HBX_RUNDIR_ORIGINAL = 2, /* result_<s>.json + test_settings.json only */
} hbx_rundir_format;

/* Bits of hbx_rundir.systematics, in the order of HIGGSML.md §5. */
#define HBX_SCORE_N_SYST 6
extern const char *const hbx_score_syst_names[HBX_SCORE_N_SYST];

/* One pseudo-experiment as scored. */
typedef struct hbx_score_pe {
    uint32_t set, index;
    uint64_t seed;         /* valid when has_seed */
    int has_seed;
    double mu_true;
    int ok;                /* verdict OK: the four numbers below are valid */
    double mu_hat, delta_mu_hat, p16, p84; /* NAN unless ok */
    char verdict[24];      /* "OK", a sandbox verdict, NOT_RUN, or MISSING
                            * (expected by run.json, absent from pes.jsonl) */
    char *detail;          /* owned, never NULL; untrusted text */
    double wall_s;         /* NAN when unknown */
} hbx_score_pe;

/* A run directory read into memory. Everything is owned by the struct. */
typedef struct hbx_rundir {
    char *path;
    hbx_rundir_format format;   /* HIGGSBOX or ORIGINAL, never AUTO */
    uint32_t n_sets;            /* sets scored */
    double *mu;                 /* true μ per set, n_sets */
    uint64_t pe_per_set;        /* from the settings; 0 when not stated */
    size_t n_pes;
    hbx_score_pe *pes;          /* ordered by (set, index) */
    /* Provenance, for the report and for comparing runs. Unknown strings
     * are NULL, unknown numbers NAN. */
    char *plugin_name, *plugin_version, *data_sha256;
    char *data_values_sha256;   /* the events' hash (hbx_dataset_values_sha256) */
    int has_seed;
    uint64_t seed;
    int has_systematics;
    unsigned systematics;       /* bit i: hbx_score_syst_names[i] on */
    uint64_t settings_sets;     /* sets the settings announce (may exceed n_sets) */
    double total_s;             /* run.json timing.total_s, or ingestion_duration */
    double ingestion_duration;  /* scores.json's ingestion_duration */
    int complete;               /* run.json "complete": 1, 0, or −1 unknown */
    uint32_t shard_k, shard_n;  /* 0, 1 unless a shard */
    struct json_t *provenance;  /* run.json (or test_settings.json), owned */
    char **notes;               /* one-line remarks (missing PEs, partial run) */
    size_t n_notes;
} hbx_rundir;

/* Reads run directory `dir` in the given format (AUTO: run.json decides).
 * Returns 0 with *out (free with hbx_rundir_free), or −1 with a one-line
 * error naming the file. Malformed, truncated or inconsistent files are
 * errors, never partially scored. */
int hbx_score_load_dir_as(const char *dir, hbx_rundir_format format, hbx_rundir **out,
                          char *err, size_t err_len);
int hbx_score_load_dir(const char *dir, hbx_rundir **out, char *err, size_t err_len);
void hbx_rundir_free(hbx_rundir *run);

/* ---- scores ------------------------------------------------------------ */

typedef struct hbx_score_options {
    uint64_t bootstrap;       /* replicates; 0 disables the bootstrap */
    uint64_t bootstrap_size;  /* sets drawn per replicate; 0 = number of sets */
    uint64_t seed;            /* replicate r uses seed + r */
} hbx_score_options;

/* Defaults: 1000 replicates of as many sets as the run has, seed 42. */
void hbx_score_options_default(hbx_score_options *opt);

typedef struct hbx_set_score {
    uint32_t set;
    double mu;
    uint64_t n, n_ok, n_covered; /* PEs; of them OK; of them covering */
    double width;     /* mean |p84 − p16| over OK PEs (0 when none) */
    double coverage;  /* n_covered / n */
    double penalty;   /* f(coverage) for n */
    double score;     /* quantile score of the set alone */
    double rmse, mae; /* means over OK PEs; NAN when none */
} hbx_set_score;

typedef struct hbx_bootstrap {
    uint64_t replicates, sample_size, seed;
    double *score, *coverage, *width; /* per replicate, owned */
    double score_mean, score_std;     /* std: population (ddof 0) */
    double coverage_mean, coverage_std, width_mean, width_std;
} hbx_bootstrap;

typedef struct hbx_verdict_count {
    char verdict[24];
    uint64_t count;
} hbx_verdict_count;

typedef struct hbx_scores {
    uint32_t n_sets;
    hbx_set_score *sets;
    uint64_t n, n_ok, n_covered; /* pooled over sets */
    double width, coverage, penalty, score; /* pooled (the original's) */
    double rmse, mae;            /* means of the sets' values */
    double ingestion_duration;   /* NAN when unknown */
    hbx_bootstrap boot;          /* replicates = 0 when disabled */
    size_t n_verdicts;
    hbx_verdict_count *verdicts; /* OK first, then by decreasing count */
    size_t n_failed;
    size_t *failed;              /* indices into run->pes of non-OK PEs */
} hbx_scores;

/* Scores `run`. Returns 0 with *out (free with hbx_scores_free), or −1 with
 * `err` (no PE at all, out of memory). */
int hbx_score_compute(const hbx_rundir *run, const hbx_score_options *opt, hbx_scores **out,
                      char *err, size_t err_len);
void hbx_scores_free(hbx_scores *scores);

/* Writes scores.json to `path` (atomically: a temporary file renamed into
 * place). The original's keys plus ours (docs/SCORING.md). 0 or −1. */
int hbx_score_write_json(const hbx_rundir *run, const hbx_scores *scores, const char *path,
                         char *err, size_t err_len);

/* The per-set table, the pooled line, the bootstrap and the failures, as
 * plain text (untrusted text sanitised for a terminal). */
void hbx_score_print_table(FILE *out, const hbx_rundir *run, const hbx_scores *scores);

/* Writes report.html: one self-contained, well-formed XHTML-compatible page
 * with inline SVG plots (docs/SCORING.md lists them), written atomically.
 * 0 or −1 with `err`. */
int hbx_report_write_html(const hbx_rundir *run, const hbx_scores *scores, const char *path,
                          char *err, size_t err_len);

/* Number of <svg> plots hbx_report_write_html draws for these scores. */
size_t hbx_report_plot_count(const hbx_scores *scores);

/* ---- comparing runs ---------------------------------------------------- */

/* 1 when `a` and `b` are not comparable (different data or settings,
 * docs/RUNDIR.md last paragraph), with a one-line reason naming the first
 * field that differs; 0 when comparable. */
int hbx_compare_settings_differ(const hbx_rundir *a, const hbx_rundir *b, char *why,
                                size_t why_len);

typedef struct hbx_compare_entry {
    const hbx_rundir *run;       /* borrowed */
    const hbx_scores *scores;    /* borrowed */
    unsigned rank;               /* 1-based; equal scores share a rank */
    int tied;
    unsigned group;              /* settings group, 0 = same as the first run */
} hbx_compare_entry;

/* Orders entries by score (best first, NAN last), assigns ranks and
 * settings groups. When runs are not comparable and allow_mixed is 0,
 * returns −1 with `err` naming both runs and the field; else 0, with
 * *mixed set when more than one group exists. */
int hbx_compare_rank(hbx_compare_entry *entries, size_t n, int allow_mixed, int *mixed,
                     char *err, size_t err_len);

/* The leaderboard as text, and as a self-contained HTML page (atomic). */
void hbx_compare_print(FILE *out, const hbx_compare_entry *entries, size_t n, int mixed);
int hbx_compare_write_html(const char *path, const hbx_compare_entry *entries, size_t n,
                           int mixed, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
