/* test_pairs.c: the bf16 kernels of AVX512_BF16 (runtime/kernels/pairs.c), called directly
 * through the kernel ABI on every kind of operand, and through plans; their special values
 * (docs/semantics.md: NaN and infinity propagate, subnormals read and written as zero, an odd
 * m pairs its last element with a zero). On a CPU without AVX512_BF16 (or with BMM_ARCH set)
 * the tests check that no plan takes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* th_check's c for a bf16 kernel: float accumulation, (m + 2) 2^-23 relative to
 * |alpha| sum |a b| + |beta c|, then C's one rounding, half of 2^-7. */
static double bound(int64_t m)
{
    return 0.5 / (double)m + (double)(m + 2) * ldexp(1, -23) / ((double)m * ldexp(1, -7));
}

/* The same for a float C: float accumulation and its one rounding, in f32's epsilon. */
static double float_bound(int64_t m)
{
    return ((double)m + 2.5) / (double)m;
}

/* The kernel pairs.c gives a (large enough) shape: rows for p = 64, dot for p = 1; cf: for a
 * float C. */
static const bmm_kernel_desc *kernel_c(int64_t n, int64_t m, int64_t p, int cf)
{
    bmm__problem pr;
    bmm_stride s = bmm_stride_batch_first(n, m);
    bmm__problem_init(&pr, BMM_BF16, 4, n, m, p, s, bmm_stride_batch_first(m, p),
        bmm_stride_batch_first(n, p), 1, 0);
    pr.cdtype = cf ? BMM_F32 : BMM_BF16;
    return bmm__pairs_kernel(&pr, bmm__cpu_bf16());
}

static const bmm_kernel_desc *kernel_for(int64_t n, int64_t m, int64_t p)
{
    return kernel_c(n, m, p, 0);
}

/* Without AVX512_BF16 (or with BMM_ARCH set): no pairs kernel, and plans convert to f32. */
static int absent(void)
{
    if (bmm__cpu_bf16())
        return 0;
    assert_null(kernel_for(64, 64, 64));
    bmm_plan *plan;
    bmm_stride s = bmm_stride_batch_first(64, 64);
    assert_int_equal(bmm_plan_create(&plan, BMM_BF16, 2, 64, 64, 64, s, s, s, 1, 0,
        BMM_ESTIMATE), BMM_OK);
    assert_string_equal(bmm_plan_operands(plan), "A, B and C converted to f32");
    bmm_plan_destroy(plan);
    return 1;
}

/* Both kernels, for a bf16 C and a float one, on random shapes (odd m, tails of every width
 * and none, blocks of 1 to 16 rows, items past the stack buffer), every layout of A, B and C
 * (transposed views and column-major C: the copies and the one-at-a-time stores), broadcast A
 * or B, rows read backwards, each alpha/beta form with beta = 0 over a C of NaN; guard pages
 * after every operand. */
