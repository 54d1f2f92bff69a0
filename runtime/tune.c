/* tune.c: BMM_MEASURE. Times every applicable kernel and the generic path on private buffers
 * with the plan's strides, warm-up then best of repetitions, within a time budget per plan
 * (BMM_TUNE_BUDGET_MS, default 50). Timing uses finite scalars of the call's alpha/beta
 * class, never the caller's (a NaN alpha would make every comparison fail). The winner is
 * checked once against the generic path. The caller's memory is never touched. */
#include <errno.h>
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

#define DEFAULT_BUDGET_MS 50.0
#define MAX_BUDGET_MS 60000.0

double bmm__tune_budget(void)
{
    const char *v = getenv("BMM_TUNE_BUDGET_MS");
    if (!v || !*v)
        return DEFAULT_BUDGET_MS * 1e-3;
    char *end;
    errno = 0;
    double ms = strtod(v, &end);
    if (errno || *end || !(ms > 0 && ms <= MAX_BUDGET_MS)) {
        bmm__note("BMM_TUNE_BUDGET_MS=%s refused (a number of milliseconds in (0, %g]); "
                  "using %g", v, MAX_BUDGET_MS, DEFAULT_BUDGET_MS);
        return DEFAULT_BUDGET_MS * 1e-3;
    }
    return ms * 1e-3;
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

/* Finite scalars of class f (bmm_select.h's forms): the values it fixes, else 0.75 and 0.5. */
static void timing_scalars(int f, double *alpha, double *beta)
{
    const bmm_scalar_form *s = &bmm__scalar_forms[f];
    *alpha = s->fixes_alpha ? s->alpha : 0.75;
    *beta = s->fixes_beta ? s->beta : 0.5;
}

/* Largest |x - y| allowed between a kernel and the generic path on the timing data: both are
 * sums of m products of values in [-0.5, 0.5), so the standard bound with a margin. */
static double tolerance(const bmm__problem *pr, double alpha, double beta)
{
    double eps = pr->dtype == BMM_F32 ? 1.2e-7 : 2.3e-16;
    double mag = fabs(alpha) * 0.25 * (double)pr->m + fabs(beta) * 0.5;
    return 8.0 * (double)(pr->m + 2) * eps * (mag + 1e-30);
}

/* The timing buffers: A, B, then three copies of C (3 is the timing output, 2 and 4 serve the
 * check); at[o] is element (0, 0, 0) of buffer o, off[o] elements in. */
typedef struct {
    void *buf[5], *at[5];
    int64_t elems[5], off[5];
} sample_buffers;

/* Runs k and the generic path from the same C and compares every element of C. */
static int agrees(const bmm_kernel_desc *k, const bmm__problem *pr, double alpha, double beta,
    const sample_buffers *sb)
{
    size_t es = bmm__dtype_size(pr->dtype);
    size_t cbytes = (size_t)sb->elems[2] * es;
    const void *A = sb->at[0], *B = sb->at[1];
    void *Ck = sb->at[3], *Cg = sb->at[4];
    memcpy(sb->buf[3], sb->buf[2], cbytes);
    memcpy(sb->buf[4], sb->buf[2], cbytes);
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
 * MAX_SAMPLE_BYTES. 0 if its buffers would pass MAX_BUFFER_BYTES (or cannot be had). */
static int sample_of(const bmm__problem *pr, bmm__problem *sample, sample_buffers *sb)
{
    *sample = *pr;
    size_t es = bmm__dtype_size(pr->dtype);
    double per = (double)es * ((double)pr->n * (double)pr->m + (double)pr->m * (double)pr->p
                                  + (double)pr->n * (double)pr->p);
    double cap = (double)MAX_SAMPLE_BYTES / per;
    if (cap < 1)
        cap = 1;
    if ((double)sample->batch > cap)
        sample->batch = (int64_t)cap;
    int64_t lo[3], hi[3];
    bmm__spans(sample, lo, hi);
    double bytes = 0;
    for (int i = 0; i < 5; i++) {
        int o = i < 3 ? i : 2;
        sb->elems[i] = hi[o] - lo[o] + 1;  /* no overflow: the plan's own spans were checked */
        sb->off[i] = -lo[o];
        bytes += (double)sb->elems[i] * (double)es;
    }
    if (bytes > (double)MAX_BUFFER_BYTES)
        return 0;
    for (int i = 0; i < 5; i++) {
        sb->buf[i] = alloc_filled(sb->elems[i], es, (unsigned)i + 1);
        if (!sb->buf[i])
            return 0;
        sb->at[i] = (char *)sb->buf[i] + (size_t)sb->off[i] * es;
    }
    return 1;
}

/* The fastest candidate that agrees with the generic path (times[nc] is the generic path's,
 * the fallback); one that disagrees is reported, marked in wrong[] and never chosen. */
static const bmm_kernel_desc *fastest_agreeing(const bmm_kernel_desc **cand, size_t nc,
    const double *times, int *wrong, const bmm__problem *sample, double alpha, double beta,
    const sample_buffers *sb)
{
    for (;;) {
        size_t w = nc;
        for (size_t i = 0; i < nc; i++)
            if (!wrong[i] && times[i] < times[w])
                w = i;
        if (w == nc)
            return NULL;
        if (agrees(cand[w], sample, alpha, beta, sb))
            return cand[w];
        wrong[w] = 1;
        bmm__note("measure: %s disagrees with the generic path; not used", cand[w]->name);
    }
}

bmm_status bmm__measure(const bmm__problem *pr, const bmm_call *c, const bmm_kernel_desc **best,
    bmm__timings *log)
{
    *log = (bmm__timings){ NULL, 0 };
    *best = bmm__estimate(c);
    size_t nc = bmm__candidates(c, NULL, 0);
    if (nc == 0)
        return BMM_OK;  /* the generic path is the only candidate */
    if (pr->batch == 0) {
        bmm__note("measure: batch 0, nothing to time; using the static rule");
        return BMM_OK;
    }
    double alpha, beta;
    timing_scalars(pr->scalars, &alpha, &beta);
    bmm__problem sample;
    sample_buffers sb;
    memset(&sb, 0, sizeof sb);
    const bmm_kernel_desc **cand = NULL;
    double *times = NULL;
    int *wrong = NULL;
    bmm_status st = BMM_OK;
    if (!sample_of(pr, &sample, &sb)) {
        bmm__note("measure: operands too large to time; using the static rule");
        goto out;
    }
    cand = malloc((nc + 1) * sizeof *cand);
    times = malloc((nc + 1) * sizeof *times);
    wrong = calloc(nc + 1, sizeof *wrong);
    log->v = malloc((nc + 1) * sizeof *log->v);
    if (!cand || !times || !wrong || !log->v) {
        st = bmm__fail(BMM_ENOMEM, "measure: cannot allocate the timing log");
        goto out;
    }
    bmm__candidates(c, cand, nc);
    double share = bmm__tune_budget() / (double)(nc + 1);
    times[nc] = bmm__time_kernel(NULL, &sample, alpha, beta, sb.at[0], sb.at[1], sb.at[3], share);
    for (size_t i = 0; i < nc; i++)
        times[i] = bmm__time_kernel(cand[i], &sample, alpha, beta, sb.at[0], sb.at[1], sb.at[3],
            share);
    for (size_t i = 0; i <= nc; i++)
        bmm__note("measure: %-44s %10.3f us", i < nc ? cand[i]->name : "generic",
            times[i] * 1e6);
    *best = fastest_agreeing(cand, nc, times, wrong, &sample, alpha, beta, &sb);
    for (size_t i = 0; i <= nc; i++)
        log->v[i] = (bmm__timing){ i < nc ? cand[i] : NULL, times[i], wrong[i] };
    log->n = nc + 1;
out:
    if (log->n == 0) {
        free(log->v);
        log->v = NULL;
    }
    for (int i = 0; i < 5; i++)
        free(sb.buf[i]);
    free(cand);
    free(times);
    free(wrong);
    return st;
}
