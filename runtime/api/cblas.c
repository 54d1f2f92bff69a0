/* cblas.c: cblas_?gemm_batch_strided's arguments mapped onto bmmgen's strided problem.
 *
 * CBLAS computes C (m x n) = alpha op(A) (m x k) op(B) (k x n) + beta C; bmmgen's C is n x p
 * with inner size m, so (n, m, p) = (m, k, n). op(X)'s rows are ld apart and its elements
 * adjacent when X is row-major and not transposed, or column-major and transposed; else the
 * other way round. Every check comes first, in the order of the parameters, as xerbla
 * numbers them. */
#include <stdint.h>

#include "bmm_cblas.h"
#include "bmm_internal.h"

typedef struct {
    bmm_stride sa, sb, sc;
} cblas_strides;

static int trans_ok(int t)
{
    return t == BMM_CBLAS_NO_TRANS || t == BMM_CBLAS_TRANS || t == BMM_CBLAS_CONJ_TRANS;
}

/* An operand's strides from its stored rows x cols matrix (op(X) or its transpose), with its
 * leading dimension checked: at least the stored columns (row-major) or rows (column-major). */
static bmm_status operand(const char *fn, char name, int row_major, int trans, int64_t ld,
    int64_t rows, int64_t cols, int64_t batch_stride, bmm_stride *s)
{
    int64_t need = row_major ? cols : rows;
    if (need < 1)
        need = 1;
    if (ld < need)
        return bmm__fail(BMM_EINVAL, "%s: ld%c = %lld must be at least %lld (the %s of the "
            "stored %c, %s)", fn, name - 'A' + 'a', (long long)ld, (long long)need,
            row_major ? "columns" : "rows", name, row_major ? "row-major" : "column-major");
    *s = row_major != trans ? (bmm_stride){ batch_stride, ld, 1 } : (bmm_stride){ batch_stride, 1, ld };
    return BMM_OK;
}

static bmm_status map_args(const char *fn, int layout, int transa, int transb, int64_t m,
    int64_t n, int64_t k, int64_t lda, int64_t stridea, int64_t ldb, int64_t strideb, int64_t ldc,
    int64_t stridec, int64_t batch, cblas_strides *out)
{
    if (layout != BMM_CBLAS_ROW_MAJOR && layout != BMM_CBLAS_COL_MAJOR)
        return bmm__fail(BMM_EINVAL, "%s: layout = %d is neither CblasRowMajor (101) nor "
            "CblasColMajor (102)", fn, layout);
    if (!trans_ok(transa) || !trans_ok(transb))
        return bmm__fail(BMM_EINVAL, "%s: %s = %d is not CblasNoTrans (111), CblasTrans (112) "
            "or CblasConjTrans (113)", fn, trans_ok(transa) ? "transb" : "transa",
            trans_ok(transa) ? transb : transa);
    const char *neg = m < 0 ? "m" : n < 0 ? "n" : k < 0 ? "k" : batch < 0 ? "batch_size" : NULL;
    if (neg)
        return bmm__fail(BMM_EINVAL, "%s: %s = %lld is negative", fn, neg,
            (long long)(m < 0 ? m : n < 0 ? n : k < 0 ? k : batch));
    int row_major = layout == BMM_CBLAS_ROW_MAJOR;
    int ta = transa != BMM_CBLAS_NO_TRANS, tb = transb != BMM_CBLAS_NO_TRANS;
    /* stored A: op(A) (m x k) or its transpose; likewise B (k x n) */
    bmm_status st = operand(fn, 'A', row_major, ta, lda, ta ? k : m, ta ? m : k, stridea, &out->sa);
    if (st == BMM_OK)
        st = operand(fn, 'B', row_major, tb, ldb, tb ? n : k, tb ? k : n, strideb, &out->sb);
    if (st == BMM_OK)
        st = operand(fn, 'C', row_major, 0, ldc, m, n, stridec, &out->sc);
    if (st != BMM_OK)
        return st;
    if (stridea < 0 || strideb < 0)
        return bmm__fail(BMM_EINVAL, "%s: %s = %lld is negative", fn,
            stridea < 0 ? "stridea" : "strideb", (long long)(stridea < 0 ? stridea : strideb));
    /* C_i must not overlap C_j: one C_i spans ldc times its columns (row-major: rows) */
    int64_t lines = row_major ? m : n;
    if (batch > 1 && lines > 0 && (stridec < 0 || stridec / lines < ldc))
        return bmm__fail(BMM_EINVAL, "%s: stridec = %lld must be at least ldc * %s = %lld * %lld "
            "(one C_i) when batch_size > 1", fn, (long long)stridec, row_major ? "m" : "n",
            (long long)ldc, (long long)lines);
    return BMM_OK;
}

