/* contender_wrong.c: deliberately broken contenders, there to show that the harness reports
 * them instead of timing them or dying with them: one drops the last product of k (a wrong
 * result), one aborts (a crash). Only with BENCH_WITH_WRONG=1 in the environment (the
 * harness's own test, tests/bench, sets it). */
#include <stdlib.h>

#include "bench.h"

static const char *init(void)
{
    const char *v = getenv("BENCH_WITH_WRONG");
    return v && *v == '1' ? NULL : "only with BENCH_WITH_WRONG=1";
}

static const char *info(void) { return "deliberately wrong (a test of the harness)"; }

static void run(void *s, const bench_case *c)
{
    (void)s;
    for (int64_t t = 0; t < c->batch; t++)
        for (int64_t i = 0; i < c->n; i++)
            for (int64_t j = 0; j < c->p; j++) {
                double acc = 0;
                for (int64_t k = 0; k + 1 < c->m || (c->m == 1 && k < 1); k++) {
                    int64_t ia = t * c->sa.batch + i * c->sa.row + k * c->sa.col;
                    int64_t ib = t * c->sb.batch + k * c->sb.row + j * c->sb.col;
                    acc += c->dtype == BMM_F32 ? (double)((float *)c->A)[ia] * ((float *)c->B)[ib]
                                               : ((double *)c->A)[ia] * ((double *)c->B)[ib];
                }
                int64_t ic = t * c->sc.batch + i * c->sc.row + j * c->sc.col;
                if (c->dtype == BMM_F32)
                    ((float *)c->C)[ic] = (float)(acc + (c->m == 1 ? 1 : 0));
                else
                    ((double *)c->C)[ic] = acc + (c->m == 1 ? 1 : 0);
            }
}

static const char *info_crash(void) { return "deliberately crashing (a test of the harness)"; }

static void run_crash(void *s, const bench_case *c)
{
    (void)s, (void)c;
    abort();
}

const bench_contender bench_wrong = { "wrong", init, info, bench_stateless, run, bench_release_none, NULL, 0 };
const bench_contender bench_crash = { "crash", init, info_crash, bench_stateless, run_crash, bench_release_none, NULL, 0 };
