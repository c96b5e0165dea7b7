/*
 * higgsbox-worker: serves one plugin to the host over the protocol socket.
 *
 * It is exec'd fresh by the host (sandbox/spawn.c), confines itself when the
 * LOAD request arrives, and only then dlopens the plugin: a plugin's
 * constructors run inside an already-confined process.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "higgsbox/block.h"
#include "protocol.h"
#include "worker.h"

/* Size of the v1.0 descriptor: a plugin's struct_size must cover it. */
#define DESCRIPTOR_V1_0_SIZE (offsetof(hbx_plugin, destroy) + sizeof(void (*)(void *)))

typedef struct worker {
    hbx_worker_ctx ctx;
    const hbx_plugin *plugin;
    const hbx_host_api *host;
    void *state;
    int created;
    void *train_map;
    uint64_t train_map_size;
} worker;

static int send_error(int sock, uint32_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int send_error(int sock, uint32_t kind, const char *fmt, ...)
{
    char text[HBX_PROTO_MAX_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    hbx_msg_error e = {kind, 0};
    return hbx_proto_send_text(sock, HBX_MSG_ERROR, &e, sizeof e, text);
}

/* Checks that `path` is a readable ELF shared object before dlopen, so the
 * error names the real problem rather than the loader's guess. */
static int check_file(int sock, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return send_error(sock, HBX_ERR_LOAD, "%s: %s", path,
                          errno == ENOENT ? "no such file" : strerror(errno)),
               -1;
    struct stat st;
    Elf64_Ehdr eh;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, &eh, sizeof eh) : -1;
    close(fd);
    if (n < 0)
        return send_error(sock, HBX_ERR_LOAD, "%s: not a regular file", path), -1;
    if ((size_t)n < EI_NIDENT || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return send_error(sock, HBX_ERR_LOAD, "%s: not a shared object (no ELF header)", path),
               -1;
    if ((size_t)n < sizeof eh || eh.e_ident[EI_CLASS] != ELFCLASS64)
        return send_error(sock, HBX_ERR_LOAD, "%s: not a 64-bit ELF object", path), -1;
    if (eh.e_type != ET_DYN)
        return send_error(sock, HBX_ERR_LOAD,
                          "%s: not a shared object (ELF type %u; build with -shared)", path,
                          (unsigned)eh.e_type),
               -1;
    return 0;
}

static int handle_load(worker *w, const hbx_frame *f)
{
    int sock = w->ctx.sock;
    if (w->plugin)
        return send_error(sock, HBX_ERR_PROTOCOL, "plugin already loaded");
    const char *path = hbx_proto_string(f, sizeof(hbx_msg_load), 0);
    const char *dir = hbx_proto_string(f, sizeof(hbx_msg_load), 1);
    const char *scratch = hbx_proto_string(f, sizeof(hbx_msg_load), 2);
    if (!path || !dir || !scratch)
        return send_error(sock, HBX_ERR_PROTOCOL, "malformed LOAD request");
    w->ctx.submission_dir = strdup(dir);
    w->ctx.scratch_dir = strdup(scratch);
    if (!w->ctx.submission_dir || !w->ctx.scratch_dir)
        return send_error(sock, HBX_ERR_LOAD, "out of memory");
    if (check_file(sock, path) != 0)
        return 0;
    w->host = hbx_services_create(&w->ctx);
    if (!w->host)
        return send_error(sock, HBX_ERR_LOAD, "cannot build the host services table");
    char why[256];
    if (hbx_confine(&w->ctx, why, sizeof why) != 0)
        return send_error(sock, HBX_ERR_SANDBOX, "sandbox: %s", why);

    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return send_error(sock, HBX_ERR_LOAD, "%s: cannot load: %s", path, dlerror());
    dlerror();
    hbx_plugin_entry_fn entry = (hbx_plugin_entry_fn)dlsym(h, HBX_ENTRY_SYMBOL);
    if (!entry)
        return send_error(sock, HBX_ERR_LOAD,
                          "%s: no %s symbol exported (not a higgsbox plugin, or built with "
                          "hidden visibility and no HBX_EXPORT)",
                          path, HBX_ENTRY_SYMBOL);
    const hbx_plugin *p = entry();
    if (!p)
        return send_error(sock, HBX_ERR_LOAD, "%s: %s() returned NULL", path, HBX_ENTRY_SYMBOL);
    if (p->abi_major != HBX_ABI_MAJOR)
        return send_error(sock, HBX_ERR_LOAD, "%s: built for ABI %u, this host supports %u", path,
                          p->abi_major, HBX_ABI_MAJOR);
    if (p->abi_minor > HBX_ABI_MINOR)
        return send_error(sock, HBX_ERR_LOAD,
                          "%s: built for ABI %u.%u, this host supports up to %u.%u", path,
                          p->abi_major, p->abi_minor, HBX_ABI_MAJOR, HBX_ABI_MINOR);
    if (p->struct_size < DESCRIPTOR_V1_0_SIZE)
        return send_error(sock, HBX_ERR_LOAD,
                          "%s: descriptor too small (%u bytes; ABI 1.0 needs %zu)", path,
                          p->struct_size, (size_t)DESCRIPTOR_V1_0_SIZE);
    const char *missing = !p->create    ? "create"
                          : !p->fit     ? "fit"
                          : !p->predict ? "predict"
                          : !p->destroy ? "destroy"
                                        : NULL;
    if (missing)
        return send_error(sock, HBX_ERR_LOAD, "%s: descriptor has a NULL %s entry point", path,
                          missing);
    hbx_msg_loaded m;
    memset(&m, 0, sizeof m);
    m.abi_major = p->abi_major;
    m.abi_minor = p->abi_minor;
    m.struct_size = p->struct_size;
    snprintf(m.name, sizeof m.name, "%s", p->name ? p->name : "");
    snprintf(m.version, sizeof m.version, "%s", p->version ? p->version : "");
    w->plugin = p;
    return hbx_proto_send(sock, HBX_MSG_LOADED, &m, sizeof m, -1);
}

static int handle_train(worker *w, hbx_frame *f)
{
    const hbx_msg_data *d = (const void *)f->payload;
    char why[128];
    if (w->train_map) {
        munmap(w->train_map, w->train_map_size);
        w->train_map = NULL;
        w->ctx.have_train = 0;
    }
    int rc = hbx_block_map(f->fd, d->size, &w->ctx.train, &w->train_map, &w->train_map_size, why,
                           sizeof why);
    close(f->fd);
    f->fd = -1;
    if (rc != 0)
        return send_error(w->ctx.sock, HBX_ERR_PROTOCOL, "training data: %s", why);
    w->ctx.have_train = 1;
    return 0;
}

static int handle_fit(worker *w)
{
    if (!w->plugin)
        return send_error(w->ctx.sock, HBX_ERR_CALL, "fit before load");
    int status = HBX_OK;
    if (!w->created) {
        status = w->plugin->create(w->host, &w->state);
        w->created = status == HBX_OK;
    }
    if (status == HBX_OK) {
        w->ctx.in_fit = 1;
        status = w->plugin->fit(w->state);
        w->ctx.in_fit = 0;
    }
    hbx_msg_status s = {status, 0};
    return hbx_proto_send(w->ctx.sock, HBX_MSG_DONE, &s, sizeof s, -1);
}

static int handle_predict(worker *w, hbx_frame *f)
{
    const hbx_msg_data *d = (const void *)f->payload;
    if (!w->plugin || !w->created) {
        close(f->fd);
        f->fd = -1;
        return send_error(w->ctx.sock, HBX_ERR_CALL, "predict before fit");
    }
    hbx_dataset pe;
    void *map;
    uint64_t map_size;
    char why[128];
    int rc = hbx_block_map(f->fd, d->size, &pe, &map, &map_size, why, sizeof why);
    close(f->fd);
    f->fd = -1;
    if (rc != 0)
        return send_error(w->ctx.sock, HBX_ERR_PROTOCOL, "pseudo-experiment: %s", why);
    hbx_prediction out = {0, 0, 0, 0};
    int status = w->plugin->predict(w->state, &pe, &out);
    munmap(map, map_size);
    hbx_msg_result r = {status, 0, out.mu_hat, out.delta_mu_hat, out.p16, out.p84};
    return hbx_proto_send(w->ctx.sock, HBX_MSG_RESULT, &r, sizeof r, -1);
}

int main(int argc, char **argv)
{
    int sock = -1;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--fd") == 0)
            sock = atoi(argv[i + 1]);
    if (sock < 0) {
        fprintf(stderr, "higgsbox-worker: started by hand? It is run by higgsbox (--fd N).\n");
        return 2;
    }
    static worker w;
    w.ctx.sock = sock;
    static hbx_frame f;
    for (;;) {
        char why[128];
        int r = hbx_proto_recv(sock, &f, why, sizeof why);
        if (r == 0)
            break; /* host went away */
        if (r < 0) {
            send_error(sock, HBX_ERR_PROTOCOL, "%s", why);
            return 3;
        }
        int rc = 0;
        switch (f.type) {
        case HBX_MSG_LOAD:
            rc = handle_load(&w, &f);
            break;
        case HBX_MSG_TRAIN:
            rc = handle_train(&w, &f);
            break;
        case HBX_MSG_FIT:
            rc = handle_fit(&w);
            break;
        case HBX_MSG_PREDICT:
            rc = handle_predict(&w, &f);
            break;
        case HBX_MSG_QUIT:
            if (w.created)
                w.plugin->destroy(w.state);
            return 0;
        default:
            rc = send_error(sock, HBX_ERR_PROTOCOL, "unexpected frame type %u", f.type);
        }
        if (rc != 0)
            return 4; /* the host is gone */
    }
    return 0;
}

/* In sanitizer builds: a plugin's crash must reach the host as the signal it
 * is (ASan would turn SIGSEGV into exit status 1), and LeakSanitizer's
 * ptrace-based scan cannot run inside the confined worker. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:"
           "detect_leaks=0";
}
