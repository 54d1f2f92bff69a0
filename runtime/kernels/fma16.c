/* fma16.c: f16 kernels of AVX-512: conversions in registers around float FMAs.
 *
 * The widened path (run.c, convert.c) copies A, B and C to floats a chunk at a time, runs the
 * f32 kernel of the shape, and copies C back: at 16x16x16 those copies took a third of the
 * time (Zen 5). These kernels copy only A, an item at a time, to floats on the stack (the
 * FMAs broadcast its elements); B's rows are converted in registers as the k loop needs them
 * (vcvtph2ps), C's results rounded once to nearest even in registers (vcvtps2ph) and stored
 * through C's own strides:
 *
 *   rows (g16): R rows of C of up to 4 vectors of 16 columns at a time, the last vector
 *     masked (one vector of columns: blocks of up to 16 rows, equal in height); two sets of
 *     accumulators, k's elements dealt in turn, where the registers allow;
 *   dot (gnt8x1): a column or three: 8 rows of A times a column of B at once, 16 elements of
 *     k per FMA (both converted in registers), summed across lanes at the end, the 8 results
 *     rounded at once; B's columns read in place where contiguous (p = 1, a transposed B).
 *
 * The conversions are the widened path's (the same values; f16's subnormals are normal
 * floats), the sums float FMAs (the f32 kernels' bound). A float C (BMM_C_F32: the
 * bmm_f16f32_ kernels, the same code with the other store) is stored as is. Kernels of the
 * one ABI (every stride read at run time); an operand they cannot read in place is copied
 * per item (bmm__pack). The runtime calls them where AVX-512F and BW are admitted
 * (bmm__cpu_f16) for the shapes of bmm__fma16_kernel's rule. */
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"
#include "bmm_simd.h"
#include "store16.h"

#if BMM_HAVE_X86_SIMD
#define BMM_TARGET_F16 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))
#define ROWS_MAX 16   /* one vector of columns: R accumulators, B's vector */
#define VECS_MAX 4
#define STACK_BYTES 16384

/* rows of a block of J vectors: R x J accumulators, J of B, within 32 registers */
static const int ROWS_FOR[VECS_MAX + 1] = { 0, 16, 8, 6, 6 };

#define ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* C's element o: f16, or float (cf: a float C, BMM_C_F32). */
#define AT(c, cf, o) ((void *)((char *)(c) + (o) * ((cf) ? 4 : 2)))

/* 16 f16 at x as floats: all (full) or lanes k, zeros in the others. */
BMM_TARGET_F16 INLINE __m512 load16(const uint16_t *x, __mmask16 k, const int full)
{
    return _mm512_cvtph_ps(full ? _mm256_loadu_si256((const __m256i *)(const void *)x)
                                : _mm256_maskz_loadu_epi16(k, x));
}

/* 16 results (lanes k; full: all) into C's row at c, columns sc apart: alpha acc + beta c. */
BMM_TARGET_F16 INLINE void store_row(__m512 acc, void *cv, int64_t sc, __mmask16 k,
    const int full, __m512 va, float beta, int cf)
{
    __m512 v = _mm512_mul_ps(acc, va);
    if (cf) {
        bmm__store_row_f32(v, cv, sc, k, beta);
        return;
    }
    uint16_t *c = cv;
    if (sc == 1) {
        if (beta != 0)
            v = _mm512_fmadd_ps(load16(c, k, full), _mm512_set1_ps(beta), v);
        __m256i h = _mm512_cvtps_ph(v, ROUND);
        __asm__("" : "+v"(h));  /* (not vcvtps2ph to memory, masked: microcoded on Zen) */
        if (full)
            _mm256_storeu_si256((__m256i *)(void *)c, h);
        else
            _mm256_mask_storeu_epi16(c, k, h);
        return;
    }
    float t[16];
    _mm512_storeu_ps(t, v);
    for (int j = 0; j < 16 && (k >> j & 1); j++)
        c[j * sc] = bmm__half_from_double(
            beta != 0 ? t[j] + beta * bmm__half_to_float(c[j * sc], 10, 5) : t[j], 10, 5);
}

