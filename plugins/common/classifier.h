/*
 * The XGBoost signal-vs-background classifier shared by xgb-count and
 * profile (XGBoost's C API, gradient-boosted trees on the 28 features).
 */
#ifndef HBX_BASELINE_CLASSIFIER_H
#define HBX_BASELINE_CLASSIFIER_H

#include <xgboost/c_api.h>

#include "baseline.h"
#include "forest.h"

typedef struct bl_classifier {
    BoosterHandle booster; /* NULL until trained or loaded */
    const hbx_host_api *host;
    int threads;      /* what scoring currently uses */
    bl_forest forest; /* the compiled trees */
    int use_forest;   /* set once the forest matched XGBoost's predictions */
} bl_classifier;

/* Routes XGBoost's own messages to host->log. Call once from create(). */
void bl_classifier_init(const hbx_host_api *host);

/* Gets a trained classifier for fit(): loads <submission_dir>/<cfg->model>
 * when that file exists; otherwise trains on `train` (labels and weights
 * required; classes reweighted to equal totals) and saves the model to
 * <scratch_dir>/<cfg->model> so that it can be shipped. `train` may be NULL
 * only when the file exists. Then compiles the trees (forest.h) and keeps
 * them for scoring if they reproduce XGBoost's predictions on the first
 * events of `check` (else scoring stays with XGBoost, after a warning).
 * Leaves scoring on cfg->fit_threads threads. Returns HBX_OK or an HBX_E_*
 * code, having logged why. */
int bl_classifier_prepare(bl_classifier *c, const hbx_host_api *host, const bl_config *cfg,
                          const hbx_dataset *train, const hbx_dataset *check);

/* bl_classifier_prepare() for fit(): loads the shipped model, or trains on
 * `train` after putting it through the nominal systematics (post-selection,
 * rounding: what pseudo-experiments get); checks the compiled trees on
 * `train`. */
int bl_classifier_prepare_events(bl_classifier *c, const hbx_host_api *host,
                                 const bl_config *cfg, const bl_events *train);

/* True when <submission_dir>/<cfg->model> exists (fit may then skip
 * assembling a training sample). */
int bl_classifier_shipped(const hbx_host_api *host, const bl_config *cfg);

/* Sets the number of threads scoring uses from now on. */
int bl_classifier_set_threads(bl_classifier *c, int threads);

/* Scores every event of `d` (signal probability in [0, 1]) into
 * scores[0 .. n_events), in chunks (memory stays small whatever the size of
 * `d`) spread over the configured threads. Returns HBX_OK or HBX_E_*. */
int bl_classifier_score(const bl_classifier *c, const hbx_dataset *d, float *scores);

/* Frees the booster. Safe on a zeroed classifier. */
void bl_classifier_free(bl_classifier *c);

#endif
