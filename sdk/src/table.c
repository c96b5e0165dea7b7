/* Owned columnar tables of events. */
#include <stdlib.h>
#include <string.h>

#include "higgsbox/physics.h"

enum { TABLE_ALIGN = 64 };

static void *aligned_array(uint64_t count, size_t elem)
{
    if (count == 0)
        count = 1;
    if (count > (SIZE_MAX - TABLE_ALIGN) / elem)
        return NULL;
    size_t bytes = (size_t)count * elem;
    bytes = (bytes + TABLE_ALIGN - 1) / TABLE_ALIGN * TABLE_ALIGN;
    return aligned_alloc(TABLE_ALIGN, bytes);
}

/* Moves the first n elements of *array into a new array of `capacity`. */
static int regrow(void **array, uint64_t n, uint64_t capacity, size_t elem)
{
    if (*array == NULL)
        return HBX_OK;
    void *fresh = aligned_array(capacity, elem);
    if (!fresh)
        return HBX_E_NOMEM;
    if (n)
        memcpy(fresh, *array, (size_t)n * elem);
    free(*array);
    *array = fresh;
    return HBX_OK;
}

int hbx_table_alloc(hbx_table *t, uint64_t capacity, unsigned flags)
{
    memset(t, 0, sizeof *t);
    t->flags = flags;
    int ok = 1;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        ok &= (t->features[f] = aligned_array(capacity, sizeof(float))) != NULL;
    if (flags & HBX_TABLE_WEIGHTS)
        ok &= (t->weights = aligned_array(capacity, sizeof(double))) != NULL;
    if (flags & HBX_TABLE_LABELS)
        ok &= (t->labels = aligned_array(capacity, 1)) != NULL;
    if (flags & HBX_TABLE_PROCESS)
        ok &= (t->process = aligned_array(capacity, 1)) != NULL;
    if (!ok) {
        hbx_table_free(t);
        return HBX_E_NOMEM;
    }
    t->capacity = capacity;
    return HBX_OK;
}

int hbx_table_reserve(hbx_table *t, uint64_t capacity)
{
    if (capacity <= t->capacity)
        return HBX_OK;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        if (regrow((void **)&t->features[f], t->n, capacity, sizeof(float)))
            return HBX_E_NOMEM;
    if (regrow((void **)&t->weights, t->n, capacity, sizeof(double)) ||
        regrow((void **)&t->labels, t->n, capacity, 1) ||
        regrow((void **)&t->process, t->n, capacity, 1))
        return HBX_E_NOMEM;
    t->capacity = capacity;
    return HBX_OK;
}

void hbx_table_free(hbx_table *t)
{
    for (int f = 0; f < HBX_N_FEATURES; f++)
        free(t->features[f]);
    free(t->weights);
    free(t->labels);
    free(t->process);
    memset(t, 0, sizeof *t);
}

hbx_dataset hbx_table_view(const hbx_table *t)
{
    hbx_dataset v;
    memset(&v, 0, sizeof v);
    v.n_events = t->n;
    for (int f = 0; f < HBX_N_FEATURES; f++)
        v.features[f] = t->features[f];
    v.weights = t->weights;
    v.labels = t->labels;
    v.process = t->process;
    return v;
}