/* R rows of C, J vectors of columns (the last `tail` lanes wide; full: all 16): A's rows as
 * floats at a (lda apart), B's rows at b (sb apart, unit-stride columns). */
BMM_TARGET_F16 INLINE void rows_block(const int R, const int J, const int full, const float *a,
    int64_t lda, const uint16_t *b, int64_t sb, int64_t m, void *c, int64_t scr, int64_t scc,
    __mmask16 tail, __m512 va, float beta, int cf)
{
    /* S sets of accumulators, k's elements dealt to them in turn: chains of FMAs S times
     * shorter where the registers allow it */
    const int S = R * J <= 12 ? 2 : 1;
    __m512 acc[2][ROWS_MAX][VECS_MAX];
#pragma GCC unroll 2
    for (int s = 0; s < S; s++)
#pragma GCC unroll 16
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int j = 0; j < J; j++)
                acc[s][r][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + S <= m; k += S)
#pragma GCC unroll 2
        for (int s = 0; s < S; s++) {
            const uint16_t *bk = b + (k + s) * sb;
            __m512 bv[VECS_MAX];
#pragma GCC unroll 4
            for (int j = 0; j < J; j++)
                bv[j] = load16(bk + 16 * j, j == J - 1 ? tail : (__mmask16)0xffff,
                    j < J - 1 || full);
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) {
                const __m512 av = _mm512_set1_ps(a[r * lda + k + s]);
#pragma GCC unroll 4
                for (int j = 0; j < J; j++)
                    acc[s][r][j] = _mm512_fmadd_ps(av, bv[j], acc[s][r][j]);
            }
        }
    if (k < m) {  /* (S = 2, m odd: the last) */
        const uint16_t *bk = b + k * sb;
        __m512 bv[VECS_MAX];
#pragma GCC unroll 4
        for (int j = 0; j < J; j++)
            bv[j] = load16(bk + 16 * j, j == J - 1 ? tail : (__mmask16)0xffff, j < J - 1 || full);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            const __m512 av = _mm512_set1_ps(a[r * lda + k]);
#pragma GCC unroll 4
            for (int j = 0; j < J; j++)
                acc[0][r][j] = _mm512_fmadd_ps(av, bv[j], acc[0][r][j]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int j = 0; j < J; j++)
            store_row(S == 2 ? _mm512_add_ps(acc[0][r][j], acc[S - 1][r][j]) : acc[0][r][j],
                AT(c, cf, r * scr + 16 * j * scc), scc, j == J - 1 ? tail : (__mmask16)0xffff,
                j < J - 1 || full, va, beta, cf);
}

/* Each block shape its own function, its accumulators in registers (one allocation region,
 * as pairs.c's). [full] [J] [R]. */
/* The block's operands: items of them (A's floats ab apart, B's bb, C's cb). */
typedef struct {
    const float *a;
    const uint16_t *b;
    void *c;
    int64_t lda, sb, m, scr, scc, ab, bb, cb, items;
    __mmask16 tail;
    float beta;
    int cf;
} block_args;
typedef void (*rows_fn)(const block_args *x, __m512 va);
#define ROWS_FN(F, R, J)                                                                      \
    BMM_TARGET_F16 BMM_CHUNK_BLOCK static void rows_##F##_##R##_##J(const block_args *x,     \
        __m512 va)                                                                            \
    {                                                                                         \
        const float *a = x->a;                                                                \
        const uint16_t *b = x->b;                                                             \
        for (int64_t t = 0; t < x->items; t++, a += x->ab, b += x->bb)                        \
            rows_block(R, J, F, a, x->lda, b, x->sb, x->m, AT(x->c, x->cf, t * x->cb),       \
                x->scr, x->scc, x->tail, va, x->beta, x->cf);                                 \
    }
#define ROWS_6(F, J) ROWS_FN(F, 1, J) ROWS_FN(F, 2, J) ROWS_FN(F, 3, J) ROWS_FN(F, 4, J) \
    ROWS_FN(F, 5, J) ROWS_FN(F, 6, J)
