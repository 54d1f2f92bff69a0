/* test_strides.c: operands exactly as NumPy and PyTorch hand them over. A dimension of extent
 * 1 may have any stride (broadcast_to gives 0, unsqueeze anything); batch 0 is a no-op whatever
 * the strides and pointers; zero strides broadcast A or B along any dimension; negative
 * strides (a[:, ::-1]) are served. Each result is checked against the long-double reference
 * at guard pages, and views that differ only in meaningless strides share one plan choice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Runs one case through a plan and the one-shot call; both must match the reference. */
static void run_case(bmm_dtype dt, int64_t batch, int64_t n, int64_t m, int64_t p, bmm_stride sa,
    bmm_stride sb, bmm_stride sc, double alpha, double beta, const char *what)
{
    th_case tc;
    th_case_init_guarded(&tc, dt, batch, n, m, p, sa, sb, sc, alpha, beta, 7, beta == 0);
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, dt, batch, n, m, p, sa, sb, sc, alpha, beta, 0),
        BMM_OK);
    assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
    th_check(&tc, NULL, 4, what);
    bmm_plan_destroy(plan);
    th_case_reset(&tc);
    bmm_status st = dt == BMM_F32
        ? bmm_sgemm_strided(batch, n, m, p, (float)alpha, tc.A, sa, tc.B, sb, (float)beta, tc.C, sc)
        : bmm_dgemm_strided(batch, n, m, p, alpha, tc.A, sa, tc.B, sb, beta, tc.C, sc);
    assert_int_equal(st, BMM_OK);
    th_check(&tc, NULL, 4, what);
    th_case_free(&tc);
}

static const char *planned(int64_t batch, int64_t n, int64_t m, int64_t p, bmm_stride sa,
    bmm_stride sb, bmm_stride sc)
{
    static char name[128];
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, batch, n, m, p, sa, sb, sc, 1, 0, 0), BMM_OK);
    snprintf(name, sizeof name, "%s", bmm_plan_kernel(plan));
    bmm_plan_destroy(plan);
    return name;
}

/* Extent-1 dimensions: any stride, including 0 and negative; the choice is the contiguous one. */
static void test_size_one_dimensions(void **state)
{
    (void)state;
    const int64_t any[] = { 0, -7, 1, 12345, INT64_MIN, INT64_MAX };
    bmm_stride bfa = bmm_stride_batch_first(8, 16), bfb = bmm_stride_batch_first(16, 1);
    bmm_stride bfc = bmm_stride_batch_first(8, 1);
    char want[128];
    snprintf(want, sizeof want, "%s", planned(32, 8, 16, 1, bfa, bfb, bfc));
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        /* B x h x 1 and C x n x 1: the column stride means nothing */
        bmm_stride sb = bfb, sc = bfc;
        sb.col = any[i];
        sc.col = any[i];
        assert_string_equal(planned(32, 8, 16, 1, bfa, sb, sc), want);
        run_case(BMM_F32, 32, 8, 16, 1, bfa, sb, sc, 1, 0, "p = 1, any column stride");
        /* one row (1 x m times m x p) and a batch of one */
        bmm_stride ra = bmm_stride_batch_first(1, 5), rc = bmm_stride_batch_first(1, 3);
        ra.row = any[i];
        rc.row = any[i];
        run_case(BMM_F64, 6, 1, 5, 3, ra, bmm_stride_batch_first(5, 3), rc, 0.5, 2,
            "n = 1, any row stride");
        bmm_stride b1 = bmm_stride_batch_first(4, 4);
        b1.batch = any[i];
        run_case(BMM_F32, 1, 4, 4, 4, b1, b1, b1, 1, 1, "batch 1, any batch stride");
    }
}

/* Batch 0: nothing is referenced, so nothing about strides or pointers is checked. */
static void test_empty_batch(void **state)
{
    (void)state;
    bmm_stride zero = { 0, 0, 0 }, wild = { INT64_MIN, -1, INT64_MAX };
    assert_int_equal(bmm_sgemm_strided(0, 3, 4, 5, 1, NULL, zero, NULL, zero, 0, NULL, zero),
        BMM_OK);
    assert_int_equal(bmm_dgemm_strided(0, 3, 4, 5, 1, NULL, wild, NULL, wild, 1, NULL, wild),
        BMM_OK);
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 0, 3, 4, 5, zero, zero, zero, 1, 0,
        BMM_MEASURE), BMM_OK);
    assert_int_equal(bmm_execute(plan, NULL, NULL, NULL), BMM_OK);
    bmm_plan_destroy(plan);
}

