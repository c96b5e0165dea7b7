/*
 * libhiggsbox: the host library. Include this one header to embed higgsbox.
 */
#ifndef HIGGSBOX_HIGGSBOX_H
#define HIGGSBOX_HIGGSBOX_H

#include "higgsbox/block.h"
#include "higgsbox/dataset.h"
#include "higgsbox/physics.h"
#include "higgsbox/generator.h"
#include "higgsbox/pe.h"
#include "higgsbox/plugin.h"
#include "higgsbox/run.h"
#include "higgsbox/sandbox.h"
#include "higgsbox/score.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The host's version string, e.g. "0.1.0". */
const char *hbx_version(void);

/* sha256 of a file's contents as 64 lower-case hex digits plus NUL.
 * Returns 0, or -1 with errno when the file cannot be read. */
int hbx_sha256_file(const char *path, char hex[65]);

/* Loads `plugin_path` in a fresh worker (never in this process), reads its
 * descriptor and shuts the worker down. `worker` may be NULL (default
 * worker). Returns 0 with *info set, or -1 with rec's verdict and detail. */
int hbx_plugin_describe(const char *plugin_path, const char *worker, hbx_plugin_info *info,
                        hbx_call_record *rec);

#ifdef __cplusplus
}
#endif
#endif