#define ROWS_8(F, J) ROWS_6(F, J) ROWS_FN(F, 7, J) ROWS_FN(F, 8, J)
#define ROWS_16(F, J) ROWS_8(F, J) ROWS_FN(F, 9, J) ROWS_FN(F, 10, J) ROWS_FN(F, 11, J) \
    ROWS_FN(F, 12, J) ROWS_FN(F, 13, J) ROWS_FN(F, 14, J) ROWS_FN(F, 15, J) ROWS_FN(F, 16, J)
#define ROWS_ALL(F) ROWS_16(F, 1) ROWS_8(F, 2) ROWS_6(F, 3) ROWS_6(F, 4)
ROWS_ALL(0) ROWS_ALL(1)
#define P6(F, J) rows_##F##_1_##J, rows_##F##_2_##J, rows_##F##_3_##J, rows_##F##_4_##J, \
    rows_##F##_5_##J, rows_##F##_6_##J
#define P8(F, J) P6(F, J), rows_##F##_7_##J, rows_##F##_8_##J
#define P16(F, J) P8(F, J), rows_##F##_9_##J, rows_##F##_10_##J, rows_##F##_11_##J, \
    rows_##F##_12_##J, rows_##F##_13_##J, rows_##F##_14_##J, rows_##F##_15_##J, rows_##F##_16_##J
#define BY_J(F) { { NULL }, { NULL, P16(F, 1) }, { NULL, P8(F, 2) }, { NULL, P6(F, 3) }, \
    { NULL, P6(F, 4) } }
static const rows_fn ROWS_BY[2][VECS_MAX + 1][ROWS_MAX + 1] = { BY_J(0), BY_J(1) };

/* The rows form; cf: C is float. A chunk of items at a time: their A widened (convert.c:
 * one run of vectors when the items are contiguous) and B copied where its columns are not
 * unit-stride, then each block of C over all of them (a block's call and set-up paid once a
 * chunk). An item's rows widened one by one (masked stores) and read at once ran 8x8x8 2.2x
 * slower than the widened path; a call per item and block, 1.3x (Zen 5). */
