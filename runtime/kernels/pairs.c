/* pairs.c: bf16 kernels of AVX512_BF16, two products per float lane per instruction.
 *
 * vdpbf16ps adds a[2i] b[2i] + a[2i+1] b[2i+1] to float lane i: the products are exact in
 * float, the two sums rounded to nearest even as an FMA's, and subnormal inputs and results
 * read and written as zero (the instruction's definition, whatever MXCSR says). So the pairs
 * run along k, as oneDNN's "VNNI" layout has them:
 *
 *   rows (g<R>): R rows of C of up to 4 vectors of 16 columns at a time; A's pairs
 *     (A[i,k], A[i,k+1]: adjacent in a row-major A, one 32-bit broadcast) times B's pairs,
 *     which a copy per item interleaves (B[k,j] and B[k+1,j] in one 32-bit word);
 *   dot (gnt<R>x1): p small: R rows of A times a column of B at once, 32 elements of k per
 *     instruction, summed across lanes at the end; B's columns read in place where they are
 *     contiguous (p = 1, a transposed B), copied per item else.
 *
 * An odd m pairs its last element with a zero (never reading past the row). alpha and beta
 * are applied in float and C rounded once to nearest even by vcvtneps2bf16 (a subnormal
 * result to zero, as the products), in the kernel, through C's own strides; a float C
 * (BMM_C_F32: the bmm_bf16f32_ kernels, the same code with the other store) is stored as is.
 * They are kernels of the one ABI (bmm_kernel.h, every stride read at run time), but not
 * generated: the generator has no bf16 forms yet (docs/semantics.md, "16-bit dtypes").
 * The runtime calls them only where cpuid says AVX512_BF16 (bmm__cpu_bf16) and BMM_ARCH is
 * unset. */
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"
#include "bmm_simd.h"
#include "store16.h"

#if BMM_HAVE_X86_SIMD
#define BMM_TARGET_BF16 \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512bf16,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
#define ROWS_MAX 8    /* rows of a rows block: R x J accumulators, J B vectors, a broadcast */
#define VECS_MAX 4
#define DOT_ROWS 8
#define NARROW_MAX 16 /* rows of a one-vector block: accumulators, B's vector, a broadcast */
#define STACK_BYTES 16384

static const int ROWS_FOR[VECS_MAX + 1] = { 0, 8, 8, 6, 6 };

