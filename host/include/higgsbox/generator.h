/*
 * The toy generator (`higgsbox gen`): a small Monte-Carlo of the four
 * HiggsML processes (H→ττ, Z→ττ, ttbar, diboson) built from physics — boson
 * line shapes, τ decay spectra, production recoil, detector smearing and
 * acceptance — not from fitted histograms. docs/DATA.md describes the model
 * and how close it comes to the real data.
 *
 * Output is a function of the options only, never of the thread count:
 * events are made in fixed blocks of HBX_GEN_BLOCK, each block from its own
 * counter-based random stream keyed by (seed, block index), and placed by
 * block index.
 */
#ifndef HIGGSBOX_GENERATOR_H
#define HIGGSBOX_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

#include "higgsbox/physics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Events per block (and per random stream). Part of the output's definition:
 * changing it changes what a seed produces. */
#define HBX_GEN_BLOCK 8192

/* Largest seed: seeds are stored as JSON integers in the provenance. */
#define HBX_GEN_SEED_MAX INT64_MAX

typedef struct hbx_gen_options {
    uint64_t events;            /* accepted events written, both splits together (>= 1) */
    uint64_t seed;              /* <= HBX_GEN_SEED_MAX */
    double signal_oversampling; /* signal events per expected signal event, relative to the
                                   backgrounds (> 0) */
    double test_fraction;       /* share of the events in the test split, [0, 1] */
    int threads;                /* worker threads; 0 = one per online CPU */
} hbx_gen_options;

/* Expected events of a process in 10 fb^-1 (HIGGSML.md §2): what the
 * weights of each split sum to. 0 for an unknown process. */
double hbx_expected_yield(int process);

/* Fills the defaults: 2,000,000 events, seed 42, oversampling 300, test
 * fraction 0.3, threads 0. */
void hbx_gen_options_default(hbx_gen_options *o);

/* Checks the options. Returns 0, or -1 with a one-line reason in `err`. */
int hbx_gen_options_check(const hbx_gen_options *o, char *err, size_t err_len);

/* How many events of each process the options put in each split
 * (count[HBX_SPLIT_TRAIN or HBX_SPLIT_TEST][process]); cheap, no physics.
 * Returns 0, or -1 with `err` set when the options are invalid. */
int hbx_gen_counts(const hbx_gen_options *o, uint64_t count[2][HBX_N_PROCESSES], char *err,
                   size_t err_len);

/* Generates the events in memory. `train` and `test` must be zeroed or
 * freed tables; they are allocated here with HBX_TABLE_TRUTH columns
 * (release with hbx_table_free). Within each split, the weights of each
 * process sum to its hbx_expected_yield. Returns 0, or -1 with `err` set
 * (then both tables are freed). */
int hbx_generate(const hbx_gen_options *o, hbx_table *train, hbx_table *test, char *err,
                 size_t err_len);

/* Generates the events into a dataset file at `path` through the streaming
 * writer (memory bounded by a few blocks per thread, whatever the event
 * count). The provenance records generator, version, seed, events,
 * signal_oversampling and test_fraction. On failure no file is left at
 * `path`. Returns 0, or -1 with `err` set. */
int hbx_generate_file(const hbx_gen_options *o, const char *path, char *err, size_t err_len);

/* ---------------------------------------------------------------------------
 * Comparing with the real data (HIGGSML.md §9)
 */

/* Kinematic summary of one process. */
typedef struct hbx_kin_stats {
    uint64_t n;                         /* events passing the had_pt cut */
    double mvis_median, mvis_q16, mvis_q84; /* DER_mass_vis */
    double met_median;
    double lep_pt_median, had_pt_median;
    double njets_frac[4];               /* PRI_n_jets = 0, 1, 2, >= 3 */
} hbx_kin_stats;

typedef struct hbx_kin_summary {
    hbx_kin_stats process[HBX_N_PROCESSES];
    /* Over all processes, each event counted with its weight (the physical
     * mix, dominated by Z→ττ). */
    double lep_pt_median_weighted, had_pt_median_weighted;
} hbx_kin_summary;

/* Summarises the events of `d` with PRI_had_pt >= had_pt_min, per process
 * (d->process is required; d->weights for the weighted medians, which are
 * NaN without it). Statistics of an empty process are NaN. Returns HBX_OK,
 * HBX_E_INVALID (no process column) or HBX_E_NOMEM. */
int hbx_kinematics_summary(const hbx_dataset *d, double had_pt_min, hbx_kin_summary *out);

#ifdef __cplusplus
}
#endif
#endif
