/*
 * The worker's confinement, applied after its own set-up and before the
 * plugin is loaded: the process can gain no privilege through exec, cannot
 * be inspected by its peers (not dumpable) and writes no core file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "worker.h"

int hbx_confine(const hbx_worker_ctx *ctx, char *why, size_t why_len)
{
    (void)ctx;
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
        snprintf(why, why_len, "RLIMIT_CORE: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        snprintf(why, why_len, "PR_SET_DUMPABLE: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(why, why_len, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    return 0;
}
