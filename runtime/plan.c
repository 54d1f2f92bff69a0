/* plan.c: plans (choose once, execute many times) and the one-shot calls.
 *
 * Choosing: BMM_GENERIC_ONLY, else wisdom, else BMM_WISDOM_ONLY fails, else BMM_MEASURE
 * times the candidates and records the winner, else the static rule. The one-shot calls keep
 * their choices in a plan cache keyed by the whole problem (a fixed-size zero-filled struct),
 * behind a read-write lock, with a one-entry thread-local cache in front of it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"

struct bmm_plan {
    bmm__problem pr;
    double alpha, beta;
    const bmm_kernel_desc *kernel;  /* NULL: the generic path */
};

/* ---- plan cache ---- */

typedef struct {
    bmm__problem key;
    const bmm_kernel_desc *kernel;
    int used;
} slot;

#define CACHE_MAX_SLOTS (1u << 16)  /* past this the cache starts over */

static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;
static slot *slots;
static size_t nslots, nused;
static atomic_uint generation = 1;  /* bumped whenever cached choices may be stale */

static _Thread_local struct {
    unsigned generation;
    bmm__problem key;
    const bmm_kernel_desc *kernel;
} last;

static size_t hash_key(const bmm__problem *k)
{
    const unsigned char *b = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull;  /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return (size_t)h;
}

