/* Plugin loading: each ABI failure gets its precise error; plugins that die
 * during load or during a call are reported as such and the host survives. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "higgsbox/higgsbox.h"
#include "support.h"

static hbx_call_record load(const char *path, hbx_plugin_info *info)
{
    hbx_call_record rec;
    hbx_plugin_info tmp;
    hbx_plugin_describe(path, HBX_TEST_WORKER, info ? info : &tmp, &rec);
    return rec;
}

static void expect_load_error(const char *path, const char *needle)
{
    hbx_call_record rec = load(path, NULL);
    ck_assert_str_eq(hbx_verdict_name(rec.verdict), "LOAD_ERROR");
    ck_assert_msg(strstr(rec.detail, needle), "detail '%s' lacks '%s'", rec.detail, needle);
    ck_assert_msg(strstr(rec.detail, path), "detail '%s' does not name the file", rec.detail);
}

START_TEST(constant_loads)
{
    hbx_plugin_info info;
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/constant/constant.so", HBX_TEST_BUILD_DIR);
    hbx_call_record rec = load(path, &info);
    ck_assert_str_eq(hbx_verdict_name(rec.verdict), "OK");
    ck_assert_str_eq(info.name, "constant");
    ck_assert_str_eq(info.version, "1.0.0");
    ck_assert_uint_eq(info.abi_major, 1);
    ck_assert_uint_eq(info.struct_size, sizeof(hbx_plugin));
}
END_TEST

START_TEST(missing_file)
{
    expect_load_error("/nonexistent/plugin.so", "no such file");
}
END_TEST

START_TEST(not_a_shared_object)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/CMakeLists.txt", HBX_TEST_SOURCE_DIR);
    expect_load_error(path, "not a shared object (no ELF header)");
}
END_TEST

START_TEST(relocatable_object_refused)
{
    char *dir = test_tmpdir();
    /* Workers run under a uid of their own when the host is root: a
     * submission must be readable by others. */
    ck_assert_int_eq(chmod(dir, 0755), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/obj.o", dir);
    FILE *f = fopen(path, "wb");
    unsigned char eh[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    eh[16] = 1; /* ET_REL */
    fwrite(eh, 1, sizeof eh, f);
    fclose(f);
    expect_load_error(path, "not a shared object (ELF type 1");
    test_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(missing_entry_symbol)
{
    expect_load_error(test_plugin("plugins", "no_entry"), "no hbx_plugin_entry symbol");
}
END_TEST

START_TEST(abi_major_mismatch)
{
    expect_load_error(test_plugin("plugins", "abi2"), "built for ABI 2, this host supports 1");
}
END_TEST

START_TEST(abi_minor_newer)
{
    expect_load_error(test_plugin("plugins", "future_minor"), "this host supports up to 1.0");
}
END_TEST

START_TEST(descriptor_too_small)
{
    expect_load_error(test_plugin("plugins", "small_descriptor"), "descriptor too small (24 bytes");
}
END_TEST

START_TEST(null_entry_point)
{
    expect_load_error(test_plugin("plugins", "null_predict"), "NULL predict entry point");
}
END_TEST

START_TEST(entry_returns_null)
{
    expect_load_error(test_plugin("plugins", "entry_null"), "returned NULL");
}
END_TEST

static void expect_load_death(const char *name, const char *verdict, const char *what)
{
    hbx_call_record rec = load(test_plugin("plugins", name), NULL);
    char d[600];
    hbx_call_record_describe(&rec, d, sizeof d);
    ck_assert_msg(strstr(d, verdict), "%s: got %s, want %s", name, d, verdict);
    ck_assert_msg(strstr(rec.detail, what), "%s: detail '%s'", name, rec.detail);
}

START_TEST(constructor_abort)
{
    expect_load_death("ctor_abort", "CRASHED(SIGABRT)", "while loading");
}
END_TEST

START_TEST(constructor_segv)
{
    expect_load_death("ctor_segv", "CRASHED(SIGSEGV)", "while loading");
}
END_TEST

START_TEST(constructor_exit)
{
    expect_load_death("ctor_exit", "EXITED(3)", "while loading");
}
END_TEST

/* Loads `name`, runs fit and one predict on tiny blocks; returns the
 * description of the first call that did not end OK ("OK" if none). */
static void run_calls(const char *name, char *desc, size_t len)
{
    hbx_sandbox *sb = hbx_sandbox_new();
    hbx_sandbox_set_plugin(sb, test_plugin("plugins", name));
    hbx_sandbox_set_worker(sb, HBX_TEST_WORKER);
    hbx_sandbox_set_log_fd(sb, 2);
    hbx_worker *w;
    hbx_call_record rec;
    hbx_plugin_info info;
    hbx_block train, pe;
    ck_assert_int_eq(hbx_block_create(&train, "train", 10, HBX_TABLE_TRUTH), 0);
    ck_assert_int_eq(hbx_block_create(&pe, "pe", 10, 0), 0);
    hbx_block_set_count(&pe, 10);
    int tfd = hbx_block_reader_fd(&train), pfd = hbx_block_reader_fd(&pe);
    hbx_prediction out;
    ck_assert_int_eq(hbx_worker_spawn(sb, &w, &rec), 0);
    if (hbx_worker_load(w, &info, &rec) == 0 &&
        hbx_worker_fit(w, tfd, train.size, 10, &rec) == 0)
        hbx_worker_predict(w, pfd, pe.size, 10, &out, &rec);
    hbx_call_record_describe(&rec, desc, len);
    hbx_worker_destroy(w);
    close(tfd);
    close(pfd);
    hbx_block_destroy(&train);
    hbx_block_destroy(&pe);
    hbx_sandbox_destroy(sb);
}

START_TEST(crash_during_calls)
{
    char d[600];
    run_calls("fit_segv", d, sizeof d);
    ck_assert_str_eq(d, "CRASHED(SIGSEGV)");
    run_calls("predict_abort", d, sizeof d);
    ck_assert_str_eq(d, "CRASHED(SIGABRT)");
    run_calls("predict_exit", d, sizeof d);
    ck_assert_str_eq(d, "EXITED(3)");
    run_calls("abi2", d, sizeof d);
    ck_assert_msg(strncmp(d, "LOAD_ERROR(", 11) == 0, "%s", d);
    /* The host is still here and a good plugin still works after all that. */
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/constant/constant.so", HBX_TEST_BUILD_DIR);
    hbx_plugin_info info;
    ck_assert_int_eq(load(path, &info).verdict, HBX_VERDICT_OK);
}
END_TEST

START_TEST(cli_info)
{
    char out[8192], path[4096];
    snprintf(path, sizeof path, "%s/plugins/constant/constant.so", HBX_TEST_BUILD_DIR);
    char *ok[] = {HBX_TEST_CLI, "info", path, NULL};
    ck_assert_int_eq(test_run(ok, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "name:     constant") && strstr(out, "abi:      1.0"), "%s", out);
    char *bad[] = {HBX_TEST_CLI, "info", (char *)test_plugin("plugins", "abi2"), NULL};
    ck_assert_int_eq(test_run(bad, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "built for ABI 2, this host supports 1"), "%s", out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    char *nope[] = {HBX_TEST_CLI, "info", "--bogus", NULL};
    ck_assert_int_eq(test_run(nope, out, sizeof out), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("abi");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, constant_loads);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, not_a_shared_object);
    tcase_add_test(tc, relocatable_object_refused);
    tcase_add_test(tc, missing_entry_symbol);
    tcase_add_test(tc, abi_major_mismatch);
    tcase_add_test(tc, abi_minor_newer);
    tcase_add_test(tc, descriptor_too_small);
    tcase_add_test(tc, null_entry_point);
    tcase_add_test(tc, entry_returns_null);
    tcase_add_test(tc, constructor_abort);
    tcase_add_test(tc, constructor_segv);
    tcase_add_test(tc, constructor_exit);
    tcase_add_test(tc, crash_during_calls);
    tcase_add_test(tc, cli_info);
    suite_add_tcase(s, tc);
    return test_main(s);
}
