/* Turning a call's verdict into one line that says what to fix. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

/* The advice for a verdict, given what the call was. */
static const char *advice(const kit_call *c, int is_fit, int is_predict)
{
    const hbx_call_record *r = &c->rec;
    switch (r->verdict) {
    case HBX_VERDICT_OK:
        return "";
    case HBX_VERDICT_TIMEOUT:
        return "it took longer than the kit's time limit; make it faster (the kit's data is "
               "small, a real run's is far larger)";
    case HBX_VERDICT_CPU_LIMIT:
        return "it used more CPU time than allowed; make it faster";
    case HBX_VERDICT_MEMORY_LIMIT:
        return "it used more memory than the limit; keep a compact model, free what you "
               "allocate and avoid copying whole datasets";
    case HBX_VERDICT_CRASHED:
        return r->signal == SIGABRT
                   ? "the plugin aborted (a failed assert() or abort()); return an error "
                     "code or a valid answer instead"
                   : "the plugin crashed; run it under a debugger or AddressSanitizer on the "
                     "same input";
    case HBX_VERDICT_EXITED:
        return "the plugin ended its process (exit() or similar); return from the entry "
               "point instead, with an error code if something is wrong";
    case HBX_VERDICT_SYSCALL_DENIED:
        return "the plugin made a system call the sandbox forbids (no network, no new "
               "processes, no writes outside host->scratch_dir())";
    case HBX_VERDICT_BAD_OUTPUT:
        if (is_fit)
            return "fit must return HBX_OK (0); log why it fails through host->log";
        if (strstr(r->detail, "NaN") || strstr(r->detail, "infinity"))
            return "every field of hbx_prediction must be a finite number";
        if (strstr(r->detail, "p16 > p84"))
            return "the interval must have p16 <= p84";
        if (strstr(r->detail, "delta_mu_hat"))
            return "delta_mu_hat is an uncertainty and must be >= 0";
        if (is_predict && strstr(r->detail, "returned error"))
            return "predict must return HBX_OK (0) with an answer for every pseudo-experiment";
        return "the answer is unusable";
    case HBX_VERDICT_PROTOCOL_ERROR:
        return "the worker broke the protocol, likely because the plugin corrupted its "
               "memory; check it under AddressSanitizer";
    case HBX_VERDICT_LOAD_ERROR:
        /* Started as root, the sandbox drops to an unprivileged user first. */
        if (strstr(r->detail, "Permission denied") && geteuid() == 0)
            return "run as root, the worker drops to an unprivileged user: the worker, the "
                   "plugin and every directory above them must be readable and searchable "
                   "by others (chmod o+rx)";
        return "";
    default:
        return "";
    }
}

void kit_call_explain(const kit_session *s, const kit_call *c, char *buf, size_t len)
{
    char verdict[700];
    hbx_call_record_describe(&c->rec, verdict, sizeof verdict);
    /* Describe already shows the detail for most verdicts, not for these. */
    if ((c->rec.verdict == HBX_VERDICT_CRASHED || c->rec.verdict == HBX_VERDICT_EXITED) &&
        strncmp(c->rec.detail, "while ", 6) == 0) {
        size_t n = strlen(verdict);
        snprintf(verdict + n, sizeof verdict - n, " %s", c->rec.detail);
    }
    int is_fit = c == &s->fit;
    int is_predict = !is_fit && c != &s->load;
    const char *how = advice(c, is_fit, is_predict);
    if (c->rec.verdict == HBX_VERDICT_TIMEOUT) {
        double limit = is_fit ? s->opt.fit_timeout_s : s->opt.predict_timeout_s;
        if (c != &s->load)
            snprintf(verdict + strlen(verdict), sizeof verdict - strlen(verdict),
                     ", limit %g s", limit);
    }
    int n = snprintf(buf, len, "%s: %s%s%s", c->what, verdict, *how ? ": " : "", how);
    if (c->log_tail[0] && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " (last plugin output: %s)", c->log_tail);
}
