/* test_cblas.c: bmm_cblas_?gemm_batch_strided (s, d; sb and sh: 16-bit a and b, a float c)
 * against the plain strided API and the harness's long-double reference, for both layouts and
 * every transpose (ConjTrans included), padded leading dimensions,
 * a broadcast A (stridea 0), alpha/beta, k == 0; and every argument rule: a status, a message
 * naming the parameter, C untouched. Strides for the plain API are derived here from element
 * addresses, independently of cblas.c's mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_cblas.h"
#include "harness.h"

enum { ROW = BMM_CBLAS_ROW_MAJOR, COL = BMM_CBLAS_COL_MAJOR, NT = BMM_CBLAS_NO_TRANS,
    TR = BMM_CBLAS_TRANS, CT = BMM_CBLAS_CONJ_TRANS };

/* Offset of op(X)(i, j) in a stored matrix with leading dimension ld. */
static int64_t at(int layout, int trans, int64_t ld, int64_t i, int64_t j)
{
    if (trans != NT) {
        int64_t t = i;
        i = j;
        j = t;
    }
    return layout == ROW ? i * ld + j : i + j * ld;
}

static bmm_stride strides_of(int layout, int trans, int64_t ld, int64_t batch_stride)
{
    int64_t o = at(layout, trans, ld, 0, 0);
    return (bmm_stride){ batch_stride, at(layout, trans, ld, 1, 0) - o,
        at(layout, trans, ld, 0, 1) - o };
}

static void fill(double *x, size_t count, unsigned seed)
{
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (double)((seed >> 9) & 0xff) / 64.0 - 2.0;
    }
}

typedef struct {
    int layout, ta, tb;
    int64_t m, n, k, lda, ldb, ldc, sa, sb, sc, batch;
    double alpha, beta;
} args;

static bmm_status call(const args *x, bmm_dtype dt, const void *a, const void *b, void *c)
{
    if (dt == BMM_F32)
        return bmm_cblas_sgemm_batch_strided(x->layout, x->ta, x->tb, x->m, x->n, x->k,
            (float)x->alpha, a, x->lda, x->sa, b, x->ldb, x->sb, (float)x->beta, c, x->ldc, x->sc,
            x->batch);
    if (dt == BMM_BF16)
        return bmm_cblas_sbgemm_batch_strided(x->layout, x->ta, x->tb, x->m, x->n, x->k,
            (float)x->alpha, a, x->lda, x->sa, b, x->ldb, x->sb, (float)x->beta, c, x->ldc, x->sc,
            x->batch);
    if (dt == BMM_F16)
        return bmm_cblas_shgemm_batch_strided(x->layout, x->ta, x->tb, x->m, x->n, x->k,
            (float)x->alpha, a, x->lda, x->sa, b, x->ldb, x->sb, (float)x->beta, c, x->ldc, x->sc,
            x->batch);
    return bmm_cblas_dgemm_batch_strided(x->layout, x->ta, x->tb, x->m, x->n, x->k, x->alpha, a,
        x->lda, x->sa, b, x->ldb, x->sb, x->beta, c, x->ldc, x->sc, x->batch);
}

/* One case, on the harness's operands laid out by the strides derived above: the result is
 * within the GEMM bound of the long-double reference, C's padding (the gaps ldc leaves) keeps
 * its sentinel, and the plain API on the same strides gives the same bits. */
static void check_case(const args *x, bmm_dtype dt)
{
    bmm_stride sa = strides_of(x->layout, x->ta, x->lda, x->sa);
    bmm_stride sb = strides_of(x->layout, x->tb, x->ldb, x->sb);
    bmm_stride sc = strides_of(x->layout, NT, x->ldc, x->sc);
    th_case tc;
    th_case_init(&tc, dt, x->batch, x->m, x->k, x->n, sa, sb, sc, x->alpha, x->beta, 7,
        x->beta == 0);
    if (dt == BMM_BF16 || dt == BMM_F16)
        th_case_float_c(&tc);
    if (call(x, dt, tc.A, tc.B, tc.C) != BMM_OK)
        fail_msg("layout %d trans %d/%d: %s", x->layout, x->ta, x->tb, bmm_last_error());
    th_check(&tc, NULL, 4, "cblas entry point");
    void *via_cblas = th_copy_c(&tc);
    th_case_reset(&tc);
    bmm_status st = dt == BMM_F32
        ? bmm_sgemm_strided(x->batch, x->m, x->k, x->n, (float)x->alpha, tc.A, sa, tc.B, sb,
            (float)x->beta, tc.C, sc)
        : dt == BMM_BF16 ? bmm_sbgemm_strided(x->batch, x->m, x->k, x->n, (float)x->alpha, tc.A,
            sa, tc.B, sb, (float)x->beta, tc.C, sc)
        : dt == BMM_F16 ? bmm_shgemm_strided(x->batch, x->m, x->k, x->n, (float)x->alpha, tc.A,
            sa, tc.B, sb, (float)x->beta, tc.C, sc)
        : bmm_dgemm_strided(x->batch, x->m, x->k, x->n, x->alpha, tc.A, sa, tc.B, sb, x->beta,
            tc.C, sc);
    assert_int_equal(st, BMM_OK);
    void *via_plain = th_copy_c(&tc);
    assert_memory_equal(via_cblas, via_plain,
        (size_t)tc.ext[2] * (size_t)bmm__operand_bytes(&tc.pr, 2));
    free(via_cblas);
    free(via_plain);
    th_case_free(&tc);
}

