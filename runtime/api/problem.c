/* problem.c: a call's arguments -> a checked problem. Every rule lives here, once; kernels
 * trust what passes. Nothing is touched before all checks pass. */
#include "bmm_internal.h"

static const char *const OPERAND[3] = { "A", "B", "C" };

static void dims(const bmm__problem *pr, int operand, int64_t *rows, int64_t *cols)
{
    *rows = operand == 1 ? pr->m : pr->n;
    *cols = operand == 0 ? pr->m : pr->p;
}

/* bmm__scalar_round out of line, one value per call: GCC 12.2 at -O2 merges the round trips of
 * alpha and beta into one vector round trip and drops it (f32 beta 1e-50 stayed 1e-50, and
 * a kernel that reads C was chosen; test_strides' test_blas_scalars caught it). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static double scalar_round(int dtype, double x)
{
    return bmm__scalar_round(dtype, x);
}

_Static_assert(sizeof(bmm__problem) == 8 * sizeof(int16_t) + 4 * sizeof(int64_t)
    + 3 * sizeof(bmm_stride) + 2 * sizeof(double), "bmm__problem has no padding (memcmp keys)");

void bmm__problem_init(bmm__problem *pr, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta)
{
    /* every field is stored and the struct has no padding (the assert above): no memset, which
     * GCC 12 kept as a rep stos, 3 ns of a 40 ns one-shot call */
    pr->dtype = pr->cdtype = (int16_t)dt;
    pr->swapped = pr->pack = pr->spare[0] = pr->spare[1] = pr->spare[2] = 0;
    /* the class of what the kernel gets: an f32 kernel's scalars are floats */
    pr->alpha = scalar_round(dt, alpha);
    pr->beta = scalar_round(dt, beta);
    pr->scalars = (int16_t)bmm__scalars_of(pr->alpha, pr->beta);
    pr->batch = batch;
    pr->n = n;
    pr->m = m;
    pr->p = p;
    pr->sa = sa;
    pr->sb = sb;
    pr->sc = sc;
    if (batch < 1 || n < 1 || m < 1 || p < 1)
        return;  /* rejected, or a no-op: left as given */
    bmm_stride *st[3] = { &pr->sa, &pr->sb, &pr->sc };
    for (int o = 0; o < 3; o++) {
        int64_t rows, cols;
        dims(pr, o, &rows, &cols);
        bmm__normalize_strides(batch, rows, cols, st[o]);
    }
}

size_t bmm__dtype_size(int dtype)
{
    return (size_t)bmm__elem_bytes(dtype);
}

static const bmm_stride *stride_of(const bmm__problem *pr, int o)
{
    return o == 0 ? &pr->sa : o == 1 ? &pr->sb : &pr->sc;
}

static int span(const bmm__problem *pr, int o, int64_t *lo, int64_t *hi)
{
    int64_t rows, cols;
    const bmm_stride *s = stride_of(pr, o);
    dims(pr, o, &rows, &cols);
    return bmm__span(pr->batch, rows, cols, s, lo, hi);
}

void bmm__spans(const bmm__problem *pr, int64_t lo[3], int64_t hi[3])
{
    for (int o = 0; o < 3; o++)
        if (pr->batch < 1 || !span(pr, o, &lo[o], &hi[o]))
            lo[o] = hi[o] = 0;
}

/* The rules on sizes and strides; lo and hi get each operand's span (valid when OK and
 * batch > 0). */
