/*
 * Dataset chunks for HDF5's shuffle + deflate filters, made outside HDF5:
 * the byte shuffle is done here, and the planes are compressed into one
 * zlib stream (RFC 1950, with its Adler-32) by ISA-L's igzip.
 *
 * The choice, from bench_gen on its 2,000,000 generated events (all chunks
 * on one thread; docs/FORMAT.md has the table): the columns are floats
 * rounded to 3 decimals, whose shuffled high byte planes are highly skewed
 * and low ones nearly random. What pays is coding each plane with Huffman
 * codes fitted to its own byte frequencies; string matching finds little.
 * zlib's Huffman-only strategy does exactly that (135.4 MB in 2.3 s) but
 * costs ~9 ns a byte; zlib level 1, HDF5's own filter, made 143.5 MB in
 * 4.0 s. igzip level 1 with a block per plane (a sync flush after each, so
 * each gets its own codes) made 139.2 MB in 0.53 s: 3 % larger than
 * Huffman-only and four times as fast, hence igzip. Its fast matching also
 * turns the fill of a split's last chunk (up to 64 KiB of zeros per plane)
 * into a few long copies.
 *
 * igzip stores what it cannot compress (random bytes grow by ~0.02 %), so
 * its stream fits zlib's bound; zlib stays as the fallback should it fail
 * all the same, and for bench_gen's comparison of settings.
 */
#include "dataset_deflate.h"

#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST /* next_in points to const bytes */
#include <zlib.h>

enum {
    /* zlib's stream parameters: its defaults (32 KiB window, memLevel 8: a
     * block per 16 K literals), which are those compressBound assumes. */
    WINDOW_BITS = 15,
    MEM_LEVEL = 8,
    /* igzip's level and the size of the buffer it needs for it. */
    IGZIP_LEVEL = 1,
    IGZIP_LEVEL_BUF = ISAL_DEF_LVL1_DEFAULT,
};

size_t hbx_deflate_bound(size_t n, size_t size)
{
    return (size_t)compressBound((uLong)(n * size));
}

/* The n values of `size` bytes at src as the shuffle filter lays out the
 * little-endian file type: byte b (0 = least significant) of value i at
 * planes[b * stride + i]. One pass over the values, each read as a whole
 * word: its bytes taken by shifts are the same on any host byte order. */
static void gather_planes(const void *src, size_t n, size_t size, unsigned char *planes,
                          size_t stride)
{
    unsigned char *p0 = planes, *p1 = planes + stride, *p2 = planes + 2 * stride,
                  *p3 = planes + 3 * stride;
    switch (size) {
    case 2:
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, (const unsigned char *)src + 2 * i, 2);
            p0[i] = (unsigned char)v;
            p1[i] = (unsigned char)(v >> 8);
        }
        break;
    case 4:
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, (const unsigned char *)src + 4 * i, 4);
            p0[i] = (unsigned char)v;
            p1[i] = (unsigned char)(v >> 8);
            p2[i] = (unsigned char)(v >> 16);
            p3[i] = (unsigned char)(v >> 24);
        }
        break;
    case 8:
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, (const unsigned char *)src + 8 * i, 8);
            for (size_t b = 0; b < 8; b++)
                planes[b * stride + i] = (unsigned char)(v >> (8 * b));
        }
        break;
    default: /* one byte: its own plane */
        memcpy(p0, src, n);
        break;
    }
}

struct hbx_deflater {
    int use_igzip;     /* igzip first; zlib only when it does not fit */
    int zlib_ready;    /* z initialised (on first use when igzip leads) */
    int level;         /* zlib's level and strategies: */
    int strategy;      /* for chunks of values only */
    int fill_strategy; /* for chunks that end in fill */
    int current;       /* the zlib stream's strategy now */
    z_stream z;
    struct isal_zstream ig;
    unsigned char ig_level_buf[IGZIP_LEVEL_BUF];
    /* The shuffled chunk: plane b at b * (n + zeros), then the fill. */
    unsigned char planes[8 * HBX_DEFLATE_MAX_VALUES];
};

static int zlib_init(hbx_deflater *d)
{
    memset(&d->z, 0, sizeof d->z);
    if (deflateInit2(&d->z, d->level, Z_DEFLATED, WINDOW_BITS, MEM_LEVEL, d->strategy) != Z_OK)
        return -1;
    d->current = d->strategy;
    d->zlib_ready = 1;
    return 0;
}

