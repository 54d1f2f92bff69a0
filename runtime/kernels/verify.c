/* verify.c: a kernel against the generic path on a few items, before anything trusts it: the
 * kernels generation on demand compiles (before their table is registered), and the winner
 * of a measurement (tune.c). Inputs are values in [-0.5, 0.5), scalars finite values of the
 * kernel's alpha/beta form, and every element of C must agree within the standard bound of an
 * m-term sum (with a margin): a kernel that drops, repeats or misplaces one product fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"

#define VERIFY_BATCH 3        /* items a kernel is verified on, */
#define VERIFY_FLOPS 2e6      /* ... one past this many flops per item */
#define VERIFY_DIM 5          /* a dimension the kernel reads at run time */

void bmm__sample_fill(void *p, int64_t elems, int dtype, unsigned seed)
{
    const int64_t run = elems < 4096 ? elems : 4096;
    const size_t es = bmm__dtype_size(dtype);
    for (int64_t i = 0; i < run; i++) {
        seed = seed * 1103515245u + 12345u;
        bmm__elem_set(dtype, p, i, (double)((seed >> 8) & 0xffff) / 65536.0 - 0.5);
    }
    for (int64_t i = run; i < elems; i += run)
        memcpy((char *)p + (size_t)i * es, p, (size_t)(elems - i < run ? elems - i : run) * es);
}

void bmm__sample_scalars(int form, double *alpha, double *beta)
{
    const bmm_scalar_form *s = &bmm__scalar_forms[form];
    *alpha = s->fixes_alpha ? s->alpha : 0.75;
    *beta = s->fixes_beta ? s->beta : 0.5;
}

/* Largest |x - y| allowed: both sides are sums of m products of values in [-0.5, 0.5). */
static double tolerance(const bmm__problem *pr)
{
    double eps = bmm__dtype_eps(pr->dtype);
    double mag = fabs(pr->alpha) * 0.25 * (double)pr->m + fabs(pr->beta) * 0.5;
    return 8.0 * (double)(pr->m + 2) * eps * (mag + 1e-30);
}

int64_t bmm__sample_disagrees(const bmm__problem *pr, const void *Ck, const void *Cg)
{
    double tol = tolerance(pr);
    for (int64_t t = 0; t < pr->batch; t++)
        for (int64_t i = 0; i < pr->n; i++)
            for (int64_t j = 0; j < pr->p; j++) {
                int64_t o = t * pr->sc.batch + i * pr->sc.row + j * pr->sc.col;
                double x = bmm__elem_get(pr->cdtype, Ck, o), y = bmm__elem_get(pr->cdtype, Cg, o);
                if (!(fabs(x - y) <= tol))
                    return o;
            }
    return -1;
}

/* A rows x cols operand of k's layout (a transposed view when transposed) for batch items. */
static bmm_stride operand(const bmm_kernel_desc *k, int64_t rows, int64_t cols, int64_t batch,
    int transposed)
{
    int64_t r = transposed ? cols : rows, c = transposed ? rows : cols;
    bmm_stride s = k->layout == BMM_LAYOUT_SF ? bmm_stride_seq_first(r, c, batch)
                                              : bmm_stride_batch_first(r, c);
    return transposed ? bmm_stride_transpose(s) : s;
}

/* The problem k is verified on: its shape (VERIFY_DIM for a dimension read at run time), its
 * layout's packed strides, its operand order, finite scalars of its form. */
static void problem_for(const bmm_kernel_desc *k, bmm__problem *pr)
{
    int64_t n = k->n ? k->n : VERIFY_DIM, m = k->m ? k->m : VERIFY_DIM;
    int64_t p = k->p ? k->p : VERIFY_DIM;
    int64_t batch = 2.0 * (double)n * (double)m * (double)p > VERIFY_FLOPS ? 1 : VERIFY_BATCH;
    double alpha, beta;
    bmm__sample_scalars(k->scalars, &alpha, &beta);
    bmm__problem_init(pr, (bmm_dtype)k->dtype, batch, n, m, p,
        operand(k, n, m, batch, (k->needs & BMM_NEEDS_A_TRANSPOSED) != 0),
        operand(k, m, p, batch, (k->needs & BMM_NEEDS_B_TRANSPOSED) != 0),
        operand(k, n, p, batch, 0), alpha, beta);
}

