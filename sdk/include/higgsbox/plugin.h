/*
 * higgsbox plugin ABI, version 1.
 *
 * This is the one header a participant compiles against. It is header-only:
 * a plugin links nothing of higgsbox. Everything the host offers reaches the
 * plugin through the table of function pointers (struct hbx_host_api) handed
 * to create(); everything the plugin offers reaches the host through the
 * descriptor (struct hbx_plugin) returned by the single exported symbol
 * hbx_plugin_entry().
 *
 * Life cycle, one call at a time in one worker process (not necessarily on the
 * same thread each time: keep no thread-local state from one call to the next):
 *
 *   hbx_plugin_entry()  -> descriptor, checked by the worker
 *   create(host, &state)   once
 *   fit(state)             once; train through host->get_train_set / systematics
 *   predict(state, pe, &out)  once per pseudo-experiment, possibly in many
 *                          processes forked after fit (each with its own copy
 *                          of the fitted state)
 *   destroy(state)         once per process, when the worker shuts down cleanly
 *
 * ABI rules
 * ---------
 * - HBX_ABI_MAJOR changes when anything already published changes meaning,
 *   type, order or size: a field, an enum value, a function signature. A host
 *   refuses plugins of another major ("built for ABI 2, this host supports 1").
 * - HBX_ABI_MINOR grows when something is appended: a new field at the end of
 *   struct hbx_plugin or struct hbx_host_api, a new enum value after the last.
 *   Both structs carry their own size, so either side can tell which fields
 *   the other one knows: a plugin must check host->size (or use
 *   HBX_HOST_HAS()) before calling a service newer than 1.0, and the host
 *   reads a descriptor field only if struct_size covers it.
 * - A plugin built for minor m runs on any host of the same major with
 *   minor >= m. A host also runs plugins of an older minor.
 * - Nothing is ever removed or reordered within a major.
 */
#ifndef HIGGSBOX_PLUGIN_H
#define HIGGSBOX_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HBX_ABI_MAJOR 1
#define HBX_ABI_MINOR 0

/* Marks the entry symbol as exported even with -fvisibility=hidden. */
#define HBX_EXPORT __attribute__((visibility("default")))

/* ---------------------------------------------------------------------------
 * Features
 *
 * The 28 features of HIGGSML.md §2–3, in the official column order. Their
 * numeric values are part of the ABI.
 */
typedef enum hbx_feature {
    HBX_PRI_LEP_PT = 0,
    HBX_PRI_LEP_ETA,
    HBX_PRI_LEP_PHI,
    HBX_PRI_HAD_PT,
    HBX_PRI_HAD_ETA,
    HBX_PRI_HAD_PHI,
    HBX_PRI_JET_LEADING_PT,
    HBX_PRI_JET_LEADING_ETA,
    HBX_PRI_JET_LEADING_PHI,
    HBX_PRI_JET_SUBLEADING_PT,
    HBX_PRI_JET_SUBLEADING_ETA,
    HBX_PRI_JET_SUBLEADING_PHI,
    HBX_PRI_N_JETS,
    HBX_PRI_JET_ALL_PT,
    HBX_PRI_MET,
    HBX_PRI_MET_PHI,
    HBX_DER_MASS_TRANSVERSE_MET_LEP,
    HBX_DER_MASS_VIS,
    HBX_DER_PT_H,
    HBX_DER_DELTAETA_JET_JET,
    HBX_DER_MASS_JET_JET,
    HBX_DER_PRODETA_JET_JET,
    HBX_DER_DELTAR_HAD_LEP,
    HBX_DER_PT_TOT,
    HBX_DER_SUM_PT,
    HBX_DER_PT_RATIO_LEP_HAD,
    HBX_DER_MET_PHI_CENTRALITY,
    HBX_DER_LEP_ETA_CENTRALITY,
    HBX_N_FEATURES
} hbx_feature;

#define HBX_N_PRIMARY 16 /* features [0, 16) are PRI_*, [16, 28) DER_* */

/* Value of a jet quantity (or DER feature) that does not exist. */
#define HBX_UNDEFINED (-25.0f)

/* Official column name of a feature; NULL when out of range. */
static inline const char *hbx_feature_name(int feature)
{
    static const char *const names[HBX_N_FEATURES] = {
        "PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi",
        "PRI_had_pt", "PRI_had_eta", "PRI_had_phi",
        "PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi",
        "PRI_jet_subleading_pt", "PRI_jet_subleading_eta", "PRI_jet_subleading_phi",
        "PRI_n_jets", "PRI_jet_all_pt", "PRI_met", "PRI_met_phi",
        "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h",
        "DER_deltaeta_jet_jet", "DER_mass_jet_jet", "DER_prodeta_jet_jet",
        "DER_deltar_had_lep", "DER_pt_tot", "DER_sum_pt",
        "DER_pt_ratio_lep_had", "DER_met_phi_centrality", "DER_lep_eta_centrality",
    };
    return feature >= 0 && feature < HBX_N_FEATURES ? names[feature] : NULL;
}

