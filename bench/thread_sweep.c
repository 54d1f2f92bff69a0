/* thread_sweep.c (bmm-thread-sweep): where threads over the batch start to pay, the measurement
 * behind bmm_select.h's BMM__THREAD_MIN_NS and BMM__THREAD_COLD_NS. For shapes from 2x2x2 to
 * 64x64x64, f32 and f64, batch-first and seq-first, batches doubling from 4: the static rule's
 * kernel on one thread and on two (exactly two: bmm__run_threads, no threshold), best of 7
 * back to back (the team awake), with the work estimate and the count the threshold gives; then
 * a few cases called once after 5 ms idle (the team asleep), medians of 51; then calls from
 * inside the caller's own parallel region (each of its threads a half of the batch), plans
 * for the default count against plans for one thread. Run it on two cores:
 * taskset -c 0,1 build-bench/bench/bmm-thread-sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bmm_internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    bmm__problem pr;
    const bmm_kernel_desc *k;
    void *A, *B, *C;
} sweep_case;

static int setup(sweep_case *s, int dt, int sf, int64_t batch, int64_t n, int64_t m, int64_t p)
{
    size_t es = (size_t)bmm__elem_bytes(dt);
    bmm_stride sa = sf ? bmm_stride_seq_first(n, m, batch) : bmm_stride_batch_first(n, m);
    bmm_stride sb = sf ? bmm_stride_seq_first(m, p, batch) : bmm_stride_batch_first(m, p);
    bmm_stride sc = sf ? bmm_stride_seq_first(n, p, batch) : bmm_stride_batch_first(n, p);
    bmm__problem_init(&s->pr, (bmm_dtype)dt, batch, n, m, p, sa, sb, sc, 1, 0);
    bmm_call c;
    bmm__call_of(&s->pr, 1, &c);
    s->k = bmm__estimate(&c);
    s->A = calloc((size_t)(batch * n * m), es);
    s->B = calloc((size_t)(batch * m * p), es);
    s->C = calloc((size_t)(batch * n * p), es);
    return s->A && s->B && s->C;
}

static void release(sweep_case *s)
{
    free(s->A), free(s->B), free(s->C);
}

/* Seconds of one call on `threads`, best of 7 runs of back-to-back calls. */
static double best_of(const sweep_case *s, int threads, int reps)
{
    double best = 1e30;
    bmm__run_threads(s->k, &s->pr, s->A, s->B, s->C, threads);
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++)
            bmm__run_threads(s->k, &s->pr, s->A, s->B, s->C, threads);
        double t = (now() - t0) / reps;
        best = t < best ? t : best;
    }
    return best;
}

/* Median seconds of one call on `threads` made after idle_us of sleep. */
static double after_idle(const sweep_case *s, int threads, long idle_us)
{
    double t[51];
    struct timespec idle = { 0, idle_us * 1000 };
    for (int r = 0; r < 51; r++) {
        nanosleep(&idle, NULL);
        double t0 = now();
        bmm__run_threads(s->k, &s->pr, s->A, s->B, s->C, threads);
        t[r] = now() - t0;
    }
    qsort(t, 51, sizeof t[0], cmp_double);
    return t[25];
}

