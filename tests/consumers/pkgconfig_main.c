/* pkgconfig_main.c: a program built with only `cc $(pkg-config --cflags --libs bmm)` against
 * an installed bmmgen: the default spec's 4x4x4 runs a generated kernel and computes right,
 * and the CBLAS-style entry point (installed header bmm_cblas.h) gives the same C. */
#include <stdio.h>
#include <string.h>

#include <bmm.h>
#include <bmm_cblas.h>

#include "reference.h"

int main(void)
{
    enum { BATCH = 5, N = 4 };
    float A[BATCH * N * N], B[BATCH * N * N], C[BATCH * N * N];
    for (int i = 0; i < BATCH * N * N; i++)
        A[i] = (float)ref_fill(), B[i] = (float)ref_fill(), C[i] = 0;
    bmm_stride s = bmm_stride_batch_first(N, N);
    bmm_plan *plan = NULL;
    if (bmm_plan_create(&plan, BMM_F32, BATCH, N, N, N, s, s, s, 1, 0, BMM_ESTIMATE) != BMM_OK
        || bmm_execute(plan, A, B, C) != BMM_OK) {
        fprintf(stderr, "pkg-config consumer: %s\n", bmm_last_error());
        return 1;
    }
    ref_stride r = { N * N, N, 1 };
    const char *kernel = bmm_plan_kernel(plan);
    int bad = strcmp(kernel, "generic") == 0
        || ref_check("pkg-config consumer 4x4x4", 0, BATCH, N, N, N, 1, A, r, B, r, 0, C, C, r);
    /* the same products as cblas_sgemm_batch_strided would be called: row-major, no transposes */
    float C2[BATCH * N * N];
    bad |= bmm_cblas_sgemm_batch_strided(BMM_CBLAS_ROW_MAJOR, BMM_CBLAS_NO_TRANS,
        BMM_CBLAS_NO_TRANS, N, N, N, 1, A, N, N * N, B, N, N * N, 0, C2, N, N * N, BATCH) != BMM_OK
        || memcmp(C, C2, sizeof C) != 0;
    printf("pkg-config consumer: 4x4x4 f32 runs %s, cblas entry point agrees: %s\n", kernel,
        bad ? "FAILED" : "ok");
    bmm_plan_destroy(plan);
    return bad;
}
