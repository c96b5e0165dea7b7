/* Definitions shared by the files of the evaluation run. */
#ifndef HBX_RUN_INTERNAL_H
#define HBX_RUN_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "higgsbox/higgsbox.h"
#include "higgsbox/plugin.h"
#include "higgsbox/run.h"
#include "higgsbox/sandbox.h"

/* Verdict name for a PE the budget left untried (not a sandbox verdict). */
#define HBX_NOT_RUN "NOT_RUN"

/* Everything known about one pseudo-experiment of the run. */
typedef struct pe_record {
    unsigned set, index;
    uint64_t seed;
    double mu_true;
    hbx_nuisances nu;
    int done;                 /* has a verdict (recorded in pes.jsonl) */
    int not_run;              /* budget ran out before it was tried */
    uint64_t n_events;
    hbx_prediction pred;      /* valid when rec.verdict == OK */
    hbx_call_record rec;
    double gen_s;
} pe_record;

/* The settings that define a run (what must agree for runs to compare). */
typedef struct run_settings {
    unsigned sets, n_pe;
    double *mu; /* sets values */
    unsigned syst;
    uint64_t seed;
    unsigned shard_k, shard_n;
    unsigned workers;
    double fit_timeout, predict_timeout, budget;
    uint64_t memory;
} run_settings;

/* Serialises one record as a single JSON line (with '\n'); malloc'd. */
char *run_record_line(const pe_record *p);

/* Parses a pes.jsonl line into *p (set/index located by the caller's
 * table). Returns 0, or -1 with a reason. */
int run_record_parse(const char *line, pe_record *p, char *why, size_t why_len);

/* Reads `dir`/pes.jsonl into records[set*n_pe+index]; a last line without
 * its newline (a write cut short by a kill) is dropped and truncated away.
 * Returns the number of records read, or -1 with `err`. */
long run_records_load(const char *dir, pe_record *records, unsigned sets, unsigned n_pe,
                      char *err, size_t err_len);

/* Rewrites `dir`/pes.jsonl with the done records sorted by (set, index),
 * and writes result_<s>.json and test_settings.json when every PE of the run
 * is done. Atomic per file. Returns 0 or -1 with `err`. */
int run_write_outputs(const char *dir, const run_settings *s, const pe_record *records,
                      char *err, size_t err_len);

/* JSON of the settings block of run.json. */
json_t *run_settings_json(const run_settings *s);
/* Reads a settings block back. Returns 0 or -1 with `err`. */
int run_settings_from_json(json_t *j, run_settings *s, char *err, size_t err_len);
/* Nonzero when two settings describe the same run (shard and workers and
 * limits aside). */
int run_settings_same_run(const run_settings *a, const run_settings *b);

/* Writes `json` to `dir`/`name` atomically (temporary file + rename). */
int run_write_json_file(const char *dir, const char *name, json_t *json, char *err,
                        size_t err_len);

#endif
