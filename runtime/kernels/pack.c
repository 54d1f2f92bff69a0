/* pack.c: operands copied to row-major before a kernel runs.
 *
 * The vector kernels read an operand's rows as vectors: its columns must be unit-stride. A
 * transposed view (unit row stride, the operand of most backward products and of attention's
 * Q K^T) or any other strides are copied, a chunk of batch items at a time, into a dense
 * row-major buffer, and the kernel runs on the buffer (as BLIS and LIBXSMM pack). The copy
 * reads each element once; the product reads it n (B) or p (A) times. A broadcast operand
 * (batch stride 0) is copied once. */
#include "bmm_internal.h"
#include "bmm_simd.h"

/* The strides of a packed rows x cols operand: seq-first (rows `items` * cols apart) beside a
 * C whose items are adjacent (seq-first, padded or not), so the across-batch kernels still
 * apply; else batch-first. A broadcast one (batch stride 0) is one dense matrix. */
bmm_stride bmm__pack_strides(int seq_first, int64_t items, int64_t rows, int64_t cols,
    bmm_stride s)
{
    if (s.batch == 0 || items <= 1)
        return (bmm_stride){ 0, cols, 1 };
    return seq_first ? (bmm_stride){ cols, items * cols, 1 } : (bmm_stride){ rows * cols, cols, 1 };
}

int bmm__pack_seq_first(const bmm__problem *pr)
{
    return pr->batch > 1 && pr->n > 1 && !(pr->pack & BMM__PACK_C) && pr->sc.batch == pr->p
        && pr->sc.row != pr->p;
}

void bmm__pack_view(const bmm__problem *pr, bmm__problem *kv)
{
    int sf = bmm__pack_seq_first(pr);
    *kv = *pr;
    kv->pack = 0;
    if (pr->pack & BMM__PACK_A) {
        kv->sa = bmm__pack_strides(sf, pr->batch, pr->n, pr->m, pr->sa);
        bmm__normalize_strides(pr->batch, pr->n, pr->m, &kv->sa);
    }
    if (pr->pack & BMM__PACK_B) {
        kv->sb = bmm__pack_strides(sf, pr->batch, pr->m, pr->p, pr->sb);
        bmm__normalize_strides(pr->batch, pr->m, pr->p, &kv->sb);
    }
    if (pr->pack & BMM__PACK_BT) {  /* B^T copied row-major: to the kernel, a transposed B */
        bmm_stride t = bmm__pack_strides(0, pr->batch, pr->p, pr->m, pr->sb);
        kv->sb = (bmm_stride){ t.batch, 1, t.row };
        bmm__normalize_strides(pr->batch, pr->m, pr->p, &kv->sb);
    }
    if (pr->pack & BMM__PACK_C) {
        kv->sc = bmm__pack_strides(0, pr->batch, pr->n, pr->p, pr->sc);
        bmm__normalize_strides(pr->batch, pr->n, pr->p, &kv->sc);
    }
    if (pr->pack & BMM__PACK_WIDE)
        kv->dtype = kv->cdtype = BMM_F32;
}

/* Copies move bits: they are typed by element size alone (any dtype of that size), and loop
 * over a chunk's items inside (a call per item cost more than a small item's copy). */

/* Item t of a transposed view is the cols x rows row-major matrix at x + t * xb (rows ld
 * apart), transposed to d + t * db (rows ldd apart). */
#define TRANSPOSE(T)                                                                          \
    static void transpose_##T(const T *x, int64_t xb, int64_t ld, int64_t items, int64_t rows, \
        int64_t cols, T *d, int64_t db, int64_t ldd)                                          \
    {                                                                                         \
        for (int64_t t = 0; t < items; t++, x += xb, d += db)                                 \
            for (int64_t i = 0; i < rows; i++)                                                \
                for (int64_t j = 0; j < cols; j++)                                            \
                    d[i * ldd + j] = x[j * ld + i];                                           \
    }
TRANSPOSE(uint32_t)
TRANSPOSE(uint64_t)

