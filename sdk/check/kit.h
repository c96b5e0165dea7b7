/* The conformance kit's internals: one session per suite, run once, whose
 * recorded outcome the suite's tests then judge. */
#ifndef HBX_KIT_H
#define HBX_KIT_H

#include <stddef.h>
#include <stdint.h>

#include "higgsbox/conformance.h"
#include "higgsbox/plugin.h"
#include "higgsbox/sandbox.h"

/* PEs at distinct true mu (the first is also repeated). */
#define KIT_N_PE 3
/* Events in the "tiny" PE. */
#define KIT_TINY_EVENTS 5

/* The outcome of one call into the plugin. */
typedef struct kit_call {
    int ran;                 /* the call was attempted */
    hbx_call_record rec;     /* its verdict */
    hbx_prediction pred;     /* predict calls ending OK */
    char what[192];          /* the call, e.g. "predict on PE 2 (mu = 2, 1051234 events)" */
    char log_tail[256];      /* last line the plugin printed, after a failure */
} kit_call;

typedef struct kit_session {
    /* what to check */
    char *plugin;
    char *worker;            /* NULL: the sandbox's own default */
    hbx_conformance_options opt;

    /* what happened */
    int ran;
    char setup_error[512];   /* a problem on the kit's side that stopped the session */
    hbx_plugin_info info;
    uint64_t train_events;
    double mu[KIT_N_PE];     /* true mu of each PE */
    uint64_t pe_events[KIT_N_PE];
    kit_call load;
    kit_call fit;
    kit_call pe[KIT_N_PE];
    kit_call again_same;     /* PE 0 again, in the same worker */
    kit_call again_fresh;    /* PE 0 again, in another worker forked after fit */
    kit_call tiny;
    kit_call empty;
    char changed[600];       /* first file change outside scratch; "" when none */
} kit_session;

/* Puts the plugin through the session, filling the outcome fields. Never
 * fails as such: problems end up in setup_error or in the calls' records. */
void kit_session_run(kit_session *s);

/* Frees what kit_session_run allocated and the configuration strings. */
void kit_session_clear(kit_session *s);

/* One line: what the call was, how it ended and what to do about it. */
void kit_call_explain(const kit_session *s, const kit_call *c, char *buf, size_t len);

/* The worker executable found relative to the kit's own binary, or NULL. */
const char *kit_find_worker(void);

/* ---- snapshots of directories (writes outside scratch) ------------------ */

typedef struct kit_snapshot kit_snapshot;

/* Records the entries of `dir` (to `depth` levels; 1 = its own entries):
 * names, types, sizes and modification times of files. NULL on failure. */
kit_snapshot *kit_snapshot_take(const char *dir, int depth);

/* Compares with the directory's present state; writes the first change
 * ("created X", "removed X", "modified X", paths relative to the snapshot's
 * directory) into `what` and returns 1, or returns 0 when nothing changed. */
int kit_snapshot_changed(const kit_snapshot *before, char *what, size_t len);

void kit_snapshot_free(kit_snapshot *s);

#endif