static hbx_deflater *deflater_new(int use_igzip, int level, int strategy, int fill_strategy)
{
    hbx_deflater *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    d->use_igzip = use_igzip;
    d->zlib_ready = 0;
    d->level = level;
    d->strategy = strategy;
    d->fill_strategy = fill_strategy;
    if (!use_igzip && zlib_init(d) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

hbx_deflater *hbx_deflater_new_with(int level, int strategy)
{
    return deflater_new(0, level, strategy, strategy);
}

hbx_deflater *hbx_deflater_new(void)
{
    /* The zlib fallback: Huffman-only, and Z_RLE for a split's last chunk,
     * whose fill Huffman-only would code at a bit per byte at best. */
    return deflater_new(1, 1, Z_HUFFMAN_ONLY, Z_RLE);
}

void hbx_deflater_free(hbx_deflater *d)
{
    if (!d)
        return;
    if (d->zlib_ready)
        deflateEnd(&d->z);
    free(d);
}

/* The shuffled planes (or the one-byte values), fill included, into
 * d->planes; returns how many bytes that is. */
static size_t shuffle(hbx_deflater *d, const void *src, size_t n, size_t zeros, size_t size)
{
    size_t stride = n + zeros;
    gather_planes(src, n, size, d->planes, stride);
    for (size_t b = 0; zeros > 0 && b < size; b++)
        memset(d->planes + b * stride + n, 0, zeros);
    return stride * size;
}

/* igzip: one stream, a sync flush closing each plane's block so that every
 * plane is coded with codes of its own. The stream's length, or 0 if it did
 * not fit in `cap` bytes. */
static size_t igzip_planes(hbx_deflater *d, size_t stride, size_t size, unsigned char *out,
                           size_t cap)
{
    struct isal_zstream *z = &d->ig;
    isal_deflate_init(z);
    z->level = IGZIP_LEVEL;
    z->level_buf = d->ig_level_buf;
    z->level_buf_size = IGZIP_LEVEL_BUF;
    z->gzip_flag = IGZIP_ZLIB;
    z->next_out = out;
    z->avail_out = (uint32_t)cap;
    for (size_t b = 0; b < size; b++) {
        z->next_in = d->planes + b * stride;
        z->avail_in = (uint32_t)stride;
        z->end_of_stream = b + 1 == size;
        z->flush = SYNC_FLUSH;
        if (isal_deflate(z) != COMP_OK || z->avail_in != 0)
            return 0;
    }
    return z->internal_state.state == ZSTATE_END ? (size_t)z->total_out : 0;
}

/* zlib, with the strategy for this chunk, over the same planes. */
static size_t zlib_planes(hbx_deflater *d, size_t total, int has_fill, unsigned char *out,
                          size_t cap)
{
    if (!d->zlib_ready && zlib_init(d) != 0)
        return 0;
    z_stream *z = &d->z;
    /* A new stream reusing zlib's buffers (making them anew for each call
     * cost 5 % more CPU time). */
    if (deflateReset(z) != Z_OK)
        return 0;
    int strategy = has_fill ? d->fill_strategy : d->strategy;
    if (strategy != d->current) {
        /* Right after the reset, before any input: only changes the
         * setting (zlib >= 1.2.12 emits nothing). */
        if (deflateParams(z, d->level, strategy) != Z_OK)
            return 0;
        d->current = strategy;
    }
    z->next_in = d->planes;
    z->avail_in = (uInt)total;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    return deflate(z, Z_FINISH) == Z_STREAM_END ? (size_t)z->total_out : 0;
}

size_t hbx_deflate_values(hbx_deflater *d, const void *src, size_t n, size_t zeros, size_t size,
                          unsigned char *out)
{
    if (n + zeros == 0 || n + zeros > HBX_DEFLATE_MAX_VALUES ||
        (size != 1 && size != 2 && size != 4 && size != 8))
        return 0;
    size_t total = shuffle(d, src, n, zeros, size);
    size_t cap = hbx_deflate_bound(n + zeros, size);
    size_t len = d->use_igzip ? igzip_planes(d, n + zeros, size, out, cap) : 0;
    return len ? len : zlib_planes(d, total, zeros > 0, out, cap);
}
