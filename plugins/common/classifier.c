/*
 * XGBoost classifier: training from the columnar training set, saving and
 * loading a model file, and scoring, through the compiled trees (forest.c)
 * or XGBoost's in-place predictor.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classifier.h"

/* Rows per scoring chunk: 8192 x 28 floats is 900 kB, which stays in cache
 * while it is transposed and lets XGBoost run long enough per call. */
#define CHUNK_ROWS 8192

static const hbx_host_api *g_host; /* for XGBoost's log callback */

/* At verbosity 1, XGBoost only says something worth a warning. */
static void xgb_log(const char *msg)
{
    if (g_host && g_host->log)
        g_host->log(HBX_LOG_WARN, msg);
}

void bl_classifier_init(const hbx_host_api *host)
{
    g_host = host;
    XGBRegisterLogCallback(xgb_log);
    XGBSetGlobalConfig("{\"verbosity\": 1}");
}

static int xgb_fail(const hbx_host_api *host, const char *what)
{
    bl_log(host, HBX_LOG_ERROR, "XGBoost: %s: %s", what, XGBGetLastError());
    return HBX_E_PLUGIN;
}

/* Copies rows [first, first + rows) of `d` into row-major `out`. */
static void to_rows(const hbx_dataset *d, uint64_t first, uint64_t rows, float *out)
{
    for (int f = 0; f < HBX_N_FEATURES; f++) {
        const float *col = d->features[f] + first;
        float *o = out + f;
        for (uint64_t i = 0; i < rows; i++)
            o[i * HBX_N_FEATURES] = col[i];
    }
}

int bl_classifier_set_threads(bl_classifier *c, int threads)
{
    char v[16];
    snprintf(v, sizeof v, "%d", threads);
    if (XGBoosterSetParam(c->booster, "nthread", v) != 0)
        return xgb_fail(c->host, "setting nthread");
    c->threads = threads;
    return HBX_OK;
}

static void model_path(const char *dir, const bl_config *cfg, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, cfg->model);
}

int bl_classifier_shipped(const hbx_host_api *host, const bl_config *cfg)
{
    const char *dir = host->submission_dir();
    if (!dir || !*dir)
        return 0;
    char path[4096];
    model_path(dir, cfg, path, sizeof path);
    return access(path, R_OK) == 0;
}

static int load_model(bl_classifier *c, const char *path)
{
    if (XGBoosterCreate(NULL, 0, &c->booster) != 0)
        return xgb_fail(c->host, "creating a booster");
    FILE *f = fopen(path, "rb");
    if (!f) {
        bl_log(c->host, HBX_LOG_ERROR, "%s: cannot open the model", path);
        return HBX_E_IO;
    }
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len)) && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) {
        bl_log(c->host, HBX_LOG_ERROR, "%s: cannot read the model", path);
        return HBX_E_IO;
    }
    int rc = XGBoosterLoadModelFromBuffer(c->booster, buf, (bst_ulong)len);
    free(buf);
    if (rc != 0) {
        bl_log(c->host, HBX_LOG_ERROR, "%s: not an XGBoost model: %s", path, XGBGetLastError());
        return HBX_E_INVALID;
    }
    bst_ulong nf = 0;
    if (XGBoosterGetNumFeature(c->booster, &nf) != 0 || nf != HBX_N_FEATURES) {
        bl_log(c->host, HBX_LOG_ERROR, "%s: the model takes %llu features, not %d", path,
               (unsigned long long)nf, HBX_N_FEATURES);
        return HBX_E_INVALID;
    }
    return HBX_OK;
}

/* Writes the model next to a temporary name and renames it into place, so
 * no reader ever sees half a file. Failure only costs the saved copy. */
static void save_model(const bl_classifier *c, const char *path)
{
    bst_ulong len = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer(c->booster, "{\"format\": \"ubj\"}", &len, &buf) != 0) {
        xgb_fail(c->host, "serialising the model");
        return;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    if (ok && rename(tmp, path) == 0) {
        bl_log(c->host, HBX_LOG_INFO, "model saved to %s (ship it in the submission directory "
               "to skip training)", path);
        return;
    }
    remove(tmp);
    bl_log(c->host, HBX_LOG_WARN, "%s: cannot save the model", path);
}

