/* contender_loops.c: the strongest plain loop a user would write. Three textbook orders of the
 * triple loop, n, m, p compile-time constants (-O3 -march=native), each a function whose
 * operands are restrict parameters (GCC honours restrict on parameters; on local copies of
 * struct members, as this file first had them, it does not, and 4x4x4 f32 bf ran at 40% of
 * what the same loop does as a function), batch-first with every stride a constant:
 *   ijk  c[i][j] = sum over k, a scalar sum per element
 *   ikj  c[i][j] += a[i][k] b[k][j], C zeroed first, written in place
 *   acc  the ikj order into a row of accumulators, stored once
 * The compiler's best order differs by shape (on Zen 4, 2x2x2 f32: ijk 2.3x ikj; 8x8x8: ijk
 * 10x acc), so prepare() times the three on the case and keeps the fastest: the baseline is
 * the best of them, not one guess. In the scaling run, the batch loop is what a user would
 * write for threads: `omp parallel for` over contiguous chunks of the batch. */
#include <stddef.h>
#include <time.h>

#include "bench.h"

/* One order, batch-first (strides N*M, M*P, N*P) and seq-first (row strides at run time). */
#define ORDER(T, dt, ord, N, M, P, BODY)                                                      \
    static void ord##_##dt##_bf_##N##_##M##_##P(int64_t batch, const T *restrict a,           \
        const T *restrict b, T *restrict o)                                                   \
    {                                                                                         \
        enum { ra = M, rb = P, rc = P };                                                      \
        for (int64_t t = 0; t < batch; t++, a += N * M, b += M * P, o += N * P)               \
            BODY                                                                              \
    }                                                                                         \
    static void ord##_##dt##_sf_##N##_##M##_##P(int64_t batch, const T *restrict a,           \
        const T *restrict b, T *restrict o, int64_t ra, int64_t rb, int64_t rc)               \
    {                                                                                         \
        for (int64_t t = 0; t < batch; t++, a += M, b += P, o += P)                           \
            BODY                                                                              \
    }

#define IJK(T, N, M, P)                                                                       \
    for (int i = 0; i < N; i++)                                                               \
        for (int j = 0; j < P; j++) {                                                         \
            T s = 0;                                                                          \
            for (int k = 0; k < M; k++)                                                       \
                s += a[i * ra + k] * b[k * rb + j];                                           \
            o[i * rc + j] = s;                                                                \
        }
#define IKJ(T, N, M, P)                                                                       \
    for (int i = 0; i < N; i++) {                                                             \
        for (int j = 0; j < P; j++)                                                           \
            o[i * rc + j] = 0;                                                                \
        for (int k = 0; k < M; k++)                                                           \
            for (int j = 0; j < P; j++)                                                       \
                o[i * rc + j] += a[i * ra + k] * b[k * rb + j];                               \
    }
#define ACC(T, N, M, P)                                                                       \
    for (int i = 0; i < N; i++) {                                                             \
        T acc[P] = { 0 };                                                                     \
        for (int k = 0; k < M; k++)                                                           \
            for (int j = 0; j < P; j++)                                                       \
                acc[j] += a[i * ra + k] * b[k * rb + j];                                      \
        for (int j = 0; j < P; j++)                                                           \
            o[i * rc + j] = acc[j];                                                           \
    }

#define LOOPS(T, dt, N, M, P)                                                                 \
    ORDER(T, dt, ijk, N, M, P, { IJK(T, N, M, P) })                                           \
    ORDER(T, dt, ikj, N, M, P, { IKJ(T, N, M, P) })                                           \
    ORDER(T, dt, acc, N, M, P, { ACC(T, N, M, P) })

#define BENCH_SHAPE(N, M, P) LOOPS(float, f32, N, M, P) LOOPS(double, f64, N, M, P)
#include "bench_shapes.h"
#include "bench_unseen.h"
#undef BENCH_SHAPE

