/* contender_libxsmm.c: LIBXSMM, a kernel dispatched (JIT) once per case and called in a loop,
 * with and without its prefetching variant. LIBXSMM is column-major, so C^T = B^T A^T: the
 * kernel gets B as its A and A as its B, with the row strides as leading dimensions (a
 * transposed view: its transpose flag and its column stride; declined where the JIT has none).
 * bf16 (libxsmm_bmmdispatch: bf16 in and out, float sums): its JIT takes its A in VNNI pairs
 * along k only, so each item's B is paired first (k odd: a zero closes the last pair, and A is
 * copied with a zero column), in the timed loop: what a caller with row-major bf16 does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxsmm.h>

#include "bench.h"

static const char *init(void)
{
    libxsmm_init();
    return NULL;
}

static const char *info(void)
{
    static char s[64];
    snprintf(s, sizeof s, "LIBXSMM %s, JIT for %s", LIBXSMM_VERSION, libxsmm_get_target_arch());
    return s;
}

typedef struct {
    libxsmm_smmfunction s;
    libxsmm_dmmfunction d;
    libxsmm_bmmfunction b;
    int64_t k2;       /* bf16: m rounded up to even */
    uint16_t *pairs;  /* bf16: an item's B as (k2 / 2) x p pairs */
    uint16_t *a;      /* bf16, m odd: an item's A, n x k2, the last column zero */
} xk;

static void *dispatch_bf16(const bench_case *c, const char **why)
{
    if (c->layout != BENCH_BF) {
        *why = "LIBXSMM's bf16 JIT takes row-major operands, B paired along k, only";
        return NULL;
    }
    xk *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->k2 = (c->m + 1) & ~(int64_t)1;
    libxsmm_blasint M = (libxsmm_blasint)c->p, N = (libxsmm_blasint)c->n, K = (libxsmm_blasint)k->k2;
    libxsmm_blasint lda = M, ldb = K, ldc = (libxsmm_blasint)c->sc.row;
    float one = 1, zero = 0;
    int flags = LIBXSMM_GEMM_FLAG_VNNI_A, pf = LIBXSMM_PREFETCH_NONE;
    k->b = libxsmm_bmmdispatch(M, N, K, &lda, &ldb, &ldc, &one, &zero, &flags, &pf);
    k->pairs = calloc((size_t)(k->k2 * c->p), sizeof *k->pairs);
    k->a = c->m % 2 ? calloc((size_t)(c->n * k->k2), sizeof *k->a) : NULL;
    if (!k->b || !k->pairs || (c->m % 2 && !k->a)) {
        free(k->pairs), free(k->a), free(k);
        *why = "LIBXSMM has no bf16 JIT kernel for this case";
        return NULL;
    }
    return k;
}

/* one bf16 item: B paired along k (and A with a zero column where m is odd), then the kernel */
static void run_bf16_item(const xk *k, const bench_case *c, int64_t t)
{
    const uint16_t *A = (const uint16_t *)c->A + t * c->sa.batch;
    const uint16_t *B = (const uint16_t *)c->B + t * c->sb.batch;
    const int64_t m = c->m, p = c->p;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < p; j++)
            k->pairs[(i / 2) * 2 * p + 2 * j + (i & 1)] = B[i * c->sb.row + j];
    if (k->a) {
        for (int64_t r = 0; r < c->n; r++)
            memcpy(k->a + r * k->k2, A + r * c->sa.row, (size_t)m * sizeof *A);
        A = k->a;
    }
    k->b((const libxsmm_bfloat16 *)k->pairs, (const libxsmm_bfloat16 *)A,
        (libxsmm_bfloat16 *)c->C + t * c->sc.batch);
}

static void *dispatch(const bench_case *c, const char **why, int prefetch)
{
    libxsmm_blasint M = (libxsmm_blasint)c->p, N = (libxsmm_blasint)c->n, K = (libxsmm_blasint)c->m;
    int ta = c->sb.col != 1, tb = c->sa.col != 1;  /* its A is our B */
    libxsmm_blasint lda = (libxsmm_blasint)(ta ? c->sb.col : c->sb.row);
    libxsmm_blasint ldb = (libxsmm_blasint)(tb ? c->sa.col : c->sa.row);
    libxsmm_blasint ldc = (libxsmm_blasint)c->sc.row;
    int pf = prefetch ? LIBXSMM_PREFETCH_AUTO : LIBXSMM_PREFETCH_NONE;
    int flags = (ta ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (tb ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    if (c->dtype == BMM_BF16) {
        if (!prefetch)
            return dispatch_bf16(c, why);
        *why = "no bf16 prefetching variant";
        return NULL;
    }
    xk *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    if (c->dtype == BMM_F32) {
        float one = 1, zero = 0;
        k->s = libxsmm_smmdispatch(M, N, K, &lda, &ldb, &ldc, &one, &zero, &flags, &pf);
    } else {
        double one = 1, zero = 0;
        k->d = libxsmm_dmmdispatch(M, N, K, &lda, &ldb, &ldc, &one, &zero, &flags, &pf);
    }
    if (!k->s && !k->d) {
        free(k);
        *why = "LIBXSMM has no JIT kernel for this case";
        return NULL;
    }
    return k;
}

static void *prep_plain(const bench_case *c, const char **why) { return dispatch(c, why, 0); }
static void *prep_pf(const bench_case *c, const char **why) { return dispatch(c, why, 1); }

static void run_plain(void *s, const bench_case *c)
{
    const xk *k = s;
    for (int64_t t = 0; t < c->batch; t++) {
        if (k->b)
            run_bf16_item(k, c, t);
        else if (k->s)
            k->s((const float *)c->B + t * c->sb.batch, (const float *)c->A + t * c->sa.batch,
                (float *)c->C + t * c->sc.batch);
        else
            k->d((const double *)c->B + t * c->sb.batch, (const double *)c->A + t * c->sa.batch,
                (double *)c->C + t * c->sc.batch);
    }
}

/* the prefetch variant takes the next item's operands (the last item prefetches itself) */
static void run_pf(void *s, const bench_case *c)
{
    const xk *k = s;
    for (int64_t t = 0; t < c->batch; t++) {
        int64_t u = t + 1 < c->batch ? t + 1 : t;
        if (k->s)
            k->s((const float *)c->B + t * c->sb.batch, (const float *)c->A + t * c->sa.batch,
                (float *)c->C + t * c->sc.batch, (const float *)c->B + u * c->sb.batch,
                (const float *)c->A + u * c->sa.batch, (float *)c->C + u * c->sc.batch);
        else
            k->d((const double *)c->B + t * c->sb.batch, (const double *)c->A + t * c->sa.batch,
                (double *)c->C + t * c->sc.batch, (const double *)c->B + u * c->sb.batch,
                (const double *)c->A + u * c->sa.batch, (double *)c->C + u * c->sc.batch);
    }
}

static void release(void *s)
{
    xk *k = s;
    free(k->pairs), free(k->a), free(k);
}

const bench_contender bench_libxsmm = { "libxsmm", init, info, prep_plain, run_plain, release, NULL, 1 };
const bench_contender bench_libxsmm_pf = { "libxsmm-pf", init, info, prep_pf, run_pf, release, NULL, 0 };
