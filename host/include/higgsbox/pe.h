/*
 * Pseudo-experiments (HIGGSML.md §5).
 *
 * A pool is built once from the test split; each PE is then a pure function
 * of (pool, mu, nuisances, seed): Poisson-resampled pool events, in random
 * order, shifted by the systematics exactly as hbx_systematics_apply() would
 * (the same per-event kernel, systematics_kernel.h), DER recomputed, written
 * as 28 feature columns into a caller-provided table of fixed capacity.
 * Nothing depends on the thread, the process or the order in which PEs are
 * made: same inputs, bit-identical PE.
 *
 * Sampling. For each pool event i of process k the PE holds n_i ~
 * Poisson(norm_k * w_i) copies in random order. Equivalently (and this is
 * what is done, exactly): the total K ~ Poisson(sum_i norm_k * w_i), then K
 * independent draws, each picking event i with probability proportional to
 * norm_k * w_i (process first, then an event within it: uniform when the
 * process's weights are all equal, else through a Walker alias table built
 * once per pool). Independent draws arrive in uniformly random order, which
 * is the shuffle. Cost: O(K), never O(pool size), per PE.
 *
 * All randomness of a PE derives from its seed: the nuisances
 * (hbx_pe_draw_nuisances), K, and per draw j one counter-based stream giving
 * the event and its soft-MET noise.
 */
#ifndef HIGGSBOX_PE_H
#define HIGGSBOX_PE_H

#include <stddef.h>
#include <stdint.h>

#include "higgsbox/physics.h"
#include "higgsbox/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which nuisances vary from PE to PE (HIGGSML.md §5 table); the others stay
 * nominal. */
enum {
    HBX_SYST_TES = 1u << 0,
    HBX_SYST_JES = 1u << 1,
    HBX_SYST_SOFT_MET = 1u << 2,
    HBX_SYST_TTBAR = 1u << 3,
    HBX_SYST_DIBOSON = 1u << 4,
    HBX_SYST_BKG = 1u << 5,
    HBX_SYST_ALL = (1u << 6) - 1u,
    HBX_SYST_NONE = 0u
};

/* Parses "all", "none" or a comma-separated list of tes, jes, soft_met,
 * ttbar_scale, diboson_scale, bkg_scale (ttbar, diboson, bkg also accepted).
 * Returns 0 with *mask set, or -1 (unknown or empty name, *mask untouched). */
int hbx_syst_parse(const char *text, unsigned *mask);

/* Formats a mask as hbx_syst_parse reads it: "all", "none" or the official
 * names joined by commas. Returns the length snprintf would write. */
int hbx_syst_format(unsigned mask, char *buf, size_t len);

/* Name of the nuisance of one HBX_SYST_* bit ("tes", ..., "bkg_scale"), or
 * NULL when `bit` is not exactly one of them. */
const char *hbx_syst_name(unsigned bit);

/* The seed of PE `index` of set `set`: set * n_pe + index + base_seed
 * (modulo 2^64). */
uint64_t hbx_pe_seed(uint64_t base_seed, unsigned set, unsigned n_pe, unsigned index);

/* Draws the nuisances of a PE from its seed: for each bit of `mask` the §5
 * distribution, clipped (tes, jes ~ N(1, 0.01) in [0.9, 1.1]; soft_met ~
 * LogNormal(0, 1) in [0, 5]; ttbar_scale ~ N(1, 0.02) in [0.8, 1.2];
 * diboson_scale ~ N(1, 0.25) in [0, 2]; bkg_scale ~ N(1, 0.001) in
 * [0.99, 1.01]); nominal for the others. Each nuisance has its own stream,
 * so switching one on or off leaves the others' values unchanged.
 * post_selection is on. */
void hbx_pe_draw_nuisances(uint64_t pe_seed, unsigned mask, hbx_nuisances *out);

/* The pool: the test events, prepared. Immutable once built, so one pool
 * serves any number of threads at once. */
typedef struct hbx_pe_pool hbx_pe_pool;

/* Builds a pool from `test`, which must carry weights and process (labels
 * are not used). The pool copies what it needs: `test` may be freed after.
 * Weights must be finite and >= 0. Returns HBX_OK, or HBX_E_INVALID /
 * HBX_E_NOMEM with a one-line reason in err (naming the event for bad
 * data). */
int hbx_pe_pool_create(hbx_pe_pool **out, const hbx_table *test, char *err, size_t len);

/* Builds the pool of the test split of a dataset file, reading it in
 * chunks: memory is the pool (64 bytes per event) plus the weights (8 bytes
 * per event, released at the end), never the whole split. The same pool as
 * hbx_pe_pool_create() on the loaded split. Returns HBX_OK, or
 * HBX_E_IO / HBX_E_INVALID / HBX_E_NOMEM with a one-line reason naming the
 * file in err. */
int hbx_pe_pool_load(hbx_pe_pool **out, const char *path, char *err, size_t len);

/* Frees the pool. NULL is ignored. */
void hbx_pe_pool_destroy(hbx_pe_pool *pool);

/* Events of each process in the pool and their sums of weights. Either
 * array may be NULL. */
void hbx_pe_pool_totals(const hbx_pe_pool *pool, uint64_t counts[HBX_N_PROCESSES],
                        double sums[HBX_N_PROCESSES]);

/* Bytes the pool holds. */
uint64_t hbx_pe_pool_bytes(const hbx_pe_pool *pool);

/* A capacity that holds any PE of this pool with mu <= mu_max and nuisances
 * inside the §5 clipping ranges: the largest expected count plus 10 standard
 * deviations (and 32 events), which a Poisson count exceeds with probability
 * below 1e-20. */
uint64_t hbx_pe_capacity(const hbx_pe_pool *pool, double mu_max);

/* What a PE generation saw. For tests and the organiser's tools only: none
 * of it ever reaches a worker. */
typedef struct hbx_pe_stats {
    double expected;                          /* sum of norm * w (mean of `drawn`) */
    double expected_process[HBX_N_PROCESSES];
    uint64_t drawn;                           /* events before the post-selection (K) */
    uint64_t kept;                            /* events in the PE */
    uint64_t drawn_process[HBX_N_PROCESSES];
    uint64_t kept_process[HBX_N_PROCESSES];
} hbx_pe_stats;

/* Generates one PE into `out`: sets out->n and the 28 feature columns of
 * events [0, out->n). `out` keeps its capacity and memory (it may be the
 * table of an hbx_block in shared memory); its weights, labels and process
 * columns, if any, are left untouched. mu >= 0; nu as hbx_nuisances_check
 * accepts. `stats` may be NULL.
 * Returns HBX_OK; HBX_E_NOMEM when the PE does not fit out->capacity (out->n
 * is then 0); HBX_E_INVALID for bad arguments. */
int hbx_pe_generate(const hbx_pe_pool *pool, double mu, const hbx_nuisances *nu, uint64_t pe_seed,
                    hbx_table *out, hbx_pe_stats *stats);

/* Writes a PE's 28 feature columns to an HDF5 file (group "pe", one float32
 * dataset per feature, named as the official columns; root attributes
 * "format" = "higgsbox-pe", "format_version" = 1 and "provenance", a JSON
 * object text). There are no weights, labels or process: a PE has none.
 * Written to a temporary file renamed into place, so a failure leaves no
 * file. Returns 0, or -1 with a one-line reason naming the file in err. */
int hbx_pe_write(const char *path, const hbx_table *pe, const char *provenance, char *err,
                 size_t len);

#ifdef __cplusplus
}
#endif
#endif /* HIGGSBOX_PE_H */
