/*
 * Reading dataset files (format v1, docs/FORMAT.md): header attributes,
 * whole splits, single columns, and a chunked reader for streaming exports.
 *
 * Every column is checked before any event is read (presence, type, rank,
 * equal lengths, agreement with the header counts), and every loaded event
 * afterwards (label and process values), so a damaged or foreign file ends
 * in one precise message rather than in wrong numbers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "higgsbox/higgsbox.h"

/* One opened split: its datasets and length. */
typedef struct split_in {
    hid_t dset[HBX_N_COLUMNS];
    uint64_t n;
} split_in;

/* An opened, checked file: up to two splits in delivery order. */
typedef struct opened {
    const char *path;
    hid_t file;
    int n_parts;
    hbx_split part[2];
    split_in in[2];
    uint64_t total;
} opened;

static void describe_type(hid_t t, char *buf, size_t len)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    switch (cls) {
    case H5T_FLOAT:
        snprintf(buf, len, "float%zu", size * 8);
        break;
    case H5T_INTEGER:
        snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", size * 8);
        break;
    case H5T_ENUM:
        snprintf(buf, len, "enum of %zu bytes", size);
        break;
    case H5T_STRING:
        snprintf(buf, len, "string");
        break;
    default:
        snprintf(buf, len, "HDF5 class %d", (int)cls);
        break;
    }
}

/* Does the file's type of column c match format v1? */
static int type_ok(hid_t t, int c)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    if (c < HBX_N_FEATURES)
        return cls == H5T_FLOAT && size == 4;
    if (c == HBX_COLUMN_WEIGHTS)
        return cls == H5T_FLOAT && size == 8;
    if (c == HBX_COLUMN_LABELS)
        return cls == H5T_INTEGER && size == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    /* The process enum must name our four processes with our values: HDF5
     * would convert other values by name, but a file that disagrees with
     * plugin.h is not format v1. */
    if (cls != H5T_ENUM || size != 1 || H5Tget_nmembers(t) != HBX_N_PROCESSES)
        return 0;
    for (int p = 0; p < HBX_N_PROCESSES; p++) {
        uint8_t v = 0xff;
        if (H5Tenum_valueof(t, hbx_process_name(p), &v) < 0 || v != p) {
            H5Eclear2(H5E_DEFAULT);
            return 0;
        }
    }
    return 1;
}

static const char *expected_type(int c)
{
    if (c < HBX_N_FEATURES)
        return "float32";
    if (c == HBX_COLUMN_WEIGHTS)
        return "float64";
    if (c == HBX_COLUMN_LABELS)
        return "uint8";
    return "enum {htautau=0, ztautau=1, ttbar=2, diboson=3} of uint8";
}

static int read_attr(hid_t loc, const char *name, hid_t mem_type, hsize_t n, void *out)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t space = H5Aget_space(a);
    hssize_t have = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int rc = have == (hssize_t)(n ? n : 1) && H5Aread(a, mem_type, out) >= 0 ? 0 : -1;
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    return rc;
}