enum { NORDERS = 3 };   /* ijk, ikj, acc */

typedef void (*bf_fn)(int64_t, const void *, const void *, void *);
typedef void (*sf_fn)(int64_t, const void *, const void *, void *, int64_t, int64_t, int64_t);
typedef struct {
    int n, m, p;
    bf_fn bf[2][NORDERS];   /* [f64][order] */
    sf_fn sf[2][NORDERS];
} shape_loops;

#define FNS(dt, l, N, M, P)                                                                   \
    { (l##_fn)ijk_##dt##_##l##_##N##_##M##_##P, (l##_fn)ikj_##dt##_##l##_##N##_##M##_##P,       \
      (l##_fn)acc_##dt##_##l##_##N##_##M##_##P }
static const shape_loops loops[] = {
#define BENCH_SHAPE(N, M, P)                                                                  \
    { N, M, P, { FNS(f32, bf, N, M, P), FNS(f64, bf, N, M, P) },                                \
      { FNS(f32, sf, N, M, P), FNS(f64, sf, N, M, P) } },
#include "bench_shapes.h"
#include "bench_unseen.h"
#undef BENCH_SHAPE
};

typedef struct {
    const shape_loops *s;
    int order;
} loop_state;

static loop_state chosen[sizeof loops / sizeof loops[0]][2][2];   /* [shape][f64][sf] */

/* Items [lo, hi). */
static void run_items(const loop_state *l, const bench_case *c, int64_t lo, int64_t hi)
{
    const int f64 = c->dtype == BMM_F64;
    const size_t es = f64 ? sizeof(double) : sizeof(float);
    const char *a = (const char *)c->A + (size_t)(lo * c->sa.batch) * es;
    const char *b = (const char *)c->B + (size_t)(lo * c->sb.batch) * es;
    char *o = (char *)c->C + (size_t)(lo * c->sc.batch) * es;
    if (c->layout == BENCH_BF)
        l->s->bf[f64][l->order](hi - lo, a, b, o);
    else
        l->s->sf[f64][l->order](hi - lo, a, b, o, c->sa.row, c->sb.row, c->sc.row);
}

static int nthreads = 1;
static void threads(int n) { nthreads = n; }

static void run(void *st, const bench_case *c)
{
    if (nthreads == 1) {  /* no parallel region at all (the check runs in a forked child) */
        run_items(st, c, 0, c->batch);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static)
#endif
    for (int t = 0; t < nthreads; t++)
        run_items(st, c, c->batch * t / nthreads, c->batch * (t + 1) / nthreads);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *ok(void) { return NULL; }
static const char *info(void)
{
    return "gcc -O3 -march=native, fixed-size triple loop: the fastest of the ijk, ikj and "
           "accumulator-row orders on each case";
}

/* The fastest order on this case: best of 3 timed calls each, after one warm-up call. */
static void *prepare(const bench_case *c, const char **why)
{
    if (c->layout != BENCH_BF && c->layout != BENCH_SF) {
        *why = "no loops for transposed operands";
        return NULL;
    }
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
        if (loops[i].n != c->n || loops[i].m != c->m || loops[i].p != c->p)
            continue;
        loop_state *l = &chosen[i][c->dtype == BMM_F64][c->layout == BENCH_SF];
        l->s = &loops[i];
        double best = 0;
        for (int o = 0; o < NORDERS; o++) {
            loop_state trial = { &loops[i], o };
            double t = 0;
            run(&trial, c);
            for (int r = 0; r < 3; r++) {
                double t0 = seconds();
                run(&trial, c);
                double dt = seconds() - t0;
                t = r == 0 || dt < t ? dt : t;
            }
            if (o == 0 || t < best)
                best = t, l->order = o;
        }
        return l;
    }
    *why = "no fixed-size loop for this shape";
    return NULL;
}

const bench_contender bench_loops = { "compiler-loops", ok, info, prepare, run, bench_release_none, threads, 0 };
