/* Dataset files: write/read round trip, the layout docs/FORMAT.md promises
 * (checked through the HDF5 API), no output on failure, and one clear error
 * for each kind of damaged input. */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <nettle/sha2.h>

#include "../host/src/dataset_deflate.h"
#include "../host/src/dataset_internal.h"
#include "higgsbox/higgsbox.h"
#include "support.h"

static const char provenance[] = "{\"generator\": \"test\", \"seed\": 7}";

/* Deterministic synthetic events: event `i` of a stream with `salt`. */
static void fill(hbx_table *t, uint64_t first, uint64_t n, unsigned salt)
{
    for (uint64_t k = 0; k < n; k++) {
        uint64_t i = first + k;
        for (int f = 0; f < HBX_N_FEATURES; f++)
            t->features[f][k] = (float)((double)((i * 2654435761u + f * 97 + salt) % 100003) /
                                        7.0 - 3000.0);
        uint8_t p = (uint8_t)((i * 7 + salt) % HBX_N_PROCESSES);
        t->process[k] = p;
        t->labels[k] = p == HBX_HTAUTAU;
        t->weights[k] = 1e-5 + (double)((i * 31 + salt) % 1000) * 1.000000001e-3;
    }
    t->n = n;
}

/* Writes `n_train` and `n_test` synthetic events in appends of awkward
 * sizes, so chunk boundaries fall inside appends. */