BMM_TARGET_BF16 INLINE __m512 widen16(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* To nearest even by vcvtneps2bf16: a NaN kept quiet, a subnormal float read as zero. */
BMM_TARGET_BF16 INLINE __m256i narrow16(__m512 v)
{
    return (__m256i)_mm512_cvtneps_pbh(v);
}

/* acc + the pair at x (two bf16, broadcast) times b's pairs. The broadcast is the
 * instruction's own memory operand ({1to16}), which GCC 12 does not fold into vdpbf16ps from
 * _mm512_set1_epi32: a separate vpbroadcastd per product cost 8x8x8 1.2x, 13x13x13 1.16x
 * (Zen 5). Only where one broadcast feeds one product: the rows blocks' J products of one
 * broadcast ran 0.8x so. x must hold both elements (an odd m's last: the caller's). */
typedef uint32_t pair_word __attribute__((aligned(2), may_alias));  /* two bf16 */
BMM_TARGET_BF16 INLINE __m512 dp_pair(__m512 acc, const uint16_t *x, __m512i b)
{
    __asm__("vdpbf16ps %1%{1to16%}, %2, %0" : "+v"(acc)
        : "m"(*(const pair_word *)(const void *)x), "v"(b));
    return acc;
}

/* One bf16 as a float (C's elements read one at a time). */
#define widen1(h) bmm__half_to_float(h, 7, 8)

/* One float the same way (C's elements written one at a time). */
BMM_TARGET_BF16 INLINE uint16_t narrow1(float x)
{
    __m128bh h = _mm_cvtneps_pbh(_mm_set_ss(x));
    uint16_t r;
    memcpy(&r, &h, sizeof r);
    return r;
}

/* C's element o: bf16, or float (cf: a float C, BMM_C_F32). */
#define AT(c, cf, o) ((void *)((char *)(c) + (o) * ((cf) ? 4 : 2)))

/* 16 results (lanes k) into C's row at c, columns sc apart: alpha acc + beta c. */
BMM_TARGET_BF16 INLINE void store_row(__m512 acc, void *cv, int64_t sc, __mmask16 k,
    __m512 va, float beta, int cf, const int wide)
{
    __m512 v = _mm512_mul_ps(acc, va);
    if (cf) {
        bmm__store_row_f32(v, cv, sc, k, beta);
        return;
    }
    uint16_t *c = cv;
    if (sc == 1) {
        if (beta != 0)
            v = _mm512_fmadd_ps(widen16(_mm256_maskz_loadu_epi16(k, c)), _mm512_set1_ps(beta), v);
        if (wide && k == 0xffff)  /* (rows blocks of 64x64x64: a masked store 0.8x) */
            _mm256_storeu_si256((__m256i *)(void *)c, narrow16(v));
        else
            _mm256_mask_storeu_epi16(c, k, narrow16(v));
        return;
    }
    float t[16];
    _mm512_storeu_ps(t, v);
    for (int j = 0; j < 16 && (k >> j & 1); j++)
        c[j * sc] = narrow1(beta != 0 ? t[j] + beta * widen1(c[j * sc]) : t[j]);
}

/* ---- rows ---- */

/* B's pairs of one item: word (q, j) = B[2q, j] | B[2q+1, j] << 16 at w[q * ldw + j], a zero
 * past m and past p (ldw: p rounded up to whole vectors). */
BMM_TARGET_BF16 static void pair_rows(const uint16_t *b, int64_t sr, int64_t sc, int64_t m,
    int64_t p, uint32_t *w, int64_t ldw)
{
    if (sr == 1 && sc != 1 && !(sc & 1) && !((uintptr_t)b & 3)) {
        /* a transposed view, its rows 4-byte aligned: the pairs are adjacent, 32-bit words of
         * B^T's rows, moved by pack.c's in-register transposes; an odd m's last row after */
        const int64_t half = m / 2;
        if (half)
            bmm__pack(BMM_F32, b, (bmm_stride){ 0, 1, sc / 2 }, 1, half, p, w, 0, ldw,
                BMM_ISA_AVX512);
        for (int64_t q = 0; q < half; q++)
            for (int64_t j = p; j < ldw; j++)
                w[q * ldw + j] = 0;
        if (m & 1)
            for (int64_t j = 0; j < ldw; j++)
                w[half * ldw + j] = j < p ? b[m - 1 + j * sc] : 0u;
        return;
    }
    if (sc != 1) {
        for (int64_t q = 0; q < (m + 1) / 2; q++)
            for (int64_t j = 0; j < ldw; j++)
                w[q * ldw + j] = j >= p ? 0u : b[2 * q * sr + j * sc]
                    | (2 * q + 1 == m ? 0u : (uint32_t)b[(2 * q + 1) * sr + j * sc] << 16);
        return;
    }
    /* 32 columns of rows 2q and 2q + 1 at a time: vpunpck[lh]wd pairs them within 128-bit
     * lanes (columns 0-3 and 8-11 in one, 4-7 and 12-15 in the other, and so on), two
     * permutes put the words back in column order */
    const __m512i order0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21,
        22, 23);
    const __m512i order1 = _mm512_add_epi32(order0, _mm512_set1_epi32(8));
    for (int64_t j = 0; j < ldw; j += 32) {
        const int64_t left = p - j;
        const __mmask32 k = (__mmask32)(left >= 32 ? ~0u : left > 0 ? (1u << left) - 1 : 0u);
        const int two = j + 16 < ldw;  /* (ldw: whole vectors of 16) */
        const uint16_t *r = b + j;
        uint32_t *d = w + j;
        for (int64_t q = 0; q < (m + 1) / 2; q++, r += 2 * sr, d += ldw) {
            const __m512i r0 = _mm512_maskz_loadu_epi16(k, r);
            const __m512i r1 = 2 * q + 1 == m ? _mm512_setzero_si512()  /* odd m: a zero */
                : _mm512_maskz_loadu_epi16(k, r + sr);
            const __m512i lo = _mm512_unpacklo_epi16(r0, r1), hi = _mm512_unpackhi_epi16(r0, r1);
            _mm512_store_si512(d, _mm512_permutex2var_epi32(lo, order0, hi));
            if (two)
                _mm512_store_si512(d + 16, _mm512_permutex2var_epi32(lo, order1, hi));
        }
    }
}

