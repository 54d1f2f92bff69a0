/* contender_loops.c: what the compiler makes of a plain triple loop with n, m, p as
 * compile-time constants (-O3 -march=native), in the i-k-j order that lets it vectorize along
 * a row of C. Batch-first also has its row strides fixed; seq-first takes them at run time. */
#include <stddef.h>

#include "bench.h"

#define LOOP(T, dt, N, M, P)                                                                  \
    static void loop_##dt##_bf_##N##_##M##_##P(const bench_case *c)                           \
    {                                                                                         \
        const T *restrict a = c->A, *restrict b = c->B;                                       \
        T *restrict o = c->C;                                                                 \
        for (int64_t t = 0; t < c->batch; t++, a += N * M, b += M * P, o += N * P)            \
            for (int i = 0; i < N; i++) {                                                     \
                T acc[P] = { 0 };                                                             \
                for (int k = 0; k < M; k++)                                                   \
                    for (int j = 0; j < P; j++)                                               \
                        acc[j] += a[i * M + k] * b[k * P + j];                                \
                for (int j = 0; j < P; j++)                                                   \
                    o[i * P + j] = acc[j];                                                    \
            }                                                                                 \
    }                                                                                         \
    static void loop_##dt##_sf_##N##_##M##_##P(const bench_case *c)                           \
    {                                                                                         \
        const T *restrict a = c->A, *restrict b = c->B;                                       \
        T *o = c->C;                                                                          \
        const int64_t ra = c->sa.row, rb = c->sb.row, rc = c->sc.row;                         \
        for (int64_t t = 0; t < c->batch; t++, a += M, b += P, o += P)                        \
            for (int i = 0; i < N; i++) {                                                     \
                T acc[P] = { 0 };                                                             \
                for (int k = 0; k < M; k++)                                                   \
                    for (int j = 0; j < P; j++)                                               \
                        acc[j] += a[i * ra + k] * b[k * rb + j];                              \
                for (int j = 0; j < P; j++)                                                   \
                    o[i * rc + j] = acc[j];                                                   \
            }                                                                                 \
    }

#define BENCH_SHAPE(N, M, P) LOOP(float, f32, N, M, P) LOOP(double, f64, N, M, P)
#include "bench_shapes.h"
#include "bench_unseen.h"
#undef BENCH_SHAPE

typedef void (*loop_fn)(const bench_case *c);
static const struct { int n, m, p; loop_fn fn[2][2]; } loops[] = {
#define BENCH_SHAPE(N, M, P)                                                                  \
    { N, M, P, { { loop_f32_bf_##N##_##M##_##P, loop_f32_sf_##N##_##M##_##P },                \
                 { loop_f64_bf_##N##_##M##_##P, loop_f64_sf_##N##_##M##_##P } } },
#include "bench_shapes.h"
#include "bench_unseen.h"
#undef BENCH_SHAPE
};

static const char *ok(void) { return NULL; }
static const char *info(void) { return "gcc -O3 -march=native, fixed-size triple loop"; }

static void *prepare(const bench_case *c, const char **why)
{
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++)
        if (loops[i].n == c->n && loops[i].m == c->m && loops[i].p == c->p)
            return (void *)loops[i].fn[c->dtype == BMM_F64][c->layout == BENCH_SF];
    *why = "no fixed-size loop for this shape";
    return NULL;
}

static void run(void *s, const bench_case *c)
{
    loop_fn fn;
    *(void **)&fn = s;
    fn(c);
}

const bench_contender bench_loops = { "compiler-loops", ok, info, prepare, run, bench_release_none };