int main(void)
{
    static const int64_t shapes[][3] = { { 2, 2, 2 }, { 4, 4, 4 }, { 8, 8, 8 }, { 16, 16, 16 },
        { 32, 32, 32 }, { 10, 256, 1 }, { 64, 64, 64 } };
    printf("team awake: best of 7 runs of back-to-back calls; est = bmm__work_ns, threshold = "
           "the count bmm__threads_worth gives for two\n");
    for (int dt = BMM_F32; dt <= BMM_F64; dt++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int sf = 0; sf < 2; sf++) {
                const int64_t n = shapes[s][0], m = shapes[s][1], p = shapes[s][2];
                printf("%s %lldx%lldx%lld %s\n", dt == BMM_F32 ? "f32" : "f64", (long long)n,
                    (long long)m, (long long)p, sf ? "sf" : "bf");
                for (int64_t batch = 4; batch <= (1 << 18); batch *= 2) {
                    double bytes = (double)batch * (double)(n * m + m * p + n * p) * bmm__elem_bytes(dt);
                    if (bytes > 64e6)
                        break;
                    sweep_case c;
                    if (!setup(&c, dt, sf, batch, n, m, p))
                        return 1;
                    int reps = (int)(2e6 / bytes) + 1;
                    reps = reps > 20000 ? 20000 : reps;
                    double one = best_of(&c, 1, reps), two = best_of(&c, 2, reps);
                    printf("  batch %7lld  est %8.1f us  1 thread %9.2f us  2 threads %9.2f us  "
                           "%.2fx  threshold: %d\n", (long long)batch,
                        bmm__work_ns(dt, batch, n, m, p) * 1e-3, one * 1e6, two * 1e6, one / two,
                        bmm__threads_worth(dt, batch, n, m, p, 2));
                    release(&c);
                }
            }
    printf("team asleep: one call after 5 ms idle, median of 51\n");
    static const int64_t idle_cases[][4] = { { 4, 4, 4, 4096 }, { 32, 32, 32, 64 },
        { 32, 32, 32, 256 }, { 32, 32, 32, 1024 } };
    for (size_t i = 0; i < sizeof idle_cases / sizeof idle_cases[0]; i++) {
        const int64_t *q = idle_cases[i];
        sweep_case c;
        if (!setup(&c, BMM_F32, 0, q[3], q[0], q[1], q[2]))
            return 1;
        double one = after_idle(&c, 1, 5000), two = after_idle(&c, 2, 5000);
        printf("  f32 bf %lldx%lldx%lld batch %5lld  est %8.1f us  1 thread %9.2f us  2 threads "
               "%9.2f us  %.2fx\n", (long long)q[0], (long long)q[1], (long long)q[2],
            (long long)q[3], bmm__work_ns(BMM_F32, q[3], q[0], q[1], q[2]) * 1e-3, one * 1e6,
            two * 1e6, one / two);
        release(&c);
    }
#ifdef _OPENMP
    printf("inside the caller's parallel region of 2 threads, each a half of the batch: plans "
           "for the default count (%d) against plans for one thread, best of 7\n",
        bmm_get_num_threads());
    static const int64_t nested[][4] = { { 4, 4, 4, 8192 }, { 16, 16, 16, 1024 },
        { 64, 64, 64, 64 } };
    for (size_t i = 0; i < sizeof nested / sizeof nested[0]; i++) {
        const int64_t *q = nested[i], half = q[3] / 2;
        sweep_case c;
        if (!setup(&c, BMM_F32, 0, q[3], q[0], q[1], q[2]))
            return 1;
        double t[2];
        for (int one = 0; one < 2; one++) {
            bmm_plan *pl = NULL;
            if (bmm_plan_create(&pl, BMM_F32, half, q[0], q[1], q[2], c.pr.sa, c.pr.sb, c.pr.sc,
                    1, 0, one ? BMM_THREADS(1) : 0) != BMM_OK)
                return 1;
            t[one] = 1e30;
            for (int r = 0; r < 7; r++) {
                double t0 = now();
                for (int k = 0; k < 200; k++) {
#pragma omp parallel num_threads(2)
                    {
                        int64_t at = omp_get_thread_num() * half;
                        bmm_execute(pl, (const float *)c.A + at * c.pr.sa.batch,
                            (const float *)c.B + at * c.pr.sb.batch, (float *)c.C + at * c.pr.sc.batch);
                    }
                }
                double d = (now() - t0) / 200;
                t[one] = d < t[one] ? d : t[one];
            }
            bmm_plan_destroy(pl);
        }
        printf("  f32 bf %lldx%lldx%lld batch %5lld  default-count plans %9.2f us  one-thread "
               "plans %9.2f us  %.2fx\n", (long long)q[0], (long long)q[1], (long long)q[2],
            (long long)q[3], t[0] * 1e6, t[1] * 1e6, t[1] / t[0]);
        release(&c);
    }
#endif
    return 0;
}
