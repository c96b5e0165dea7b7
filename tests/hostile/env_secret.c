/* Hostile: looks for the host's secrets in its environment (getenv and
 * /proc/self/environ). mu_hat: secrets found. Expected: OK with 0. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"

extern char **environ;

static int predict_env(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    int found = getenv("HBX_TEST_SECRET") != NULL;
    for (char **v = environ; *v; v++)
        found += strstr(*v, "SECRET") != NULL || strncmp(*v, "HOME=", 5) == 0;
    char buf[65536];
    int fd = open("/proc/self/environ", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i + 6 <= n; i++)
            found += memcmp(buf + i, "SECRET", 6) == 0;
    }
    return hostile_answer(out, found);
}

HOSTILE_PLUGIN("env_secret", hostile_fit_ok, predict_env)
