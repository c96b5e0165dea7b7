/* Describing a plugin: load it in a worker and read its descriptor. */
#include <stdio.h>

#include "higgsbox/higgsbox.h"

const char *hbx_version(void)
{
    return HBX_VERSION;
}

int hbx_plugin_describe(const char *plugin_path, const char *worker, hbx_plugin_info *info,
                        hbx_call_record *rec)
{
    hbx_sandbox *sb = hbx_sandbox_new();
    if (!sb || hbx_sandbox_set_plugin(sb, plugin_path) != 0 ||
        (worker && hbx_sandbox_set_worker(sb, worker) != 0)) {
        hbx_sandbox_destroy(sb);
        rec->verdict = HBX_VERDICT_LOAD_ERROR;
        snprintf(rec->detail, sizeof rec->detail, "out of memory");
        return -1;
    }
    hbx_worker *w = NULL;
    int rc = hbx_worker_spawn(sb, &w, rec);
    if (rc == 0)
        rc = hbx_worker_load(w, info, rec);
    hbx_worker_destroy(w);
    hbx_sandbox_destroy(sb);
    return rc;
}
