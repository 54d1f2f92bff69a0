/* generic.c: the generic path, any shape and any strides. Row by row: C_i row = beta * row
 * (or zeros when beta == 0, so C is never read), then += (alpha * a_ik) * B row k. */
#include "bmm_internal.h"

#define BMM__GENERIC(NAME, T)                                                           \
    static void NAME(const bmm__problem *pr, T alpha, T beta, const T *A, const T *B, T *C) \
    {                                                                                   \
        const bmm_stride sa = pr->sa, sb = pr->sb, sc = pr->sc;                         \
        for (int64_t t = 0; t < pr->batch; t++) {                                       \
            const T *a = A + t * sa.batch, *b = B + t * sb.batch;                       \
            T *c = C + t * sc.batch;                                                    \
            for (int64_t i = 0; i < pr->n; i++) {                                       \
                T *ci = c + i * sc.row;                                                 \
                if (beta == 0) {                                                        \
                    for (int64_t j = 0; j < pr->p; j++)                                 \
                        ci[j * sc.col] = 0;                                             \
                } else if (beta != 1) {                                                 \
                    for (int64_t j = 0; j < pr->p; j++)                                 \
                        ci[j * sc.col] *= beta;                                         \
                }                                                                       \
                for (int64_t k = 0; k < pr->m; k++) {                                   \
                    const T aik = alpha * a[i * sa.row + k * sa.col];                   \
                    const T *bk = b + k * sb.row;                                       \
                    if (sb.col == 1 && sc.col == 1) {                                   \
                        for (int64_t j = 0; j < pr->p; j++)                             \
                            ci[j] += aik * bk[j];                                       \
                    } else {                                                            \
                        for (int64_t j = 0; j < pr->p; j++)                             \
                            ci[j * sc.col] += aik * bk[j * sb.col];                     \
                    }                                                                   \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    }

BMM__GENERIC(generic_f32, float)
BMM__GENERIC(generic_f64, double)

void bmm__generic(const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, void *C)
{
    if (pr->dtype == BMM_F32)
        generic_f32(pr, (float)alpha, (float)beta, (const float *)A, (const float *)B, (float *)C);
    else
        generic_f64(pr, alpha, beta, (const double *)A, (const double *)B, (double *)C);
}
