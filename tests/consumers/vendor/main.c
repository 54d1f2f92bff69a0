/* main.c: a project that compiles only a vendored pair (bmmgen.lua --vendor vbmm --shapes
 * 7x7x5,9x3x4), with a plain cc command: no runtime, no Lua, no CMake. Checks results, that
 * the vendored shapes run a specialized kernel, that other shapes run a shape-generic one, and
 * the error codes. Prints a hash of every C: built with -fopenmp, the output must be the same
 * for any OMP_NUM_THREADS (run.sh compares). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_OPENMP) && defined(__unix__)
#include <sys/wait.h>
#include <unistd.h>
#define FORK_TEST 1
#endif

#include "vbmm.h"
#include "../reference.h"

/* FNV-1a of C's bytes. */
static unsigned long long hash(const void *p, size_t n)
{
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
    return h;
}

static int run(int64_t batch, int f64, int seq_first, int64_t n, int64_t m, int64_t p,
    double alpha, double beta, int want_generated)
{
    size_t es = f64 ? sizeof(double) : sizeof(float);
    char what[96];
    snprintf(what, sizeof what, "%s %s %lldx%lldx%lld alpha %g beta %g batch %lld",
        f64 ? "f64" : "f32", seq_first ? "sf" : "bf", (long long)n, (long long)m, (long long)p,
        alpha, beta, (long long)batch);
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
    vbmm_stride sa = { ra.batch, ra.row, ra.col }, sb = { rb.batch, rb.row, rb.col },
        sc = { rc.batch, rc.row, rc.col };
    const char *kernel = vbmm_kernel_name(f64, batch, n, m, p, sa, sb, sc, alpha, beta);
    int anyshape = strstr(kernel, "_nxmxp_") != NULL;
    int bad = want_generated ? strcmp(kernel, "generic") == 0 || anyshape || !*kernel : !anyshape;
    if (bad)
        fprintf(stderr, "%s: runs %s\n", what, kernel);
    memcpy(C, C0, batch * n * p * es);
    int st = f64 ? vbmm_dgemm_strided(batch, n, m, p, alpha, (const double *)A, sa,
                       (const double *)B, sb, beta, (double *)C, sc)
                 : vbmm_sgemm_strided(batch, n, m, p, (float)alpha, (const float *)A, sa,
                       (const float *)B, sb, (float)beta, (float *)C, sc);
    bad |= st != VBMM_OK;
    bad |= ref_check(what, f64, batch, n, m, p, alpha, A, ra, B, rb, beta, C0, C, rc);
    printf("%-52s %-36s bits %016llx %s\n", what, kernel, hash(C, batch * n * p * es),
        bad ? "FAILED" : "ok");

    /* bad input: a status, and C untouched */
    memcpy(C, C0, batch * n * p * es);
    vbmm_stride self = sc;
    self.batch = 0;  /* every matrix of C at one address */
    int e1 = f64 ? vbmm_dgemm_strided(batch, 0, m, p, alpha, (const double *)A, sa,
                       (const double *)B, sb, beta, (double *)C, sc)
                 : vbmm_sgemm_strided(batch, 0, m, p, (float)alpha, (const float *)A, sa,
                       (const float *)B, sb, (float)beta, (float *)C, sc);
    int e2 = f64 ? vbmm_dgemm_strided(batch, n, m, p, alpha, (const double *)A, sa,
                       (const double *)B, sb, beta, (double *)C, self)
                 : vbmm_sgemm_strided(batch, n, m, p, (float)alpha, (const float *)A, sa,
                       (const float *)B, sb, (float)beta, (float *)C, self);
    int e3 = f64 ? vbmm_dgemm_strided(batch, n, m, p, alpha, (const double *)A, sa,
                       (const double *)B, sb, beta, (double *)A, sc)
                 : vbmm_sgemm_strided(batch, n, m, p, (float)alpha, (const float *)A, sa,
                       (const float *)B, sb, (float)beta, (float *)A, sc);
    if (e1 != VBMM_EINVAL || e2 != VBMM_EOVERLAP || e3 != VBMM_EOVERLAP
        || memcmp(C, C0, batch * n * p * es) != 0) {
        fprintf(stderr, "%s: bad input gave %d %d %d (want %d %d %d) or touched C\n", what, e1,
            e2, e3, VBMM_EINVAL, VBMM_EOVERLAP, VBMM_EOVERLAP);
        bad = 1;
    }
    free(A), free(B), free(C), free(C0);
    return bad;
}

