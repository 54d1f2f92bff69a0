/* bmm_select.h: a call's class, which generated kernels fit it, and the static rule that ranks
 * them. Pure functions of the shape, strides and scalars, shared by the runtime (problem.c,
 * registry.c) and the dispatcher of vendored files (bmmgen.lua --vendor pastes this file), so
 * both pick alike. C99, and also valid C++. */
#ifndef BMM_SELECT_H
#define BMM_SELECT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bmm_kernel.h"

/* ---- alpha/beta forms ---- */

/* What each BMM_SCALARS_* form has folded in. A value not fixed is read at run time; a kernel
 * that does not fix beta reads C, so it serves only calls with beta != 0. */
typedef struct bmm_scalar_form {
    const char *word;       /* its name in kernel names and wisdom files */
    int fixes_alpha, fixes_beta;
    double alpha, beta;     /* the fixed values */
} bmm_scalar_form;

static const bmm_scalar_form bmm__scalar_forms[BMM_SCALARS_COUNT] = BMM_SCALAR_FORMS;

/* Form f serves a call with these scalars. */
static inline int bmm__scalar_form_serves(int f, double alpha, double beta)
{
    const bmm_scalar_form *s = &bmm__scalar_forms[f];
    return (!s->fixes_alpha || s->alpha == alpha) && (s->fixes_beta ? s->beta == beta : beta != 0);
}

/* How many values form f fixes: among kernels that serve a call, more is better. */
static inline int bmm__scalar_form_rank(int f)
{
    return bmm__scalar_forms[f].fixes_alpha + bmm__scalar_forms[f].fixes_beta;
}

/* The alpha/beta class of a call: the form that serves it and fixes the most. */
static inline int bmm__scalars_of(double alpha, double beta)
{
    int best = BMM_SCALARS_AB;
    for (int f = 0; f < BMM_SCALARS_COUNT; f++)
        if (bmm__scalar_form_serves(f, alpha, beta)
            && bmm__scalar_form_rank(f) > bmm__scalar_form_rank(best))
            best = f;
    return best;
}

/* A kernel of form ks serves every call of class cs: each value ks fixes, cs fixes alike, and
 * if ks reads C (beta not fixed), cs's beta is not 0. */
static inline int bmm__scalars_fit(int ks, int cs)
{
    const bmm_scalar_form *k = &bmm__scalar_forms[ks], *c = &bmm__scalar_forms[cs];
    if (k->fixes_alpha && !(c->fixes_alpha && c->alpha == k->alpha))
        return 0;
    if (k->fixes_beta)
        return c->fixes_beta && c->beta == k->beta;
    return !c->fixes_beta || c->beta != 0;
}

/* ---- operands ---- */

/* Layout class of one rows x cols operand with strides {sb, sr, sc} in a batch:
 * BMM_LAYOUT_BF (packed rows, packed matrices), BMM_LAYOUT_SF (rows batch*cols apart,
 * matrices cols apart) or 0 (any other view). */
static inline int bmm__operand_class(int64_t batch, int64_t rows, int64_t cols, int64_t sb,
    int64_t sr, int64_t sc)
{
    if (sc != 1 && cols > 1)
        return 0;
    const int64_t small = (int64_t)1 << 31;  /* products of two such cannot overflow */
    int64_t packed = 0, seq = 0;
    int packed_ok = (rows < small && cols < small) || rows <= INT64_MAX / cols;
    int seq_ok = (batch < small && cols < small) || batch <= INT64_MAX / cols;
    if (packed_ok)
        packed = rows * cols;
    if (seq_ok)
        seq = batch * cols;
    if ((sr == cols || rows == 1) && ((packed_ok && sb == packed) || batch <= 1))
        return BMM_LAYOUT_BF;
    if (sb == cols && ((seq_ok && sr == seq) || rows == 1))
        return BMM_LAYOUT_SF;
    return 0;
}

/* An operand fits a kernel layout: any strides for ANY; else no negative stride, unit column
 * stride (unless one column), and for BF packed rows (unless one row). Batch strides are
 * run-time arguments of every kernel (bmm__call_init keeps negative ones to ANY). */