static void write_file_as(const char *path, uint64_t n_train, uint64_t n_test,
                          const char *prov)
{
    char err[512];
    hbx_dataset_writer *w = hbx_dataset_writer_open(path, prov, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    hbx_table t;
    ck_assert_int_eq(hbx_table_alloc(&t, 70001, HBX_TABLE_TRUTH), HBX_OK);
    static const uint64_t sizes[] = {7, 70001, 1, 40000, 65536};
    for (int s = 0; s < 2; s++) {
        uint64_t total = s == 0 ? n_train : n_test, done = 0;
        for (int k = 0; done < total; k = (k + 1) % 5) {
            uint64_t n = sizes[k] < total - done ? sizes[k] : total - done;
            fill(&t, done, n, (unsigned)s);
            ck_assert_msg(hbx_dataset_writer_append(w, s == 0 ? HBX_SPLIT_TRAIN : HBX_SPLIT_TEST,
                                                    &t, err, sizeof err) == 0,
                          "%s", err);
            done += n;
        }
    }
    hbx_table_free(&t);
    ck_assert_msg(hbx_dataset_writer_close(w, 1, err, sizeof err) == 0, "%s", err);
}

static void write_file(const char *path, uint64_t n_train, uint64_t n_test)
{
    write_file_as(path, n_train, n_test, provenance);
}

/* Asserts events [0, n) of `got` equal the synthetic stream `salt` from `first`. */
static void expect_events(const hbx_table *got, uint64_t at, uint64_t first, uint64_t n,
                          unsigned salt)
{
    hbx_table want;
    ck_assert_int_eq(hbx_table_alloc(&want, n, HBX_TABLE_TRUTH), HBX_OK);
    fill(&want, first, n, salt);
    for (int f = 0; f < HBX_N_FEATURES; f++)
        ck_assert_msg(memcmp(got->features[f] + at, want.features[f], n * sizeof(float)) == 0,
                      "feature %s differs", hbx_feature_name(f));
    ck_assert(memcmp(got->weights + at, want.weights, n * sizeof(double)) == 0);
    ck_assert(memcmp(got->labels + at, want.labels, n) == 0);
    ck_assert(memcmp(got->process + at, want.process, n) == 0);
    hbx_table_free(&want);
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

START_TEST(round_trip)
{
    char *dir = test_tmpdir(), path[4096], err[512];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    const uint64_t n_train = 150000, n_test = 4321;
    write_file(path, n_train, n_test);
    ck_assert_int_eq(dir_entries(dir), 1); /* no temporary left behind */

    hbx_table t;
    ck_assert_msg(hbx_dataset_load(path, HBX_SPLIT_TRAIN, &t, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(t.n, n_train);
    expect_events(&t, 0, 0, n_train, 0);
    hbx_table_free(&t);
    ck_assert_msg(hbx_dataset_load(path, HBX_SPLIT_ALL, &t, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(t.n, n_train + n_test);
    expect_events(&t, 0, 0, n_test, 1); /* test first, then train */
    expect_events(&t, n_test, 0, n_train, 0);

    /* The chunked reader delivers the same events in the same order. */
    hbx_dataset_reader *r = hbx_dataset_reader_open(path, HBX_SPLIT_ALL, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert_uint_eq(hbx_dataset_reader_count(r), n_train + n_test);
    hbx_table piece;
    ck_assert_int_eq(hbx_table_alloc(&piece, 9999, HBX_TABLE_TRUTH), HBX_OK);
    uint64_t at = 0;
    int rc;
    while ((rc = hbx_dataset_reader_next(r, &piece, err, sizeof err)) == 1) {
        for (int c = 0; c < HBX_N_FEATURES; c++)
            ck_assert(memcmp(piece.features[c], t.features[c] + at, piece.n * 4) == 0);
        ck_assert(memcmp(piece.weights, t.weights + at, piece.n * 8) == 0);
        ck_assert(memcmp(piece.process, t.process + at, piece.n) == 0);
        at += piece.n;
    }
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_uint_eq(at, n_train + n_test);
    hbx_dataset_reader_close(r);
    hbx_table_free(&piece);

    /* One column as doubles. */
    double *v;
    uint64_t n;
    ck_assert_msg(hbx_dataset_load_column(path, HBX_SPLIT_ALL, HBX_PRI_MET, &v, &n, err,
                                          sizeof err) == 0,
                  "%s", err);
    ck_assert_uint_eq(n, t.n);
    for (uint64_t i = 0; i < n; i++)
        ck_assert(v[i] == (double)t.features[HBX_PRI_MET][i]);
    free(v);

    /* The header states the counts and sums of what was written. */
    hbx_dataset_info info;
    ck_assert_msg(hbx_dataset_info_read(path, 1, &info, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(info.format_version, 1);
    ck_assert(info.luminosity == 10.0);
    ck_assert_str_eq(info.provenance, provenance);
    ck_assert_int_eq((int)strlen(info.checksum), 64);
    char sha[65];
    ck_assert_int_eq(hbx_sha256_file(path, sha), 0);
    ck_assert_str_eq(info.checksum, sha);
    uint64_t count[2][HBX_N_PROCESSES] = {{0}};
    double sum[2][HBX_N_PROCESSES] = {{0}};
    for (uint64_t i = 0; i < t.n; i++) {
        int s = i < n_test ? 1 : 0;
        count[s][t.process[i]]++;
        sum[s][t.process[i]] += t.weights[i];
    }
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < HBX_N_PROCESSES; p++) {
            ck_assert_uint_eq(info.count[s][p], count[s][p]);
            ck_assert_double_eq_tol(info.sum_weights[s][p], sum[s][p], 1e-9 * sum[s][p]);
        }
    hbx_table_free(&t);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(empty_split_round_trip)
{
    char *dir = test_tmpdir(), path[4096], err[512];
    snprintf(path, sizeof path, "%s/e.h5", dir);
    write_file(path, 10, 0);
    hbx_table t;
    ck_assert_msg(hbx_dataset_load(path, HBX_SPLIT_TEST, &t, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(t.n, 0);
    hbx_table_free(&t);
    ck_assert_msg(hbx_dataset_load(path, HBX_SPLIT_ALL, &t, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(t.n, 10);
    expect_events(&t, 0, 0, 10, 0);
    hbx_table_free(&t);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(rescale_on_commit)
{
    char *dir = test_tmpdir(), path[4096], err[512];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    hbx_dataset_writer *w = hbx_dataset_writer_open(path, provenance, err, sizeof err);
    ck_assert(w != NULL);
    hbx_table t;
    ck_assert_int_eq(hbx_table_alloc(&t, 1000, HBX_TABLE_TRUTH), HBX_OK);
    fill(&t, 0, 1000, 3);
    ck_assert(hbx_dataset_writer_append(w, HBX_SPLIT_TRAIN, &t, err, sizeof err) == 0);
    fill(&t, 1000, 300, 3);
    ck_assert(hbx_dataset_writer_append(w, HBX_SPLIT_TEST, &t, err, sizeof err) == 0);
    double before[2][HBX_N_PROCESSES];
    hbx_dataset_writer_sums(w, HBX_SPLIT_TRAIN, before[0], NULL);
    hbx_dataset_writer_sums(w, HBX_SPLIT_TEST, before[1], NULL);
    const double totals[HBX_N_PROCESSES] = {10, 1000, 50, 5};
    hbx_dataset_writer_set_totals(w, totals);
    ck_assert_msg(hbx_dataset_writer_close(w, 1, err, sizeof err) == 0, "%s", err);

    hbx_dataset_info info;
    ck_assert(hbx_dataset_info_read(path, 0, &info, err, sizeof err) == 0);
    ck_assert_str_eq(info.checksum, "");
    hbx_table got;
    for (int s = 0; s < 2; s++) {
        ck_assert(hbx_dataset_load(path, (hbx_split)s, &got, err, sizeof err) == 0);
        double sum[HBX_N_PROCESSES] = {0};
        fill(&t, s == 0 ? 0 : 1000, got.n, 3);
        for (uint64_t i = 0; i < got.n; i++) {
            sum[got.process[i]] += got.weights[i];
            double want = t.weights[i] * totals[got.process[i]] / before[s][got.process[i]];
            ck_assert_double_eq_tol(got.weights[i], want, 1e-12 * want);
        }
        for (int p = 0; p < HBX_N_PROCESSES; p++) {
            ck_assert_double_eq_tol(sum[p], totals[p], 1e-9 * totals[p]);
            ck_assert_double_eq_tol(info.sum_weights[s][p], totals[p], 1e-9 * totals[p]);
        }
        hbx_table_free(&got);
    }
    hbx_table_free(&t);
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(abort_and_failure_leave_nothing)
{
    char *dir = test_tmpdir(), path[4096], err[512];
    snprintf(path, sizeof path, "%s/a.h5", dir);
    hbx_table t;
    ck_assert_int_eq(hbx_table_alloc(&t, 100, HBX_TABLE_TRUTH), HBX_OK);
    fill(&t, 0, 100, 0);

    hbx_dataset_writer *w = hbx_dataset_writer_open(path, provenance, err, sizeof err);
    ck_assert(hbx_dataset_writer_append(w, HBX_SPLIT_TRAIN, &t, err, sizeof err) == 0);
    ck_assert_int_eq(dir_entries(dir), 1); /* the temporary */
    ck_assert_int_eq(hbx_dataset_writer_close(w, 0, err, sizeof err), 0);
    ck_assert_int_eq(dir_entries(dir), 0);

    /* A bad event: the append fails, and so does the commit, without output. */
    w = hbx_dataset_writer_open(path, provenance, err, sizeof err);
    t.features[HBX_PRI_HAD_PT][42] = NAN;
    ck_assert_int_eq(hbx_dataset_writer_append(w, HBX_SPLIT_TEST, &t, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "event 42: PRI_had_pt is nan") && strstr(err, path), "%s", err);
    ck_assert_int_eq(hbx_dataset_writer_close(w, 1, err, sizeof err), -1);
    ck_assert_int_eq(dir_entries(dir), 0);

    fill(&t, 0, 100, 0);
    t.labels[3] = !t.labels[3];
    w = hbx_dataset_writer_open(path, provenance, err, sizeof err);
    ck_assert_int_eq(hbx_dataset_writer_append(w, HBX_SPLIT_TRAIN, &t, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "event 3: label"), "%s", err);
    hbx_dataset_writer_close(w, 1, err, sizeof err);

    /* Provenance must be a JSON object; an unwritable place is reported. */
    ck_assert(hbx_dataset_writer_open(path, "[1,2]", err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "provenance"), "%s", err);
    ck_assert(hbx_dataset_writer_open("/nonexistent-dir/x.h5", provenance, err, sizeof err) ==
              NULL);
    ck_assert_msg(strstr(err, "/nonexistent-dir/x.h5"), "%s", err);
    ck_assert_int_eq(dir_entries(dir), 0);
    hbx_table_free(&t);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- layout --------------------------------------------------------------- */

static void expect_attr(hid_t file, const char *name, H5T_class_t cls, size_t size,
                        hssize_t npoints)
{
    ck_assert_msg(H5Aexists(file, name) > 0, "attribute %s missing", name);
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    ck_assert_msg(H5Tget_class(t) == cls, "attribute %s class %d", name, (int)H5Tget_class(t));
    if (size)
        ck_assert_msg(H5Tget_size(t) == size, "attribute %s size %zu", name, H5Tget_size(t));
    ck_assert_int_eq(H5Sget_simple_extent_npoints(s), npoints);
    ck_assert_int_eq(H5Sget_simple_extent_ndims(s), npoints == 1 ? 0 : 1);
    H5Sclose(s);
    H5Tclose(t);
    H5Aclose(a);
}

typedef struct links {
    int n;
    char names[40][64];
} links;

static herr_t count_link(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    links *l = data;
    if (l->n < 40)
        snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    l->n++;
    return 0;
}

/* The header of the challenge's CSV files, the creation order of columns. */
static const char *const csv_order[31] = {
    "PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi", "PRI_had_pt", "PRI_had_eta", "PRI_had_phi",
    "PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi",
    "PRI_jet_subleading_pt", "PRI_jet_subleading_eta", "PRI_jet_subleading_phi", "PRI_n_jets",
    "PRI_jet_all_pt", "PRI_met", "PRI_met_phi", "weights", "detailed_labels", "labels",
    "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h", "DER_deltaeta_jet_jet",
    "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_deltar_had_lep", "DER_pt_tot",
    "DER_sum_pt", "DER_pt_ratio_lep_had", "DER_met_phi_centrality", "DER_lep_eta_centrality"};

/* ---- chunks compressed by the writer (shuffle here, zlib) ----------------- */

/* Column contents that stress the compression: each feature gets its own
 * kind, from constant to incompressible, and some with skewed byte
 * frequencies deep enough to need length-limited Huffman codes (deflate
 * allows 15 bits). */
static void fill_hard(hbx_table *t, uint64_t first, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        uint64_t i = first + k, h = (i + 1) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 32;
        /* ~Fibonacci byte frequencies: value v with probability ~0.618^v */
        int fib = 0;
        for (uint64_t x = h; (x & 0xff) < 158 && fib < 40; x >>= 1)
            fib++;
        for (int f = 0; f < HBX_N_FEATURES; f++) {
            float v;
            switch (f % 6) {
            case 0:
                v = -25.0f; /* constant */
                break;
            case 1:
                v = (h >> f & 1) ? 1.5f : -25.0f; /* two values */
                break;
            case 2: { /* random mantissa and sign, finite */
                uint32_t bits = (uint32_t)(h >> (f % 8)) & 0x807fffffu;
                bits |= (uint32_t)(100 + (h >> 40) % 40) << 23;
                memcpy(&v, &bits, sizeof v);
                break;
            }
            case 3:
                v = (float)fib; /* skewed */
                break;
            case 4:
                v = (float)((double)(h % 1000003) / 1000.0); /* 3 decimals, like the data */
                break;
            default:
                v = i % 65536 < 3 ? 7.0f : 0.0f; /* nearly all zero */
                break;
            }
            t->features[f][k] = v;
        }
        uint8_t p = (uint8_t)(fib % HBX_N_PROCESSES);
        t->process[k] = p;
        t->labels[k] = p == HBX_HTAUTAU;
        t->weights[k] = 1.0 + (double)p / 3.0;
    }
    t->n = n;
}

/* Each deflater (igzip, the writer's; zlib alone, its fallback) makes a
 * zlib stream that inflates to the shuffled values followed by the fill,
 * for every value size, full and partial chunks, and data from constant
 * to incompressible. */
START_TEST(deflaters_make_shuffled_streams)
{
    const size_t sizes[] = {1, 2, 4, 8};
    const size_t cap = HBX_DEFLATE_MAX_VALUES * 8;
    unsigned char *src = malloc(cap), *out = malloc(hbx_deflate_bound(HBX_DEFLATE_MAX_VALUES, 8)),
                  *back = malloc(cap), *want = malloc(cap);
    ck_assert(src && out && back && want);
    hbx_deflater *d[2] = {hbx_deflater_new(), hbx_deflater_new_with(1, Z_HUFFMAN_ONLY)};
    ck_assert(d[0] && d[1]);
    for (int kind = 0; kind < 3; kind++) {
        uint64_t h = 0x9E3779B97F4A7C15ull;
        for (size_t i = 0; i < cap; i++) {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            src[i] = kind == 0 ? 0x41 : kind == 1 ? (unsigned char)(h % 5 == 0) : (unsigned char)h;
        }
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t size = sizes[k];
            const size_t ns[] = {HBX_DEFLATE_MAX_VALUES, 1000, 1};
            for (size_t j = 0; j < 3; j++) {
                size_t n = ns[j], zeros = HBX_DEFLATE_MAX_VALUES - n, all = n + zeros;
                memset(want, 0, all * size);
                for (size_t b = 0; b < size; b++)
                    for (size_t i = 0; i < n; i++)
                        want[b * all + i] = src[i * size + b]; /* little-endian host */
                for (int m = 0; m < 2; m++) {
                    size_t len = hbx_deflate_values(d[m], src, n, zeros, size, out);
                    ck_assert_msg(len > 0 && len <= hbx_deflate_bound(all, size),
                                  "deflater %d: size %zu, %zu values: length %zu", m, size, n,
                                  len);
                    uLongf got = (uLongf)cap;
                    ck_assert_int_eq(uncompress(back, &got, out, (uLong)len), Z_OK);
                    ck_assert_uint_eq(got, all * size);
                    ck_assert_msg(memcmp(back, want, all * size) == 0,
                                  "deflater %d: size %zu, %zu values, data kind %d differ", m,
                                  size, n, kind);
                }
            }
        }
    }
    ck_assert_uint_eq(hbx_deflate_values(d[0], src, 0, 0, 4, out), 0);
    ck_assert_uint_eq(hbx_deflate_values(d[0], src, HBX_DEFLATE_MAX_VALUES, 1, 4, out), 0);
    hbx_deflater_free(d[0]);
    hbx_deflater_free(d[1]);
    free(src);
    free(out);
    free(back);
    free(want);
}
END_TEST

typedef struct helper_arg {
    hbx_dataset_writer *w;
    atomic_int *stop;
    long helped;
} helper_arg;

static void *helper(void *p)
{
    helper_arg *a = p;
    while (!atomic_load(a->stop))
        a->helped += hbx_dataset_writer_help(a->w);
    return NULL;
}

START_TEST(writer_deflates_any_data)
{
    char *dir = test_tmpdir(), path[4096], err[512];
    snprintf(path, sizeof path, "%s/hard.h5", dir);
    const uint64_t n_train = 3 * HBX_DATASET_CHUNK + 12345, n_test = 777;
    for (int helpers = 0; helpers <= 2; helpers += 2) {
        hbx_dataset_writer *w = hbx_dataset_writer_open(path, provenance, err, sizeof err);
        ck_assert_msg(w != NULL, "%s", err);
        hbx_dataset_writer_set_helpers(w, helpers);
        atomic_int stop;
        atomic_init(&stop, 0);
        helper_arg args[2] = {{w, &stop, 0}, {w, &stop, 0}};
        pthread_t tid[2];
        for (int h = 0; h < helpers; h++)
            ck_assert_int_eq(pthread_create(&tid[h], NULL, helper, &args[h]), 0);
        hbx_table t;
        ck_assert_int_eq(hbx_table_alloc(&t, 50000, HBX_TABLE_TRUTH), HBX_OK);
        for (uint64_t done = 0; done < n_train; done += t.n) {
            fill_hard(&t, done, n_train - done < 50000 ? n_train - done : 50000);
            ck_assert_msg(hbx_dataset_writer_append(w, HBX_SPLIT_TRAIN, &t, err, sizeof err) == 0,
                          "%s", err);
        }
        fill_hard(&t, 0, n_test);
        ck_assert(hbx_dataset_writer_append(w, HBX_SPLIT_TEST, &t, err, sizeof err) == 0);
        ck_assert_msg(hbx_dataset_writer_flush(w, err, sizeof err) == 0, "%s", err);
        atomic_store(&stop, 1);
        for (int h = 0; h < helpers; h++)
            pthread_join(tid[h], NULL);
        ck_assert_msg(hbx_dataset_writer_close(w, 1, err, sizeof err) == 0, "%s", err);
        hbx_table_free(&t);

        /* Read back through HDF5's own filters (zlib's inflate). */
        hbx_table got, want;
        ck_assert_msg(hbx_dataset_load(path, HBX_SPLIT_ALL, &got, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_uint_eq(got.n, n_train + n_test);
        ck_assert_int_eq(hbx_table_alloc(&want, n_train, HBX_TABLE_TRUTH), HBX_OK);
        fill_hard(&want, 0, n_test);
        for (int f = 0; f < HBX_N_FEATURES; f++)
            ck_assert_msg(memcmp(got.features[f], want.features[f], n_test * 4) == 0,
                          "test %s differs (%d helpers)", hbx_feature_name(f), helpers);
        fill_hard(&want, 0, n_train);
        for (int f = 0; f < HBX_N_FEATURES; f++)
            ck_assert_msg(memcmp(got.features[f] + n_test, want.features[f], n_train * 4) == 0,
                          "train %s differs (%d helpers)", hbx_feature_name(f), helpers);
        ck_assert(memcmp(got.weights + n_test, want.weights, n_train * 8) == 0);
        ck_assert(memcmp(got.process + n_test, want.process, n_train) == 0);
        ck_assert(memcmp(got.labels + n_test, want.labels, n_train) == 0);
        hbx_table_free(&got);
        hbx_table_free(&want);

        /* The test split's one chunk is 777 events and 64,759 events of
         * zero fill: the fill must cost next to nothing (coded as literals,
         * at least a bit a byte, it would be ~32 KB per float column). */
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        ck_assert(f >= 0);
        for (int c = 0; c < HBX_N_FEATURES; c++) {
            char name[128];
            snprintf(name, sizeof name, "/test/%s", hbx_feature_name(c));
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
            ck_assert(d >= 0);
            hsize_t stored = H5Dget_storage_size(d);
            ck_assert_msg(stored <= n_test * 4 + 2048, "%s: %llu bytes stored", name,
                          (unsigned long long)stored);
            H5Dclose(d);
        }
        H5Fclose(f);
    }
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(layout_as_documented)
{
    char *dir = test_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/l.h5", dir);
    write_file(path, 70000, 100);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);

    expect_attr(f, "format", H5T_STRING, 0, 1);
    expect_attr(f, "format_version", H5T_INTEGER, 4, 1);
    expect_attr(f, "luminosity_fb", H5T_FLOAT, 8, 1);
    expect_attr(f, "provenance", H5T_STRING, 0, 1);
    expect_attr(f, "train_count", H5T_INTEGER, 8, 4);
    expect_attr(f, "test_count", H5T_INTEGER, 8, 4);
    expect_attr(f, "train_sum_weights", H5T_FLOAT, 8, 4);
    expect_attr(f, "test_sum_weights", H5T_FLOAT, 8, 4);
    H5O_info_t oinfo;
    H5Oget_info2(f, &oinfo, H5O_INFO_NUM_ATTRS);
    ck_assert_int_eq((int)oinfo.num_attrs, 8);

    links top = {0};
    H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, count_link, &top);
    ck_assert_int_eq(top.n, 2);

    static const char *const groups[2] = {"train", "test"};
    for (int s = 0; s < 2; s++) {
        hid_t g = H5Gopen2(f, groups[s], H5P_DEFAULT);
        ck_assert_msg(g >= 0, "group /%s missing", groups[s]);
        links in = {0};
        ck_assert(H5Literate(g, H5_INDEX_CRT_ORDER, H5_ITER_INC, NULL, count_link, &in) >= 0);
        ck_assert_int_eq(in.n, 31);
        for (int k = 0; k < 31; k++)
            ck_assert_str_eq(in.names[k], csv_order[k]);
        for (int c = 0; c < 31; c++) {
            const char *name = c < 28 ? hbx_feature_name(c)
                               : c == 28 ? "weights"
                               : c == 29 ? "labels"
                                         : "detailed_labels";
            hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
            ck_assert_msg(d >= 0, "/%s/%s missing", groups[s], name);
            hid_t t = H5Dget_type(d), sp = H5Dget_space(d), pl = H5Dget_create_plist(d);
            ck_assert_int_eq(H5Sget_simple_extent_ndims(sp), 1);
            hsize_t len, max;
            H5Sget_simple_extent_dims(sp, &len, &max);
            ck_assert_uint_eq(len, s == 0 ? 70000 : 100);
            ck_assert(max == H5S_UNLIMITED);
            if (c < 28)
                ck_assert_msg(H5Tequal(t, H5T_IEEE_F32LE) > 0, "%s not float32", name);
            else if (c == 28)
                ck_assert(H5Tequal(t, H5T_IEEE_F64LE) > 0);
            else if (c == 29)
                ck_assert(H5Tequal(t, H5T_STD_U8LE) > 0);
            else {
                ck_assert_int_eq(H5Tget_class(t), H5T_ENUM);
                hid_t base = H5Tget_super(t);
                ck_assert(H5Tequal(base, H5T_STD_U8LE) > 0);
                H5Tclose(base);
                ck_assert_int_eq(H5Tget_nmembers(t), 4);
                static const char *const procs[4] = {"htautau", "ztautau", "ttbar", "diboson"};
                for (int p = 0; p < 4; p++) {
                    uint8_t v = 99;
                    ck_assert(H5Tenum_valueof(t, procs[p], &v) >= 0);
                    ck_assert_uint_eq(v, p);
                }
            }
            ck_assert_int_eq(H5Pget_layout(pl), H5D_CHUNKED);
            hsize_t chunk = 0;
            ck_assert_int_eq(H5Pget_chunk(pl, 1, &chunk), 1);
            ck_assert_uint_eq(chunk, HBX_DATASET_CHUNK);
            ck_assert(chunk >= 65536 && chunk <= 1048576);
            int has_deflate = 0, has_shuffle = 0;
            for (int k = 0; k < H5Pget_nfilters(pl); k++) {
                unsigned flags, cd[8];
                size_t ncd = 8;
                char fname[64];
                H5Z_filter_t id = H5Pget_filter2(pl, (unsigned)k, &flags, &ncd, cd, sizeof fname,
                                                 fname, NULL);
                has_deflate |= id == H5Z_FILTER_DEFLATE;
                has_shuffle |= id == H5Z_FILTER_SHUFFLE;
            }
            ck_assert_msg(has_deflate, "%s not compressed", name);
            ck_assert_msg(has_shuffle == (c < 29), "%s shuffle %d", name, has_shuffle);
            H5Pclose(pl);
            H5Sclose(sp);
            H5Tclose(t);
            H5Dclose(d);
        }
        H5Gclose(g);
    }
    H5Fclose(f);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- damaged inputs --------------------------------------------------------- */

static void expect_load_error(const char *path, const char *needle)
{
    char err[512] = "";
    hbx_table t;
    ck_assert_int_eq(hbx_dataset_load(path, HBX_SPLIT_ALL, &t, err, sizeof err), -1);
    ck_assert_msg(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
    ck_assert_msg(strstr(err, path), "error '%s' does not name the file", err);
    ck_assert_msg(!strchr(err, '\n'), "error '%s' is not one line", err);
    ck_assert_uint_eq(t.n, 0);
}

/* Replaces /group/name by a dataset of `type` and `n` zero values. */
static void replace_column(const char *path, const char *group, const char *name, hid_t type,
                           hsize_t n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    ck_assert(H5Ldelete(g, name, H5P_DEFAULT) >= 0);
    if (type >= 0) {
        hid_t sp = H5Screate_simple(1, &n, NULL);
        hid_t d = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        void *zero = calloc(n ? n : 1, 8);
        H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zero);
        free(zero);
        H5Dclose(d);
        H5Sclose(sp);
    }
    H5Gclose(g);
    H5Fclose(f);
}

START_TEST(damaged_inputs)
{
    char *dir = test_tmpdir(), good[4096], path[4096], cmd[8300];
    snprintf(good, sizeof good, "%s/good.h5", dir);
    snprintf(path, sizeof path, "%s/bad.h5", dir);
    write_file(good, 1000, 200);
#define FRESH() (snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, path), ck_assert(system(cmd) == 0))

    FRESH();
    ck_assert(truncate(path, 4000) == 0);
    expect_load_error(path, "damaged or truncated");
    FRESH();
    ck_assert(truncate(path, 5) == 0);
    expect_load_error(path, "not an HDF5 file");
    expect_load_error("/nonexistent/d.h5", "cannot open");

    FRESH();
    replace_column(path, "train", "PRI_met", H5T_IEEE_F64LE, 1000);
    expect_load_error(path, "column /train/PRI_met has type float64, expected float32");
    FRESH();
    replace_column(path, "test", "detailed_labels", H5T_STD_I32LE, 200);
    expect_load_error(path, "column /test/detailed_labels has type int32, expected enum");
    FRESH();
    replace_column(path, "test", "weights", -1, 0);
    expect_load_error(path, "column /test/weights is missing");
    FRESH();
    replace_column(path, "train", "labels", H5T_STD_U8LE, 999);
    expect_load_error(path, "inconsistent lengths in /train");
    FRESH();
    replace_column(path, "train", "labels", H5T_STD_U8LE, 1000); /* all 0 */
    expect_load_error(path, "label 0 contradicts process htautau");

    /* Garbage inside a compressed chunk: the read fails, nothing crashes. */
    FRESH();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/train/PRI_met", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    haddr_t addr = 0;
    hsize_t size = 0;
    ck_assert(H5Dget_chunk_info(d, sp, 0, NULL, NULL, &addr, &size) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    ck_assert(size > 64);
    FILE *raw = fopen(path, "r+b");
    fseek(raw, (long)(addr + size / 2), SEEK_SET);
    for (int k = 0; k < 32; k++)
        fputc(0xA5 ^ k, raw);
    fclose(raw);
    expect_load_error(path, "cannot read /train/PRI_met (events 0-999), the file is damaged");

    /* A file that is HDF5 but not ours. */
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_load_error(path, "not a higgsbox dataset");

    char err[512];
    hbx_dataset_info info;
    ck_assert_int_eq(hbx_dataset_info_read(path, 0, &info, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a higgsbox dataset"), "%s", err);
    test_rmtree(dir);
    free(dir);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(info_command)
{
    char *dir = test_tmpdir(), path[4096], out[16384];
    snprintf(path, sizeof path, "%s/i.h5", dir);
    write_file(path, 1000, 200);
    char *argv[] = {HBX_TEST_CLI, "info", path, NULL};
    ck_assert_msg(test_run(argv, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "format:     higgsbox dataset v1"), "%s", out);
    ck_assert_msg(strstr(out, "\"generator\": \"test\""), "%s", out);
    /* fill() assigns processes round-robin: 250 of each in train, 50 in test. */
    ck_assert_msg(strstr(out, "\ntrain            1000 "), "%s", out);
    ck_assert_msg(strstr(out, "\ntest              200 "), "%s", out);
    ck_assert_msg(strstr(out, "\n  htautau         250 "), "%s", out);
    ck_assert_msg(strstr(out, "\n  diboson          50 "), "%s", out);
    /* Weights run from 1e-5 to 1e-5 + 999 * 1.000000001e-3. */
    ck_assert_msg(strstr(out, "\n  weights                               1e-05"), "%s", out);
    ck_assert_msg(strstr(out, "0.99901\n"), "%s", out);
    ck_assert_msg(strstr(out, "sha256:"), "%s", out);
    ck_assert_msg(strstr(out, "values:"), "%s", out);
    /* The median of PRI_met over both splits, computed here by sorting. */
    hbx_table t;
    ck_assert_int_eq(hbx_table_alloc(&t, 1000, HBX_TABLE_TRUTH), HBX_OK);
    double met[1200];
    fill(&t, 0, 1000, 0);
    for (int i = 0; i < 1000; i++)
        met[i] = t.features[HBX_PRI_MET][i];
    fill(&t, 0, 200, 1);
    for (int i = 0; i < 200; i++)
        met[1000 + i] = t.features[HBX_PRI_MET][i];
    hbx_table_free(&t);
    qsort(met, 1200, sizeof *met, cmp_double);
    char line[256];
    snprintf(line, sizeof line, "\n  %-28s %14.6g %14.6g %14.6g\n", "PRI_met", met[0],
             (met[599] + met[600]) / 2, met[1199]);
    ck_assert_msg(strstr(out, line), "'%s' not in %s", line, out);

    ck_assert(truncate(path, 3000) == 0);
    ck_assert_int_eq(test_run(argv, out, sizeof out), 1);
    ck_assert_msg(strstr(out, path) && strstr(out, "damaged or truncated"), "%s", out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    /* Without an HDF5 signature a dataset's name still gets the dataset's
     * diagnosis, and another name says it is neither a dataset nor a
     * plugin. */
    FILE *g = fopen(path, "w");
    ck_assert_ptr_nonnull(g);
    fputs("not a dataset", g);
    ck_assert_int_eq(fclose(g), 0);
    ck_assert_int_eq(test_run(argv, out, sizeof out), 1);
    ck_assert_msg(strstr(out, path) && strstr(out, "not an HDF5 file"), "%s", out);
    char other[4200];
    snprintf(other, sizeof other, "%s/i.bin", dir);
    ck_assert_int_eq(rename(path, other), 0);
    char *argv2[] = {HBX_TEST_CLI, "info", other, NULL};
    ck_assert_int_eq(test_run(argv2, out, sizeof out), 1);
    ck_assert_msg(strstr(out, other) && strstr(out, "neither a dataset"), "%s", out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    test_rmtree(dir);
    free(dir);
}
END_TEST

/* docs/FORMAT.md's definition of the values hash, worked out here from the
 * synthetic events: per split (test, then train) the count as 8
 * little-endian bytes and each column's digest, in the official order. */
static void expected_values_hash(uint64_t n_train, uint64_t n_test, char hex[65])
{
    struct sha256_ctx outer;
    sha256_init(&outer);
    hbx_table t;
    ck_assert_int_eq(hbx_table_alloc(&t, n_train > n_test ? n_train : n_test, HBX_TABLE_TRUTH),
                     HBX_OK);
    for (int s = 0; s < 2; s++) {
        uint64_t n = s == 0 ? n_test : n_train;
        fill(&t, 0, n, s == 0 ? 1 : 0);
        unsigned char le[8];
        for (int b = 0; b < 8; b++)
            le[b] = (unsigned char)(n >> (8 * b));
        sha256_update(&outer, 8, le);
        for (int c = 0; c < HBX_N_COLUMNS; c++) {
            struct sha256_ctx col;
            sha256_init(&col);
            for (uint64_t i = 0; i < n; i++) {
                uint64_t bits;
                int size;
                if (c < HBX_N_FEATURES) {
                    uint32_t u;
                    memcpy(&u, &t.features[c][i], 4);
                    bits = u, size = 4;
                } else if (c == HBX_COLUMN_WEIGHTS) {
                    memcpy(&bits, &t.weights[i], 8);
                    size = 8;
                } else {
                    bits = c == HBX_COLUMN_LABELS ? t.labels[i] : t.process[i];
                    size = 1;
                }
                for (int b = 0; b < size; b++)
                    le[b] = (unsigned char)(bits >> (8 * b));
                sha256_update(&col, (size_t)size, le);
            }
            unsigned char digest[SHA256_DIGEST_SIZE];
            sha256_digest(&col, sizeof digest, digest);
            sha256_update(&outer, sizeof digest, digest);
        }
    }
    hbx_table_free(&t);
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_digest(&outer, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

START_TEST(values_hash_ignores_storage)
{
    char *dir = test_tmpdir(), a[4096], b[4096], err[512];
    char file_a[65], file_b[65], values_a[65], values_b[65], want[65];
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(b, sizeof b, "%s/b.h5", dir);
    /* The same events in files whose bytes differ (another provenance). */
    write_file_as(a, 70000, 1234, provenance);
    write_file_as(b, 70000, 1234, "{\"generator\": \"another\"}");
    ck_assert_int_eq(hbx_sha256_file(a, file_a), 0);
    ck_assert_int_eq(hbx_sha256_file(b, file_b), 0);
    ck_assert_str_ne(file_a, file_b);
    ck_assert_msg(hbx_dataset_values_sha256(a, values_a, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(hbx_dataset_values_sha256(b, values_b, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(values_a, values_b);
    expected_values_hash(70000, 1234, want);
    ck_assert_str_eq(values_a, want);

    /* One value changed: another hash. */
    hid_t f = H5Fopen(b, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/train/PRI_met", H5P_DEFAULT);
    ck_assert(f >= 0 && d >= 0);
    hid_t fs = H5Dget_space(d);
    hsize_t start = 65540, count = 1;
    ck_assert(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) >= 0);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    float v = 1.5f;
    ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
    ck_assert_msg(hbx_dataset_values_sha256(b, values_b, err, sizeof err) == 0, "%s", err);
    ck_assert_str_ne(values_a, values_b);

    /* A damaged file: one line naming it. */
    ck_assert(truncate(b, 5000) == 0);
    ck_assert_int_eq(hbx_dataset_values_sha256(b, values_b, err, sizeof err), -1);
    ck_assert_msg(strstr(err, b) && !strchr(err, '\n'), "%s", err);
    test_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, empty_split_round_trip);
    tcase_add_test(tc, rescale_on_commit);
    tcase_add_test(tc, abort_and_failure_leave_nothing);
    tcase_add_test(tc, deflaters_make_shuffled_streams);
    tcase_add_test(tc, writer_deflates_any_data);
    tcase_add_test(tc, layout_as_documented);
    tcase_add_test(tc, damaged_inputs);
    tcase_add_test(tc, info_command);
    tcase_add_test(tc, values_hash_ignores_storage);
    suite_add_tcase(s, tc);
    return test_main(s);
}
