/* bmm_select.h: which generated kernels fit a call, and the static rule that ranks them.
 * Pure functions of the shape and strides, shared by the runtime (registry.c) and the
 * dispatcher of vendored files (bmmgen.lua --vendor pastes this file), so both pick alike.
 * C99, and also valid C++. */
#ifndef BMM_SELECT_H
#define BMM_SELECT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_kernel.h"

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

/* 1 + the largest element offset of a batch of rows x cols operands with strides
 * {sb, sr, sc} (all >= 0), or -1 past INT64_MAX. */
static inline int64_t bmm__extent(int64_t batch, int64_t rows, int64_t cols, int64_t sb,
    int64_t sr, int64_t sc)
{
    const int64_t small = (int64_t)1 << 31;  /* below these no sum of products overflows */
    int64_t e = 1, size[3], step[3];
    size[0] = batch - 1, size[1] = rows - 1, size[2] = cols - 1;
    step[0] = sb, step[1] = sr, step[2] = sc;
    for (int d = 0; d < 3; d++) {
        if (size[d] > 0 && (size[d] >= small || step[d] >= small || e >= small * small)
            && step[d] > (INT64_MAX - e) / size[d])
            return -1;
        e += size[d] * step[d];
    }
    return e;
}

/* Distinct elements map to distinct addresses if, with size-1 dimensions dropped and the rest
 * ordered by stride, each stride exceeds the span of the smaller ones. That holds for every
 * view torch makes without overlap; anything else is rejected rather than guessed at.
 * Call after bmm__extent succeeded (no span overflows). */
static inline int bmm__self_overlaps(int64_t batch, int64_t rows, int64_t cols, int64_t sb,
    int64_t sr, int64_t sc)
{
    int64_t size[3], step[3], span = 0;
    int idx[3], k = 0;
    size[0] = batch, size[1] = rows, size[2] = cols;
    step[0] = sb, step[1] = sr, step[2] = sc;
    for (int d = 0; d < 3; d++)
        if (size[d] > 1)
            idx[k++] = d;
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

/* An operand fits a kernel layout: unit column stride (unless one column), and for BF packed
 * rows (unless one row). Batch strides are run-time arguments of every kernel. */
static inline int bmm__operand_fits(int layout, int64_t rows, int64_t cols, int64_t sr,
    int64_t sc)
{
    if (cols > 1 && sc != 1)
        return 0;
    if (layout == BMM_LAYOUT_BF && rows > 1 && sr != cols)
        return 0;
    return 1;
}

/* The alpha/beta form of a call: BMM_SCALARS_AB (beta != 0, C is read), else A1B0 when
 * alpha == 1, else B0. */
static inline int bmm__scalars_of(double alpha, double beta)
{
    if (beta != 0)
        return BMM_SCALARS_AB;
    return alpha == 1 ? BMM_SCALARS_A1B0 : BMM_SCALARS_B0;
}

/* A kernel of alpha/beta form ks serves a call of form cs: AB kernels only AB calls (they
 * read C), B0 kernels B0 and A1B0 calls, A1B0 kernels only A1B0 calls. */
static inline int bmm__scalars_fit(int ks, int cs)
{
    switch (ks) {
    case BMM_SCALARS_AB: return cs == BMM_SCALARS_AB;
    case BMM_SCALARS_B0: return cs != BMM_SCALARS_AB;
    case BMM_SCALARS_A1B0: return cs == BMM_SCALARS_A1B0;
    default: return 0;
    }
}

/* Operands touched past this many bytes mean the streaming regime, else in cache. */
#define BMM__CACHE_REGIME_BYTES ((int64_t)2 << 20)

/* 1 if a call's operands stream from memory (the regime wisdom is keyed by), else 0. */
static inline int bmm__streaming(int64_t batch, int64_t n, int64_t m, int64_t p, int64_t es)
{
    double bytes = (double)batch * (double)(n * m + m * p + n * p) * (double)es;
    return bytes > (double)BMM__CACHE_REGIME_BYTES;
}

/* Lanes of one vector register of kernel k's ISA (1 for portable C). */
static inline int64_t bmm__lanes_of(const bmm_kernel_desc *k)
{
    int64_t bytes = k->isa == BMM_ISA_AVX512 ? 64 : k->isa == BMM_ISA_AVX2 ? 32 : 0;
    return bytes ? bytes / (k->dtype == BMM_F64 ? 8 : 4) : 1;
}

/* The static rule, distilled from bmm-tune's measurements over the default spec on Zen 5
 * (bmm-tune reports how often it picks the measured winner). Higher is better; exact is 1
 * when all three operands are in the kernel's layout class, streaming from bmm__streaming. In order:
 * 1. the kernel whose layout matches the problem exactly (compile-time row strides);
 * 2. the across-batch form for seq-first products with B and C at most 5 wide (in f64 only
 *    where p divides the lanes), else portable C for products of 8 multiply-adds or fewer
 *    (vectors do not pay), else the flat form (whole C in registers) in f32 or when its rows
 *    fill a vector exactly, else the narrowest vector that holds a row of C (no idle lanes;
 *    widest if none does);
 * 3. among looped forms the taller register tile; a form's prefetching twin ("_pf") just
 *    above it when streaming (1.3-1.8x on seq-first 13 to 64 blocks), else just below;
 * 4. the most specialized alpha/beta form. */
static inline int64_t bmm__rule_score(const bmm_kernel_desc *k, int exact, int streaming,
    int64_t n, int64_t m, int64_t p)
{
    int64_t w = bmm__lanes_of(k), tier, form = 8;
    if (k->isa == BMM_ISA_C99)
        tier = n * m * p <= 8 ? 255 : 0;
    else
        tier = 1 + (w >= p ? 128 - w : w);
    /* across the batch: all lanes busy whatever the shape, while deinterleaving stays cheap */
    if (!strcmp(k->form, "xb") && m * p <= 25 && p <= 5 && (k->dtype == BMM_F32 || w % p == 0))
        tier = 300;
    if (!strcmp(k->form, "flat")) {
        int64_t rows = w / p;  /* rows of C per vector, as the generator groups them */
        if (rows > n)
            rows = n;
        if (k->dtype == BMM_F32 || rows * p == w)
            tier = 130;  /* above every rows form */
    } else if (k->form[0] == 'r' && k->form[1] == 'l') {
        form = atoi(k->form + 2) / 2;
        if (form > 14)
            form = 14;
    }
    if (strstr(k->form, "_pf"))
        form += streaming ? 1 : -1;  /* seq-first rows far apart: prefetch pays when streaming */
    return ((int64_t)exact << 24) | (tier << 12) | (form << 4) | k->scalars;  /* tier < 4096 */
}

#endif
