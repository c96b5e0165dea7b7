/* The worker executable's own modules. */
#ifndef HBX_WORKER_H
#define HBX_WORKER_H

#include "higgsbox/plugin.h"

/* What the worker knows about the run; services read it. */
typedef struct hbx_worker_ctx {
    int sock;
    const char *submission_dir;
    const char *scratch_dir;
    hbx_dataset train;   /* valid once TRAIN arrived */
    int have_train;
    int in_fit;          /* get_train_set is only served during fit */
} hbx_worker_ctx;

/* Builds the host-services table for `ctx` (libffi closures bound to it).
 * Returns NULL on failure. The table lives until the process exits. */
const hbx_host_api *hbx_services_create(hbx_worker_ctx *ctx);

/* Confines the worker before the plugin is loaded. Returns 0, or -1 with a
 * reason in `why`. */
int hbx_confine(const hbx_worker_ctx *ctx, char *why, size_t why_len);

#endif