/* Any strides, along the smaller source stride. */
#define COPY_STRIDED(T)                                                                       \
    static void copy_strided_##T(const T *x, bmm_stride s, int64_t items, int64_t rows,      \
        int64_t cols, T *d, int64_t db, int64_t ldd)                                          \
    {                                                                                         \
        int down = (s.col < 0 ? -s.col : s.col) > (s.row < 0 ? -s.row : s.row);              \
        for (int64_t t = 0; t < items; t++, x += s.batch, d += db) {                          \
            if (down) {                                                                       \
                for (int64_t j = 0; j < cols; j++)                                            \
                    for (int64_t i = 0; i < rows; i++)                                        \
                        d[i * ldd + j] = x[i * s.row + j * s.col];                            \
            } else {                                                                          \
                for (int64_t i = 0; i < rows; i++)                                            \
                    for (int64_t j = 0; j < cols; j++)                                        \
                        d[i * ldd + j] = x[i * s.row + j * s.col];                            \
            }                                                                                 \
        }                                                                                     \
    }
COPY_STRIDED(uint16_t)
COPY_STRIDED(uint32_t)
COPY_STRIDED(uint64_t)

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The tiles' starts along a size of at least one tile: every `tile` elements, and the last
 * tile flush with the end (overlapping the one before: its elements are written twice, with
 * the same values), so no element is left to a scalar loop. */
#define TILE_AT(v, size, tile) ((v) + (tile) <= (size) ? (v) : (size) - (tile))

/* One size x size tile of T (d's rows i.., columns j.. from x's rows j.., columns i..) by
 * bmm_simd.h's in-register transposes. */
#define TILE(name, size, T, vt, target, load, store, transpose)                               \
    target static inline void name(const void *xv, int64_t ld, int64_t i, int64_t j,          \
        void *dv, int64_t ldd)                                                                \
    {                                                                                         \
        const T *x = xv;                                                                      \
        T *d = dv;                                                                            \
        vt r[size];                                                                           \
        for (int k = 0; k < size; k++)                                                        \
            r[k] = load(x + (j + k) * ld + i);                                                \
        transpose(r);                                                                         \
        for (int k = 0; k < size; k++)                                                        \
            store(d + (i + k) * ldd + j, r[k]);                                               \
    }
TILE(tile_4, 8, float, __m256, BMM_TARGET_AVX2, _mm256_loadu_ps, _mm256_storeu_ps,
    bmm__transpose_avx2_f32)
TILE(tile_8, 4, double, __m256d, BMM_TARGET_AVX2, _mm256_loadu_pd, _mm256_storeu_pd,
    bmm__transpose_avx2_f64)
/* 16 x 16 in ZMM registers: 64 shuffles where four 8 x 8 tiles take 96 */
TILE(tile16_4, 16, float, __m512, BMM_TARGET_AVX512, _mm512_loadu_ps, _mm512_storeu_ps,
    bmm__transpose_avx512_f32)

/* Every item by tiles of es-byte elements (rows and cols at least a tile). */
#define TRANSPOSE_TILED(name, tile, T, size, target)                                          \
    target static void name(const T *x, int64_t xb, int64_t ld, int64_t items,                \
        int64_t rows, int64_t cols, T *d, int64_t db, int64_t ldd)                            \
    {                                                                                         \
        for (int64_t t = 0; t < items; t++, x += xb, d += db)                                 \
            for (int64_t j = 0; j < cols; j += size)                                          \
                for (int64_t i = 0; i < rows; i += size)                                      \
                    tile(x, ld, TILE_AT(i, rows, size), TILE_AT(j, cols, size), d, ldd);      \
    }
TRANSPOSE_TILED(transpose_4_avx2, tile_4, uint32_t, 8, BMM_TARGET_AVX2)
TRANSPOSE_TILED(transpose_8_avx2, tile_8, uint64_t, 4, BMM_TARGET_AVX2)
TRANSPOSE_TILED(transpose_4_avx512, tile16_4, uint32_t, 16, BMM_TARGET_AVX512)

