/* test_validate.c: every rule of docs/semantics.md gives its status, names the argument in
 * bmm_last_error(), creates no plan, and leaves C untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define N 4
static float A[64 * N * N], B[64 * N * N], C[64 * N * N];

static bmm_stride bf(void) { return bmm_stride_batch_first(N, N); }

static void setup_buffers(void)
{
    for (int i = 0; i < 64 * N * N; i++) {
        A[i] = (float)(i % 7);
        B[i] = (float)(i % 5);
    }
    th_poison(C, sizeof C);
}

/* A call that must fail with `want` and an error message containing `needle`. */
static void expect(bmm_status got, bmm_status want, const char *needle)
{
    if (got != want || !strstr(bmm_last_error(), needle)) {
        print_error("got %s (%s), want %s naming '%s'\n", bmm_strerror(got), bmm_last_error(),
            bmm_strerror(want), needle);
        fail();
    }
    assert_true(th_poisoned(C, sizeof C));
}

/* The same bad problem through the plan API and the one-shot call. */
static void expect_both(int64_t batch, int64_t n, int64_t m, int64_t p, bmm_stride sa,
    bmm_stride sb, bmm_stride sc, bmm_status want, const char *needle)
{
    setup_buffers();
    bmm_plan *plan = (bmm_plan *)&plan;  /* must be reset to NULL */
    expect(bmm_plan_create(&plan, BMM_F32, batch, n, m, p, sa, sb, sc, 1, 0, BMM_ESTIMATE), want,
        needle);
    assert_null(plan);
    expect(bmm_sgemm_strided(batch, n, m, p, 1, A, sa, B, sb, 0, C, sc), want, needle);
}

static void test_sizes(void **state)
{
    (void)state;
    expect_both(-1, N, N, N, bf(), bf(), bf(), BMM_EINVAL, "batch");
    expect_both(1, 0, N, N, bf(), bf(), bf(), BMM_EINVAL, "n must be");
    expect_both(1, N, 0, N, bf(), bf(), bf(), BMM_EINVAL, "m must be");
    expect_both(1, N, N, 0, bf(), bf(), bf(), BMM_EINVAL, "p must be");
    expect_both(1, -3, N, N, bf(), bf(), bf(), BMM_EINVAL, "n must be");
}

/* Any stride is a valid view of A and B (test_strides.c computes with them); C's must not
 * map two elements to one address, whatever their sign. */
static void test_strides(void **state)
{
    (void)state;
    bmm_stride zero_col = { 16, 4, 0 }, zero_row = { 16, 0, 1 }, zero_batch = { 0, 4, 1 };
    bmm_stride neg_dup = { 16, -1, 1 };  /* rows one element apart, 4 columns: overlap */
    expect_both(2, N, N, N, bf(), bf(), zero_col, BMM_EOVERLAP, "C overlaps itself");
    expect_both(2, N, N, N, bf(), bf(), zero_row, BMM_EOVERLAP, "C overlaps itself");
    expect_both(2, N, N, N, bf(), bf(), zero_batch, BMM_EOVERLAP, "C overlaps itself");
    expect_both(1, N, N, N, bf(), bf(), neg_dup, BMM_EOVERLAP, "C overlaps itself");
}

/* A pointer not aligned to the element size is undefined behaviour in C: refused, naming it. */
static void test_misaligned(void **state)
{
    (void)state;
    setup_buffers();
    const float *a1 = (const float *)(const void *)((const char *)A + 1);
    float *c2 = (float *)(void *)((char *)C + 2);
    expect(bmm_sgemm_strided(1, N, N, N, 1, a1, bf(), B, bf(), 0, C, bf()), BMM_EINVAL,
        "A (");
    expect(bmm_sgemm_strided(1, N, N, N, 1, A, bf(), B, bf(), 0, c2, bf()), BMM_EINVAL,
        "not aligned");
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 1, N, N, N, bf(), bf(), bf(), 1, 0,
        BMM_ESTIMATE), BMM_OK);
    expect(bmm_execute(plan, A, (const char *)B + 3, C), BMM_EINVAL, "B (");
    bmm_plan_destroy(plan);
}

static void test_overflow(void **state)
{
    (void)state;
    bmm_stride huge = { INT64_MAX / 2, 4, 1 };
    expect_both(3, N, N, N, huge, bf(), bf(), BMM_EINVAL, "A spans");
    expect_both(INT64_MAX, N, N, N, bf(), bf(), bf(), BMM_EINVAL, "spans");
    int64_t big = (int64_t)1 << 40;
    bmm_stride wide = bmm_stride_batch_first(big, big);
    expect_both(1, big, big, 1, wide, bmm_stride_batch_first(big, 1), bmm_stride_batch_first(big, 1),
        BMM_EINVAL, "spans");
    bmm_stride sc = { 0, INT64_MAX / 4, 1 };
    expect_both(1, 8, 1, 1, bf(), bf(), sc, BMM_EINVAL, "C spans");
    /* negative strides: |INT64_MIN| does not fit; a span reaching below address 0 */
    bmm_stride most_negative = { INT64_MIN, 4, 1 }, far_down = { -((int64_t)1 << 58), 4, 1 };
    expect_both(2, N, N, N, most_negative, bf(), bf(), BMM_EINVAL, "A spans");
    setup_buffers();
    expect(bmm_sgemm_strided(2, N, N, N, 1, A, far_down, B, bf(), 0, C, bf()), BMM_EINVAL,
        "past the address space");
    /* valid, if huge: choosing must not overflow (n*m*p was signed overflow under UBSan) */
    int64_t g = (int64_t)1 << 32;
    bmm_stride flat = { 0, 1, 1 };
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 1, g, g, 1, flat, flat, flat, 1, 0,
        BMM_ESTIMATE), BMM_OK);
    bmm_plan_destroy(plan);
}

