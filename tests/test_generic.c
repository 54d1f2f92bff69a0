/* test_generic.c: the generic path against a long-double reference, on the strides that
 * have no kernel: transposed views, random padded and column-major strides, broadcast. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"

static void check_generic(bmm_dtype dt, int64_t batch, int64_t n, int64_t m, int64_t p,
    int la, int lb, int lc, int broadcast, double alpha, double beta, unsigned seed)
{
    unsigned s = seed;
    bmm_stride sa = th_stride(la, n, m, batch, &s), sb = th_stride(lb, m, p, batch, &s);
    bmm_stride sc = th_stride(lc, n, p, batch, &s);
    if (broadcast & 1)
        sa.batch = 0;
    if (broadcast & 2)
        sb.batch = 0;
    th_case tc;
    th_case_init(&tc, dt, batch, n, m, p, sa, sb, sc, alpha, beta, seed, beta == 0);
    bmm__run(NULL, &tc.pr, tc.A, tc.B, tc.C);
    th_check(&tc, NULL, 2.0, "generic path");
    th_case_free(&tc);
}

static void test_random_strides(void **state)
{
    (void)state;
    unsigned seed = 7;
    for (int it = 0; it < 400; it++) {
        seed = seed * 1664525u + 1013904223u;
        unsigned r = seed >> 4;
        bmm_dtype dt = (r & 1) ? BMM_F64 : BMM_F32;
        int64_t n = 1 + (r >> 1) % 9, m = 1 + (r >> 5) % 11, p = 1 + (r >> 9) % 9;
        int64_t batch = 1 + (r >> 13) % 6;
        int la = (r >> 16) % 5, lb = (r >> 19) % 5, lc = (r >> 22) % 5;
        if (lc == TH_BF_TRANSPOSED)
            lc = TH_RANDOM;
        static const double ab[][2] = { { 1, 0 }, { -0.5, 0 }, { 2, 0.5 }, { 1, 1 } };
        check_generic(dt, batch, n, m, p, la, lb, lc, (r >> 25) % 4, ab[(r >> 27) % 4][0],
            ab[(r >> 27) % 4][1], seed);
    }
}

static void test_transposed_views(void **state)
{
    (void)state;
    /* attention: scores = bmm(enc, dec^T), context = bmm(w^T, enc) */
    check_generic(BMM_F32, 7, 10, 32, 1, TH_BF, TH_BF_TRANSPOSED, TH_BF, 0, 1, 0, 1);
    check_generic(BMM_F64, 7, 1, 10, 32, TH_BF_TRANSPOSED, TH_BF, TH_BF, 0, 1, 0, 2);
    check_generic(BMM_F32, 3, 6, 5, 4, TH_BF_TRANSPOSED, TH_BF_TRANSPOSED, TH_SF, 0, 0.5, 2, 3);
}

static void test_broadcast(void **state)
{
    (void)state;
    check_generic(BMM_F32, 9, 4, 4, 4, TH_BF, TH_BF, TH_BF, 1, 1, 0, 4);
    check_generic(BMM_F64, 9, 3, 5, 7, TH_SF, TH_SF, TH_SF, 2, 1.5, -1, 5);
    check_generic(BMM_F64, 9, 3, 5, 7, TH_BF, TH_SF, TH_BF, 3, 1, 0, 6);
}

static void test_beta0_never_reads_c(void **state)
{
    (void)state;
    for (int dt = 1; bmm__elem_bytes(dt); dt++)  /* every dtype */
        check_generic((bmm_dtype)dt, 4, 5, 6, 7, TH_RANDOM, TH_RANDOM, TH_RANDOM, 0, 3, 0, 8);
}

static void test_nan_in_a_propagates(void **state)
{
    (void)state;
    float A[4] = { NAN, 1, 1, 1 }, B[4] = { 1, 1, 1, 1 }, C[4] = { 0 };
    bmm_stride s = bmm_stride_batch_first(2, 2);
    assert_int_equal(bmm_sgemm_strided(1, 2, 2, 2, 1, A, s, B, s, 0, C, s), BMM_OK);
    assert_true(isnan(C[0]) && isnan(C[1]));
    assert_true(C[2] == 2 && C[3] == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_strides),
        cmocka_unit_test(test_transposed_views),
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_beta0_never_reads_c),
        cmocka_unit_test(test_nan_in_a_propagates),
    };
    return cmocka_run_group_tests_name("generic", tests, NULL, NULL);
}