/* Reads a string attribute (variable or fixed length) into buf. */
static int read_string_attr(hid_t loc, const char *name, char *buf, size_t len)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t ft = H5Aget_type(a);
    hid_t mt = H5Tcopy(H5T_C_S1);
    int rc = -1;
    /* Character sets must match for HDF5 to convert. */
    if (ft >= 0 && mt >= 0 && H5Tget_class(ft) == H5T_STRING &&
        H5Tset_cset(mt, H5Tget_cset(ft)) >= 0) {
        if (H5Tis_variable_str(ft) > 0) {
            char *s = NULL;
            if (H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, len, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
        } else {
            size_t size = H5Tget_size(ft);
            char *s = calloc(1, size + 1);
            if (s && H5Tset_size(mt, size + 1) >= 0 && H5Aread(a, mt, s) >= 0) {
                snprintf(buf, len, "%s", s);
                rc = 0;
            }
            free(s);
        }
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static hid_t open_file(const char *path, char *err, size_t err_len)
{
    hbx_h5_quiet();
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        FILE *f = fopen(path, "rb");
        if (!f)
            hbx_set_error(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        else {
            fclose(f);
            hbx_set_error(err, err_len, "%s: not an HDF5 file (or truncated before its header)",
                          path);
        }
        return -1;
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        hbx_h5_error(err, err_len, "%s: cannot open as HDF5, the file is damaged or truncated",
                     path);
        return -1;
    }
    char format[64] = "";
    if (read_string_attr(file, HBX_ATTR_FORMAT, format, sizeof format) != 0 ||
        strcmp(format, HBX_ATTR_FORMAT_VALUE) != 0) {
        H5Eclear2(H5E_DEFAULT);
        hbx_set_error(err, err_len, "%s: not a higgsbox dataset (no '%s' attribute \"%s\")",
                      path, HBX_ATTR_FORMAT, HBX_ATTR_FORMAT_VALUE);
        H5Fclose(file);
        return -1;
    }
    uint32_t version = 0;
    if (read_attr(file, HBX_ATTR_VERSION, H5T_NATIVE_UINT32, 0, &version) != 0 ||
        version != HBX_FORMAT_VERSION) {
        H5Eclear2(H5E_DEFAULT);
        hbx_set_error(err, err_len, "%s: dataset format version %u, this higgsbox reads %d",
                      path, version, HBX_FORMAT_VERSION);
        H5Fclose(file);
        return -1;
    }
    return file;
}

static void close_split(split_in *in)
{
    for (int c = 0; c < HBX_N_COLUMNS; c++)
        if (in->dset[c] > 0)
            H5Dclose(in->dset[c]);
    memset(in, 0, sizeof *in);
}

/* Opens and checks the 31 columns of one split. */
static int open_split(const char *path, hid_t file, hbx_split split, split_in *in, char *err,
                      size_t err_len)
{
    memset(in, 0, sizeof *in);
    const char *g = hbx_h5_group(split);
    uint64_t count[HBX_N_PROCESSES];
    if (read_attr(file, hbx_h5_count_attr(split), H5T_NATIVE_UINT64, HBX_N_PROCESSES, count) !=
        0) {
        hbx_h5_error(err, err_len, "%s: attribute %s missing or malformed", path,
                     hbx_h5_count_attr(split));
        return -1;
    }
    uint64_t expected = 0;
    for (int p = 0; p < HBX_N_PROCESSES; p++)
        expected += count[p];
    for (int c = 0; c < HBX_N_COLUMNS; c++) {
        char name[128];
        snprintf(name, sizeof name, "/%s/%s", g, hbx_column_name(c));
        htri_t exists = H5Lexists(file, g, H5P_DEFAULT);
        if (exists > 0)
            exists = H5Lexists(file, name, H5P_DEFAULT);
        if (exists <= 0) {
            H5Eclear2(H5E_DEFAULT);
            hbx_set_error(err, err_len, "%s: column %s is missing", path, name);
            goto fail;
        }
        if ((in->dset[c] = H5Dopen2(file, name, H5P_DEFAULT)) < 0) {
            hbx_h5_error(err, err_len, "%s: cannot open column %s", path, name);
            goto fail;
        }
        hid_t t = H5Dget_type(in->dset[c]);
        hid_t space = H5Dget_space(in->dset[c]);
        int ok_type = t >= 0 && type_ok(t, c);
        char have[64] = "?";
        if (t >= 0 && !ok_type)
            describe_type(t, have, sizeof have);
        int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
        hsize_t len = 0;
        if (rank == 1)
            H5Sget_simple_extent_dims(space, &len, NULL);
        if (t >= 0)
            H5Tclose(t);
        if (space >= 0)
            H5Sclose(space);
        if (!ok_type) {
            H5Eclear2(H5E_DEFAULT);
            hbx_set_error(err, err_len, "%s: column %s has type %s, expected %s", path, name,
                          have, expected_type(c));
            goto fail;
        }
        if (rank != 1) {
            H5Eclear2(H5E_DEFAULT);
            hbx_set_error(err, err_len, "%s: column %s has rank %d, expected 1", path, name,
                          rank);
            goto fail;
        }
        if (c == 0)
            in->n = len;
        else if (len != in->n) {
            hbx_set_error(err, err_len,
                          "%s: inconsistent lengths in /%s: %s has %llu events, %s has %llu",
                          path, g, hbx_column_name(0), (unsigned long long)in->n,
                          hbx_column_name(c), (unsigned long long)len);
            goto fail;
        }
    }
    if (in->n != expected) {
        hbx_set_error(err, err_len,
                      "%s: inconsistent lengths: attribute %s counts %llu events, /%s holds %llu",
                      path, hbx_h5_count_attr(split), (unsigned long long)expected, g,
                      (unsigned long long)in->n);
        goto fail;
    }
    return 0;
fail:
    close_split(in);
    return -1;
}

static void close_opened(opened *o)
{
    for (int i = 0; i < o->n_parts; i++)
        close_split(&o->in[i]);
    if (o->file > 0)
        H5Fclose(o->file);
    memset(o, 0, sizeof *o);
}

static int open_parts(const char *path, hbx_split split, opened *o, char *err, size_t err_len)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    if (split != HBX_SPLIT_TRAIN && split != HBX_SPLIT_TEST && split != HBX_SPLIT_ALL) {
        hbx_set_error(err, err_len, "%s: no such split", path);
        return -1;
    }
    if ((o->file = open_file(path, err, err_len)) < 0)
        return -1;
    if (split == HBX_SPLIT_ALL) {
        o->part[0] = HBX_SPLIT_TEST;
        o->part[1] = HBX_SPLIT_TRAIN;
        o->n_parts = 2;
    } else {
        o->part[0] = split;
        o->n_parts = 1;
    }
    for (int i = 0; i < o->n_parts; i++) {
        if (open_split(path, o->file, o->part[i], &o->in[i], err, err_len) != 0) {
            close_opened(o);
            return -1;
        }
        o->total += o->in[i].n;
    }
    return 0;
}

/* Reads events [start, start + n) of column c of a split into dst. */
static int read_range(const opened *o, int part, int c, hid_t mem_type, uint64_t start,
                      uint64_t n, void *dst, char *err, size_t err_len)
{
    if (n == 0)
        return 0;
    hsize_t hs = start, hn = n;
    hid_t d = o->in[part].dset[c];
    hid_t fspace = H5Dget_space(d);
    hid_t mspace = H5Screate_simple(1, &hn, NULL);
    int rc = fspace < 0 || mspace < 0 ||
                     H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &hs, NULL, &hn, NULL) < 0 ||
                     H5Dread(d, mem_type, mspace, fspace, H5P_DEFAULT, dst) < 0
                 ? -1
                 : 0;
    if (rc)
        hbx_h5_error(err, err_len,
                     "%s: cannot read /%s/%s (events %llu-%llu), the file is damaged", o->path,
                     hbx_h5_group(o->part[part]), hbx_column_name(c), (unsigned long long)start,
                     (unsigned long long)(start + n - 1));
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return rc;
}