/* Pair q of k (2q, 2q + 1) into the accumulators: row r's pair at a + r sa + q sq (A's own
 * rows: sq 2; A's pairs: see pair_a); odd: the last element alone, paired with a zero. */
BMM_TARGET_BF16 INLINE void rows_step(const int R, const int J, __m512 acc[][VECS_MAX],
    const uint16_t *a, int64_t sa, int64_t sq, const uint32_t *wq, int64_t q, int odd)
{
    __m512i b[VECS_MAX];
#pragma GCC unroll 4
    for (int j = 0; j < J; j++)
        b[j] = _mm512_load_si512(wq + 16 * j);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        uint32_t pair = a[r * sa + q * sq];
        if (!odd)
            memcpy(&pair, a + r * sa + q * sq, sizeof pair);
        const __m512i av = _mm512_set1_epi32((int)pair);  /* (one broadcast for J products) */
#pragma GCC unroll 4
        for (int j = 0; j < J; j++)
            acc[r][j] = _mm512_dpbf16_ps(acc[r][j], (__m512bh)av, (__m512bh)b[j]);
    }
}

/* R rows of C, J vectors of columns (the last `tail` columns wide): A's pairs at a (rows sa,
 * pairs sq apart), B's pairs at w. */
BMM_TARGET_BF16 INLINE void rows_block(const int R, const int J, const uint16_t *a, int64_t sa,
    int64_t sq, const uint32_t *w, int64_t ldw, int64_t m, void *c, int64_t scr, int64_t scc,
    __mmask16 tail, __m512 va, float beta, int cf)
{
    __m512 acc[ROWS_MAX][VECS_MAX];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int j = 0; j < J; j++)
            acc[r][j] = _mm512_setzero_ps();
    const int64_t half = m / 2;
    for (int64_t q = 0; q < half; q++)
        rows_step(R, J, acc, a, sa, sq, w + q * ldw, q, 0);
    if (m & 1)
        rows_step(R, J, acc, a, sa, sq, w + half * ldw, half, 1);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int j = 0; j < J; j++)
            store_row(acc[r][j], AT(c, cf, r * scr + 16 * j * scc), scc,
                j == J - 1 ? tail : (__mmask16)0xffff, va, beta, cf, 1);
}

/* Each block shape its own function, its accumulators in registers (one allocation region:
 * GCC's default spilled one across the k loop, the 0.6x bmm_simd.h tells of). */
typedef void (*rows_fn)(const uint16_t *a, int64_t sa, int64_t sq, const uint32_t *w,
    int64_t ldw, int64_t m, void *c, int64_t scr, int64_t scc, __mmask16 tail, __m512 va,
    float beta, int cf);
#define ROWS_FN(R, J)                                                                         \
    BMM_TARGET_BF16 BMM_CHUNK_BLOCK static void rows_##R##_##J(const uint16_t *a, int64_t sa, \
        int64_t sq, const uint32_t *w, int64_t ldw, int64_t m, void *c, int64_t scr,          \
        int64_t scc, __mmask16 tail, __m512 va, float beta, int cf)                           \
    {                                                                                         \
        rows_block(R, J, a, sa, sq, w, ldw, m, c, scr, scc, tail, va, beta, cf);              \
    }
#define ROWS_FNS(J) ROWS_FN(1, J) ROWS_FN(2, J) ROWS_FN(3, J) ROWS_FN(4, J) ROWS_FN(5, J) \
    ROWS_FN(6, J)
ROWS_FNS(1) ROWS_FNS(2) ROWS_FNS(3) ROWS_FNS(4)
ROWS_FN(7, 1) ROWS_FN(8, 1) ROWS_FN(7, 2) ROWS_FN(8, 2)
#define ROWS_ROW(J) { NULL, rows_1_##J, rows_2_##J, rows_3_##J, rows_4_##J, rows_5_##J, \
    rows_6_##J, NULL, NULL }
static const rows_fn ROWS_BY[VECS_MAX + 1][ROWS_MAX + 1] = {
    { NULL }, { NULL, rows_1_1, rows_2_1, rows_3_1, rows_4_1, rows_5_1, rows_6_1, rows_7_1,
    rows_8_1 }, { NULL, rows_1_2, rows_2_2, rows_3_2, rows_4_2, rows_5_2, rows_6_2, rows_7_2,
    rows_8_2 }, ROWS_ROW(3), ROWS_ROW(4) };