static void test_kernels(void **state)
{
    (void)state;
    if (absent())
        return;
    const bmm_kernel_desc *ks[2][2] = { { kernel_c(16, 64, 64, 0), kernel_c(64, 256, 1, 0) },
        { kernel_c(16, 64, 64, 1), kernel_c(64, 256, 1, 1) } };
    for (int cf = 0; cf < 2; cf++) {
        assert_non_null(ks[cf][0]);
        assert_non_null(ks[cf][1]);
        assert_int_equal(ks[cf][0]->form, BMM_FORM_GROWS);
        assert_int_equal(ks[cf][1]->form, BMM_FORM_GNT);
        assert_true(ks[cf][0] != ks[!cf][0] && ks[cf][1] != ks[!cf][1]);
    }
    unsigned seed = 31;
    for (int it = 0; it < 800; it++) {
        seed = seed * 1664525u + 1013904223u;
        unsigned r = seed >> 4, st = seed;
        const int cf = it % 4 == 3;
        const bmm_kernel_desc *k = ks[cf][r & 1];
        int big = (r >> 1) % 8 == 0;  /* B's pairs past the 16 KiB stack buffer: the heap */
        int64_t n = 1 + (r >> 4) % (big ? 70 : 19), m = 1 + (r >> 11) % (big ? 200 : 70);
        int64_t p = 1 + (r >> 18) % (big ? 140 : 70), batch = 1 + (r >> 25) % 5;
        if (k->form == BMM_FORM_GNT)
            p = 1 + p % 5;
        else if ((r >> 2) % 4 == 0)  /* whole vectors of columns: the unmasked stores */
            p = 16 * (1 + p % 4);
        int la = (int)(st % 6), lb = (int)(st / 6 % 6), lc = (int)(st / 36 % 6);
        bmm_stride sa = th_stride(la, n, m, batch, &st), sb = th_stride(lb, m, p, batch, &st);
        bmm_stride sc = th_stride(lc, n, p, batch, &st);
        if (st % 5 == 1)
            sa.batch = 0;
        if (st % 5 == 2)
            sb.batch = 0;
        if (st % 7 == 0)
            sa.row = -sa.row;
        static const double ab[][2] = { { 1, 0 }, { -0.5, 0 }, { 2, 0.5 }, { 1, 1 } };
        const double *s = ab[st / 7 % 4];
        th_case tc;
        th_case_init_guarded(&tc, BMM_BF16, batch, n, m, p, sa, sb, sc, s[0], s[1], seed,
            s[1] == 0);
        if (cf)
            th_case_float_c(&tc);
        th_run_kernel(k, &tc);
        th_check(&tc, NULL, cf ? float_bound(m) : bound(m), k->name);
        th_case_free(&tc);
    }
}

/* One 1 x m x 1 product through kernel k: a (m) times b (m), C = c0; a[m] and b[m] follow
 * each operand in memory (an odd m must not read them). */
static float product(const bmm_kernel_desc *k, const float *a, const float *b, int64_t m,
    float c0, float beta)
{
    uint16_t A[80], B[80], C = bmm__half_from_double(c0, 7, 8);
    for (int64_t i = 0; i <= m; i++) {
        A[i] = bmm__half_from_double(a[i], 7, 8);
        B[i] = bmm__half_from_double(b[i], 7, 8);
    }
    /* B as a column (dot: read in place) or as a row of a 1-column matrix (rows: paired) */
    const bmm_args g = { A, B, &C, 1, m, m, m, 1, 1, 1, 1.0, beta, 1, m, 1, 1, 1, 1 };
    k->fn(&g);
    return (float)bmm__half_to_double(C, 7, 8);
}

/* NaN and infinity propagate; subnormal inputs, products and results are zero; an odd m's
 * last element pairs with a zero, not with what follows it; beta = 0 never reads C. */
static void test_special_values(void **state)
{
    (void)state;
    if (absent())
        return;
    const bmm_kernel_desc *ks[2] = { kernel_for(16, 64, 64), kernel_for(64, 256, 1) };
    const float tiny = ldexpf(1, -133), small = ldexpf(1, -64);  /* a bf16 subnormal; normal */
    for (int i = 0; i < 2; i++) {
        const bmm_kernel_desc *k = ks[i];
        float one[5] = { 1, 1, 1, 1, 1 }, a[5] = { 1, NAN, 1, 1, 1 };
        assert_true(isnan(product(k, a, one, 3, 0, 0)));
        a[1] = INFINITY;
        assert_true(isinf(product(k, a, one, 3, 0, 0)));
        assert_true(isinf(product(k, one, a, 3, 0, 0)));
        float t[4] = { tiny, tiny, tiny, 0 };
        assert_true(product(k, t, one, 3, 0, 0) == 0);        /* subnormal inputs */
        float s[3] = { small, small, 0 }, z[2] = { 0, 0 };
        assert_true(product(k, s, s, 2, 0, 0) == 0);          /* subnormal products (2^-128) */
        assert_true(product(k, z, z, 1, ldexpf(1, -120), ldexpf(1, -10)) == 0);  /* result */
        assert_true(product(k, z, z, 1, ldexpf(1, -120), ldexpf(1, -2)) == ldexpf(1, -122));
        assert_true(product(k, one, one, 3, NAN, 0) == 3);    /* beta = 0: C not read */
        assert_true(product(k, one, one, 3, 2, 0.5f) == 4);
        /* odd m: exact cancellation before the one rounding; the pair's zero, not a NaN */
        float a5[6] = { 1, 1 + ldexpf(1, -7), -1, -1, 1, NAN }, b5[6] = { 1, 1, 1, 1, 1, NAN };
        assert_true(product(k, a5, b5, 5, 0, 0) == 1 + ldexpf(1, -7));
    }
}