/* Reads events [start, start+n) of every column of a part into t at `at`,
 * then checks their values. */
static int read_events(const opened *o, int part, uint64_t start, uint64_t n, hbx_table *t,
                       uint64_t at, char *err, size_t err_len)
{
    for (int c = 0; c < HBX_N_COLUMNS; c++) {
        hid_t mt = hbx_h5_mem_type(c);
        int rc = mt < 0 ? -1
                        : read_range(o, part, c, mt, start, n,
                                     (char *)hbx_table_column(t, c) + at * hbx_column_size(c),
                                     err, err_len);
        if (mt >= 0)
            H5Tclose(mt);
        if (rc)
            return -1;
    }
    char why[256];
    if (hbx_table_check(t, at, at + n, start - at, why, sizeof why) != 0) {
        hbx_set_error(err, err_len, "%s: /%s: %s", o->path, hbx_h5_group(o->part[part]), why);
        return -1;
    }
    return 0;
}

int hbx_dataset_load(const char *path, hbx_split split, hbx_table *out, char *err,
                     size_t err_len)
{
    memset(out, 0, sizeof *out);
    opened o;
    if (open_parts(path, split, &o, err, err_len) != 0)
        return -1;
    if (hbx_table_alloc(out, o.total, HBX_TABLE_TRUTH) != HBX_OK) {
        hbx_set_error(err, err_len, "%s: out of memory for %llu events", path,
                      (unsigned long long)o.total);
        close_opened(&o);
        return -1;
    }
    uint64_t at = 0;
    for (int i = 0; i < o.n_parts; i++) {
        if (read_events(&o, i, 0, o.in[i].n, out, at, err, err_len) != 0) {
            hbx_table_free(out);
            close_opened(&o);
            return -1;
        }
        at += o.in[i].n;
    }
    out->n = o.total;
    close_opened(&o);
    return 0;
}