static inline int bmm__operand_fits(int layout, int64_t rows, int64_t cols, int64_t sr,
    int64_t sc)
{
    if (layout == BMM_LAYOUT_ANY)
        return 1;
    if (sr < 0 || sc < 0)
        return 0;  /* only the portable kernels of layout ANY take negative strides */
    if (cols > 1 && sc != 1)
        return 0;
    if (layout == BMM_LAYOUT_BF && rows > 1 && sr != cols)
        return 0;
    return 1;
}

/* A dimension of extent 1 never moves, so its stride means nothing (NumPy's broadcast_to gives
 * it 0, torch's unsqueeze any value): s gets the one a contiguous tensor has there (batch:
 * 0), so such views share a class, a cached choice and a kernel. */
static inline void bmm__normalize_strides(int64_t batch, int64_t rows, int64_t cols, bmm_stride *s)
{
    if (batch <= 1)
        s->batch = 0;
    if (cols == 1)
        s->col = 1;
    if (rows == 1)
        s->row = cols;
}

/* The element offsets a batch (>= 1) of rows x cols operands with strides st of any sign
 * spans: lowest *lo <= 0, highest *hi >= 0. 0 if either passes the int64 range. */
static inline int bmm__span(int64_t batch, int64_t rows, int64_t cols, const bmm_stride *st,
    int64_t *lo, int64_t *hi)
{
    const int64_t s[3] = { st->batch, st->row, st->col };
    const uint64_t lim = (uint64_t)INT64_MAX, small = (uint64_t)1 << 30;
    uint64_t below = 0, above = 0;
    int64_t size[3];
    /* the common case: sizes and strides non-negative (a negative one casts huge) and below
     * 2^30, so three products below 2^60 sum without overflow */
    if ((uint64_t)s[0] < small && (uint64_t)s[1] < small && (uint64_t)s[2] < small
        && (uint64_t)batch <= small && (uint64_t)rows <= small && (uint64_t)cols <= small) {
        *lo = 0;
        *hi = (batch - 1) * s[0] + (rows - 1) * s[1] + (cols - 1) * s[2];
        return 1;
    }
    size[0] = batch - 1, size[1] = rows - 1, size[2] = cols - 1;
    for (int d = 0; d < 3; d++) {
        if (size[d] <= 0 || s[d] == 0)
            continue;
        uint64_t mag = s[d] < 0 ? 0 - (uint64_t)s[d] : (uint64_t)s[d];
        /* below 2^31 both, the product cannot overflow: no division on the common path */
        if ((mag >> 31 || (uint64_t)size[d] >> 31) && mag > lim / (uint64_t)size[d])
            return 0;
        uint64_t step = mag * (uint64_t)size[d], *sum = s[d] < 0 ? &below : &above;
        if (step > lim - *sum)
            return 0;
        *sum += step;
    }
    *lo = -(int64_t)below;
    *hi = (int64_t)above;
    return 1;
}

/* Distinct elements map to distinct addresses if, with size-1 dimensions dropped and the rest
 * ordered by |stride|, each |stride| exceeds the span of the smaller ones (a negative stride
 * only flips its index). That holds for every view torch and NumPy make without overlap;
 * anything else is rejected rather than guessed at. Call after bmm__span succeeded. */
