/* generic.c: the generic path, any shape and any strides (the loops are bmm_generic.h's, which
 * vendored files share), instantiated for every dtype of bmm_vocab.h's BMM_DTYPE_TYPES and
 * BMM_DTYPE_HALF_TYPES. */
#include <string.h>

#include "bmm_internal.h"  /* and bmm_generic.h */

#define DEFINE(V, W, T, L) BMM__DEFINE_GENERIC(generic_##W, T)
BMM_DTYPE_TYPES(DEFINE)
#undef DEFINE
#define DEFINE(V, W, T, L, MANT, EXP) BMM__DEFINE_GENERIC_HALF(generic_##W, MANT, EXP)
BMM_DTYPE_HALF_TYPES(DEFINE)
#undef DEFINE

void bmm__generic(const bmm__problem *pr, const void *A, const void *B, void *C)
{
    switch (pr->dtype) {
#define RUN(V, W, T, L)                                                                        \
    case V:                                                                                    \
        generic_##W(pr->batch, pr->n, pr->m, pr->p, (T)pr->alpha, (const T *)A, &pr->sa,       \
            (const T *)B, &pr->sb, (T)pr->beta, (T *)C, &pr->sc);                              \
        break;
        BMM_DTYPE_TYPES(RUN)
#undef RUN
#define RUN(V, W, T, L, MANT, EXP)                                                             \
    case V:                                                                                    \
        generic_##W(pr->batch, pr->n, pr->m, pr->p, pr->alpha, (const T *)A, &pr->sa,          \
            (const T *)B, &pr->sb, pr->beta, C, &pr->sc, pr->cdtype == BMM_F32);               \
        break;
        BMM_DTYPE_HALF_TYPES(RUN)
#undef RUN
    default:
        break;  /* not a dtype: bmm__check_problem refused it */
    }
}

void bmm__generic_args(const bmm_args *g, int dtype, int cdtype)
{
    bmm__problem pr;
    memset(&pr, 0, sizeof pr);
    pr.dtype = (int16_t)dtype, pr.cdtype = (int16_t)cdtype;
    pr.batch = g->batch, pr.n = g->n, pr.m = g->m, pr.p = g->p;
    pr.sa = (bmm_stride){ g->sa_batch, g->sa_row, g->sa_col };
    pr.sb = (bmm_stride){ g->sb_batch, g->sb_row, g->sb_col };
    pr.sc = (bmm_stride){ g->sc_batch, g->sc_row, g->sc_col };
    pr.alpha = g->alpha, pr.beta = g->beta;
    bmm__generic(&pr, g->A, g->B, g->C);
}
