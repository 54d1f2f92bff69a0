/* tune.c: BMM_MEASURE. Times every applicable kernel and the generic path on private buffers
 * with the plan's strides, warm-up then best of repetitions, within a time budget per plan
 * (BMM_TUNE_BUDGET_MS, default 50). The caller's memory is never touched. */
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

bmm_status bmm__measure(const bmm__problem *pr, double alpha, double beta,
    const bmm_kernel_desc **best)
{
    const bmm_kernel_desc *cand[MAX_CANDIDATES];
    size_t nc = bmm__candidates(pr, cand, MAX_CANDIDATES);
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
    if ((double)(ext[0] + ext[1] + ext[2]) * (double)es > (double)MAX_BUFFER_BYTES) {
        bmm__note("measure: operands too large to time; using the static rule");
        return BMM_OK;
    }
    void *A = alloc_filled(ext[0], es, 1), *B = alloc_filled(ext[1], es, 2);
    void *C = alloc_filled(ext[2], es, 3);
    bmm_status st = BMM_OK;
    if (!A || !B || !C) {
        st = bmm__fail(BMM_ENOMEM, "measure: cannot allocate %lld bytes of timing buffers",
            (long long)((ext[0] + ext[1] + ext[2]) * (int64_t)es));
        goto out;
    }
    double share = budget_seconds() / (double)(nc + 1);
    double t_best = bmm__time_kernel(NULL, &sample, alpha, beta, A, B, C, share);
    *best = NULL;
    for (size_t i = 0; i < nc; i++) {
        double t = bmm__time_kernel(cand[i], &sample, alpha, beta, A, B, C, share);
        if (t < t_best) {
            t_best = t;
            *best = cand[i];
        }
    }
out:
    free(A);
    free(B);
    free(C);
    return st;
}