static inline int bmm__self_overlaps(int64_t batch, int64_t rows, int64_t cols,
    const bmm_stride *st)
{
    const int64_t s[3] = { st->batch, st->row, st->col };
    int64_t size[3], step[3], span = 0;
    int idx[3], k = 0;
    /* the common case, rows of unit-stride columns in matrices apart: no sort needed */
    if ((s[2] == 1 || cols == 1) && (s[1] >= cols || rows == 1)
        && (batch == 1 || s[0] >= (rows - 1) * s[1] + cols))
        return 0;
    size[0] = batch, size[1] = rows, size[2] = cols;
    for (int d = 0; d < 3; d++) {
        step[d] = s[d] < 0 ? -s[d] : s[d];  /* no overflow: bmm__span bounded it */
        if (size[d] > 1)
            idx[k++] = d;
    }
    for (int i = 1; i < k; i++)  /* insertion sort by stride */
        for (int j = i; j > 0 && step[idx[j]] < step[idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    for (int i = 0; i < k; i++) {
        if (step[idx[i]] <= span)
            return 1;
        span += (size[idx[i]] - 1) * step[idx[i]];
    }
    return 0;
}

/* n*m*p <= limit, without overflow (sizes >= 1). */
static inline int bmm__volume_at_most(int64_t n, int64_t m, int64_t p, int64_t limit)
{
    return n <= limit && m <= limit && p <= limit && n * m <= limit && n * m * p <= limit;
}

/* ---- the call class ---- */

/* Operands touched past this many bytes mean the streaming regime, else in cache. */
#define BMM__CACHE_REGIME_BYTES ((double)(2 << 20))

/* Everything selection knows of a call, computed once per call. The key is what wisdom is
 * keyed by; fits and meets are what applicability reads beyond it. Zero-filled, so it can be
 * compared with memcmp. */
typedef struct bmm_call_key {
    int32_t dtype;           /* BMM_F32 or BMM_F64 */
    int32_t scalars;         /* BMM_SCALARS_* class of (alpha, beta) */
    int32_t layout[3];       /* class of A, B, C: BMM_LAYOUT_BF, BMM_LAYOUT_SF or 0 (other) */
    int32_t streaming;       /* batch regime: 1 past BMM__CACHE_REGIME_BYTES, else 0 (in cache) */
    int32_t threads;         /* thread class: 1 when the call runs on several threads, else 0 */
    int32_t order;           /* BMM__ORDER_*: A, B transposed views (their layout[] is their
                              * transpose's class) */
    int64_t n, m, p;
} bmm_call_key;

/* Operand orders of a call (bmm_call_key.order): a transposed view is an operand with unit
 * row stride and other column stride (a column-major matrix); only kernels of its order
 * (BMM_NEEDS_A_TRANSPOSED, BMM_NEEDS_B_TRANSPOSED) and the any-stride ones fit it. */
#define BMM__ORDER_A 1
#define BMM__ORDER_B 2
#define BMM__ORDER_NEEDS ((unsigned)(BMM_NEEDS_A_TRANSPOSED | BMM_NEEDS_B_TRANSPOSED))

/* Kernel k reads the operands of a call of this order as they lie: its order's needs bits
 * are the order's (an any-stride kernel reads every order). Applicability and wisdom both ask. */
static inline int bmm__order_fits(const bmm_kernel_desc *k, int order)
{
    unsigned want = (order & BMM__ORDER_A ? (unsigned)BMM_NEEDS_A_TRANSPOSED : 0u)
        | (order & BMM__ORDER_B ? (unsigned)BMM_NEEDS_B_TRANSPOSED : 0u);
    return k->layout == BMM_LAYOUT_ANY || (k->needs & BMM__ORDER_NEEDS) == want;
}

/* A rows x cols operand whose normalized strides s make it a transposed view. */
static inline int bmm__transposed_view(const int64_t s[3])
{
    return s[2] != 1 && s[1] == 1;
}

typedef struct bmm_call {
    bmm_call_key key;
    unsigned fits;           /* bit (1 << L): every operand fits a kernel of layout L */
    unsigned meets;          /* the BMM_NEEDS_* the strides satisfy */
    int split512;            /* the CPU runs AVX-512 on 256-bit halves (Zen 4; 0: full width),
                              * read by the rule */
} bmm_call;

/* s*: the strides of A (n x m), B (m x p) and C (n x p), in elements; scalars:
 * bmm__scalars_of(alpha, beta); threads: how many the call runs on; split512: the CPU runs
 * AVX-512 on 256-bit halves (bmm__x86_avx512_split). The class is complete here. */
static inline void bmm__call_init(bmm_call *c, int dtype, int64_t batch, int64_t n, int64_t m,
    int64_t p, const bmm_stride *s_a, const bmm_stride *s_b, const bmm_stride *s_c, int scalars,
    int threads, int split512)
{
    const int64_t sa[3] = { s_a->batch, s_a->row, s_a->col };
    const int64_t sb[3] = { s_b->batch, s_b->row, s_b->col };
    const int64_t sc[3] = { s_c->batch, s_c->row, s_c->col };
    const int64_t *s[3];
    int64_t rows[3], cols[3];
    s[0] = sa, s[1] = sb, s[2] = sc;
    rows[0] = n, rows[1] = m, rows[2] = n;
    cols[0] = m, cols[1] = p, cols[2] = p;
    /* a transposed A or B: its class and fit are its transpose's (the kernels of its order
     * read it so), and the order marks the call */
    int64_t ta[3] = { sa[0], sa[2], sa[1] }, tb[3] = { sb[0], sb[2], sb[1] };
    int order = (bmm__transposed_view(sa) ? BMM__ORDER_A : 0)
        | (bmm__transposed_view(sb) ? BMM__ORDER_B : 0);
    if (order & BMM__ORDER_A)
        s[0] = ta, rows[0] = m, cols[0] = n;
    if (order & BMM__ORDER_B)
        s[1] = tb, rows[1] = p, cols[1] = m;
    double elems = (double)n * (double)m + (double)m * (double)p + (double)n * (double)p;
    memset(c, 0, sizeof *c);
    c->key.dtype = dtype;
    c->key.scalars = scalars;
    c->key.streaming = (double)batch * elems * bmm__elem_bytes(dtype)
        > BMM__CACHE_REGIME_BYTES;
    c->key.n = n, c->key.m = m, c->key.p = p;
    c->key.threads = threads > 1;
    c->key.order = order;
    c->split512 = split512;
    for (int o = 0; o < 3; o++)
        c->key.layout[o] = bmm__operand_class(batch, rows[o], cols[o], s[o][0], s[o][1], s[o][2]);
    for (int layout = BMM_LAYOUT_BF; layout < BMM_LAYOUT_COUNT; layout++) {
        int all = 1;
        for (int o = 0; o < 3; o++)
            all &= bmm__operand_fits(layout, rows[o], cols[o], s[o][1], s[o][2]);
        c->fits |= (unsigned)all << layout;
    }
    if (sa[0] < 0 || sb[0] < 0 || sc[0] < 0)
        c->fits &= 1u << BMM_LAYOUT_ANY;
    if (batch <= 1 || (sa[0] == m && sb[0] == p && sc[0] == p))  /* one item: nothing apart */
        c->meets |= BMM_NEEDS_ADJACENT_ITEMS;
    if (batch <= 1 || (sa[0] == n * m && sb[0] == m * p && sc[0] == n * p))
        c->meets |= BMM_NEEDS_PACKED_ITEMS;
    if (p == 1 && (sb[1] == 1 || m <= BMM_PACK_MAX))
        c->meets |= BMM_NEEDS_PACKABLE_B;
    if (order & BMM__ORDER_A)
        c->meets |= BMM_NEEDS_A_TRANSPOSED;
    if (order & BMM__ORDER_B)
        c->meets |= BMM_NEEDS_B_TRANSPOSED;
}

/* ---- applicability and the static rule ---- */

/* A kernel's dimensions admit a shape: each is the same, or 0 (read at run time). */
static inline int bmm__shape_admits(const bmm_kernel_desc *k, int64_t n, int64_t m, int64_t p)
{
    return (k->n == 0 || k->n == n) && (k->m == 0 || k->m == m) && (k->p == 0 || k->p == p);
}

/* Every dimension of k is compiled in. */
static inline int bmm__specialized(const bmm_kernel_desc *k)
{
    return k->n != 0 && k->m != 0 && k->p != 0;
}

/* The one applicability predicate: kernel k computes call c correctly, on a CPU that admits
 * ISAs up to max_isa. (A NULL function is a vector kernel compiled out: not an x86 GCC/Clang
 * build.) */
static inline int bmm__applies(const bmm_kernel_desc *k, const bmm_call *c, int max_isa)
{
    return k->dtype == c->key.dtype && bmm__shape_admits(k, c->key.n, c->key.m, c->key.p)
        && k->isa <= max_isa && k->fn != NULL
        && bmm__scalars_fit(k->scalars, c->key.scalars) && ((c->fits >> k->layout) & 1u)
        && (k->needs & ~c->meets) == 0 && bmm__order_fits(k, c->key.order);
}

/* A row of p elements ends in a vector of at most half kernel k's lanes, which the generator
 * holds in a half-width register (AVX-512 only: isa.lua's `half`, YMM). */
static inline int bmm__half_width_tail(const bmm_kernel_desc *k, int64_t p)
{
    int64_t tail = p % k->lanes;
    return k->isa == BMM_ISA_AVX512 && tail > 0 && 2 * tail <= k->lanes;
}

/* The static rule, distilled from bmm-tune's measurements over the default spec on Zen 5
 * (full-width AVX-512) and Zen 4 (c->split512: AVX-512 on 256-bit halves; where the choices
 * differ, "Zen 4:" says how); bmm-tune reports how often it picks the measured winner.
 * Higher is better. In order:
 * 1. a specialized kernel (shape compiled in) over every shape-generic one, except for p == 1
 *    with seq-first A and n == 1 with seq-first B: there the shape-generic dot and row-vector
 *    kernels' loops beat full unrolling, whose code outgrows the instruction cache while the
 *    far-apart rows already stall it (64x128x1 f64 2.8x, 1x64x128 f32 1.7x on Zen 4);
 * 2. the kernel whose layout matches the problem exactly (compile-time row strides);
 * 3. the packed form where it applies (every lane busy, in-lane permutes: 2.1x and 1.4x the
 *    portable C on 2x2x2 f32 and f64); the across-batch form for seq-first products with B
 *    and C at most 5 wide (in f64 only where p divides the lanes; Zen 4: where m*p < 25 in
 *    f32, m*p <= 4 in f64: the rows form's short rows run in half-width registers there, and
 *    win 5x5x5 f32 1.3x, 3x3x3 f64 1.15x); else portable C for products of 8 multiply-adds or
 *    fewer (vectors do not pay); else the flat form (whole C in registers) in f32 or when its
 *    rows fill a vector exactly (Zen 4: where a row of C fits a 128-bit block, its A permutes
 *    then in-lane, and m <= 4, each group's one chain of m multiply-adds short; rows, their
 *    tails in half-width registers, win 3x5x7 and 5x5x5 to 7x7x7 f32 1.2-1.5x, 5x7x3 f32
 *    1.15x, 8x8x8 f32 1.4x); else the narrowest vector that holds a row of C (Zen 4:
 *    without a masked tail, else AVX-512: AVX2's masked stores are slow there, 3x5x7 f32
 *    2.3x, 3x3x3 f64 1.7x; AVX-512's at half width where a row fits in half its lanes, over
 *    AVX2's: twice the registers, 8x8x8 f32 and 4x4x4 f64 1.0-1.1x), widest if none does
 *    (Zen 4: for dot products AVX2's, 1.1-1.3x);
 *    among shape-generic kernels, the p == 1 dot form, then the n == 1 form, over the rows
 *    form, and for those two the widest vector (tails masked at run time: 1.6-2.4x on 7x9x5
 *    and 8x1x8 f32; 64x64x2 f32 is the exception, 0.77x); the transposed-B dot form (gnt)
 *    on the widest vector (Zen 4: the one leaving the fewest lanes idle along m, then the
 *    widest: 13x24x5 f32 AVX2 1.2x, 10x64x10 AVX-512 1.06x);
 * 4. among looped forms the taller register tile (shape-generic: up to n; Zen 4: 6 rows, then
 *    taller, rl6 over rl12 1.1-1.2x on seq-first 26 and 32 f32, unless the last vector of a row
 *    is a half-width one: seq-first 23x23x23 f32 rl12 1.4x); a prefetching kernel
 *    just above its plain twin when streaming (1.3-1.8x on seq-first 13 to 64 blocks), else
 *    just below;
 * 5. the alpha/beta form that fixes the most. */
static inline int64_t bmm__rule_score(const bmm_kernel_desc *k, const bmm_call *c)
{
    const bmm_call_key *q = &c->key;
    int64_t w = k->lanes, tier, form = 8;
    int64_t es = bmm__elem_bytes(q->dtype);  /* k->dtype: the same (it applies) */
    int exact = q->layout[0] == k->layout && q->layout[1] == k->layout && q->layout[2] == k->layout;
    /* the operand whose rows lie far apart: A for p == 1, B for n == 1 */
    int far_rows = (q->p == 1 && q->layout[0] == BMM_LAYOUT_SF)
        || (q->n == 1 && q->layout[1] == BMM_LAYOUT_SF);
    int specialized = bmm__specialized(k) && !far_rows;
    int64_t row = k->form == BMM_FORM_GDOT ? q->m : q->p;
    if (k->isa == BMM_ISA_C99)
        tier = bmm__specialized(k) && bmm__volume_at_most(q->n, q->m, q->p, 8) ? 255 : 0;
    else if (k->form == BMM_FORM_GROWS || k->form == BMM_FORM_GVEC)
        tier = 1 + w;
    else if (k->form == BMM_FORM_GNT)  /* Zen 4: the fewest idle lanes along m, then widest */
        tier = 1 + (c->split512 ? 4 * (64 - (w - q->m % w) % w) : 0) + w / 4;  /* (no overflow) */  /* run-time tails: AVX2's masked stores cost more than idle lanes */
    else if (c->split512 && (k->form == BMM_FORM_DOT || k->form == BMM_FORM_GDOT))
        tier = 1 + 64 - w;  /* half-width AVX-512: reductions of narrower vectors win */
    else if (w >= row && (row % w == 0 || k->isa != BMM_ISA_AVX2 || !c->split512)) {
        /* Zen 4: AVX-512's rows of at most half its lanes run in half-width registers, as
         * narrow as AVX2's, with twice the registers (8x8x8 f32, 4x4x4 f64 1.0-1.1x) */
        int64_t eff = c->split512 && bmm__half_width_tail(k, row) ? w / 2 : w;
        tier = 1 + 128 - 2 * eff + (eff < w);
    }
    else
        tier = 1 + w;
    /* across the batch: all lanes busy whatever the shape, while deinterleaving stays cheap */
    if (k->form == BMM_FORM_XB && bmm__volume_at_most(1, q->m, q->p, 25) && q->p <= 5
        && (c->split512 ? q->m * q->p <= (k->dtype == BMM_F32 ? 24 : 4)
                        : k->dtype == BMM_F32 || w % q->p == 0))
        tier = 300;
    if (k->form == BMM_FORM_PACKED)
        tier = 270;
    if (k->form == BMM_FORM_FLAT) {
        int64_t rows = w / q->p < q->n ? w / q->p : q->n;  /* rows of C per vector */
        if (c->split512 ? q->p * es <= 16 && q->m <= 4 : k->dtype == BMM_F32 || rows * q->p == w)
            tier = 130;  /* above every rows form */
    } else if (k->form == BMM_FORM_ROWS_LOOP || k->form == BMM_FORM_GROWS) {
        int64_t h = k->form == BMM_FORM_GROWS && q->n < k->tile ? q->n : k->tile;
        form = h / 2 < 14 ? h / 2 : 14;
        /* Zen 4: 6 rows high first, then taller (sf 26^3 f32 1.2x), unless a row's last vector
         * is at most half full (the generator holds it in a half-width register) */
        if (c->split512 && !bmm__half_width_tail(k, q->p))
            form = h <= 6 ? h / 2 + 4 : 6;
    } else if (k->form == BMM_FORM_GDOT) {
        tier += 160;  /* p == 1: over every rows form (one lane of each vector busy) */
    } else if (k->form == BMM_FORM_GVEC) {
        tier += 150;  /* n == 1: over the rows forms; below the dot form when p == 1 too */
    }
    if (k->prefetch)
        form += q->streaming ? 1 : -1;  /* seq-first rows far apart: prefetch pays when streaming */
    return ((int64_t)specialized << 25) | ((int64_t)exact << 24) | (tier << 12)
        | (form << 4) | bmm__scalar_form_rank(k->scalars);
}

/* The best of count kernels for call c by the static rule, if it beats *best_score (start at
 * -1); *best is left alone when none does. The runtime calls it per table part, vendored files
 * on their one array. */
static inline void bmm__pick(const bmm_kernel_desc *ks, size_t count, const bmm_call *c,
    int max_isa, const bmm_kernel_desc **best, int64_t *best_score)
{
    for (size_t i = 0; i < count; i++)
        if (bmm__applies(&ks[i], c, max_isa)) {
            int64_t s = bmm__rule_score(&ks[i], c);
            if (s > *best_score)
                *best = &ks[i], *best_score = s;
        }
}

/* ---- threads over the batch ---- */

/* Work below this many nanoseconds per thread runs on fewer threads (serial below two shares):
 * the team's fork and join and moving operands to another core's caches cost more than the
 * share saves. From the sweep in docs/runtime.md (Zen 4 VM, 2 cores, team awake): a fork and
 * join costs 0.65 us; two threads run 1.2x at 2 us of one-core work, 1.4-1.6x at 4-5 us (an
 * estimate of 6-9 us), 1.7x at 8 us. */
#define BMM__THREAD_MIN_NS 3000.0
/* ... and this many when the team has been idle (threads.c): waking a sleeping thread cost
 * 10-100 us on the same VM (a halted vCPU), so a lone call gets two threads only past an
 * estimated 0.5 ms of work. */
#define BMM__THREAD_COLD_NS 250000.0
/* The estimate's rates, about one core's best (Zen 4: 113 GFLOP/s f32 on 64x64x64, 100+ GB/s
 * from L2, 26-34 GB/s from DRAM), so that it errs short and threads start late rather than
 * early: flops per ns (f32; f64 half), bytes per ns in cache and streaming. */
#define BMM__THREAD_FLOPS_PER_NS 96.0
#define BMM__THREAD_CACHE_BYTES_PER_NS 128.0
#define BMM__THREAD_STREAM_BYTES_PER_NS 32.0
#define BMM__THREADS_MAX 1024  /* most threads a call may ask for (bmm.h: BMM_THREADS_MAX) */

/* Estimated one-core nanoseconds of a batch. */
static inline double bmm__work_ns(int dtype, int64_t batch, int64_t n, int64_t m, int64_t p)
{
    double es = bmm__elem_bytes(dtype), b = (double)batch;
    double flops = 2.0 * b * (double)n * (double)m * (double)p;
    double bytes = es * b * ((double)n * (double)m + (double)m * (double)p + (double)n * (double)p);
    double rate = bytes > BMM__CACHE_REGIME_BYTES ? BMM__THREAD_STREAM_BYTES_PER_NS
                                                  : BMM__THREAD_CACHE_BYTES_PER_NS;
    return flops / (BMM__THREAD_FLOPS_PER_NS * 4.0 / es) + bytes / rate;
}

/* The threads that pay for work_ns (1 <= result <= want, <= batch) at per_ns per thread. */
static inline int bmm__threads_for_work(double work_ns, int64_t batch, int want, double per_ns)
{
    double shares = work_ns / per_ns;
    if (want > BMM__THREADS_MAX)
        want = BMM__THREADS_MAX;
    if (shares < (double)want)
        want = (int)shares;
    if ((double)want > (double)batch)
        want = (int)batch;
    return want > 1 ? want : 1;
}

/* The threads that pay for a batch while the team is awake. */
static inline int bmm__threads_worth(int dtype, int64_t batch, int64_t n, int64_t m, int64_t p,
    int want)
{
    if (want <= 1)
        return 1;
    return bmm__threads_for_work(bmm__work_ns(dtype, batch, n, m, p), batch, want,
        BMM__THREAD_MIN_NS);
}

/* Items a kernel computes together: the across-batch and packed forms hand the last
 * batch % grain items to another kernel, whose rounding may differ, so a thread's chunk
 * starts at a multiple of it and every item is computed as the serial call computes it. */
static inline int64_t bmm__batch_grain(const bmm_kernel_desc *k)
{
    return k ? bmm__form_grain(k->form, k->lanes, k->tile) : 1;
}

/* Thread t of nt: items [*lo, *hi) of batch, static and contiguous, whole grains, the last
 * chunk also taking the items past the last whole grain. Empty when there are fewer grains
 * than threads. */
static inline void bmm__chunk(int64_t batch, int64_t grain, int t, int nt, int64_t *lo,
    int64_t *hi)
{
    int64_t grains = batch / grain, each = grains / nt, more = grains % nt;
    *lo = (each * t + (t < more ? t : more)) * grain;  /* the first `more` chunks: one more */
    *hi = t == nt - 1 ? batch : *lo + (each + (t < more)) * grain;
}

#endif
