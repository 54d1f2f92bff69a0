/* contender_openblas.c: OpenBLAS, one cblas_?gemm per matrix (row-major, leading dimension =
 * the row stride; a transposed view: CblasTrans, its column stride), on one thread, or in the scaling run on OpenBLAS's threads (which it uses
 * only inside one product: small ones stay on one). Version 0.3.21 has no batched cblas call. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "bench.h"

static const char *init(void)
{
    /* BLIS exports cblas_* too: make sure these calls reach OpenBLAS */
    static char why[300];
    Dl_info where;
    if (dladdr((void *)cblas_sgemm, &where) && where.dli_fname
        && !strstr(where.dli_fname, "openblas")) {
        snprintf(why, sizeof why, "cblas_sgemm resolves to %s, not OpenBLAS", where.dli_fname);
        return why;
    }
    openblas_set_num_threads(1);
    return NULL;
}

static const char *info(void)
{
    static char s[128];
    snprintf(s, sizeof s, "OpenBLAS core %s, %s", openblas_get_corename(), openblas_get_config());
    return s;
}

static void threads(int n)
{
    openblas_set_num_threads(n);
}

static void run(void *s, const bench_case *c)
{
    (void)s;
    /* a transposed view (unit row stride, more than one row): the transpose flag. A leading
     * dimension below the stored rows' length is refused by cblas even where it addresses
     * nothing (one row): the length then. */
    int ta = c->sa.col != 1, tb = c->sb.col != 1;
    int lda = (int)(ta ? c->sa.col : c->sa.row), ldb = (int)(tb ? c->sb.col : c->sb.row);
    int la = (int)(ta ? c->n : c->m), lb = (int)(tb ? c->m : c->p);
    lda = lda < la ? la : lda;
    ldb = ldb < lb ? lb : ldb;
    enum CBLAS_TRANSPOSE fa = ta ? CblasTrans : CblasNoTrans, fb = tb ? CblasTrans : CblasNoTrans;
    for (int64_t t = 0; t < c->batch; t++) {
        if (c->dtype == BMM_F32)
            cblas_sgemm(CblasRowMajor, fa, fb, (int)c->n, (int)c->p, (int)c->m,
                1.0f, (const float *)c->A + t * c->sa.batch, lda,
                (const float *)c->B + t * c->sb.batch, ldb, 0.0f,
                (float *)c->C + t * c->sc.batch, (int)c->sc.row);
        else
            cblas_dgemm(CblasRowMajor, fa, fb, (int)c->n, (int)c->p, (int)c->m,
                1.0, (const double *)c->A + t * c->sa.batch, lda,
                (const double *)c->B + t * c->sb.batch, ldb, 0.0,
                (double *)c->C + t * c->sc.batch, (int)c->sc.row);
    }
}

const bench_contender bench_openblas = { "openblas", init, info, bench_stateless, run, bench_release_none, threads, 0 };
