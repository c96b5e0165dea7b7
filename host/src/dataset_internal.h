/* Pieces shared by the dataset reader, writer and their callers in the
 * library (not installed). */
#ifndef HBX_DATASET_INTERNAL_H
#define HBX_DATASET_INTERNAL_H

#include <hdf5.h>
#include <stdarg.h>

#include "higgsbox/dataset.h"

/* Root attribute names of format v1 (docs/FORMAT.md). */
#define HBX_ATTR_FORMAT "format"
#define HBX_ATTR_FORMAT_VALUE "higgsbox-dataset"
#define HBX_ATTR_VERSION "format_version"
#define HBX_ATTR_LUMINOSITY "luminosity_fb"
#define HBX_ATTR_PROVENANCE "provenance"

/* Switches HDF5's automatic error printing off for the calling thread:
 * every failure is reported through our own one-line messages instead. */
void hbx_h5_quiet(void);

/* Formats "<message>" into err, followed by " (<HDF5's innermost reason>)"
 * when the HDF5 error stack holds one, and clears the stack. */
void hbx_h5_error(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Plain formatting into err (no HDF5 detail). */
void hbx_set_error(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The on-disk (file) and in-memory HDF5 types of a column; the caller
 * closes them with H5Tclose. Negative on failure. */
hid_t hbx_h5_file_type(int column);
hid_t hbx_h5_mem_type(int column);

/* The column at position k (0-based) of the challenge's CSV files: 16 PRI,
 * weights, detailed_labels, labels, 12 DER. Datasets are created in this
 * order too, so readers iterating in creation order see the CSV's columns. */
int hbx_csv_column(int k);

/* Group name of a split ("train" or "test"). */
const char *hbx_h5_group(hbx_split split);

/* Attribute names holding the per-process counts and sums of a split. */
const char *hbx_h5_count_attr(hbx_split split);
const char *hbx_h5_sum_attr(hbx_split split);

/* Destination array of column `c` in table `t`. */
void *hbx_table_column(const hbx_table *t, int c);

/* Bytes per value of column `c` in memory. */
size_t hbx_column_size(int c);

/* Checks that events [from, to) of `t` hold finite features and weights, a
 * known process and the label that process implies. Returns -1 with a
 * message naming event `base + i` (0-based) and the column otherwise. */
int hbx_table_check(const hbx_table *t, uint64_t from, uint64_t to, uint64_t base, char *err,
                    size_t err_len);

/* Creates a new, empty, uniquely named file beside `path` (same directory,
 * so a rename onto `path` is atomic; permissions per umask) and returns its
 * malloc'd name, or NULL with `err` set. */
char *hbx_temp_beside(const char *path, char *err, size_t err_len);

/* ---- the writer's threads (dataset_writer.c) ----------------------------
 *
 * The writer deflates full chunks and hands them to HDF5 in the order they
 * filled. Without helpers the appending thread deflates each chunk itself.
 * With helpers, the appender queues up to `helpers` full chunks and other
 * threads deflate their columns by calling hbx_dataset_writer_help; only
 * the appending thread ever calls HDF5. */

/* Declares how many threads will call hbx_dataset_writer_help (0 by
 * default), which sets how many chunks may wait for them. Call before the
 * first append. */
void hbx_dataset_writer_set_helpers(hbx_dataset_writer *w, int helpers);

/* Deflates one column of a queued chunk, if one is waiting. Returns 1 if
 * it did, 0 if there was nothing to do. Any thread, any time between open
 * and close (never concurrently with close). */
int hbx_dataset_writer_help(hbx_dataset_writer *w);

/* Queues the partly filled chunks too and writes every chunk: after it,
 * only close is left to do (appending thread; helpers may keep helping).
 * Returns 0, or -1 with `err` set. */
int hbx_dataset_writer_flush(hbx_dataset_writer *w, char *err, size_t err_len);

#endif