/* Feature index of an official column name, or -1 when it names none. */
static inline int hbx_feature_index(const char *name)
{
    for (int i = 0; name && i < HBX_N_FEATURES; i++)
        if (strcmp(hbx_feature_name(i), name) == 0)
            return i;
    return -1;
}

/* Physics processes (the `detailed_labels` of the data). */
typedef enum hbx_process {
    HBX_HTAUTAU = 0, /* signal, label 1 */
    HBX_ZTAUTAU = 1,
    HBX_TTBAR = 2,
    HBX_DIBOSON = 3,
    HBX_N_PROCESSES
} hbx_process;

/* Name of a process as in `detailed_labels`; NULL when out of range. */
static inline const char *hbx_process_name(int process)
{
    static const char *const names[HBX_N_PROCESSES] = {"htautau", "ztautau", "ttbar", "diboson"};
    return process >= 0 && process < HBX_N_PROCESSES ? names[process] : NULL;
}

/* ---------------------------------------------------------------------------
 * Data views
 *
 * A read-only, columnar view of events. Every non-NULL array holds n_events
 * values. The memory belongs to whoever handed the view out (see each call);
 * it may be mapped read-only, so writing to it crashes the plugin.
 *
 * Pseudo-experiments carry features only: weights, labels and process are
 * NULL there (every event of a pseudo-experiment weighs 1). Training sets
 * carry all of them.
 */
typedef struct hbx_dataset {
    uint64_t n_events;
    const float *features[HBX_N_FEATURES]; /* index with hbx_feature */
    const double *weights;                 /* expected events; NULL in a PE */
    const uint8_t *labels;                 /* 1 signal, 0 background; NULL in a PE */
    const uint8_t *process;                /* hbx_process values; NULL in a PE */
} hbx_dataset;

/* What predict() returns: a 68.27 % interval [p16, p84] for the signal
 * strength mu, a point estimate and its uncertainty. The host rejects NaN,
 * infinities, p16 > p84 and delta_mu_hat < 0 (verdict BAD_OUTPUT). */
typedef struct hbx_prediction {
    double mu_hat;
    double delta_mu_hat;
    double p16;
    double p84;
} hbx_prediction;

/* Nuisance parameters for the systematics service (HIGGSML.md §4). */
typedef struct hbx_nuisances {
    double tes;           /* tau energy scale, nominal 1 */
    double jes;           /* jet energy scale, nominal 1 */
    double soft_met;      /* GeV of extra MET noise, nominal 0 */
    double ttbar_scale;   /* nominal 1 */
    double diboson_scale; /* nominal 1 */
    double bkg_scale;     /* nominal 1 */
    int32_t post_selection; /* nonzero: apply the post-selection (default) */
    uint32_t reserved;      /* must be 0 */
} hbx_nuisances;

/* The nominal nuisances, with post-selection on. */
static inline hbx_nuisances hbx_nuisances_nominal(void)
{
    hbx_nuisances n = {1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1, 0};
    return n;
}

/* ---------------------------------------------------------------------------
 * Status codes returned by host services and by plugin entry points.
 */
enum {
    HBX_OK = 0,
    HBX_E_INVALID = 1,     /* bad argument */
    HBX_E_NOMEM = 2,       /* out of memory */
    HBX_E_IO = 3,          /* could not read or write something */
    HBX_E_UNAVAILABLE = 4, /* service not available on this host or in this phase */
    HBX_E_PLUGIN = 5       /* plugin-defined failure (plugins may return any nonzero) */
};

typedef enum hbx_log_level {
    HBX_LOG_DEBUG = 0,
    HBX_LOG_INFO = 1,
    HBX_LOG_WARN = 2,
    HBX_LOG_ERROR = 3
} hbx_log_level;

/* ---------------------------------------------------------------------------
 * Host services, version 1.0.
 *
 * The host fills this table and hands it to create(); it stays valid until
 * destroy() returns. Functions are called from the thread running the
 * plugin's entry point unless a comment says otherwise. Fields are only ever appended; check
 * `size` (HBX_HOST_HAS) before calling a field newer than 1.0.
 *
 * get_train_set and systematics are bound to the current run: they take no
 * context argument, so a plugin may keep them as plain function pointers
 * (they mirror the callables the original challenge passed to its models).
 */
