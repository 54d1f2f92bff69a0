/* generic.c: the generic path, any shape and any strides (the loop is bmm_generic.h's, which
 * vendored files share). */
#include "bmm_generic.h"
#include "bmm_internal.h"

BMM__DEFINE_GENERIC(generic_f32, float)
BMM__DEFINE_GENERIC(generic_f64, double)

void bmm__generic(const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, void *C)
{
    const int64_t sa[3] = { pr->sa.batch, pr->sa.row, pr->sa.col };
    const int64_t sb[3] = { pr->sb.batch, pr->sb.row, pr->sb.col };
    const int64_t sc[3] = { pr->sc.batch, pr->sc.row, pr->sc.col };
    if (pr->dtype == BMM_F32)
        generic_f32(pr->batch, pr->n, pr->m, pr->p, (float)alpha, (const float *)A, sa,
            (const float *)B, sb, (float)beta, (float *)C, sc);
    else
        generic_f64(pr->batch, pr->n, pr->m, pr->p, alpha, (const double *)A, sa,
            (const double *)B, sb, beta, (double *)C, sc);
}
