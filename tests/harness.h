/* harness.h: what every cmocka test of bmmgen shares: fixed-seed operands in any layout, a
 * long-double reference, the GEMM error bound of docs/semantics.md and a matdiff-style report. */
#ifndef BMM_TEST_HARNESS_H
#define BMM_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bmm_internal.h"

/* A problem with its operands. C0 is C before the call; buffers cover each operand's span
 * (a negative stride reaches below the operand's pointer, off[o] elements into buf[o]), and the
 * elements of C's buffer that are not part of C (padding) hold a sentinel. */
typedef struct {
    bmm__problem pr;
    double alpha, beta;
    void *A, *B, *C, *C0;    /* element (0, 0, 0) of each */
    void *buf[4];            /* the allocations: A, B, C, C0 */
    int64_t ext[3], off[3];  /* elements in each buffer; offset of element (0, 0, 0) */
    int guarded;             /* buffers from th_case_init_guarded */
} th_case;

enum { TH_BF, TH_SF, TH_SF_PADDED, TH_BF_TRANSPOSED, TH_RANDOM, TH_BF_GAPPED };

/* Strides of a rows x cols operand in a layout; TH_RANDOM draws padded strides from seed;
 * TH_BF_GAPPED is batch-first with a gap between consecutive matrices. */
bmm_stride th_stride(int layout, int64_t rows, int64_t cols, int64_t batch, unsigned *seed);

/* Allocates and fills a case; c_nan fills C with NaN (for beta == 0: C must not be read). */
void th_case_init(th_case *tc, bmm_dtype dt, int64_t batch, int64_t n, int64_t m, int64_t p,
    bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta, unsigned seed,
    int c_nan);
/* The same, each buffer ending at a page end followed by an inaccessible page: a kernel that
 * reads or writes past an operand's last element faults. */
void th_case_init_guarded(th_case *tc, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta,
    unsigned seed, int c_nan);
/* Makes C (and C0) float, the same values: 16-bit A and B with a float C (BMM_C_F32). th_check
 * then bounds C by f32's epsilon. */
void th_case_float_c(th_case *tc);
void th_case_free(th_case *tc);
/* Calls kernel k through the kernel ABI on the case's operands, strides and scalars. */
void th_run_kernel(const bmm_kernel_desc *k, const th_case *tc);
/* Puts C back to C0 (to run another contender on the same inputs). */
void th_case_reset(th_case *tc);
/* A copy of the current C buffer (as buf[2]), to compare two contenders; free() it. */
void *th_copy_c(const th_case *tc);

/* Fails the test (with a report of the worst element) unless every element of C, as computed,
 * is within c * m * eps * (|alpha| sum|a||b| + |beta||c0|) of want (NULL: the long-double
 * reference), and the padding of C's buffer still holds the sentinel. */
void th_check(const th_case *tc, const void *want, double c, const char *what);

/* Fills bytes bytes with a pattern, and checks it is intact (C untouched on error). */
void th_poison(void *p, size_t bytes);
int th_poisoned(const void *p, size_t bytes);

#endif
