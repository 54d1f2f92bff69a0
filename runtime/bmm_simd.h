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
/* One register-allocation region for the whole function. Where a loop over k is short of
 * registers, GCC 12's default (-fira-region=mixed) fed its FMAs from B vectors kept on the
 * stack: in a shape-generic block over a chunk of items, and in a seq-first rows block that
 * fills the vector registers while its run-time row strides take the general ones (0.8x;
 * docs/generator.md). emit_simd.lua says which kernels get it. */
#if defined(__GNUC__) && !defined(__clang__)
#define BMM_ONE_REGION __attribute__((optimize("ira-region=one")))
#else
#define BMM_ONE_REGION
#endif
#define BMM_CHUNK_BLOCK __attribute__((noinline)) BMM_ONE_REGION

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

/* The sums of eight vectors' lanes at once, s[r] of v_r (the dot forms' rows): pairs of
 * registers are folded into one (half of each) until every lane group holds one vector's
 * partial sums, about 3 instructions a row where one _mm512_reduce_add_ps takes 8. A block of
 * fewer rows passes zeros for the rest. */
static inline BMM_TARGET_AVX512 __attribute__((unused, always_inline)) void bmm__hsums8_avx512_f32(
    float *s, __m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4, __m512 v5, __m512 v6,
    __m512 v7)
{
#define BMM__FOLD(a, b) _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee))
#define BMM__PICK(a, b) _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xdd))
    /* 128-bit lane L of x: 4 partial sums of v_L; of y: of v_(4+L) */
    __m512 x = BMM__PICK(BMM__FOLD(v0, v1), BMM__FOLD(v2, v3));
    __m512 y = BMM__PICK(BMM__FOLD(v4, v5), BMM__FOLD(v6, v7));
#undef BMM__FOLD
#undef BMM__PICK
    __m512 t = _mm512_add_ps(_mm512_shuffle_ps(x, y, 0x88), _mm512_shuffle_ps(x, y, 0xdd));
    t = _mm512_add_ps(t, _mm512_shuffle_ps(t, t, 0xb1));  /* lane L: v_L, -, v_(4+L), - */
    t = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0), t);
    _mm256_storeu_ps(s, _mm512_castps512_ps256(t));
}

static inline BMM_TARGET_AVX512 __attribute__((unused, always_inline)) void bmm__hsums8_avx512_f64(
    double *s, __m512d v0, __m512d v1, __m512d v2, __m512d v3, __m512d v4, __m512d v5,
    __m512d v6, __m512d v7)
{
#define BMM__FOLD(a, b) _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x44), _mm512_shuffle_f64x2(a, b, 0xee))
#define BMM__PICK(a, b) _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x88), _mm512_shuffle_f64x2(a, b, 0xdd))
    __m512d x = BMM__PICK(BMM__FOLD(v0, v1), BMM__FOLD(v2, v3));
    __m512d y = BMM__PICK(BMM__FOLD(v4, v5), BMM__FOLD(v6, v7));
#undef BMM__FOLD
#undef BMM__PICK
    __m512d t = _mm512_add_pd(_mm512_unpacklo_pd(x, y), _mm512_unpackhi_pd(x, y));  /* v_L, v_(4+L) */
    _mm512_storeu_pd(s, _mm512_permutexvar_pd(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), t));
}

static inline BMM_TARGET_AVX2 __attribute__((unused, always_inline)) void bmm__hsums8_avx2_f32(
    float *s, __m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4, __m256 v5, __m256 v6,
    __m256 v7)
{
#define BMM__FOLD(a, b) _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31))
    /* half 0 of each: 4 partial sums of the even vector, half 1 of the odd one */
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(BMM__FOLD(v0, v1), BMM__FOLD(v2, v3)),
        _mm256_hadd_ps(BMM__FOLD(v4, v5), BMM__FOLD(v6, v7)));  /* v0 v2 v4 v6 | v1 v3 v5 v7 */
