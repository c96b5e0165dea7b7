/* File checksums for provenance (run.json, dataset info), through nettle. */
#include <nettle/sha2.h>
#include <stdio.h>

#include "higgsbox/higgsbox.h"

int hbx_sha256_file(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return -1;
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    static _Thread_local unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sha256_update(&ctx, n, buf);
    int failed = ferror(f);
    fclose(f);
    if (failed)
        return -1;
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}
