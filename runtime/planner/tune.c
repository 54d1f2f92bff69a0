/* tune.c: BMM_MEASURE. Times the applicable kernels on private buffers with the plan's
 * strides, best of repetitions, and keeps the whole plan (sample set-up, warm-ups, the check)
 * within a time budget (BMM_TUNE_BUDGET_MS, default 50), each call on the threads the plan will
 * run with (several cores share L3 and DRAM: the winner may change):
 * - candidates are timed in the static rule's order, each with an equal share of what is
 *   left, so when a large sample leaves no time for all, those left untimed are the least
 *   likely winners;
 * - a candidate stops as soon as it cannot win: a probe on a few items, scaled, over twice the
 *   best so far, or a timed call over 1.25x;
 * - a streaming sample (larger than the caches) is not warmed up: every call is cold anyway;
 * - the sample is filled by copying a short random run into pages mapped populated (and
 *   kept for the next plan), a streaming one sized by the budget; its batch is cut when the
 *   static rule's own kernel would need more than a fifth of the budget per call;
 * - the generic path is timed on a few items and scaled (the fallback, rarely the winner),
 *   on the whole sample only if that could win; the winner is checked against it on the
 *   first CHECK_BATCH items only;
 * - when streaming, the static rule's pick stays unless another is STREAM_MARGIN faster.
 * Timing uses finite scalars of the call's alpha/beta class, never the caller's (a NaN alpha
 * would make every comparison fail). The caller's memory is never touched. */
#define _DEFAULT_SOURCE  /* MAP_ANONYMOUS, MAP_POPULATE */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bmm_internal.h"

#define MAX_SAMPLE_BYTES ((int64_t)64 << 20)   /* timing batch touches at most this */
#define MIN_STREAM_BYTES ((int64_t)16 << 20)   /* a streaming sample is at least this big */
/* A streaming sample's bytes per second of budget: mapping fresh pages populated costs about
 * 0.25-0.75 ms per MiB (Zen 4 VM), so its set-up stays under a third of the budget. 50 ms
 * gives 20 MiB (L3-resident on a 32 MiB L3: the ranking, not the absolute speed, is what
 * counts), 160 ms the full 64 MiB. */
#define STREAM_BYTES_PER_S ((double)(400 << 20))
#define MAX_BUFFER_BYTES ((int64_t)1 << 30)    /* else: no timing, the static rule decides */
#define CHECK_BATCH 67                         /* items the winner's check compares, */
#define CHECK_FLOPS 4e6                        /* ... fewer past this many flops */
#define CANNOT_WIN 1.25                        /* first timed call over the best: stop */
#define STREAM_MARGIN 1.25                     /* what beats the rule's pick when streaming */

static double now(void) { return bmm__now_ms() * 1e-3; }  /* seconds */

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

/* Seconds per call of kernel k (NULL: the generic path): a warm-up call unless cold, then
 * the best of repetitions until budget seconds have passed (at least one; three when time
 * allows), stopping as soon as one call is CANNOT_WIN times bar (the best so far; 0: none). */
static double time_one(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C, double budget, double bar, int cold, int threads)
{
    double start = now(), best = 1e30;
    if (!cold)  /* warm-up: caches, page faults, branch history, the threads' wake-up */
        bmm__run_threads(k, pr, A, B, C, threads);
    for (int rep = 0; rep < 1000; rep++) {
        double t0 = now();
        bmm__run_threads(k, pr, A, B, C, threads);
        double t1 = now(), t = t1 - t0;
        if (t < best)
            best = t;
        if (bar > 0 && best > CANNOT_WIN * bar)
            break;
        if (t1 - start > budget && (rep >= 2 || t1 - start + t > 1.5 * budget))
            break;
    }
    return best;
}

double bmm__time_kernel(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C, double budget, int threads)
{
    return time_one(k, pr, A, B, C, budget, 0, 0, threads);
}

/* The timing sample's buffers, in one allocation: A, B and C for timing, then C twice more
 * for the check (the kernel's, the generic path's), spanning only its first CHECK_BATCH items.
 * at[o] is element (0, 0, 0) of buffer o, off[o] elements in. */
typedef struct {
    void *block, *at[5];
    size_t cap;              /* bytes of block */
    int64_t elems[5], off[5];
} sample_buffers;

