/*
 * Finding the worker executable from wherever the kit itself lives.
 *
 * A participant's test program can be anywhere, so the sandbox's default
 * (beside /proc/self/exe) does not apply to it. The kit's own binary, though,
 * sits in a known place of the installed tree: <prefix>/<libdir> for the
 * shared library, <prefix>/bin for the CLI, or the build tree's lib/ and bin/.
 * dladdr() on one of the kit's functions says which file that is, and the
 * worker is looked for relative to it: nothing absolute is compiled in, so
 * a prefix moved elsewhere keeps working.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

#ifndef HBX_KIT_WORKER_FROM_LIBDIR
#define HBX_KIT_WORKER_FROM_LIBDIR "../libexec/higgsbox/higgsbox-worker"
#endif

/* Directory of the file holding this code (library or executable). */
static int own_dir(char *dir, size_t len)
{
    Dl_info di;
    char path[PATH_MAX];
    const char *file = NULL;
    if (dladdr((void *)(uintptr_t)&kit_find_worker, &di) && di.dli_fname &&
        strchr(di.dli_fname, '/'))
        file = di.dli_fname;
    if (!file) {
        /* The main program reports no usable name: ask the kernel. */
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0)
            return -1;
        path[n] = '\0';
        file = path;
    }
    char *real = realpath(file, NULL);
    if (!real)
        return -1;
    char *slash = strrchr(real, '/');
    *slash = '\0';
    int n = snprintf(dir, len, "%s", *real ? real : "/");
    free(real);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

const char *kit_find_worker(void)
{
    static char found[PATH_MAX];
    static int looked;
    if (looked)
        return found[0] ? found : NULL;
    looked = 1;
    char dir[PATH_MAX];
    if (own_dir(dir, sizeof dir) != 0)
        return NULL;
    static const char *const relative[] = {
        "higgsbox-worker",                     /* beside it */
        HBX_KIT_WORKER_FROM_LIBDIR,            /* installed library */
        "../libexec/higgsbox/higgsbox-worker", /* installed CLI */
        "../bin/higgsbox-worker",              /* build tree library */
    };
    for (size_t i = 0; i < sizeof relative / sizeof relative[0]; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", dir, relative[i]);
        char *real = realpath(path, NULL);
        if (real && access(real, X_OK) == 0 && strlen(real) < sizeof found) {
            memcpy(found, real, strlen(real) + 1);
            free(real);
            return found;
        }
        free(real);
    }
    return NULL;
}

const char *hbx_conformance_default_worker(void)
{
    return kit_find_worker();
}
