/* Shared-memory data blocks (see higgsbox/block.h). */
#include "higgsbox/block.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLOCK_MAGIC 0x42584248u /* "HBXB" */
#define BLOCK_VERSION 1u
#define BLOCK_ALIGN 64u

enum { COL_WEIGHTS = HBX_N_FEATURES, COL_LABELS, COL_PROCESS, N_COLS };

typedef struct block_header {
    uint32_t magic;
    uint32_t version;
    uint64_t capacity;
    uint64_t n_events;
    uint32_t flags;
    uint32_t reserved;
    uint64_t offset[N_COLS]; /* 0: column absent */
} block_header;

static size_t col_elem(int c)
{
    return c == COL_WEIGHTS ? sizeof(double) : c >= COL_LABELS ? 1 : sizeof(float);
}

static int col_present(int c, unsigned flags)
{
    if (c < HBX_N_FEATURES)
        return 1;
    if (c == COL_WEIGHTS)
        return (flags & HBX_TABLE_WEIGHTS) != 0;
    if (c == COL_LABELS)
        return (flags & HBX_TABLE_LABELS) != 0;
    return (flags & HBX_TABLE_PROCESS) != 0;
}

static uint64_t align_up(uint64_t v)
{
    return (v + BLOCK_ALIGN - 1) / BLOCK_ALIGN * BLOCK_ALIGN;
}

/* Lays out the columns; returns the total size, or 0 on overflow. */
static uint64_t layout(uint64_t capacity, unsigned flags, uint64_t offset[N_COLS])
{
    uint64_t at = align_up(sizeof(block_header));
    for (int c = 0; c < N_COLS; c++) {
        offset[c] = 0;
        if (!col_present(c, flags))
            continue;
        if (capacity > (UINT64_MAX / 2 - at) / col_elem(c))
            return 0;
        offset[c] = at;
        at = align_up(at + capacity * col_elem(c));
    }
    return at;
}

static void bind_table(hbx_block *b)
{
    block_header *h = b->base;
    hbx_table *t = &b->table;
    memset(t, 0, sizeof *t);
    t->capacity = b->capacity;
    t->flags = b->flags;
    t->n = h->n_events;
    char *base = b->base;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        t->features[f] = (float *)(base + h->offset[f]);
    t->weights = h->offset[COL_WEIGHTS] ? (double *)(base + h->offset[COL_WEIGHTS]) : NULL;
    t->labels = h->offset[COL_LABELS] ? (uint8_t *)(base + h->offset[COL_LABELS]) : NULL;
    t->process = h->offset[COL_PROCESS] ? (uint8_t *)(base + h->offset[COL_PROCESS]) : NULL;
}

int hbx_block_create(hbx_block *b, const char *name, uint64_t capacity, unsigned flags)
{
    memset(b, 0, sizeof *b);
    b->fd = -1;
    uint64_t offset[N_COLS];
    uint64_t size = layout(capacity, flags, offset);
    if (!size) {
        errno = EOVERFLOW;
        return -1;
    }
    int fd = memfd_create(name ? name : "hbx-block", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    block_header *h = base;
    h->magic = BLOCK_MAGIC;
    h->version = BLOCK_VERSION;
    h->capacity = capacity;
    h->n_events = 0;
    h->flags = flags;
    memcpy(h->offset, offset, sizeof offset);
    b->fd = fd;
    b->base = base;
    b->size = size;
    b->capacity = capacity;
    b->flags = flags;
    bind_table(b);
    return 0;
}

void hbx_block_set_count(hbx_block *b, uint64_t n)
{
    if (n > b->capacity)
        n = b->capacity;
    ((block_header *)b->base)->n_events = n;
    b->table.n = n;
}

int hbx_block_from_dataset(hbx_block *b, const char *name, const hbx_dataset *src)
{
    unsigned flags = (src->weights ? HBX_TABLE_WEIGHTS : 0) | (src->labels ? HBX_TABLE_LABELS : 0) |
                     (src->process ? HBX_TABLE_PROCESS : 0);
    if (hbx_block_create(b, name, src->n_events, flags) != 0)
        return -1;
    size_t n = (size_t)src->n_events;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        if (n && src->features[f])
            memcpy(b->table.features[f], src->features[f], n * sizeof(float));
    if (n && src->weights)
        memcpy(b->table.weights, src->weights, n * sizeof(double));
    if (n && src->labels)
        memcpy(b->table.labels, src->labels, n);
    if (n && src->process)
        memcpy(b->table.process, src->process, n);
    hbx_block_set_count(b, src->n_events);
    return 0;
}

int hbx_block_reader_fd(const hbx_block *b)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", b->fd);
    return open(path, O_RDONLY | O_CLOEXEC);
}

void hbx_block_destroy(hbx_block *b)
{
    if (b->base)
        munmap(b->base, b->size);
    if (b->fd >= 0)
        close(b->fd);
    memset(b, 0, sizeof *b);
    b->fd = -1;
}

int hbx_block_map(int fd, uint64_t size, hbx_dataset *view, void **mapping,
                  uint64_t *mapping_size, char *why, unsigned why_len)
{
    off_t real = lseek(fd, 0, SEEK_END);
    if (real < 0 || (uint64_t)real != size || size < sizeof(block_header)) {
        snprintf(why, why_len, "data block size mismatch");
        return -1;
    }
    void *base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        snprintf(why, why_len, "cannot map data block: %s", strerror(errno));
        return -1;
    }
    const block_header *h = base;
    uint64_t offset[N_COLS];
    uint64_t expect = h->magic == BLOCK_MAGIC && h->version == BLOCK_VERSION
                          ? layout(h->capacity, h->flags, offset)
                          : 0;
    if (!expect || expect != size || h->n_events > h->capacity ||
        memcmp(offset, h->offset, sizeof offset) != 0) {
        munmap(base, size);
        snprintf(why, why_len, "malformed data block header");
        return -1;
    }
    memset(view, 0, sizeof *view);
    const char *p = base;
    view->n_events = h->n_events;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        view->features[f] = (const float *)(p + offset[f]);
    view->weights = offset[COL_WEIGHTS] ? (const double *)(p + offset[COL_WEIGHTS]) : NULL;
    view->labels = offset[COL_LABELS] ? (const uint8_t *)(p + offset[COL_LABELS]) : NULL;
    view->process = offset[COL_PROCESS] ? (const uint8_t *)(p + offset[COL_PROCESS]) : NULL;
    *mapping = base;
    *mapping_size = size;
    return 0;
}