/* Small items (at most four ZMM registers: 64 4-byte or 32 8-byte elements) whose source is
 * dense (ld == rows): each item is loaded whole and every output vector is two-table permutes
 * of it, the indices worked out once per call (a chunk of items). The items of small shapes are too small for
 * tiles, and an element at a time costs two cycles (6x6x6 with B transposed ran at 0.28x of
 * row-major). The output is dense (ldd == cols: vectors run across its rows) or each of its
 * rows is one vector (cols at most a vector). */
#define SMALL_MAX(es) (256 / (es))
static int small_fits(int64_t es, int64_t ld, int64_t rows, int64_t cols, int64_t ldd)
{
    const int64_t lanes = 64 / es;
    return (ld == rows || cols == 1) && rows * cols <= SMALL_MAX(es)
        && (ldd == cols || cols <= lanes);
}

/* The items' loop, given the output's vectors (nv a constant where it is small: the indices
 * and masks stay in registers). */
#define TRANSPOSE_SMALL_ITEMS(es, T, SUF, M)                                                  \
    __attribute__((target("avx512f"), always_inline)) static inline void                      \
    small_items_##es(const T *x, int64_t xb, int64_t items, int size, int dense, int nv,      \
        const __m512i *idx, const M *hi, const M *out, const M *in, T *d, int64_t db,         \
        int64_t ldd)                                                                          \
    {                                                                                         \
        enum { LANES = 64 / es };                                                             \
        for (int64_t t = 0; t < items; t++, x += xb, d += db) {                               \
            __m512i s0 = _mm512_maskz_loadu_##SUF(in[0], x),                                  \
                    s1 = _mm512_maskz_loadu_##SUF(in[1], x + LANES), s2 = s0, s3 = s1;        \
            if (size > 2 * LANES)                                                             \
                s2 = _mm512_maskz_loadu_##SUF(in[2], x + 2 * LANES),                          \
                s3 = _mm512_maskz_loadu_##SUF(in[3], x + 3 * LANES);                          \
            for (int v = 0; v < nv; v++) {                                                    \
                __m512i o = _mm512_permutex2var_##SUF(s0, idx[v], s1);                        \
                if (size > 2 * LANES)                                                         \
                    o = _mm512_mask_blend_##SUF(hi[v], o,                                     \
                        _mm512_permutex2var_##SUF(s2, idx[v], s3));                           \
                _mm512_mask_storeu_##SUF(d + (dense ? v * LANES : v * ldd), out[v], o);       \
            }                                                                                 \
        }                                                                                     \
    }

#define TRANSPOSE_SMALL(es, T, SUF, M)                                                        \
    TRANSPOSE_SMALL_ITEMS(es, T, SUF, M)                                                      \
    __attribute__((target("avx512f"))) static void transpose_small_##es(const T *x, int64_t xb, \
        int64_t items, int64_t rows, int64_t cols, T *d, int64_t db, int64_t ldd)            \
    {                                                                                         \
        enum { LANES = 64 / es };                                                             \
        const int dense = ldd == cols, size = (int)(rows * cols);                             \
        const int nv = dense ? (size + LANES - 1) / LANES : (int)rows;                        \
        __m512i idx[SMALL_MAX(es)];                                                           \
        M hi[SMALL_MAX(es)], out[SMALL_MAX(es)], in[4];                                       \
        /* lane q of vector v: d's (r, c), source element c * rows + r; dense, (r, c) counted  \
         * on across d's rows (no divisions: this runs once per chunk) */                      \
        int64_t i = 0, j = 0;                                                                 \
        for (int v = 0; v < nv; v++) {                                                        \
            T ix[LANES];                                                                      \
            hi[v] = out[v] = 0;                                                               \
            for (int q = 0; q < LANES; q++) {                                                 \
                const int64_t r = dense ? i : v, c = dense ? j : q;                           \
                const int live = dense ? r < rows : c < cols;                                 \
                const int64_t e = live ? c * rows + r : 0;                                    \
                ix[q] = (T)(e & (2 * LANES - 1));                                             \
                hi[v] |= (M)((e >= 2 * LANES) << q);                                          \
                out[v] |= (M)(live << q);                                                     \
                if (dense && ++j == cols)                                                     \
                    j = 0, i++;                                                               \
            }                                                                                 \
            idx[v] = _mm512_loadu_si512(ix);                                                  \
        }                                                                                     \
        for (int k = 0; k < 4; k++) {                                                         \
            int left = size - k * LANES;                                                      \
            in[k] = (M)(left >= LANES ? ~0u : left > 0 ? (1u << left) - 1 : 0);               \
        }                                                                                     \
        /* the two- and four-register cases with their vector counts as constants */          \
        if (dense && nv <= 2)                                                                 \
            small_items_##es(x, xb, items, 2 * LANES, 1, nv == 1 ? 1 : 2, idx, hi, out, in,   \
                d, db, ldd);                                                                  \
        else if (dense && nv == 3)                                                            \
            small_items_##es(x, xb, items, 4 * LANES, 1, 3, idx, hi, out, in, d, db, ldd);    \
        else if (dense)                                                                       \
            small_items_##es(x, xb, items, 4 * LANES, 1, 4, idx, hi, out, in, d, db, ldd);    \
        else                                                                                  \
            small_items_##es(x, xb, items, size, 0, nv, idx, hi, out, in, d, db, ldd);        \
    }
