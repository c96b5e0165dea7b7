/*
 * The host <-> worker protocol.
 *
 * One frame per SOCK_SEQPACKET message: a fixed header, then `length` bytes
 * of payload, optionally with file descriptors attached (SCM_RIGHTS) for
 * shared-memory data and new channels. Everything that comes from a worker is
 * untrusted: the reader checks magic, version, type, length against the
 * type's bounds, the byte count actually received and the number of
 * descriptors the type carries, and refuses oversized frames.
 *
 * A second, private channel joins the host to the worker's init process (the
 * reaper of the worker's process tree, see worker/init.c): fixed-size
 * messages, hbx_init_config one way and hbx_init_msg the other.
 */
#ifndef HBX_SANDBOX_PROTOCOL_H
#define HBX_SANDBOX_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "higgsbox/sandbox.h"

#define HBX_PROTO_MAGIC 0x31584248u /* "HBX1" */
#define HBX_PROTO_VERSION 2u
#define HBX_PROTO_MAX_PAYLOAD 4096u /* no message needs more: data goes by fd */
#define HBX_PROTO_MAX_TEXT 1024u    /* longest error or log text */

/* Descriptor numbers a worker process finds its channels on. */
#define HBX_WORKER_SOCK_FD 3   /* protocol socket */
#define HBX_WORKER_STATUS_FD 4 /* init's channel to the host (init only) */

enum hbx_msg_type {
    /* host -> worker */
    HBX_MSG_LOAD = 1,    /* payload: hbx_msg_load; strings follow */
    HBX_MSG_TRAIN = 2,   /* fd: training data block; payload: hbx_msg_data */
    HBX_MSG_FIT = 3,     /* no payload */
    HBX_MSG_PREDICT = 4, /* fd: PE data block; payload: hbx_msg_data */
    HBX_MSG_QUIT = 5,    /* no payload */
    HBX_MSG_PROBE = 6,   /* like LOAD, but only confines and reports (no plugin) */
    HBX_MSG_FORK = 7,    /* fds: the child's protocol socket and log pipe; no payload */
    /* worker -> host */
    HBX_MSG_LOADED = 16,    /* payload: hbx_msg_loaded */
    HBX_MSG_DONE = 17,      /* payload: hbx_msg_status (fit finished) */
    HBX_MSG_RESULT = 18,    /* payload: hbx_msg_result */
    HBX_MSG_ERROR = 19,     /* payload: hbx_msg_error + text */
    HBX_MSG_LOG = 20,       /* payload: hbx_msg_log + text */
    HBX_MSG_HELLO = 21,     /* payload: hbx_msg_hello; the kernel attaches credentials */
    HBX_MSG_CONFINED = 22,  /* payload: hbx_msg_confined (layers applied and verified) */
    HBX_MSG_NOTIFY_FD = 23, /* fd: the seccomp listener; no payload */
    HBX_MSG_FORKED = 24,    /* payload: hbx_msg_status (0: the child is up) */
    HBX_MSG_DYING = 25,     /* payload: hbx_msg_dying (a fatal signal is being taken) */
};

typedef struct hbx_frame_header {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t length; /* payload bytes after the header */
    uint32_t reserved;
} hbx_frame_header;

/* LOAD / PROBE: the worker applies its confinement, then (LOAD) dlopens the
 * plugin. Three NUL-terminated strings follow the fixed part: plugin path,
 * submission directory, scratch directory (empty: none). */
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

/* First frame of every worker process: its pid inside its PID namespace. */
typedef struct hbx_msg_hello {
    int32_t ns_pid;
    uint32_t reserved;
} hbx_msg_hello;

/* Layers as the worker applied and checked them (indices: hbx_layer). */
#define HBX_LAYER_DETAIL 160
typedef struct hbx_msg_confined {
    uint32_t active;   /* bit per layer */
    uint32_t reported; /* bit per layer the worker speaks for */
    char detail[HBX_N_LAYERS][HBX_LAYER_DETAIL];
} hbx_msg_confined;

/* Sent by the worker's fatal-signal handler before the default action. */
typedef struct hbx_msg_dying {
    int32_t signal;
    uint32_t reserved;
    uint64_t vm_peak; /* bytes of address space at the peak, 0 if unknown */
} hbx_msg_dying;

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
    int fd;          /* first attached descriptor, or -1 */
    int fd2;         /* second attached descriptor (FORK), or -1 */
    pid_t cred_pid;  /* sender's pid in the receiver's namespace when the
                        receiving socket has SO_PASSCRED; else 0 */
    _Alignas(16) unsigned char payload[HBX_PROTO_MAX_PAYLOAD + 1];
} hbx_frame;

/* Sends one frame (with `fd` attached when >= 0). Returns 0, or -1 with errno
 * (EMSGSIZE when len exceeds the cap). */
int hbx_proto_send(int sock, uint16_t type, const void *payload, size_t len, int fd);

/* Like hbx_proto_send with two descriptors attached. */
int hbx_proto_send2(int sock, uint16_t type, const void *payload, size_t len, int fd, int fd2);

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

/* Number of descriptors a frame of this type carries. */
int hbx_proto_fd_count(uint16_t type);

/* Returns the i-th NUL-terminated string in payload[from, length), or NULL
 * when there is none within bounds. */
const char *hbx_proto_string(const hbx_frame *f, size_t from, int index);

/* ---------------------------------------------------------------------------
 * The init channel.
 */
#define HBX_INIT_MAGIC 0x54494e49u /* "INIT" */

/* hbx_init_config.flags */
enum {
    HBX_CFG_USER_NS = 1u << 0,   /* in a new user namespace (maps written by the host) */
    HBX_CFG_PID_NS = 1u << 1,
    HBX_CFG_NET_NS = 1u << 2,
    HBX_CFG_MOUNT_NS = 1u << 3,
    HBX_CFG_IPC_NS = 1u << 4,
    HBX_CFG_SET_IDS = 1u << 5,   /* switch to uid/gid below */
    HBX_CFG_CLEAR_GROUPS = 1u << 6,
    HBX_CFG_RLIMIT_AS = 1u << 7, /* memory: RLIMIT_AS (no memory cgroup) */
    HBX_CFG_RLIMIT_NPROC = 1u << 8,
    HBX_CFG_NOTIFY = 1u << 9,    /* seccomp user notification is supervised by the host */
};

/* Host -> init, once, after the identity maps and cgroups are in place. */
typedef struct hbx_init_config {
    uint32_t magic;
    uint32_t flags;
    uint32_t uid, gid;           /* inside the namespace */
    uint32_t max_tasks, max_files;
    uint64_t memory_bytes;
    uint64_t max_file_size;
    uint64_t host_ns[5];         /* host's user, pid, net, mnt, ipc namespace inodes */
    char memory_detail[96];      /* the host's word on the memory layer */
    char tasks_detail[96];
} hbx_init_config;

enum { HBX_INIT_STARTED = 1, HBX_INIT_EXITED = 2 };

/* Init -> host: a worker started, or a process of the tree was reaped. */
typedef struct hbx_init_msg {
    uint32_t type;
    int32_t pid;     /* in the worker's PID namespace */
    int32_t status;  /* wait status (EXITED) */
    uint32_t reserved;
    uint64_t cpu_ns; /* user + system CPU of the process (EXITED) */
    uint64_t maxrss; /* peak resident bytes (EXITED) */
} hbx_init_msg;

#endif
