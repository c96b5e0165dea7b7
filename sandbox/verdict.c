/* Verdict and layer names, one-line descriptions of call records, and the
 * layer report as JSON. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "higgsbox/sandbox.h"

const char *hbx_verdict_name(hbx_verdict v)
{
    static const char *const names[HBX_N_VERDICTS] = {
        "OK",      "TIMEOUT",        "CPU_LIMIT",  "MEMORY_LIMIT",   "CRASHED",
        "EXITED",  "SYSCALL_DENIED", "BAD_OUTPUT", "PROTOCOL_ERROR", "LOAD_ERROR",
    };
    return (unsigned)v < HBX_N_VERDICTS ? names[v] : "UNKNOWN";
}

void hbx_call_record_describe(const hbx_call_record *rec, char *buf, size_t len)
{
    const char *name = hbx_verdict_name(rec->verdict);
    switch (rec->verdict) {
    case HBX_VERDICT_CRASHED: {
        const char *abbrev = sigabbrev_np(rec->signal);
        if (abbrev)
            snprintf(buf, len, "%s(SIG%s)", name, abbrev);
        else
            snprintf(buf, len, "%s(signal %d)", name, rec->signal);
        break;
    }
    case HBX_VERDICT_EXITED:
        snprintf(buf, len, "%s(%d)", name, rec->exit_code);
        break;
    default:
        if (rec->detail[0])
            snprintf(buf, len, "%s(%s)", name, rec->detail);
        else
            snprintf(buf, len, "%s", name);
    }
}

const char *hbx_layer_name(hbx_layer l)
{
    static const char *const names[HBX_N_LAYERS] = {
        "worker",   "user_ns", "pid_ns", "net_ns", "mount_ns", "ipc_ns",     "privileges", "no_new_privs",
        "landlock", "seccomp", "memory", "tasks",  "cpu",      "files",      "wall_clock", "log",
    };
    return (unsigned)l < HBX_N_LAYERS ? names[l] : "unknown";
}

char *hbx_sandbox_report_json(const hbx_sandbox_report *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (int i = 0; i < HBX_N_LAYERS; i++) {
        json_t *l = json_pack("{s:b, s:s}", "active", r->layer[i].active != 0, "detail",
                              r->layer[i].detail);
        if (!l || json_object_set_new(o, hbx_layer_name((hbx_layer)i), l) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    return s;
}