/* Plans: the kernels where they pay (pairs.c's rule), f32 on converted copies below it;
 * names and operand strings; the generic path when asked. */
static void test_plans(void **state)
{
    (void)state;
    if (absent())
        return;
    static const struct { int64_t n, m, p; int la; const char *kernel, *operands; } CASES[] = {
        { 64, 64, 64, TH_BF, "bmm_bf16_nxmxp_any_avx512bf16_g6_ab",
          "B paired along k (AVX512_BF16)" },
        { 64, 64, 64, TH_BF_TRANSPOSED, "bmm_bf16_nxmxp_any_avx512bf16_g6_ab",
          "A and B paired along k (AVX512_BF16)" },
        { 37, 256, 1, TH_BF, "bmm_bf16_nxmxp_any_avx512bf16_gnt8x1_ab", "as given" },
        { 40, 256, 2, TH_BF, "bmm_bf16_nxmxp_any_avx512bf16_gnt8x1_ab", "B copied transposed" },
        { 8, 8, 8, TH_BF, "bmm_bf16_nxmxp_any_avx512bf16_g6_ab", "as given (AVX512_BF16 pairs)" },
        { 4, 4, 4, TH_BF, "bmm_f32_", "A, B and C converted to f32" },
    };
    /* a float C: the same kernels' other store (bmm_bf16f32_...) */
    for (unsigned flags = BMM_ESTIMATE; flags <= BMM_MEASURE; flags++) {
        unsigned seed = 5;
        bmm_stride sa = th_stride(TH_BF_TRANSPOSED, 40, 40, 9, &seed);
        bmm_stride sb = bmm_stride_batch_first(40, 24), sc = bmm_stride_seq_first(40, 24, 9);
        th_case tc;
        th_case_init(&tc, BMM_BF16, 9, 40, 40, 24, sa, sb, sc, 1.5, -1, 11 + flags, 0);
        th_case_float_c(&tc);
        bmm_plan *plan;
        assert_int_equal(bmm_plan_create(&plan, BMM_BF16, 9, 40, 40, 24, sa, sb, sc, 1.5, -1,
            flags | BMM_C_F32), BMM_OK);
        assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
        assert_string_equal(bmm_plan_kernel(plan), "bmm_bf16f32_nxmxp_any_avx512bf16_g6_ab");
        assert_string_equal(bmm_plan_operands(plan), "A and B paired along k (AVX512_BF16)");
        th_check(&tc, NULL, float_bound(40), "plan, float C");
        bmm_plan_destroy(plan);
        th_case_free(&tc);
    }
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
        for (unsigned flags = BMM_ESTIMATE; flags <= BMM_MEASURE; flags++) {
            int64_t n = CASES[i].n, m = CASES[i].m, p = CASES[i].p;
            unsigned seed = 3;
            bmm_stride sa = th_stride(CASES[i].la, n, m, 9, &seed);
            bmm_stride sb = bmm_stride_batch_first(m, p), sc = bmm_stride_seq_first(n, p, 9);
            th_case tc;
            th_case_init(&tc, BMM_BF16, 9, n, m, p, sa, sb, sc, 1.5, -1, 7 + flags, 0);
            bmm_plan *plan;
            assert_int_equal(bmm_plan_create(&plan, BMM_BF16, 9, n, m, p, sa, sb, sc, 1.5, -1,
                flags), BMM_OK);
            assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
            assert_true(strncmp(bmm_plan_kernel(plan), CASES[i].kernel,
                strlen(CASES[i].kernel)) == 0);
            assert_string_equal(bmm_plan_operands(plan), CASES[i].operands);
            th_check(&tc, NULL, bound(m), "plan");
            bmm_plan_destroy(plan);
            assert_int_equal(bmm_plan_create(&plan, BMM_BF16, 9, n, m, p, sa, sb, sc, 1.5, -1,
                BMM_GENERIC_ONLY), BMM_OK);
            assert_string_equal(bmm_plan_kernel(plan), "generic");
            bmm_plan_destroy(plan);
            th_case_free(&tc);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