/* An item's operand copied row-major (rows cols apart) where its columns are not unit-stride. */
static void copy_rows(const uint16_t *x, int64_t sr, int64_t sc, int64_t rows, int64_t cols,
    uint16_t *d)
{
    bmm__pack(BMM_BF16, x, (bmm_stride){ 0, sr, sc }, 1, rows, cols, d, 0, cols, BMM_ISA_C99);
}

/* A buffer of `bytes`, 64-aligned: the stack's when it fits, else the heap's (*heap to free). */
static void *buffer(unsigned char *stack, size_t bytes, void **heap)
{
    *heap = NULL;
    if (bytes <= STACK_BYTES)
        return stack;
    return *heap = aligned_alloc(64, (bytes + 63) / 64 * 64);
}

/* One vector of columns (p <= 16), A's and B's columns unit-stride: B's pairs made in
 * registers as the k loop needs them, not copied, and the batch loop inside, R rows of every
 * item at a time: small items pay neither a copy nor a call each (8x8x8 ~1.4x). Tried and
 * dropped (Zen 5): two items at a time, twice the chains (0.93x at 8x8x8, 0.73x at 6x10x14);
 * for p <= 8, lanes as (column, which of two pairs of k), A's four elements one 64-bit
 * broadcast and the two halves summed at the end (0.7x at 8x8x8: the interleaving of B and
 * the sums cost more than the half of the products saved). */
BMM_TARGET_BF16 INLINE void narrow_block(const int R, const uint16_t *a, int64_t sa,
    const uint16_t *b, int64_t sb, int64_t m, __mmask16 k, void *c, int64_t scr,
    int64_t scc, __m512 va, float beta, int cf, const int wide)
{
    __m512 acc[NARROW_MAX];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    const int64_t half = m / 2;
    for (int64_t q = 0; q < half; q++, b += 2 * sb) {
        const __m512i lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, b));
        const __m512i hi = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, b + sb));
        const __m512i bv = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
#pragma GCC unroll 16
        for (int r = 0; r < R; r++)
            acc[r] = dp_pair(acc[r], a + r * sa + 2 * q, bv);
    }
    if (m & 1) {  /* the last row of B and a zero */
        const __m512i bv = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, b));
#pragma GCC unroll 16
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_set1_epi32(a[r * sa + m - 1]),
                (__m512bh)bv);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
        store_row(acc[r], AT(c, cf, r * scr), scc, k, va, beta, cf, wide);
}

/* R rows from row i0 of every item; k: the columns' lanes (wide: all, stored unmasked). */
BMM_TARGET_BF16 INLINE void narrow_items(const int R, const bmm_args *g, int64_t i0, int cf,
    __mmask16 k, const int wide)
{
    const __m512 va = _mm512_set1_ps((float)g->alpha);
    const uint16_t *a = (const uint16_t *)g->A + i0 * g->sa_row, *b = g->B;
    for (int64_t t = 0; t < g->batch; t++, a += g->sa_batch, b += g->sb_batch)
        narrow_block(R, a, g->sa_row, b, g->sb_row, g->m, k,
            AT(g->C, cf, t * g->sc_batch + i0 * g->sc_row), g->sc_row, g->sc_col, va,
            (float)g->beta, cf, wide);
}

#define NARROW_FN(R)                                                                          \
    BMM_TARGET_BF16 BMM_CHUNK_BLOCK static void narrow_##R(const bmm_args *g, int64_t i0,    \
        int cf)                                                                               \
    {                                                                                         \
        const __mmask16 k = (__mmask16)(g->p >= 16 ? 0xffff : (1u << g->p) - 1);            \
        if (k == 0xffff)                                                                      \
            narrow_items(R, g, i0, cf, k, 1);                                                 \
        else                                                                                  \
            narrow_items(R, g, i0, cf, k, 0);                                                 \
    }
NARROW_FN(1) NARROW_FN(2) NARROW_FN(3) NARROW_FN(4) NARROW_FN(5) NARROW_FN(6) NARROW_FN(7)
NARROW_FN(8) NARROW_FN(9) NARROW_FN(10) NARROW_FN(11) NARROW_FN(12) NARROW_FN(13) NARROW_FN(14)
NARROW_FN(15) NARROW_FN(16)
static void (*const NARROW_BY[NARROW_MAX + 1])(const bmm_args *, int64_t, int) = { NULL,
    narrow_1, narrow_2, narrow_3, narrow_4, narrow_5, narrow_6, narrow_7, narrow_8, narrow_9,
    narrow_10, narrow_11, narrow_12, narrow_13, narrow_14, narrow_15, narrow_16 };