BMM_TARGET_F16 static void rows_kernel(const bmm_args *BMM_RESTRICT g, int cf)
{
    _Alignas(64) unsigned char stack[STACK_BYTES];
    const int64_t n = g->n, m = g->m, p = g->p;
    const int copy_b = g->sb_col != 1;
    /* per item: A as floats, B's row-major copy; a broadcast one once */
    const size_t aitem = (size_t)(n * m) * 4, bitem = copy_b ? (size_t)(m * p) * 2 : 0;
    const size_t each = (g->sa_batch ? aitem : 0) + (g->sb_batch ? bitem : 0);
    const size_t once = (g->sa_batch ? 0 : aitem) + (g->sb_batch ? 0 : bitem);
    int64_t chunk = each && once + each <= STACK_BYTES ? (int64_t)((STACK_BYTES - once) / each)
        : 1;
    if (chunk > g->batch)
        chunk = g->batch;
    const size_t bytes = once + (size_t)chunk * each + 64;
    void *heap = NULL;
    unsigned char *buf = stack;
    if (bytes > STACK_BYTES && !(buf = heap = aligned_alloc(64, (bytes + 63) / 64 * 64))) {
        bmm__generic_args(g, BMM_F16, cf ? BMM_F32 : BMM_F16);
        return;
    }
    float *aw = (float *)(void *)buf;
    uint16_t *bw = (uint16_t *)(void *)(buf + (g->sa_batch ? (size_t)chunk : 1) * aitem);
    const int64_t ab = g->sa_batch ? n * m : 0, bb = g->sb_batch ? m * p : 0;
    const __m512 va = _mm512_set1_ps((float)g->alpha);
    /* one vector of columns: blocks of equal height (13: one, 20: 10 and 10) */
    const int64_t blocks1 = (n + ROWS_MAX - 1) / ROWS_MAX, rows1 = (n + blocks1 - 1) / blocks1;
    const uint16_t *A = g->A, *B = g->B;
    for (int64_t t = 0; t < g->batch; t += chunk) {
        const int64_t items = chunk < g->batch - t ? chunk : g->batch - t;
        if (t == 0 || g->sa_batch)  /* a broadcast A is widened once */
            bmm__widen(BMM_F16, A + t * g->sa_batch,
                (bmm_stride){ g->sa_batch, g->sa_row, g->sa_col }, g->sa_batch ? items : 1, n,
                m, aw, n * m, m, BMM_ISA_AVX512);
        block_args x = { aw, B + t * g->sb_batch, AT(g->C, cf, t * g->sc_batch), m,
            g->sb_row, m, g->sc_row, g->sc_col, ab, g->sb_batch, g->sc_batch, items, 0,
            (float)g->beta, cf };
        if (copy_b) {
            if (t == 0 || g->sb_batch)
                for (int64_t u = 0; u < (g->sb_batch ? items : 1); u++)
                    bmm__pack(BMM_F16, B + (t + u) * g->sb_batch,
                        (bmm_stride){ 0, g->sb_row, g->sb_col }, 1, m, p, bw + u * m * p, 0, p,
                        BMM_ISA_C99);
            x.b = bw, x.sb = p, x.bb = bb;
        }
        for (int64_t j0 = 0; j0 < p; j0 += 16 * VECS_MAX) {
            const int J = (int)((p - j0 + 15) / 16 < VECS_MAX ? (p - j0 + 15) / 16 : VECS_MAX);
            const int64_t left = p - j0 - 16 * (J - 1);  /* the last vector's columns */
            const int full = left >= 16;
            const int64_t rows = J == 1 ? rows1 : ROWS_FOR[J];
            block_args y = x;
            y.tail = (__mmask16)(full ? 0xffff : (1u << left) - 1);
            for (int64_t i0 = 0; i0 < n; i0 += rows) {
                y.a = x.a + i0 * m, y.b = x.b + j0;
                y.c = AT(x.c, cf, i0 * g->sc_row + j0 * g->sc_col);
                ROWS_BY[full][J][n - i0 < rows ? n - i0 : rows](&y, va);
            }
        }
    }
    free(heap);
}

/* ---- dot ---- */

#define DOT_ROWS 8

/* R dot products of A's rows (sa apart, unit columns) with one column b, m elements each, 16
 * at a time (both sides converted in registers), summed across lanes at the end. */
BMM_TARGET_F16 INLINE void dot_block(const int R, const uint16_t *a, int64_t sa,
    const uint16_t *b, int64_t m, float *out)
{
    __m512 acc[DOT_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < DOT_ROWS; r++)
        acc[r] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= m; k += 16) {
        const __m512 bv = load16(b + k, 0, 1);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(load16(a + r * sa + k, 0, 1), bv, acc[r]);
    }
    if (k < m) {  /* the last 1..15, zeros past them on both sides */
        const __mmask16 km = (__mmask16)((1u << (m - k)) - 1);
        const __m512 bv = load16(b + k, km, 0);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(load16(a + r * sa + k, km, 0), bv, acc[r]);
    }
    bmm__hsums8_avx512_f32(out, acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]);
}

#define DOT_CASE(R) case R: dot_block(R, a, sa, b, m, out); break;

BMM_TARGET_F16 static void dot_any(int R, const uint16_t *a, int64_t sa, const uint16_t *b,
    int64_t m, float *out)
{
    switch (R) {
        DOT_CASE(1) DOT_CASE(2) DOT_CASE(3) DOT_CASE(4) DOT_CASE(5) DOT_CASE(6) DOT_CASE(7)
        DOT_CASE(8)
        default: break;
    }
}

/* The dot form (few columns); cf: C is float. A's rows and B's columns read in place where
 * they are contiguous, else copied per item (bmm__pack). */
