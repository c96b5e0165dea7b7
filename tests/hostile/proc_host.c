/* Hostile: reads other processes through /proc: the memory, environment and
 * command line of its parent and of every pid it can see. mu_hat: other
 * processes' mem or environ it could read. Expected: OK with 0. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hostile.h"

static int readable(int pid, const char *what)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, what);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0;
}

static int predict_proc(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    int got = 0, self = getpid();
    int ppid = getppid();
    got += readable(ppid, "mem") + readable(ppid, "environ");
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0 || pid == self)
            continue;
        got += readable(pid, "environ");
        got += readable(pid, "mem");
    }
    if (d)
        closedir(d);
    return hostile_answer(out, got);
}

HOSTILE_PLUGIN("proc_host", hostile_fit_ok, predict_proc)
