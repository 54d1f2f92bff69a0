/* run.c: executing one kernel through the one ABI: the problem's sizes, strides and scalars
 * into the args struct, then the kernel's function; the generic path for no kernel, and for
 * alpha == 0 (C = beta*C without reading A or B). */
#include "bmm_internal.h"

void bmm__run(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A, const void *B,
    void *C)
{
    if (pr->batch == 0)
        return;
    if (!k || pr->alpha == 0) {  /* alpha == 0: C = beta*C without reading A or B */
        bmm__generic(pr, A, B, C);
        return;
    }
    const bmm_args g = { A, B, C, pr->batch, pr->sa.batch, pr->sa.row, pr->sb.batch, pr->sb.row,
        pr->sc.batch, pr->sc.row, pr->alpha, pr->beta, pr->n, pr->m, pr->p, pr->sa.col,
        pr->sb.col, pr->sc.col };
    k->fn(&g);
}