/* Sample blocks are mapped with their pages populated at once (touching fresh pages one fault
 * at a time cost 1.4 ms per MiB on a Zen 4 VM, several times the timing of a streaming plan).
 * The last one is kept for the next plan: a planning thread takes it out and puts it (or a
 * larger one) back; unmapped at unload. */
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static void *spare;
static size_t spare_cap;

static void *block_get(size_t bytes, size_t *cap)
{
    void *p = NULL;
    pthread_mutex_lock(&spare_lock);
    if (spare && spare_cap >= bytes) {
        p = spare, *cap = spare_cap;
        spare = NULL;
    }
    pthread_mutex_unlock(&spare_lock);
    if (!p) {
        *cap = (bytes + 4095) & ~(size_t)4095;
        int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_POPULATE
        flags |= MAP_POPULATE;
#endif
        p = mmap(NULL, *cap, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (p == MAP_FAILED)
            p = NULL;
    }
    return p;
}

static void block_put(void *p, size_t cap)
{
    pthread_mutex_lock(&spare_lock);
    if (!spare || spare_cap < cap) {
        void *q = spare;
        size_t qcap = spare_cap;
        spare = p, spare_cap = cap;
        p = q, cap = qcap;
    }
    pthread_mutex_unlock(&spare_lock);
    if (p)
        munmap(p, cap);
}

#if defined(__GNUC__)
__attribute__((destructor)) static void release_spare(void)
{
    if (spare)
        munmap(spare, spare_cap);
    spare = NULL;
}
#endif

static bmm__problem check_of(const bmm__problem *sample);

/* Runs k and the generic path on the check's items from the same C, compares every element. */
static int agrees(const bmm_kernel_desc *k, const bmm__problem *sample,
    const sample_buffers *sb)
{
    const bmm__problem ck = check_of(sample);
    const bmm__problem *pr = &ck;
    size_t es = (size_t)bmm__operand_bytes(pr, 2);
    const void *A = sb->at[0], *B = sb->at[1];
    void *Ck = sb->at[3], *Cg = sb->at[4];
    bmm__sample_fill((char *)Ck - (size_t)sb->off[3] * es, sb->elems[3], pr->cdtype, 3);
    bmm__sample_fill((char *)Cg - (size_t)sb->off[4] * es, sb->elems[4], pr->cdtype, 3);
    bmm__run(k, pr, A, B, Ck);
    bmm__run(NULL, pr, A, B, Cg);
    return bmm__sample_disagrees(pr, Ck, Cg) < 0;
}

static double sample_bytes(const bmm__problem *pr)
{
    return (double)bmm__dtype_size(pr->dtype) * (double)pr->batch
        * ((double)pr->n * (double)pr->m + (double)pr->m * (double)pr->p
            + (double)pr->n * (double)pr->p);
}

/* The sample with batch items: the plan's strides, but a seq-first operand (rows batch items
 * apart) keeps its items adjacent, so that the sample spans only what it uses. */
static void cut_to(bmm__problem *sample, const bmm__problem *pr, int64_t batch)
{
    bmm_stride *s[3] = { &sample->sa, &sample->sb, &sample->sc };
    const bmm_stride *o[3] = { &pr->sa, &pr->sb, &pr->sc };
    const int64_t rows[3] = { pr->n, pr->m, pr->n }, cols[3] = { pr->m, pr->p, pr->p };
    sample->batch = batch;
    for (int i = 0; i < 3; i++)
        if (rows[i] > 1 && bmm__operand_class(pr->batch, rows[i], cols[i], o[i]->batch, o[i]->row,
                               o[i]->col) == BMM_LAYOUT_SF)
            s[i]->row = batch * cols[i];
}

/* The check's problem: the sample's first CHECK_BATCH items, fewer past CHECK_FLOPS. */
static bmm__problem check_of(const bmm__problem *sample)
{
    bmm__problem ck = *sample;
    double per = 2.0 * (double)sample->n * (double)sample->m * (double)sample->p;
    int64_t most = CHECK_FLOPS / per < CHECK_BATCH ? (int64_t)(CHECK_FLOPS / per) : CHECK_BATCH;
    if (most < 1)
        most = 1;
    if (ck.batch > most)
        cut_to(&ck, sample, most);
    return ck;
}

/* The timing sample: the plan's problem with finite scalars of its class, its batch cut so the operands touch at most
 * MAX_SAMPLE_BYTES (streaming: what the budget pays for, at least MIN_STREAM_BYTES). 0 if
 * its buffers would pass MAX_BUFFER_BYTES (or cannot be had). */
static int sample_of(const bmm__problem *pr, int streaming, double budget,
    bmm__problem *sample, sample_buffers *sb)
{
    *sample = *pr;
    bmm__sample_scalars(pr->scalars, &sample->alpha, &sample->beta);
    double most = (double)MAX_SAMPLE_BYTES;
    if (streaming && budget * STREAM_BYTES_PER_S < most)
        most = budget * STREAM_BYTES_PER_S > (double)MIN_STREAM_BYTES ? budget * STREAM_BYTES_PER_S
                                                                     : (double)MIN_STREAM_BYTES;
    double cap = (double)pr->batch * most / sample_bytes(pr);
    if (cap < 1)
        cap = 1;
    if ((double)pr->batch > cap)
        cut_to(sample, pr, (int64_t)cap);
    const bmm__problem ck = check_of(sample);
    int64_t lo[3], hi[3], clo[3], chi[3];
    bmm__spans(sample, lo, hi);
    bmm__spans(&ck, clo, chi);
    double bytes = 0;
    for (int i = 0; i < 5; i++) {
        int o = i < 3 ? i : 2;
        /* no overflow: the plan's own spans were checked, the sample's are within them */
        sb->elems[i] = i < 3 ? hi[o] - lo[o] + 1 : chi[o] - clo[o] + 1;
        sb->off[i] = i < 3 ? -lo[o] : -clo[o];
        bytes += (double)((sb->elems[i] * bmm__operand_bytes(pr, o) + 63) & ~(int64_t)63);
    }
    if (bytes > (double)MAX_BUFFER_BYTES || !(sb->block = block_get((size_t)bytes, &sb->cap)))
        return 0;
    char *at = sb->block;
    for (int i = 0; i < 5; i++) {
        const int o = i < 3 ? i : 2;
        const int64_t es = bmm__operand_bytes(pr, o);
        if (i < 3)
            bmm__sample_fill(at, sb->elems[i], o == 2 ? pr->cdtype : pr->dtype, (unsigned)i + 1);
        sb->at[i] = at + sb->off[i] * es;
        at += (sb->elems[i] * es + 63) & ~(int64_t)63;
    }
    return 1;
}

/* The fastest candidate that agrees with the generic path (times[nc] is the generic path's,
 * the fallback), the others' times weighed by margin against cand[0] (the static rule's
 * pick); one that disagrees is reported, marked in wrong[] and never chosen. */
static const bmm_kernel_desc *fastest_agreeing(const bmm_kernel_desc **cand, size_t nc,
    const double *times, int *wrong, const bmm__problem *sample, const sample_buffers *sb,
    double margin)
{
    for (;;) {
        size_t w = nc;  /* weighed: every candidate's time but cand[0]'s times margin */
        double best = times[nc];
        for (size_t i = 0; i < nc; i++) {
            double t = (i ? margin : 1) * times[i];
            if (!wrong[i] && t < best)
                w = i, best = t;
        }
        if (w == nc)
            return NULL;
        if (agrees(cand[w], sample, sb))
            return cand[w];
        wrong[w] = 1;
        bmm__note("measure: %s disagrees with the generic path; not used", cand[w]->name);
    }
}

/* What one measurement works with: the sample (its scalars the timing ones) and its buffers, the candidates
 * in the static rule's order (cand[0] is its pick), their times (times[nc]: the generic path)
 * and whether each disagreed with the generic path. */
typedef struct {
    bmm__problem sample;
    sample_buffers sb;
    double start, budget;
    int cold, threads;
    size_t nc;
    const bmm_kernel_desc **cand;
    double *times;
    int *wrong, *how;  /* how: BMM__TIMED, ... (times[nc], the generic path: timed) */
} measuring;

/* The rule's first pick, once: a sample whose calls would eat the budget is cut (a streaming
 * one no smaller than MIN_STREAM_BYTES, beyond the caches). */
static void cut_sample(measuring *ms, const bmm__problem *pr)
{
    double t0 = now();
    bmm__run_threads(ms->cand[0], &ms->sample, ms->sb.at[0], ms->sb.at[1], ms->sb.at[2],
        ms->threads);
    double once = now() - t0, most = ms->budget / 5;
    if (once > most && ms->sample.batch > 1) {
        double keep = most / once, floor_bytes = ms->cold ? (double)MIN_STREAM_BYTES : 0;
        double bytes = sample_bytes(&ms->sample);
        int64_t batch = (int64_t)((double)ms->sample.batch * keep);
        if (bytes * keep < floor_bytes)
            batch = (int64_t)((double)ms->sample.batch * floor_bytes / bytes);
        if (batch < ms->sample.batch) {
            cut_to(&ms->sample, pr, batch > 1 ? batch : 1);
            bmm__note("measure: one call took %.1f ms; timing %lld items", once * 1e3,
                (long long)ms->sample.batch);
        }
    }
}

/* Times every candidate within the budget; returns how many were timed, *bar the best time.
 * few: the check's few items, on one thread, a probe of what one call on the sample would cost
 * (scaled by `scale`): a candidate whose probe is twice the best cannot win. */
static size_t time_candidates(measuring *ms, const bmm__problem *few, double scale, double *bar)
{
    size_t timed = 0;
    void *const *at = ms->sb.at;
    *bar = 0;
    for (size_t i = 0; i < ms->nc; i++) {
        double left = ms->start + ms->budget - now();
        ms->times[i] = 1e30;  /* untimed: never chosen */
        ms->how[i] = BMM__UNTIMED;
        if (i > 0 && left < (ms->cold ? 1 : 2) * *bar)
            continue;  /* not even one call of the best so far fits */
        if (i > 0 && scale > 1) {  /* a probe, cold so pessimistic */
            double t0 = now();
            bmm__run(ms->cand[i], few, at[0], at[1], at[2]);
            double probe = (now() - t0) * scale;
            if (probe > 2 * CANNOT_WIN * *bar || probe > left) {
                ms->times[i] = probe;
                ms->how[i] = BMM__PROBED;
                continue;
            }
        }
        ms->times[i] = time_one(ms->cand[i], &ms->sample, at[0], at[1], at[2],
            left / (double)(ms->nc - i), *bar, ms->cold, ms->threads);
        ms->how[i] = BMM__TIMED;
        if (*bar == 0 || ms->times[i] < *bar)
            *bar = ms->times[i];
        timed++;
    }
    return timed;
}

/* The generic path (the fallback): timed on the few items and scaled to the sample, then, if
 * that could win, on the whole sample, cold like the kernels when streaming (the few items sit
 * in cache: a scaled time alone once made it beat every streaming kernel). */
static void time_generic(measuring *ms, const bmm__problem *few, double scale, double bar)
{
    void *const *at = ms->sb.at;
    size_t nc = ms->nc;
    ms->times[nc] = scale * time_one(NULL, few, at[0], at[1], at[2],
        ms->budget / (double)(4 * (nc + 1)), bar / scale, 0, 1);
    if (ms->times[nc] <= CANNOT_WIN * bar && few->batch < ms->sample.batch)
        ms->times[nc] = time_one(NULL, &ms->sample, at[0], at[1], at[2], 0, bar, ms->cold,
            ms->threads);
}

/* Times the candidates on the sample and picks the winner that agrees with the generic path. */
static const bmm_kernel_desc *measure_sample(measuring *ms, const bmm__problem *pr,
    bmm__timings *log)
{
    cut_sample(ms, pr);
    const bmm__problem few = check_of(&ms->sample);
    const double scale = (double)ms->sample.batch / (double)few.batch
        / (ms->threads > 1 ? ms->threads : 1);
    double bar;
    size_t timed = time_candidates(ms, &few, scale, &bar);
    time_generic(ms, &few, scale, bar);
    ms->how[ms->nc] = BMM__TIMED;
    for (size_t i = 0; i <= ms->nc; i++) {
        const char *name = i < ms->nc ? ms->cand[i]->name : "generic";
        int again = 0;  /* a kernel two tables hold: the same name twice */
        for (size_t j = 0; j < i && i < ms->nc; j++)
            again |= strcmp(ms->cand[j]->name, name) == 0;
        if (ms->how[i] == BMM__UNTIMED)
            bmm__note("measure: %-44s  not timed: the budget was spent%s", name,
                again ? " (a second table's copy)" : "");
        else
            bmm__note("measure: %-44s %10.3f us%s%s", name, ms->times[i] * 1e6,
                ms->how[i] == BMM__PROBED ? " (one cold call on a few items, scaled: cannot win)"
                : i == ms->nc && few.batch < ms->sample.batch ? " (on a few items, scaled)" : "",
                again ? " (a second table's copy)" : "");
    }
    /* Streaming: the sample fits L3 when the budget is small (kernels that win in cache look
     * better than they are), and timings of memory-bound kernels spread by 10-20% from run to
     * run: the rule's pick stays unless beaten by STREAM_MARGIN (at 1.1, the measured pick for
     * f32 seq-first 4x4x4 ran at 0.35x the rule's; at 1.25, 1.17x). */
    const bmm_kernel_desc *best = fastest_agreeing(ms->cand, ms->nc, ms->times, ms->wrong,
        &ms->sample, &ms->sb, ms->cold ? STREAM_MARGIN : 1);
    bmm__note("measure: %zu of %zu candidates timed (the rest probed or left out); the plan "
              "took %.1f ms (budget %.0f ms)",
        timed, ms->nc, (now() - ms->start) * 1e3, ms->budget * 1e3);
    for (size_t i = 0; i <= ms->nc; i++)
        log->v[i] = (bmm__timing){ i < ms->nc ? ms->cand[i] : NULL, ms->times[i], ms->wrong[i],
            ms->how[i] };
    log->n = ms->nc + 1;
    log->batch = ms->sample.batch;
    return best;
}

bmm_status bmm__measure(const bmm__problem *pr, const bmm_call *c, int threads,
    const bmm_kernel_desc **best, bmm__timings *log)
{
    measuring ms;
    memset(&ms, 0, sizeof ms);
    ms.start = now(), ms.budget = bmm__tune_budget();
    ms.cold = c->key.streaming, ms.threads = threads;
    *log = (bmm__timings){ NULL, 0, 0 };
    *best = NULL;
    ms.nc = bmm__candidates(c, NULL, 0);
    if (ms.nc == 0)
        return BMM_OK;  /* the generic path is the only candidate */
    bmm_status st = BMM_OK;
    ms.cand = malloc((ms.nc + 1) * sizeof *ms.cand);
    ms.times = malloc((ms.nc + 1) * sizeof *ms.times);
    ms.wrong = calloc(ms.nc + 1, sizeof *ms.wrong);
    ms.how = calloc(ms.nc + 1, sizeof *ms.how);
    log->v = malloc((ms.nc + 1) * sizeof *log->v);
    if (!ms.cand || !ms.times || !ms.wrong || !ms.how || !log->v) {
        *best = bmm__estimate(c);
        st = bmm__fail(BMM_ENOMEM, "measure: cannot allocate the timing log");
        goto out;
    }
    bmm__candidates(c, ms.cand, ms.nc);  /* in the static rule's order: cand[0] is its pick */
    *best = ms.cand[0];  /* unless timing can choose */
    if (pr->batch == 0)
        bmm__note("measure: batch 0, nothing to time; using the static rule");
    else if (!sample_of(pr, ms.cold, ms.budget, &ms.sample, &ms.sb))
        bmm__note("measure: operands too large to time; using the static rule");
    else {
        bmm__note("measure: a sample of %lld items (%.1f MiB) set up in %.1f ms",
            (long long)ms.sample.batch, sample_bytes(&ms.sample) / (1 << 20),
            (now() - ms.start) * 1e3);
        *best = measure_sample(&ms, pr, log);
    }
out:
    if (log->n == 0) {
        free(log->v);
        log->v = NULL;
    }
    if (ms.sb.block)
        block_put(ms.sb.block, ms.sb.cap);
    free(ms.cand);
    free(ms.times);
    free(ms.wrong);
    free(ms.how);
    return st;
}
