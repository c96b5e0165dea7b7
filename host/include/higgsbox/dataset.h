/*
 * Datasets on disk: the higgsbox HDF5 format v1 (docs/FORMAT.md).
 *
 * A dataset file holds labelled, weighted events split into a training and a
 * test part. Writing streams (constant memory) into a temporary file that
 * becomes the real one only on a successful commit, so a failed write never
 * leaves a half-written file behind.
 *
 * Every function here is silent: HDF5's own error printing is switched off
 * and failures come back as one line in the caller's `err` buffer, naming the
 * file and the problem.
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

/* Events per HDF5 chunk (and per writer flush): 256 KiB of float32, small
 * enough to stream, large enough that a 5M-event split loads in few reads. */
#define HBX_DATASET_CHUNK 65536

typedef enum hbx_split { HBX_SPLIT_TRAIN = 0, HBX_SPLIT_TEST = 1, HBX_SPLIT_ALL = 2 } hbx_split;

/* "train", "test" or "all"; parse returns -1 for anything else. */
const char *hbx_split_name(hbx_split s);
int hbx_split_parse(const char *name, hbx_split *out);

/* The 31 columns of a split: the 28 features (hbx_feature values), then
 * these three. */
enum {
    HBX_COLUMN_WEIGHTS = HBX_N_FEATURES, /* "weights", float64 */
    HBX_COLUMN_LABELS,                   /* "labels", uint8 0/1 */
    HBX_COLUMN_PROCESS,                  /* "detailed_labels", enum hbx_process */
    HBX_N_COLUMNS
};

/* Official name of a column; NULL when out of range. */
const char *hbx_column_name(int column);

/* Column index of an official name, or -1. */
int hbx_column_index(const char *name);

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

/* The sha256 of a dataset's events, whatever the file's chunking,
 * compression or attributes: two files with equal hashes hold the same
 * values in the same rows, so runs over a regenerated or repacked copy stay
 * comparable (the file's own sha256 changes with its bytes). Defined in
 * docs/FORMAT.md: the digest of, for the test split and then the training
 * split, the event count and each column's digest in the official order.
 * Reads every event once in pieces (constant memory) with the checks of
 * hbx_dataset_reader_next. Writes 64 lower-case hex digits and a NUL to
 * `hex`; returns 0, or -1 with a one-line reason naming the file in `err`. */
int hbx_dataset_values_sha256(const char *path, char hex[65], char *err, size_t err_len);

/* Loads a split into `out`, allocated here with HBX_TABLE_TRUTH columns
 * (release with hbx_table_free). HBX_SPLIT_ALL loads the test split followed
 * by the training split, which is the row order of an imported CSV. Checks
 * every column's presence, type and rank, equal lengths, agreement with the
 * header counts, and the label/process values. Returns 0, or -1 with a
 * one-line reason naming the file in `err` (then `out` is zeroed). */
int hbx_dataset_load(const char *path, hbx_split split, hbx_table *out, char *err,
                     size_t err_len);

/* Loads one column (a feature or HBX_COLUMN_WEIGHTS) of a split as doubles
 * (exactly: float32 widens losslessly) into a new malloc'd array *values of
 * *n entries, owned by the caller (free()). Order as hbx_dataset_load.
 * Returns 0, or -1 with `err` set. */
int hbx_dataset_load_column(const char *path, hbx_split split, int column, double **values,
                            uint64_t *n, char *err, size_t err_len);

/* ---- streaming reading -------------------------------------------------- */

typedef struct hbx_dataset_reader hbx_dataset_reader;

/* Opens a split for reading in pieces (HBX_SPLIT_ALL: test, then train),
 * after the same checks as hbx_dataset_load. Returns NULL with `err` set. */
hbx_dataset_reader *hbx_dataset_reader_open(const char *path, hbx_split split, char *err,
                                            size_t err_len);

/* Events the reader will deliver in total. */
uint64_t hbx_dataset_reader_count(const hbx_dataset_reader *r);

/* Reads the next events, at most t->capacity, into `t` (allocated by the
 * caller with HBX_TABLE_TRUTH; t->n is set). Returns 1 when events were
 * read, 0 at the end, -1 with `err` set. */
int hbx_dataset_reader_next(hbx_dataset_reader *r, hbx_table *t, char *err, size_t err_len);

/* Closes the reader. NULL is ignored. */
void hbx_dataset_reader_close(hbx_dataset_reader *r);

/* ---- writing ------------------------------------------------------------ */

typedef struct hbx_dataset_writer hbx_dataset_writer;