static void test_c_overlaps_itself(void **state)
{
    (void)state;
    bmm_stride b0 = { 0, N, 1 }, rows = { N * N, 1, 1 }, tangled = { 3, N, 1 };
    expect_both(2, N, N, N, bf(), bf(), b0, BMM_EOVERLAP, "C overlaps itself");
    expect_both(1, N, N, N, bf(), bf(), rows, BMM_EOVERLAP, "C overlaps itself");
    expect_both(4, N, N, N, bf(), bf(), tangled, BMM_EOVERLAP, "C overlaps itself");
}

static void test_c_overlaps_inputs(void **state)
{
    (void)state;
    bmm_stride s = bf();
    setup_buffers();
    expect(bmm_sgemm_strided(2, N, N, N, 1, C, s, B, s, 0, C + 8, s), BMM_EOVERLAP, "C overlaps A");
    expect(bmm_sgemm_strided(2, N, N, N, 1, A, s, C + 3, s, 0, C + 10, s), BMM_EOVERLAP,
        "C overlaps B");
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 2, N, N, N, s, s, s, 1, 0, 0), BMM_OK);
    expect(bmm_execute(plan, A, C, C + 16), BMM_EOVERLAP, "C overlaps B");
    bmm_plan_destroy(plan);
}

static void test_null_pointers(void **state)
{
    (void)state;
    bmm_stride s = bf();
    setup_buffers();
    expect(bmm_sgemm_strided(1, N, N, N, 1, NULL, s, B, s, 0, C, s), BMM_EINVAL, "A is NULL");
    expect(bmm_sgemm_strided(1, N, N, N, 1, A, s, NULL, s, 0, C, s), BMM_EINVAL, "B is NULL");
    expect(bmm_dgemm_strided(1, N, N, N, 1, (double *)A, s, (double *)B, s, 0, NULL, s),
        BMM_EINVAL, "C is NULL");
    expect(bmm_plan_create(NULL, BMM_F32, 1, N, N, N, s, s, s, 1, 0, 0), BMM_EINVAL, "plan");
    expect(bmm_execute(NULL, A, B, C), BMM_EINVAL, "plan");
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 1, N, N, N, s, s, s, 1, 0, 0), BMM_OK);
    expect(bmm_execute(plan, A, NULL, C), BMM_EINVAL, "B is NULL");
    bmm_plan_destroy(plan);
    assert_string_equal(bmm_plan_kernel(NULL), "");
    bmm_plan_destroy(NULL);
    /* batch == 0 references nothing: a no-op even with NULL operands */
    assert_int_equal(bmm_sgemm_strided(0, N, N, N, 1, NULL, s, NULL, s, 0, NULL, s), BMM_OK);
}

static void test_dtype_and_flags(void **state)
{
    (void)state;
    bmm_stride s = bf();
    bmm_plan *plan = NULL;
    setup_buffers();
    expect(bmm_plan_create(&plan, (bmm_dtype)7, 1, N, N, N, s, s, s, 1, 0, 0), BMM_EINVAL, "dtype");
    expect(bmm_plan_create(&plan, BMM_F32, 1, N, N, N, s, s, s, 1, 0, 1u << 9), BMM_EINVAL, "flags");
    bmm_wisdom_forget();
    expect(bmm_plan_create(&plan, BMM_F32, 1, N, N, N, s, s, s, 1, 0, BMM_WISDOM_ONLY),
        BMM_EUNSUPPORTED, "no wisdom");
    assert_null(plan);
}

static void test_wisdom_files(void **state)
{
    (void)state;
    setup_buffers();
    expect(bmm_wisdom_import_file(NULL), BMM_EINVAL, "path");
    expect(bmm_wisdom_export_file(NULL), BMM_EINVAL, "path");
    expect(bmm_wisdom_import_file("/nonexistent/bmm.wisdom"), BMM_EIO, "/nonexistent/bmm.wisdom");
    expect(bmm_wisdom_export_file("/nonexistent/dir/bmm.wisdom"), BMM_EIO, "/nonexistent/dir");
    /* not regular files: refused, and a FIFO without a writer must not block */
    expect(bmm_wisdom_import_file("."), BMM_EIO, "not a regular file");
    char fifo[64];
    snprintf(fifo, sizeof fifo, "test_validate.%ld.fifo", (long)getpid());
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect(bmm_wisdom_import_file(fifo), BMM_EIO, "not a regular file");
    remove(fifo);
    expect(bmm_wisdom_import_file("/dev/null"), BMM_EIO, "not a regular file");
}

static void test_strerror(void **state)
{
    (void)state;
    /* each status has its own message, and none is the fallback for unknown values */
    for (int s = BMM_OK; s <= BMM_EFORMAT; s++) {
        assert_string_not_equal(bmm_strerror((bmm_status)s), bmm_strerror((bmm_status)99));
        for (int t = BMM_OK; t < s; t++)
            assert_string_not_equal(bmm_strerror((bmm_status)s), bmm_strerror((bmm_status)t));
    }
    assert_string_equal(bmm_strerror(BMM_OK), "success");
    assert_non_null(strstr(bmm_strerror(BMM_EOVERLAP), "overlap"));
    assert_non_null(strstr(bmm_strerror(BMM_EFORMAT), "wisdom"));
    assert_string_equal(bmm_strerror((bmm_status)99), "unknown status");
    assert_string_equal(bmm_strerror((bmm_status)-1), "unknown status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_strides),
        cmocka_unit_test(test_misaligned),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_c_overlaps_itself),
        cmocka_unit_test(test_c_overlaps_inputs),
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_dtype_and_flags),
        cmocka_unit_test(test_wisdom_files),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
