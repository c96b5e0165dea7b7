/* Helpers shared by the Check suites. */
#ifndef HBX_TEST_SUPPORT_H
#define HBX_TEST_SUPPORT_H

#include <check.h>
#include <stddef.h>

/* Path of a test plugin: kind is "plugins" or "hostile". Static buffer. */
const char *test_plugin(const char *kind, const char *name);

/* The shared real sample, or NULL (after saying so on stdout) when absent. */
const char *test_sample_or_skip(void);

/* A fresh temporary directory (removed by test_rmtree). Static buffer per call
 * site is not needed: the caller owns the returned malloc'd string. */
char *test_tmpdir(void);
void test_rmtree(const char *dir);

/* Runs argv (argv[0] a path), capturing stdout and stderr together into out
 * (NUL-terminated, truncated to cap). Returns the exit status, or 128+signal. */
int test_run(char *const argv[], char *out, size_t cap);

/* Runs a suite with Check's normal output; returns 0 when all passed. */
int test_main(Suite *s);

#endif