/* Starts writing `path` (through a temporary file beside it). `provenance`
 * is a JSON object text stored verbatim (generator, version, seed, options;
 * or the imported file's name and sha256), at most 2047 bytes. Returns NULL
 * with `err` set. */
hbx_dataset_writer *hbx_dataset_writer_open(const char *path, const char *provenance, char *err,
                                            size_t err_len);

/* Appends the first t->n events of `t` (which must carry HBX_TABLE_TRUTH
 * columns) to a split (train or test). Memory stays bounded: events are
 * buffered up to one chunk per split and then written. Refuses non-finite
 * features or weights, process values outside hbx_process and labels that
 * disagree with the process. Returns 0 or -1 with `err` set; after an error
 * the writer only accepts close (which then removes the temporary file). */
int hbx_dataset_writer_append(hbx_dataset_writer *w, hbx_split split, const hbx_table *t,
                              char *err, size_t err_len);

/* Asks commit to rescale the weights of each split so that, per process,
 * they sum to totals[process] (processes absent from a split are left
 * alone). The file then states the rescaled sums. A split already summing
 * exactly to the totals is not rewritten. */
void hbx_dataset_writer_set_totals(hbx_dataset_writer *w, const double totals[HBX_N_PROCESSES]);

/* Sums of weights appended so far to a split (before any rescaling). */
void hbx_dataset_writer_sums(const hbx_dataset_writer *w, hbx_split split,
                             double sums[HBX_N_PROCESSES], uint64_t counts[HBX_N_PROCESSES]);

/* Finishes: with commit nonzero writes the attributes and renames the file
 * into place; with commit zero (or after any error) removes the temporary
 * file. Frees the writer (NULL is ignored). Returns 0, or -1 with `err` set
 * (then no output file exists). */
int hbx_dataset_writer_close(hbx_dataset_writer *w, int commit, char *err, size_t err_len);

/* ---- CSV interchange (the original challenge's files) ---------------------- */

#define HBX_DEFAULT_TEST_FRACTION 0.3

/* Tolerance for comparing a file's DER value with ours (HIGGSML.md §3):
 * |ours - theirs| <= 1e-4 * max(1, |theirs|), except the transverse mass,
 * whose official values are float32 arithmetic of a difference of squares:
 * 1e-2 absolute. */
double hbx_der_tolerance(int feature, double official);

/* What an import found. */
typedef struct hbx_import_report {
    uint64_t rows;                           /* data rows */
    uint64_t count[2][HBX_N_PROCESSES];      /* [split][process] */
    double file_sum_weights[HBX_N_PROCESSES]; /* per process, as in the file */
    int der_columns;                         /* DER columns the file carried (0..12) */
    /* Rows whose file DER value is beyond hbx_der_tolerance of ours, per
     * DER column (index feature - HBX_N_PRIMARY), and the worst one. */
    uint64_t der_mismatch[HBX_N_FEATURES - HBX_N_PRIMARY];
    uint64_t der_worst_line[HBX_N_FEATURES - HBX_N_PRIMARY];
    double der_worst[HBX_N_FEATURES - HBX_N_PRIMARY];
} hbx_import_report;

/* Converts an official CSV file (header row of official column names in
 * any order: the 16 PRI, weights and detailed_labels required; labels and
 * the DER columns optional) into a dataset file at `h5_path`.
 *
 * Streams in constant memory: a first pass counts the rows and hashes the
 * file (provenance records its name and sha256), a second parses and
 * appends in chunks. The first round(test_fraction * rows) rows go to the
 * test split, the rest to train, and each split's weights are rescaled so
 * that per process it sums to the whole file's total (as the original
 * challenge does per loaded part). DER columns are always computed by
 * hbx_derive_columns (the stored values are ours); ones the file carries
 * are compared and disagreements counted in `report` (may be NULL).
 *
 * Returns 0, or -1 with one line in `err` naming csv_path:line:field (field
 * 1-based) where one applies; then no file exists at h5_path (an existing
 * one is left as it was). */
int hbx_csv_import(const char *csv_path, const char *h5_path, double test_fraction,
                   hbx_import_report *report, char *err, size_t err_len);

/* Writes a split (HBX_SPLIT_ALL: test then train, i.e. the imported file's
 * row order) of a dataset file as CSV in the official column order: 16 PRI,
 * weights, detailed_labels, labels, 12 DER. float32 values are printed with
 * 9 significant digits and weights with 17, so importing the output gives
 * back every value exactly. Streams in constant memory through a temporary
 * file renamed into place at the end. Sets *rows when not NULL. Returns 0, or
 * -1 with `err` set and no file at csv_path. */
int hbx_csv_export(const char *h5_path, hbx_split split, const char *csv_path, uint64_t *rows,
                   char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
