/*
 * higgsbox physics helpers: the one implementation of the derived features
 * (HIGGSML.md §3) and of the systematics (§4), shared by the host, the worker
 * and participants (library hbx_physics, installed with the SDK).
 *
 * Data lives in an hbx_table: owned, mutable, columnar. hbx_table_view()
 * gives the read-only hbx_dataset view that plugins see.
 */
#ifndef HIGGSBOX_PHYSICS_H
#define HIGGSBOX_PHYSICS_H

#include <stddef.h>
#include <stdint.h>

#include "higgsbox/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which optional columns an hbx_table carries besides the 28 features. */
enum {
    HBX_TABLE_WEIGHTS = 1u << 0,
    HBX_TABLE_LABELS = 1u << 1,
    HBX_TABLE_PROCESS = 1u << 2,
    HBX_TABLE_TRUTH = HBX_TABLE_WEIGHTS | HBX_TABLE_LABELS | HBX_TABLE_PROCESS
};

/* An owned, columnar set of events. Arrays are 64-byte aligned and hold
 * `capacity` slots, of which the first `n` are events. Optional arrays are
 * NULL when the table was allocated without them. */
typedef struct hbx_table {
    uint64_t n;
    uint64_t capacity;
    unsigned flags; /* HBX_TABLE_* it was allocated with */
    float *features[HBX_N_FEATURES];
    double *weights;
    uint8_t *labels;
    uint8_t *process;
} hbx_table;

/* Allocates room for `capacity` events with the optional columns in `flags`;
 * n starts at 0. Returns HBX_OK or HBX_E_NOMEM (the table is then empty and
 * safe to free). Release with hbx_table_free(). */
int hbx_table_alloc(hbx_table *t, uint64_t capacity, unsigned flags);

/* Grows the capacity to at least `capacity`, keeping the events. */
int hbx_table_reserve(hbx_table *t, uint64_t capacity);

/* Frees the arrays and zeroes the table. Safe on a zeroed table. */
void hbx_table_free(hbx_table *t);

/* A read-only view of the table's first n events. The view borrows the
 * table's memory. */
hbx_dataset hbx_table_view(const hbx_table *t);

/* ---------------------------------------------------------------------------
 * Derived features (HIGGSML.md §3)
 */

/* Computes the 12 DER features of one event from its 16 PRI features
 * (indexed by hbx_feature). `der[k]` receives feature HBX_N_PRIMARY + k.
 * Arithmetic is done in double and each feature rounded to float once (the
 * few terms that depend only on angles and pseudorapidities are held as
 * float on the way: docs/SYSTEMATICS.md, step 6). */
void hbx_derive_event(const float pri[HBX_N_PRIMARY], float der[HBX_N_FEATURES - HBX_N_PRIMARY]);

/* Fills DER columns of events [0, n) from their PRI columns, in place. */
void hbx_derive_columns(float *const columns[HBX_N_FEATURES], uint64_t n);

/* ---------------------------------------------------------------------------
 * Systematics (HIGGSML.md §4)
 */

/* Applies the nuisances to `in` (which must carry process when any of the
 * three background scales is not 1, and weights for them to act on) and
 * writes the surviving events to `out`, a zeroed or freed table that this
 * call allocates with the same optional columns as `in` carries. The soft-MET
 * noise derives from `seed` only. Returns HBX_OK, HBX_E_INVALID (bad
 * nuisance value, missing column) or HBX_E_NOMEM. */
int hbx_systematics_apply(const hbx_dataset *in, const hbx_nuisances *nu, uint64_t seed,
                          hbx_table *out);

#ifdef __cplusplus
}
#endif
#endif /* HIGGSBOX_PHYSICS_H */
