/* plan.c: plans (choose once, execute many times) and the one-shot calls.
 *
 * Choosing: BMM_GENERIC_ONLY, else wisdom, else BMM_WISDOM_ONLY fails, else BMM_MEASURE
 * times the candidates and records the winner, else the static rule. The one-shot calls keep
 * their choices (kernel and threads) in a plan cache keyed by the problem less its scalar
 * values (their class is in it) and the thread count asked for (a fixed-size zero-filled
 * struct), behind a read-write lock, with a one-entry thread-local cache in front of it.
 * Cached choices hold while the registry's configuration epoch is the one they were
 * made under. A plan fixes its thread count when made (BMM_THREADS or the default, as the work
 * allows: threads.c); each execution runs on it, or fewer while the team sleeps. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"

struct bmm_plan {
    bmm__problem pr;                /* the caller's: what execute checks the operands against */
    bmm__problem run;               /* what runs (arranged): pr, or its transpose, maybe
                                     * packed; run.swapped: it takes (B, A, C) */
    _Atomic(const bmm_kernel_desc *) kernel;  /* NULL: the generic path */
    int threads;                    /* at most this many run it (bmm__run_threads) */
    unsigned flags;
    /* BMM_GENERATE_ASYNC: the configuration epoch last chosen under while the class is still
     * queued or being made (0: settled). An execution that sees the epoch moved chooses again
     * (wisdom, else the static rule: no timing on the caller's call) and swaps the kernel. */
    _Atomic unsigned pending;
};

/* ---- plan cache ---- */

/* The problem less its scalar values (their class is in it: choices depend on the class
 * alone, and a call's alpha may change each time) and the threads asked for (the default
 * count, read per call). */
typedef struct {
    bmm__problem pr;
    int64_t want;
} cache_key;

/* What a one-shot call runs: the kernel, and the threads the work pays for (its class is what
 * wisdom was asked with). Kept so a cached call computes neither. */
typedef struct {
    const bmm_kernel_desc *kernel;
    int threads;
    int in_place;  /* ARRANGE_* bits: views left in place, B copied transposed (arranged) */
} choice;

typedef struct {
    cache_key key;
    choice ch;
    int used;
} slot;

#define CACHE_MAX_SLOTS (1u << 16)  /* past this the cache starts over */

static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;
static slot *slots;
static size_t nslots, nused;
static unsigned slots_epoch;  /* the epoch the slots were filled under; under cache_lock */

static _Thread_local struct {
    unsigned epoch;           /* 0: empty (the registry's epoch starts at 1) */
    cache_key key;
    choice ch;
} last;

static size_t hash_key(const cache_key *k)
{
    return bmm__hash_slot(k, sizeof *k);
}

