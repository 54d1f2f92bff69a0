/* contender_generate.c: bmmgen with generation on demand on the unseen shapes: a plan made with
 * BMM_GENERATE | BMM_MEASURE, which generates, compiles and loads kernels for the case's class
 * (or loads them from the cache, BMM_CACHE_DIR) and times them against the shape-generic ones
 * (neither timed here). Against `bmm-specialized` (the same generator's kernels built with the
 * benchmark) and `bmm-measure` (shape-generic kernels only) it shows what generating at run
 * time gives. Shapes with built-in specialized kernels are left to `bmm-measure`. */
#include <stddef.h>

#include "bench.h"
#include "bmm_kernel.h"
#include "bmm_table_unseen.h"

static const char *ok(void) { return NULL; }
static const char *info(void) { return "bmmgen plan with BMM_GENERATE | BMM_MEASURE: kernels generated, compiled and cached on demand (unseen shapes only)"; }

static int unseen(const bench_case *c)
{
    for (int32_t i = 0; i < bmm_table_unseen.nparts; i++) {
        const bmm_kernel_desc *k = bmm_table_unseen.parts[i].kernels;
        if (bmm_table_unseen.parts[i].count && k->dtype == (int)c->dtype && k->n == c->n
            && k->m == c->m && k->p == c->p)
            return 1;
    }
    return 0;
}

static void *prepare(const bench_case *c, const char **why)
{
    bmm_plan *plan = NULL;
    if (!unseen(c)) {
        *why = "not an unseen shape (built-in specialized kernels: bmm-measure)";
        return NULL;
    }
    if (bmm_plan_create(&plan, c->dtype, c->batch, c->n, c->m, c->p, c->sa, c->sb, c->sc, 1, 0,
            BMM_GENERATE | BMM_MEASURE | BMM_THREADS(1)) != BMM_OK) {
        *why = bmm_last_error();
        return NULL;
    }
    return plan;
}

static void run(void *s, const bench_case *c) { bmm_execute(s, c->A, c->B, c->C); }
static void release(void *s) { bmm_plan_destroy(s); }

const bench_contender bench_bmm_generate = { "bmm-generate", ok, info, prepare, run, release, NULL, 0 };
