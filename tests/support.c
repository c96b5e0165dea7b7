#include "support.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *test_plugin(const char *kind, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s.so", HBX_TEST_PLUGINS, kind, name);
    return path;
}

const char *test_sample_or_skip(void)
{
    if (access(HBX_TEST_SAMPLE, R_OK) == 0)
        return HBX_TEST_SAMPLE;
    printf("SKIP: the real sample ../shared/data/higgsml_sample_1000.csv is absent\n");
    return NULL;
}

char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/hbx-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void test_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int test_run(char *const argv[], char *out, size_t cap)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(126);
    }
    close(p[1]);
    size_t len = 0;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
        size_t take = (size_t)n;
        if (out && len + take >= cap)
            take = cap > len + 1 ? cap - len - 1 : 0;
        if (out && take)
            memcpy(out + len, buf, take);
        len += take;
    }
    close(p[0]);
    if (out && cap)
        out[len < cap ? len : cap - 1] = '\0';
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int test_main(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
