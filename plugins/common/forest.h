/*
 * A compiled copy of a trained XGBoost binary:logistic tree ensemble, for
 * scoring columnar events fast: XGBoost's own CPU predictor needs row-major
 * input and visits one row at a time, about 1.5-2 s per million events for
 * 100 trees of depth 5 on one core; this walks several rows through each
 * tree at once, straight from the columns. The classifier checks it against
 * XGBoost's predictions before trusting it (classifier.c).
 */
#ifndef HBX_BASELINE_FOREST_H
#define HBX_BASELINE_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include <higgsbox/plugin.h>

/* One node. Children are stored side by side (right = left + 1), so a step
 * is arithmetic rather than a branch. A leaf is its own left child and its
 * test always passes (threshold +inf, NaN goes left), so a walk of fixed
 * length ends on the leaf whatever the tree's shape. */
typedef struct bl_node {
    float threshold;      /* go left when value < threshold */
    uint16_t feature;     /* feature tested (0 for a leaf) */
    uint8_t default_left; /* where a missing (NaN) value goes */
    uint8_t leaf;
    int32_t left;     /* index in bl_forest.nodes; the right child is left + 1 */
    float leaf_value; /* margin a leaf adds */
} bl_node;

typedef struct bl_forest {
    bl_node *nodes;
    int32_t *roots;  /* node index of each tree's root */
    uint8_t *depths; /* steps from each root to its deepest leaf */
    int n_trees;
    float base_margin; /* the model's base score, as a margin */
} bl_forest;

/* Compiles the JSON model text (XGBoost's "json" save format) of a gbtree
 * binary:logistic model over the 28 features. Returns HBX_OK, or
 * HBX_E_INVALID with a reason in `why` when the model is of another kind or
 * malformed, HBX_E_NOMEM. */
int bl_forest_compile(bl_forest *f, const char *json, size_t len, char *why, size_t why_len);

/* Signal probabilities of events [first, first + n) of `d` into out[0 .. n),
 * as XGBoost's predictor computes them (float sums in tree order, logistic
 * transform). */
void bl_forest_score(const bl_forest *f, const hbx_dataset *d, uint64_t first, uint64_t n,
                     float *out);

/* Frees the forest. Safe on a zeroed one. */
void bl_forest_free(bl_forest *f);

#endif
