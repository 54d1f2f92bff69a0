/* harness.c: shared test helpers (see harness.h). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

static const double SENTINEL = 12345.0;

static unsigned rnd(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

bmm_stride th_stride(int layout, int64_t rows, int64_t cols, int64_t batch, unsigned *seed)
{
    bmm_stride s;
    switch (layout) {
    case TH_BF: return bmm_stride_batch_first(rows, cols);
    case TH_SF: return bmm_stride_seq_first(rows, cols, batch);
    case TH_SF_PADDED:
        s = bmm_stride_seq_first(rows, cols, batch);
        s.row += 3;  /* padded rows: still unit columns */
        return s;
    case TH_BF_GAPPED:
        s = bmm_stride_batch_first(rows, cols);
        s.batch += 5;
        return s;
    case TH_BF_TRANSPOSED:  /* a cols x rows batch-first tensor seen through .transpose(1, 2) */
        return bmm_stride_transpose(bmm_stride_batch_first(cols, rows));
    default:
        s.col = 1 + rnd(seed) % 3;
        s.row = cols * s.col + rnd(seed) % 4;
        s.batch = rows * s.row + rnd(seed) % 5;
        if (rnd(seed) % 2) {  /* column-major inside each matrix */
            s.row = 1 + rnd(seed) % 2;
            s.col = rows * s.row + rnd(seed) % 3;
            s.batch = cols * s.col + rnd(seed) % 5;
        }
        return s;
    }
}


/* bytes that end where a page ends, the next page inaccessible: reading one byte past them
 * faults. */
static void *guarded_alloc(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), body = (bytes + page - 1) / page * page;
    char *base = mmap(NULL, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(base != MAP_FAILED);
    assert_int_equal(mprotect(base + body, page, PROT_NONE), 0);
    return base + body - bytes;
}

static void guarded_free(void *p, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), body = (bytes + page - 1) / page * page;
    munmap((char *)p + bytes - body, body + page);
}

static size_t buffer_bytes(const th_case *tc, int o)
{
    int64_t e = tc->ext[o < 3 ? o : 2];
    return (size_t)(e > 0 ? e : 1) * (size_t)bmm__operand_bytes(&tc->pr, o < 3 ? o : 2);
}

/* Points A, B, C and C0 at element (0, 0, 0) of their buffers. */
static void point(th_case *tc)
{
    void **at[4] = { &tc->A, &tc->B, &tc->C, &tc->C0 };
    for (int o = 0; o < 4; o++)
        *at[o] = (char *)tc->buf[o]
            + (size_t)tc->off[o < 3 ? o : 2] * (size_t)bmm__operand_bytes(&tc->pr, o < 3 ? o : 2);
}

void th_case_init_guarded(th_case *tc, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta,
    unsigned seed, int c_nan)
{
    th_case_init(tc, dt, batch, n, m, p, sa, sb, sc, alpha, beta, seed, c_nan);
    for (int o = 0; o < 4; o++) {
        size_t bytes = buffer_bytes(tc, o);
        void *g = guarded_alloc(bytes);
        memcpy(g, tc->buf[o], bytes);
        free(tc->buf[o]);
        tc->buf[o] = g;
    }
    point(tc);
    tc->guarded = 1;
}

void th_case_init(th_case *tc, bmm_dtype dt, int64_t batch, int64_t n, int64_t m, int64_t p,
    bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta, unsigned seed,
    int c_nan)
{
    memset(tc, 0, sizeof *tc);
    bmm__problem_init(&tc->pr, dt, batch, n, m, p, sa, sb, sc, alpha, beta);
    assert_int_equal(bmm__check_problem(&tc->pr), BMM_OK);
    tc->alpha = alpha;
    tc->beta = beta;
    int64_t lo[3], hi[3];
    bmm__spans(&tc->pr, lo, hi);
    size_t es = bmm__dtype_size(dt);
    for (int o = 0; o < 4; o++) {
        int64_t e = o < 3 ? (batch > 0 ? hi[o] - lo[o] + 1 : 0) : tc->ext[2];
        if (o < 3)
            tc->ext[o] = e, tc->off[o] = -lo[o];
        tc->buf[o] = malloc((size_t)(e > 0 ? e : 1) * es);
        assert_non_null(tc->buf[o]);
        for (int64_t i = 0; i < e; i++)
            bmm__elem_set(dt, tc->buf[o], i,
                o < 2 ? (double)(rnd(&seed) % 2001) / 1000.0 - 1.0 : SENTINEL);
    }
    point(tc);
    /* C's own elements (the normalized strides reach them as the given ones do): random, or NaN */
    const bmm_stride *s = &tc->pr.sc;
    for (int64_t t = 0; t < batch; t++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < p; j++) {
                int64_t at = t * s->batch + i * s->row + j * s->col;
                bmm__elem_set(dt, tc->C, at,
                    c_nan ? NAN : (double)(rnd(&seed) % 2001) / 1000.0 - 1.0);
            }
    memcpy(tc->buf[3], tc->buf[2], (size_t)tc->ext[2] * es);
}

