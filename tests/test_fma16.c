/* test_fma16.c: the f16 kernels of AVX-512 (runtime/kernels/fma16.c), called directly through
 * the kernel ABI on every kind of operand, and through plans; their special values (NaN and
 * infinity propagate, f16 subnormals are exact floats, overflow rounds to infinity, beta = 0
 * never reads C). Where AVX-512BW is not admitted (BMM_ARCH=avx2, or the CPU) the tests check
 * that no plan takes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* th_check's c: float accumulation, (m + 2) 2^-23 relative to |alpha| sum |a b| + |beta c|,
 * then C's one rounding, half of 2^-10. */
static double bound(int64_t m)
{
    return 0.5 / (double)m + (double)(m + 2) * ldexp(1, -23) / ((double)m * ldexp(1, -10));
}

/* The same for a float C, in f32's epsilon. */
static double float_bound(int64_t m)
{
    return ((double)m + 2.5) / (double)m;
}

/* The kernel fma16.c gives a row-major shape; cf: for a float C. */
static const bmm_kernel_desc *kernel_c(int64_t n, int64_t m, int64_t p, int cf)
{
    bmm__problem pr;
    bmm__problem_init(&pr, BMM_F16, 4, n, m, p, bmm_stride_batch_first(n, m),
        bmm_stride_batch_first(m, p), bmm_stride_batch_first(n, p), 1, 0);
    pr.cdtype = cf ? BMM_F32 : BMM_F16;
    return bmm__fma16_kernel(&pr, bmm__cpu_f16());
}

/* Not admitted: no kernel, and plans convert to f32. */
static int absent(void)
{
    if (bmm__cpu_f16())
        return 0;
    assert_null(kernel_c(64, 64, 64, 0));
    bmm_plan *plan;
    bmm_stride s = bmm_stride_batch_first(64, 64);
    assert_int_equal(bmm_plan_create(&plan, BMM_F16, 2, 64, 64, 64, s, s, s, 1, 0,
        BMM_ESTIMATE), BMM_OK);
    assert_string_equal(bmm_plan_operands(plan), "A, B and C converted to f32");
    bmm_plan_destroy(plan);
    return 1;
}

/* The four kernels (rows and dot; f16 C, float C) on random shapes: rows: 1 to 4 vectors of
 * columns and more, tails of every width and none, blocks of 1 to 16 rows, odd m (the two
 * sets of accumulators); dot: 1 to 5 columns, k's tails of every width; items past the stack
 * buffer (the heap); every layout of A, B and C (transposed views: A widened
 * by elements, B copied; column-major C: the one-at-a-time stores), broadcast A or B, rows
 * read backwards, each alpha/beta form with beta = 0 over a C of NaN; guard pages. */
static void test_kernels(void **state)
{
    (void)state;
    if (absent())
        return;
    /* [cf][rows, dot] */
    const bmm_kernel_desc *ks[2][2] = { { kernel_c(16, 64, 64, 0), kernel_c(64, 256, 1, 0) },
        { kernel_c(16, 64, 64, 1), kernel_c(64, 256, 1, 1) } };
    for (int cf = 0; cf < 2; cf++) {
        assert_int_equal(ks[cf][0]->form, BMM_FORM_GROWS);
        assert_int_equal(ks[cf][1]->form, BMM_FORM_GNT);
        assert_true(ks[cf][0] != ks[!cf][0] && ks[cf][1] != ks[!cf][1]);
        assert_int_equal(ks[cf][0]->dtype, BMM_F16);
    }
    unsigned seed = 41;
    for (int it = 0; it < 600; it++) {
        seed = seed * 1664525u + 1013904223u;
        unsigned r = seed >> 4, st = seed;
        const int cf = it % 4 == 3;
        const bmm_kernel_desc *k = ks[cf][it % 3 == 2];
        int big = (r >> 1) % 8 == 0;  /* an item's A past the 16 KiB stack buffer */
        int64_t n = 1 + (r >> 4) % (big ? 90 : 19), m = 1 + (r >> 11) % (big ? 120 : 40);
        int64_t p = 1 + (r >> 18) % (big ? 150 : 80), batch = 1 + (r >> 25) % 9;
        if (k->form == BMM_FORM_GNT)
            p = 1 + p % 5;
        else if ((r >> 2) % 4 == 0)  /* whole vectors of columns: the unmasked loads and stores */
            p = 16 * (1 + p % 5);
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
        th_case_init_guarded(&tc, BMM_F16, batch, n, m, p, sa, sb, sc, s[0], s[1], seed,
            s[1] == 0);
        if (cf)
            th_case_float_c(&tc);
        th_run_kernel(k, &tc);
        th_check(&tc, NULL, cf ? float_bound(m) : bound(m), k->name);
        th_case_free(&tc);
    }
}

/* Row 0 of C of a 1 x m x p product through kernel k (p <= 17): a (m) times b (m rows of p
 * equal elements), C = c0 everywhere, beta. */
static float product(const bmm_kernel_desc *k, int64_t p, const float *a, const float *b,
    int64_t m, float c0, float beta)
{
    enum { P = 17 };
    uint16_t A[64], B[64 * P], C[P];
    for (int64_t i = 0; i < m; i++) {
        A[i] = bmm__half_from_double(a[i], 10, 5);
        for (int j = 0; j < p; j++)
            B[i * p + j] = bmm__half_from_double(b[i], 10, 5);
    }
    for (int j = 0; j < p; j++)
        C[j] = bmm__half_from_double(c0, 10, 5);
    const bmm_args g = { A, B, C, 1, m, m * p, p, p, p, 1, 1.0, beta, 1, m, p, 1, 1, 1 };
    k->fn(&g);
    for (int j = 1; j < p; j++)  /* every column alike, the masked tail's too */
        assert_int_equal(C[j], C[0]);
    return (float)bmm__half_to_double(C[0], 10, 5);
}

