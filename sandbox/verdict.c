/* Verdict names and one-line descriptions of call records. */
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
