/* Small helpers of scoring: errors, atomic files, text for terminals. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "score_internal.h"

int hbx_sc_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int hbx_sc_write_atomic(const char *path, const char *data, size_t len, char *err,
                        size_t err_len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return hbx_sc_err(err, err_len, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp-XXXXXX", 12);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return hbx_sc_err(err, err_len, "%s: cannot create: %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; a report is meant to be shared. */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int e = done == len ? 0 : errno ? errno : EIO;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return hbx_sc_err(err, err_len, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

void hbx_sc_term_clean(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t o = 0;
    for (const unsigned char *s = (const unsigned char *)(src ? src : ""); *s; s++) {
        /* Continuation bytes never start a character: stop before a lead
         * byte whose whole sequence would not fit. */
        size_t need = *s < 0x80 ? 1 : *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : *s >= 0xc0 ? 2 : 1;
        if (o + need >= cap)
            break;
        if (*s < 0x20 || *s == 0x7f) {
            dst[o++] = '?';
            continue;
        }
        if (*s == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0) { /* C1 controls, e.g. CSI */
            dst[o++] = '?';
            s++;
            continue;
        }
        dst[o++] = (char)*s;
    }
    dst[o] = '\0';
}
