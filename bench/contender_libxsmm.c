/* contender_libxsmm.c: LIBXSMM, a kernel dispatched (JIT) once per case and called in a loop,
 * with and without its prefetching variant. LIBXSMM is column-major, so C^T = B^T A^T: the
 * kernel gets B as its A and A as its B, with the row strides as leading dimensions (a
 * transposed view: its transpose flag and its column stride; declined where the JIT has none). */
#include <stdio.h>
#include <stdlib.h>

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

typedef struct { libxsmm_smmfunction s; libxsmm_dmmfunction d; } xk;

static void *dispatch(const bench_case *c, const char **why, int prefetch)
{
    libxsmm_blasint M = (libxsmm_blasint)c->p, N = (libxsmm_blasint)c->n, K = (libxsmm_blasint)c->m;
    int ta = c->sb.col != 1, tb = c->sa.col != 1;  /* its A is our B */
    libxsmm_blasint lda = (libxsmm_blasint)(ta ? c->sb.col : c->sb.row);
    libxsmm_blasint ldb = (libxsmm_blasint)(tb ? c->sa.col : c->sa.row);
    libxsmm_blasint ldc = (libxsmm_blasint)c->sc.row;
    int pf = prefetch ? LIBXSMM_PREFETCH_AUTO : LIBXSMM_PREFETCH_NONE;
    int flags = (ta ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (tb ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
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
        if (k->s)
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

static void release(void *s) { free(s); }

const bench_contender bench_libxsmm = { "libxsmm", init, info, prep_plain, run_plain, release, NULL };
const bench_contender bench_libxsmm_pf = { "libxsmm-pf", init, info, prep_pf, run_pf, release, NULL };
