/* Shared pieces of the higgsbox command-line tool. */
#ifndef HBX_CLI_H
#define HBX_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Prints "higgsbox: <message>" on stderr and returns exit status 1 (2 for
 * usage errors through cli_usage_error). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Strict number parsing for flag values: the whole string must parse.
 * Return 0 on success, -1 (after printing an error naming the flag). */
int cli_parse_double(const char *flag, const char *text, double *out);
int cli_parse_u64(const char *flag, const char *text, unsigned long long *out);

/* A size in bytes: "512M", "4G", "1.5G", "65536K" or plain bytes. Returns 0,
 * or -1 (printing nothing: the caller names the flag). */
int cli_parse_bytes(const char *text, uint64_t *out);

/* Whether the file at `path` begins with the n bytes of `signature`
 * (false when it cannot be read). */
int cli_starts_with(const char *path, const void *signature, size_t n);

/* Subcommands: each takes argc/argv starting at its own name. */
int cmd_info(int argc, char **argv);
int cmd_sandbox_check(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_info_dataset(const char *path); /* info on a dataset file */
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_shift(int argc, char **argv);
int cmd_pe(int argc, char **argv);
int cmd_gen(int argc, char **argv);

#endif
