/* Hostile: opens device files and shared-memory directories. mu_hat: how
 * many it could open (/dev/null, /dev/zero and /dev/urandom excepted).
 * Expected: OK with 0. */
#include <fcntl.h>
#include <unistd.h>

#include "hostile.h"

static int predict_dev(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    static const char *const devs[] = {"/dev/mem",  "/dev/kmem", "/dev/port",   "/dev/kmsg",
                                       "/dev/tty",  "/dev/console", "/dev/sda", "/dev/vda",
                                       "/dev/shm",  "/dev/mqueue", "/dev/fuse", "/dev/net/tun",
                                       NULL};
    int got = 0;
    for (int i = 0; devs[i]; i++) {
        int fd = open(devs[i], O_RDONLY | O_NONBLOCK);
        if (fd >= 0) {
            got++;
            close(fd);
        }
    }
    int ok = open("/dev/null", O_WRONLY);
    if (ok < 0)
        return HBX_E_IO;
    close(ok);
    return hostile_answer(out, got);
}

HOSTILE_PLUGIN("dev_open", hostile_fit_ok, predict_dev)