/* NumPy-style views, as the runtime serves them: every stride negative (a[::-1, ::-1, ::-1]),
 * a B column with a meaningless stride, and alpha = 0 with NaN in A (never read). */
static int views(void)
{
    enum { BATCH = 3, N = 4, M = 5, P = 6 };
    double A[BATCH * N * M], B[BATCH * M * P], C[BATCH * N * P];
    for (int i = 0; i < BATCH * N * M; i++)
        A[i] = (double)(i % 7 - 3);
    for (int i = 0; i < BATCH * M * P; i++)
        B[i] = (double)(i % 5 - 2);
    vbmm_stride ra = { -N * M, -M, -1 }, rb = { -M * P, -P, -1 }, rc = { -N * P, -P, -1 };
    int bad = vbmm_dgemm_strided(BATCH, N, M, P, 1, A + BATCH * N * M - 1, ra,
        B + BATCH * M * P - 1, rb, 0, C + BATCH * N * P - 1, rc) != VBMM_OK;
    for (int t = 0; t < BATCH; t++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < P; j++) {
                double want = 0;
                for (int k = 0; k < M; k++)
                    want += A[BATCH * N * M - 1 - (t * N * M + i * M + k)]
                        * B[BATCH * M * P - 1 - (t * M * P + k * P + j)];
                bad |= C[BATCH * N * P - 1 - (t * N * P + i * P + j)] != want;
            }
    vbmm_stride one_col = { M, 1, -12345 }, c1 = { N, 1, 99 };  /* p = 1: col strides unused */
    vbmm_stride bf = { N * M, M, 1 }, row = { 0, M, 1 };
    volatile double zero = 0;
    bad |= vbmm_dgemm_strided(BATCH, N, M, 1, 1, A, bf, B, one_col, 0, C, c1) != VBMM_OK;
    A[0] = zero / zero;
    C[0] = 2;
    bad |= vbmm_dgemm_strided(1, 1, M, 1, 0, A, row, B, one_col, 0.5, C, c1) != VBMM_OK
        || C[0] != 1;
    printf("%-40s %s\n", "negative strides, p = 1 views, alpha = 0", bad ? "FAILED" : "ok");
    return bad;
}

#ifdef FORK_TEST
/* Built with OpenMP: a child forked after the batch ran on threads still computes (serially:
 * libgomp's pool does not survive fork, and a team in the child would hang). */
static int after_fork(void)
{
    enum { BATCH = 20011 };
    static float A[BATCH * 63], B[BATCH * 35], C[BATCH * 45];
    vbmm_stride sa = { 63, 7, 1 }, sb = { 35, 5, 1 }, sc = { 45, 5, 1 };
    for (int i = 0; i < BATCH * 63; i++)
        A[i] = (float)(i % 7) - 3;
    for (int i = 0; i < BATCH * 35; i++)
        B[i] = (float)(i % 5) - 2;
    int bad = vbmm_sgemm_strided(BATCH, 9, 7, 5, 1, A, sa, B, sb, 0, C, sc) != VBMM_OK;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        _exit(vbmm_sgemm_strided(BATCH, 9, 7, 5, 1, A, sa, B, sb, 0, C, sc) != VBMM_OK);
    }
    int status = 0;
    bad |= pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0;
    printf("%-52s %s\n", "a call in a child forked after threads ran", bad ? "FAILED" : "ok");
    return bad;
}
#endif

int main(void)
{
    static const int64_t shapes[][4] = { { 7, 7, 5, 1 }, { 9, 3, 4, 1 }, { 4, 6, 2, 0 } };
    int bad = 0;
    for (int s = 0; s < 3; s++)
        for (int f64 = 0; f64 < 2; f64++)
            for (int sf = 0; sf < 2; sf++) {
                const int64_t *sh = shapes[s];
                /* 20011 items: enough work for several threads, a prime: chunk edges */
                for (int64_t batch = 37; batch <= 20011; batch += 20011 - 37) {
                    bad |= run(batch, f64, sf, sh[0], sh[1], sh[2], 1, 0, (int)sh[3]);
                    bad |= run(batch, f64, sf, sh[0], sh[1], sh[2], -0.5, 2, (int)sh[3]);
                }
            }
    bad |= views();
#ifdef FORK_TEST
    bad |= after_fork();
#endif
    printf("%s\n", bad ? "FAILED" : "all passed");
    return bad;
}
