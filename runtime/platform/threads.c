/* threads.c: a batch over OpenMP threads.
 *
 * The batch is cut into static contiguous chunks of whole grains (bmm_select.h), one kernel
 * call per chunk: every C_i is computed by one thread, with the serial call's kernel, as part
 * of the same grain, so results are bitwise the same for any thread count. Serial instead
 * when one thread is asked for, inside an OpenMP parallel region of the caller (no nested
 * teams: never more threads than the caller's team), while another call of this process runs
 * a team (teams never pile up), and in a child forked after a team ran (libgomp's pool does
 * not survive fork). No thread starts before the first call that pays for one; built without
 * OpenMP, everything is serial.
 *
 * A team that has been idle sleeps (libgomp's threads spin for 2.5-5 ms after a region on a
 * Zen 4 VM, then block), and waking it cost 10-100 us there: a call that wants threads when
 * neither a team ran nor a call wanted one within WARM_NS gets them only for work past
 * BMM__THREAD_COLD_NS per thread. A stream of calls keeps the team awake; the first of it
 * pays the wake-up (bmm__threads_awake; bmm__run_threads itself runs the count it is given). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bmm_internal.h"

_Static_assert(BMM_THREADS_MAX == BMM__THREADS_MAX, "bmm.h and bmm_select.h agree");

static atomic_int chosen;  /* bmm_set_num_threads; 0: none */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_threads;    /* BMM_NUM_THREADS; 0: unset or refused */

/* BMM_NUM_THREADS: digits only, in [1, BMM_THREADS_MAX]; anything else is refused. */
static void read_env(void)
{
    const char *v = getenv("BMM_NUM_THREADS");
    if (!v || !*v)
        return;
    long n = 0;
    for (const char *s = v; n <= BMM_THREADS_MAX; s++) {
        if (!*s) {
            if (n >= 1) {
                env_threads = (int)n;
                return;
            }
            break;
        }
        if (*s < '0' || *s > '9')
            break;
        n = 10 * n + (*s - '0');
    }
    bmm__note("BMM_NUM_THREADS=%s refused (a whole number in [1, %d]); using OpenMP's default",
        v, BMM_THREADS_MAX);
}

int bmm__threads_default(void)
{
    pthread_once(&env_once, read_env);  /* a bad value is reported with or without OpenMP */
#ifdef _OPENMP
    int n = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (n)
        return n;
    if (env_threads)
        return env_threads;
    n = omp_get_max_threads();  /* OMP_NUM_THREADS, else the cores this process may use */
    return n < 1 ? 1 : n > BMM_THREADS_MAX ? BMM_THREADS_MAX : n;
#else
    return 1;
#endif
}

int bmm__threads_request(int want)
{
#ifdef _OPENMP
    return want ? want : bmm__threads_default();
#else
    (void)want;
    return 1;
#endif
}

bmm_status bmm_set_num_threads(int n)
{
    if (n < 0 || n > BMM_THREADS_MAX)
        return bmm__fail(BMM_EINVAL, "bmm_set_num_threads: n = %d is outside [0, %d]", n,
            BMM_THREADS_MAX);
    atomic_store_explicit(&chosen, n, memory_order_relaxed);
    return BMM_OK;
}

int bmm_get_num_threads(void)
{
    return bmm__threads_default();
}

#ifdef _OPENMP
#define WARM_MS 1.0  /* well inside libgomp's spin before its threads sleep */

static atomic_int team_running;  /* 1 while a call of this process runs a team */
static _Atomic double warm_since;  /* bmm__now_ms() of the last team or call wanting one */
static atomic_int forked;        /* 1 in a child forked after a team ran */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void in_child(void)
{
    atomic_store(&forked, 1);
}

static void watch_fork(void)
{
    pthread_atfork(NULL, NULL, in_child);
}

/* Items [lo, hi) of the batch, on this thread. */
static void run_chunk(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C, int64_t lo, int64_t hi)
{
    bmm__problem part = *pr;
    const int64_t es = bmm__operand_bytes(pr, 0), ces = bmm__operand_bytes(pr, 2);
    part.batch = hi - lo;
    bmm__run(k, &part, (const char *)A + lo * pr->sa.batch * es,
        (const char *)B + lo * pr->sb.batch * es, (char *)C + lo * pr->sc.batch * ces);
}
#endif

int bmm__threads_awake_at(const bmm__problem *pr, int threads, double now_ms)
{
#ifdef _OPENMP
    if (threads < 2)
        return threads;
    double last = atomic_exchange(&warm_since, now_ms);
    if (now_ms - last < WARM_MS)
        return threads;
    return bmm__threads_for_work(bmm__work_ns(pr->dtype, pr->batch, pr->n, pr->m, pr->p),
        pr->batch, threads, BMM__THREAD_COLD_NS);
#else
    (void)pr, (void)threads, (void)now_ms;
    return 1;
#endif
}

int bmm__run_threads(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C, int threads)
{
#ifdef _OPENMP
    const int64_t grain = bmm__batch_grain(pr->alpha == 0 ? NULL : k);  /* alpha 0: generic */
    if (threads > pr->batch / grain)
        threads = (int)(pr->batch / grain);
    int idle = 0;
    if (threads > 1 && omp_get_level() == 0 && !atomic_load(&forked)
        && atomic_compare_exchange_strong(&team_running, &idle, 1)) {
        pthread_once(&fork_once, watch_fork);
        int ran = 1;
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            int64_t lo, hi;
            bmm__chunk(pr->batch, grain, t, nt, &lo, &hi);
            if (lo < hi)
                run_chunk(k, pr, A, B, C, lo, hi);
            if (t == 0)
                ran = nt;
        }
        atomic_store(&warm_since, bmm__now_ms());
        atomic_store(&team_running, 0);
        return ran;
    }
#else
    (void)threads;
#endif
    bmm__run(k, pr, A, B, C);
    return 1;
}
