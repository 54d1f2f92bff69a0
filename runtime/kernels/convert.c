/* convert.c: 16-bit operands (bf16, f16) to float for the f32 kernels, and C back.
 *
 * A 16-bit problem runs an f32 kernel on copies (run.c, BMM__PACK_WIDE): a chunk of items of
 * A, B (and C when beta != 0) widened to row-major floats, exactly, in a buffer within L1;
 * the kernel's C, accumulated in float, rounded once to the dtype (to nearest even) into the
 * caller's C. Rows with unit column stride (a whole chunk when its items are contiguous too)
 * convert 16 at a time with AVX-512F, 8 with AVX2 (vcvtph2ps and vcvtps2ph for f16, F16C on
 * AVX2; a shift and an integer rounding for bf16); anything else one element at a time
 * (bmm_generic.h's conversions: the same values). */
#include "bmm_internal.h"
#include "bmm_simd.h"

#define MANT(dt) ((dt) == BMM_F16 ? 10 : 7)
#define EXP(dt) ((dt) == BMM_F16 ? 5 : 8)

/* bf16 is the top half of a float: widening is a shift, narrowing rounds the low half away
 * to nearest even (the carry steps the exponent, up to infinity), a NaN kept quiet. */
static inline float bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline uint16_t bf16_from_float(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)(u >> 16 | 0x40);
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1)) >> 16);
}

static inline float widen1(int dt, uint16_t h)
{
    return dt == BMM_BF16 ? bf16_to_float(h) : bmm__half_to_float(h, MANT(dt), EXP(dt));
}

static inline uint16_t narrow1(int dt, float x)
{
    return dt == BMM_BF16 ? bf16_from_float(x) : bmm__half_from_double(x, MANT(dt), EXP(dt));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

BMM_TARGET_AVX512 static inline __m512 widen16(int dt, __m256i h)
{
    return dt == BMM_F16 ? _mm512_cvtph_ps(h)
        : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

BMM_TARGET_AVX512 static inline __m256i narrow16(int dt, __m512 v)
{
    if (dt == BMM_F16)
        return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512i u = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
        _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

/* n contiguous elements, 16 at a time, the last 1..15 through a 16-element buffer (16-bit
 * masked loads and stores would need AVX-512BW) */
BMM_TARGET_AVX512 static void widen_run_avx512(int dt, const uint16_t *x, float *d, int64_t n)
{
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(d + j, widen16(dt, _mm256_loadu_si256((const __m256i *)(x + j))));
    if (j < n) {
        uint16_t t[16] = { 0 };
        memcpy(t, x + j, (size_t)(n - j) * sizeof *t);
        _mm512_mask_storeu_ps(d + j, (__mmask16)((1u << (n - j)) - 1),
            widen16(dt, _mm256_loadu_si256((const __m256i *)t)));
    }
}

BMM_TARGET_AVX512 static void narrow_run_avx512(int dt, const float *x, uint16_t *c, int64_t n)
{
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        _mm256_storeu_si256((__m256i *)(c + j), narrow16(dt, _mm512_loadu_ps(x + j)));
    if (j < n) {
        uint16_t t[16];
        _mm256_storeu_si256((__m256i *)t,
            narrow16(dt, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - j)) - 1), x + j)));
        memcpy(c + j, t, (size_t)(n - j) * sizeof *t);
    }
}

/* The same 8 at a time on AVX2; f16 needs F16C as well (vcvtph2ps, vcvtps2ph), which every
 * AVX2 CPU has but cpuid still says (vector_runs asks). */
#define BMM_TARGET_F16C __attribute__((target("avx2,fma,f16c")))

BMM_TARGET_F16C static inline __m256 widen8(int dt, __m128i h)
{
    return dt == BMM_F16 ? _mm256_cvtph_ps(h)
        : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

BMM_TARGET_F16C static inline __m128i narrow8(int dt, __m256 v)
{
    if (dt == BMM_F16)
        return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256i u = _mm256_castps_si256(v);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff)));
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
        _mm256_set1_epi32(0x7f800000));  /* (both non-negative as signed) */
    r = _mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan);
    r = _mm256_srli_epi32(r, 16);
    /* the eight 16-bit halves in order: packus works within 128-bit lanes */
    r = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    return _mm256_castsi256_si128(r);
}

BMM_TARGET_F16C static void widen_run_avx2(int dt, const uint16_t *x, float *d, int64_t n)
{
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(d + j, widen8(dt, _mm_loadu_si128((const __m128i *)(x + j))));
    if (j < n) {
        uint16_t t[8] = { 0 };
        float f[8];
        memcpy(t, x + j, (size_t)(n - j) * sizeof *t);
        _mm256_storeu_ps(f, widen8(dt, _mm_loadu_si128((const __m128i *)t)));
        memcpy(d + j, f, (size_t)(n - j) * sizeof *f);
    }
}

