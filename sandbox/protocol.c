/* Framing of host <-> worker messages over a SOCK_SEQPACKET socket. */
#include "protocol.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int send_frame(int sock, uint16_t type, const void *payload, size_t len, const int *fds,
                      int nfds)
{
    if (len > HBX_PROTO_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    hbx_frame_header h = {HBX_PROTO_MAGIC, HBX_PROTO_VERSION, type, (uint32_t)len, 0};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)payload, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 2)];
    } control;
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != sizeof h + len) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int hbx_proto_send(int sock, uint16_t type, const void *payload, size_t len, int fd)
{
    return send_frame(sock, type, payload, len, &fd, fd >= 0 ? 1 : 0);
}

int hbx_proto_send2(int sock, uint16_t type, const void *payload, size_t len, int fd, int fd2)
{
    int fds[2] = {fd, fd2};
    return send_frame(sock, type, payload, len, fds, 2);
}

int hbx_proto_send_text(int sock, uint16_t type, const void *head, size_t head_len,
                        const char *text)
{
    unsigned char buf[HBX_PROTO_MAX_PAYLOAD];
    size_t tl = text ? strnlen(text, HBX_PROTO_MAX_TEXT) : 0;
    if (head_len + tl + 1 > sizeof buf) {
        errno = EMSGSIZE;
        return -1;
    }
    memcpy(buf, head, head_len);
    if (tl)
        memcpy(buf + head_len, text, tl);
    buf[head_len + tl] = '\0';
    return hbx_proto_send(sock, type, buf, head_len + tl + 1, -1);
}

int hbx_proto_check_length(uint16_t type, uint32_t length)
{
    switch (type) {
    case HBX_MSG_FIT:
    case HBX_MSG_QUIT:
    case HBX_MSG_FORK:
    case HBX_MSG_NOTIFY_FD:
        return length == 0;
    case HBX_MSG_HELLO:
        return length == sizeof(hbx_msg_hello);
    case HBX_MSG_CONFINED:
        return length == sizeof(hbx_msg_confined);
    case HBX_MSG_DYING:
        return length == sizeof(hbx_msg_dying);
    case HBX_MSG_FORKED:
        return length == sizeof(hbx_msg_status);
    case HBX_MSG_TRAIN:
    case HBX_MSG_PREDICT:
        return length == sizeof(hbx_msg_data);
    case HBX_MSG_LOAD:
    case HBX_MSG_PROBE:
        return length > sizeof(hbx_msg_load) && length <= HBX_PROTO_MAX_PAYLOAD;
    case HBX_MSG_LOADED:
        return length == sizeof(hbx_msg_loaded);
    case HBX_MSG_DONE:
        return length == sizeof(hbx_msg_status);
    case HBX_MSG_RESULT:
        return length == sizeof(hbx_msg_result);
    case HBX_MSG_ERROR:
        return length > sizeof(hbx_msg_error) &&
               length <= sizeof(hbx_msg_error) + HBX_PROTO_MAX_TEXT + 1;
    case HBX_MSG_LOG:
        return length > sizeof(hbx_msg_log) &&
               length <= sizeof(hbx_msg_log) + HBX_PROTO_MAX_TEXT + 1;
    default:
        return 0;
    }
}

int hbx_proto_fd_count(uint16_t type)
{
    switch (type) {
    case HBX_MSG_TRAIN:
    case HBX_MSG_PREDICT:
    case HBX_MSG_NOTIFY_FD:
        return 1;
    case HBX_MSG_FORK:
        return 2;
    default:
        return 0;
    }
}

static void close_fds(hbx_frame *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->fd2 >= 0)
        close(f->fd2);
    f->fd = f->fd2 = -1;
}

static int reject(hbx_frame *f, char *why, size_t why_len, const char *reason)
{
    close_fds(f);
    if (why && why_len)
        snprintf(why, why_len, "%s", reason);
    errno = EPROTO;
    return -1;
}

int hbx_proto_recv(int sock, hbx_frame *f, char *why, size_t why_len)
{
    hbx_frame_header h;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 4) + CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov[2] = {{&h, sizeof h}, {f->payload, HBX_PROTO_MAX_PAYLOAD}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    f->fd = f->fd2 = -1;
    f->cred_pid = 0;
    f->length = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (why && why_len)
            snprintf(why, why_len, "receive failed: %s", strerror(errno));
        return -1;
    }
    /* Collect descriptors first so that every path below can close them. */
    int nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cr;
            memcpy(&cr, CMSG_DATA(c), sizeof cr);
            f->cred_pid = cr.pid;
            continue;
        }
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (nfds == 0)
                f->fd = fd;
            else if (nfds == 1)
                f->fd2 = fd;
            else
                close(fd);
            nfds++;
        }
    }
    if (n == 0 && nfds == 0)
        return 0;
    if (msg.msg_flags & MSG_CTRUNC)
        return reject(f, why, why_len, "control data truncated");
    if (msg.msg_flags & MSG_TRUNC)
        return reject(f, why, why_len, "oversized frame");
    if ((size_t)n < sizeof h)
        return reject(f, why, why_len, "short frame header");
    if (h.magic != HBX_PROTO_MAGIC)
        return reject(f, why, why_len, "bad frame magic");
    if (h.version != HBX_PROTO_VERSION)
        return reject(f, why, why_len, "unsupported protocol version");
    if (h.length != (size_t)n - sizeof h)
        return reject(f, why, why_len, "frame length does not match bytes received");
    if (!hbx_proto_check_length(h.type, h.length))
        return reject(f, why, why_len, "unknown frame type or bad length for its type");
    int wants = hbx_proto_fd_count(h.type);
    if (nfds != wants)
        return reject(f, why, why_len,
                      nfds < wants ? "descriptor missing from frame"
                                   : "unexpected descriptor attached");
    f->type = h.type;
    f->length = h.length;
    f->payload[h.length] = '\0';
    return 1;
}

const char *hbx_proto_string(const hbx_frame *f, size_t from, int index)
{
    size_t at = from;
    for (int i = 0; at < f->length; i++) {
        const char *s = (const char *)f->payload + at;
        size_t len = strnlen(s, f->length - at);
        if (at + len >= f->length)
            return NULL; /* not terminated within the payload */
        if (i == index)
            return s;
        at += len + 1;
    }
    return NULL;
}