static int cache_get(const bmm__problem *k, const bmm_kernel_desc **kd)
{
    unsigned gen = atomic_load_explicit(&generation, memory_order_acquire);
    if (last.generation == gen && memcmp(&last.key, k, sizeof *k) == 0) {
        *kd = last.kernel;
        return 1;
    }
    int found = 0;
    pthread_rwlock_rdlock(&cache_lock);
    if (nslots) {
        for (size_t i = hash_key(k) & (nslots - 1);; i = (i + 1) & (nslots - 1)) {
            if (!slots[i].used)
                break;
            if (memcmp(&slots[i].key, k, sizeof *k) == 0) {
                *kd = slots[i].kernel;
                found = 1;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&cache_lock);
    if (found) {
        last.generation = gen;
        last.key = *k;
        last.kernel = *kd;
    }
    return found;
}

static void insert(slot *tab, size_t size, const bmm__problem *k, const bmm_kernel_desc *kd)
{
    size_t i = hash_key(k) & (size - 1);
    while (tab[i].used && memcmp(&tab[i].key, k, sizeof *k) != 0)
        i = (i + 1) & (size - 1);
    tab[i].key = *k;
    tab[i].kernel = kd;
    tab[i].used = 1;
}

static void cache_put(const bmm__problem *k, const bmm_kernel_desc *kd)
{
    pthread_rwlock_wrlock(&cache_lock);
    if (2 * (nused + 1) > nslots) {  /* keep the load under one half */
        size_t size = nslots ? 2 * nslots : 64;
        if (size > CACHE_MAX_SLOTS) {  /* full: start over rather than grow without end */
            memset(slots, 0, nslots * sizeof *slots);
            nused = 0;
        } else {
            slot *grown = calloc(size, sizeof *grown);
            if (!grown) {
                pthread_rwlock_unlock(&cache_lock);
                return;  /* not cached; the choice is still used for this call */
            }
            for (size_t i = 0; i < nslots; i++)
                if (slots[i].used)
                    insert(grown, size, &slots[i].key, slots[i].kernel);
            free(slots);
            slots = grown;
            nslots = size;
        }
    }
    insert(slots, nslots, k, kd);
    nused++;
    pthread_rwlock_unlock(&cache_lock);
}

void bmm__plan_cache_clear(void)
{
    pthread_rwlock_wrlock(&cache_lock);
    if (slots)
        memset(slots, 0, nslots * sizeof *slots);
    nused = 0;
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_rwlock_unlock(&cache_lock);
}

/* ---- choosing ---- */

static const char *name_of(const bmm_kernel_desc *kd)
{
    return kd ? kd->name : "generic";
}

static bmm_status choose(const bmm__problem *pr, double alpha, double beta, unsigned flags,
    const bmm_kernel_desc **kd)
{
    if (flags & BMM_GENERIC_ONLY) {
        *kd = NULL;
        return BMM_OK;
    }
    bmm__wisdom_init();
    if (bmm__wisdom_lookup(pr, kd)) {
        bmm__note("%s from wisdom", name_of(*kd));
        return BMM_OK;
    }
    if (flags & BMM_WISDOM_ONLY)
        return bmm__fail(BMM_EUNSUPPORTED,
            "BMM_WISDOM_ONLY: no wisdom for %s %lldx%lldx%lld (batch %lld)",
            pr->dtype == BMM_F32 ? "f32" : "f64", (long long)pr->n, (long long)pr->m,
            (long long)pr->p, (long long)pr->batch);
    if (flags & BMM_MEASURE) {
        bmm_status st = bmm__measure(pr, alpha, beta, kd, NULL, 0, NULL);
        if (st != BMM_OK)
            return st;
        bmm__wisdom_record(pr, *kd);
        bmm__note("%s by measurement", name_of(*kd));
        return BMM_OK;
    }
    *kd = bmm__estimate(pr);
    bmm__note("%s by the static rule", name_of(*kd));
    return BMM_OK;
}

/* ---- plans ---- */

bmm_status bmm_plan_create(bmm_plan **plan, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta,
    unsigned flags)
{
    if (!plan)
        return bmm__fail(BMM_EINVAL, "plan is NULL");
    *plan = NULL;
    if (flags & ~(unsigned)(BMM_MEASURE | BMM_WISDOM_ONLY | BMM_GENERIC_ONLY))
        return bmm__fail(BMM_EINVAL, "flags has unknown bits 0x%x", flags);
    bmm__problem pr;
    bmm__problem_init(&pr, dt, batch, n, m, p, sa, sb, sc, alpha, beta);
    bmm_status st = bmm__check_problem(&pr);
    if (st != BMM_OK)
        return st;
    const bmm_kernel_desc *kd = NULL;
    if ((st = choose(&pr, alpha, beta, flags, &kd)) != BMM_OK)
        return st;
    bmm_plan *pl = malloc(sizeof *pl);
    if (!pl)
        return bmm__fail(BMM_ENOMEM, "cannot allocate a plan");
    pl->pr = pr;
    pl->alpha = alpha;
    pl->beta = beta;
    pl->kernel = kd;
    *plan = pl;
    return BMM_OK;
}

bmm_status bmm_execute(const bmm_plan *plan, const void *A, const void *B, void *C)
{
    if (!plan)
        return bmm__fail(BMM_EINVAL, "plan is NULL");
    bmm_status st = bmm__check_operands(&plan->pr, A, B, C);
    if (st != BMM_OK)
        return st;
    bmm__run(plan->kernel, &plan->pr, plan->alpha, plan->beta, A, B, C);
    return BMM_OK;
}

const char *bmm_plan_kernel(const bmm_plan *plan)
{
    return plan ? name_of(plan->kernel) : "";
}

void bmm_plan_destroy(bmm_plan *plan)
{
    free(plan);
}

/* ---- one-shot calls ---- */

static bmm_status oneshot(bmm_dtype dt, int64_t batch, int64_t n, int64_t m, int64_t p,
    double alpha, const void *A, bmm_stride sa, const void *B, bmm_stride sb, double beta,
    void *C, bmm_stride sc)
{
    bmm__problem pr;
    bmm__problem_init(&pr, dt, batch, n, m, p, sa, sb, sc, alpha, beta);
    bmm_status st = bmm__check_problem(&pr);
    if (st == BMM_OK)
        st = bmm__check_operands(&pr, A, B, C);
    if (st != BMM_OK || batch == 0)
        return st;
    const bmm_kernel_desc *kd;
    if (!cache_get(&pr, &kd)) {
        if ((st = choose(&pr, alpha, beta, BMM_ESTIMATE, &kd)) != BMM_OK)
            return st;
        cache_put(&pr, kd);
    }
    bmm__run(kd, &pr, alpha, beta, A, B, C);
    return BMM_OK;
}

bmm_status bmm_sgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, float alpha,
    const float *A, bmm_stride sa, const float *B, bmm_stride sb, float beta, float *C,
    bmm_stride sc)
{
    return oneshot(BMM_F32, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}

bmm_status bmm_dgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, double alpha,
    const double *A, bmm_stride sa, const double *B, bmm_stride sb, double beta, double *C,
    bmm_stride sc)
{
    return oneshot(BMM_F64, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}