#undef BMM__FOLD
    _mm256_storeu_ps(s, _mm256_permutevar8x32_ps(t, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

static inline BMM_TARGET_AVX2 __attribute__((unused, always_inline)) void bmm__hsums8_avx2_f64(
    double *s, __m256d v0, __m256d v1, __m256d v2, __m256d v3, __m256d v4, __m256d v5,
    __m256d v6, __m256d v7)
{
    __m256d a = _mm256_hadd_pd(v0, v1), b = _mm256_hadd_pd(v2, v3);  /* v0 v1 (lo), v0 v1 (hi) */
    __m256d c = _mm256_hadd_pd(v4, v5), d = _mm256_hadd_pd(v6, v7);
    _mm256_storeu_pd(s, _mm256_add_pd(_mm256_permute2f128_pd(a, b, 0x20),
        _mm256_permute2f128_pd(a, b, 0x31)));
    _mm256_storeu_pd(s + 4, _mm256_add_pd(_mm256_permute2f128_pd(c, d, 0x20),
        _mm256_permute2f128_pd(c, d, 0x31)));
}

/* In-register transposes of a square block, r[k] in row k out: the rows kernels of a
 * transposed B turn its stored rows into B's rows with them, and pack.c's tiles copy by them.
 * Unpacks of element pairs, then of pairs of pairs, then moves of 128-bit blocks: 64 shuffles
 * for 16 x 16 f32, 24 for 8 x 8 f64 (AVX-512) and 8 x 8 f32 (AVX2), 8 for 4 x 4 f64. */
static inline BMM_TARGET_AVX512 __attribute__((unused, always_inline)) void
bmm__transpose_avx512_f32(__m512 *r)
{
    __m512 t[16];
    for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    }
    /* r[4g + c], 128-bit block L: element 4L + c of rows 4g..4g+3 */
    for (int k = 0; k < 16; k += 4) {
        r[k] = _mm512_shuffle_ps(t[k], t[k + 2], 0x44);
        r[k + 1] = _mm512_shuffle_ps(t[k], t[k + 2], 0xee);
        r[k + 2] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        r[k + 3] = _mm512_shuffle_ps(t[k + 1], t[k + 3], 0xee);
    }
    /* a 4 x 4 transpose of blocks: row 4L + c out is block L of r[c], r[4 + c], r[8 + c],
     * r[12 + c] */
    for (int c = 0; c < 4; c++) {
        t[c] = _mm512_shuffle_f32x4(r[c], r[c + 4], 0x88);       /* blocks 0, 2 */
        t[c + 4] = _mm512_shuffle_f32x4(r[c], r[c + 4], 0xdd);   /* blocks 1, 3 */
        t[c + 8] = _mm512_shuffle_f32x4(r[c + 8], r[c + 12], 0x88);
        t[c + 12] = _mm512_shuffle_f32x4(r[c + 8], r[c + 12], 0xdd);
    }
    for (int k = 0; k < 8; k++) {
        const int c = k & 3, odd = k >> 2;  /* odd: blocks 1 and 3 */
        r[c + 4 * odd] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
        r[c + 8 + 4 * odd] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
    }
}

static inline BMM_TARGET_AVX512 __attribute__((unused, always_inline)) void
bmm__transpose_avx512_f64(__m512d *r)
{
    __m512d t[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm512_unpacklo_pd(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_pd(r[k], r[k + 1]);
    }
    /* t[2g + c], block L: element 2L + c of rows 2g, 2g+1; pairs of pairs next */
    for (int k = 0; k < 8; k += 4) {
        r[k] = _mm512_shuffle_f64x2(t[k], t[k + 2], 0x88);        /* blocks 0, 2 of each */
        r[k + 1] = _mm512_shuffle_f64x2(t[k + 1], t[k + 3], 0x88);
        r[k + 2] = _mm512_shuffle_f64x2(t[k], t[k + 2], 0xdd);    /* blocks 1, 3 of each */
        r[k + 3] = _mm512_shuffle_f64x2(t[k + 1], t[k + 3], 0xdd);
    }
    for (int c = 0; c < 4; c++) {
        t[c] = _mm512_shuffle_f64x2(r[c], r[c + 4], 0x88);
        t[c + 4] = _mm512_shuffle_f64x2(r[c], r[c + 4], 0xdd);
    }
    for (int k = 0; k < 8; k++)
        r[k] = t[k];
}

static inline BMM_TARGET_AVX2 __attribute__((unused, always_inline)) void
bmm__transpose_avx2_f32(__m256 *r)
{
    __m256 t[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        r[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
        r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xee);
        r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xee);
    }
    for (int k = 0; k < 4; k++) {  /* rows k and k + 4 out */
        t[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);
        t[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);
    }
    for (int k = 0; k < 8; k++)
        r[k] = t[k];
}

static inline BMM_TARGET_AVX2 __attribute__((unused, always_inline)) void
bmm__transpose_avx2_f64(__m256d *r)
{
    __m256d t[4];
    for (int k = 0; k < 4; k += 2) {
        t[k] = _mm256_unpacklo_pd(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_pd(r[k], r[k + 1]);
    }
    for (int k = 0; k < 2; k++) {
        r[k] = _mm256_permute2f128_pd(t[k], t[k + 2], 0x20);
        r[k + 2] = _mm256_permute2f128_pd(t[k], t[k + 2], 0x31);
    }
}

/* Seq-first B columns (p = 1) of `items` (1..W) adjacent batch items, item j's B[k] at
 * b[k * sb_row + j], copied to d[j * ld + k] for k < m rounded up to W (ld: a multiple of W;
 * zeros past m and in rows past items). A row of B holds W items' elements: W rows transposed
 * in registers are W items' columns, W elements each, where a copy item by item moved one
 * element per load and store (0.5x of batch-first on 10x256x1, docs/generator.md). */
#define BMM__PACK_BCOLS(NAME, TARGET, T, VT, W, MT, MASK, LOADM, ZERO, STORE, TRANSPOSE)      \
    static inline TARGET __attribute__((unused, always_inline)) void NAME##_block(              \
        T *d, int64_t ld, const T *b, int64_t sb_row, int rows, MT mi)                          \
    {                                                                                           \
        VT r[W];                                                                                \
        for (int k = 0; k < W; k++)                                                             \
            r[k] = k < rows ? LOADM(b + k * sb_row, mi) : ZERO();                               \
        TRANSPOSE(r);                                                                           \
        for (int j = 0; j < W; j++)                                                             \
            STORE(d + j * ld, r[j]);                                                            \
    }                                                                                           \
    static inline TARGET __attribute__((unused)) void NAME(T *d, int64_t ld, const T *b,       \
        int64_t sb_row, int64_t m, int items)                                                   \
    {                                                                                           \
        const MT mi = MASK(items);                                                              \
        int64_t k0 = 0;                                                                         \
        for (; k0 + W <= m; k0 += W)                                                            \
            NAME##_block(d + k0, ld, b + k0 * sb_row, sb_row, W, mi);                           \
        if (k0 < m)                                                                             \
            NAME##_block(d + k0, ld, b + k0 * sb_row, sb_row, (int)(m - k0), mi);               \
    }
#define BMM__MASK512(items) ((1u << (items)) - 1u)
#define BMM__MASK256_32(items) _mm256_loadu_si256((const __m256i *)(bmm__lane_masks32 + 8 - (items)))
#define BMM__MASK256_64(items) _mm256_loadu_si256((const __m256i *)(bmm__lane_masks64 + 4 - (items)))
#define BMM__LOADM512_F32(p, k) _mm512_maskz_loadu_ps((__mmask16)(k), p)
#define BMM__LOADM512_F64(p, k) _mm512_maskz_loadu_pd((__mmask8)(k), p)
BMM__PACK_BCOLS(bmm__pack_bcols_avx512_f32, BMM_TARGET_AVX512, float, __m512, 16, unsigned,
    BMM__MASK512, BMM__LOADM512_F32, _mm512_setzero_ps, _mm512_storeu_ps, bmm__transpose_avx512_f32)
BMM__PACK_BCOLS(bmm__pack_bcols_avx512_f64, BMM_TARGET_AVX512, double, __m512d, 8, unsigned,
    BMM__MASK512, BMM__LOADM512_F64, _mm512_setzero_pd, _mm512_storeu_pd, bmm__transpose_avx512_f64)
BMM__PACK_BCOLS(bmm__pack_bcols_avx2_f32, BMM_TARGET_AVX2, float, __m256, 8, __m256i,
    BMM__MASK256_32, _mm256_maskload_ps, _mm256_setzero_ps, _mm256_storeu_ps, bmm__transpose_avx2_f32)
BMM__PACK_BCOLS(bmm__pack_bcols_avx2_f64, BMM_TARGET_AVX2, double, __m256d, 4, __m256i,
    BMM__MASK256_64, _mm256_maskload_pd, _mm256_setzero_pd, _mm256_storeu_pd, bmm__transpose_avx2_f64)

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
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512vl = (b >> 31) & 1;
    if (!(avx && avx2 && fma && ymm))
        return BMM_ISA_C99;
    return avx512f && avx512vl && zmm ? BMM_ISA_AVX512 : BMM_ISA_AVX2;
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