/* The rows form; cf: C is float. */
BMM_TARGET_BF16 static void rows_kernel(const bmm_args *BMM_RESTRICT g, int cf)
{
    if (g->p <= 16 && g->sa_col == 1 && g->sb_col == 1) {
        /* blocks of equal height (13: one, 20: 10 and 10), at most NARROW_MAX */
        const int64_t blocks = (g->n + NARROW_MAX - 1) / NARROW_MAX;
        const int64_t R = (g->n + blocks - 1) / blocks;
        for (int64_t i0 = 0; i0 < g->n; i0 += R)
            NARROW_BY[g->n - i0 < R ? g->n - i0 : R](g, i0, cf);
        return;
    }
    _Alignas(64) unsigned char stack[STACK_BYTES];
    const int64_t n = g->n, m = g->m, p = g->p, ldw = (p + 15) / 16 * 16;
    /* A: its rows as given (unit column stride); a transposed view's pairs (made as B's, from
     * its rows of k: word (q, i) is row i's pair q); else a row-major copy */
    const int pair_a = g->sa_col != 1 && g->sa_row == 1, copy_a = g->sa_col != 1 && !pair_a;
    const int64_t lda = (n + 15) / 16 * 16;
    const size_t wbytes = (size_t)((m + 1) / 2 * ldw) * 4;
    const size_t abytes = pair_a ? (size_t)((m + 1) / 2 * lda) * 4 : copy_a ? (size_t)(n * m) * 2 : 0;
    void *heap;
    uint32_t *w = buffer(stack, wbytes + abytes, &heap);
    if (!w) {
        bmm__generic_args(g, BMM_BF16, cf ? BMM_F32 : BMM_BF16);
        return;
    }
    uint16_t *acopy = (uint16_t *)(void *)((char *)w + wbytes);
    const __m512 va = _mm512_set1_ps((float)g->alpha);
    const float beta = (float)g->beta;
    const uint16_t *A = g->A, *B = g->B;
    for (int64_t t = 0; t < g->batch; t++) {
        if (t == 0 || g->sb_batch)  /* a broadcast B is paired once */
            pair_rows(B + t * g->sb_batch, g->sb_row, g->sb_col, m, p, w, ldw);
        const uint16_t *a = A + t * g->sa_batch;
        int64_t sa = g->sa_row, sq = 2;
        if (pair_a) {
            if (t == 0 || g->sa_batch)
                pair_rows(a, g->sa_col, 1, m, n, (uint32_t *)(void *)acopy, lda);
            a = acopy, sa = 2, sq = 2 * lda;
        } else if (copy_a) {
            if (t == 0 || g->sa_batch)
                copy_rows(a, g->sa_row, g->sa_col, n, m, acopy);
            a = acopy, sa = m;
        }
        void *c = AT(g->C, cf, t * g->sc_batch);
        for (int64_t j0 = 0; j0 < p; j0 += 16 * VECS_MAX) {
            const int J = (int)((p - j0 + 15) / 16 < VECS_MAX ? (p - j0 + 15) / 16 : VECS_MAX);
            const int64_t left = p - j0 - 16 * (J - 1);  /* the last vector's columns */
            const __mmask16 tail = (__mmask16)(left >= 16 ? 0xffff : (1u << left) - 1);
            const int rows = ROWS_FOR[J];
            for (int64_t i0 = 0; i0 < n; i0 += rows)
                ROWS_BY[J][n - i0 < rows ? n - i0 : rows](a + i0 * sa, sa, sq, w + j0, ldw,
                    m, AT(c, cf, i0 * g->sc_row + j0 * g->sc_col), g->sc_row, g->sc_col,
                    tail, va, beta, cf);
        }
    }
    free(heap);
}

/* ---- dot ---- */