TRANSPOSE_SMALL(4, uint32_t, epi32, __mmask16)
TRANSPOSE_SMALL(8, uint64_t, epi64, __mmask8)
#endif

void bmm__pack(int dtype, const void *x, bmm_stride s, int64_t items, int64_t rows,
    int64_t cols, void *d, int64_t db, int64_t ldd, int isa)
{
    size_t es = (size_t)bmm__elem_bytes(dtype);
    int view_t = s.row == 1 && s.col > 0;  /* a transposed view: read down its columns */
#if defined(__x86_64__) && defined(__GNUC__)
    if (view_t && isa >= BMM_ISA_AVX512 && es >= 4
        && small_fits((int64_t)es, s.col, rows, cols, ldd)) {
        if (es == 4)
            transpose_small_4(x, s.batch, items, rows, cols, d, db, ldd);
        else
            transpose_small_8(x, s.batch, items, rows, cols, d, db, ldd);
        return;
    }
    const int avx2 = isa >= BMM_ISA_AVX2 && rows >= 8 / (int64_t)(es / 4)
        && cols >= 8 / (int64_t)(es / 4);  /* a tile */
    /* 16 x 16 tiles where they move fewer vectors than 8 x 8 ones (the last tile of each
     * direction overlaps the one before it: 17 takes two) */
    if (view_t && avx2 && es == 4 && isa >= BMM_ISA_AVX512 && rows >= 16 && cols >= 16
        && (rows + 15) / 16 * ((cols + 15) / 16) * 96 <= (rows + 7) / 8 * ((cols + 7) / 8) * 40) {
        transpose_4_avx512(x, s.batch, s.col, items, rows, cols, d, db, ldd);
        return;
    }
    if (view_t && avx2 && es == 4) {
        transpose_4_avx2(x, s.batch, s.col, items, rows, cols, d, db, ldd);
        return;
    }
    if (view_t && avx2 && es == 8) {
        transpose_8_avx2(x, s.batch, s.col, items, rows, cols, d, db, ldd);
        return;
    }
#else
    (void)isa;
#endif
    if (view_t && es == 4)
        transpose_uint32_t(x, s.batch, s.col, items, rows, cols, d, db, ldd);
    else if (view_t && es == 8)
        transpose_uint64_t(x, s.batch, s.col, items, rows, cols, d, db, ldd);
    else if (es == 2)
        copy_strided_uint16_t(x, s, items, rows, cols, d, db, ldd);
    else if (es == 4)
        copy_strided_uint32_t(x, s, items, rows, cols, d, db, ldd);
    else if (es == 8)
        copy_strided_uint64_t(x, s, items, rows, cols, d, db, ldd);
}
