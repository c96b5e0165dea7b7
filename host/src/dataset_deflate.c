/*
 * Dataset chunks for HDF5's shuffle + deflate filters, made outside HDF5:
 * the byte shuffle is done here, plane by plane, and zlib compresses the
 * planes into one zlib stream (RFC 1950), which carries zlib's Adler-32.
 *
 * The zlib setting, from bench_gen on its 2,000,000 generated events (all
 * chunks on one thread; docs/FORMAT.md has the table): the columns are
 * floats rounded to 3 decimals. After the shuffle their high byte planes
 * are highly skewed and their low ones nearly random, and neither holds
 * repeated strings worth finding, so string matching costs time for
 * nothing: level 1 made 143.5 MB in 3.4 CPU-s, run-length matching alone
 * (Z_RLE) 136.4 MB in 1.9 s, and the Huffman-only strategy, which codes
 * each block's bytes with codes made for their frequencies (or stores the
 * block when that is no smaller), 135.4 MB in 1.75 s: the smallest and the
 * fastest, hence Z_HUFFMAN_ONLY. The exception is a chunk that ends in fill
 * (the zeros past a split's end), which hbx_deflater_new gives to Z_RLE.
 */
#include "dataset_deflate.h"

#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST /* next_in points to const bytes */
#include <zlib.h>

enum {
    /* The stream's parameters: zlib's defaults (32 KiB window, memLevel 8:
     * a block per 16 K literals), which are those compressBound assumes,
     * so hbx_deflate_bound holds for any level and strategy. memLevel 9
     * (blocks twice as long) saved 0.1 %. */
    WINDOW_BITS = 15,
    MEM_LEVEL = 8,
};

size_t hbx_deflate_bound(size_t n, size_t size)
{
    return (size_t)compressBound((uLong)(n * size));
}

/* Byte `b` (0 = least significant) of each of the n values of `size`
 * bytes at src, as the shuffle filter lays out the little-endian file
 * type. Written per size so the stride is a constant. */
static void gather_plane(const unsigned char *src, size_t n, size_t size, size_t b,
                         unsigned char *plane)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    b = size - 1 - b;
#endif
    src += b;
    switch (size) {
    case 2:
        for (size_t i = 0; i < n; i++)
            plane[i] = src[2 * i];
        break;
    case 4:
        for (size_t i = 0; i < n; i++)
            plane[i] = src[4 * i];
        break;
    case 8:
        for (size_t i = 0; i < n; i++)
            plane[i] = src[8 * i];
        break;
    default:
        for (size_t i = 0; i < n; i++)
            plane[i] = src[size * i];
        break;
    }
}

struct hbx_deflater {
    z_stream z;
    int level;
    int strategy;      /* zlib strategy for chunks of values only */
    int fill_strategy; /* for chunks that end in fill */
    int current;       /* the stream's strategy now */
    unsigned char plane[HBX_DEFLATE_MAX_VALUES]; /* one byte plane, then the fill */
};

static hbx_deflater *deflater_new(int level, int strategy, int fill_strategy)
{
    hbx_deflater *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    memset(&d->z, 0, sizeof d->z);
    if (deflateInit2(&d->z, level, Z_DEFLATED, WINDOW_BITS, MEM_LEVEL, strategy) != Z_OK) {
        free(d);
        return NULL;
    }
    d->level = level;
    d->strategy = d->current = strategy;
    d->fill_strategy = fill_strategy;
    return d;
}

hbx_deflater *hbx_deflater_new_with(int level, int strategy)
{
    return deflater_new(level, strategy, strategy);
}

hbx_deflater *hbx_deflater_new(void)
{
    /* Huffman-only, and Z_RLE for a split's last chunk: the fill of a
     * chunk's unused end is up to 64 KiB of zeros per byte plane, which
     * Huffman-only codes at a bit per byte at best (a 1000-event file was
     * 2.2 MB, mostly fill; 0.28 MB with Z_RLE) and Z_RLE as copies of the
     * previous byte, a few bits per 258 bytes. Both strategies ignore the
     * level's matching (any level but 0, stored, would do). */
    return deflater_new(1, Z_HUFFMAN_ONLY, Z_RLE);
}

void hbx_deflater_free(hbx_deflater *d)
{
    if (!d)
        return;
    deflateEnd(&d->z);
    free(d);
}

/* Compresses `len` bytes at p into the stream (Z_NO_FLUSH: zlib copies
 * what it keeps, so p may be reused once this returns). 0, or -1 if the
 * output ran out. */
static int feed(z_stream *z, const unsigned char *p, size_t len)
{
    if (len == 0)
        return 0;
    z->next_in = p;
    z->avail_in = (uInt)len;
    int rc = deflate(z, Z_NO_FLUSH);
    return rc == Z_OK && z->avail_in == 0 ? 0 : -1;
}

size_t hbx_deflate_values(hbx_deflater *d, const void *src, size_t n, size_t zeros, size_t size,
                          unsigned char *out)
{
    if (n + zeros == 0 || n + zeros > HBX_DEFLATE_MAX_VALUES || size == 0)
        return 0;
    /* A new stream reusing zlib's buffers (making them anew for each call
     * cost 5 % more CPU time). */
    z_stream *z = &d->z;
    if (deflateReset(z) != Z_OK)
        return 0;
    z->next_out = out;
    z->avail_out = (uInt)hbx_deflate_bound(n + zeros, size);
    int strategy = zeros > 0 ? d->fill_strategy : d->strategy;
    if (strategy != d->current) {
        /* Right after the reset, before any input: only changes the
         * setting (zlib >= 1.2.12 emits nothing). */
        if (deflateParams(z, d->level, strategy) != Z_OK)
            return 0;
        d->current = strategy;
    }
    /* One plane at a time through d->plane: [0, n) its bytes, [n, n + zeros)
     * the fill, zeroed once. One-byte values are their own plane. */
    memset(d->plane + n, 0, zeros);
    int rc = 0;
    if (size == 1) {
        rc = feed(z, src, n);
        rc = rc ? rc : feed(z, d->plane + n, zeros);
    }
    for (size_t b = 0; size > 1 && rc == 0 && b < size; b++) {
        gather_plane(src, n, size, b, d->plane);
        rc = feed(z, d->plane, n + zeros);
    }
    if (rc != 0 || deflate(z, Z_FINISH) != Z_STREAM_END)
        return 0;
    return (size_t)z->total_out;
}
