/* Definitions shared by the host-side files of the sandbox library. */
#ifndef HBX_SANDBOX_INTERNAL_H
#define HBX_SANDBOX_INTERNAL_H

#include <sys/types.h>

#include "higgsbox/sandbox.h"

struct hbx_sandbox {
    char *plugin;
    char *worker;
    char *scratch_dir;
    int log_fd;
    double load_timeout_s;
};

struct hbx_worker {
    pid_t pid;        /* worker process (leader of its process group) */
    int sock;         /* protocol socket */
    int log_fd;       /* where LOG frames go, or -1 */
    int loaded;
    int dead;         /* reaped */
    int wait_status;  /* valid when dead */
    char *plugin;
    char *scratch_dir;
    double load_timeout_s;
};

/* Fork+exec of the worker with its descriptors, environment and process
 * group set up. Returns the pid and the host end of the socket, or -1 with
 * a reason in `why`. */
pid_t hbx_spawn_worker(const hbx_sandbox *sb, int *sock, char *why, size_t why_len);

/* Kills the worker's process group (SIGCONT then SIGKILL) and reaps the
 * worker, storing its wait status. */
void hbx_kill_tree(hbx_worker *w);

/* Monotonic time in seconds. */
double hbx_now(void);

#endif
