/* The vocabulary of dataset format v1: column names and types, split names,
 * attribute names, event checks and HDF5 error reporting. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "dataset_internal.h"

const char *hbx_split_name(hbx_split s)
{
    switch (s) {
    case HBX_SPLIT_TRAIN:
        return "train";
    case HBX_SPLIT_TEST:
        return "test";
    case HBX_SPLIT_ALL:
        return "all";
    }
    return "?";
}

int hbx_split_parse(const char *name, hbx_split *out)
{
    for (int s = HBX_SPLIT_TRAIN; s <= HBX_SPLIT_ALL; s++)
        if (name && strcmp(name, hbx_split_name((hbx_split)s)) == 0) {
            *out = (hbx_split)s;
            return 0;
        }
    return -1;
}

const char *hbx_column_name(int column)
{
    switch (column) {
    case HBX_COLUMN_WEIGHTS:
        return "weights";
    case HBX_COLUMN_LABELS:
        return "labels";
    case HBX_COLUMN_PROCESS:
        return "detailed_labels";
    default:
        return hbx_feature_name(column);
    }
}

int hbx_column_index(const char *name)
{
    for (int c = 0; name && c < HBX_N_COLUMNS; c++)
        if (strcmp(hbx_column_name(c), name) == 0)
            return c;
    return -1;
}

int hbx_csv_column(int k)
{
    if (k < HBX_N_PRIMARY)
        return k;
    if (k == HBX_N_PRIMARY)
        return HBX_COLUMN_WEIGHTS;
    if (k == HBX_N_PRIMARY + 1)
        return HBX_COLUMN_PROCESS;
    if (k == HBX_N_PRIMARY + 2)
        return HBX_COLUMN_LABELS;
    return k - 3;
}

const char *hbx_h5_group(hbx_split split)
{
    return split == HBX_SPLIT_TEST ? "test" : "train";
}

const char *hbx_h5_count_attr(hbx_split split)
{
    return split == HBX_SPLIT_TEST ? "test_count" : "train_count";
}

const char *hbx_h5_sum_attr(hbx_split split)
{
    return split == HBX_SPLIT_TEST ? "test_sum_weights" : "train_sum_weights";
}

void hbx_h5_quiet(void)
{
    /* In a thread-safe HDF5 the setting is per thread, so it is made on
     * every entry rather than once. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc && e->desc[0])
        snprintf((char *)data, 256, "%s", e->desc);
    return 0;
}

void hbx_set_error(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || !err_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

void hbx_h5_error(char *err, size_t err_len, const char *fmt, ...)
{
    char detail[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, detail);
    H5Eclear2(H5E_DEFAULT);
    if (!err || !err_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    size_t len = strlen(err);
    if (detail[0] && len < err_len)
        snprintf(err + len, err_len - len, " (%s)", detail);
}

static hid_t process_enum(hid_t base)
{
    hid_t t = H5Tenum_create(base);
    for (int p = 0; t >= 0 && p < HBX_N_PROCESSES; p++) {
        uint8_t v = (uint8_t)p;
        if (H5Tenum_insert(t, hbx_process_name(p), &v) < 0) {
            H5Tclose(t);
            return -1;
        }
    }
    return t;
}

hid_t hbx_h5_file_type(int column)
{
    if (column < HBX_N_FEATURES)
        return H5Tcopy(H5T_IEEE_F32LE);
    if (column == HBX_COLUMN_WEIGHTS)
        return H5Tcopy(H5T_IEEE_F64LE);
    if (column == HBX_COLUMN_LABELS)
        return H5Tcopy(H5T_STD_U8LE);
    return process_enum(H5T_STD_U8LE);
}

hid_t hbx_h5_mem_type(int column)
{
    if (column < HBX_N_FEATURES)
        return H5Tcopy(H5T_NATIVE_FLOAT);
    if (column == HBX_COLUMN_WEIGHTS)
        return H5Tcopy(H5T_NATIVE_DOUBLE);
    if (column == HBX_COLUMN_LABELS)
        return H5Tcopy(H5T_NATIVE_UINT8);
    return process_enum(H5T_NATIVE_UINT8);
}

void *hbx_table_column(const hbx_table *t, int c)
{
    if (c < HBX_N_FEATURES)
        return t->features[c];
    if (c == HBX_COLUMN_WEIGHTS)
        return t->weights;
    if (c == HBX_COLUMN_LABELS)
        return t->labels;
    return t->process;
}

size_t hbx_column_size(int c)
{
    return c < HBX_N_FEATURES ? sizeof(float) : c == HBX_COLUMN_WEIGHTS ? sizeof(double) : 1;
}

int hbx_table_check(const hbx_table *t, uint64_t from, uint64_t to, uint64_t base, char *err,
                    size_t err_len)
{
    /* One branch-free sweep per column finds whether anything is wrong; the
     * slow search for the culprit only runs when something is. */
    for (int f = 0; f < HBX_N_FEATURES; f++) {
        const float *x = t->features[f];
        int bad = 0;
        for (uint64_t i = from; i < to; i++)
            bad |= !isfinite(x[i]);
        if (bad)
            for (uint64_t i = from; i < to; i++)
                if (!isfinite(x[i])) {
                    hbx_set_error(err, err_len, "event %llu: %s is %g",
                                  (unsigned long long)(base + i), hbx_feature_name(f),
                                  (double)x[i]);
                    return -1;
                }
    }
    for (uint64_t i = from; i < to; i++) {
        if (!isfinite(t->weights[i])) {
            hbx_set_error(err, err_len, "event %llu: weight is %g", (unsigned long long)(base + i),
                          t->weights[i]);
            return -1;
        }
        if (t->process[i] >= HBX_N_PROCESSES) {
            hbx_set_error(err, err_len, "event %llu: process value %u is not one of %s/%s/%s/%s",
                          (unsigned long long)(base + i), t->process[i], hbx_process_name(0),
                          hbx_process_name(1), hbx_process_name(2), hbx_process_name(3));
            return -1;
        }
        if (t->labels[i] != (t->process[i] == HBX_HTAUTAU)) {
            hbx_set_error(err, err_len, "event %llu: label %u contradicts process %s",
                          (unsigned long long)(base + i), t->labels[i],
                          hbx_process_name(t->process[i]));
            return -1;
        }
    }
    return 0;
}

char *hbx_temp_beside(const char *path, char *err, size_t err_len)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t len = strlen(path) + 64;
    char *tmp = malloc(len);
    if (!tmp) {
        hbx_set_error(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    static unsigned counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned salt = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, len, "%.*s.%s.%ld-%u-%lx.tmp", (int)dir_len, path, base, (long)getpid(),
                 salt, (unsigned long)time(NULL));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            return tmp;
        }
        if (errno != EEXIST)
            break;
    }
    hbx_set_error(err, err_len, "%s: cannot create a temporary file beside it: %s", path,
                  strerror(errno));
    free(tmp);
    return NULL;
}
