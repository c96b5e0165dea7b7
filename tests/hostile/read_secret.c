/* Hostile: looks for the data the run is scored against: a secret file the
 * test put under /tmp (by glob and by its known name), the build tree next
 * to its own directory, the source tree, /etc/shadow. mu_hat: files it could
 * read. Expected: OK with 0. */
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"

static int try_read(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    char c;
    ssize_t n = read(fd, &c, 1);
    close(fd);
    return n == 1;
}

static int predict_read(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    int got = 0;
    glob_t g;
    if (glob("/tmp/hbx-secret-*/*", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            got += try_read(g.gl_pathv[i]);
        globfree(&g);
    }
    got += try_read("/tmp/hbx-secret-known/secret.txt");
    got += try_read("/etc/shadow");
    got += try_read("/etc/passwd");
    char path[4096];
    const char *sub = hostile_host->submission_dir();
    snprintf(path, sizeof path, "%s/../../../CMakeCache.txt", sub);
    got += try_read(path);
    snprintf(path, sizeof path, "%s/../../../tests/hbx-secret.txt", sub);
    got += try_read(path);
    /* This file's own source, and the project's top CMakeLists.txt. */
    got += try_read(__FILE__);
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "/tests/hostile/");
    if (cut) {
        strcpy(cut, "/CMakeLists.txt");
        got += try_read(path);
    }
    return hostile_answer(out, got);
}

HOSTILE_PLUGIN("read_secret", hostile_fit_ok, predict_read)