/* NaN and infinity propagate; subnormal inputs and results are exact (no flush, unlike
 * AVX512_BF16's); overflow rounds to infinity; beta = 0 never reads C. */
static void test_special_values(void **state)
{
    (void)state;
    if (absent())
        return;
    const struct { const bmm_kernel_desc *k; int64_t p; } KS[2] = {
        { kernel_c(16, 64, 64, 0), 17 }, { kernel_c(64, 256, 1, 0), 1 } };
    const float sub = ldexpf(1, -24), one[3] = { 1, 1, 1 };  /* f16's least subnormal */
    for (int i = 0; i < 2; i++) {
        const bmm_kernel_desc *k = KS[i].k;
        const int64_t p = KS[i].p;
        float a[3] = { 1, NAN, 1 };
        assert_true(isnan(product(k, p, a, one, 3, 0, 0)));
        a[1] = INFINITY;
        assert_true(isinf(product(k, p, a, one, 3, 0, 0)));
        assert_true(isinf(product(k, p, one, a, 3, 0, 0)));
        const float s3[3] = { sub, sub, sub };
        assert_true(product(k, p, s3, one, 3, 0, 0) == 3 * sub);  /* subnormals in and out */
        const float big[2] = { 256, 256 };
        assert_true(isinf(product(k, p, big, big, 2, 0, 0)));     /* 131072 overflows f16 */
        assert_true(product(k, p, one, one, 3, NAN, 0) == 3);     /* beta = 0: C not read */
        assert_true(product(k, p, one, one, 3, 2, 0.5f) == 4);
        const float h[2] = { 1 + ldexpf(1, -10), -1 };            /* exact cancellation */
        assert_true(product(k, p, h, one, 2, 0, 0) == ldexpf(1, -10));
    }
}

/* Plans: the rows kernel past one vector of columns, the dot kernel for a column or three of
 * many elements (fma16.c's rule), f32 on converted copies else; names and operand strings. */
static void test_plans(void **state)
{
    (void)state;
    if (absent())
        return;
    static const struct { int64_t n, m, p; int la, lb; const char *kernel, *operands; } CASES[] = {
        { 20, 24, 28, TH_BF, TH_BF, "bmm_f16_nxmxp_any_avx512_g16_ab",
          "A widened (AVX-512 f16)" },
        { 1, 37, 256, TH_BF, TH_SF, "bmm_f16_nxmxp_any_avx512_g16_ab",
          "A widened (AVX-512 f16)" },
        { 9, 31, 40, TH_BF_TRANSPOSED, TH_BF_TRANSPOSED, "bmm_f16_nxmxp_any_avx512_g16_ab",
          "A widened, B copied (AVX-512 f16)" },
        { 16, 16, 16, TH_BF, TH_BF, "bmm_f32_", "A, B and C converted to f32" },
        { 4, 4, 32, TH_BF, TH_BF, "bmm_f16_nxmxp_any_avx512_g16_ab",
          "A widened (AVX-512 f16)" },
        { 1, 3, 17, TH_BF, TH_BF, "bmm_f32_", "A, B and C converted to f32" },  /* 51 */
        { 37, 256, 1, TH_BF, TH_BF, "bmm_f16_nxmxp_any_avx512_gnt8x1_ab",
          "as given (AVX-512 f16)" },
        { 40, 256, 2, TH_BF_TRANSPOSED, TH_BF, "bmm_f16_nxmxp_any_avx512_gnt8x1_ab",
          "A copied, B copied transposed (AVX-512 f16)" },
        { 12, 20, 3, TH_BF, TH_BF, "bmm_f32_", "A, B and C converted to f32" },
    };
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++)
        for (unsigned flags = BMM_ESTIMATE; flags <= BMM_MEASURE; flags++)
            for (int cf = 0; cf < 2; cf++) {
                int64_t n = CASES[i].n, m = CASES[i].m, p = CASES[i].p;
                unsigned seed = 3;
                bmm_stride sa = th_stride(CASES[i].la, n, m, 9, &seed);
                bmm_stride sb = th_stride(CASES[i].lb, m, p, 9, &seed);
                bmm_stride sc = bmm_stride_seq_first(n, p, 9);
                th_case tc;
                th_case_init(&tc, BMM_F16, 9, n, m, p, sa, sb, sc, 1.5, -1, 7 + flags, 0);
                if (cf)
                    th_case_float_c(&tc);
                bmm_plan *plan;
                assert_int_equal(bmm_plan_create(&plan, BMM_F16, 9, n, m, p, sa, sb, sc, 1.5,
                    -1, flags | (cf ? BMM_C_F32 : 0)), BMM_OK);
                assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
                const char *want = CASES[i].kernel, *got = bmm_plan_kernel(plan);
                if (cf && strncmp(want, "bmm_f16_", 8) == 0)  /* its float-C twin */
                    assert_true(strncmp(got, "bmm_f16f32_", 11) == 0
                        && strcmp(got + 11, want + 8) == 0);
                else
                    assert_true(strncmp(got, want, strlen(want)) == 0);
                if (!cf)
                    assert_string_equal(bmm_plan_operands(plan), CASES[i].operands);
                th_check(&tc, NULL, cf ? float_bound(m) : bound(m), "plan");
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
