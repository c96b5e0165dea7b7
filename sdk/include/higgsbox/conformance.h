/*
 * higgsbox conformance kit: a Check suite that puts a plugin through what an
 * evaluation run will do to it, on a small generated dataset, and names what
 * to fix when something is wrong.
 *
 * In a participant's unit test:
 *
 *   #include <higgsbox/conformance.h>
 *
 *   int main(void)
 *   {
 *       SRunner *sr = srunner_create(hbx_conformance_suite("my_plugin.so"));
 *       srunner_run_all(sr, CK_NORMAL);
 *       int failed = srunner_ntests_failed(sr);
 *       srunner_free(sr);
 *       return failed ? 1 : 0;
 *   }
 *
 * `higgsbox check PLUGIN.so` runs the same suite.
 *
 * The plugin never runs in the caller's process: it is loaded by the worker
 * executable installed with the kit (found relative to the kit's own
 * library), confined like in a real run. The whole session (load, fit,
 * predicts) runs once, in an unchecked fixture, when Check reaches the
 * suite; each test case then reports one property of that session:
 *
 *   descriptor     loads in a worker; name and version non-empty
 *   fit            create + fit succeed on a generated training set
 *   predict        predict succeeds on PEs at several mu (forked workers)
 *   interval       p16 <= mu_hat <= p84 on those PEs (delta_mu_hat >= 0 and
 *                  finite values are enforced by the host: see predict)
 *   deterministic  the same PE gives the same answer, twice in one worker
 *                  and once in another
 *   empty_pe       a PE with no events gets an answer (any finite one)
 *   tiny_pe        a PE with a handful of events gets an answer
 *   writes         no file changes outside the scratch directory
 *   limits         no call exceeds the kit's time (or memory) limits
 *
 * Link: CMake `higgsbox::conformance` (find_package(higgsbox)), or pkg-config
 * `higgsbox-conformance`. Check itself is linked by the program.
 */
#ifndef HIGGSBOX_CONFORMANCE_H
#define HIGGSBOX_CONFORMANCE_H

#include <check.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HBX_CONFORMANCE_API __attribute__((visibility("default")))

/* Settings of a conformance session. Start from the defaults. */
typedef struct hbx_conformance_options {
    uint64_t events;          /* toy events generated, train + test (default 30000) */
    uint64_t seed;            /* seed of the dataset and the PEs (default 1) */
    double fit_timeout_s;     /* create + fit wall-clock limit (default 120) */
    double predict_timeout_s; /* per predict call (default 60) */
    uint64_t memory_bytes;    /* memory limit per worker (default 8 GiB, as a run; 0 = none) */
    const char *worker;       /* worker executable; NULL = found beside the kit (copied) */
    int log_fd;               /* where the plugin's output goes; -1 = discarded (default) */
} hbx_conformance_options;

/* Fills `o` with the defaults above. */
HBX_CONFORMANCE_API void hbx_conformance_options_default(hbx_conformance_options *o);

/* A new suite, "conformance of <file name>", checking the plugin at
 * `plugin_path` with the default options. The path is copied. The suite is
 * owned by the caller (as usual, an SRunner frees it) and is meant to run
 * once. Returns NULL only when out of memory. */
HBX_CONFORMANCE_API Suite *hbx_conformance_suite(const char *plugin_path);

/* The same with explicit options (copied; NULL means the defaults). */
HBX_CONFORMANCE_API Suite *hbx_conformance_suite_with(const char *plugin_path,
                                                      const hbx_conformance_options *o);

/* The worker executable the kit uses when options.worker is NULL, or NULL
 * when none is found. The string is owned by the kit. */
HBX_CONFORMANCE_API const char *hbx_conformance_default_worker(void);

#ifdef __cplusplus
}
#endif
#endif /* HIGGSBOX_CONFORMANCE_H */
