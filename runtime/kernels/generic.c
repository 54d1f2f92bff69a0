/* generic.c: the generic path, any shape and any strides (the loop is bmm_generic.h's, which
 * vendored files share). */
#include "bmm_generic.h"
#include "bmm_internal.h"

BMM__DEFINE_GENERIC(generic_f32, float)
BMM__DEFINE_GENERIC(generic_f64, double)

void bmm__generic(const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, void *C)
{
    if (pr->dtype == BMM_F32)
        generic_f32(pr->batch, pr->n, pr->m, pr->p, (float)alpha, (const float *)A, &pr->sa,
            (const float *)B, &pr->sb, (float)beta, (float *)C, &pr->sc);
    else
        generic_f64(pr->batch, pr->n, pr->m, pr->p, alpha, (const double *)A, &pr->sa,
            (const double *)B, &pr->sb, beta, (double *)C, &pr->sc);
}
