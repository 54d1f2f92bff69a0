/* registry.c: the generated kernel table, walked by descriptor. Applicability is one
 * predicate (style.md #4); the ESTIMATE rule ranks what applies. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"
#include "bmm_table_default.h"

static const bmm_kernel_table *const tables[] = { &bmm_table_default };
#define NTABLES (sizeof tables / sizeof tables[0])

size_t bmm__kernel_count(void)
{
    size_t n = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (int32_t i = 0; i < tables[t]->nparts; i++)
            n += (size_t)tables[t]->parts[i].count;
    return n;
}

const bmm_kernel_desc *bmm__kernel_at(size_t idx)
{
    for (size_t t = 0; t < NTABLES; t++)
        for (int32_t i = 0; i < tables[t]->nparts; i++) {
            size_t c = (size_t)tables[t]->parts[i].count;
            if (idx < c)
                return &tables[t]->parts[i].kernels[idx];
            idx -= c;
        }
    return NULL;
}

const bmm_kernel_desc *bmm__kernel_by_name(const char *name)
{
    for (size_t i = 0, n = bmm__kernel_count(); i < n; i++) {
        const bmm_kernel_desc *k = bmm__kernel_at(i);
        if (strcmp(k->name, name) == 0)
            return k;
    }
    return NULL;
}

/* Operand fits a kernel layout: unit column stride (unless one column), and for BF packed
 * rows (unless one row). Batch strides are run-time arguments of every kernel. */
static int operand_fits(int layout, int64_t rows, int64_t cols, bmm_stride s)
{
    if (cols > 1 && s.col != 1)
        return 0;
    if (layout == BMM_LAYOUT_BF && rows > 1 && s.row != cols)
        return 0;
    return 1;
}

int bmm__kernel_applies(const bmm_kernel_desc *k, const bmm__problem *pr)
{
    if (k->dtype != pr->dtype || k->n != pr->n || k->m != pr->m || k->p != pr->p)
        return 0;
    /* a NULL entry is a vector kernel compiled out (not an x86 GCC/Clang build) */
    if (!bmm__cpu_admits(k->isa) || (k->dtype == BMM_F32 ? !k->f32 : !k->f64))
        return 0;
    switch (k->scalars) {
    case BMM_SCALARS_AB: if (pr->scalars != BMM_SCALARS_AB) return 0; break;
    case BMM_SCALARS_B0: if (pr->scalars == BMM_SCALARS_AB) return 0; break;
    case BMM_SCALARS_A1B0: if (pr->scalars != BMM_SCALARS_A1B0) return 0; break;
    default: return 0;
    }
    return operand_fits(k->layout, pr->n, pr->m, pr->sa)
        && operand_fits(k->layout, pr->m, pr->p, pr->sb)
        && operand_fits(k->layout, pr->n, pr->p, pr->sc);
}

size_t bmm__candidates(const bmm__problem *pr, const bmm_kernel_desc **out, size_t max)
{
    size_t found = 0;
    for (size_t i = 0, n = bmm__kernel_count(); i < n; i++) {
        const bmm_kernel_desc *k = bmm__kernel_at(i);
        if (bmm__kernel_applies(k, pr)) {
            if (found < max)
                out[found] = k;
            found++;
        }
    }
    return found < max ? found : max;
}

/* Lanes of one vector register of kernel k's ISA (1 for portable C). */
static int64_t lanes_of(const bmm_kernel_desc *k)
{
    int64_t bytes = k->isa == BMM_ISA_AVX512 ? 64 : k->isa == BMM_ISA_AVX2 ? 32 : 0;
    return bytes ? bytes / (int64_t)bmm__dtype_size(k->dtype) : 1;
}

/* The static rule, distilled from bmm-tune's measurements over the default spec on Zen 5
 * (it reports how often this rule picks the measured winner). In order:
 * 1. the kernel whose layout matches the problem exactly (compile-time row strides);
 * 2. the across-batch form for seq-first products with B and C at most 5 wide (in f64 only
 *    where p divides the lanes), else portable C for products of 8 multiply-adds or fewer
 *    (vectors do not pay), else the flat form (whole C in registers) in f32 or when its rows fill a vector exactly, else
 *    the narrowest vector that holds a row of C (no idle lanes; widest if none does);
 * 3. among looped forms the taller register tile;
 * 4. the most specialized alpha/beta form. */
static int64_t score(const bmm_kernel_desc *k, const bmm__problem *pr)
{
    int exact = 1;
    for (int o = 0; o < 3; o++)
        exact &= bmm__layout_class(pr, o) == k->layout;
    int64_t w = lanes_of(k), tier, form = 8;
    if (k->isa == BMM_ISA_C99)
        tier = pr->n * pr->m * pr->p <= 8 ? 255 : 0;
    else
        tier = 1 + (w >= pr->p ? 128 - w : w);
    /* across the batch: all lanes busy whatever the shape, while deinterleaving stays cheap */
    if (!strcmp(k->form, "xb") && pr->m * pr->p <= 25 && pr->p <= 5
        && (k->dtype == BMM_F32 || w % pr->p == 0))
        tier = 300;
    if (!strcmp(k->form, "flat")) {
        int64_t rows = w / pr->p;  /* rows of C per vector, as the generator groups them */
        if (rows > pr->n)
            rows = pr->n;
        if (k->dtype == BMM_F32 || rows * pr->p == w)
            tier = 130;  /* above every rows form */
    } else if (k->form[0] == 'r' && k->form[1] == 'l') {
        form = atoi(k->form + 2) / 2;
        if (form > 14)
            form = 14;
    }
    return ((int64_t)exact << 24) | (tier << 12) | (form << 4) | k->scalars;  /* tier < 4096 */
}

const bmm_kernel_desc *bmm__estimate(const bmm__problem *pr)
{
    const bmm_kernel_desc *best = NULL;
    int64_t best_score = -1;
    for (size_t i = 0, n = bmm__kernel_count(); i < n; i++) {
        const bmm_kernel_desc *k = bmm__kernel_at(i);
        if (bmm__kernel_applies(k, pr) && score(k, pr) > best_score) {
            best = k;
            best_score = score(k, pr);
        }
    }
    return best;
}

static pthread_once_t sig_once = PTHREAD_ONCE_INIT;
static char sig[256];

static void make_signature(void)
{
    const bmm_kernel_table *t = tables[0];
    snprintf(sig, sizeof sig, "%s-%s-%s-%zu", t->spec_name, t->version, t->spec_hash,
        bmm__kernel_count());
}

const char *bmm__table_signature(void)
{
    pthread_once(&sig_once, make_signature);
    return sig;
}

void bmm__run(const bmm_kernel_desc *k, const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, void *C)
{
    if (pr->batch == 0)
        return;
    if (!k) {
        bmm__generic(pr, alpha, beta, A, B, C);
    } else if (pr->dtype == BMM_F32) {
        bmm_f32_args g = { (const float *)A, (const float *)B, (float *)C, pr->batch,
            pr->sa.batch, pr->sa.row, pr->sb.batch, pr->sb.row, pr->sc.batch, pr->sc.row,
            (float)alpha, (float)beta };
        k->f32(&g);
    } else {
        bmm_f64_args g = { (const double *)A, (const double *)B, (double *)C, pr->batch,
            pr->sa.batch, pr->sa.row, pr->sb.batch, pr->sb.row, pr->sc.batch, pr->sc.row,
            alpha, beta };
        k->f64(&g);
    }
}
