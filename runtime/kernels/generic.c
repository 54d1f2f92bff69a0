/* generic.c: the generic path, any shape and any strides (the loops are bmm_generic.h's, which
 * vendored files share), instantiated for every dtype of bmm_vocab.h's BMM_DTYPE_TYPES and
 * BMM_DTYPE_HALF_TYPES. */
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
