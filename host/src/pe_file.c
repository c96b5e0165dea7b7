/*
 * A pseudo-experiment on disk, for inspection (`higgsbox pe -o`).
 *
 * Not a dataset file: the dataset format (docs/FORMAT.md) requires weights,
 * labels and process, which a PE does not have, and faking them (zero
 * weights, an arbitrary process) would let a PE pass for labelled data. So a
 * PE file holds exactly what a worker sees: 28 float32 columns, under group
 * "pe", compressed like the dataset columns. Provenance (seed, mu,
 * nuisances) is a root attribute for the organiser; it never reaches a
 * worker, which gets PEs through shared memory, not files.
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "higgsbox/pe.h"

#define PE_FORMAT "higgsbox-pe"
#define PE_FORMAT_VERSION 1u
#define PE_CHUNK 65536u

static int write_string_attr(hid_t loc, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = -1;
    int rc = -1;
    if (type >= 0 && space >= 0 && H5Tset_size(type, strlen(value) + 1) >= 0 &&
        H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0 &&
        (attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
        H5Awrite(attr, type, value) >= 0)
        rc = 0;
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return rc;
}

static int write_u32_attr(hid_t loc, const char *name, uint32_t value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space >= 0 ? H5Acreate2(loc, name, H5T_STD_U32LE, space, H5P_DEFAULT,
                                         H5P_DEFAULT)
                            : -1;
    int rc = attr >= 0 && H5Awrite(attr, H5T_NATIVE_UINT32, &value) >= 0 ? 0 : -1;
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int write_column(hid_t group, const char *name, const float *values, uint64_t n)
{
    hsize_t dims = n, maxdims = H5S_UNLIMITED, chunk = n < PE_CHUNK ? (n ? n : 1) : PE_CHUNK;
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    int rc = -1;
    if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0 &&
        H5Pset_shuffle(dcpl) >= 0 &&
        H5Pset_deflate(dcpl, 1) >= 0 && H5Pset_obj_track_times(dcpl, 0) >= 0 &&
        (d = H5Dcreate2(group, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) >= 0 &&
        (n == 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0))
        rc = 0;
    if (d >= 0)
        H5Dclose(d);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

int hbx_pe_write(const char *path, const hbx_table *pe, const char *provenance, char *err,
                 size_t len)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* A name no one else uses (pid and a per-process counter), created
     * exclusively, with the usual permissions (mkstemp's would be 0600). */
    static _Atomic unsigned counter;
    size_t tlen = strlen(path) + 48;
    char *tmp = malloc(tlen);
    if (!tmp) {
        snprintf(err, len, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, tlen, "%s.tmp-%ld-%u", path, (long)getpid(), counter++);
    hid_t file = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        snprintf(err, len,
                 "%s: cannot create a file beside it (directory missing or not writable?)", path);
        free(tmp);
        return -1;
    }
    hid_t group = file >= 0 ? H5Gcreate2(file, "pe", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = group >= 0 && write_string_attr(file, "format", PE_FORMAT) == 0 &&
                     write_u32_attr(file, "format_version", PE_FORMAT_VERSION) == 0 &&
                     write_string_attr(file, "provenance", provenance ? provenance : "{}") == 0
                 ? 0
                 : -1;
    for (int f = 0; f < HBX_N_FEATURES && rc == 0; f++)
        rc = write_column(group, hbx_feature_name(f), pe->features[f], pe->n);
    if (group >= 0 && H5Gclose(group) < 0)
        rc = -1;
    if (file >= 0 && H5Fclose(file) < 0)
        rc = -1;
    if (file < 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, len, "%s: cannot move the written file into place: %m", path);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, len, "%s: cannot write the pseudo-experiment (HDF5 error; disk full?)", path);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}
