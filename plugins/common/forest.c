/*
 * Compiling an XGBoost JSON model into flat node arrays, and scoring
 * columnar events with it.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forest.h"

/* Rows scored together: their 28 feature values stay in the L1 cache while
 * every tree walks them. */
#define BLOCK 256
/* Rows walked through one tree side by side, so the CPU overlaps their
 * memory loads instead of waiting on one chain of node visits. */
#define GROUP 8

void bl_forest_free(bl_forest *f)
{
    free(f->nodes);
    free(f->roots);
    free(f->depths);
    memset(f, 0, sizeof *f);
}

static int fail(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return HBX_E_INVALID;
}

/* The string value of obj[key] after following `path` (NULL-terminated keys). */
static const char *string_at(json_t *obj, const char *const *path)
{
    for (; obj && *path; path++)
        obj = json_object_get(obj, *path);
    return json_is_string(obj) ? json_string_value(obj) : NULL;
}

/* One tree as XGBoost numbers it, before re-layout. */
typedef struct raw_tree {
    int32_t n;
    int32_t *left, *right, *feature;
    float *value;
    uint8_t *default_left;
} raw_tree;

/* Lays out `t` from nodes[base] on in breadth-first order, each pair of
 * children side by side; sets *depth to the longest root-leaf walk. Returns
 * the number of nodes placed, or -1 when the links do not form a tree. */
static int32_t lay_out(const raw_tree *t, bl_node *nodes, int32_t base, int *depth)
{
    int32_t *order = malloc((size_t)t->n * sizeof *order); /* XGBoost id per slot */
    int32_t *level = malloc((size_t)t->n * sizeof *level);
    uint8_t *seen = calloc((size_t)t->n, 1);
    int32_t placed = -1;
    if (!order || !level || !seen)
        goto out;
    int32_t head = 0, tail = 0;
    order[tail] = 0;
    level[tail++] = 0;
    seen[0] = 1;
    *depth = 0;
    while (head < tail) {
        int32_t slot = head, id = order[head++];
        bl_node *nd = &nodes[base + slot];
        if (level[slot] > *depth)
            *depth = level[slot];
        if (t->left[id] < 0) {
            nd->threshold = INFINITY;
            nd->default_left = 1;
            nd->leaf = 1;
            nd->left = base + slot;
            nd->leaf_value = t->value[id];
            continue;
        }
        int32_t l = t->left[id], r = t->right[id];
        if (l >= t->n || r < 0 || r >= t->n || seen[l] || seen[r] || l == r ||
            tail + 2 > t->n || level[slot] >= 255)
            goto out; /* a cycle, a shared child or a link outside the tree */
        seen[l] = seen[r] = 1;
        nd->threshold = t->value[id];
        nd->feature = (uint16_t)t->feature[id];
        nd->default_left = t->default_left[id];
        nd->left = base + tail;
        order[tail] = l;
        level[tail++] = level[slot] + 1;
        order[tail] = r;
        level[tail++] = level[slot] + 1;
    }
    placed = tail;
out:
    free(order);
    free(level);
    free(seen);
    return placed;
}

/* Reads one tree's arrays and lays it out at nodes[*at]; advances *at. */
static int compile_tree(bl_forest *f, json_t *tree, int32_t *at, int t, char *why, size_t len)
{
    json_t *l = json_object_get(tree, "left_children");
    json_t *r = json_object_get(tree, "right_children");
    json_t *si = json_object_get(tree, "split_indices");
    json_t *sc = json_object_get(tree, "split_conditions");
    json_t *dl = json_object_get(tree, "default_left");
    json_t *st = json_object_get(tree, "split_type");
    size_t n = json_array_size(l);
    if (n == 0 || json_array_size(r) != n || json_array_size(si) != n ||
        json_array_size(sc) != n || json_array_size(dl) != n)
        return fail(why, len, "tree arrays missing or of different lengths");
    raw_tree rt = {(int32_t)n, malloc(n * sizeof(int32_t)), malloc(n * sizeof(int32_t)),
                   malloc(n * sizeof(int32_t)), malloc(n * sizeof(float)), malloc(n)};
    int rc = HBX_OK;
    if (!rt.left || !rt.right || !rt.feature || !rt.value || !rt.default_left)
        rc = HBX_E_NOMEM;
    for (size_t i = 0; rc == HBX_OK && i < n; i++) {
        json_int_t li = json_integer_value(json_array_get(l, i));
        json_int_t ri = json_integer_value(json_array_get(r, i));
        json_int_t fi = json_integer_value(json_array_get(si, i));
        if (json_array_size(st) == n && json_integer_value(json_array_get(st, i)) != 0)
            rc = fail(why, len, "categorical splits are not supported");
        else if (li != -1 && (li < 0 || ri < 0 || fi < 0 || fi >= HBX_N_FEATURES ||
                              li >= (json_int_t)n || ri >= (json_int_t)n))
            rc = fail(why, len, "a node links outside its tree or tests no known feature");
        rt.left[i] = (int32_t)li;
        rt.right[i] = (int32_t)ri;
        rt.feature[i] = (int32_t)fi;
        rt.value[i] = (float)json_number_value(json_array_get(sc, i));
        rt.default_left[i] = json_integer_value(json_array_get(dl, i)) != 0 ||
                             json_is_true(json_array_get(dl, i));
    }
    int depth = 0;
    int32_t placed = rc == HBX_OK ? lay_out(&rt, f->nodes, *at, &depth) : 0;
    if (rc == HBX_OK && placed < 0)
        rc = fail(why, len, "the nodes of a tree do not form a tree");
    if (rc == HBX_OK) {
        f->roots[t] = *at;
        f->depths[t] = (uint8_t)depth;
        *at += placed;
    }
    free(rt.left);
    free(rt.right);
    free(rt.feature);
    free(rt.value);
    free(rt.default_left);
    return rc;
}

