/* test_wisdom.c: wisdom round trip, and files that are corrupt, truncated at every byte,
 * or signed for another table or CPU: rejected whole, wisdom in memory unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static char path[256];

static bmm_status plan_kernel(int64_t n, unsigned flags, char *out, size_t len)
{
    bmm_plan *plan = NULL;
    bmm_stride s = bmm_stride_batch_first(n, n);
    bmm_status st = bmm_plan_create(&plan, BMM_F64, 16, n, n, n, s, s, s, 1, 0, flags);
    if (out)
        snprintf(out, len, "%s", st == BMM_OK ? bmm_plan_kernel(plan) : "");
    bmm_plan_destroy(plan);
    return st;
}

static void write_text(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static char *read_text(size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1 << 16, 1);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

static void test_round_trip(void **state)
{
    (void)state;
    char k3[128], k4[128], got[128];
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_MEASURE, k3, sizeof k3), BMM_OK);
    assert_int_equal(plan_kernel(4, BMM_MEASURE, k4, sizeof k4), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, got, sizeof got), BMM_OK);
    assert_string_equal(got, k3);
    assert_int_equal(plan_kernel(4, BMM_WISDOM_ONLY, got, sizeof got), BMM_OK);
    assert_string_equal(got, k4);
    /* export again: the same text */
    size_t len1, len2;
    char *t1 = read_text(&len1);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    char *t2 = read_text(&len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(t1, t2, len1);
    free(t1);
    free(t2);
}

/* Memory holds wisdom for 3x3x3 only; a file that would add 5x5x5 must be rejected whole. */
static void expect_rejected(const char *text, size_t len, const char *needle)
{
    write_text(text, len);
    bmm_status st = bmm_wisdom_import_file(path);
    if (st != BMM_EFORMAT || (needle && !strstr(bmm_last_error(), needle))) {
        print_error("import of %zu bytes: %s (%s), want EFORMAT naming '%s'\n", len,
            bmm_strerror(st), bmm_last_error(), needle ? needle : "");
        fail();
    }
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, NULL, 0), BMM_OK);
    assert_int_equal(plan_kernel(5, BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
}

static void test_bad_files_keep_state(void **state)
{
    (void)state;
    /* a valid file with 5x5x5 in it */
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(5, BMM_MEASURE, NULL, 0), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    size_t len;
    char *good = read_text(&len);
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_MEASURE, NULL, 0), BMM_OK);

    for (size_t cut = 0; cut < len; cut++)  /* truncated anywhere */
        expect_rejected(good, cut, NULL);

    char bad[8192];
    struct { const char *from, *to, *needle; } edits[] = {
        { "bmmgen-wisdom 1", "bmmgen-wisdom 9", "format 9" },
        { "bmmgen-wisdom", "something-else", "not a bmmgen wisdom file" },
        { "table default", "table other", "kernel table" },
        { "cpu ", "cpu X", "made on CPU" },
        { "entry f64", "entry f16", "unknown value" },
        { " bmm_f", " zmm_f", "unknown value or kernel" },
        { "end 1", "end 2", "'end' says 2" },
        { " cache ", " warm ", "unknown value" },
        { "entry f64 5", "entry f64 x", "malformed entry" },
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        const char *at = strstr(good, edits[e].from);
        assert_non_null(at);
        size_t pre = (size_t)(at - good);
        int n = snprintf(bad, sizeof bad, "%.*s%s%s", (int)pre, good, edits[e].to,
            at + strlen(edits[e].from));
        expect_rejected(bad, (size_t)n, edits[e].needle);
    }
    int n = snprintf(bad, sizeof bad, "%sextra\n", good);
    expect_rejected(bad, (size_t)n, "after 'end'");
    /* the untouched file still imports */
    write_text(good, len);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    assert_int_equal(plan_kernel(5, BMM_WISDOM_ONLY, NULL, 0), BMM_OK);
    free(good);
}

int main(void)
{
    setenv("BMM_TUNE_BUDGET_MS", "5", 1);
    snprintf(path, sizeof path, "test_wisdom.%ld.txt", (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files_keep_state),
    };
    int rc = cmocka_run_group_tests_name("wisdom", tests, NULL, NULL);
    remove(path);
    return rc;
}
