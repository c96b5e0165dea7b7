/*
 * Streaming writer of dataset files (format v1, docs/FORMAT.md).
 *
 * Events are buffered in chunks (HBX_DATASET_CHUNK events of one split) and
 * each full chunk is shuffled and deflated here (dataset_deflate.c: the
 * shuffle, then igzip), not by HDF5's filters, then stored with
 * H5Dwrite_chunk: HDF5 only places bytes. That lets chunks be deflated on
 * several threads while HDF5, which is not thread-safe, is called from the
 * appending thread alone (dataset_deflate.h describes the helpers). Chunks
 * reach HDF5 in the order they filled and a chunk's compressed bytes depend
 * only on its values, so the file's bytes do not depend on the threads'
 * timing. Memory stays bounded by a few chunks whatever the file size.
 * Everything goes
 * into a temporary file beside the target (same directory, hence same file
 * system, hence an atomic rename); the header attributes are written and
 * the file renamed only on commit.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_deflate.h"
#include "dataset_internal.h"

/* The level the datasets declare (HDF5 records it; no decoder uses it).
 * HDF5 deflates with it only when weights are rescaled in place at commit;
 * every other chunk is deflated by dataset_deflate.c with igzip: on
 * generated data 3 % smaller than zlib's level 1 and seven times as fast
 * (docs/FORMAT.md). */
enum { DEFLATE_LEVEL = 1 };

/* A chunk of one split on its way to the file: filled by the appender,
 * queued when full, its columns deflated by whichever thread claims them,
 * then written by the appender. */
typedef struct chunk {
    int split;
    hsize_t start;   /* its first event in the split */
    hbx_table buf;   /* HBX_DATASET_CHUNK events of capacity, buf.n filled */
    unsigned char *out; /* deflated column c at out + out_offset[c], len[c] bytes */
    size_t len[HBX_N_COLUMNS];
    int claimed;     /* columns taken by a deflating thread (under the lock) */
    int done;        /* columns deflated (under the lock) */
    struct chunk *next;
} chunk;

typedef struct split_out {
    hid_t group;
    hid_t dset[HBX_N_COLUMNS];
    uint64_t rows;   /* events appended */
    chunk *filling;  /* chunk receiving events, NULL until the next append */
    uint64_t count[HBX_N_PROCESSES];
    double sum[HBX_N_PROCESSES];
} split_out;

struct hbx_dataset_writer {
    char *path;
    char *tmp;
    char *provenance;
    hid_t file;
    hid_t mem_type[HBX_N_COLUMNS];
    split_out s[2];
    int failed;
    int has_totals;
    double totals[HBX_N_PROCESSES];

    size_t out_offset[HBX_N_COLUMNS + 1];
    int max_queued;  /* full chunks that may wait for deflating or writing */
    chunk *spare;    /* recycled chunks (appender only) */
    pthread_mutex_t mu; /* guards the queue and the chunks' claimed and done */
    pthread_cond_t deflated; /* a queued chunk's last column was deflated */
    chunk *head, *tail; /* full chunks in the order they filled */
    int queued;
    /* Deflaters (compressor state and scratch each) not in use, under the
     * lock: a thread takes one per column it deflates and gives it back,
     * so there are as many as threads ever deflated at once. */
    hbx_deflater **idle;
    int n_idle, cap_idle;
};

/* No fletcher32: each deflated chunk already carries the zlib format's
 * Adler-32, so a corrupted chunk fails to inflate; a second checksum cost
 * 5% of load time.
 * The part of a last chunk beyond the events is zeros (the default fill),
 * leaking no memory contents into the file; no modification times are
 * recorded, so the same events give the same bytes. */