int bl_forest_compile(bl_forest *f, const char *json, size_t len, char *why, size_t why_len)
{
    memset(f, 0, sizeof *f);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root)
        return fail(why, why_len, "not JSON: %s", jerr.text);
    int rc = HBX_OK;
    static const char *const objective[] = {"learner", "objective", "name", NULL};
    static const char *const booster[] = {"learner", "gradient_booster", "name", NULL};
    static const char *const base[] = {"learner", "learner_model_param", "base_score", NULL};
    static const char *const classes[] = {"learner", "learner_model_param", "num_class", NULL};
    const char *obj = string_at(root, objective), *gb = string_at(root, booster);
    const char *bs = string_at(root, base), *nc = string_at(root, classes);
    json_t *trees = json_object_get(
        json_object_get(json_object_get(json_object_get(root, "learner"), "gradient_booster"),
                        "model"),
        "trees");
    char *end = NULL;
    double p = bs ? strtod(bs, &end) : NAN;
    if (!obj || strcmp(obj, "binary:logistic") != 0)
        rc = fail(why, why_len, "objective %s, not binary:logistic", obj ? obj : "missing");
    else if (!gb || strcmp(gb, "gbtree") != 0)
        rc = fail(why, why_len, "booster %s, not gbtree", gb ? gb : "missing");
    else if (nc && strcmp(nc, "0") != 0)
        rc = fail(why, why_len, "%s classes, not a binary classifier", nc);
    else if (!bs || *end || !(p > 0 && p < 1))
        rc = fail(why, why_len, "base_score %s unusable", bs ? bs : "missing");
    else if (!json_is_array(trees) || json_array_size(trees) == 0 ||
             json_array_size(trees) > 100000)
        rc = fail(why, why_len, "no trees");
    size_t total = 0, nt = json_array_size(trees);
    for (size_t t = 0; rc == HBX_OK && t < nt; t++) {
        size_t n = json_array_size(json_object_get(json_array_get(trees, t), "left_children"));
        if (n > (size_t)INT32_MAX - total)
            rc = fail(why, why_len, "too many nodes");
        total += n;
    }
    if (rc == HBX_OK) {
        f->nodes = calloc(total ? total : 1, sizeof *f->nodes);
        f->roots = calloc(nt, sizeof *f->roots);
        f->depths = calloc(nt, sizeof *f->depths);
        if (!f->nodes || !f->roots || !f->depths)
            rc = HBX_E_NOMEM;
    }
    int32_t at = 0;
    for (size_t t = 0; rc == HBX_OK && t < nt; t++)
        rc = compile_tree(f, json_array_get(trees, t), &at, (int)t, why, why_len);
    json_decref(root);
    if (rc != HBX_OK) {
        bl_forest_free(f);
        return rc;
    }
    f->n_trees = (int)nt;
    /* XGBoost keeps the base score as a probability; the trees add margins. */
    f->base_margin = (float)-log(1.0 / p - 1.0);
    return HBX_OK;
}

void bl_forest_score(const bl_forest *f, const hbx_dataset *d, uint64_t first, uint64_t n,
                     float *out)
{
    float acc[BLOCK];
    float rows[BLOCK * HBX_N_FEATURES]; /* the block, row-major: one load per test */
    const bl_node *nodes = f->nodes;
    for (uint64_t b0 = 0; b0 < n; b0 += BLOCK) {
        int m = n - b0 < BLOCK ? (int)(n - b0) : BLOCK;
        for (int k = 0; k < HBX_N_FEATURES; k++) {
            const float *col = d->features[k] + first + b0;
            for (int r = 0; r < m; r++)
                rows[r * HBX_N_FEATURES + k] = col[r];
        }
        for (int r = 0; r < m; r++)
            acc[r] = f->base_margin;
        for (int t = 0; t < f->n_trees; t++) {
            int32_t root = f->roots[t];
            int depth = f->depths[t];
            for (int r = 0; r < m; r += GROUP) {
                int32_t node[GROUP];
                const float *x[GROUP];
#pragma GCC unroll 8
                for (int j = 0; j < GROUP; j++) {
                    node[j] = root;
                    x[j] = rows + (r + j < m ? r + j : m - 1) * HBX_N_FEATURES;
                }
                /* Fully unrolled, the GROUP walks live in registers and their
                 * loads overlap (about twice XGBoost's speed at -O2). */
                for (int s = 0; s < depth; s++)
#pragma GCC unroll 8
                    for (int j = 0; j < GROUP; j++) {
                        const bl_node *nd = &nodes[node[j]];
                        float v = x[j][nd->feature];
                        int left = (v < nd->threshold) | (nd->default_left & (v != v));
                        node[j] = nd->left + (left ^ 1);
                    }
                for (int j = 0; j < GROUP && r + j < m; j++)
                    acc[r + j] += nodes[node[j]].leaf_value;
            }
        }
        for (int r = 0; r < m; r++)
            out[b0 + (uint64_t)r] = 1.0f / (1.0f + expf(-acc[r]));
    }
}
