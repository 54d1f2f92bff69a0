/* contender_blis.c: BLIS typed API (bli_?gemm with row and column strides, so seq-first and
 * transposed views need no copies or flags), one call per matrix, one thread. */
#include <stdio.h>

#include <blis.h>

#include "bench.h"

static const char *init(void)
{
    bli_thread_set_num_threads(1);
    bli_error_checking_level_set(BLIS_NO_ERROR_CHECKING);  /* its fastest configuration */
    return NULL;
}

static const char *info(void)
{
    static char s[96];
    snprintf(s, sizeof s, "BLIS %s, kernels for %s", bli_info_get_version_str(),
        bli_arch_string(bli_arch_query_id()));
    return s;
}

static void run(void *s, const bench_case *c)
{
    (void)s;
    for (int64_t t = 0; t < c->batch; t++) {
        if (c->dtype == BMM_F32) {
            float one = 1, zero = 0;
            bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, c->n, c->p, c->m, &one,
                (float *)c->A + t * c->sa.batch, c->sa.row, c->sa.col,
                (float *)c->B + t * c->sb.batch, c->sb.row, c->sb.col, &zero,
                (float *)c->C + t * c->sc.batch, c->sc.row, c->sc.col);
        } else {
            double one = 1, zero = 0;
            bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, c->n, c->p, c->m, &one,
                (double *)c->A + t * c->sa.batch, c->sa.row, c->sa.col,
                (double *)c->B + t * c->sb.batch, c->sb.row, c->sb.col, &zero,
                (double *)c->C + t * c->sc.batch, c->sc.row, c->sc.col);
        }
    }
}

const bench_contender bench_blis = { "blis", init, info, bench_stateless, run, bench_release_none, NULL, 0 };