static int train(bl_classifier *c, const bl_config *cfg, const hbx_dataset *d)
{
    uint64_t n = d->n_events;
    if (n < 2 || !d->labels || !d->weights) {
        bl_log(c->host, HBX_LOG_ERROR, "classifier: no labelled training events");
        return HBX_E_INVALID;
    }
    double t0 = bl_now();
    float *rows = malloc((size_t)n * HBX_N_FEATURES * sizeof *rows);
    float *label = malloc((size_t)n * sizeof *label), *weight = malloc((size_t)n * sizeof *weight);
    if (!rows || !label || !weight) {
        free(rows);
        free(label);
        free(weight);
        return HBX_E_NOMEM;
    }
    to_rows(d, 0, n, rows);
    /* Balanced classes: each class sums to n/2, so an average event weighs
     * about 1 and XGBoost's default min_child_weight keeps its meaning. */
    double sum[2] = {0, 0};
    uint64_t count[2] = {0, 0};
    for (uint64_t i = 0; i < n; i++) {
        sum[d->labels[i] != 0] += d->weights[i];
        count[d->labels[i] != 0]++;
    }
    int rc = HBX_OK;
    if (count[0] == 0 || count[1] == 0 || !(sum[0] > 0) || !(sum[1] > 0)) {
        bl_log(c->host, HBX_LOG_ERROR, "classifier: the training sample needs both classes "
               "(%llu background, %llu signal events)", (unsigned long long)count[0],
               (unsigned long long)count[1]);
        rc = HBX_E_INVALID;
    }
    for (uint64_t i = 0; rc == HBX_OK && i < n; i++) {
        int y = d->labels[i] != 0;
        label[i] = (float)y;
        weight[i] = (float)(d->weights[i] * (0.5 * (double)n) / sum[y]);
    }
    DMatrixHandle dm = NULL;
    if (rc == HBX_OK &&
        (XGDMatrixCreateFromMat_omp(rows, n, HBX_N_FEATURES, NAN, &dm, cfg->fit_threads) != 0 ||
         XGDMatrixSetFloatInfo(dm, "label", label, n) != 0 ||
         XGDMatrixSetFloatInfo(dm, "weight", weight, n) != 0))
        rc = xgb_fail(c->host, "building the training matrix");
    /* The booster learns the number of features from its training matrix. */
    if (rc == HBX_OK && XGBoosterCreate(&dm, 1, &c->booster) != 0)
        rc = xgb_fail(c->host, "creating a booster");
    free(rows);
    free(label);
    free(weight);
    char depth[16], eta[32];
    snprintf(depth, sizeof depth, "%d", cfg->depth);
    snprintf(eta, sizeof eta, "%.17g", cfg->eta);
    const char *params[][2] = {
        {"objective", "binary:logistic"}, {"tree_method", "hist"}, {"max_depth", depth},
        {"eta", eta}, {"seed", "0"}, {"eval_metric", "logloss"},
    };
    for (size_t k = 0; rc == HBX_OK && k < sizeof params / sizeof params[0]; k++)
        if (XGBoosterSetParam(c->booster, params[k][0], params[k][1]) != 0)
            rc = xgb_fail(c->host, "setting parameters");
    if (rc == HBX_OK)
        rc = bl_classifier_set_threads(c, cfg->fit_threads);
    for (int it = 0; rc == HBX_OK && it < cfg->trees; it++)
        if (XGBoosterUpdateOneIter(c->booster, it, dm) != 0)
            rc = xgb_fail(c->host, "training");
    if (dm)
        XGDMatrixFree(dm);
    if (rc == HBX_OK)
        bl_log(c->host, HBX_LOG_INFO,
               "classifier: %d trees of depth %d (eta %g) on %llu events (%llu signal) in "
               "%.2f s with %d threads",
               cfg->trees, cfg->depth, cfg->eta, (unsigned long long)n,
               (unsigned long long)count[1], bl_now() - t0, cfg->fit_threads);
    return rc;
}

