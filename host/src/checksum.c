/* Checksums for provenance (run.json, dataset info), through nettle: of a
 * file's bytes, and of a dataset's values whatever their storage. */
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>

#include "dataset_internal.h"
#include "higgsbox/dataset.h"
#include "higgsbox/higgsbox.h"

static void to_hex(const unsigned char digest[SHA256_DIGEST_SIZE], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

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
    to_hex(digest, hex);
    return 0;
}

/* Hashes n values of `size` bytes as little-endian bytes: the file's byte
 * order, so the hash is the same on any host. */
static void hash_le(struct sha256_ctx *ctx, const unsigned char *v, size_t n, size_t size)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    unsigned char buf[4096];
    size_t per = sizeof buf / size;
    for (size_t at = 0; at < n; at += per) {
        size_t m = n - at < per ? n - at : per;
        for (size_t i = 0; i < m; i++)
            for (size_t b = 0; b < size; b++)
                buf[i * size + b] = v[(at + i) * size + size - 1 - b];
        sha256_update(ctx, m * size, buf);
    }
#else
    sha256_update(ctx, n * size, v);
#endif
}

/* One split: its event count, then each column's digest. */
static int hash_split(const char *path, hbx_split split, hbx_table *t, struct sha256_ctx *outer,
                      char *err, size_t err_len)
{
    hbx_dataset_reader *r = hbx_dataset_reader_open(path, split, err, err_len);
    if (!r)
        return -1;
    struct sha256_ctx column[HBX_N_COLUMNS];
    for (int c = 0; c < HBX_N_COLUMNS; c++)
        sha256_init(&column[c]);
    int rc;
    while ((rc = hbx_dataset_reader_next(r, t, err, err_len)) == 1)
        for (int c = 0; c < HBX_N_COLUMNS; c++)
            hash_le(&column[c], hbx_table_column(t, c), t->n, hbx_column_size(c));
    uint64_t count = hbx_dataset_reader_count(r);
    hbx_dataset_reader_close(r);
    if (rc < 0)
        return -1;
    unsigned char le[8];
    for (int b = 0; b < 8; b++)
        le[b] = (unsigned char)(count >> (8 * b));
    sha256_update(outer, sizeof le, le);
    for (int c = 0; c < HBX_N_COLUMNS; c++) {
        unsigned char digest[SHA256_DIGEST_SIZE];
        sha256_digest(&column[c], sizeof digest, digest);
        sha256_update(outer, sizeof digest, digest);
    }
    return 0;
}

int hbx_dataset_values_sha256(const char *path, char hex[65], char *err, size_t err_len)
{
    hbx_table t;
    if (hbx_table_alloc(&t, HBX_DATASET_CHUNK, HBX_TABLE_TRUTH) != HBX_OK) {
        snprintf(err, err_len, "%s: out of memory", path);
        return -1;
    }
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    int rc = hash_split(path, HBX_SPLIT_TEST, &t, &ctx, err, err_len);
    if (rc == 0)
        rc = hash_split(path, HBX_SPLIT_TRAIN, &t, &ctx, err, err_len);
    hbx_table_free(&t);
    if (rc != 0)
        return -1;
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    to_hex(digest, hex);
    return 0;
}