BMM_TARGET_F16 static void dot_kernel(const bmm_args *BMM_RESTRICT g, int cf)
{
    _Alignas(64) unsigned char stack[STACK_BYTES];
    const int64_t n = g->n, m = g->m, p = g->p;
    const int copy_a = g->sa_col != 1, copy_b = g->sb_row != 1 && p > 1;
    const size_t abytes = copy_a ? (size_t)(n * m) * 2 : 0;
    const size_t bytes = abytes + (copy_b ? (size_t)(p * m) * 2 : 0);
    void *heap = NULL;
    uint16_t *acopy = (uint16_t *)(void *)stack;
    if (bytes > STACK_BYTES && !(acopy = heap = aligned_alloc(64, (bytes + 63) / 64 * 64))) {
        bmm__generic_args(g, BMM_F16, cf ? BMM_F32 : BMM_F16);
        return;
    }
    uint16_t *bcopy = (uint16_t *)(void *)((char *)acopy + abytes);
    const float alpha = (float)g->alpha, beta = (float)g->beta;
    const uint16_t *A = g->A, *B = g->B;
    for (int64_t t = 0; t < g->batch; t++) {
        const uint16_t *a = A + t * g->sa_batch, *bt = B + t * g->sb_batch;
        int64_t sa = g->sa_row, sbt = g->sb_col;  /* B^T's rows: B's columns */
        if (copy_a) {
            if (t == 0 || g->sa_batch)
                bmm__pack(BMM_F16, a, (bmm_stride){ 0, g->sa_row, g->sa_col }, 1, n, m, acopy,
                    0, m, BMM_ISA_C99);
            a = acopy, sa = m;
        }
        if (g->sb_row != 1 && p == 1) {  /* one column: copied as one row */
            if (t == 0 || g->sb_batch)
                bmm__pack(BMM_F16, bt, (bmm_stride){ 0, g->sb_col, g->sb_row }, 1, 1, m, bcopy,
                    0, m, BMM_ISA_C99);
            bt = bcopy;
        } else if (copy_b) {
            if (t == 0 || g->sb_batch)
                bmm__pack(BMM_F16, bt, (bmm_stride){ 0, g->sb_col, g->sb_row }, 1, p, m, bcopy,
                    0, m, BMM_ISA_C99);
            bt = bcopy, sbt = m;
        }
        for (int64_t j = 0; j < p; j++)
            for (int64_t i0 = 0; i0 < n; i0 += DOT_ROWS) {
                const int R = (int)(n - i0 < DOT_ROWS ? n - i0 : DOT_ROWS);
                float out[DOT_ROWS];
                dot_any(R, a + i0 * sa, sa, bt + j * sbt, m, out);
                const int64_t o = t * g->sc_batch + i0 * g->sc_row + j * g->sc_col;
                if (cf) {
                    float *x = (float *)g->C + o;
                    for (int r = 0; r < R; r++, x += g->sc_row)
                        *x = beta != 0 ? alpha * out[r] + beta * *x : alpha * out[r];
                    continue;
                }
                /* an f16 C: the R results converted at once (a scalar conversion each cost
                 * more than its dot product at 12x20x3) */
                uint16_t h[DOT_ROWS] = { 0 }, *x = (uint16_t *)g->C + o;
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(out), _mm256_set1_ps(alpha));
                if (beta != 0) {
                    for (int r = 0; r < R; r++)
                        h[r] = x[r * g->sc_row];
                    v = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)),
                        _mm256_set1_ps(beta), v);
                }
                _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(v, ROUND));
                for (int r = 0; r < R; r++)
                    x[r * g->sc_row] = h[r];
            }
    }
    free(heap);
}

/* The kernels of the ABI: f16 C, and float C (BMM_C_F32; "f16f32": f16 in, f32 out). */
BMM_TARGET_F16 static void bmm_f16_nxmxp_any_avx512_g16_ab(const bmm_args *BMM_RESTRICT g)
{
    rows_kernel(g, 0);
}