/* Zero strides broadcast an input along any dimension (expand, broadcast_to). */
static void test_broadcast_inputs(void **state)
{
    (void)state;
    bmm_stride rows0 = { 7, 0, 1 }, cols0 = { 5, 1, 0 }, all0 = { 0, 0, 0 };
    run_case(BMM_F32, 9, 5, 7, 6, rows0, bmm_stride_batch_first(7, 6),
        bmm_stride_batch_first(5, 6), 1, 0, "A rows broadcast");
    run_case(BMM_F64, 9, 5, 7, 6, bmm_stride_batch_first(5, 7), cols0,
        bmm_stride_batch_first(5, 6), 1, 1, "B columns broadcast");
    run_case(BMM_F32, 9, 4, 4, 4, all0, all0, bmm_stride_batch_first(4, 4), 2, 0,
        "A and B one scalar");
}

/* Negative strides in every dimension of every operand, alone and together. */
static void test_negative_strides(void **state)
{
    (void)state;
    const int64_t n = 5, m = 6, p = 7, batch = 4;
    for (int o = 0; o < 3; o++)
        for (int d = 0; d < 3; d++)
            for (int dt = BMM_F32; dt <= BMM_F64; dt++) {
                bmm_stride s[3] = { bmm_stride_batch_first(n, m), bmm_stride_batch_first(m, p),
                    bmm_stride_batch_first(n, p) };
                int64_t *f = d == 0 ? &s[o].batch : d == 1 ? &s[o].row : &s[o].col;
                *f = -*f;
                run_case((bmm_dtype)dt, batch, n, m, p, s[0], s[1], s[2], 1, dt == BMM_F64 ? 0.5 : 0,
                    "one negative stride");
            }
    /* a[::-1, ::-1, ::-1]-style views of all three */
    bmm_stride ra = { -n * m, -m, -1 }, rb = { -m * p, -p, -1 }, rc = { -n * p, -p, -1 };
    run_case(BMM_F32, batch, n, m, p, ra, rb, rc, 1, 0, "all reversed");
    run_case(BMM_F64, batch, n, m, p, ra, rb, rc, -1.5, 0.25, "all reversed, alpha/beta");
    /* served by kernels of layout ANY (any strides) or the generic path */
    const char *k = planned(batch, n, m, p, ra, rb, rc);
    const bmm_kernel_desc *kd = bmm__kernel_by_name(k);
    assert_true(strcmp(k, "generic") == 0 || (kd && kd->layout == BMM_LAYOUT_ANY));
}

/* BLAS scalars: alpha == 0 reads neither A nor B (Inf and NaN there never reach C), and an
 * f32 alpha or beta is classified as the float the kernel gets (beta 1e-50 is 0: C not read). */
static void test_blas_scalars(void **state)
{
    (void)state;
    for (int dt = BMM_F32; dt <= BMM_F64; dt++)
        for (int batch = 1; batch <= 64; batch *= 8) {
            th_case tc;
            bmm_stride s = bmm_stride_batch_first(4, 4);
            th_case_init(&tc, (bmm_dtype)dt, batch, 4, 4, 4, s, s, s, 0, 0.5, 3, 0);
            for (int64_t i = 0; i < tc.ext[0]; i++) {
                if (dt == BMM_F32)
                    ((float *)tc.A)[i] = INFINITY, ((float *)tc.B)[i] = NAN;
                else
                    ((double *)tc.A)[i] = 1e300, ((double *)tc.B)[i] = 1e300;
            }
            const double betas[] = { 0.5, 0, 1 };
            for (int b = 0; b < 3; b++) {
                th_case_reset(&tc);
                tc.beta = betas[b];
                bmm_plan *plan = NULL;
                assert_int_equal(bmm_plan_create(&plan, (bmm_dtype)dt, batch, 4, 4, 4, s, s, s,
                    0, betas[b], 0), BMM_OK);
                assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
                th_check(&tc, NULL, 1, "alpha = 0 (plan)");
                bmm_plan_destroy(plan);
                th_case_reset(&tc);
                assert_int_equal(dt == BMM_F32
                    ? bmm_sgemm_strided(batch, 4, 4, 4, 0, tc.A, s, tc.B, s, (float)betas[b],
                        tc.C, s)
                    : bmm_dgemm_strided(batch, 4, 4, 4, 0, tc.A, s, tc.B, s, betas[b], tc.C, s),
                    BMM_OK);
                th_check(&tc, NULL, 1, "alpha = 0 (one-shot)");
            }
            th_case_free(&tc);
        }
    /* beta = 1e-50 in f32 is 0: C (all NaN) must not be read */
    th_case tc;
    bmm_stride s = bmm_stride_batch_first(4, 4);
    th_case_init(&tc, BMM_F32, 8, 4, 4, 4, s, s, s, 1, 0, 5, 1);
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 8, 4, 4, 4, s, s, s, 1, 1e-50, 0), BMM_OK);
    assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
    th_check(&tc, NULL, 4, "f32 beta 1e-50");
    bmm_plan_destroy(plan);
    th_case_free(&tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_one_dimensions),
        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_broadcast_inputs),
        cmocka_unit_test(test_negative_strides),
        cmocka_unit_test(test_blas_scalars),
    };
    return cmocka_run_group_tests_name("strides", tests, NULL, NULL);
}