/* Every layout and transpose, tight and padded leading dimensions, shapes with and without
 * specialized kernels. */
static void test_layouts_and_transposes(void **state)
{
    (void)state;
    const int64_t shapes[][3] = { { 4, 4, 4 }, { 8, 8, 8 }, { 5, 3, 7 }, { 1, 9, 4 }, { 6, 1, 5 },
        { 3, 5, 1 }, { 13, 13, 13 } };
    const int layouts[] = { ROW, COL }, trans[] = { NT, TR, CT };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int li = 0; li < 2; li++)
            for (int ai = 0; ai < 3; ai++)
                for (int bi = 0; bi < 3; bi++)
                    for (int pad = 0; pad < 2; pad++) {
                        args x = { layouts[li], trans[ai], trans[bi], shapes[s][0], shapes[s][1],
                            shapes[s][2], 0, 0, 0, 0, 0, 0, 5, 1.5, pad ? 0.5 : 0 };
                        int row = x.layout == ROW;
                        /* the tightest legal leading dimensions, plus pad */
                        x.lda = (row != (x.ta != NT) ? x.k : x.m) + 3 * pad;
                        x.ldb = (row != (x.tb != NT) ? x.n : x.k) + 2 * pad;
                        x.ldc = (row ? x.n : x.m) + pad;
                        x.sa = pad ? 0 : x.lda * (row != (x.ta != NT) ? x.m : x.k);
                        x.sb = x.ldb * (row != (x.tb != NT) ? x.k : x.n) + pad;
                        x.sc = x.ldc * (row ? x.m : x.n) + 7 * pad;
                        check_case(&x, BMM_F32);
                        check_case(&x, BMM_F64);
                        check_case(&x, BMM_BF16);
                        check_case(&x, BMM_F16);
                    }
}

/* BLAS's degenerate cases: k == 0 and alpha == 0 give beta C without reading A or B (NULL
 * here); m, n or batch_size 0 touch nothing. */
static void test_degenerate(void **state)
{
    (void)state;
    double c[12], c0[12];
    for (int i = 0; i < 12; i++)
        c[i] = c0[i] = i + 1;
    assert_int_equal(bmm_cblas_dgemm_batch_strided(ROW, NT, NT, 2, 3, 0, 1, NULL, 1, 0, NULL, 3,
        0, 0.5, c, 3, 6, 2), BMM_OK);
    for (int i = 0; i < 12; i++)
        assert_true(c[i] == 0.5 * c0[i]);
    assert_int_equal(bmm_cblas_dgemm_batch_strided(COL, TR, TR, 2, 3, 4, 0, NULL, 4, 8, NULL, 3,
        12, 0, c, 2, 6, 2), BMM_OK);
    for (int i = 0; i < 12; i++)
        assert_true(c[i] == 0);
    float f[4] = { 1, 2, 3, 4 };
    assert_int_equal(bmm_cblas_sgemm_batch_strided(ROW, NT, NT, 2, 2, 0, 1, NULL, 1, 0, NULL, 2,
        0, 2, f, 2, 4, 1), BMM_OK);
    assert_true(f[0] == 2 && f[3] == 8);
    assert_int_equal(bmm_cblas_sbgemm_batch_strided(COL, TR, NT, 2, 2, 0, 1, NULL, 1, 0, NULL, 2,
        0, 0.5f, f, 2, 4, 1), BMM_OK);  /* 16-bit a and b: c is float all the same */
    assert_true(f[0] == 1 && f[3] == 4);
    assert_int_equal(bmm_cblas_sgemm_batch_strided(ROW, NT, NT, 0, 2, 2, 1, NULL, 2, 0, NULL, 2,
        0, 0, NULL, 2, 0, 5), BMM_OK);
    assert_int_equal(bmm_cblas_sgemm_batch_strided(COL, NT, NT, 2, 0, 2, 1, NULL, 2, 0, NULL, 2,
        0, 0, NULL, 2, 0, 5), BMM_OK);
    assert_int_equal(bmm_cblas_dgemm_batch_strided(ROW, NT, NT, 2, 2, 2, 1, NULL, 2, 4, NULL, 2,
        4, 0, NULL, 2, 4, 0), BMM_OK);
}

