/*
 * Datasets on disk: the higgsbox HDF5 format v1 (docs/FORMAT.md).
 *
 * A dataset file holds labelled, weighted events split into a training and a
 * test part. Writing streams (constant memory) into a temporary file that
 * becomes the real one only on a successful commit, so a failed write never
 * leaves a half-written file behind.
 */
#ifndef HIGGSBOX_DATASET_H
#define HIGGSBOX_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "higgsbox/physics.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HBX_FORMAT_VERSION 1
#define HBX_LUMINOSITY_FB 10.0 /* fb^-1 the weights are normalised to */

typedef enum hbx_split { HBX_SPLIT_TRAIN = 0, HBX_SPLIT_TEST = 1, HBX_SPLIT_ALL = 2 } hbx_split;

/* "train", "test" or "all"; parse returns -1 for anything else. */
const char *hbx_split_name(hbx_split s);
int hbx_split_parse(const char *name, hbx_split *out);

/* What a dataset file says about itself. */
typedef struct hbx_dataset_info {
    uint32_t format_version;
    double luminosity;                              /* fb^-1 */
    uint64_t count[2][HBX_N_PROCESSES];             /* [split][process] events */
    double sum_weights[2][HBX_N_PROCESSES];         /* [split][process] */
    char provenance[2048];                          /* JSON object, as stored */
    char checksum[65];                              /* sha256 of the file, hex; "" unless asked */
} hbx_dataset_info;

/* Reads the header attributes of a dataset file (cheap: no event data). When
 * `with_checksum` is nonzero also hashes the whole file. Returns 0, or -1
 * with a one-line reason naming the file in `err`. */
int hbx_dataset_info_read(const char *path, int with_checksum, hbx_dataset_info *info, char *err,
                          size_t err_len);

/* Loads a split (or both, train first) into `out`, allocated here with
 * HBX_TABLE_TRUTH columns (release with hbx_table_free). Returns 0, or -1
 * with a one-line reason naming the file in `err` (truncated file, wrong
 * type, missing column, ...). */
int hbx_dataset_load(const char *path, hbx_split split, hbx_table *out, char *err,
                     size_t err_len);

/* ---- writing ------------------------------------------------------------ */

typedef struct hbx_dataset_writer hbx_dataset_writer;

/* Starts writing `path` (through a temporary file beside it). `provenance`
 * is a JSON object text stored verbatim (generator, version, seed, options;
 * or the imported file's name and sha256). Returns NULL with `err` set. */
hbx_dataset_writer *hbx_dataset_writer_open(const char *path, const char *provenance, char *err,
                                            size_t err_len);

/* Appends the first t->n events of `t` (which must carry HBX_TABLE_TRUTH
 * columns) to a split. Returns 0 or -1 with `err` set. */
int hbx_dataset_writer_append(hbx_dataset_writer *w, hbx_split split, const hbx_table *t,
                              char *err, size_t err_len);

/* Finishes: with commit nonzero writes the attributes and renames the file
 * into place; with commit zero (or after any error) removes the temporary
 * file. Frees the writer. Returns 0, or -1 with `err` set (then no output
 * file exists). */
int hbx_dataset_writer_close(hbx_dataset_writer *w, int commit, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