static int cache_get(const cache_key *k, choice *ch)
{
    unsigned epoch = bmm__config_epoch();
    if (last.epoch == epoch && memcmp(&last.key, k, sizeof *k) == 0) {
        *ch = last.ch;
        return 1;
    }
    int found = 0;
    pthread_rwlock_rdlock(&cache_lock);
    if (nslots && slots_epoch == epoch) {
        for (size_t i = hash_key(k) & (nslots - 1);; i = (i + 1) & (nslots - 1)) {
            if (!slots[i].used)
                break;
            if (memcmp(&slots[i].key, k, sizeof *k) == 0) {
                *ch = slots[i].ch;
                found = 1;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&cache_lock);
    if (found) {
        last.epoch = epoch;
        last.key = *k;
        last.ch = *ch;
    }
    return found;
}

static void insert(slot *tab, size_t size, const cache_key *k, const choice *ch)
{
    size_t i = hash_key(k) & (size - 1);
    while (tab[i].used && memcmp(&tab[i].key, k, sizeof *k) != 0)
        i = (i + 1) & (size - 1);
    tab[i].key = *k;
    tab[i].ch = *ch;
    tab[i].used = 1;
}

/* Makes room for one more slot, keeping the load under one half; 0 on ENOMEM. */
static int reserve(void)
{
    if (2 * (nused + 1) <= nslots)
        return 1;
    size_t size = nslots ? 2 * nslots : 64;
    if (size > CACHE_MAX_SLOTS) {  /* full: start over rather than grow without end */
        memset(slots, 0, nslots * sizeof *slots);
        nused = 0;
        return 1;
    }
    slot *grown = calloc(size, sizeof *grown);
    if (!grown)
        return 0;
    for (size_t i = 0; i < nslots; i++)
        if (slots[i].used)
            insert(grown, size, &slots[i].key, &slots[i].ch);
    free(slots);
    slots = grown;
    nslots = size;
    return 1;
}

/* Caches a choice made under epoch; not if the configuration has changed since. */
static void cache_put(const cache_key *k, const choice *ch, unsigned epoch)
{
    pthread_rwlock_wrlock(&cache_lock);
    if (epoch == bmm__config_epoch()) {
        if (slots_epoch != epoch) {  /* the slots were filled under an older configuration */
            if (slots)
                memset(slots, 0, nslots * sizeof *slots);
            nused = 0;
            slots_epoch = epoch;
        }
        if (reserve()) {  /* else not cached; the choice is still used for this call */
            insert(slots, nslots, k, ch);
            nused++;
        }
    }
    pthread_rwlock_unlock(&cache_lock);
}

/* ---- choosing ---- */

static const char *name_of(const bmm_kernel_desc *kd)
{
    return kd ? kd->name : "generic";
}

/* The runtime's 16-bit kernel of pr (pairs.c's or fma16.c's), or NULL. */
static const bmm_kernel_desc *half_kernel(const bmm__problem *pr)
{
    return pr->dtype == BMM_BF16 ? bmm__pairs_kernel(pr, bmm__cpu_bf16())
        : pr->dtype == BMM_F16 ? bmm__fma16_kernel(pr, bmm__cpu_f16()) : NULL;
}

bmm_status bmm__choose(const bmm__problem *pr, const bmm_call *c, unsigned flags, int threads,
    bmm__choice *out)
{
    static const char *const DTYPE[] = BMM_DTYPE_WORDS;
    *out = (bmm__choice){ NULL, "generic only", 0, { NULL, 0, 0 } };
    bmm__wisdom_init();
    if (flags & BMM_GENERIC_ONLY)
        return BMM_OK;
    if (pr->alpha == 0) {  /* BLAS: C = beta*C, A and B never read (bmm__run) */
        out->source = "alpha = 0";
        return BMM_OK;
    }
    if (!pr->pack && (out->kernel = half_kernel(pr)) != NULL) {
        out->source = pr->dtype == BMM_BF16 ? "AVX512_BF16, the one bf16 kernel of its shape"
            : "AVX-512, the one f16 kernel of its shape";  /* nothing to tune */
        bmm__note("chose %s (%s)", name_of(out->kernel), out->source);
        return BMM_OK;
    }
    if (flags & BMM__GENERATE_LATER)
        bmm__generate_later(c);  /* the shape-generic kernels now, the class's own later */
    else if (flags & BMM_GENERATE)
        bmm__generate(c);  /* new kernels join the candidates below; a failure leaves the old */
    if (!(flags & BMM__RETUNE) && bmm__wisdom_lookup(c, &out->kernel)) {
        out->source = "wisdom";
    } else if (flags & BMM_WISDOM_ONLY) {
        return bmm__fail(BMM_EUNSUPPORTED,
            "BMM_WISDOM_ONLY: no wisdom for %s %lldx%lldx%lld (batch %lld)",
            DTYPE[pr->dtype], (long long)pr->n, (long long)pr->m,
            (long long)pr->p, (long long)pr->batch);
    } else if (flags & BMM_MEASURE) {
        bmm_status st = bmm__measure(pr, c, threads, &out->kernel, &out->log);
        if (st != BMM_OK)
            return st;
        out->measured = out->log.n > 0;  /* only what was timed is recorded */
        out->source = out->measured ? "measured" : "static rule (nothing to time)";
        if (out->measured)
            bmm__wisdom_record(c, out->kernel);
        if (out->measured && (flags & BMM_GENERATE))
            bmm__generate_remember(c, out->kernel);
    } else {
        out->kernel = bmm__estimate(c);
        out->source = "static rule";
    }
    bmm__note("chose %s (%s)", name_of(out->kernel), out->source);
    return BMM_OK;
}

/* ---- arranging ---- */

/* Transposed views left in place pay when the static rule gives their class a vector kernel
 * of their order: a specialized one; or a shape-generic one where the copies would not get a
 * specialized kernel either (or may get one generated: so may the views' class), a transposed
 * B's dot products (gnt) only where they cost no more than the rows kernels on a copy
 * (37x256x20 f32, m long, stays in place; 64x3x64, m short, is copied; a transposed A costs
 * the rows kernels nothing); or, when this call generates and waits, when their class is
 * generated. */
static int views_pay(const bmm__problem *view, const bmm__problem *copy, int threads,
    unsigned flags)
{
    bmm_call cv, cc;
    bmm__call_of(view, threads, &cv);
    if ((flags & BMM_GENERATE) && !(flags & BMM__GENERATE_LATER) && bmm__generate_serves(&cv))
        return 1;
    const bmm_kernel_desc *kv = bmm__estimate(&cv), *kc;
    if (!kv || kv->isa == BMM_ISA_C99 || kv->layout == BMM_LAYOUT_ANY)
        return 0;
    if (bmm__specialized(kv))
        return 1;
    if (kv->form == BMM_FORM_GNT && bmm__problem_cost(view) > bmm__problem_cost(copy))
        return 0;
    if (flags & BMM_GENERATE)
        return 1;
    bmm__call_of(copy, threads, &cc);
    return !(kc = bmm__estimate(&cc)) || !bmm__specialized(kc);
}

/* How a class runs (the one-shot cache keeps it to arrange the class's next calls alike):
 * transposed views left to the kernels of their order, or (a row-major problem) B copied
 * transposed for the dot kernels. */
#define ARRANGE_VIEWS 1
#define ARRANGE_BT 2

/* A row-major problem whose rows of C leave a quarter of their vector lanes idle or more, with
 * m at least two vectors long, runs faster as dot products along m on a copy of B^T (the gnt
 * form, as for Q K^T). Measured (Zen 4, f32 and f64 on AVX-512, f32 on AVX2, batch 64, 27
 * cases): every case with rows at most 3/4 full ran 1.0-1.6x (37x256x20 f32 395 -> 284 us,
 * 64x256x9 f64 729 -> 571), every one past it 0.85-0.95x (20x256x37 f32 0.86x, 37x256x20
 * f64 0.89x). The cost model (copies and sums weighed in) keeps out short products whose copy
 * costs as much as the work (n = 1). Not where a kernel specialized for the shape serves the
 * call, nor when the call generates one. */
#define BT_MARGIN 1.15  /* the model's cost of the copy and dot products, of the rows kernels' */
static int bt_pays(const bmm__problem *pr, int threads, unsigned flags)
{
    const int64_t w = bmm__vector_lanes(pr->dtype, bmm__cpu_max_isa());
    if (w < 2 || pr->m < 2 * w || 4 * pr->p > 3 * ((pr->p + w - 1) / w) * w || pr->p == 1
        || pr->swapped || pr->pack || (flags & BMM_GENERATE))
        return 0;  /* (the common tiny call leaves here) */
    bmm__problem bt = *pr;
    bt.pack = BMM__PACK_BT;
    if (bmm__problem_cost(&bt) >= BT_MARGIN * bmm__problem_cost(pr))
        return 0;
    bmm_call cb, cr;
    bmm__call_of(&bt, threads, &cb);
    const bmm_kernel_desc *kb = bmm__estimate(&cb), *kr;
    if (!kb || kb->form != BMM_FORM_GNT)
        return 0;
    bmm__call_of(pr, threads, &cr);
    return !(kr = bmm__estimate(&cr)) || !bmm__specialized(kr);
}

/* A 16-bit problem runs as given where the runtime's 16-bit kernels take it (they read any
 * strides). */
static int pairs_run(const bmm__problem *pr)
{
    return half_kernel(pr) != NULL;
}

/* The problem that runs for checked pr, arranged as the class was (ARRANGE_* bits): *run, or
 * pr itself. Row-major: pr, four compares. */
static const bmm__problem *arrange(const bmm__problem *pr, int how, bmm__problem *run)
{
    if (pairs_run(pr))
        return pr;
    if (bmm__problem_widen(pr, run))
        return run;
    if (bmm__row_major(pr) || pr->batch < 1) {
        if (!(how & ARRANGE_BT))
            return pr;
        *run = *pr;
        run->pack = BMM__PACK_BT;
        return run;
    }
    return bmm__problem_arrange(pr, how & ARRANGE_VIEWS, run) ? run : pr;
}

/* The same, deciding how (*in_place: ARRANGE_* bits, what the one-shot cache keeps to arrange
 * the class's next calls alike). */
static const bmm__problem *arranged(const bmm__problem *pr, int threads, unsigned flags,
    bmm__problem *run, int *in_place)
{
    bmm__problem copy, view;
    *in_place = 0;
    if (pairs_run(pr))
        return pr;
    if (bmm__problem_widen(pr, run))
        return run;
    if (bmm__row_major(pr) || pr->batch < 1) {
        if (pr->batch < 1 || !bt_pays(pr, threads, flags))
            return pr;
        *in_place = ARRANGE_BT;
        return arrange(pr, ARRANGE_BT, run);
    }
    int rc = bmm__problem_arrange(pr, 0, &copy), rv = bmm__problem_arrange(pr, 1, &view);
    const bmm__problem *pc = rc ? &copy : pr, *pv = rv ? &view : pr;
    int same = pv->swapped == pc->swapped && pv->pack == pc->pack;  /* no view to leave */
    if (same || !views_pay(pv, pc, threads, flags)) {
        if (!rc)
            return pr;
        *run = copy;
        return run;
    }
    *in_place = ARRANGE_VIEWS;
    if (!rv)
        return pr;
    *run = view;
    return run;
}

/* The operands a run copies, by BMM__PACK_* bits. */
static const char *const PACKED[8] = { "", "A", "B", "A and B", "C", "A and C", "B and C",
    "A, B and C" };

/* Operand bits (BMM__PACK_* values) in the caller's names: the transpose's A is the
 * caller's B. */
static int caller_bits(const bmm__problem *run, int bits)
{
    if (!run->swapped)
        return bits;
    return ((bits & BMM__PACK_A) ? BMM__PACK_B : 0) | ((bits & BMM__PACK_B) ? BMM__PACK_A : 0)
        | (bits & BMM__PACK_C);
}

/* The caller's operands a run copies. */
static int caller_packs(const bmm__problem *run)
{
    return caller_bits(run, run->pack);
}

/* Says how a problem that is not row-major runs (in the caller's names). */
static void note_arrangement(const bmm__problem *pr)
{
    if ((bmm__row_major(pr) && !pr->swapped && !pr->pack) || !bmm__verbose())  /* row-major first: the
        getenv costs a plan 20 ns */
        return;
    int views = (pr->sa.col != 1 && !(pr->pack & BMM__PACK_A))
        | (pr->sb.col != 1 && !(pr->pack & BMM__PACK_B)) << 1;
    if (pr->pack & BMM__PACK_WIDE) {
        bmm__note("runs an f32 kernel on A, B and C converted to f32 a chunk at a time, C "
                  "rounded once (no kernels of the dtype's own)");
        return;
    }
    if (pr->swapped)
        bmm__note("runs the transpose C^T = B^T A^T, a %lldx%lldx%lld product%s%s%s",
            (long long)pr->n, (long long)pr->m, (long long)pr->p,
            pr->pack ? ", with " : views ? "" : " with row-major operands",
            PACKED[caller_packs(pr)], pr->pack ? " copied to row-major for the kernel" : "");
    else if (pr->pack == BMM__PACK_BT)
        bmm__note("copies B transposed, for dot products along m (p = %lld leaves vector lanes "
            "idle in the rows kernels)", (long long)pr->p);
    else if (pr->pack)
        bmm__note("copies %s to row-major for the kernel (columns not unit-stride)",
            PACKED[pr->pack]);
    if (views && pr->sc.col == 1)
        bmm__note("reads %s in place, as %s (kernels of that operand order)",
            PACKED[caller_bits(pr, views)], views == 3 ? "transposed views" : "a transposed view");
    else if (!bmm__row_major(pr) && !pr->pack && !pr->swapped)
        bmm__note("C's rows and columns are both strided (sc {%lld, %lld, %lld}): the portable "
                  "any-stride kernels run it; a row-major or column-major C runs vector kernels",
            (long long)pr->sc.batch, (long long)pr->sc.row, (long long)pr->sc.col);
}

/* A checked problem's kernel (one-shot calls and plans) for a run on `threads` threads: its
 * class computed once, here. */
static bmm_status choose(const bmm__problem *pr, unsigned flags, int threads,
    const bmm_kernel_desc **kd)
{
    bmm_call c;
    bmm__choice ch;
    note_arrangement(pr);
    bmm__call_of(pr, threads, &c);
    bmm_status st = bmm__choose(pr, &c, flags, threads, &ch);
    free(ch.log.v);
    *kd = ch.kernel;
    return st;
}

/* ---- plans ---- */

#define THREADS_FIELD (0x1fffu << 16)  /* BMM_THREADS(n): n in bits 16..28 */

bmm_status bmm_plan_create(bmm_plan **plan, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta,
    unsigned flags)
{
    bmm__wisdom_init();
    if (!plan)
        return bmm__fail(BMM_EINVAL, "plan is NULL");
    *plan = NULL;
    if (flags & ~(unsigned)(BMM_MEASURE | BMM_WISDOM_ONLY | BMM_GENERIC_ONLY | BMM_GENERATE
                            | BMM_GENERATE_ASYNC | BMM_C_F32 | THREADS_FIELD))
        return bmm__fail(BMM_EINVAL, "flags has unknown bits 0x%x", flags);
    int want = (int)((flags & THREADS_FIELD) >> 16);
    if (want > BMM_THREADS_MAX)
        return bmm__fail(BMM_EINVAL, "flags: BMM_THREADS(%d) is outside [1, %d]", want,
            BMM_THREADS_MAX);
    bmm__problem pr;
    bmm__problem_init(&pr, dt, batch, n, m, p, sa, sb, sc, alpha, beta);
    if ((flags & BMM_C_F32) && bmm__elem_bytes(dt) != 2 && bmm__elem_bytes(dt))
        return bmm__fail(BMM_EINVAL, "flags: BMM_C_F32 needs a 16-bit dtype (BMM_BF16, BMM_F16), "
            "not %s", dt == BMM_F32 ? "BMM_F32" : "BMM_F64");
    if (flags & BMM_C_F32)
        pr.cdtype = BMM_F32;
    bmm_status st = bmm__check_problem(&pr);
    if (st != BMM_OK)
        return st;
    int threads = bmm__threads_worth(dt, batch, n, m, p, bmm__threads_request(want));
    const bmm_kernel_desc *kd = NULL;
    bmm__problem run;
    int in_place;
    if (flags & BMM_GENERATE_ASYNC)
        flags |= BMM_GENERATE | BMM__GENERATE_LATER;
    unsigned epoch = bmm__config_epoch();  /* before choosing: a change meanwhile is seen */
    const bmm__problem *rp = arranged(&pr, threads, flags, &run, &in_place);
    if ((st = choose(rp, flags, threads, &kd)) != BMM_OK)
        return st;
    bmm_plan *pl = malloc(sizeof *pl);
    if (!pl)
        return bmm__fail(BMM_ENOMEM, "cannot allocate a plan");
    pl->pr = pr;
    pl->run = *rp;
    atomic_init(&pl->kernel, kd);
    pl->threads = threads;
    pl->flags = flags;
    /* (even if the class is done already: its kernels may have come after the choice) */
    atomic_init(&pl->pending, flags & BMM__GENERATE_LATER ? epoch : 0u);
    *plan = pl;
    return BMM_OK;
}

/* An asynchronous plan's class got new kernels (or failed to) since it chose under `seen`:
 * choose again, without timing or generating, and settle once the class is done. */
static void choose_again(bmm_plan *pl, unsigned seen)
{
    unsigned now = bmm__config_epoch();
    const bmm_kernel_desc *kd;
    bmm_call c;
    bmm__call_of(&pl->run, pl->threads, &c);
    int settled = !bmm__generate_pending(&c);
    unsigned flags = pl->flags & ~(BMM_MEASURE | BMM_GENERATE | BMM__GENERATE_LATER);
    if (choose(&pl->run, flags, pl->threads, &kd) == BMM_OK)
        atomic_store(&pl->kernel, kd);
    atomic_compare_exchange_strong(&pl->pending, &seen, settled ? 0u : now);
}

bmm_status bmm_execute(const bmm_plan *plan, const void *A, const void *B, void *C)
{
    if (!plan)
        return bmm__fail(BMM_EINVAL, "plan is NULL");
    bmm_status st = bmm__check_operands(&plan->pr, A, B, C);
    if (st != BMM_OK)
        return st;
    unsigned seen = atomic_load_explicit(&((bmm_plan *)plan)->pending, memory_order_relaxed);
    if (seen && seen != bmm__config_epoch())  /* (plans are shared: the swap is atomic) */
        choose_again((bmm_plan *)plan, seen);
    bmm__run_threads(atomic_load(&((bmm_plan *)plan)->kernel), &plan->run, plan->run.swapped ? B : A,
        plan->run.swapped ? A : B, C,
        bmm__threads_awake(&plan->run, plan->threads));
    return BMM_OK;
}

const char *bmm_plan_kernel(const bmm_plan *plan)
{
    return plan ? name_of(atomic_load(&((bmm_plan *)plan)->kernel)) : "";
}

const char *bmm_plan_operands(const bmm_plan *plan)
{
    static const char *const WORDS[2][8] = {
        { "as given", "A copied", "B copied", "A and B copied", "C copied", "A and C copied",
          "B and C copied", "A, B and C copied" },
        { "transposed", "transposed, A copied", "transposed, B copied",
          "transposed, A and B copied", "transposed, C copied", "transposed, A and C copied",
          "transposed, B and C copied", "transposed, A, B and C copied" } };
    if (plan && plan->run.pack == BMM__PACK_BT)
        return "B copied transposed";
    if (plan && (plan->run.pack & BMM__PACK_WIDE))
        return !(plan->run.pack & BMM__PACK_C) ? "A and B converted to f32"
            : plan->run.cdtype == BMM_F32 ? "A and B converted to f32, C copied"
                                          : "A, B and C converted to f32";
    const bmm_kernel_desc *kd = plan ? atomic_load(&((bmm_plan *)plan)->kernel) : NULL;
    if (kd && kd->dtype == BMM_BF16)
        return bmm__pairs_operands(kd, &plan->run);
    if (kd && kd->dtype == BMM_F16)
        return bmm__fma16_operands(kd, &plan->run);
    return plan ? WORDS[plan->run.swapped][caller_packs(&plan->run)] : "";
}

int bmm_plan_threads(const bmm_plan *plan)
{
    return plan ? plan->threads : 0;
}

void bmm_plan_destroy(bmm_plan *plan)
{
    free(plan);
}

/* ---- one-shot calls ---- */

/* cdt: C's dtype (dt, or BMM_F32 for 16-bit A and B). */
static bmm_status oneshot(bmm_dtype dt, bmm_dtype cdt, int64_t batch, int64_t n, int64_t m,
    int64_t p, double alpha, const void *A, bmm_stride sa, const void *B, bmm_stride sb,
    double beta, void *C, bmm_stride sc)
{
    bmm__problem pr;
    bmm__problem_init(&pr, dt, batch, n, m, p, sa, sb, sc, alpha, beta);
    pr.cdtype = (int16_t)cdt;
    bmm_status st = bmm__check_call(&pr, A, B, C);
    if (st != BMM_OK || batch == 0) {
        bmm__wisdom_init();  /* a first call of any kind imports $BMM_WISDOM (a miss does too) */
        return st;
    }
    cache_key key = { pr, bmm__threads_default() };
    key.pr.alpha = key.pr.beta = 0;
    bmm__problem run;
    const bmm__problem *rp;
    choice ch;
    if (pr.alpha == 0) {  /* no kernel (bmm__choose), and not the class's choice: not cached */
        bmm__wisdom_init();
        ch = (choice){ NULL, bmm__threads_worth(dt, batch, n, m, p, (int)key.want), 0 };
        rp = arrange(&pr, 0, &run);
    } else if (!cache_get(&key, &ch)) {
        unsigned epoch = bmm__config_epoch();  /* before choosing: a change meanwhile wins */
        ch.threads = bmm__threads_worth(dt, batch, n, m, p, (int)key.want);
        unsigned gen = bmm__generate_env(), flags = gen ? gen : BMM_ESTIMATE;
        rp = arranged(&pr, ch.threads, flags, &run, &ch.in_place);
        if ((st = choose(rp, flags, ch.threads, &ch.kernel)) != BMM_OK)
            return st;
        cache_put(&key, &ch, epoch);
    } else {
        rp = arrange(&pr, ch.in_place, &run);
    }
    if (rp->swapped) {
        const void *t = A;
        A = B, B = t;
    }
    bmm__run_threads(ch.kernel, rp, A, B, C, bmm__threads_awake(rp, ch.threads));
    return BMM_OK;
}

bmm_status bmm_sgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, float alpha,
    const float *A, bmm_stride sa, const float *B, bmm_stride sb, float beta, float *C,
    bmm_stride sc)
{
    return oneshot(BMM_F32, BMM_F32, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}

bmm_status bmm_dgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, double alpha,
    const double *A, bmm_stride sa, const double *B, bmm_stride sb, double beta, double *C,
    bmm_stride sc)
{
    return oneshot(BMM_F64, BMM_F64, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}

bmm_status bmm_bf16gemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, float alpha,
    const bmm_bf16 *A, bmm_stride sa, const bmm_bf16 *B, bmm_stride sb, float beta,
    bmm_bf16 *C, bmm_stride sc)
{
    return oneshot(BMM_BF16, BMM_BF16, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}

bmm_status bmm_hgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, float alpha,
    const bmm_f16 *A, bmm_stride sa, const bmm_f16 *B, bmm_stride sb, float beta, bmm_f16 *C,
    bmm_stride sc)
{
    return oneshot(BMM_F16, BMM_F16, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}

bmm_status bmm_sbgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, float alpha,
    const bmm_bf16 *A, bmm_stride sa, const bmm_bf16 *B, bmm_stride sb, float beta, float *C,
    bmm_stride sc)
{
    return oneshot(BMM_BF16, BMM_F32, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}

bmm_status bmm_shgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p, float alpha,
    const bmm_f16 *A, bmm_stride sa, const bmm_f16 *B, bmm_stride sb, float beta, float *C,
    bmm_stride sc)
{
    return oneshot(BMM_F16, BMM_F32, batch, n, m, p, alpha, A, sa, B, sb, beta, C, sc);
}
