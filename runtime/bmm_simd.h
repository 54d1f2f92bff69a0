/* bmm_simd.h: what generated x86 vector kernels need beyond bmm_kernel.h. Each kernel is
 * compiled for its ISA through a function attribute, so one binary built without -march runs
 * on every x86-64 and the runtime calls a kernel only where cpuid admits its ISA. Elsewhere
 * (other CPUs or compilers) the vector kernels compile to nothing and their table entries
 * carry NULL, which the runtime skips. */
#ifndef BMM_SIMD_H
#define BMM_SIMD_H

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define BMM_HAVE_X86_SIMD 1
#include <immintrin.h>
#define BMM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define BMM_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define BMM_X86_FN(f) f

/* Horizontal sums (AVX-512 has _mm512_reduce_add_*). */
static inline BMM_TARGET_AVX2 float bmm__hsum_avx2_f32(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline BMM_TARGET_AVX2 double bmm__hsum_avx2_f64(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}
#else
#define BMM_HAVE_X86_SIMD 0
#define BMM_X86_FN(f) NULL
#endif

#endif
