/*
 * The host services a plugin sees (struct hbx_host_api), implemented inside
 * the worker. get_train_set and systematics are libffi closures bound to the
 * worker's context, so that a plugin holds plain function pointers without a
 * context argument, like the callables the original challenge handed to its
 * models.
 */
#include <ffi.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "higgsbox/physics.h"
#include "protocol.h"
#include "worker.h"

static hbx_worker_ctx *g_ctx; /* for the context-free services (log, paths) */
static _Thread_local char g_error[256];

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return code;
}

/* A dataset handed to the plugin: the view first, so the view's address is
 * the allocation's. */
typedef struct owned_dataset {
    hbx_dataset view;
    hbx_table table;
} owned_dataset;

static void svc_dataset_free(hbx_dataset *ds)
{
    if (!ds)
        return;
    owned_dataset *o = (owned_dataset *)ds;
    hbx_table_free(&o->table);
    free(o);
}

static owned_dataset *owned_new(void)
{
    return calloc(1, sizeof(owned_dataset));
}

/* One write(2) per line on the captured stderr: whole lines, from any
 * thread, drained and capped by the host. */
static void svc_log(hbx_log_level level, const char *message)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (!message)
        return;
    char line[HBX_PROTO_MAX_TEXT + 16];
    int n = snprintf(line, sizeof line, "[%s] %s\n",
                     (unsigned)level < 4 ? names[level] : "log", message);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t ignored = write(2, line, (size_t)n);
    (void)ignored;
}

static const char *svc_submission_dir(void)
{
    return g_ctx ? g_ctx->submission_dir : "";
}

static const char *svc_scratch_dir(void)
{
    return g_ctx ? g_ctx->scratch_dir : "";
}

static const char *svc_last_error(void)
{
    return g_error;
}

static int svc_derive_features(float *const columns[HBX_N_FEATURES], uint64_t n)
{
    if (!columns)
        return fail(HBX_E_INVALID, "derive_features: NULL columns");
    for (int f = 0; f < HBX_N_FEATURES; f++)
        if (!columns[f])
            return fail(HBX_E_INVALID, "derive_features: column %s is NULL", hbx_feature_name(f));
    hbx_derive_columns(columns, n);
    return HBX_OK;
}

/* Copies event `i` of `src` to slot `j` of `dst`. */
static void copy_event(hbx_table *dst, uint64_t j, const hbx_dataset *src, uint64_t i)
{
    for (int f = 0; f < HBX_N_FEATURES; f++)
        dst->features[f][j] = src->features[f][i];
    dst->weights[j] = src->weights[i];
    dst->labels[j] = src->labels[i];
    dst->process[j] = src->process[i];
}

static int get_train_set(hbx_worker_ctx *ctx, uint64_t subsample, uint64_t seed,
                         hbx_dataset **out)
{
    if (!out)
        return fail(HBX_E_INVALID, "get_train_set: NULL out");
    *out = NULL;
    if (!ctx->in_fit)
        return fail(HBX_E_UNAVAILABLE, "get_train_set: only available during fit()");
    if (!ctx->have_train)
        return fail(HBX_E_UNAVAILABLE, "get_train_set: this run has no training set");
    const hbx_dataset *t = &ctx->train;
    uint64_t n = subsample == 0 || subsample > t->n_events ? t->n_events : subsample;
    owned_dataset *o = owned_new();
    if (!o || hbx_table_alloc(&o->table, n, HBX_TABLE_TRUTH) != HBX_OK) {
        free(o);
        return fail(HBX_E_NOMEM, "get_train_set: out of memory for %llu events",
                    (unsigned long long)n);
    }
    if (n == t->n_events) {
        for (uint64_t i = 0; i < n; i++)
            copy_event(&o->table, i, t, i);
    } else {
        /* Selection sampling (Knuth's algorithm S): n of N, order kept. */
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        if (!r) {
            svc_dataset_free(&o->view);
            return fail(HBX_E_NOMEM, "get_train_set: out of memory");
        }
        gsl_rng_set(r, (unsigned long)seed);
        uint64_t j = 0;
        for (uint64_t i = 0; i < t->n_events && j < n; i++)
            if ((double)(t->n_events - i) * gsl_rng_uniform(r) < (double)(n - j))
                copy_event(&o->table, j++, t, i);
        gsl_rng_free(r);
        /* Rescale so that each process keeps its total expected yield. */
        double full[HBX_N_PROCESSES] = {0}, part[HBX_N_PROCESSES] = {0};
        for (uint64_t i = 0; i < t->n_events; i++)
            if (t->process[i] < HBX_N_PROCESSES)
                full[t->process[i]] += t->weights[i];
        for (uint64_t i = 0; i < n; i++)
            if (o->table.process[i] < HBX_N_PROCESSES)
                part[o->table.process[i]] += o->table.weights[i];
        for (uint64_t i = 0; i < n; i++) {
            unsigned k = o->table.process[i];
            if (k < HBX_N_PROCESSES && part[k] > 0)
                o->table.weights[i] *= full[k] / part[k];
        }
    }
    o->table.n = n;
    o->view = hbx_table_view(&o->table);
    *out = &o->view;
    return HBX_OK;
}