int hbx_dataset_load_column(const char *path, hbx_split split, int column, double **values,
                            uint64_t *n, char *err, size_t err_len)
{
    *values = NULL;
    *n = 0;
    if (column < 0 || column > HBX_COLUMN_WEIGHTS) {
        hbx_set_error(err, err_len, "%s: column %d is not a feature or the weights", path,
                      column);
        return -1;
    }
    opened o;
    if (open_parts(path, split, &o, err, err_len) != 0)
        return -1;
    double *v = malloc((o.total ? o.total : 1) * sizeof *v);
    if (!v) {
        hbx_set_error(err, err_len, "%s: out of memory", path);
        close_opened(&o);
        return -1;
    }
    uint64_t at = 0;
    for (int i = 0; i < o.n_parts; i++) {
        if (read_range(&o, i, column, H5T_NATIVE_DOUBLE, 0, o.in[i].n, v + at, err, err_len)) {
            free(v);
            close_opened(&o);
            return -1;
        }
        at += o.in[i].n;
    }
    *values = v;
    *n = o.total;
    close_opened(&o);
    return 0;
}

struct hbx_dataset_reader {
    opened o;
    int part;      /* current part */
    uint64_t next; /* next event within the part */
};

hbx_dataset_reader *hbx_dataset_reader_open(const char *path, hbx_split split, char *err,
                                            size_t err_len)
{
    hbx_dataset_reader *r = calloc(1, sizeof *r);
    if (!r) {
        hbx_set_error(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    if (open_parts(path, split, &r->o, err, err_len) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

uint64_t hbx_dataset_reader_count(const hbx_dataset_reader *r)
{
    return r->o.total;
}

int hbx_dataset_reader_next(hbx_dataset_reader *r, hbx_table *t, char *err, size_t err_len)
{
    hbx_h5_quiet();
    t->n = 0;
    while (r->part < r->o.n_parts && r->next == r->o.in[r->part].n) {
        r->part++;
        r->next = 0;
    }
    if (r->part == r->o.n_parts)
        return 0;
    if (!t->weights || !t->labels || !t->process || t->capacity == 0) {
        hbx_set_error(err, err_len, "%s: reader needs a table with truth columns", r->o.path);
        return -1;
    }
    uint64_t n = r->o.in[r->part].n - r->next;
    if (n > t->capacity)
        n = t->capacity;
    if (read_events(&r->o, r->part, r->next, n, t, 0, err, err_len) != 0)
        return -1;
    r->next += n;
    t->n = n;
    return 1;
}

void hbx_dataset_reader_close(hbx_dataset_reader *r)
{
    if (!r)
        return;
    close_opened(&r->o);
    free(r);
}

int hbx_dataset_info_read(const char *path, int with_checksum, hbx_dataset_info *info, char *err,
                          size_t err_len)
{
    memset(info, 0, sizeof *info);
    hid_t file = open_file(path, err, err_len);
    if (file < 0)
        return -1;
    info->format_version = HBX_FORMAT_VERSION;
    const char *bad = NULL;
    if (read_attr(file, HBX_ATTR_LUMINOSITY, H5T_NATIVE_DOUBLE, 0, &info->luminosity) != 0)
        bad = HBX_ATTR_LUMINOSITY;
    else if (read_string_attr(file, HBX_ATTR_PROVENANCE, info->provenance,
                              sizeof info->provenance) != 0)
        bad = HBX_ATTR_PROVENANCE;
    for (int s = 0; !bad && s < 2; s++) {
        if (read_attr(file, hbx_h5_count_attr((hbx_split)s), H5T_NATIVE_UINT64, HBX_N_PROCESSES,
                      info->count[s]) != 0)
            bad = hbx_h5_count_attr((hbx_split)s);
        else if (read_attr(file, hbx_h5_sum_attr((hbx_split)s), H5T_NATIVE_DOUBLE,
                           HBX_N_PROCESSES, info->sum_weights[s]) != 0)
            bad = hbx_h5_sum_attr((hbx_split)s);
    }
    H5Fclose(file);
    if (bad) {
        hbx_h5_error(err, err_len, "%s: attribute %s missing or malformed", path, bad);
        return -1;
    }
    if (with_checksum && hbx_sha256_file(path, info->checksum) != 0) {
        hbx_set_error(err, err_len, "%s: cannot read for its checksum: %s", path,
                      strerror(errno));
        return -1;
    }
    return 0;
}
