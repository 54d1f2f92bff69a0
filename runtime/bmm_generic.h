/* bmm_generic.h: the generic loop, any shape and strides, shared by the runtime (generic.c)
 * and vendored files (bmmgen.lua --vendor pastes this file), so both sum in the same order;
 * and one element read or written as a double. The code per element type is here.
 * Row by row: C_i row = beta * row (zeros when beta == 0, so C is never read), then
 * += (alpha * a_ik) * B row k for k = 0 .. m-1; when alpha == 0, A and B are never read (BLAS:
 * Inf or NaN there does not reach C). C99, and also valid C++. */
#ifndef BMM_GENERIC_H
#define BMM_GENERIC_H

#include <stdint.h>

#include "bmm_vocab.h"

/* Element i of an array of dtype (bmm_dtype), as a double; v stored there, rounded to it. */
static inline BMM__MAYBE_UNUSED double bmm__elem_get(int dtype, const void *p, int64_t i)
{
    switch (dtype) {
#define BMM__GET(V, W, T, L) case V: return (double)((const T *)p)[i];
    BMM_DTYPE_TYPES(BMM__GET)
#undef BMM__GET
    default: return 0;
    }
}

static inline BMM__MAYBE_UNUSED void bmm__elem_set(int dtype, void *p, int64_t i, double v)
{
    switch (dtype) {
#define BMM__SET(V, W, T, L) case V: ((T *)p)[i] = (T)v; break;
    BMM_DTYPE_TYPES(BMM__SET)
#undef BMM__SET
    default: break;
    }
}

/* Defines static void NAME(batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc) for element
 * type T; s*: the operands' strides (bmm.h's bmm_stride), in elements. */
#define BMM__DEFINE_GENERIC(NAME, T)                                                       \
    static void NAME(int64_t batch, int64_t n, int64_t m, int64_t p, T alpha, const T *A,  \
        const bmm_stride *sa, const T *B, const bmm_stride *sb, T beta, T *C,              \
        const bmm_stride *sc)                                                              \
    {                                                                                      \
        for (int64_t t = 0; t < batch; t++) {                                              \
            const T *a = A + t * sa->batch, *b = B + t * sb->batch;                                \
            T *c = C + t * sc->batch;                                                          \
            for (int64_t i = 0; i < n; i++) {                                              \
                T *ci = c + i * sc->row;                                                     \
                if (beta == 0) {                                                           \
                    for (int64_t j = 0; j < p; j++)                                        \
                        ci[j * sc->col] = 0;                                                 \
                } else if (beta != 1) {                                                    \
                    for (int64_t j = 0; j < p; j++)                                        \
                        ci[j * sc->col] *= beta;                                             \
                }                                                                          \
                if (alpha == 0)                                                            \
                    continue;                                                              \
                for (int64_t k = 0; k < m; k++) {                                          \
                    const T aik = alpha * a[i * sa->row + k * sa->col];                        \
                    const T *bk = b + k * sb->row;                                           \
                    if (sb->col == 1 && sc->col == 1) {                                        \
                        for (int64_t j = 0; j < p; j++)                                    \
                            ci[j] += aik * bk[j];                                          \
                    } else {                                                               \
                        for (int64_t j = 0; j < p; j++)                                    \
                            ci[j * sc->col] += aik * bk[j * sb->col];                          \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

#endif
