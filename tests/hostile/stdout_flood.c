/* Hostile: writes 1 GiB to stdout (and some to stderr), then answers.
 * Expected: OK, the log capped and the record flagged LOG_TRUNCATED. */
#include <string.h>
#include <unistd.h>

#include "hostile.h"

static int predict_flood(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 1024; i++) {
        size_t off = 0;
        while (off < sizeof buf) {
            ssize_t n = write(1, buf + off, sizeof buf - off);
            if (n <= 0)
                return HBX_E_IO;
            off += (size_t)n;
        }
    }
    ssize_t ignored = write(2, "flood done\n", 11);
    (void)ignored;
    return hostile_answer(out, 1.0);
}

HOSTILE_PLUGIN("stdout_flood", hostile_fit_ok, predict_flood)
