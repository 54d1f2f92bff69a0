/* bmm_generic.h: the generic loop, any shape and strides, shared by the runtime (generic.c)
 * and vendored files (bmmgen.lua --vendor pastes this file), so both sum in the same order;
 * and one element read or written as a double. The code per element type is here.
 * Row by row: C_i row = beta * row (zeros when beta == 0, so C is never read), then
 * += (alpha * a_ik) * B row k for k = 0 .. m-1; when alpha == 0, A and B are never read (BLAS:
 * Inf or NaN there does not reach C). C99, and also valid C++. */
#ifndef BMM_GENERIC_H
#define BMM_GENERIC_H

#include <stdint.h>
#include <string.h>

#include "bmm_vocab.h"

/* 16-bit floats (bmm_vocab.h's BMM_DTYPE_HALF_TYPES): MANT significand bits stored, EXP exponent
 * bits (bf16 7 and 8, f16 10 and 5). h's value as a float: exact, NaN payloads kept. */
static inline BMM__MAYBE_UNUSED float bmm__half_to_float(unsigned h, int mant, int exp)
{
    const unsigned emask = (1u << exp) - 1, e = (h >> mant) & emask, f = h & ((1u << mant) - 1);
    const uint32_t sign = (uint32_t)(h >> (mant + exp) & 1) << 31;
    const int bias = (1 << (exp - 1)) - 1;
    uint32_t u;
    float x;
    if (e == 0) {  /* zero or subnormal: f * 2^-mant times the smallest normal, both exact */
        u = (uint32_t)(128 - bias) << 23;
        memcpy(&x, &u, sizeof x);
        x *= (float)f / (float)(1u << mant);
        return sign ? -x : x;
    }
    u = sign | (e == emask ? 0x7f800000u : (uint32_t)((int)e - bias + 127) << 23)
        | (uint32_t)f << (23 - mant);
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline BMM__MAYBE_UNUSED double bmm__half_to_double(unsigned h, int mant, int exp)
{
    return (double)bmm__half_to_float(h, mant, exp);
}

/* x rounded once to the 16-bit format, to nearest, ties to even; past the largest finite
 * value it is infinity, a NaN stays a (quiet) NaN. The significand is scaled to an integer
 * and rounded by adding and subtracting 2^52 (exact in binary64 arithmetic). */
static inline BMM__MAYBE_UNUSED uint16_t bmm__half_from_double(double x, int mant, int exp)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    const unsigned sign = (unsigned)(u >> 63) << (mant + exp);
    const unsigned inf = ((1u << exp) - 1) << mant;
    const int bias = (1 << (exp - 1)) - 1, e = (int)(u >> 52 & 0x7ff) - 1023;
    if (e == 1024)
        return (uint16_t)(sign | inf | ((u << 12) ? 1u << (mant - 1) : 0));
    if (e > bias)
        return (uint16_t)(sign | inf);
    /* the exponent of x's unit in the last place */
    const int q = (e < 1 - bias ? 1 - bias : e) - mant;
    if (e < q - 1)
        return (uint16_t)sign;  /* below half the smallest subnormal, zeros too */
    const uint64_t us = (uint64_t)(1023 - q) << 52;
    double scale, a;
    u &= ~(1ull << 63);
    memcpy(&a, &u, sizeof a);
    memcpy(&scale, &us, sizeof scale);
    const double two52 = 4503599627370496.0;  /* 2^52 */
    const double r = (a * scale + two52) - two52;  /* an integer, at most 2^(mant+1) */
    /* the exponent field of x's binade, less one, plus the integer significand: a carry out of
     * the significand steps the exponent, up to infinity's bits exactly */
    return (uint16_t)(sign | (((unsigned)(q + mant + bias - 1) << mant) + (unsigned)r));
}

/* Element i of an array of dtype (bmm_dtype), as a double; v stored there, rounded to it. */
static inline BMM__MAYBE_UNUSED double bmm__elem_get(int dtype, const void *p, int64_t i)
{
    switch (dtype) {
#define BMM__GET(V, W, T, L) case V: return (double)((const T *)p)[i];
    BMM_DTYPE_TYPES(BMM__GET)
#undef BMM__GET
#define BMM__GET(V, W, T, L, MANT, EXP) \
    case V: return bmm__half_to_double(((const T *)p)[i], MANT, EXP);
    BMM_DTYPE_HALF_TYPES(BMM__GET)
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
#define BMM__SET(V, W, T, L, MANT, EXP) \
    case V: ((T *)p)[i] = bmm__half_from_double(v, MANT, EXP); break;
    BMM_DTYPE_HALF_TYPES(BMM__SET)
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

/* The same for a 16-bit dtype (MANT, EXP as above), whose products are exact in double: a run
 * of up to BMM__HALF_RUN elements of a row of C is summed in double, then alpha * sum +
 * beta * c is rounded once to C's type: the format, or float when c32 (16-bit A and B, a float
 * C). alpha and beta are floats (as the kernels get them). */
#define BMM__HALF_RUN 64
#define BMM__DEFINE_GENERIC_HALF(NAME, MANT, EXP)                                          \
    static void NAME(int64_t batch, int64_t n, int64_t m, int64_t p, double alpha,         \
        const uint16_t *A, const bmm_stride *sa, const uint16_t *B, const bmm_stride *sb,  \
        double beta, void *C, const bmm_stride *sc, int c32)                               \
    {                                                                                      \
        double acc[BMM__HALF_RUN];                                                         \
        for (int64_t t = 0; t < batch; t++) {                                              \
            const uint16_t *a = A + t * sa->batch, *b = B + t * sb->batch;                 \
            for (int64_t i = 0; i < n; i++) {                                              \
                for (int64_t j0 = 0; j0 < p; j0 += BMM__HALF_RUN) {                        \
                    const int64_t jn = p - j0 < BMM__HALF_RUN ? p - j0 : BMM__HALF_RUN;    \
                    for (int64_t j = 0; j < jn; j++)                                       \
                        acc[j] = 0;                                                        \
                    for (int64_t k = 0; k < m && alpha != 0; k++) {                        \
                        const double aik =                                                 \
                            bmm__half_to_double(a[i * sa->row + k * sa->col], MANT, EXP);  \
                        const uint16_t *bk = b + k * sb->row + j0 * sb->col;               \
                        for (int64_t j = 0; j < jn; j++)                                   \
                            acc[j] += aik * bmm__half_to_double(bk[j * sb->col], MANT, EXP); \
                    }                                                                      \
                    for (int64_t j = 0; j < jn; j++) {                                     \
                        const int64_t o = t * sc->batch + i * sc->row + (j0 + j) * sc->col; \
                        double v = alpha * acc[j];                                         \
                        if (c32) {                                                         \
                            float *c = (float *)C + o;                                     \
                            *c = (float)(beta != 0 ? v + beta * (double)*c : v);           \
                        } else {                                                           \
                            uint16_t *c = (uint16_t *)C + o;                               \
                            if (beta != 0)                                                 \
                                v += beta * bmm__half_to_double(*c, MANT, EXP);            \
                            *c = bmm__half_from_double(v, MANT, EXP);                      \
                        }                                                                  \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

#endif