/* Compiles the booster's trees and keeps them when they score the first
 * events of `check` as XGBoost does. A mismatch is not fatal: scoring then
 * stays with XGBoost, only slower. */
static int compile_forest(bl_classifier *c, const hbx_dataset *check)
{
    bst_ulong len = 0;
    const char *json = NULL;
    if (XGBoosterSaveModelToBuffer(c->booster, "{\"format\": \"json\"}", &len, &json) != 0)
        return xgb_fail(c->host, "exporting the trees");
    char why[256];
    int rc = bl_forest_compile(&c->forest, json, len, why, sizeof why);
    if (rc == HBX_E_NOMEM)
        return rc;
    if (rc != HBX_OK) {
        bl_log(c->host, HBX_LOG_WARN, "classifier: trees not compiled (%s); scoring with XGBoost",
               why);
        return HBX_OK;
    }
    if (!check || check->n_events == 0) {
        bl_log(c->host, HBX_LOG_WARN, "classifier: no events to check the compiled trees on; "
               "scoring with XGBoost");
        bl_forest_free(&c->forest);
        return HBX_OK;
    }
    uint64_t n = check->n_events < 20000 ? check->n_events : 20000;
    float *ref = malloc((n ? n : 1) * sizeof *ref), *mine = malloc((n ? n : 1) * sizeof *mine);
    if (!ref || !mine) {
        free(ref);
        free(mine);
        return HBX_E_NOMEM;
    }
    hbx_dataset head = *check;
    head.n_events = n;
    rc = bl_classifier_score(c, &head, ref); /* use_forest is still 0: XGBoost */
    double worst = 0;
    if (rc == HBX_OK) {
        bl_forest_score(&c->forest, &head, 0, n, mine);
        for (uint64_t i = 0; i < n; i++) {
            double d = fabs((double)ref[i] - (double)mine[i]);
            if (!(d <= worst))
                worst = d;
        }
    }
    free(ref);
    free(mine);
    if (rc != HBX_OK)
        return rc;
    if (worst <= 1e-6) {
        c->use_forest = 1;
        bl_log(c->host, HBX_LOG_INFO,
               "classifier: %d trees compiled; they match XGBoost on %llu events (max |diff| %.2g)",
               c->forest.n_trees, (unsigned long long)n, worst);
    } else {
        bl_log(c->host, HBX_LOG_WARN,
               "classifier: compiled trees differ from XGBoost by %.3g on %llu events; scoring "
               "with XGBoost",
               worst, (unsigned long long)n);
        bl_forest_free(&c->forest);
    }
    return HBX_OK;
}

int bl_classifier_prepare(bl_classifier *c, const hbx_host_api *host, const bl_config *cfg,
                          const hbx_dataset *train_set, const hbx_dataset *check)
{
    memset(c, 0, sizeof *c);
    c->host = host;
    char path[4096];
    int rc;
    if (bl_classifier_shipped(host, cfg)) {
        model_path(host->submission_dir(), cfg, path, sizeof path);
        rc = load_model(c, path);
        if (rc == HBX_OK)
            rc = bl_classifier_set_threads(c, cfg->fit_threads);
        if (rc == HBX_OK)
            bl_log(host, HBX_LOG_INFO, "classifier: loaded %s (not retrained)", path);
    } else if (!train_set) {
        bl_log(host, HBX_LOG_ERROR, "classifier: no model file and no training sample");
        rc = HBX_E_INVALID;
    } else {
        rc = train(c, cfg, train_set);
        const char *scratch = host->scratch_dir();
        if (rc == HBX_OK && scratch && *scratch) {
            model_path(scratch, cfg, path, sizeof path);
            save_model(c, path);
        }
    }
    if (rc == HBX_OK)
        rc = compile_forest(c, check);
    if (rc != HBX_OK)
        bl_classifier_free(c);
    return rc;
}

