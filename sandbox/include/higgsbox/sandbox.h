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
 * Thread safety: a sandbox and a worker are each used by one thread at a time;
 * different workers, including those forked from one fitted worker, may be
 * used by different threads at once.
 *
 * docs/SANDBOX.md describes the threat model, the layers and their
 * fallbacks.
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

/* hbx_call_record.flags */
#define HBX_RECORD_LOG_TRUNCATED 1u /* the worker's output exceeded the log cap */

/* The record of one call (docs/SANDBOX.md, "The verdict record"). */
typedef struct hbx_call_record {
    hbx_verdict verdict;
    int signal;          /* CRASHED: the signal number; else 0 */
    int exit_code;       /* EXITED: the exit status; else 0 */
    double wall_s;       /* wall-clock seconds of the call */
    double cpu_s;        /* CPU seconds (user + system, all threads) of the worker during the call */
    uint64_t peak_rss;   /* peak resident memory of the worker so far, bytes */
    uint32_t flags;      /* HBX_RECORD_* */
    char detail[512];    /* SYSCALL_DENIED: the system call's name; BAD_OUTPUT, LOAD_ERROR,
                            PROTOCOL_ERROR, TIMEOUT, ...: why; empty when OK */
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

/* Per-worker log files: each worker's stdout and stderr (and host->log lines)
 * go to DIR/worker-<pid>.log, created by the host (default: none; then the
 * log fd, else discarded). The directory must exist. Copied. Returns 0 or -1. */
int hbx_sandbox_set_log_dir(hbx_sandbox *sb, const char *dir);

/* Bytes of output kept per worker (default 1 MiB); the rest is drained and
 * dropped, and the call records get HBX_RECORD_LOG_TRUNCATED. */
void hbx_sandbox_set_log_cap(hbx_sandbox *sb, uint64_t bytes);

/* Memory limit per worker process in bytes (default 0: none). Enforced by a
 * memory cgroup (swap off) where a writable one exists, else RLIMIT_AS
 * (not in sanitizer builds of the worker); see hbx_sandbox_probe(). */
void hbx_sandbox_set_memory_limit(hbx_sandbox *sb, uint64_t bytes);

/* CPU seconds (all threads) allowed to one call (default 0: none): the
 * worker's RLIMIT_CPU is moved before each call, and the host kills a worker
 * whose CPU clock passes it (CPU_LIMIT). */
void hbx_sandbox_set_cpu_limit(hbx_sandbox *sb, double seconds);

/* A deadline for the whole run, `seconds` from now (<= 0: none). A call that
 * would end after it is cut short with TIMEOUT ("run deadline"). Workers keep
 * the deadline of the sandbox they were spawned from. */
void hbx_sandbox_set_deadline(hbx_sandbox *sb, double seconds);

/* Threads + processes per worker (default 512): pids.max of its cgroup, or
 * RLIMIT_NPROC inside its user namespace. */
void hbx_sandbox_set_max_tasks(hbx_sandbox *sb, unsigned n);

/* Open descriptors per worker process (RLIMIT_NOFILE, default 256). */
void hbx_sandbox_set_max_files(hbx_sandbox *sb, unsigned n);

/* Largest file a worker may write (RLIMIT_FSIZE, default 1 GiB; SIGXFSZ
 * beyond). */
void hbx_sandbox_set_max_file_size(hbx_sandbox *sb, uint64_t bytes);

/* Namespaces on (default) or off. Off, or where the kernel refuses them,
 * workers run in the documented fallback (docs/SANDBOX.md). The environment
 * variable HBX_SANDBOX_NAMESPACES=0 sets the default to off. */
void hbx_sandbox_set_namespaces(hbx_sandbox *sb, int on);

/* cgroups on (default) or off (then memory falls back to RLIMIT_AS and tasks
 * to RLIMIT_NPROC). HBX_SANDBOX_CGROUPS=0 sets the default to off. */
void hbx_sandbox_set_cgroups(hbx_sandbox *sb, int on);

/* ---------------------------------------------------------------------------
 * Layers: what confines a worker, each applied before the plugin is loaded
 * and checked by the worker itself.
 */
typedef enum hbx_layer {
    HBX_LAYER_WORKER = 0,   /* fresh exec'd process, fds closed, env scrubbed, own group */
    HBX_LAYER_USER_NS,      /* user namespace: unprivileged identity */
    HBX_LAYER_PID_NS,       /* PID namespace: sees and signals only its own tree */
    HBX_LAYER_NET_NS,       /* network namespace: no interface but a down loopback */
    HBX_LAYER_MOUNT_NS,     /* mount namespace with a private /proc */
    HBX_LAYER_IPC_NS,       /* IPC namespace */
    HBX_LAYER_PRIVILEGES,   /* unprivileged uid/gid, every capability dropped */
    HBX_LAYER_NO_NEW_PRIVS, /* no_new_privs, not dumpable, no core files */
    HBX_LAYER_LANDLOCK,     /* file system (and TCP, signal) access control */
    HBX_LAYER_SECCOMP,      /* system call allow-list */
    HBX_LAYER_MEMORY,       /* memory limit */
    HBX_LAYER_TASKS,        /* thread/process limit */
    HBX_LAYER_CPU,          /* CPU-time limit per call */
    HBX_LAYER_FILES,        /* open files and file size limits */
    HBX_LAYER_WALL_CLOCK,   /* wall-clock limits per call and per run */
    HBX_LAYER_LOG,          /* captured, size-capped output */
    HBX_N_LAYERS
} hbx_layer;

/* Short lower-case name of a layer ("user_ns", "landlock", ...). */
const char *hbx_layer_name(hbx_layer l);

typedef struct hbx_layer_status {
    int active;        /* 1: applied and checked */
    char detail[200];  /* what exactly, or why not */
} hbx_layer_status;

typedef struct hbx_sandbox_report {
    hbx_layer_status layer[HBX_N_LAYERS];
} hbx_sandbox_report;

/* Starts a worker with sb's settings (no plugin needed), has it confine
 * itself exactly as before loading a plugin, and reports every layer.
 * Returns 0 with *out filled, or -1 with rec saying why no worker could
 * report (out then holds what the host knows). */
int hbx_sandbox_probe(const hbx_sandbox *sb, hbx_sandbox_report *out, hbx_call_record *rec);

/* The layers of `r` as a JSON object {"<layer>": {"active": bool, "detail":
 * "..."}, ...}: a malloc'd string the caller frees, or NULL on allocation
 * failure. */
char *hbx_sandbox_report_json(const hbx_sandbox_report *r);

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
 * saying why (the fitted worker is then left as it was, or dead if the
 * verdict says so). A child that died is replaced by forking again. The
 * child runs under the same namespaces, Landlock domain, seccomp filter and
 * limits, in a memory/pids cgroup of its own when cgroups are used. */
int hbx_worker_fork(hbx_worker *fitted, hbx_worker **child, hbx_call_record *rec);

/* The worker's process id (as seen by the caller), or -1 once it is gone. */
pid_t hbx_worker_pid(const hbx_worker *w);

/* The layers confining this worker as it reported them when loading (before
 * hbx_worker_load: what the host knows). Returns 0, or -1 on NULL. */
int hbx_worker_report(const hbx_worker *w, hbx_sandbox_report *out);

/* Kills the worker (if still alive) and frees the handle. Predict workers
 * forked from it live on (they are not its children but its init's); the
 * sandbox's whole process tree is killed and reaped, with no zombie left,
 * when the last worker of the tree is destroyed. NULL is ignored. */
void hbx_worker_destroy(hbx_worker *w);

#ifdef __cplusplus
}
#endif
#endif
