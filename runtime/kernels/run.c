/* run.c: executing one kernel through the one ABI: the problem's sizes, strides and scalars
 * into the dtype's args struct, then the kernel's function; the generic path for no kernel,
 * and for alpha == 0 (C = beta*C without reading A or B). */
#include "bmm_internal.h"

void bmm__run(const bmm_kernel_desc *k, const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, void *C)
{
    if (pr->batch == 0)
        return;
    if (!k || alpha == 0) {  /* alpha == 0: C = beta*C without reading A or B */
        bmm__generic(pr, alpha, beta, A, B, C);
    } else if (pr->dtype == BMM_F32) {
        bmm_f32_args g = { (const float *)A, (const float *)B, (float *)C, pr->batch,
            pr->sa.batch, pr->sa.row, pr->sb.batch, pr->sb.row, pr->sc.batch, pr->sc.row,
            (float)alpha, (float)beta, pr->n, pr->m, pr->p, pr->sa.col, pr->sb.col, pr->sc.col };
        k->f32(&g);
    } else {
        bmm_f64_args g = { (const double *)A, (const double *)B, (double *)C, pr->batch,
            pr->sa.batch, pr->sa.row, pr->sb.batch, pr->sb.row, pr->sc.batch, pr->sc.row,
            alpha, beta, pr->n, pr->m, pr->p, pr->sa.col, pr->sb.col, pr->sc.col };
        k->f64(&g);
    }
}
