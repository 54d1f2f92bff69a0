/* reference.h: what the consumer examples check their results against: C_i = alpha A_i B_i +
 * beta C0_i accumulated in long double, elementwise within the GEMM error bound. */
#ifndef CONSUMER_REFERENCE_H
#define CONSUMER_REFERENCE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int64_t batch, row, col;
} ref_stride;

static inline ref_stride ref_layout(int seq_first, int64_t rows, int64_t cols, int64_t batch)
{
    ref_stride s = { rows * cols, cols, 1 };
    if (seq_first)
        s.batch = cols, s.row = batch * cols;
    return s;
}

static inline double ref_fill(void)
{
    return (double)(rand() % 2001 - 1000) / 1000.0;
}

/* 0 if every element of C (double or float, per f64) is within tolerance, else 1 with a line
 * on stderr naming the first that is not. */
static inline int ref_check(const char *what, int f64, int64_t batch, int64_t n, int64_t m,
    int64_t p, double alpha, const void *A, ref_stride sa, const void *B, ref_stride sb,
    double beta, const void *C0, const void *C, ref_stride sc)
{
    double eps = f64 ? 2.3e-16 : 1.2e-7;
#define AT(X, s, b, i, j) (f64 ? ((const double *)X)[(b) * s.batch + (i) * s.row + (j) * s.col] \
                               : ((const float *)X)[(b) * s.batch + (i) * s.row + (j) * s.col])
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < p; j++) {
                long double acc = 0, mag = 0;
                for (int64_t k = 0; k < m; k++) {
                    acc += (long double)AT(A, sa, b, i, k) * AT(B, sb, b, k, j);
                    mag += fabsl((long double)AT(A, sa, b, i, k) * AT(B, sb, b, k, j));
                }
                long double c0 = beta != 0 ? AT(C0, sc, b, i, j) : 0;
                long double want = alpha * acc + beta * c0;
                long double tol = 4 * (m + 2) * eps * (fabsl(alpha) * mag + fabsl(beta * c0)) + 1e-30;
                long double got = AT(C, sc, b, i, j);
                if (!(fabsl(got - want) <= tol)) {
                    fprintf(stderr, "%s: C[%lld][%lld][%lld] = %.9Lg, want %.9Lg\n", what,
                        (long long)b, (long long)i, (long long)j, got, want);
                    return 1;
                }
            }
#undef AT
    return 0;
}

#endif
