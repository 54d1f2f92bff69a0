/* contender_bmm.c: bmmgen itself, four ways: a plan made by the static rule (BMM_ESTIMATE),
 * a plan made by measurement (BMM_MEASURE; the tuning is not timed), the one-shot call
 * (plan cache lookup and dispatch timed with it), and the generic path alone. The static
 * rule's plan forgets the wisdom the measured plan just recorded (BMM_ESTIMATE would use it),
 * so the one-shot call after it also runs what an untuned process gets. Plans run on the
 * threads set last (BMM_THREADS), one-shot calls on the library's default, set with them. */
#include <stdlib.h>

#include "bench.h"

static const char *ok(void) { return NULL; }

static int nthreads = 1;
static void threads(int n)
{
    nthreads = n;
    bmm_set_num_threads(n);
}

static bmm_plan *plan_with(const bench_case *c, unsigned flags, const char **why)
{
    bmm_plan *plan = NULL;
    if (bmm_plan_create(&plan, c->dtype, c->batch, c->n, c->m, c->p, c->sa, c->sb, c->sc, 1, 0,
            flags | BMM_THREADS(nthreads)) != BMM_OK) {
        *why = bmm_last_error();
        return NULL;
    }
    return plan;
}

static void *prep_estimate(const bench_case *c, const char **why)
{
    bmm_wisdom_forget();
    return plan_with(c, BMM_ESTIMATE, why);
}
static void *prep_measure(const bench_case *c, const char **why) { return plan_with(c, BMM_MEASURE, why); }
static void *prep_generic(const bench_case *c, const char **why) { return plan_with(c, BMM_GENERIC_ONLY, why); }
static void run_plan(void *s, const bench_case *c) { bmm_execute(s, c->A, c->B, c->C); }
static void release_plan(void *s) { bmm_plan_destroy(s); }

/* no state of its own: the library's plan cache is the state */
static void run_oneshot(void *s, const bench_case *c)
{
    (void)s;
    if (c->dtype == BMM_F32)
        bmm_sgemm_strided(c->batch, c->n, c->m, c->p, 1.0f, c->A, c->sa, c->B, c->sb, 0.0f, c->C, c->sc);
    else if (c->dtype == BMM_F64)
        bmm_dgemm_strided(c->batch, c->n, c->m, c->p, 1.0, c->A, c->sa, c->B, c->sb, 0.0, c->C, c->sc);
    else
        bmm_bf16gemm_strided(c->batch, c->n, c->m, c->p, 1.0f, c->A, c->sa, c->B, c->sb, 0.0f, c->C, c->sc);
}

static const char *info_estimate(void) { return "bmmgen plan, kernel picked by the static rule (BMM_ESTIMATE)"; }
static const char *info_measure(void) { return "bmmgen plan, kernel picked by timing (BMM_MEASURE), tuning not timed"; }
static const char *info_oneshot(void) { return "bmm_?gemm_strided: plan cache lookup and dispatch timed with the kernel (no wisdom: the static rule)"; }
static const char *info_generic(void) { return "bmmgen generic path (no generated kernel)"; }

const bench_contender bench_bmm_estimate = { "bmm-estimate", ok, info_estimate, prep_estimate, run_plan, release_plan, threads, 1 };
const bench_contender bench_bmm_measure = { "bmm-measure", ok, info_measure, prep_measure, run_plan, release_plan, threads, 1 };
const bench_contender bench_bmm_oneshot = { "bmm-oneshot", ok, info_oneshot, bench_stateless, run_oneshot, bench_release_none, threads, 1 };
const bench_contender bench_bmm_generic = { "bmm-generic", ok, info_generic, prep_generic, run_plan, release_plan, NULL, 1 };
