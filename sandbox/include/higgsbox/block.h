/*
 * Data blocks: events in shared memory, handed to a worker by descriptor.
 *
 * A block is a sealed-size memfd holding a header and 64-byte aligned
 * columns. The host fills it through a writable mapping (so a generator can
 * write a pseudo-experiment straight into it) and hands the worker a
 * read-only descriptor: the worker can map it for reading only.
 */
#ifndef HIGGSBOX_BLOCK_H
#define HIGGSBOX_BLOCK_H

#include <stdint.h>

#include "higgsbox/physics.h"
#include "higgsbox/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A block as seen by the host: writable columns, like an hbx_table whose
 * capacity is fixed. */
typedef struct hbx_block {
    int fd;          /* read-write memfd; owned */
    void *base;      /* writable mapping of the whole block */
    uint64_t size;   /* bytes */
    uint64_t capacity;
    unsigned flags;  /* HBX_TABLE_* columns present */
    hbx_table table; /* columns point into the mapping; never hbx_table_free() it */
} hbx_block;

/* Creates a block for up to `capacity` events with the optional columns in
 * `flags` (HBX_TABLE_*; PEs pass 0). `name` labels the memfd for debugging.
 * Returns 0, or -1 with errno. */
int hbx_block_create(hbx_block *b, const char *name, uint64_t capacity, unsigned flags);

/* Records that the first n events are filled (n <= capacity). */
void hbx_block_set_count(hbx_block *b, uint64_t n);

/* Copies a dataset into a new block (columns absent in `src` stay absent). */
int hbx_block_from_dataset(hbx_block *b, const char *name, const hbx_dataset *src);

/* Opens a read-only descriptor to the block for a worker. The caller owns
 * the returned fd. Returns -1 with errno on failure. */
int hbx_block_reader_fd(const hbx_block *b);

/* Unmaps and closes. Safe on a zeroed block. */
void hbx_block_destroy(hbx_block *b);

/* Worker side: maps a block read-only from `fd` (of `size` bytes as
 * announced) and checks its header and bounds. On success *view describes it
 * and *mapping / *mapping_size must later go to munmap(). Returns 0, or -1
 * with a reason in `why`. */
int hbx_block_map(int fd, uint64_t size, hbx_dataset *view, void **mapping,
                  uint64_t *mapping_size, char *why, unsigned why_len);

#ifdef __cplusplus
}
#endif
#endif
