/*
 * The baselines' optional configuration file and small utilities. Defaults
 * suit the full-size problem; the file exists so that organisers (and the
 * tests) can limit threads or shrink training without rebuilding.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baseline.h"

void bl_log(const hbx_host_api *host, hbx_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (host && host->log)
        host->log(level, line);
}

double bl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPUs this process may run on: the affinity mask is what a confined or
 * pinned worker really gets, unlike the machine's core count. */
static int available_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n < 1 ? 1 : n;
}

static void set_defaults(bl_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->fit_threads = available_cpus();
    cfg->predict_threads = 1;
    cfg->train_events = 300000;
    cfg->train_fraction = 0.5;
    cfg->trees = 100;
    cfg->depth = 5;
    cfg->eta = 0.15;
    cfg->bins = 16;
    cfg->min_mc_events = 100;
    cfg->seed = 20240917;
    snprintf(cfg->model, sizeof cfg->model, "classifier.ubj");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Applies one key = value; returns NULL or a description of the problem. */
static const char *apply(bl_config *cfg, const char *key, const char *value)
{
    uint64_t u;
    double d;
    if (strcmp(key, "fit_threads") == 0 || strcmp(key, "predict_threads") == 0) {
        if (parse_u64(value, 1, 256, &u) != 0)
            return "expected an integer in [1, 256]";
        *(strcmp(key, "fit_threads") == 0 ? &cfg->fit_threads : &cfg->predict_threads) = (int)u;
    } else if (strcmp(key, "train_events") == 0) {
        if (parse_u64(value, 100, UINT64_C(1) << 40, &cfg->train_events) != 0)
            return "expected an integer >= 100";
    } else if (strcmp(key, "train_fraction") == 0) {
        if (parse_double(value, 0.05, 0.95, &cfg->train_fraction) != 0)
            return "expected a number in [0.05, 0.95]";
    } else if (strcmp(key, "trees") == 0) {
        if (parse_u64(value, 1, 5000, &u) != 0)
            return "expected an integer in [1, 5000]";
        cfg->trees = (int)u;
    } else if (strcmp(key, "depth") == 0) {
        if (parse_u64(value, 1, 16, &u) != 0)
            return "expected an integer in [1, 16]";
        cfg->depth = (int)u;
    } else if (strcmp(key, "eta") == 0) {
        if (parse_double(value, 1e-4, 1.0, &d) != 0)
            return "expected a number in [0.0001, 1]";
        cfg->eta = d;
    } else if (strcmp(key, "bins") == 0) {
        if (parse_u64(value, 2, 64, &u) != 0)
            return "expected an integer in [2, 64]";
        cfg->bins = (int)u;
    } else if (strcmp(key, "min_mc_events") == 0) {
        if (parse_u64(value, 1, UINT64_C(1) << 40, &cfg->min_mc_events) != 0)
            return "expected a positive integer";
    } else if (strcmp(key, "seed") == 0) {
        if (parse_u64(value, 0, UINT64_MAX, &cfg->seed) != 0)
            return "expected a non-negative integer";
    } else if (strcmp(key, "model") == 0) {
        if (!*value || strchr(value, '/') || strlen(value) >= sizeof cfg->model)
            return "expected a plain file name (no '/')";
        snprintf(cfg->model, sizeof cfg->model, "%s", value);
    } else {
        return "unknown key";
    }
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int bl_config_load(const hbx_host_api *host, bl_config *cfg)
{
    set_defaults(cfg);
    const char *dir = host->submission_dir ? host->submission_dir() : NULL;
    if (!dir || !*dir)
        return HBX_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, BL_CONFIG_FILE);
    FILE *f = fopen(path, "r");
    if (!f)
        return HBX_OK; /* no file: defaults */
    char line[1024];
    int lineno = 0, rc = HBX_OK;
    while (rc == HBX_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            bl_log(host, HBX_LOG_ERROR, "%s:%d: expected 'key = value'", path, lineno);
            rc = HBX_E_INVALID;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        const char *why = apply(cfg, key, value);
        if (why) {
            bl_log(host, HBX_LOG_ERROR, "%s:%d: %s: %s", path, lineno, key, why);
            rc = HBX_E_INVALID;
        }
    }
    fclose(f);
    if (rc == HBX_OK)
        bl_log(host, HBX_LOG_INFO, "configuration read from %s", path);
    return rc;
}
