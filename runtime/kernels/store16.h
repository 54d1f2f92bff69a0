/* store16.h: what the runtime's 16-bit kernels (pairs.c, fma16.c) share: a float C's row. */
#ifndef BMM_STORE16_H
#define BMM_STORE16_H

#include "bmm_simd.h"

#if BMM_HAVE_X86_SIMD
/* 16 results v (alpha already applied; lanes k) into a float C's row at c, columns sc apart:
 * v + beta c, beta = 0 not reading C. */
static inline __attribute__((target("avx512f,avx512vl"), always_inline, unused)) void
bmm__store_row_f32(__m512 v, float *c, int64_t sc, __mmask16 k, float beta)
{
    if (sc == 1) {
        if (beta != 0)
            v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, c), _mm512_set1_ps(beta), v);
        _mm512_mask_storeu_ps(c, k, v);
        return;
    }
    float t[16];
    _mm512_storeu_ps(t, v);
    for (int j = 0; j < 16 && (k >> j & 1); j++)
        c[j * sc] = beta != 0 ? t[j] + beta * c[j * sc] : t[j];
}
#endif

#endif