static hid_t create_column(hid_t group, int c)
{
    hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = HBX_DATASET_CHUNK;
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t type = hbx_h5_file_type(c);
    hid_t d = -1;
    if (space >= 0 && dcpl >= 0 && type >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0 &&
        (hbx_column_size(c) == 1 || H5Pset_shuffle(dcpl) >= 0) &&
        H5Pset_deflate(dcpl, DEFLATE_LEVEL) >= 0 &&
        H5Pset_obj_track_times(dcpl, 0) >= 0)
        d = H5Dcreate2(group, hbx_column_name(c), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (type >= 0)
        H5Tclose(type);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return d;
}

/* Closes every HDF5 handle the writer holds; returns -1 if any close failed
 * (for the file this is where buffered data reaches the disk). */
static int close_handles(hbx_dataset_writer *w)
{
    int rc = 0;
    for (int s = 0; s < 2; s++) {
        for (int c = 0; c < HBX_N_COLUMNS; c++)
            if (w->s[s].dset[c] > 0 && H5Dclose(w->s[s].dset[c]) < 0)
                rc = -1;
        if (w->s[s].group > 0 && H5Gclose(w->s[s].group) < 0)
            rc = -1;
        memset(w->s[s].dset, 0, sizeof w->s[s].dset);
        w->s[s].group = 0;
    }
    for (int c = 0; c < HBX_N_COLUMNS; c++)
        if (w->mem_type[c] > 0)
            H5Tclose(w->mem_type[c]);
    memset(w->mem_type, 0, sizeof w->mem_type);
    if (w->file > 0 && H5Fclose(w->file) < 0)
        rc = -1;
    w->file = 0;
    return rc;
}

static void chunk_free(chunk *ch)
{
    if (!ch)
        return;
    hbx_table_free(&ch->buf);
    free(ch->out);
    free(ch);
}

static void chunk_list_free(chunk *ch)
{
    while (ch) {
        chunk *next = ch->next;
        chunk_free(ch);
        ch = next;
    }
}

static void writer_free(hbx_dataset_writer *w)
{
    for (int s = 0; s < 2; s++)
        chunk_free(w->s[s].filling);
    chunk_list_free(w->head);
    chunk_list_free(w->spare);
    for (int i = 0; i < w->n_idle; i++)
        hbx_deflater_free(w->idle[i]);
    free(w->idle);
    pthread_cond_destroy(&w->deflated);
    pthread_mutex_destroy(&w->mu);
    free(w->path);
    free(w->tmp);
    free(w->provenance);
    free(w);
}

static int check_provenance(const char *path, const char *provenance, char *err, size_t err_len)
{
    if (!provenance || strlen(provenance) >= sizeof((hbx_dataset_info *)0)->provenance) {
        hbx_set_error(err, err_len, "%s: provenance missing or longer than %zu bytes", path,
                      sizeof((hbx_dataset_info *)0)->provenance - 1);
        return -1;
    }
    json_error_t jerr;
    json_t *j = json_loads(provenance, JSON_REJECT_DUPLICATES, &jerr);
    int ok = j && json_is_object(j);
    json_decref(j);
    if (!ok) {
        hbx_set_error(err, err_len, "%s: provenance is not a JSON object", path);
        return -1;
    }
    return 0;
}

hbx_dataset_writer *hbx_dataset_writer_open(const char *path, const char *provenance, char *err,
                                            size_t err_len)
{
    hbx_h5_quiet();
    if (check_provenance(path, provenance, err, err_len) != 0)
        return NULL;
    hbx_dataset_writer *w = calloc(1, sizeof *w);
    if (!w) {
        hbx_set_error(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->deflated, NULL);
    for (int c = 0; c < HBX_N_COLUMNS; c++)
        w->out_offset[c + 1] =
            w->out_offset[c] + hbx_deflate_bound(HBX_DATASET_CHUNK, hbx_column_size(c));
    if (!(w->path = strdup(path)) || !(w->provenance = strdup(provenance))) {
        hbx_set_error(err, err_len, "%s: out of memory", path);
        writer_free(w);
        return NULL;
    }
    if (!(w->tmp = hbx_temp_beside(path, err, err_len))) {
        writer_free(w);
        return NULL;
    }
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        hbx_h5_error(err, err_len, "%s: cannot create HDF5 file", w->tmp);
        goto fail;
    }
    for (int c = 0; c < HBX_N_COLUMNS; c++)
        if ((w->mem_type[c] = hbx_h5_mem_type(c)) < 0) {
            hbx_h5_error(err, err_len, "%s: cannot build the column types", path);
            goto fail;
        }
    for (int s = 0; s < 2; s++) {
        split_out *o = &w->s[s];
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        if (gcpl >= 0 && H5Pset_obj_track_times(gcpl, 0) >= 0 &&
            H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0)
            o->group = H5Gcreate2(w->file, hbx_h5_group((hbx_split)s), H5P_DEFAULT, gcpl,
                                  H5P_DEFAULT);
        else
            o->group = -1;
        if (gcpl >= 0)
            H5Pclose(gcpl);
        if (o->group < 0) {
            hbx_h5_error(err, err_len, "%s: cannot create group /%s", path,
                         hbx_h5_group((hbx_split)s));
            goto fail;
        }
        for (int k = 0; k < HBX_N_COLUMNS; k++) {
            int c = hbx_csv_column(k);
            if ((o->dset[c] = create_column(o->group, c)) < 0) {
                hbx_h5_error(err, err_len, "%s: cannot create /%s/%s", path,
                             hbx_h5_group((hbx_split)s), hbx_column_name(c));
                goto fail;
            }
        }
    }
    return w;
fail:
    close_handles(w);
    unlink(w->tmp);
    writer_free(w);
    return NULL;
}

/* ---- chunks: filling, deflating, writing ------------------------------------ */

void hbx_dataset_writer_set_helpers(hbx_dataset_writer *w, int helpers)
{
    /* As many waiting chunks as helpers keeps each busy while the appender
     * fills the next; more would only cost memory (a chunk is ~16 MB with
     * its deflated copy). */
    w->max_queued = helpers > 0 ? helpers : 0;
}

/* A chunk for split `s` starting at its next event, recycled or new. */
static chunk *chunk_take(hbx_dataset_writer *w, int s)
{
    chunk *ch = w->spare;
    if (ch) {
        w->spare = ch->next;
    } else {
        ch = calloc(1, sizeof *ch);
        if (!ch || hbx_table_alloc(&ch->buf, HBX_DATASET_CHUNK, HBX_TABLE_TRUTH) != HBX_OK ||
            !(ch->out = malloc(w->out_offset[HBX_N_COLUMNS]))) {
            chunk_free(ch);
            return NULL;
        }
    }
    ch->split = s;
    ch->start = w->s[s].rows;
    ch->buf.n = 0;
    ch->claimed = ch->done = 0;
    ch->next = NULL;
    return ch;
}

/* Puts a deflater back among the idle ones (under the lock). */
static void keep_deflater(hbx_dataset_writer *w, hbx_deflater *d)
{
    if (w->n_idle == w->cap_idle) {
        int cap = w->cap_idle ? 2 * w->cap_idle : 4;
        hbx_deflater **p = realloc(w->idle, (size_t)cap * sizeof *p);
        if (!p) {
            hbx_deflater_free(d); /* the next user makes another */
            return;
        }
        w->idle = p;
        w->cap_idle = cap;
    }
    w->idle[w->n_idle++] = d;
}

int hbx_dataset_writer_help(hbx_dataset_writer *w)
{
    pthread_mutex_lock(&w->mu);
    chunk *ch = w->head;
    while (ch && ch->claimed == HBX_N_COLUMNS)
        ch = ch->next;
    if (!ch) {
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    int c = ch->claimed++;
    hbx_deflater *d = w->n_idle > 0 ? w->idle[--w->n_idle] : NULL;
    pthread_mutex_unlock(&w->mu);
    if (!d)
        d = hbx_deflater_new();
    /* Always a whole chunk: the end of a last one is zeros (the fill
     * value), as HDF5 itself would store it. Length 0 (no deflater: out
     * of memory) makes write_chunk fail. */
    ch->len[c] = d ? hbx_deflate_values(d, hbx_table_column(&ch->buf, c), ch->buf.n,
                                        HBX_DATASET_CHUNK - ch->buf.n, hbx_column_size(c),
                                        ch->out + w->out_offset[c])
                   : 0;
    pthread_mutex_lock(&w->mu);
    if (d)
        keep_deflater(w, d);
    if (++ch->done == HBX_N_COLUMNS)
        pthread_cond_broadcast(&w->deflated);
    pthread_mutex_unlock(&w->mu);
    return 1;
}

static void enqueue(hbx_dataset_writer *w, chunk *ch)
{
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = ch;
    else
        w->head = ch;
    w->tail = ch;
    w->queued++;
    pthread_mutex_unlock(&w->mu);
}

/* Stores a deflated chunk: the datasets grow to its end and HDF5 gets its
 * bytes as they are (filter mask 0: every filter of the pipeline applied). */
static int write_chunk(hbx_dataset_writer *w, const chunk *ch, char *err, size_t err_len)
{
    split_out *o = &w->s[ch->split];
    hsize_t offset = ch->start, end = ch->start + ch->buf.n;
    for (int k = 0; k < HBX_N_COLUMNS; k++) {
        int c = hbx_csv_column(k);
        if (ch->len[c] == 0) { /* no deflater for it */
            hbx_set_error(err, err_len, "%s: out of memory compressing /%s/%s", w->path,
                          hbx_h5_group((hbx_split)ch->split), hbx_column_name(c));
            return -1;
        }
        if (H5Dset_extent(o->dset[c], &end) < 0 ||
            H5Dwrite_chunk(o->dset[c], H5P_DEFAULT, 0, &offset, ch->len[c],
                           ch->out + w->out_offset[c]) < 0) {
            hbx_h5_error(err, err_len, "%s: cannot write /%s/%s", w->path,
                         hbx_h5_group((hbx_split)ch->split), hbx_column_name(c));
            return -1;
        }
    }
    return 0;
}

/* Writes queued chunks, in order, until at most `limit` wait: the head
 * chunk's unclaimed columns are deflated here, and the appender waits for
 * the helpers only on columns they are deflating. Chunks already deflated
 * are written too, whatever the limit. */
static int drain(hbx_dataset_writer *w, int limit, char *err, size_t err_len)
{
    for (;;) {
        pthread_mutex_lock(&w->mu);
        chunk *ch = w->head;
        if (!ch || (ch->done < HBX_N_COLUMNS && w->queued <= limit)) {
            pthread_mutex_unlock(&w->mu);
            return 0;
        }
        if (ch->claimed < HBX_N_COLUMNS) {
            pthread_mutex_unlock(&w->mu);
            hbx_dataset_writer_help(w); /* claims the head's next column */
            continue;
        }
        while (ch->done < HBX_N_COLUMNS)
            pthread_cond_wait(&w->deflated, &w->mu);
        w->head = ch->next;
        if (!w->head)
            w->tail = NULL;
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        int rc = write_chunk(w, ch, err, err_len);
        ch->next = w->spare;
        w->spare = ch;
        if (rc != 0) {
            w->failed = 1;
            return -1;
        }
    }
}

int hbx_dataset_writer_flush(hbx_dataset_writer *w, char *err, size_t err_len)
{
    hbx_h5_quiet();
    if (w->failed) {
        hbx_set_error(err, err_len, "%s: writer already failed", w->path);
        return -1;
    }
    for (int s = 0; s < 2; s++) {
        chunk *ch = w->s[s].filling;
        w->s[s].filling = NULL;
        if (ch && ch->buf.n > 0) {
            enqueue(w, ch);
        } else if (ch) {
            ch->next = w->spare;
            w->spare = ch;
        }
    }
    return drain(w, 0, err, err_len);
}

int hbx_dataset_writer_append(hbx_dataset_writer *w, hbx_split split, const hbx_table *t,
                              char *err, size_t err_len)
{
    hbx_h5_quiet();
    if (w->failed) {
        hbx_set_error(err, err_len, "%s: writer already failed", w->path);
        return -1;
    }
    if (split != HBX_SPLIT_TRAIN && split != HBX_SPLIT_TEST) {
        hbx_set_error(err, err_len, "%s: events go to train or test, not %s", w->path,
                      hbx_split_name(split));
        return -1;
    }
    if (!t->weights || !t->labels || !t->process) {
        hbx_set_error(err, err_len, "%s: appended events lack weights, labels or process",
                      w->path);
        return -1;
    }
    split_out *o = &w->s[split];
    char why[256];
    if (hbx_table_check(t, 0, t->n, o->rows, why, sizeof why) != 0) {
        hbx_set_error(err, err_len, "%s: %s split, %s", w->path, hbx_split_name(split), why);
        w->failed = 1;
        return -1;
    }
    for (uint64_t i = 0; i < t->n; i++) {
        o->count[t->process[i]]++;
        o->sum[t->process[i]] += t->weights[i];
    }
    for (uint64_t done = 0; done < t->n;) {
        if (!o->filling && !(o->filling = chunk_take(w, split))) {
            hbx_set_error(err, err_len, "%s: out of memory", w->path);
            w->failed = 1;
            return -1;
        }
        chunk *ch = o->filling;
        uint64_t take = HBX_DATASET_CHUNK - ch->buf.n;
        if (take > t->n - done)
            take = t->n - done;
        for (int c = 0; c < HBX_N_COLUMNS; c++) {
            size_t sz = hbx_column_size(c);
            memcpy((char *)hbx_table_column(&ch->buf, c) + ch->buf.n * sz,
                   (const char *)hbx_table_column(t, c) + done * sz, take * sz);
        }
        ch->buf.n += take;
        o->rows += take;
        done += take;
        if (ch->buf.n == HBX_DATASET_CHUNK) {
            o->filling = NULL;
            enqueue(w, ch);
            if (drain(w, w->max_queued, err, err_len) != 0)
                return -1;
        }
    }
    return 0;
}

void hbx_dataset_writer_set_totals(hbx_dataset_writer *w, const double totals[HBX_N_PROCESSES])
{
    w->has_totals = 1;
    memcpy(w->totals, totals, sizeof w->totals);
}

void hbx_dataset_writer_sums(const hbx_dataset_writer *w, hbx_split split,
                             double sums[HBX_N_PROCESSES], uint64_t counts[HBX_N_PROCESSES])
{
    const split_out *o = &w->s[split == HBX_SPLIT_TEST ? 1 : 0];
    for (int p = 0; p < HBX_N_PROCESSES; p++) {
        if (sums)
            sums[p] = o->sum[p];
        if (counts)
            counts[p] = o->count[p];
    }
}

/* Multiplies the weights of split `s` by factor[process], chunk by chunk
 * (constant memory), and recomputes the split's sums. */
static int rescale_split(hbx_dataset_writer *w, int s, const double factor[HBX_N_PROCESSES],
                         char *err, size_t err_len)
{
    split_out *o = &w->s[s];
    double sum[HBX_N_PROCESSES] = {0};
    double *weights = malloc(HBX_DATASET_CHUNK * sizeof *weights);
    uint8_t *process = malloc(HBX_DATASET_CHUNK);
    int rc = weights && process ? 0 : -1;
    for (hsize_t start = 0; rc == 0 && start < o->rows; start += HBX_DATASET_CHUNK) {
        hsize_t n = o->rows - start < HBX_DATASET_CHUNK ? o->rows - start : HBX_DATASET_CHUNK;
        hid_t mspace = H5Screate_simple(1, &n, NULL);
        hid_t wspace = H5Dget_space(o->dset[HBX_COLUMN_WEIGHTS]);
        hid_t pspace = H5Dget_space(o->dset[HBX_COLUMN_PROCESS]);
        rc = mspace < 0 || wspace < 0 || pspace < 0 ||
                     H5Sselect_hyperslab(wspace, H5S_SELECT_SET, &start, NULL, &n, NULL) < 0 ||
                     H5Sselect_hyperslab(pspace, H5S_SELECT_SET, &start, NULL, &n, NULL) < 0 ||
                     H5Dread(o->dset[HBX_COLUMN_WEIGHTS], w->mem_type[HBX_COLUMN_WEIGHTS],
                             mspace, wspace, H5P_DEFAULT, weights) < 0 ||
                     H5Dread(o->dset[HBX_COLUMN_PROCESS], w->mem_type[HBX_COLUMN_PROCESS],
                             mspace, pspace, H5P_DEFAULT, process) < 0
                 ? -1
                 : 0;
        if (rc == 0) {
            for (hsize_t i = 0; i < n; i++) {
                uint8_t p = process[i] < HBX_N_PROCESSES ? process[i] : 0;
                weights[i] *= factor[p];
                sum[p] += weights[i];
            }
            if (H5Dwrite(o->dset[HBX_COLUMN_WEIGHTS], w->mem_type[HBX_COLUMN_WEIGHTS], mspace,
                         wspace, H5P_DEFAULT, weights) < 0)
                rc = -1;
        }
        if (mspace >= 0)
            H5Sclose(mspace);
        if (wspace >= 0)
            H5Sclose(wspace);
        if (pspace >= 0)
            H5Sclose(pspace);
    }
    free(weights);
    free(process);
    if (rc) {
        hbx_h5_error(err, err_len, "%s: cannot rescale the %s weights", w->path,
                     hbx_split_name((hbx_split)s));
        return -1;
    }
    memcpy(o->sum, sum, sizeof sum);
    return 0;
}

static int rescale(hbx_dataset_writer *w, char *err, size_t err_len)
{
    for (int s = 0; s < 2; s++) {
        double factor[HBX_N_PROCESSES];
        int needed = 0;
        for (int p = 0; p < HBX_N_PROCESSES; p++) {
            factor[p] = 1.0;
            if (w->s[s].count[p] == 0 || w->s[s].sum[p] == w->totals[p])
                continue;
            if (w->s[s].sum[p] == 0) {
                hbx_set_error(err, err_len,
                              "%s: cannot rescale the %s weights of %s: they sum to 0", w->path,
                              hbx_split_name((hbx_split)s), hbx_process_name(p));
                return -1;
            }
            factor[p] = w->totals[p] / w->s[s].sum[p];
            needed = 1;
        }
        if (needed && rescale_split(w, s, factor, err, err_len) != 0)
            return -1;
    }
    return 0;
}

static int write_attr(hid_t loc, const char *name, hid_t type, hsize_t n, const void *value)
{
    hid_t space = n ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1 : H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, value) < 0 ? -1 : 0;
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int write_string_attr(hid_t loc, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    int rc = t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
                     write_attr(loc, name, t, 0, &value) < 0
                 ? -1
                 : 0;
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

static int write_header(hbx_dataset_writer *w)
{
    uint32_t version = HBX_FORMAT_VERSION;
    double lumi = HBX_LUMINOSITY_FB;
    if (write_string_attr(w->file, HBX_ATTR_FORMAT, HBX_ATTR_FORMAT_VALUE) < 0 ||
        write_attr(w->file, HBX_ATTR_VERSION, H5T_NATIVE_UINT32, 0, &version) < 0 ||
        write_attr(w->file, HBX_ATTR_LUMINOSITY, H5T_NATIVE_DOUBLE, 0, &lumi) < 0 ||
        write_string_attr(w->file, HBX_ATTR_PROVENANCE, w->provenance) < 0)
        return -1;
    for (int s = 0; s < 2; s++)
        if (write_attr(w->file, hbx_h5_count_attr((hbx_split)s), H5T_NATIVE_UINT64,
                       HBX_N_PROCESSES, w->s[s].count) < 0 ||
            write_attr(w->file, hbx_h5_sum_attr((hbx_split)s), H5T_NATIVE_DOUBLE,
                       HBX_N_PROCESSES, w->s[s].sum) < 0)
            return -1;
    return 0;
}

int hbx_dataset_writer_close(hbx_dataset_writer *w, int commit, char *err, size_t err_len)
{
    if (!w)
        return 0;
    hbx_h5_quiet();
    int rc = 0;
    if (commit && w->failed) {
        hbx_set_error(err, err_len, "%s: not written: an earlier step failed", w->path);
        rc = -1;
    }
    if (commit && rc == 0) {
        if (hbx_dataset_writer_flush(w, err, err_len) != 0)
            rc = -1;
        else if (w->has_totals && rescale(w, err, err_len) != 0)
            rc = -1;
        else if (write_header(w) != 0) {
            hbx_h5_error(err, err_len, "%s: cannot write the header attributes", w->path);
            rc = -1;
        }
    }
    if (close_handles(w) != 0 && commit && rc == 0) {
        hbx_h5_error(err, err_len, "%s: cannot finish writing", w->path);
        rc = -1;
    }
    if (commit && rc == 0 && rename(w->tmp, w->path) != 0) {
        hbx_set_error(err, err_len, "%s: cannot move the finished file into place: %s", w->path,
                      strerror(errno));
        rc = -1;
    }
    if (!commit || rc != 0)
        unlink(w->tmp);
    writer_free(w);
    return rc;
}