static int systematics(hbx_worker_ctx *ctx, const hbx_dataset *in, const hbx_nuisances *nu,
                       uint64_t seed, hbx_dataset **out)
{
    (void)ctx;
    if (!out || !in || !nu)
        return fail(HBX_E_INVALID, "systematics: NULL argument");
    *out = NULL;
    owned_dataset *o = owned_new();
    if (!o)
        return fail(HBX_E_NOMEM, "systematics: out of memory");
    int rc = hbx_systematics_apply(in, nu, seed, &o->table);
    if (rc != HBX_OK) {
        hbx_table_free(&o->table);
        free(o);
        return fail(rc, "systematics: %s",
                    rc == HBX_E_INVALID ? "invalid nuisance value or missing column"
                                        : "out of memory");
    }
    o->view = hbx_table_view(&o->table);
    *out = &o->view;
    return HBX_OK;
}

/* libffi trampolines: unpack the arguments and call with the bound context. */
static void get_train_set_thunk(ffi_cif *cif, void *ret, void **args, void *user)
{
    (void)cif;
    *(ffi_sarg *)ret = get_train_set(user, *(uint64_t *)args[0], *(uint64_t *)args[1],
                                     *(hbx_dataset ***)args[2]);
}

static void systematics_thunk(ffi_cif *cif, void *ret, void **args, void *user)
{
    (void)cif;
    *(ffi_sarg *)ret = systematics(user, *(const hbx_dataset **)args[0],
                                   *(const hbx_nuisances **)args[1], *(uint64_t *)args[2],
                                   *(hbx_dataset ***)args[3]);
}

/* Binds `thunk` to ctx as a plain function pointer of the given signature. */
static void *bind_closure(ffi_cif *cif, ffi_type **types, unsigned nargs,
                          void (*thunk)(ffi_cif *, void *, void **, void *), void *ctx)
{
    void *code = NULL;
    ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (!cl)
        return NULL;
    if (ffi_prep_cif(cif, FFI_DEFAULT_ABI, nargs, &ffi_type_sint, types) != FFI_OK ||
        ffi_prep_closure_loc(cl, cif, thunk, ctx, code) != FFI_OK) {
        ffi_closure_free(cl);
        return NULL;
    }
    return code;
}

const hbx_host_api *hbx_services_create(hbx_worker_ctx *ctx)
{
    static hbx_host_api api;
    static ffi_cif train_cif, syst_cif;
    static ffi_type *train_args[3], *syst_args[4];
    g_ctx = ctx;
    train_args[0] = &ffi_type_uint64;
    train_args[1] = &ffi_type_uint64;
    train_args[2] = &ffi_type_pointer;
    syst_args[0] = &ffi_type_pointer;
    syst_args[1] = &ffi_type_pointer;
    syst_args[2] = &ffi_type_uint64;
    syst_args[3] = &ffi_type_pointer;
    void *train = bind_closure(&train_cif, train_args, 3, get_train_set_thunk, ctx);
    void *syst = bind_closure(&syst_cif, syst_args, 4, systematics_thunk, ctx);
    if (!train || !syst)
        return NULL;
    memset(&api, 0, sizeof api);
    api.abi_major = HBX_ABI_MAJOR;
    api.abi_minor = HBX_ABI_MINOR;
    api.size = sizeof api;
    api.log = svc_log;
    api.submission_dir = svc_submission_dir;
    api.scratch_dir = svc_scratch_dir;
    api.get_train_set = (int (*)(uint64_t, uint64_t, hbx_dataset **))train;
    api.systematics = (int (*)(const hbx_dataset *, const hbx_nuisances *, uint64_t,
                               hbx_dataset **))syst;
    api.derive_features = svc_derive_features;
    api.dataset_free = svc_dataset_free;
    api.last_error = svc_last_error;
    return &api;
}
