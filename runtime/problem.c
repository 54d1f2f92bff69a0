/* problem.c: a call's arguments -> a checked problem. Every rule lives here, once; kernels
 * trust what passes. Nothing is touched before all checks pass. */
#include <string.h>

#include "bmm_internal.h"

static const char *const OPERAND[3] = { "A", "B", "C" };
static const char *const STRIDE[3] = { "sa", "sb", "sc" };

void bmm__problem_init(bmm__problem *pr, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta)
{
    memset(pr, 0, sizeof *pr);
    pr->dtype = (int32_t)dt;
    pr->scalars = bmm__scalars_of(alpha, beta);
    pr->batch = batch;
    pr->n = n;
    pr->m = m;
    pr->p = p;
    pr->sa = sa;
    pr->sb = sb;
    pr->sc = sc;
}

size_t bmm__dtype_size(int dtype)
{
    return dtype == BMM_F64 ? sizeof(double) : sizeof(float);
}

static void dims(const bmm__problem *pr, int operand, int64_t *rows, int64_t *cols,
    bmm_stride *s)
{
    switch (operand) {
    case 0: *rows = pr->n; *cols = pr->m; *s = pr->sa; break;
    case 1: *rows = pr->m; *cols = pr->p; *s = pr->sb; break;
    default: *rows = pr->n; *cols = pr->p; *s = pr->sc; break;
    }
}

static int64_t extent(int64_t batch, int64_t rows, int64_t cols, bmm_stride s)
{
    return bmm__extent(batch, rows, cols, s.batch, s.row, s.col);
}

void bmm__extents(const bmm__problem *pr, int64_t ext[3])
{
    for (int o = 0; o < 3; o++) {
        int64_t rows, cols;
        bmm_stride s;
        dims(pr, o, &rows, &cols, &s);
        ext[o] = pr->batch > 0 ? extent(pr->batch, rows, cols, s) : 0;
    }
}

bmm_status bmm__check_problem(const bmm__problem *pr)
{
    if (pr->dtype != BMM_F32 && pr->dtype != BMM_F64)
        return bmm__fail(BMM_EINVAL, "dtype must be BMM_F32 or BMM_F64 (got %d)", (int)pr->dtype);
    if (pr->batch < 0)
        return bmm__fail(BMM_EINVAL, "batch must be >= 0 (got %lld)", (long long)pr->batch);
    if (pr->n < 1)
        return bmm__fail(BMM_EINVAL, "n must be >= 1 (got %lld)", (long long)pr->n);
    if (pr->m < 1)
        return bmm__fail(BMM_EINVAL, "m must be >= 1 (got %lld; m == 0 is not supported)",
            (long long)pr->m);
    if (pr->p < 1)
        return bmm__fail(BMM_EINVAL, "p must be >= 1 (got %lld)", (long long)pr->p);
    for (int o = 0; o < 3; o++) {
        int64_t rows, cols;
        bmm_stride s;
        dims(pr, o, &rows, &cols, &s);
        if (s.row < 1 || s.col < 1)
            return bmm__fail(BMM_EINVAL, "%s.%s must be >= 1 (got %lld)", STRIDE[o],
                s.row < 1 ? "row" : "col", (long long)(s.row < 1 ? s.row : s.col));
        if (s.batch < 0)
            return bmm__fail(BMM_EINVAL, "%s.batch must be >= 0 (got %lld)", STRIDE[o],
                (long long)s.batch);
        if (pr->batch == 0)
            continue;
        int64_t e = extent(pr->batch, rows, cols, s), bytes;
        if (e < 0 || __builtin_mul_overflow(e, (int64_t)bmm__dtype_size(pr->dtype), &bytes)
            || (uint64_t)bytes > (uint64_t)PTRDIFF_MAX)
            return bmm__fail(BMM_EINVAL,
                "%s spans more than the address space (batch %lld, %lld x %lld, strides "
                "{%lld, %lld, %lld})", OPERAND[o], (long long)pr->batch, (long long)rows,
                (long long)cols, (long long)s.batch, (long long)s.row, (long long)s.col);
    }
    if (pr->batch > 0
        && bmm__self_overlaps(pr->batch, pr->n, pr->p, pr->sc.batch, pr->sc.row, pr->sc.col))
        return bmm__fail(BMM_EOVERLAP,
            "C overlaps itself: strides sc {%lld, %lld, %lld} map two elements of a "
            "batch %lld x %lld x %lld output to one address", (long long)pr->sc.batch,
            (long long)pr->sc.row, (long long)pr->sc.col, (long long)pr->batch,
            (long long)pr->n, (long long)pr->p);
    return BMM_OK;
}

bmm_status bmm__check_operands(const bmm__problem *pr, const void *A, const void *B, const void *C)
{
    if (pr->batch == 0)
        return BMM_OK;  /* nothing is referenced */
    const void *ptr[3] = { A, B, C };
    for (int o = 0; o < 3; o++)
        if (!ptr[o])
            return bmm__fail(BMM_EINVAL, "%s is NULL", OPERAND[o]);
    int64_t ext[3];
    bmm__extents(pr, ext);
    size_t es = bmm__dtype_size(pr->dtype);
    uintptr_t c0 = (uintptr_t)C, c1 = c0 + (uintptr_t)ext[2] * es;
    for (int o = 0; o < 2; o++) {
        uintptr_t x0 = (uintptr_t)ptr[o], x1 = x0 + (uintptr_t)ext[o] * es;
        if (x0 < c1 && c0 < x1)
            return bmm__fail(BMM_EOVERLAP, "C overlaps %s: C spans [%p, %p), %s spans [%p, %p)",
                OPERAND[o], (void *)c0, (void *)c1, OPERAND[o], (void *)x0, (void *)x1);
    }
    return BMM_OK;
}

void bmm__call_of(const bmm__problem *pr, bmm_call *c)
{
    int64_t s[3][3];
    bmm__stride_arrays(pr, s);
    bmm__call_init(c, pr->dtype, pr->batch, pr->n, pr->m, pr->p, s[0], s[1], s[2], pr->scalars);
}
