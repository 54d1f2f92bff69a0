/* bmm_cblas.h: bmmgen behind the CBLAS batch-strided interface. The argument order and the
 * enum values are those of cblas_?gemm_batch_strided (MKL, OpenBLAS 0.3.30+, NVPL): code that
 * calls cblas_sgemm_batch_strided switches by changing the prefix. For i in 0 .. batch_size-1:
 *
 *     C_i = alpha op(A_i) op(B_i) + beta C_i,   op(A_i) m x k, op(B_i) k x n, C_i m x n,
 *
 * with A_i at a + i*stridea (likewise B, C). Unlike CBLAS, a bad argument is not an abort
 * through xerbla: the call returns BMM_EINVAL, bmm_last_error() names the parameter and the
 * rule, and C is untouched. As in BLAS, m == 0, n == 0 or batch_size == 0 is a no-op, k == 0 or
 * alpha == 0 gives C = beta C without reading A or B, and beta == 0 never reads C. */
#ifndef BMM_CBLAS_H
#define BMM_CBLAS_H

#include <stdint.h>

#include "bmm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values of cblas.h's CBLAS_LAYOUT and CBLAS_TRANSPOSE. The parameters are plain ints, so
 * CblasRowMajor, CblasTrans, ... from any cblas.h pass as they are (in C and in C++). */
enum { BMM_CBLAS_ROW_MAJOR = 101, BMM_CBLAS_COL_MAJOR = 102 };
enum { BMM_CBLAS_NO_TRANS = 111, BMM_CBLAS_TRANS = 112, BMM_CBLAS_CONJ_TRANS = 113 };

/* Leading dimensions as in BLAS: at least the stored rows (column-major) or columns
 * (row-major) of each operand, and at least 1. Strides of A and B may be 0 (one matrix for the
 * whole batch); C's must be at least the size of one C_i (ldc times its other extent) when
 * batch_size > 1. Any stored element is addressed in int64 (MKL's ILP64 and LP64 callers
 * alike pass their integers through). ConjTrans is Trans for real matrices. */
BMM_API bmm_status bmm_cblas_sgemm_batch_strided(int layout, int transa, int transb,
    int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, int64_t stridea,
    const float *b, int64_t ldb, int64_t strideb, float beta, float *c, int64_t ldc,
    int64_t stridec, int64_t batch_size);
BMM_API bmm_status bmm_cblas_dgemm_batch_strided(int layout, int transa, int transb,
    int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
    int64_t stridea, const double *b, int64_t ldb, int64_t strideb, double beta, double *c,
    int64_t ldc, int64_t stridec, int64_t batch_size);
/* 16-bit a and b, a float c, as OpenBLAS's cblas_sbgemm (bf16; sh: f16) and MKL's
 * cblas_gemm_bf16bf16f32 compute: products accumulated in float, c rounded once to float
 * (bmm.h). */
BMM_API bmm_status bmm_cblas_sbgemm_batch_strided(int layout, int transa, int transb,
    int64_t m, int64_t n, int64_t k, float alpha, const bmm_bf16 *a, int64_t lda,
    int64_t stridea, const bmm_bf16 *b, int64_t ldb, int64_t strideb, float beta, float *c,
    int64_t ldc, int64_t stridec, int64_t batch_size);
BMM_API bmm_status bmm_cblas_shgemm_batch_strided(int layout, int transa, int transb,
    int64_t m, int64_t n, int64_t k, float alpha, const bmm_f16 *a, int64_t lda,
    int64_t stridea, const bmm_f16 *b, int64_t ldb, int64_t strideb, float beta, float *c,
    int64_t ldc, int64_t stridec, int64_t batch_size);

#ifdef __cplusplus
}
#endif

#endif
