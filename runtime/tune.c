/* tune.c: BMM_MEASURE. Times every applicable kernel and the generic path on private buffers
 * with the plan's strides, warm-up then best of repetitions, within a time budget per plan
 * (BMM_TUNE_BUDGET_MS, default 50). The winner is checked once against the generic path.
 * The caller's memory is never touched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmm_internal.h"

#define MAX_SAMPLE_BYTES ((int64_t)64 << 20)   /* timing batch touches at most this */
#define MAX_BUFFER_BYTES ((int64_t)1 << 30)    /* else: no timing, the static rule decides */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double budget_seconds(void)
{
    const char *v = getenv("BMM_TUNE_BUDGET_MS");
    double ms = v ? atof(v) : 50.0;
    return (ms > 0 ? ms : 50.0) * 1e-3;
}

double bmm__time_kernel(const bmm_kernel_desc *k, const bmm__problem *pr, double alpha,
    double beta, const void *A, const void *B, void *C, double budget)
{
    bmm__run(k, pr, alpha, beta, A, B, C);  /* warm-up: caches, page faults, branch history */
    double best = 1e30, start = now();
    for (int rep = 0; rep < 1000; rep++) {
        double t0 = now();
        bmm__run(k, pr, alpha, beta, A, B, C);
        double t = now() - t0;
        if (t < best)
            best = t;
        if (rep >= 2 && now() - start > budget)
            break;
    }
    return best;
}

static void *alloc_filled(int64_t elems, size_t es, unsigned seed)
{
    size_t bytes = (size_t)elems * es;
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p)
        return NULL;
    for (int64_t i = 0; i < elems; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = (double)((seed >> 8) & 0xffff) / 65536.0 - 0.5;
        if (es == sizeof(float))
            ((float *)p)[i] = (float)v;
        else
            ((double *)p)[i] = v;
    }
    return p;
}

/* Largest |x - y| allowed between a kernel and the generic path on the timing data: both are
 * sums of m products of values in [-0.5, 0.5), so the standard bound with a margin. */
static double tolerance(const bmm__problem *pr, double alpha, double beta)
{
    double eps = pr->dtype == BMM_F32 ? 1.2e-7 : 2.3e-16;
    double mag = fabs(alpha) * 0.25 * (double)pr->m + fabs(beta) * 0.5;
    return 8.0 * (double)(pr->m + 2) * eps * (mag + 1e-30);
}

/* Runs k and the generic path from the same C and compares every element of C. */
static int agrees(const bmm_kernel_desc *k, const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, const void *C0, void *Ck, void *Cg, int64_t celems)
{
    size_t es = bmm__dtype_size(pr->dtype);
    memcpy(Ck, C0, (size_t)celems * es);
    memcpy(Cg, C0, (size_t)celems * es);
    bmm__run(k, pr, alpha, beta, A, B, Ck);
    bmm__run(NULL, pr, alpha, beta, A, B, Cg);
    double tol = tolerance(pr, alpha, beta);
    for (int64_t t = 0; t < pr->batch; t++)
        for (int64_t i = 0; i < pr->n; i++)
            for (int64_t j = 0; j < pr->p; j++) {
                int64_t o = t * pr->sc.batch + i * pr->sc.row + j * pr->sc.col;
                double x = es == 4 ? ((const float *)Ck)[o] : ((const double *)Ck)[o];
                double y = es == 4 ? ((const float *)Cg)[o] : ((const double *)Cg)[o];
                if (!(fabs(x - y) <= tol))
                    return 0;
            }
    return 1;
}

/* The timing sample: the plan's strides, its batch capped so the operands touch at most
 * MAX_SAMPLE_BYTES; ext gets each operand's extent. 0 if the buffers would be too large. */
