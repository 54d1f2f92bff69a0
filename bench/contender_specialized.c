/* contender_specialized.c: the specialized kernels of bench/unseen.lua's shapes, from a table
 * the benchmark generates for itself and never registers (the runtime serves those shapes with
 * its shape-generic kernels). The static rule picks among them, as BMM_ESTIMATE would; the
 * report sets the shape-generic kernels against these. */
#include <stddef.h>

#include "bench.h"
#include "bmm_select.h"
#include "bmm_simd.h"
#include "bmm_table_unseen.h"

static int max_isa(void)
{
#if BMM_HAVE_X86_SIMD
    return bmm__x86_max_isa();
#else
    return BMM_ISA_C99;
#endif
}

static const char *ok(void) { return NULL; }
static const char *info(void) { return "specialized kernels of the unseen shapes (a table of their own), static rule"; }

static void *prepare(const bench_case *c, const char **why)
{
    bmm_call call;
    int split512 = 0;
#if BMM_HAVE_X86_SIMD
    split512 = bmm__x86_avx512_split();
#endif
    bmm__call_init(&call, c->dtype, c->batch, c->n, c->m, c->p, &c->sa, &c->sb, &c->sc,
        bmm__scalars_of(1, 0), 1, split512);
    const bmm_kernel_desc *best = NULL;
    int64_t score = -1;
    for (int32_t i = 0; i < bmm_table_unseen.nparts; i++)
        bmm__pick(bmm_table_unseen.parts[i].kernels, (size_t)bmm_table_unseen.parts[i].count, &call,
            max_isa(), &best, &score);
    if (!best)
        *why = "not an unseen shape";
    return (void *)best;
}

static void run(void *state, const bench_case *c)
{
    const bmm_kernel_desc *k = state;
    const bmm_args g = { c->A, c->B, c->C, c->batch, c->sa.batch, c->sa.row, c->sb.batch,
        c->sb.row, c->sc.batch, c->sc.row, 1.0, 0.0, c->n, c->m, c->p, c->sa.col, c->sb.col,
        c->sc.col };
    k->fn(&g);
}

const bench_contender bench_specialized = { "bmm-specialized", ok, info, prepare, run, bench_release_none, NULL, 0 };
