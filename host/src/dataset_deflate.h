/*
 * Compressing dataset chunks outside HDF5 (dataset_deflate.c), so that the
 * writer can deflate chunks on several threads and hand HDF5 finished bytes
 * (H5Dwrite_chunk). The shuffle is done here and the deflating by ISA-L's
 * igzip (zlib as its fallback): the output is exactly what HDF5's own
 * shuffle + deflate filters decode, and any reader sees an ordinary
 * deflate-compressed dataset.
 */
#ifndef HBX_DATASET_DEFLATE_H
#define HBX_DATASET_DEFLATE_H

#include <stddef.h>

#include "higgsbox/dataset.h"

/* Most values one call compresses (a chunk of the dataset format). */
#define HBX_DEFLATE_MAX_VALUES 65536

/* Bytes hbx_deflate_values may write for n values of `size` bytes, zeros
 * included: zlib's compressBound of their n·size bytes (a little more than
 * n·size: incompressible data is stored, plus framing). */
size_t hbx_deflate_bound(size_t n, size_t size);

/* The compressors' state and a shuffled chunk of scratch, reused from call
 * to call: one per thread that compresses (a deflater is not thread-safe,
 * but threads with deflaters of their own share nothing). ~0.9 MB, and
 * zlib's ~0.3 MB more once its fallback has been needed. */
typedef struct hbx_deflater hbx_deflater;

/* A deflater with the writer's setting (igzip, dataset_deflate.c says why),
 * or NULL if memory ran out. */
hbx_deflater *hbx_deflater_new(void);

/* One that uses zlib alone, with `level` and `strategy` (deflateInit2's;
 * for bench_gen's comparison of the settings). */
hbx_deflater *hbx_deflater_new_with(int level, int strategy);

void hbx_deflater_free(hbx_deflater *d);

/* Writes to `out` (hbx_deflate_bound(n + zeros, size) bytes) a zlib stream
 * (RFC 1950/1951) of the n values of `size` bytes (1, 2, 4 or 8) at `src`,
 * given in host byte order and stored little-endian, followed by `zeros`
 * values of 0 (the fill of a chunk's unused end; src holds only the n).
 * Values wider than one byte are byte-shuffled first as HDF5's shuffle
 * filter does (the first byte of every value, then the second, ...; each
 * plane is n + zeros bytes), so the stream is a chunk for a dataset whose
 * filters are shuffle then deflate (deflate alone for one-byte values).
 * 1 <= n + zeros <= HBX_DEFLATE_MAX_VALUES. Returns the stream's length, or
 * 0 if the arguments are out of range. On one machine the same input
 * always gives the same bytes. igzip picks its code for the processor; its
 * AVX-512 and AVX2 code gave the same bytes, but ISA-L does not promise
 * that everywhere (any encoding decodes to the same values). */
size_t hbx_deflate_values(hbx_deflater *d, const void *src, size_t n, size_t zeros, size_t size,
                          unsigned char *out);

#endif
