/*
 * higgsbox sandbox: untrusted plugins run in worker processes.
 *
 * A plugin is never loaded into the caller's process. hbx_worker_spawn()
 * fork+execs the worker executable, which confines itself and then dlopens
 * the plugin; every later call crosses the framed protocol and ends in a
 * verdict (hbx_call_record).
 *
 * Usage, builder style:
 *
 *   hbx_sandbox *sb = hbx_sandbox_new();
 *   hbx_sandbox_set_plugin(sb, "plugins/constant/constant.so");
 *   hbx_worker *w;
 *   hbx_call_record rec;
 *   if (hbx_worker_spawn(sb, &w, &rec) == 0 && hbx_worker_load(w, &info, &rec) == 0)
 *       hbx_worker_fit(w, train_fd, train_size, &rec);
 *   hbx_worker_destroy(w);
 *   hbx_sandbox_destroy(sb);
 *
 * Thread safety: a sandbox and a worker are each used by one thread at a time.
 */
#ifndef HIGGSBOX_SANDBOX_H
#define HIGGSBOX_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include "higgsbox/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a call ended. Exactly one per call. */
typedef enum hbx_verdict {
    HBX_VERDICT_OK = 0,
    HBX_VERDICT_TIMEOUT,        /* wall-clock limit of the call or the run */
    HBX_VERDICT_CPU_LIMIT,      /* CPU-time limit */
    HBX_VERDICT_MEMORY_LIMIT,   /* memory limit */
    HBX_VERDICT_CRASHED,        /* killed by a signal (record.signal) */
    HBX_VERDICT_EXITED,         /* exited on its own (record.exit_code) */
    HBX_VERDICT_SYSCALL_DENIED, /* a forbidden system call (record.detail names it) */
    HBX_VERDICT_BAD_OUTPUT,     /* the answer is unusable (record.detail says why) */
    HBX_VERDICT_PROTOCOL_ERROR, /* the worker broke the protocol */
    HBX_VERDICT_LOAD_ERROR,     /* the plugin could not be loaded (record.detail) */
    HBX_N_VERDICTS
} hbx_verdict;

/* Upper-case name of a verdict ("OK", "TIMEOUT", ...). */
const char *hbx_verdict_name(hbx_verdict v);

/* The record of one call. */
typedef struct hbx_call_record {
    hbx_verdict verdict;
    int signal;          /* CRASHED: the signal number; else 0 */
    int exit_code;       /* EXITED: the exit status; else 0 */
    double wall_s;       /* wall-clock seconds of the call */
    double cpu_s;        /* CPU seconds (user + system) of the worker during the call */
    uint64_t peak_rss;   /* peak resident memory of the worker so far, bytes */
    char detail[512];    /* human-readable detail; empty when OK */
} hbx_call_record;

/* Formats a record's verdict as one line, e.g. "CRASHED(SIGSEGV)". */
void hbx_call_record_describe(const hbx_call_record *rec, char *buf, size_t len);

/* ---------------------------------------------------------------------------
 * Configuration
 */
typedef struct hbx_sandbox hbx_sandbox;

/* A new configuration with defaults (worker executable found beside the
 * running program). Returns NULL on allocation failure. The caller owns it. */
hbx_sandbox *hbx_sandbox_new(void);

/* Frees a configuration. Workers spawned from it keep running. */
void hbx_sandbox_destroy(hbx_sandbox *sb);

/* The plugin shared object to load (required). Copied. Returns 0 or -1. */
int hbx_sandbox_set_plugin(hbx_sandbox *sb, const char *path);

/* The worker executable (default: higgsbox-worker beside /proc/self/exe, or
 * ../libexec/higgsbox/higgsbox-worker relative to it). Copied. */
int hbx_sandbox_set_worker(hbx_sandbox *sb, const char *path);

/* A writable scratch directory for the plugin (default: none). Copied. */
int hbx_sandbox_set_scratch_dir(hbx_sandbox *sb, const char *path);

/* Where the worker's stdout and stderr go: a descriptor the caller keeps
 * owning (default: discarded). */
void hbx_sandbox_set_log_fd(hbx_sandbox *sb, int fd);

/* Wall-clock limit of loading the plugin, in seconds (default 30). */
void hbx_sandbox_set_load_timeout(hbx_sandbox *sb, double seconds);

/* ---------------------------------------------------------------------------
 * Workers
 */
typedef struct hbx_worker hbx_worker;

/* What a loaded plugin's descriptor says. */
typedef struct hbx_plugin_info {
    uint32_t abi_major, abi_minor, struct_size;
    char name[64];
    char version[64];
} hbx_plugin_info;

/* Starts a worker for sb's plugin. On success returns 0 and *out (owned by
 * the caller: hbx_worker_destroy). On failure returns -1, *out is NULL and
 * rec says why (LOAD_ERROR with detail). */
int hbx_worker_spawn(const hbx_sandbox *sb, hbx_worker **out, hbx_call_record *rec);

/* Has the worker confine itself and load the plugin, then checks the
 * descriptor. Returns 0 with *info filled, or -1 with rec's verdict
 * (LOAD_ERROR with the precise reason, CRASHED, EXITED, TIMEOUT, ...). */
int hbx_worker_load(hbx_worker *w, hbx_plugin_info *info, hbx_call_record *rec);

/* Hands the worker the training data (a block descriptor, see block.h; the
 * caller keeps its fd) and runs create + fit within `timeout_s` seconds.
 * Returns 0 when the verdict is OK, else -1. */
int hbx_worker_fit(hbx_worker *w, int train_fd, uint64_t train_size, double timeout_s,
                   hbx_call_record *rec);

/* Runs predict on one pseudo-experiment block within `timeout_s` seconds and
 * validates the answer. Returns 0 when the verdict is OK (then *out is set),
 * else -1. */
int hbx_worker_predict(hbx_worker *w, int pe_fd, uint64_t pe_size, double timeout_s,
                       hbx_prediction *out, hbx_call_record *rec);

/* Forks a predict worker from a worker whose fit ended OK: the worker code
 * (never plugin code) forks after fit, so the child shares the fitted state
 * copy-on-write, and gets its own protocol socket. On success *child is a new
 * handle owned by the caller (hbx_worker_destroy); returns 0, or -1 with rec
 * saying why. */
int hbx_worker_fork(hbx_worker *fitted, hbx_worker **child, hbx_call_record *rec);

/* The worker's process id (as seen by the caller), or -1 once it is gone. */
pid_t hbx_worker_pid(const hbx_worker *w);

/* Kills the worker's whole process tree (if still alive), reaps it and frees
 * the handle. NULL is ignored. */
void hbx_worker_destroy(hbx_worker *w);

#ifdef __cplusplus
}
#endif
#endif