BMM_TARGET_F16 static void bmm_f16f32_nxmxp_any_avx512_g16_ab(const bmm_args *BMM_RESTRICT g)
{
    rows_kernel(g, 1);
}

BMM_TARGET_F16 static void bmm_f16_nxmxp_any_avx512_gnt8x1_ab(const bmm_args *BMM_RESTRICT g)
{
    dot_kernel(g, 0);
}

BMM_TARGET_F16 static void bmm_f16f32_nxmxp_any_avx512_gnt8x1_ab(
    const bmm_args *BMM_RESTRICT g)
{
    dot_kernel(g, 1);
}

#define F16_DESC(NAME, FORM, ROWS, VECS) { #NAME, BMM_F16, 0, 0, 0, BMM_LAYOUT_ANY, \
    BMM_ISA_AVX512, BMM_SCALARS_AB, FORM, ROWS, VECS, 16, 0, 0, NAME }
/* [cf]: C f16, C float */
static const bmm_kernel_desc ROWS[2] = {
    F16_DESC(bmm_f16_nxmxp_any_avx512_g16_ab, BMM_FORM_GROWS, ROWS_MAX, VECS_MAX),
    F16_DESC(bmm_f16f32_nxmxp_any_avx512_g16_ab, BMM_FORM_GROWS, ROWS_MAX, VECS_MAX) };
static const bmm_kernel_desc DOT[2] = {
    F16_DESC(bmm_f16_nxmxp_any_avx512_gnt8x1_ab, BMM_FORM_GNT, DOT_ROWS, 1),
    F16_DESC(bmm_f16f32_nxmxp_any_avx512_gnt8x1_ab, BMM_FORM_GNT, DOT_ROWS, 1) };
#endif

/* Past one vector of columns the rows kernel runs 1.05x (64x64x64) to 4x (1x37x256) the
 * widened path, whose copies of B cost the most where n is small (1x64x128 2.7x, 4x8x64 2.1x);
 * within one it is 0.5x (8x8x8: the generator's kernels fill a vector with two rows of C) to
 * 1.07x (6x10x14). The dot kernel runs one column of 16 and more elements 1.1x (8x16x1) to
 * 2.6x (10x256x1), two or three of 64 and more 1.4x (32x128x3) to 2.9x (40x256x2); B's columns
 * copied per item, fewer elements or more columns ran slower (4x16x2 0.36x, 16x64x4 0.64x).
 * Everything else, and products of at most 64 multiply-adds, stays widened (Zen 5, one core,
 * back to back). */
#define F16_MIN_MADDS 64
#define F16_MIN_COLS 17
#define F16_DOT_COLS 3
#define F16_DOT_MIN_M 16
#define F16_DOT_MIN_MC 64

const bmm_kernel_desc *bmm__fma16_kernel(const bmm__problem *pr, int admitted)
{
#if BMM_HAVE_X86_SIMD
    if (!admitted || pr->dtype != BMM_F16 || pr->batch < 1
        || pr->n * pr->m * pr->p <= F16_MIN_MADDS)
        return NULL;
    const int cf = pr->cdtype == BMM_F32;
    if (pr->p == 1 ? pr->m >= F16_DOT_MIN_M : pr->p <= F16_DOT_COLS && pr->m >= F16_DOT_MIN_MC)
        return &DOT[cf];
    return pr->p >= F16_MIN_COLS ? &ROWS[cf] : NULL;
#else
    (void)pr, (void)admitted;
    return NULL;
#endif
}

const char *bmm__fma16_operands(const bmm_kernel_desc *k, const bmm__problem *pr)
{
    static const char *const DOT_SAY[4] = { "as given (AVX-512 f16)", "A copied (AVX-512 f16)",
        "B copied transposed (AVX-512 f16)", "A copied, B copied transposed (AVX-512 f16)" };
    if (k->form == BMM_FORM_GNT)
        return DOT_SAY[(pr->sa.col != 1) | (pr->sb.row != 1) << 1];
    return pr->sb.col != 1 ? "A widened, B copied (AVX-512 f16)" : "A widened (AVX-512 f16)";
}