BMM_TARGET_F16C static void narrow_run_avx2(int dt, const float *x, uint16_t *c, int64_t n)
{
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm_storeu_si128((__m128i *)(c + j), narrow8(dt, _mm256_loadu_ps(x + j)));
    if (j < n) {
        float f[8] = { 0 };
        uint16_t t[8];
        memcpy(f, x + j, (size_t)(n - j) * sizeof *f);
        _mm_storeu_si128((__m128i *)t, narrow8(dt, _mm256_loadu_ps(f)));
        memcpy(c + j, t, (size_t)(n - j) * sizeof *t);
    }
}
#endif

/* A chunk whose items and rows are contiguous, on both sides, is one run. */
static int one_run(bmm_stride s, int64_t items, int64_t rows, int64_t cols, int64_t db,
    int64_t ldd)
{
    return s.col == 1 && ldd == cols && (rows == 1 || s.row == cols)
        && (items == 1 || (s.batch == rows * cols && db == rows * cols));
}

/* The vector runs this CPU (BMM_ARCH too) and dtype admit; NULL: one element at a time. */
typedef void (*widen_run)(int dt, const uint16_t *x, float *d, int64_t n);
typedef void (*narrow_run)(int dt, const float *x, uint16_t *c, int64_t n);

#if defined(__x86_64__) && defined(__GNUC__)
/* cpuid's F16C bit, asked once (a VM traps cpuid: microseconds). Every thread finds the same
 * answer, so a relaxed store and load are enough. */
static int has_f16c(void)
{
    static int known;  /* 0: not yet asked; else 1 + the answer */
    int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (!v) {
        unsigned a, b, c, d;
        v = 1 + (__get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1));
        __atomic_store_n(&known, v, __ATOMIC_RELAXED);
    }
    return v - 1;
}
#endif

static int vector_runs(int dtype, int isa)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa >= BMM_ISA_AVX512)
        return BMM_ISA_AVX512;
    if (isa >= BMM_ISA_AVX2 && (dtype == BMM_BF16 || has_f16c()))
        return BMM_ISA_AVX2;
#else
    (void)dtype, (void)isa;
#endif
    return BMM_ISA_C99;
}

void bmm__widen(int dtype, const void *xv, bmm_stride s, int64_t items, int64_t rows,
    int64_t cols, float *d, int64_t db, int64_t ldd, int isa)
{
    const uint16_t *x = xv;
    widen_run run = NULL;
#if defined(__x86_64__) && defined(__GNUC__)
    const int v = s.col == 1 ? vector_runs(dtype, isa) : BMM_ISA_C99;
    run = v == BMM_ISA_AVX512 ? widen_run_avx512 : v == BMM_ISA_AVX2 ? widen_run_avx2 : NULL;
#else
    (void)isa;
#endif
    if (run && one_run(s, items, rows, cols, db, ldd)) {
        run(dtype, x, d, items * rows * cols);
        return;
    }
    for (int64_t t = 0; t < items; t++, x += s.batch, d += db)
        for (int64_t i = 0; i < rows; i++) {
            if (run) {
                run(dtype, x + i * s.row, d + i * ldd, cols);
                continue;
            }
            for (int64_t j = 0; j < cols; j++)
                d[i * ldd + j] = widen1(dtype, x[i * s.row + j * s.col]);
        }
}

void bmm__narrow(int dtype, const float *x, int64_t xb, int64_t ldx, int64_t items,
    int64_t rows, int64_t cols, void *cv, bmm_stride s, int isa)
{
    uint16_t *c = cv;
    narrow_run run = NULL;
#if defined(__x86_64__) && defined(__GNUC__)
    const int v = s.col == 1 ? vector_runs(dtype, isa) : BMM_ISA_C99;
    run = v == BMM_ISA_AVX512 ? narrow_run_avx512 : v == BMM_ISA_AVX2 ? narrow_run_avx2 : NULL;
#else
    (void)isa;
#endif
    if (run && one_run(s, items, rows, cols, xb, ldx)) {
        run(dtype, x, c, items * rows * cols);
        return;
    }
    for (int64_t t = 0; t < items; t++, x += xb, c += s.batch)
        for (int64_t i = 0; i < rows; i++) {
            if (run) {
                run(dtype, x + i * ldx, c + i * s.row, cols);
                continue;
            }
            for (int64_t j = 0; j < cols; j++)
                c[i * s.row + j * s.col] = narrow1(dtype, x[i * ldx + j]);
        }
}
