/* bmm_simd.h: what generated x86 vector kernels need beyond bmm_kernel.h. Each kernel is
 * compiled for its ISA through a function attribute, so one binary built without -march runs
 * on every x86-64 and the runtime calls a kernel only where cpuid admits its ISA. Elsewhere
 * (other CPUs or compilers) the vector kernels compile to nothing and their table entries
 * carry NULL, which the runtime skips. */
#ifndef BMM_SIMD_H
#define BMM_SIMD_H

#include "bmm_kernel.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define BMM_HAVE_X86_SIMD 1
#include <cpuid.h>
#include <immintrin.h>
#if defined(__cplusplus) && defined(__GNUC__) && !defined(__clang__)
/* g++ 12 warns inside its own headers: _mm512_undefined_* initialize a variable with itself,
 * and every inlined _mm512_permutexvar_* (and _mm512_reduce_add_* in a small function) then
 * reports it "(may be) used uninitialized". */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define BMM_TARGET_AVX2 __attribute__((target(BMM_TARGET_AVX2_FEATURES)))
#define BMM_TARGET_AVX512 __attribute__((target(BMM_TARGET_AVX512_FEATURES)))
#define BMM_X86_FN(f) f
#define BMM_NOINLINE __attribute__((noinline))

/* Lane masks of AVX2 kernels whose tail length is known at run time only (shape-generic): the
 * 8 (4) entries from [w - count] on enable the first count lanes. */
static const int32_t bmm__lane_masks32[16] __attribute__((unused)) = {
    -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };
static const int64_t bmm__lane_masks64[8] __attribute__((unused)) = { -1, -1, -1, -1, 0, 0, 0, 0 };

/* Horizontal sums (AVX-512 has _mm512_reduce_add_*); unused in files without AVX2 kernels. */
static inline BMM_TARGET_AVX2 __attribute__((unused)) float bmm__hsum_avx2_f32(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline BMM_TARGET_AVX2 __attribute__((unused)) double bmm__hsum_avx2_f64(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

/* The widest ISA this CPU and its OS admit: cpuid says the CPU has it, xgetbv that the OS
 * saves its registers (YMM state for AVX2, ZMM and opmask state for AVX-512). */
static inline int bmm__x86_max_isa(void)
{
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid(0, &a, &b, &c, &d) || a < 7)
        return BMM_ISA_C99;
    __get_cpuid(1, &a, &b, &c, &d);
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave)
        return BMM_ISA_C99;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    int ymm = (lo & 0x6) == 0x6, zmm = (lo & 0xe6) == 0xe6;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
    if (!(avx && avx2 && fma && ymm))
        return BMM_ISA_C99;
    return avx512f && zmm ? BMM_ISA_AVX512 : BMM_ISA_AVX2;
}

/* AVX-512 runs on 256-bit halves, as on AMD Zen 4 (family 0x19): the static rule weighs vector
 * widths and masked tails differently there (bmm_select.h). */
static inline int bmm__x86_avx512_split(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541u || d != 0x69746e65u
        || c != 0x444d4163u)  /* "AuthenticAMD" */
        return 0;
    __get_cpuid(1, &a, &b, &c, &d);
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    return family == 0x19;
}
#else
#define BMM_HAVE_X86_SIMD 0
#define BMM_X86_FN(f) NULL
#endif

#endif
