/* Definitions shared by the host-side files of the sandbox library. */
#ifndef HBX_SANDBOX_INTERNAL_H
#define HBX_SANDBOX_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "higgsbox/sandbox.h"
#include "protocol.h"

struct hbx_sandbox {
    char *plugin;
    char *worker;
    char *scratch_dir;
    char *log_dir;
    int log_fd;
    double load_timeout_s;
    uint64_t log_cap;
    uint64_t memory_bytes;
    double cpu_s;
    double deadline; /* hbx_now() value; 0: none */
    unsigned max_tasks, max_files;
    uint64_t max_file_size;
    int namespaces, cgroups;
};

/* ---- cgroups (cgroup.c) ------------------------------------------------ */

/* One worker's cgroups: a v2 leaf, or v1 memory and pids groups. */
typedef struct hbx_cgroup {
    int version;      /* 0: none, 1 or 2 */
    char *memory_dir; /* v2: the leaf (memory and pids); v1: the memory group */
    char *pids_dir;   /* v1 only */
    int has_memory, has_pids;
} hbx_cgroup;

/* What cgroups this host process can use; cached after the first call.
 * Returns 2, 1 or 0 (none), with a reason in `why` when none. */
int hbx_cgroup_available(char *why, size_t why_len);

/* Creates a worker's cgroups with the limits (0: no limit of that kind).
 * Returns 0 (cg->version then says which), or -1 with `why`. */
int hbx_cgroup_create(hbx_cgroup *cg, uint64_t memory_bytes, unsigned max_tasks, char *why,
                      size_t why_len);

/* Moves process `pid` into the cgroups. Returns 0 or -1 with errno. */
int hbx_cgroup_attach(const hbx_cgroup *cg, pid_t pid);

/* Number of OOM kills recorded in the memory cgroup (0 when unknown). */
uint64_t hbx_cgroup_oom_kills(const hbx_cgroup *cg);

/* Removes the cgroups (their processes must be gone) and frees the paths. */
void hbx_cgroup_destroy(hbx_cgroup *cg);

/* A one-line description ("cgroup v1 memory+pids: ...") into buf. */
void hbx_cgroup_describe(const hbx_cgroup *cg, char *buf, size_t len);

/* ---- families (family.c) ----------------------------------------------- */

/* A family is one sandboxed process tree: an init process (the reaper, see
 * worker/init.c), the worker spawned with it and the workers forked from
 * that one. A supervisor thread per family answers seccomp notifications,
 * relays init's reports of dead processes and drains the workers' output. */
typedef struct hbx_family hbx_family;

struct hbx_worker {
    hbx_family *fam;
    pid_t pid;        /* host view; 0 until HELLO */
    pid_t ns_pid;     /* in the worker's PID namespace */
    int pidfd;        /* -1 when unavailable */
    int sock;         /* protocol socket */
    int proc_status;  /* /proc/<pid>/status, for VmHWM; -1 */
    int forked;       /* forked from a fitted worker */
    int loaded, fitted;
    /* Death, filled under the family lock. */
    int dead;
    int wait_status;
    int status_known; /* wait_status came from the reaper */
    double cpu_total_s;
    uint64_t maxrss;
    int killed_by_host;
    char denied[64];  /* name of a forbidden system call it made */
    int dying_signal;
    uint64_t dying_vm;
    /* Output capture (family lock). */
    int log_r;        /* read end of its stdout/stderr pipe, -1 once drained */
    int log_out;      /* sink, -1 to discard */
    int log_own;      /* log_out is ours to close */
    uint64_t log_cap, log_written;
    int log_truncated;
    hbx_cgroup cg;
    /* Settings. */
    char *plugin, *scratch_dir;
    double load_timeout_s, cpu_limit_s, deadline;
    uint64_t memory_bytes;
    int memory_rlimit; /* the memory layer is RLIMIT_AS */
    int cpu_rlimit_hard_ok;
    hbx_sandbox_report report;
    double cpu_mark;   /* CPU seconds at the start of the current call */
};

/* Starts a family: init and its first worker (HELLO received). On success
 * returns 0 with *out; else -1 with `why`. */
