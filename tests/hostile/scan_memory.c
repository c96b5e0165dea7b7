/* Hostile: scans all of its own readable memory (through /proc/self/maps
 * and /proc/self/mem) for the true mu the test host keeps in its memory, and
 * for the host's secret token. The worker is a fresh exec: nothing of the
 * host is there. Pages are copied through a pipe, which turns an unreadable
 * page into EFAULT rather than a crash (/proc/self/mem is closed to a
 * non-dumpable process). mu_hat: matches found (expected 0); delta_mu_hat: MiB
 * scanned. The patterns are kept hashed or masked so that this plugin does
 * not carry them itself. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile.h"

/* A hash of 1.2345678901234567's IEEE-754 bits: the compiler cannot turn
 * the comparison back into the value itself. */
#define MU_HASH 0xd3319425c05d4e21ull

static uint64_t mix(uint64_t w)
{
    return (w ^ (w >> 29)) * 0xbf58476d1ce4e5b9ull;
}
/* "HBX-SECRET-TOKEN-4f9c2e", each byte XOR 0x5a. */
static const unsigned char token_masked[] = {
    'H' ^ 0x5a, 'B' ^ 0x5a, 'X' ^ 0x5a, '-' ^ 0x5a, 'S' ^ 0x5a, 'E' ^ 0x5a, 'C' ^ 0x5a, 'R' ^ 0x5a,
    'E' ^ 0x5a, 'T' ^ 0x5a, '-' ^ 0x5a, 'T' ^ 0x5a, 'O' ^ 0x5a, 'K' ^ 0x5a, 'E' ^ 0x5a, 'N' ^ 0x5a,
    '-' ^ 0x5a, '4' ^ 0x5a, 'f' ^ 0x5a, '9' ^ 0x5a, 'c' ^ 0x5a, '2' ^ 0x5a, 'e' ^ 0x5a};

static int scan(const unsigned char *buf, size_t n)
{
    int found = 0;
    for (size_t i = 0; i + 8 <= n; i++) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        if (mix(w) == MU_HASH)
            found++;
        if (i + sizeof token_masked <= n && (buf[i] ^ 0x5a) == token_masked[0]) {
            size_t j = 1;
            while (j < sizeof token_masked && (buf[i + j] ^ 0x5a) == token_masked[j])
                j++;
            found += j == sizeof token_masked;
        }
    }
    return found;
}

static int predict_scan(void *state, const hbx_dataset *pe, hbx_prediction *out)
{
    (void)state;
    (void)pe;
    static unsigned char buf[1 << 20];
    FILE *maps = fopen("/proc/self/maps", "r");
    int mem[2];
    if (pipe(mem) != 0)
        return HBX_E_IO;
    fcntl(mem[0], F_SETFL, O_NONBLOCK);
    fcntl(mem[1], F_SETFL, O_NONBLOCK);
    int found = 0;
    double scanned = 0;
    char line[512];
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
            continue;
        if (strstr(line, "[vvar") || strstr(line, "[vsyscall]") || hi - lo > (256ul << 20))
            continue;
        for (unsigned long at = lo; at < hi;) {
            size_t want = hi - at < 65536 ? hi - at : 65536;
            if ((unsigned long)buf < at + want && at < (unsigned long)buf + sizeof buf) {
                at += want; /* the scan buffer itself */
                continue;
            }
            /* The raw system call: a sanitizer's write() would check the
             * source itself. */
            ssize_t n = syscall(SYS_write, mem[1], (const void *)at, want);
            if (n <= 0)
                break;
            n = read(mem[0], buf, (size_t)n);
            if (n <= 0)
                break;
            found += scan(buf, (size_t)n);
            scanned += (double)n;
            at += (unsigned long)n;
        }
    }
    if (maps)
        fclose(maps);
    close(mem[0]);
    close(mem[1]);
    hostile_answer(out, found);
    out->delta_mu_hat = scanned / (1 << 20);
    return HBX_OK;
}

HOSTILE_PLUGIN("scan_memory", hostile_fit_ok, predict_scan)
