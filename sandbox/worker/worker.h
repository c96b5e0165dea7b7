/* The worker executable's own modules. */
#ifndef HBX_WORKER_H
#define HBX_WORKER_H

#include <stddef.h>

#include "higgsbox/plugin.h"
#include "protocol.h"

/* What the worker knows about the run; services read it. */
typedef struct hbx_worker_ctx {
    int sock;
    const char *submission_dir;
    const char *scratch_dir;
    hbx_dataset train;   /* valid once TRAIN arrived */
    int have_train;
    int in_fit;          /* get_train_set is only served during fit */
} hbx_worker_ctx;

/* The configuration init received from the host (all zero when the worker
 * was started without an init, which the host never does). */
extern hbx_init_config hbx_cfg;

/* 1 when init mounted a private /proc for the worker's PID namespace; else
 * 0 with the reason in hbx_proc_why. */
extern int hbx_private_proc;
extern char hbx_proc_why[128];

/* Runs the init role on the host channel `status_fd`: receives the
 * configuration, then forks. `proc_code` says what became of the private
 * /proc ("ok", "err<errno>", "none"). Returns 0 in the worker (the child);
 * the init itself never returns. Returns -1 with a message on stderr when
 * set-up failed. */
int hbx_init_main(int status_fd, const char *proc_code);

/* Builds the host-services table for `ctx` (libffi closures bound to it).
 * Returns NULL on failure. The table lives until the process exits. */
const hbx_host_api *hbx_services_create(hbx_worker_ctx *ctx);

/* Checks the process as it was started (descriptors, environment, process
 * group, parent-death signal); call first thing in the worker. */
void hbx_confine_begin(void);

/* Confines the worker before the plugin is loaded: limits, no_new_privs,
 * Landlock, seccomp (the listener goes to the host on ctx->sock), each
 * checked, and sends the CONFINED report. Returns 0, or -1 with a reason in
 * `why`. */
int hbx_confine(const hbx_worker_ctx *ctx, char *why, size_t why_len);

/* Landlock: read-only access to the submission directory and the system's
 * libraries, read-write to `scratch` (may be empty), nothing else. Returns 1
 * when applied, 0 when the kernel has no Landlock (detail says so), -1 on
 * error; `detail` describes what was applied. */
int hbx_landlock_apply(const char *submission_dir, const char *scratch, int allow_proc,
                       char *detail, size_t len);

/* seccomp: the allow-list, default to the host's supervision (user
 * notification) when `notify` and the kernel can, else kill. On success
 * returns 0, *listener (-1 without notification) and a description. */
int hbx_filter_apply(int notify, int *listener, char *detail, size_t len);

/* The fatal-signal handler's report channel and /proc/self/status (for the
 * address-space peak at death); -1 when unknown. */
void hbx_dying_setup(int sock, int proc_status_fd);

#endif