static int sample_of(const bmm__problem *pr, bmm__problem *sample, int64_t ext[3])
{
    *sample = *pr;
    size_t es = bmm__dtype_size(pr->dtype);
    double per = (double)es * ((double)pr->n * (double)pr->m + (double)pr->m * (double)pr->p
                                  + (double)pr->n * (double)pr->p);
    int64_t cap = (int64_t)((double)MAX_SAMPLE_BYTES / per);
    if (cap < 1)
        cap = 1;
    if (sample->batch > cap)
        sample->batch = cap;
    bmm__extents(sample, ext);
    return (double)(ext[0] + ext[1] + 3 * ext[2]) * (double)es <= (double)MAX_BUFFER_BYTES;
}

/* The fastest candidate that agrees with the generic path (times[nc] is the generic path's,
 * the fallback); one that disagrees is reported, marked in wrong[] and never chosen. */
static const bmm_kernel_desc *fastest_agreeing(const bmm_kernel_desc **cand, size_t nc,
    const double *times, int *wrong, const bmm__problem *sample, double alpha, double beta,
    void *const buf[5], int64_t celems)
{
    for (;;) {
        size_t w = nc;
        for (size_t i = 0; i < nc; i++)
            if (!wrong[i] && times[i] < times[w])
                w = i;
        if (w == nc)
            return NULL;
        if (agrees(cand[w], sample, alpha, beta, buf[0], buf[1], buf[2], buf[3], buf[4], celems))
            return cand[w];
        wrong[w] = 1;
        bmm__note("measure: %s disagrees with the generic path; not used", cand[w]->name);
    }
}

bmm_status bmm__measure(const bmm__problem *pr, const bmm_call *c, double alpha, double beta,
    const bmm_kernel_desc **best, bmm__timings *log)
{
    if (log)
        *log = (bmm__timings){ NULL, 0 };
    *best = bmm__estimate(c);
    size_t nc = bmm__candidates(c, NULL, 0);
    if (nc == 0 || pr->batch == 0)
        return BMM_OK;  /* the generic path is the only candidate */
    bmm__problem sample;
    int64_t ext[3];
    if (!sample_of(pr, &sample, ext)) {
        bmm__note("measure: operands too large to time; using the static rule");
        return BMM_OK;
    }
    size_t es = bmm__dtype_size(pr->dtype);
    const bmm_kernel_desc **cand = malloc(nc * sizeof *cand);
    double *times = malloc((nc + 1) * sizeof *times);
    int *wrong = calloc(nc + 1, sizeof *wrong);
    void *buf[5] = { alloc_filled(ext[0], es, 1), alloc_filled(ext[1], es, 2),
        alloc_filled(ext[2], es, 3), alloc_filled(ext[2], es, 4), alloc_filled(ext[2], es, 5) };
    bmm_status st = BMM_OK;
    if (!cand || !times || !wrong || !buf[0] || !buf[1] || !buf[2] || !buf[3] || !buf[4]) {
        st = bmm__fail(BMM_ENOMEM, "measure: cannot allocate %lld bytes of timing buffers",
            (long long)((ext[0] + ext[1] + 3 * ext[2]) * (int64_t)es));
        goto out;
    }
    bmm__candidates(c, cand, nc);
    /* A, B, then C's copy 3 as the timing output (its copies 2 and 4 serve the check) */
    double share = budget_seconds() / (double)(nc + 1);
    times[nc] = bmm__time_kernel(NULL, &sample, alpha, beta, buf[0], buf[1], buf[3], share);
    for (size_t i = 0; i < nc; i++)
        times[i] = bmm__time_kernel(cand[i], &sample, alpha, beta, buf[0], buf[1], buf[3], share);
    for (size_t i = 0; i <= nc; i++)
        bmm__note("measure: %-44s %10.3f us", i < nc ? cand[i]->name : "generic",
            times[i] * 1e6);
    *best = fastest_agreeing(cand, nc, times, wrong, &sample, alpha, beta, buf, ext[2]);
    if (log && (log->v = malloc((nc + 1) * sizeof *log->v))) {
        for (size_t i = 0; i <= nc; i++)
            log->v[i] = (bmm__timing){ i < nc ? cand[i] : NULL, times[i], wrong[i] };
        log->n = nc + 1;
    }
out:
    for (int i = 0; i < 5; i++)
        free(buf[i]);
    free(cand);
    free(times);
    free(wrong);
    return st;
}