static bmm_status check_shape(const bmm__problem *pr, int64_t lo[3], int64_t hi[3])
{
    if (bmm__elem_bytes(pr->dtype) == 0)
        return bmm__fail(BMM_EINVAL, "dtype %d is not a bmm_dtype value", (int)pr->dtype);
    if (pr->batch < 0)
        return bmm__fail(BMM_EINVAL, "batch must be >= 0 (got %lld)", (long long)pr->batch);
    if (pr->n < 1)
        return bmm__fail(BMM_EINVAL, "n must be >= 1 (got %lld)", (long long)pr->n);
    if (pr->m < 1)
        return bmm__fail(BMM_EINVAL, "m must be >= 1 (got %lld; m == 0 is not supported)",
            (long long)pr->m);
    if (pr->p < 1)
        return bmm__fail(BMM_EINVAL, "p must be >= 1 (got %lld)", (long long)pr->p);
    if (pr->batch == 0)
        return BMM_OK;  /* a no-op whatever the strides */
    for (int o = 0; o < 3; o++) {
        int64_t rows, cols, es = bmm__operand_bytes(pr, o);
        const bmm_stride *s = stride_of(pr, o);
        dims(pr, o, &rows, &cols);
        /* hi - lo + 1 elements, in bytes, must fit a ptrdiff_t */
        if (!span(pr, o, &lo[o], &hi[o])
            || (uint64_t)hi[o] + (0 - (uint64_t)lo[o])
                   >= (uint64_t)PTRDIFF_MAX >> (es == 8 ? 3 : 2))
            return bmm__fail(BMM_EINVAL,
                "%s spans more than the address space (batch %lld, %lld x %lld, strides "
                "{%lld, %lld, %lld})", OPERAND[o], (long long)pr->batch, (long long)rows,
                (long long)cols, (long long)s->batch, (long long)s->row, (long long)s->col);
    }
    if (bmm__self_overlaps(pr->batch, pr->n, pr->p, &pr->sc))
        return bmm__fail(BMM_EOVERLAP,
            "C overlaps itself: strides sc {%lld, %lld, %lld} map two elements of a "
            "batch %lld x %lld x %lld output to one address", (long long)pr->sc.batch,
            (long long)pr->sc.row, (long long)pr->sc.col, (long long)pr->batch,
            (long long)pr->n, (long long)pr->p);
    return BMM_OK;
}

bmm_status bmm__check_problem(const bmm__problem *pr)
{
    int64_t lo[3], hi[3];
    return check_shape(pr, lo, hi);
}

/* The rules on the pointers, given the spans. */
static bmm_status check_pointers(const bmm__problem *pr, const int64_t lo[3], const int64_t hi[3],
    const void *A, const void *B, const void *C)
{
    if (pr->batch == 0)
        return BMM_OK;  /* nothing is referenced */
    const void *ptr[3] = { A, B, C };
    uintptr_t x0[3], x1[3];
    for (int o = 0; o < 3; o++) {
        uintptr_t base = (uintptr_t)ptr[o], es = (uintptr_t)bmm__operand_bytes(pr, o);
        if (!ptr[o])
            return bmm__fail(BMM_EINVAL, "%s is NULL", OPERAND[o]);
        if (base & (es - 1))  /* es is 2, 4 or 8 */
            return bmm__fail(BMM_EINVAL, "%s (%p) is not aligned to its element size (%zu bytes)",
                OPERAND[o], ptr[o], (size_t)es);
        /* [x0, x1): the bytes the operand spans; a negative stride reaches below the pointer */
        uintptr_t below = (0 - (uintptr_t)lo[o]) * es, above = ((uintptr_t)hi[o] + 1) * es;
        if (below > base || above > UINTPTR_MAX - base)
            return bmm__fail(BMM_EINVAL, "%s (%p) and its strides reach past the address space",
                OPERAND[o], ptr[o]);
        x0[o] = base - below;
        x1[o] = base + above;
    }
    for (int o = 0; o < 2; o++)
        if (x0[o] < x1[2] && x0[2] < x1[o])
            return bmm__fail(BMM_EOVERLAP, "C overlaps %s: C spans [%p, %p), %s spans [%p, %p)",
                OPERAND[o], (void *)x0[2], (void *)x1[2], OPERAND[o], (void *)x0[o],
                (void *)x1[o]);
    return BMM_OK;
}

bmm_status bmm__check_operands(const bmm__problem *pr, const void *A, const void *B, const void *C)
{
    int64_t lo[3], hi[3];
    bmm__spans(pr, lo, hi);
    return check_pointers(pr, lo, hi, A, B, C);
}