typedef struct hbx_host_api {
    uint32_t abi_major; /* HBX_ABI_MAJOR of the host */
    uint32_t abi_minor; /* HBX_ABI_MINOR of the host */
    uint32_t size;      /* sizeof(struct hbx_host_api) as the host knows it */
    uint32_t reserved;

    /* Writes one line to the worker's log (captured, size-capped). Never
     * fails; safe from any thread. `message` is copied. */
    void (*log)(hbx_log_level level, const char *message);

    /* Absolute path of the submission's own directory (the one holding the
     * plugin .so), readable but not writable: ship pretrained state there.
     * The string is owned by the host and lives until destroy(). */
    const char *(*submission_dir)(void);

    /* Absolute path of a private directory the plugin may write to (scratch
     * files). Emptied when the run ends. Owned by the host. */
    const char *(*scratch_dir)(void);

    /* The training set: all of it (subsample = 0) or `subsample` events drawn
     * without replacement with the given seed, their weights rescaled so the
     * total per process is unchanged. Labels, weights and process are set.
     * On HBX_OK *out is a new dataset owned by the plugin: release it with
     * dataset_free(). Available during fit() only (HBX_E_UNAVAILABLE in
     * predict). */
    int (*get_train_set)(uint64_t subsample, uint64_t seed, hbx_dataset **out);

    /* Applies the systematics of HIGGSML.md §4 to a training dataset (one from
     * get_train_set or systematics): tes, jes and soft_met shift the events
     * (the soft-MET noise drawn from `seed`), post-selection drops events when
     * nu->post_selection is nonzero, DER features are recomputed and the
     * background scales multiply the weights. `in` is not changed. On HBX_OK
     * *out is a new dataset owned by the plugin (dataset_free()). */
    int (*systematics)(const hbx_dataset *in, const hbx_nuisances *nu, uint64_t seed,
                       hbx_dataset **out);

    /* Recomputes the 12 DER columns of n_events events from their 16 PRI
     * columns, in place (the same code the host uses, HIGGSML.md §3). The
     * plugin owns `columns`; every one of the 28 must be non-NULL. */
    int (*derive_features)(float *const columns[HBX_N_FEATURES], uint64_t n_events);

    /* Releases a dataset returned by get_train_set or systematics. NULL is
     * ignored. */
    void (*dataset_free)(hbx_dataset *dataset);

    /* A one-line description of why the last service call on this thread
     * failed; owned by the host, valid until the next call. */
    const char *(*last_error)(void);
} hbx_host_api;

/* True when the host's table includes `field` (a member of hbx_host_api). */
#define HBX_HOST_HAS(host, field) \
    ((host)->size >= offsetof(hbx_host_api, field) + sizeof((host)->field) && (host)->field != NULL)

/* ---------------------------------------------------------------------------
 * The plugin descriptor.
 *
 * Returned by hbx_plugin_entry(); must stay valid while the plugin is loaded
 * (a static const object is the usual choice). All four entry points are
 * required.
 */
typedef struct hbx_plugin {
    uint32_t abi_major;   /* HBX_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;   /* HBX_ABI_MINOR the plugin was built against */
    uint32_t struct_size; /* sizeof(struct hbx_plugin) the plugin was built with */
    uint32_t reserved;
    const char *name;     /* short identifier, e.g. "constant" */
    const char *version;  /* free-form, e.g. "1.0.0" */

    /* Creates the plugin's state. `host` stays valid until destroy(). Returns
     * HBX_OK and sets *state (may be NULL), or nonzero on failure. */
    int (*create)(const hbx_host_api *host, void **state);

    /* Trains, or loads pretrained state from host->submission_dir(). Runs
     * once, under the fit time limit. Returns HBX_OK or nonzero. */
    int (*fit)(void *state);

    /* Estimates mu on one pseudo-experiment. `pe` and its arrays are owned by
     * the host, read-only, valid only during the call. Fills *out and returns
     * HBX_OK, or returns nonzero on failure. May use threads; must not fork. */
    int (*predict)(void *state, const hbx_dataset *pe, hbx_prediction *out);

    /* Releases the state. */
    void (*destroy)(void *state);
} hbx_plugin;

/* Fills the version fields of a descriptor initialiser. */
#define HBX_PLUGIN_HEADER HBX_ABI_MAJOR, HBX_ABI_MINOR, (uint32_t)sizeof(hbx_plugin), 0

/* The single symbol a plugin exports. */
#define HBX_ENTRY_SYMBOL "hbx_plugin_entry"
typedef const hbx_plugin *(*hbx_plugin_entry_fn)(void);
HBX_EXPORT const hbx_plugin *hbx_plugin_entry(void);

#ifdef __cplusplus
}
#endif
#endif /* HIGGSBOX_PLUGIN_H */