void th_case_float_c(th_case *tc)
{
    const size_t n = (size_t)tc->ext[2];
    for (int o = 2; o < 4; o++) {
        const size_t bytes = (n ? n : 1) * sizeof(float);
        float *f = tc->guarded ? guarded_alloc(bytes) : malloc(bytes);
        assert_non_null(f);
        for (size_t i = 0; i < n; i++)
            f[i] = (float)bmm__elem_get(tc->pr.dtype, tc->buf[o], (int64_t)i);
        if (tc->guarded)
            guarded_free(tc->buf[o], buffer_bytes(tc, o));
        else
            free(tc->buf[o]);
        tc->buf[o] = f;
    }
    tc->pr.cdtype = BMM_F32;
    point(tc);
}

void th_case_free(th_case *tc)
{
    for (int o = 0; o < 4; o++) {
        if (tc->guarded)
            guarded_free(tc->buf[o], buffer_bytes(tc, o));
        else
            free(tc->buf[o]);
    }
}

void th_run_kernel(const bmm_kernel_desc *k, const th_case *tc)
{
    const bmm__problem *pr = &tc->pr;
    const bmm_args g = { tc->A, tc->B, tc->C, pr->batch, pr->sa.batch, pr->sa.row,
        pr->sb.batch, pr->sb.row, pr->sc.batch, pr->sc.row, pr->alpha, pr->beta, pr->n, pr->m,
        pr->p, pr->sa.col, pr->sb.col, pr->sc.col };
    k->fn(&g);
}

void th_case_reset(th_case *tc)
{
    memcpy(tc->buf[2], tc->buf[3], (size_t)tc->ext[2] * (size_t)bmm__operand_bytes(&tc->pr, 2));
}

void *th_copy_c(const th_case *tc)
{
    size_t bytes = (size_t)tc->ext[2] * (size_t)bmm__operand_bytes(&tc->pr, 2);
    void *p = malloc(bytes);
    assert_non_null(p);
    memcpy(p, tc->buf[2], bytes);
    return p;
}

void th_check(const th_case *tc, const void *want, double c, const char *what)
{
    const bmm__problem *pr = &tc->pr;
    int dt = pr->dtype, cdt = pr->cdtype;
    double eps = bmm__dtype_eps(cdt);  /* C's: a float C's bound is f32's */
    double worst = 0, worst_err = 0, worst_ref = 0, worst_got = 0;
    int64_t wt = -1, wi = -1, wj = -1;
    char *is_c = calloc((size_t)tc->ext[2], 1);
    assert_non_null(is_c);
    for (int64_t t = 0; t < pr->batch; t++)
        for (int64_t i = 0; i < pr->n; i++)
            for (int64_t j = 0; j < pr->p; j++) {
                long double acc = 0, mag = 0;
                for (int64_t k = 0; k < pr->m; k++) {
                    long double a = bmm__elem_get(dt, tc->A,
                        t * pr->sa.batch + i * pr->sa.row + k * pr->sa.col);
                    long double b = bmm__elem_get(dt, tc->B,
                        t * pr->sb.batch + k * pr->sb.row + j * pr->sb.col);
                    acc += a * b;
                    mag += fabsl(a * b);
                }
                int64_t at = t * pr->sc.batch + i * pr->sc.row + j * pr->sc.col;
                is_c[at + tc->off[2]] = 1;
                long double c0 = tc->beta != 0 ? bmm__elem_get(cdt, tc->C0, at) : 0;
                if (tc->alpha == 0)  /* BLAS: A and B are not read */
                    acc = mag = 0;
                long double ref = (long double)tc->alpha * acc + (long double)tc->beta * c0;
                double bound = c * (double)pr->m * eps
                    * (fabs(tc->alpha) * (double)mag + fabs(tc->beta) * fabsl(c0)) + DBL_MIN;
                double got = bmm__elem_get(cdt, tc->C, at);
                double target = want ? bmm__elem_get(cdt, want, at + tc->off[2]) : (double)ref;
                double err = fabs(got - target);
                double ratio = isnan(err) ? INFINITY : err / bound;  /* NaN: the worst */
                if (ratio > worst || wt < 0) {
                    worst = ratio;
                    worst_err = err;
                    worst_ref = target;
                    worst_got = got;
                    wt = t; wi = i; wj = j;
                }
            }
    int64_t bad_pad = -1;
    for (int64_t x = 0; x < tc->ext[2] && bad_pad < 0; x++)
        if (!is_c[x] && bmm__elem_get(cdt, tc->buf[2], x) != bmm__elem_get(cdt, tc->buf[3], x))
            bad_pad = x;
    free(is_c);
    if (worst > 1.0) {
        static const char *const DTYPE[] = BMM_DTYPE_WORDS;
        print_error("%s: %s %lldx%lldx%lld batch %lld alpha %g beta %g: worst error %.3g "
                    "(%.3g x the bound) at (batch %lld, i %lld, j %lld): got %.17g want %.17g\n",
            what, DTYPE[dt], (long long)pr->n, (long long)pr->m,
            (long long)pr->p, (long long)pr->batch, tc->alpha, tc->beta, worst_err, worst,
            (long long)wt, (long long)wi, (long long)wj, worst_got, worst_ref);
        fail();
    }
    if (bad_pad >= 0) {
        print_error("%s: wrote outside C, at buffer element %lld\n", what, (long long)bad_pad);
        fail();
    }
}

void th_poison(void *p, size_t bytes)
{
    memset(p, 0xA5, bytes);
}

int th_poisoned(const void *p, size_t bytes)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < bytes; i++)
        if (b[i] != 0xA5)
            return 0;
    return 1;
}