bmm_status bmm__check_call(const bmm__problem *pr, const void *A, const void *B, const void *C)
{
    int64_t lo[3], hi[3];
    bmm_status st = check_shape(pr, lo, hi);
    return st == BMM_OK ? check_pointers(pr, lo, hi, A, B, C) : st;
}

/* s of a rows x cols operand, seen as the cols x rows transpose. */
static bmm_stride transposed(int64_t batch, int64_t rows, int64_t cols, bmm_stride s)
{
    bmm_stride t = { s.batch, s.col, s.row };
    bmm__normalize_strides(batch, cols, rows, &t);
    return t;
}

static void transpose(const bmm__problem *pr, bmm__problem *t)
{
    *t = *pr;
    t->swapped = (int16_t)!pr->swapped;
    t->n = pr->p;
    t->p = pr->n;
    t->sa = transposed(pr->batch, pr->m, pr->p, pr->sb);  /* B^T: p x m */
    t->sb = transposed(pr->batch, pr->n, pr->m, pr->sa);  /* A^T: m x n */
    t->sc = transposed(pr->batch, pr->n, pr->p, pr->sc);  /* C^T: p x n */
}

/* The operands of pr to pack (BMM__PACK_*) and the elements an item copies (C twice when it is
 * read: beta != 0); -1 when C's columns are not unit-stride and its rows not either (a copy
 * of C is written back as a transpose). in_place: a transposed view of A or B is not copied
 * (kernels of its order read it); *views counts those. */
static int packs(const bmm__problem *pr, int in_place, double *copied, int *views)
{
    int pk = 0;
    *copied = 0;
    *views = 0;
    const bmm_stride *s[2] = { &pr->sa, &pr->sb };
    const double size[2] = { (double)pr->n * (double)pr->m, (double)pr->m * (double)pr->p };
    for (int o = 0; o < 2; o++) {
        if (s[o]->col == 1)
            continue;
        if (in_place && s[o]->row == 1)
            ++*views;
        else
            pk |= 1 << o, *copied += size[o];  /* BMM__PACK_A, BMM__PACK_B */
    }
    if (pr->sc.col != 1 && pr->sc.row != 1 && pr->n > 1)
        return -1;
    if (pr->sc.col != 1)
        pk |= BMM__PACK_C, *copied += (double)pr->n * (double)pr->p * (pr->beta != 0 ? 2 : 1);
    return pk;
}

/* The operands of pr read in place as transposed views (BMM__PACK_A, BMM__PACK_B bits):
 * in_place and unit row stride, else they are copied (packs). */
static int views_of(const bmm__problem *pr, int in_place)
{
    if (!in_place)
        return 0;
    return (pr->sa.col != 1 && pr->sa.row == 1 ? BMM__PACK_A : 0)
        | (pr->sb.col != 1 && pr->sb.row == 1 ? BMM__PACK_B : 0);
}

/* Vector instructions a dot product's sum costs besides its multiply-adds (bmm__hsums8_*:
 * about a dozen shuffles and adds for eight sums, then the scalar store). */
#define DOT_SUM_COST 2

/* The vector multiply-adds of pr on this CPU's widest vectors, w lanes, with views (bits)
 * read in place: the rows kernels run ceil(p / w) vectors per row of C and k; the dot
 * kernels ceil(m / w) per element of C, A's rows read as vectors: p = 1, or B a transposed
 * view (its columns contiguous: the gnt form), plus the sums. In double: valid sizes may
 * multiply past int64 (a broadcast A of 2^40 rows of 2^40 columns spans one element). */
static double vector_madds(const bmm__problem *pr, int views, int64_t w)
{
    double n = (double)pr->n, m = (double)pr->m, p = (double)pr->p;
    double dots = (double)(pr->m / w + (pr->m % w != 0));
    if (views == BMM__PACK_B)
        return n * p * (dots + DOT_SUM_COST);
    if (pr->p == 1 && !(views & BMM__PACK_A))
        return n * dots;
    return n * m * (double)(pr->p / w + (pr->p % w != 0));
}

/* An element copied costs half a multiply-add of 16 lanes (a 16 x 16 tile: 96 vector moves
 * for 256 elements), in the lanes' units of vector_madds * w. */