/* R dot products of A's rows (sa apart) with one column b, each of m elements. */
BMM_TARGET_BF16 INLINE void dot_block(const int R, const uint16_t *a, int64_t sa,
    const uint16_t *b, int64_t m, float *out)
{
    __m512 acc[DOT_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= m; k += 32) {
        const __m512i bv = _mm512_loadu_si512(b + k);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_loadu_si512(a + r * sa + k),
                (__m512bh)bv);
    }
    if (k < m) {  /* the last 1..31, zeros past them on both sides */
        const __mmask32 km = (__mmask32)((1ull << (m - k)) - 1);
        const __m512i bv = _mm512_maskz_loadu_epi16(km, b + k);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_dpbf16_ps(acc[r],
                (__m512bh)_mm512_maskz_loadu_epi16(km, a + r * sa + k), (__m512bh)bv);
    }
    if (R < 5) {  /* (few rows: their own sums cost less than a transpose of eight) */
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            out[r] = _mm512_reduce_add_ps(acc[r]);
        return;
    }
#pragma GCC unroll 8
    for (int r = R; r < DOT_ROWS; r++)
        acc[r] = _mm512_setzero_ps();
    bmm__hsums8_avx512_f32(out, acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]);
}

#define DOT_CASE(R) case R: dot_block(R, a, sa, b, m, out); break;

BMM_TARGET_BF16 static void dot_any(int R, const uint16_t *a, int64_t sa, const uint16_t *b,
    int64_t m, float *out)
{
    switch (R) {
        DOT_CASE(1) DOT_CASE(2) DOT_CASE(3) DOT_CASE(4) DOT_CASE(5) DOT_CASE(6) DOT_CASE(7)
        DOT_CASE(8)
        default: break;
    }
}

/* The dot form; cf: C is float. */
BMM_TARGET_BF16 static void dot_kernel(const bmm_args *BMM_RESTRICT g, int cf)
{
    _Alignas(64) unsigned char stack[STACK_BYTES];
    const int64_t n = g->n, m = g->m, p = g->p;
    const int copy_a = g->sa_col != 1, copy_b = g->sb_row != 1;  /* B's columns contiguous? */
    const size_t abytes = copy_a ? (size_t)(n * m) * 2 : 0;
    void *heap;
    uint16_t *buf = buffer(stack, abytes + (copy_b ? (size_t)(p * m) * 2 : 0), &heap);
    if (!buf) {
        bmm__generic_args(g, BMM_BF16, cf ? BMM_F32 : BMM_BF16);
        return;
    }
    uint16_t *acopy = buf, *bcopy = (uint16_t *)(void *)((char *)buf + abytes);
    const float alpha = (float)g->alpha, beta = (float)g->beta;
    const uint16_t *A = g->A, *B = g->B;
    for (int64_t t = 0; t < g->batch; t++) {
        const uint16_t *a = A + t * g->sa_batch, *bt = B + t * g->sb_batch;
        int64_t sa = g->sa_row, sbt = g->sb_col;  /* B^T's rows: B's columns */
        if (copy_a) {
            if (t == 0 || g->sa_batch)
                copy_rows(a, g->sa_row, g->sa_col, n, m, acopy);
            a = acopy, sa = m;
        }
        if (copy_b) {
            if (t == 0 || g->sb_batch)
                copy_rows(bt, g->sb_col, g->sb_row, p, m, bcopy);
            bt = bcopy, sbt = m;
        }
        for (int64_t j = 0; j < p; j++)
            for (int64_t i0 = 0; i0 < n; i0 += DOT_ROWS) {
                const int R = (int)(n - i0 < DOT_ROWS ? n - i0 : DOT_ROWS);
                float out[DOT_ROWS] = { 0 };
                dot_any(R, a + i0 * sa, sa, bt + j * sbt, m, out);
                for (int r = 0; r < R; r++) {  /* (as store_row's) */
                    const int64_t o = t * g->sc_batch + (i0 + r) * g->sc_row + j * g->sc_col;
                    if (cf) {
                        float *x = (float *)g->C + o;
                        *x = beta != 0 ? alpha * out[r] + beta * *x : alpha * out[r];
                    } else {
                        uint16_t *x = (uint16_t *)g->C + o;
                        *x = narrow1(beta != 0 ? alpha * out[r] + beta * widen1(*x)
                                               : alpha * out[r]);
                    }
                }
            }
    }
    free(heap);
}

/* The kernels of the ABI: bf16 C, and float C (BMM_C_F32; "bf16f32": bf16 in, f32 out). */
BMM_TARGET_BF16 static void bmm_bf16_nxmxp_any_avx512bf16_g6_ab(const bmm_args *BMM_RESTRICT g)
{
    rows_kernel(g, 0);
}

