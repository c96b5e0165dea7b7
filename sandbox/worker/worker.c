/*
 * higgsbox-worker: serves one plugin to the host over the protocol socket.
 *
 * It is exec'd fresh by the host (sandbox/spawn.c) as the init of a new
 * process tree (worker/init.c), which forks the worker proper. The worker
 * confines itself when the LOAD request arrives, and only then dlopens the
 * plugin: a plugin's constructors run inside an already-confined process.
 *
 * Plugin calls of the worker the host spawned run on a short-lived thread
 * each, never on the main thread: a forked predict worker inherits only the
 * forking (main) thread, and thread pools such as libgomp's belong to the
 * thread that started them, so a pool started by fit would otherwise wait
 * forever in the child for threads that do not exist there. Forked workers
 * (which never fork) call predict on their main thread.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    int forked;
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

/* ---- the fatal-signal report ------------------------------------------- */

static int g_dying_sock = -1;
static int g_status_fd = -1;

/* Async-signal-safe: the address-space peak from /proc/self/status. */
static uint64_t vm_peak(void)
{
    char buf[2048];
    ssize_t n = g_status_fd >= 0 ? pread(g_status_fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    for (char *p = buf; *p; p++)
        if (p[0] == 'V' && strncmp(p, "VmPeak:", 7) == 0) {
            uint64_t kb = 0;
            for (p += 7; *p == ' ' || *p == '\t'; p++)
                ;
            for (; *p >= '0' && *p <= '9'; p++)
                kb = kb * 10 + (uint64_t)(*p - '0');
            return kb * 1024;
        }
    return 0;
}

/* Tells the host which signal is killing the worker and how much address
 * space it had (an allocation beyond RLIMIT_AS ends like this), then lets
 * the default action happen. A plugin's own handler replaces this one; the
 * verdict is then CRASHED rather than MEMORY_LIMIT. */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    hbx_msg_dying d = {sig, 0, vm_peak()};
    if (g_dying_sock >= 0)
        hbx_proto_send(g_dying_sock, HBX_MSG_DYING, &d, sizeof d, -1);
    /* SA_RESETHAND restored the default: a fault recurs on return, a sent
     * signal is sent again. */
    if (si->si_code <= 0)
        raise(sig);
    errno = saved;
}

void hbx_dying_setup(int sock, int proc_status_fd)
{
    static char altstack[65536];
    g_dying_sock = sock;
    if (g_status_fd >= 0)
        close(g_status_fd);
    g_status_fd = proc_status_fd;
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ---- plugin calls --------------------------------------------------------- */

typedef struct call {
    worker *w;
    int kind; /* 0 create+fit, 1 predict */
    const hbx_dataset *pe;
    hbx_prediction out;
    int status;
} call;

static void do_call(call *c)
{
    worker *w = c->w;
    if (c->kind == 0) {
        c->status = HBX_OK;
        if (!w->created) {
            c->status = w->plugin->create(w->host, &w->state);
            w->created = c->status == HBX_OK;
        }
        if (c->status == HBX_OK) {
            w->ctx.in_fit = 1;
            c->status = w->plugin->fit(w->state);
            w->ctx.in_fit = 0;
        }
    } else {
        c->status = w->plugin->predict(w->state, c->pe, &c->out);
    }
}

static void *call_thread(void *arg)
{
    do_call(arg);
    return NULL;
}

/* Runs a plugin call: on a thread of its own in a worker that may fork. */
static int run_call(call *c)
{
    if (c->w->forked) {
        do_call(c);
        return 0;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, call_thread, c) != 0)
        return -1;
    pthread_join(t, NULL);
    return 0;
}

/* ---- requests --------------------------------------------------------------- */

/* Checks that `path` is a readable ELF shared object before dlopen, so the
 * error names the real problem rather than the loader's guess. */