/* Buffers of one problem: A, B, C as filled, C as the generic path leaves it, C for a kernel. */
typedef struct {
    bmm__problem pr;
    void *at[5];
    void *block;
} verifying;

static int prepare(verifying *v, const bmm__problem *pr)
{
    int64_t lo[3], hi[3];
    size_t es = bmm__dtype_size(pr->dtype), bytes[5], total = 0;
    if (bmm__check_problem(pr) != BMM_OK)
        return 0;
    bmm__spans(pr, lo, hi);
    for (int i = 0; i < 5; i++)
        total += bytes[i] = ((size_t)(hi[i < 3 ? i : 2] - lo[i < 3 ? i : 2] + 1) * es + 63) & ~(size_t)63;
    char *b = malloc(total);
    if (!b)
        return 0;
    free(v->block);
    v->block = b;
    v->pr = *pr;
    for (int i = 0; i < 5; i++) {
        bmm__sample_fill(b, (int64_t)(bytes[i] / es), pr->dtype, i < 3 ? (unsigned)i + 1 : 3u);
        v->at[i] = b + (size_t)-lo[i < 3 ? i : 2] * es;
        b += bytes[i];
    }
    bmm__generic(pr, v->at[0], v->at[1], v->at[3]);
    return 1;
}

/* One kernel on v's problem (prepared again when k's differs from the last one's). */
static int verify(const bmm_kernel_desc *k, verifying *v, char *why, size_t len)
{
    bmm__problem pr;
    bmm_call c;
    problem_for(k, &pr);
    if ((!v->block || memcmp(&pr, &v->pr, sizeof pr) != 0) && !prepare(v, &pr)) {
        snprintf(why, len, "no memory to verify %s", k->name);
        return 0;
    }
    if (!k->fn || k->isa > bmm__cpu_max_isa())
        return 1;  /* compiled out, or not for this CPU: never chosen here */
    bmm__call_of(&pr, 0, &c);
    if (!bmm__kernel_applies(k, &c)) {
        snprintf(why, len, "%s applies to no problem of its own shape and layout", k->name);
        return 0;
    }
    size_t es = bmm__dtype_size(pr.dtype);
    int64_t lo[3], hi[3];
    bmm__spans(&pr, lo, hi);
    memcpy((char *)v->at[4] + lo[2] * (int64_t)es, (char *)v->at[2] + lo[2] * (int64_t)es,
        (size_t)(hi[2] - lo[2] + 1) * es);
    bmm__run(k, &pr, v->at[0], v->at[1], v->at[4]);
    int64_t o = bmm__sample_disagrees(&pr, v->at[4], v->at[3]);
    if (o >= 0)
        snprintf(why, len, "%s disagrees with the generic path (element %lld of C: %g, not %g)",
            k->name, (long long)o, bmm__elem_get(pr.dtype, v->at[4], o),
            bmm__elem_get(pr.dtype, v->at[3], o));
    return o < 0;
}

int bmm__verify_table(const bmm_kernel_table *t, int *verified, char *why, size_t len)
{
    verifying v;
    int ok = 1;
    memset(&v, 0, sizeof v);
    for (int32_t i = 0; ok && i < t->nparts; i++)
        for (int32_t j = 0; ok && j < t->parts[i].count; j++) {
            const bmm_kernel_desc *k = &t->parts[i].kernels[j];
            ok = verify(k, &v, why, len);
            *verified += ok && k->fn && k->isa <= bmm__cpu_max_isa();
        }
    free(v.block);
    return ok;
}
