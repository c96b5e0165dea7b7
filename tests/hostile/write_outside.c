/* Hostile: tries to create files outside its scratch directory (/tmp, its
 * own directory, the build tree, /dev/shm, /var/tmp, the working
 * directory); writing in scratch must work. mu_hat: files created outside.
 * Expected: OK with 0. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostile.h"

static int try_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 0;
    ssize_t ignored = write(fd, "escaped\n", 8);
    (void)ignored;
    close(fd);
    return 1;
}

static int predict_write(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    char path[4096];
    const char *sub = hostile_host->submission_dir();
    int escaped = 0;
    escaped += try_create("/tmp/hbx-escape-write_outside");
    escaped += try_create("/var/tmp/hbx-escape-write_outside");
    escaped += try_create("/dev/shm/hbx-escape-write_outside");
    escaped += try_create("hbx-escape-write_outside");
    snprintf(path, sizeof path, "%s/hbx-escape-write_outside", sub);
    escaped += try_create(path);
    snprintf(path, sizeof path, "%s/../../../hbx-escape-write_outside", sub);
    escaped += try_create(path);
    escaped += mkdir("/tmp/hbx-escape-dir", 0755) == 0;
    snprintf(path, sizeof path, "%s/legit.txt", hostile_host->scratch_dir());
    if (!try_create(path))
        return HBX_E_IO;
    return hostile_answer(out, escaped);
}

HOSTILE_PLUGIN("write_outside", hostile_fit_ok, predict_write)