BMM_TARGET_BF16 static void bmm_bf16f32_nxmxp_any_avx512bf16_g6_ab(
    const bmm_args *BMM_RESTRICT g)
{
    rows_kernel(g, 1);
}

BMM_TARGET_BF16 static void bmm_bf16_nxmxp_any_avx512bf16_gnt8x1_ab(
    const bmm_args *BMM_RESTRICT g)
{
    dot_kernel(g, 0);
}

BMM_TARGET_BF16 static void bmm_bf16f32_nxmxp_any_avx512bf16_gnt8x1_ab(
    const bmm_args *BMM_RESTRICT g)
{
    dot_kernel(g, 1);
}

#define PAIRS_DESC(NAME, FORM, ROWS, VECS, LANES) { #NAME, BMM_BF16, 0, 0, 0, BMM_LAYOUT_ANY, \
    BMM_ISA_AVX512, BMM_SCALARS_AB, FORM, ROWS, VECS, LANES, 0, 0, NAME }
/* [cf]: C bf16, C float */
static const bmm_kernel_desc ROWS[2] = {
    PAIRS_DESC(bmm_bf16_nxmxp_any_avx512bf16_g6_ab, BMM_FORM_GROWS, 6, VECS_MAX, 16),
    PAIRS_DESC(bmm_bf16f32_nxmxp_any_avx512bf16_g6_ab, BMM_FORM_GROWS, 6, VECS_MAX, 16) };
static const bmm_kernel_desc DOT[2] = {
    PAIRS_DESC(bmm_bf16_nxmxp_any_avx512bf16_gnt8x1_ab, BMM_FORM_GNT, DOT_ROWS, 1, 32),
    PAIRS_DESC(bmm_bf16f32_nxmxp_any_avx512bf16_gnt8x1_ab, BMM_FORM_GNT, DOT_ROWS, 1, 32) };
#endif

const char *bmm__pairs_operands(const bmm_kernel_desc *k, const bmm__problem *pr)
{
    static const char *const ROWS_SAY[3] = { "B paired along k (AVX512_BF16)",
        "B paired along k, A copied (AVX512_BF16)", "A and B paired along k (AVX512_BF16)" };
    static const char *const DOT_SAY[4] = { "as given", "A copied", "B copied transposed",
        "A copied, B copied transposed" };
    const int a = pr->sa.col != 1;
    if (k->form == BMM_FORM_GROWS)  /* (p <= 16 with unit columns: pairs in registers) */
        return pr->p <= 16 && !a && pr->sb.col == 1 ? "as given (AVX512_BF16 pairs)"
            : ROWS_SAY[a ? 1 + (pr->sa.row == 1) : 0];
    return DOT_SAY[a | (pr->sb.row != 1) << 1];
}

/* Items of at most this many multiply-adds run faster as f32 on converted copies (the
 * generator's unrolled kernels of their shape, several items a vector): 4x4x4, 3x3x3 and
 * 2x2x2 use a quarter of a pairs kernel's lanes or less (Zen 5: 4x4x4 29 against 45 GFLOP/s;
 * 5x5x5 37 against 34, 8x8x8 94 against 59, 3x3x8 36 against 13). */
#define PAIRS_MIN_MADDS 64

/* The rows form's instructions per item against the dot form's: vdpbf16ps, broadcasts and
 * the pairing copy; the dot products' sums across lanes. */
const bmm_kernel_desc *bmm__pairs_kernel(const bmm__problem *pr, int admitted)
{
#if BMM_HAVE_X86_SIMD
    if (!admitted || pr->dtype != BMM_BF16 || pr->batch < 1
        || pr->n * pr->m * pr->p <= PAIRS_MIN_MADDS)
        return NULL;
    const double q = (double)((pr->m + 1) / 2), v = (double)((pr->p + 15) / 16);
    const double rows = pr->n * q * (v + 1) + q * v * 4 + pr->n * v * 6;
    const double dot = pr->n * pr->p * ((double)((pr->m + 31) / 32) + 8)
        + (pr->sb.row != 1 ? pr->p * pr->m : 0);
    const int cf = pr->cdtype == BMM_F32;
    return dot < rows ? &DOT[cf] : &ROWS[cf];
#else
    (void)pr, (void)admitted;
    return NULL;
#endif
}