/* Each rule broken once from a valid call: BMM_EINVAL, the parameter named, C untouched. */
static void test_argument_errors(void **state)
{
    (void)state;
    static const struct {
        const char *field, *named;
        int64_t value;
    } bad[] = {
        { "layout", "layout", 100 }, { "transa", "transa", 110 }, { "transb", "transb", 114 },
        { "m", "m = -1", -1 }, { "n", "n = -1", -1 }, { "k", "k = -1", -1 },
        { "lda", "lda = 2", 2 }, { "ldb", "ldb = 3", 3 }, { "ldc", "ldc = 0", 0 },
        { "sa", "stridea", -12 }, { "sb", "strideb", -1 }, { "sc", "stridec", 11 },
        { "batch", "batch_size", -2 }, { "a", "A", 0 }, { "c", "C", 0 },
    };
    double a[64], b[64], c[64], c0[64];
    fill(a, 64, 4), fill(b, 64, 5), fill(c, 64, 6);
    memcpy(c0, c, sizeof c);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        args x = { ROW, NT, NT, 3, 4, 5, 5, 4, 4, 15, 20, 12, 2, 1, 1 };
        const double *pa = a;
        double *pc = c;
        const char *f = bad[i].field;
        int64_t v = bad[i].value;
        if (!strcmp(f, "layout")) x.layout = (int)v;
        else if (!strcmp(f, "transa")) x.ta = (int)v;
        else if (!strcmp(f, "transb")) x.tb = (int)v;
        else if (!strcmp(f, "m")) x.m = v;
        else if (!strcmp(f, "n")) x.n = v;
        else if (!strcmp(f, "k")) x.k = v;
        else if (!strcmp(f, "lda")) x.lda = v;
        else if (!strcmp(f, "ldb")) x.ldb = v;
        else if (!strcmp(f, "ldc")) x.ldc = v;
        else if (!strcmp(f, "sa")) x.sa = v;
        else if (!strcmp(f, "sb")) x.sb = v;
        else if (!strcmp(f, "sc")) x.sc = v;
        else if (!strcmp(f, "batch")) x.batch = v;
        else if (!strcmp(f, "a")) pa = NULL;
        else pc = NULL;
        assert_int_equal(bmm_cblas_dgemm_batch_strided(x.layout, x.ta, x.tb, x.m, x.n, x.k,
            x.alpha, pa, x.lda, x.sa, b, x.ldb, x.sb, x.beta, pc, x.ldc, x.sc, x.batch), BMM_EINVAL);
        if (!strstr(bmm_last_error(), bad[i].named))
            fail_msg("%s: message \"%s\" does not name %s", f, bmm_last_error(), bad[i].named);
        assert_memory_equal(c, c0, sizeof c);
    }
    /* the valid call itself works (the table above breaks one rule each) */
    args ok = { ROW, NT, NT, 3, 4, 5, 5, 4, 4, 15, 20, 12, 2, 1, 1 };
    check_case(&ok, BMM_F64);
    /* the column-major rules: lda >= m untransposed, >= k transposed */
    assert_int_equal(bmm_cblas_sgemm_batch_strided(COL, NT, NT, 3, 4, 5, 1, (float *)a, 2, 0,
        (float *)b, 5, 0, 0, (float *)c, 3, 12, 1), BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "lda = 2 must be at least 3"));
    assert_int_equal(bmm_cblas_sgemm_batch_strided(COL, TR, NT, 3, 4, 5, 1, (float *)a, 3, 0,
        (float *)b, 5, 0, 0, (float *)c, 3, 12, 1), BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "lda = 3 must be at least 5"));
    assert_memory_equal(c, c0, sizeof c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_and_transposes),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_argument_errors),
    };
    return cmocka_run_group_tests_name("cblas", tests, NULL, NULL);
}