static int check_file(int sock, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return send_error(sock, HBX_ERR_LOAD, "%s: %s", path,
                          errno == ENOENT   ? "no such file"
                          : errno == EACCES ? "permission denied (the worker runs under an "
                                              "unprivileged uid of its own: make the submission "
                                              "readable by others)"
                                            : strerror(errno)),
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

/* The directories of a LOAD or PROBE request, then confinement. Returns 1
 * when confined, 0 when an error was sent, -1 when the host is gone. */
static int prepare(worker *w, const hbx_frame *f, const char **path, int probe)
{
    int sock = w->ctx.sock;
    if (w->plugin || w->ctx.submission_dir)
        return send_error(sock, HBX_ERR_PROTOCOL, "already confined") ? -1 : 0;
    *path = hbx_proto_string(f, sizeof(hbx_msg_load), 0);
    const char *dir = hbx_proto_string(f, sizeof(hbx_msg_load), 1);
    const char *scratch = hbx_proto_string(f, sizeof(hbx_msg_load), 2);
    if (!*path || !dir || !scratch)
        return send_error(sock, HBX_ERR_PROTOCOL, "malformed LOAD request") ? -1 : 0;
    w->ctx.submission_dir = strdup(dir);
    w->ctx.scratch_dir = strdup(scratch);
    if (!w->ctx.submission_dir || !w->ctx.scratch_dir)
        return send_error(sock, HBX_ERR_LOAD, "out of memory") ? -1 : 0;
    if (!probe && check_file(sock, *path) != 0)
        return 0;
    w->host = hbx_services_create(&w->ctx);
    if (!w->host)
        return send_error(sock, HBX_ERR_LOAD, "cannot build the host services table") ? -1 : 0;
    char why[256];
    if (hbx_confine(&w->ctx, why, sizeof why) != 0)
        return send_error(sock, HBX_ERR_SANDBOX, "sandbox: %s", why) ? -1 : 0;
    return 1;
}

static int handle_probe(worker *w, const hbx_frame *f)
{
    const char *path;
    int rc = prepare(w, f, &path, 1);
    if (rc <= 0)
        return rc;
    hbx_msg_status s = {0, 0};
    return hbx_proto_send(w->ctx.sock, HBX_MSG_DONE, &s, sizeof s, -1);
}

static int handle_load(worker *w, const hbx_frame *f)
{
    int sock = w->ctx.sock;
    const char *path;
    int rc = prepare(w, f, &path, 0);
    if (rc <= 0)
        return rc;
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
    if (w->forked)
        return send_error(w->ctx.sock, HBX_ERR_CALL, "fit in a forked worker");
    call c = {w, 0, NULL, {0, 0, 0, 0}, HBX_OK};
    if (run_call(&c) != 0)
        return send_error(w->ctx.sock, HBX_ERR_CALL, "cannot start the call's thread");
    hbx_msg_status s = {c.status, 0};
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
    /* The plugin never holds the block's descriptor. */
    close(f->fd);
    f->fd = -1;
    if (rc != 0)
        return send_error(w->ctx.sock, HBX_ERR_PROTOCOL, "pseudo-experiment: %s", why);
    call c = {w, 1, &pe, {0, 0, 0, 0}, HBX_OK};
    if (run_call(&c) != 0) {
        munmap(map, map_size);
        return send_error(w->ctx.sock, HBX_ERR_CALL, "cannot start the call's thread");
    }
    munmap(map, map_size);
    hbx_msg_result r = {c.status, 0, c.out.mu_hat, c.out.delta_mu_hat, c.out.p16, c.out.p84};
    return hbx_proto_send(w->ctx.sock, HBX_MSG_RESULT, &r, sizeof r, -1);
}

static int send_hello(int sock)
{
    hbx_msg_hello h = {(int32_t)getpid(), 0};
    return hbx_proto_send(sock, HBX_MSG_HELLO, &h, sizeof h, -1);
}

/* In the new predict worker: its own channels replace the fitted worker's. */
static int become_child(worker *w, int sock, int log)
{
    if (dup2(sock, HBX_WORKER_SOCK_FD) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        _exit(121);
    close(sock);
    close(log);
    w->forked = 1;
    w->ctx.sock = HBX_WORKER_SOCK_FD;
    hbx_dying_setup(HBX_WORKER_SOCK_FD, open("/proc/self/status", O_RDONLY | O_CLOEXEC));
    return send_hello(HBX_WORKER_SOCK_FD);
}

/* FORK: a predict worker sharing the fitted state copy-on-write. The fork
 * is the worker's own code on its main thread, with every signal blocked so
 * that no plugin handler runs there meanwhile; the host's supervisor lets
 * exactly this clone through (seccomp user notification), and the one of
 * the intermediate child, which exits at once so that the new worker is
 * reparented to init, the reaper that reports its death to the host. */
static int handle_fork(worker *w, hbx_frame *f)
{
    int sock = f->fd, log = f->fd2;
    f->fd = f->fd2 = -1;
    if (w->forked || !w->created) {
        close(sock);
        close(log);
        return send_error(w->ctx.sock, HBX_ERR_CALL, "fork before fit");
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t mid = fork();
    if (mid == 0) {
        pid_t child = fork();
        if (child != 0)
            _exit(child > 0 ? 0 : 1);
        int rc = become_child(w, sock, log);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    close(sock);
    close(log);
    int st = 0, ok = 0;
    if (mid > 0) {
        while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
            ;
        ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    hbx_msg_status r = {ok ? 0 : -1, 0};
    return hbx_proto_send(w->ctx.sock, HBX_MSG_FORKED, &r, sizeof r, -1);
}

int main(int argc, char **argv)
{
    int sock = -1, status = -1;
    const char *proc = "none";
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--fd") == 0)
            sock = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--init") == 0)
            status = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--proc") == 0)
            proc = argv[i + 1];
    }
    if (sock != HBX_WORKER_SOCK_FD || status != HBX_WORKER_STATUS_FD) {
        fprintf(stderr, "higgsbox-worker: started by hand? It is run by higgsbox.\n");
        return 2;
    }
    if (hbx_init_main(status, proc) != 0)
        return 2;
    /* From here on: the worker, a child of init. */
    hbx_confine_begin();
    static worker w;
    w.ctx.sock = sock;
    if (send_hello(sock) != 0)
        return 4;
    static hbx_frame f;
    for (;;) {
        char why[128];
        int r = hbx_proto_recv(w.ctx.sock, &f, why, sizeof why);
        if (r == 0)
            break; /* host went away */
        if (r < 0) {
            send_error(w.ctx.sock, HBX_ERR_PROTOCOL, "%s", why);
            return 3;
        }
        int rc = 0;
        switch (f.type) {
        case HBX_MSG_LOAD:
            rc = handle_load(&w, &f);
            break;
        case HBX_MSG_PROBE:
            rc = handle_probe(&w, &f);
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
        case HBX_MSG_FORK:
            rc = handle_fork(&w, &f);
            break;
        case HBX_MSG_QUIT:
            if (w.created)
                w.plugin->destroy(w.state);
            return 0;
        default:
            if (f.fd >= 0)
                close(f.fd);
            if (f.fd2 >= 0)
                close(f.fd2);
            rc = send_error(w.ctx.sock, HBX_ERR_PROTOCOL, "unexpected frame type %u", f.type);
        }
        if (rc != 0)
            return 4; /* the host is gone */
    }
    return 0;
}

/* In sanitizer builds: a plugin's crash must reach the host as the signal it
 * is (ASan would turn SIGSEGV into exit status 1), LeakSanitizer's
 * ptrace-based scan cannot run inside the confined worker, and a report
 * cannot start a symbolizer (no fork or exec). */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:handle_abort=0:"
           "detect_leaks=0:symbolize=0";
}