/* Every dtype (BMM_BF16, BMM_F16: 16-bit a and b, a float c, as sbgemm): checks, BLAS's quick returns, then the one-shot call. alpha and beta travel as
 * double (exact for float). k == 0 or alpha == 0: C = beta C, and BLAS reads neither A nor B
 * (they may be NULL), so a zero that is never read stands in for both. */
static bmm_status gemm_batch_strided(bmm_dtype dt, const char *fn, int layout, int transa,
    int transb, int64_t m, int64_t n, int64_t k, double alpha, const void *a, int64_t lda,
    int64_t stridea, const void *b, int64_t ldb, int64_t strideb, double beta, void *c,
    int64_t ldc, int64_t stridec, int64_t batch)
{
    static const double zero[1];
    cblas_strides s;
    bmm_status st = map_args(fn, layout, transa, transb, m, n, k, lda, stridea, ldb, strideb, ldc,
        stridec, batch, &s);
    if (st != BMM_OK || m == 0 || n == 0 || batch == 0)
        return st;
    if (k == 0 || alpha == 0) {
        a = b = zero;
        s.sa = s.sb = (bmm_stride){ 0, 0, 0 };
        k = 1;
        alpha = 0;
    }
    if (dt == BMM_F32)
        return bmm_sgemm_strided(batch, m, k, n, (float)alpha, a, s.sa, b, s.sb, (float)beta, c,
            s.sc);
    if (dt == BMM_BF16)
        return bmm_sbgemm_strided(batch, m, k, n, (float)alpha, a, s.sa, b, s.sb, (float)beta,
            c, s.sc);
    if (dt == BMM_F16)
        return bmm_shgemm_strided(batch, m, k, n, (float)alpha, a, s.sa, b, s.sb, (float)beta,
            c, s.sc);
    return bmm_dgemm_strided(batch, m, k, n, alpha, a, s.sa, b, s.sb, beta, c, s.sc);
}

bmm_status bmm_cblas_sgemm_batch_strided(int layout, int transa, int transb, int64_t m,
    int64_t n, int64_t k, float alpha, const float *a, int64_t lda, int64_t stridea,
    const float *b, int64_t ldb, int64_t strideb, float beta, float *c, int64_t ldc,
    int64_t stridec, int64_t batch_size)
{
    return gemm_batch_strided(BMM_F32, "bmm_cblas_sgemm_batch_strided", layout, transa, transb,
        m, n, k, alpha, a, lda, stridea, b, ldb, strideb, beta, c, ldc, stridec, batch_size);
}

bmm_status bmm_cblas_dgemm_batch_strided(int layout, int transa, int transb, int64_t m,
    int64_t n, int64_t k, double alpha, const double *a, int64_t lda, int64_t stridea,
    const double *b, int64_t ldb, int64_t strideb, double beta, double *c, int64_t ldc,
    int64_t stridec, int64_t batch_size)
{
    return gemm_batch_strided(BMM_F64, "bmm_cblas_dgemm_batch_strided", layout, transa, transb,
        m, n, k, alpha, a, lda, stridea, b, ldb, strideb, beta, c, ldc, stridec, batch_size);
}

bmm_status bmm_cblas_sbgemm_batch_strided(int layout, int transa, int transb, int64_t m,
    int64_t n, int64_t k, float alpha, const bmm_bf16 *a, int64_t lda, int64_t stridea,
    const bmm_bf16 *b, int64_t ldb, int64_t strideb, float beta, float *c, int64_t ldc,
    int64_t stridec, int64_t batch_size)
{
    return gemm_batch_strided(BMM_BF16, "bmm_cblas_sbgemm_batch_strided", layout, transa,
        transb, m, n, k, alpha, a, lda, stridea, b, ldb, strideb, beta, c, ldc, stridec,
        batch_size);
}

bmm_status bmm_cblas_shgemm_batch_strided(int layout, int transa, int transb, int64_t m,
    int64_t n, int64_t k, float alpha, const bmm_f16 *a, int64_t lda, int64_t stridea,
    const bmm_f16 *b, int64_t ldb, int64_t strideb, float beta, float *c, int64_t ldc,
    int64_t stridec, int64_t batch_size)
{
    return gemm_batch_strided(BMM_F16, "bmm_cblas_shgemm_batch_strided", layout, transa,
        transb, m, n, k, alpha, a, lda, stridea, b, ldb, strideb, beta, c, ldc, stridec,
        batch_size);
}
