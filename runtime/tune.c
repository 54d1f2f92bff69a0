/* tune.c: BMM_MEASURE. Times every applicable kernel and the generic path on private buffers
 * with the plan's strides, warm-up then best of repetitions, within a time budget per plan
 * (BMM_TUNE_BUDGET_MS, default 50). The winner is checked once against the generic path.
 * The caller's memory is never touched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmm_internal.h"

#define MAX_CANDIDATES 64
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

bmm_status bmm__measure(const bmm__problem *pr, double alpha, double beta,
    const bmm_kernel_desc **best, bmm__timing *log, size_t max_log, size_t *nlog)
{
    const bmm_kernel_desc *cand[MAX_CANDIDATES];
    size_t nc = bmm__candidates(pr, cand, MAX_CANDIDATES);
    if (nlog)
        *nlog = 0;
    *best = bmm__estimate(pr);
    if (nc == 0 || pr->batch == 0)
        return BMM_OK;  /* the generic path is the only candidate */

    /* Time a capped sample of the batch with the real strides. */
    bmm__problem sample = *pr;
    size_t es = bmm__dtype_size(pr->dtype);
    double per = (double)es * (double)(pr->n * pr->m + pr->m * pr->p + pr->n * pr->p);
    int64_t cap = (int64_t)((double)MAX_SAMPLE_BYTES / per);
    if (cap < 1)
        cap = 1;
    if (sample.batch > cap)
        sample.batch = cap;
    int64_t ext[3];
    bmm__extents(&sample, ext);
    if ((double)(ext[0] + ext[1] + 3 * ext[2]) * (double)es > (double)MAX_BUFFER_BYTES) {
        bmm__note("measure: operands too large to time; using the static rule");
        return BMM_OK;
    }
    void *A = alloc_filled(ext[0], es, 1), *B = alloc_filled(ext[1], es, 2);
    void *C = alloc_filled(ext[2], es, 3), *Ck = alloc_filled(ext[2], es, 4);
    void *Cg = alloc_filled(ext[2], es, 5);
    double times[MAX_CANDIDATES + 1];
    bmm_status st = BMM_OK;
    if (!A || !B || !C || !Ck || !Cg) {
        st = bmm__fail(BMM_ENOMEM, "measure: cannot allocate %lld bytes of timing buffers",
            (long long)((ext[0] + ext[1] + 3 * ext[2]) * (int64_t)es));
        goto out;
    }
    double share = budget_seconds() / (double)(nc + 1);
    times[nc] = bmm__time_kernel(NULL, &sample, alpha, beta, A, B, Ck, share);
    for (size_t i = 0; i < nc; i++)
        times[i] = bmm__time_kernel(cand[i], &sample, alpha, beta, A, B, Ck, share);
    for (size_t i = 0; i <= nc; i++)
        bmm__note("measure: %-44s %10.3f us", i < nc ? cand[i]->name : "generic",
            times[i] * 1e6);

    /* The fastest kernel that agrees with the generic path wins; one that does not is
     * reported and never chosen. The generic path is the fallback. */
    int wrong[MAX_CANDIDATES] = { 0 };
    *best = NULL;
    for (;;) {
        size_t w = nc;
        for (size_t i = 0; i < nc; i++)
            if (!wrong[i] && times[i] < times[w])
                w = i;
        if (w == nc || agrees(cand[w], &sample, alpha, beta, A, B, C, Ck, Cg, ext[2])) {
            *best = w == nc ? NULL : cand[w];
            break;
        }
        wrong[w] = 1;
        bmm__note("measure: %s disagrees with the generic path; not used", cand[w]->name);
    }
    for (size_t i = 0; log && i <= nc && i < max_log; i++) {
        log[i].kernel = i < nc ? cand[i] : NULL;
        log[i].seconds = times[i];
        log[i].wrong = i < nc ? wrong[i] : 0;
        *nlog = i + 1;
    }
out:
    free(A);
    free(B);
    free(C);
    free(Ck);
    free(Cg);
    return st;
}