int hbx_family_spawn(const hbx_sandbox *sb, hbx_worker **out, char *why, size_t why_len);

/* Registers a worker forked inside fam (HELLO already received, pid set),
 * reading its output from log_r. Takes a family reference. */
void hbx_family_add(hbx_family *fam, hbx_worker *w);

/* Allows the next fork of `parent` (the fitted worker's host pid): the
 * supervisor lets exactly its main thread's clone and then one clone by
 * the resulting child through. pass 0 to withdraw. */
void hbx_family_allow_fork(hbx_family *fam, pid_t parent);

/* Hands the family the seccomp listener (taking ownership). */
void hbx_family_set_notify_fd(hbx_family *fam, int fd);

/* Waits until `w` has been reaped by init, at most `seconds`. Returns 1 when
 * dead (then the death fields are set), 0 on time-out. */
int hbx_family_wait_dead(hbx_worker *w, double seconds);

/* Sends SIGCONT then SIGKILL to the worker process alone (pidfd when it has
 * one); marks it as killed by the host. */
void hbx_family_kill_worker(hbx_worker *w);

/* Drains what the worker wrote so far into its log sink (non-blocking). */
void hbx_family_drain_log(hbx_worker *w);

/* Copies a host->log line (LOG frame) into the worker's log sink. */
void hbx_family_log_line(hbx_worker *w, const char *text);

/* Detaches w from its family and drops the reference; the last one kills
 * and reaps the whole tree, stops the supervisor and removes cgroups. */
void hbx_family_release(hbx_worker *w);

/* Waits for a new worker's HELLO on its socket: its pid inside its PID
 * namespace, and (credentials) outside. Returns 0, or -1 with `why`. */
int hbx_await_hello(int sock, double timeout_s, pid_t *pid, pid_t *ns_pid, char *why,
                    size_t why_len);

/* The cgroup limits the family's first worker got (0: none of that kind);
 * forked workers get the same in cgroups of their own. */
void hbx_family_cgroup_limits(hbx_family *fam, uint64_t *memory_bytes, unsigned *max_tasks);

/* OOM kills counted in the worker's memory cgroup (0 without one). */
uint64_t hbx_family_oom_kills(const hbx_worker *w);

/* Locks/unlocks the family (for reading the death fields). */
void hbx_family_lock(hbx_family *fam);
void hbx_family_unlock(hbx_family *fam);

/* The family's settings as the host applied them, for the report. */
void hbx_family_host_layers(hbx_family *fam, hbx_sandbox_report *r);

/* ---- spawning (spawn.c) ------------------------------------------------- */

/* What spawn decided and did for one family. */
typedef struct hbx_spawn_plan {
    unsigned ns_flags;   /* HBX_CFG_*_NS actually requested */
    uid_t uid_out;       /* the workers' uid as seen from outside */
    gid_t gid_out;
    char ns_why[160];    /* why namespaces are off, if they are */
    char ids_why[160];
} hbx_spawn_plan;

/* Clones init (in new namespaces when possible), writes its identity maps
 * and execs the worker executable in it. Runs in the supervisor thread, so
 * that the parent-death signal is tied to the family's lifetime. Returns
 * init's pid, with the host ends of the protocol socket, the init channel
 * and the output pipe; or -1 with `why`. */
pid_t hbx_spawn_init(const hbx_sandbox *sb, hbx_spawn_plan *plan, int *sock, int *status,
                     int *log_r, char *why, size_t why_len);

/* The socketpair and pipe for a new worker: host ends first. SO_PASSCRED is
 * set on the host's socket end. Returns 0 or -1 with errno. */
int hbx_worker_channels(int *host_sock, int *worker_sock, int *log_r, int *log_w);

/* Opens the per-worker log sink as configured (-1: discard). */
int hbx_open_log_sink(const char *log_dir, int log_fd, pid_t pid, int *own);

/* Monotonic time in seconds. */
double hbx_now(void);

/* Reads one "Key:\t value" number from a /proc status-style fd (pread at 0).
 * Returns the value in its unit (kB for memory), or -1. */
long long hbx_proc_status_field(int fd, const char *key);

#endif
