/* runtime_main.c [WISDOM]: a consumer of libbmm with kernels generated for its own shapes, none
 * of them in bmmgen's default spec (7x7x5, 9x3x4). Checks that plans pick a generated kernel for
 * them, not the generic path, and that plans and one-shot calls compute right. With WISDOM (a
 * file bmm-tune wrote, without this program's kernels): it imports, at least one entry taken. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bmm.h>

#include "reference.h"

static int run(int f64, int seq_first, int64_t n, int64_t m, int64_t p, double alpha, double beta)
{
    const int64_t batch = 37;
    size_t es = f64 ? sizeof(double) : sizeof(float);
    char what[96];
    snprintf(what, sizeof what, "%s %s %lldx%lldx%lld alpha %g beta %g", f64 ? "f64" : "f32",
        seq_first ? "sf" : "bf", (long long)n, (long long)m, (long long)p, alpha, beta);
    void *A = malloc(batch * n * m * es), *B = malloc(batch * m * p * es);
    void *C = malloc(batch * n * p * es), *C0 = malloc(batch * n * p * es);
    for (int64_t i = 0; i < batch * n * m; i++)
        f64 ? (void)(((double *)A)[i] = ref_fill()) : (void)(((float *)A)[i] = (float)ref_fill());
    for (int64_t i = 0; i < batch * m * p; i++)
        f64 ? (void)(((double *)B)[i] = ref_fill()) : (void)(((float *)B)[i] = (float)ref_fill());
    for (int64_t i = 0; i < batch * n * p; i++)
        f64 ? (void)(((double *)C0)[i] = ref_fill()) : (void)(((float *)C0)[i] = (float)ref_fill());
    ref_stride ra = ref_layout(seq_first, n, m, batch), rb = ref_layout(seq_first, m, p, batch),
        rc = ref_layout(seq_first, n, p, batch);
    bmm_stride sa = { ra.batch, ra.row, ra.col }, sb = { rb.batch, rb.row, rb.col },
        sc = { rc.batch, rc.row, rc.col };
    int bad = 0;

    bmm_plan *plan = NULL;
    memcpy(C, C0, batch * n * p * es);
    if (bmm_plan_create(&plan, f64 ? BMM_F64 : BMM_F32, batch, n, m, p, sa, sb, sc, alpha, beta,
            BMM_ESTIMATE) != BMM_OK) {
        fprintf(stderr, "%s: bmm_plan_create: %s\n", what, bmm_last_error());
        return 1;
    }
    const char *kernel = bmm_plan_kernel(plan);
    char shape[32];
    snprintf(shape, sizeof shape, "_%lldx%lldx%lld_", (long long)n, (long long)m, (long long)p);
    if (!strstr(kernel, shape)) {
        fprintf(stderr, "%s: the plan runs %s, not a kernel generated for the shape\n", what, kernel);
        bad = 1;
    }
    bad |= bmm_execute(plan, A, B, C) != BMM_OK;
    bad |= ref_check(what, f64, batch, n, m, p, alpha, A, ra, B, rb, beta, C0, C, rc);
    bmm_plan_destroy(plan);

    memcpy(C, C0, batch * n * p * es);  /* the one-shot call, through the plan cache */
    bmm_status st = f64
        ? bmm_dgemm_strided(batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc)
        : bmm_sgemm_strided(batch, n, m, p, (float)alpha, A, sa, B, sb, (float)beta, C, sc);
    bad |= st != BMM_OK;
    bad |= ref_check(what, f64, batch, n, m, p, alpha, A, ra, B, rb, beta, C0, C, rc);
    printf("%-40s %s %s\n", what, kernel, bad ? "FAILED" : "ok");
    free(A), free(B), free(C), free(C0);
    return bad;
}

int main(int argc, char **argv)
{
    static const int64_t shapes[][3] = { { 7, 7, 5 }, { 9, 3, 4 } };
    int bad = 0;
    if (argc > 1) {
        int64_t imported, skipped;
        bmm_status st = bmm_wisdom_import_file_counted(argv[1], &imported, &skipped);
        printf("wisdom %s: %s, %lld entries imported, %lld passed over\n", argv[1],
            st == BMM_OK ? "ok" : bmm_last_error(), (long long)imported, (long long)skipped);
        bad |= st != BMM_OK || imported < 1;
    }
    for (int s = 0; s < 2; s++)
        for (int f64 = 0; f64 < 2; f64++)
            for (int sf = 0; sf < 2; sf++) {
                bad |= run(f64, sf, shapes[s][0], shapes[s][1], shapes[s][2], 1, 0);
                bad |= run(f64, sf, shapes[s][0], shapes[s][1], shapes[s][2], -0.5, 2);
            }
    printf("%s\n", bad ? "FAILED" : "all passed");
    return bad;
}