#define COPY_COST 8

double bmm__problem_cost(const bmm__problem *run)
{
    const int64_t w = bmm__vector_lanes(run->dtype, bmm__cpu_max_isa());
    int views = (run->sa.col != 1 && !(run->pack & BMM__PACK_A) ? BMM__PACK_A : 0)
        | ((run->sb.col != 1 && !(run->pack & BMM__PACK_B)) || (run->pack & BMM__PACK_BT)
            ? BMM__PACK_B : 0);  /* (a copy of B^T is a transposed view to the kernel) */
    double n = (double)run->n, m = (double)run->m, p = (double)run->p;
    double copied = ((run->pack & BMM__PACK_A) ? n * m : 0)
        + ((run->pack & (BMM__PACK_B | BMM__PACK_BT)) ? m * p : 0)
        + ((run->pack & BMM__PACK_C) ? n * p * (run->beta != 0 ? 2 : 1) : 0);
    return (w < 2 ? n * m * p : vector_madds(run, views, w) * (double)w) + copied * COPY_COST;
}

/* Where both are past VECTOR_WORK vector multiply-adds an item, the looped and shape-generic
 * kernels run either way and their lanes decide: pr or its transpose by the multiply-adds
 * plus the copies. Attention's products, B=64 S=37 T=20 h=256 f32 (Zen 4): dec^T's grad
 * 256x37x20 (A transposed) runs as 20x37x256, 1.6x. Below it the specialized kernels' forms
 * decide, which this does not see: 0 (no preference). */
#define VECTOR_WORK 1024
static int lanes_prefer(const bmm__problem *pr, double cp, const bmm__problem *t, double ct,
    int in_place)
{
    const int64_t w = bmm__vector_lanes(pr->dtype, bmm__cpu_max_isa());
    if (w < 2)
        return 0;
    double vp = vector_madds(pr, views_of(pr, in_place), w);
    double vt = vector_madds(t, views_of(t, in_place), w);
    if (vp < VECTOR_WORK || vt < VECTOR_WORK)
        return 0;
    double kp = vp * (double)w + cp * COPY_COST, kt = vt * (double)w + ct * COPY_COST;
    return kp < kt ? -1 : kt < kp;
}

int bmm__problem_arrange(const bmm__problem *pr, int in_place, bmm__problem *run)
{
    bmm__problem t;
    double cp = 0, ct = 0;
    int vp = 0, vt = 0;
    transpose(pr, &t);
    int pp = packs(pr, in_place, &cp, &vp), pt = packs(&t, in_place, &ct, &vt);
    int lanes = pp >= 0 && pt >= 0 ? lanes_prefer(pr, cp, &t, ct, in_place) : 0;
    /* the one whose lanes are better used (large products), else the one that copies fewer
     * elements, then leaves fewer transposed views; pr on a tie */
    if (pt >= 0 && (pp < 0 || lanes > 0 || (lanes == 0 && (ct < cp || (ct == cp && vt < vp))))) {
        *run = t;
        run->pack = (int16_t)pt;
        return 1;
    }
    if (pp > 0) {
        *run = *pr;
        run->pack = (int16_t)pp;
        return 1;
    }
    return 0;
}

int bmm__problem_widen(const bmm__problem *pr, bmm__problem *run)
{
    if (bmm__dtype_has_kernels(pr->dtype))
        return 0;
    *run = *pr;
    run->pack = BMM__PACK_A | BMM__PACK_B | BMM__PACK_WIDE;
    if (pr->cdtype != BMM_F32 || pr->sc.col != 1)  /* a float C in rows is the kernel's */
        run->pack |= BMM__PACK_C;
    return 1;
}

void bmm__call_of(const bmm__problem *pr, int threads, bmm_call *c)
{
    bmm__problem kv;
    if (pr->pack) {
        bmm__pack_view(pr, &kv);
        pr = &kv;
    }
    bmm__call_init(c, pr->dtype, pr->batch, pr->n, pr->m, pr->p, &pr->sa, &pr->sb, &pr->sc,
        pr->scalars, threads, bmm__cpu_avx512_split());
}
