/*
 * The host <-> worker protocol.
 *
 * One frame per SOCK_SEQPACKET message: a fixed header, then `length` bytes
 * of payload, optionally with one file descriptor attached (SCM_RIGHTS) for
 * shared-memory data. Everything that comes from a worker is untrusted: the
 * reader checks magic, version, type, length against the type's bounds and
 * the byte count actually received, and refuses oversized frames.
 */
#ifndef HBX_SANDBOX_PROTOCOL_H
#define HBX_SANDBOX_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define HBX_PROTO_MAGIC 0x31584248u /* "HBX1" */
#define HBX_PROTO_VERSION 1u
#define HBX_PROTO_MAX_PAYLOAD 4096u /* no message needs more: data goes by fd */
#define HBX_PROTO_MAX_TEXT 1024u    /* longest error or log text */

enum hbx_msg_type {
    /* host -> worker */
    HBX_MSG_LOAD = 1,    /* payload: hbx_msg_load; strings follow */
    HBX_MSG_TRAIN = 2,   /* fd: training data block; payload: hbx_msg_data */
    HBX_MSG_FIT = 3,     /* no payload */
    HBX_MSG_PREDICT = 4, /* fd: PE data block; payload: hbx_msg_data */
    HBX_MSG_QUIT = 5,    /* no payload */
    /* worker -> host */
    HBX_MSG_LOADED = 16, /* payload: hbx_msg_loaded */
    HBX_MSG_DONE = 17,   /* payload: hbx_msg_status (fit finished) */
    HBX_MSG_RESULT = 18, /* payload: hbx_msg_result */
    HBX_MSG_ERROR = 19,  /* payload: hbx_msg_error + text */
    HBX_MSG_LOG = 20,    /* payload: hbx_msg_log + text */
};

typedef struct hbx_frame_header {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t length; /* payload bytes after the header */
    uint32_t reserved;
} hbx_frame_header;

/* LOAD: the worker applies its confinement, then dlopens the plugin. Three
 * NUL-terminated strings follow the fixed part: plugin path, submission
 * directory, scratch directory. */
typedef struct hbx_msg_load {
    uint32_t flags;
    uint32_t reserved;
} hbx_msg_load;

typedef struct hbx_msg_data {
    uint64_t size;  /* bytes of the block behind the fd */
    uint64_t id;    /* caller's tag, echoed in logs */
} hbx_msg_data;

typedef struct hbx_msg_loaded {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t struct_size;
    uint32_t reserved;
    char name[64];
    char version[64];
} hbx_msg_loaded;

typedef struct hbx_msg_status {
    int32_t status; /* the plugin's return code */
    int32_t reserved;
} hbx_msg_status;

typedef struct hbx_msg_result {
    int32_t status;
    int32_t reserved;
    double mu_hat, delta_mu_hat, p16, p84;
} hbx_msg_result;

/* What kind of failure an ERROR frame reports. */
enum hbx_error_kind {
    HBX_ERR_LOAD = 1,     /* plugin could not be loaded or checked */
    HBX_ERR_PROTOCOL = 2, /* the worker got something it does not understand */
    HBX_ERR_CALL = 3,     /* a call could not be made (e.g. fit before load) */
    HBX_ERR_SANDBOX = 4,  /* confinement could not be applied */
};

typedef struct hbx_msg_error {
    uint32_t kind;
    uint32_t reserved;
} hbx_msg_error;

typedef struct hbx_msg_log {
    uint32_t level;
    uint32_t reserved;
} hbx_msg_log;

/* A received frame. `payload` is NUL-terminated one byte past `length`, so
 * text tails can be read as strings once their bounds are checked. */
typedef struct hbx_frame {
    uint16_t type;
    uint32_t length;
    int fd; /* attached descriptor, or -1 */
    _Alignas(16) unsigned char payload[HBX_PROTO_MAX_PAYLOAD + 1];
} hbx_frame;

/* Sends one frame (with `fd` attached when >= 0). Returns 0, or -1 with errno
 * (EMSGSIZE when len exceeds the cap). */
int hbx_proto_send(int sock, uint16_t type, const void *payload, size_t len, int fd);

/* Sends a frame whose payload is `head` followed by the NUL-terminated text
 * (truncated to HBX_PROTO_MAX_TEXT). */
int hbx_proto_send_text(int sock, uint16_t type, const void *head, size_t head_len,
                        const char *text);

/* Receives one frame into *f. Returns 1 on a frame, 0 on orderly EOF, -1 on a
 * malformed frame or I/O error; then `why` (if not NULL) gets a short reason.
 * Any received fd of a rejected frame is closed. */
int hbx_proto_recv(int sock, hbx_frame *f, char *why, size_t why_len);

/* Bounds of each message type's payload; the reader enforces them. */
int hbx_proto_check_length(uint16_t type, uint32_t length);

/* Returns the i-th NUL-terminated string in payload[from, length), or NULL
 * when there is none within bounds. */
const char *hbx_proto_string(const hbx_frame *f, size_t from, int index);

#endif