int bl_classifier_prepare_events(bl_classifier *c, const hbx_host_api *host,
                                 const bl_config *cfg, const bl_events *train)
{
    if (bl_classifier_shipped(host, cfg))
        return bl_classifier_prepare(c, host, cfg, NULL, &train->view);
    hbx_nuisances nom = hbx_nuisances_nominal();
    bl_events shifted;
    int rc = bl_shift(host, train, &nom, cfg->seed, &shifted);
    if (rc == HBX_OK)
        rc = bl_classifier_prepare(c, host, cfg, &shifted.view, &shifted.view);
    bl_events_free(&shifted);
    return rc;
}

/* Scoring with XGBoost's own predictor: row-major chunks, in place. */
static int score_xgboost(const bl_classifier *c, const hbx_dataset *d, float *scores)
{
    float *rows = malloc((size_t)CHUNK_ROWS * HBX_N_FEATURES * sizeof *rows);
    if (!rows)
        return HBX_E_NOMEM;
    int rc = HBX_OK;
    /* NaN marks missing values as when training; the features never hold it
     * (absent jets carry -25, a value like any other for the trees). */
    const char *config = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                         "\"iteration_end\": 0, \"strict_shape\": false, \"cache_id\": 0, "
                         "\"missing\": NaN}";
    for (uint64_t first = 0; first < d->n_events && rc == HBX_OK; first += CHUNK_ROWS) {
        uint64_t n = d->n_events - first < CHUNK_ROWS ? d->n_events - first : CHUNK_ROWS;
        to_rows(d, first, n, rows);
        char iface[256];
        snprintf(iface, sizeof iface,
                 "{\"data\": [%" PRIuPTR ", true], \"shape\": [%" PRIu64 ", %d], "
                 "\"typestr\": \"<f4\", \"version\": 3}",
                 (uintptr_t)rows, n, HBX_N_FEATURES);
        const bst_ulong *shape = NULL;
        bst_ulong dim = 0;
        const float *out = NULL;
        if (XGBoosterPredictFromDense(c->booster, iface, config, NULL, &shape, &dim, &out) != 0) {
            rc = xgb_fail(c->host, "scoring");
            break;
        }
        memcpy(scores + first, out, n * sizeof *out);
    }
    free(rows);
    return rc;
}

typedef struct score_job {
    const bl_forest *forest;
    const hbx_dataset *d;
    uint64_t first, n;
    float *out;
} score_job;

static void *score_part(void *arg)
{
    score_job *j = arg;
    bl_forest_score(j->forest, j->d, j->first, j->n, j->out + j->first);
    return NULL;
}

/* Scoring with the compiled trees: one contiguous share of the events per
 * thread (an event's score does not depend on the split). */
static int score_forest(const bl_classifier *c, const hbx_dataset *d, float *scores)
{
    enum { MAX_THREADS = 64 };
    int nt = c->threads < 1 ? 1 : c->threads > MAX_THREADS ? MAX_THREADS : c->threads;
    if ((uint64_t)nt > d->n_events / 4096 + 1)
        nt = (int)(d->n_events / 4096 + 1);
    score_job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int running[MAX_THREADS] = {0};
    for (int k = 0; k < nt; k++) {
        uint64_t a = d->n_events * (uint64_t)k / (uint64_t)nt;
        uint64_t b = d->n_events * (uint64_t)(k + 1) / (uint64_t)nt;
        jobs[k] = (score_job){&c->forest, d, a, b - a, scores};
    }
    /* Job 0 runs on the calling thread; a thread that cannot start has its
     * job run here too, so scoring never fails for want of threads. */
    for (int k = 1; k < nt; k++)
        running[k] = pthread_create(&tid[k], NULL, score_part, &jobs[k]) == 0;
    score_part(&jobs[0]);
    for (int k = 1; k < nt; k++) {
        if (running[k])
            pthread_join(tid[k], NULL);
        else
            score_part(&jobs[k]);
    }
    return HBX_OK;
}

int bl_classifier_score(const bl_classifier *c, const hbx_dataset *d, float *scores)
{
    return c->use_forest ? score_forest(c, d, scores) : score_xgboost(c, d, scores);
}

void bl_classifier_free(bl_classifier *c)
{
    bl_forest_free(&c->forest);
    c->use_forest = 0;
    if (c->booster)
        XGBoosterFree(c->booster);
    c->booster = NULL;
}
