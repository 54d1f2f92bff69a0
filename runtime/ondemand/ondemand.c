/* ondemand.c: generation on demand (BMM_GENERATE). A call class that no specialized kernel
 * serves gets kernels made for that class alone (its dtype, shape, layout and alpha/beta
 * form; every vector ISA this CPU runs, portable C for tiny products): the embedded
 * generator writes them (luagen.c), the machine's compiler builds a shared object (spawn.c),
 * the cache keeps it (cache.c), the registry takes its table, and the planner chooses among
 * old and new kernels as usual.
 *
 * This file holds the entry points: one class at a time in the process, and what this
 * process tried. The class and its key are gen_class.c's, the build gen_build.c's, the
 * cache's objects and what is kept beside them gen_store.c's (gen.h says the chain).
 *
 * Any failure (no Lua, no compiler, a compile error or timeout, a refused directory, a class
 * the generator rejects) leaves the shape-generic kernels to serve the call, with a
 * BMM_VERBOSE note; the call itself succeeds. */
#define _GNU_SOURCE  /* syscall */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gen.h"

/* Classes tried in this process: made or loaded (table set), or failed (not tried again). */
typedef struct {
    uint64_t key;
    const bmm_kernel_table *table;
} attempt;
/* One class at a time in the process (busy; the cache's lock file serializes processes).
 * The lock guards the list and busy only: it is not held while a class is generated and
 * compiled, so fork (whose handlers take it, leaving the child a consistent list) never waits
 * for a compile; the child starts not busy (the generating thread is not in it). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static int busy;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void before_fork(void) { pthread_mutex_lock(&lock); }
static void in_parent(void) { pthread_mutex_unlock(&lock); }
static void forget_queue(void);
static void in_child(void)
{
    busy = 0;
    pthread_cond_init(&idle, NULL);  /* (no thread of the child waits on it) */
    forget_queue();                  /* nor is the background thread in it */
    pthread_mutex_unlock(&lock);
}
static void watch_fork(void) { pthread_atfork(before_fork, in_parent, in_child); }

/* Takes the lock once no thread generates. */
static void lock_idle(void)
{
    pthread_once(&fork_once, watch_fork);
    pthread_mutex_lock(&lock);
    while (busy)
        pthread_cond_wait(&idle, &lock);
}
static attempt *attempts;
static size_t nattempts, cap_attempts;
/* Classes this process compiled: from the second, the runtime headers are precompiled first
 * if the cache has none (1 s once, then each class compiles 2-3x faster; a process making one
 * class would only lose that second). Counted by the generating thread (busy). */
static int compiled;
static _Thread_local bmm__generate_stats last;
static _Atomic(bmm__compile_watch) watcher;

void bmm__generate_watch(bmm__compile_watch fn)
{
    watcher = fn;
}

void bmm__generate_last(bmm__generate_stats *s)
{
    *s = last;
}

unsigned bmm__generate_env(void)
{
    const char *v = bmm__env_path("BMM_GENERATE");  /* it runs a compiler */
    if (v && strcmp(v, "1") == 0)
        return BMM_GENERATE | BMM__GENERATE_LATER;
    return v && strcmp(v, "sync") == 0 ? BMM_GENERATE : 0u;
}

static attempt *find_attempt(uint64_t key)
{
    for (size_t i = 0; i < nattempts; i++)
        if (attempts[i].key == key)
            return &attempts[i];
    return NULL;
}

static void add_attempt(uint64_t key, const bmm_kernel_table *t)
{
    if (nattempts == cap_attempts) {
        size_t nc = cap_attempts ? 2 * cap_attempts : 16;
        attempt *v = realloc(attempts, nc * sizeof *v);
        if (!v)
            return;  /* forgetting only means trying again */
        attempts = v, cap_attempts = nc;
    }
    attempts[nattempts++] = (attempt){ key, t };
}

/* A specialized kernel (shape compiled in) serves c on this CPU. */
static int has_specialized(const bmm_call *c)
{
    const bmm_kernel_desc *v[256];
    size_t n = bmm__candidates(c, v, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (bmm__specialized(v[i]))
            return 1;
    return 0;
}

/* The class's command lines and key (the tables' names carry it); 0 and the reason when the
 * class is not generated. */
static int locate(const bmm_call *c, bmm__gen_args *g, char *err, size_t errlen)
{
    const char *why = bmm__gen_class_args(c, g);
    if (why) {
        snprintf(err, errlen, "%s", why);
        snprintf(last.source, sizeof last.source, "not generated");
        return 0;
    }
    g->key = bmm__gen_object_key(g->text);
    return 1;
}

/* Class g's kernels from the cache, else made (under the cache's lock: another process may
 * be making them) and then loaded; sets last's source and times. */
static bmm__gen_load load_or_make(const bmm__cache *dir, bmm__gen_args *g,
    const bmm_kernel_table **t, int *kernels, char *err, size_t errlen)
{
    double t0 = bmm__now_ms();
    bmm__gen_load r = bmm__gen_load_object(dir, g, t, kernels, &last.check_ms, err, errlen);
    snprintf(last.source, sizeof last.source, "cache");
    if (r == BMM__GEN_BROKEN)
        bmm__note("generation cache: %s; making it again", err);
    if (r != BMM__GEN_LOADED) {
        int lk = bmm__cache_lock(dir);
        const char *cc = bmm__gen_compiler();
        uint64_t fkey = bmm__gen_failure_key(g->key, cc);
        r = bmm__gen_load_object(dir, g, t, kernels, &last.check_ms, err, errlen);
        if (r != BMM__GEN_LOADED && bmm__gen_failed_earlier(dir, fkey, err, errlen)) {
            snprintf(last.source, sizeof last.source, "failed before");
            r = BMM__GEN_BROKEN;
        } else if (r != BMM__GEN_LOADED) {
            int lasting = 0;
            bmm__compile_watch w = watcher;
            if (w)
                w(g->text, 0, &last, NULL);
            bmm_status st = bmm__gen_make(dir, g, cc, compiled > 0, &lasting,
                &last.generate_ms, &last.compile_ms, err, errlen);
            compiled++;
            t0 = bmm__now_ms();
            r = st != BMM_OK ? BMM__GEN_BROKEN
                : bmm__gen_load_object(dir, g, t, kernels, &last.check_ms, err, errlen);
            snprintf(last.source, sizeof last.source, "compiled");
            last.kernels = r == BMM__GEN_LOADED ? *kernels : 0;
            last.load_ms = bmm__now_ms() - t0 - last.check_ms;
            if (w)
                w(g->text, 1, &last, r == BMM__GEN_LOADED ? NULL : err);
            if (r == BMM__GEN_LOADED) {
                bmm__gen_forget_failure(dir, fkey);
                bmm__cache_evict(dir, bmm__cache_max_bytes(), NULL);
            } else if (lasting || st == BMM_OK) {  /* made but refused: made so again */
                bmm__gen_record_failure(dir, fkey, err);
            }
        }
        bmm__cache_unlock(lk);
    }
    last.load_ms = bmm__now_ms() - t0 - last.check_ms;
    return r;
}

/* Choices made without the class's new kernels are stale (the cache's win): dropped in every
 * regime and thread class, then those kept beside its object imported. */
static void adopt(const bmm__cache *dir, uint64_t key, const bmm_call *c)
{
    for (int regime = 0; regime < 2; regime++)
        for (int threads = 0; threads < 2; threads++) {
            bmm_call cc = *c;
            cc.key.streaming = regime, cc.key.threads = threads;
            bmm__wisdom_drop(&cc);
        }
    bmm__gen_import_choices(dir, key, c);
}

/* Class g's kernels from a prepared cache (BMM_CACHE_PATH's folders, then the one installed
 * with the library), read-only: no compiler needed. A folder that is there but refused, or
 * whose object is broken, is noted and passed over. */
static bmm__gen_load load_prepared(bmm__gen_args *g, const bmm_call *c,
    const bmm_kernel_table **t, int *kernels)
{
    char path[BMM__PATH_MAX], err[1024];
    for (int i = 0; bmm__cache_prepared_path(i, path, sizeof path); i++) {
        bmm__cache d;
        double t0 = bmm__now_ms();
        if (bmm__cache_open_prepared(&d, path, err, sizeof err) != BMM_OK) {
            if (err[0])
                bmm__note("generation cache: %s", err);
            continue;
        }
        bmm__gen_load r = bmm__gen_load_object(&d, g, t, kernels, &last.check_ms, err, sizeof err);
        if (r == BMM__GEN_LOADED) {
            adopt(&d, g->key, c);
            snprintf(last.source, sizeof last.source, "prepared");
            last.load_ms = bmm__now_ms() - t0 - last.check_ms;
        } else if (r == BMM__GEN_BROKEN) {
            bmm__note("generation cache: %s; passed over", err);
        }
        bmm__cache_close(&d);
        if (r == BMM__GEN_LOADED)
            return r;
    }
    return BMM__GEN_MISSING;
}

/* Class g's kernels: prepared, else from the cache or made there. A cache directory that
 * cannot be written (a read-only file system, a folder made read-only) is still read. */
static bmm__gen_load find_or_make(bmm__gen_args *g, const bmm_call *c,
    const bmm_kernel_table **t, int *kernels, char *err, size_t errlen)
{
    bmm__gen_load r = load_prepared(g, c, t, kernels);
    if (r == BMM__GEN_LOADED)
        return r;
    bmm__cache dir;
    dir.path[0] = '\0';
    if (bmm__cache_open(&dir, 1, err, errlen) == BMM_OK) {
        r = load_or_make(&dir, g, t, kernels, err, errlen);
        if (r == BMM__GEN_LOADED)
            adopt(&dir, g->key, c);
        bmm__cache_close(&dir);
        return r;
    }
    char e2[256];
    if (dir.path[0] && bmm__cache_open_prepared(&dir, dir.path, e2, sizeof e2) == BMM_OK) {
        r = bmm__gen_load_object(&dir, g, t, kernels, &last.check_ms, e2, sizeof e2);
        if (r == BMM__GEN_LOADED) {
            adopt(&dir, g->key, c);
            snprintf(last.source, sizeof last.source, "cache (read-only)");
        }
        bmm__cache_close(&dir);
    }
    return r == BMM__GEN_LOADED ? r : BMM__GEN_BROKEN;  /* err: why the cache was not usable */
}

static int generate_now(const bmm_call *c);

/* The note and last's reason when class c got no kernels. */
static void failed(const bmm_call *c, char *err, size_t errlen)
{
    static const char *const DTYPE[] = BMM_DTYPE_WORDS;
    if (strcmp(last.source, "not generated") != 0 && strcmp(last.source, "failed before") != 0)
        snprintf(last.source, sizeof last.source, "failed");
    if (!err[0])
        snprintf(err, errlen, "(no reason given)");
    size_t l = strlen(err) < sizeof last.why ? strlen(err) : sizeof last.why - 1;
    memcpy(last.why, err, l);
    last.why[l] = 0;
    bmm__note("generation on demand for %s %lldx%lldx%lld: %s, shape-generic kernels "
        "serve it: %s", DTYPE[c->key.dtype], (long long)c->key.n, (long long)c->key.m,
        (long long)c->key.p, last.source, err);
}

int bmm__generate_serves(const bmm_call *c)
{
    bmm__gen_args g;
    if (bmm__gen_class_args(c, &g))
        return 0;
    g.key = bmm__gen_object_key(g.text);
    pthread_mutex_lock(&lock);
    const attempt *a = find_attempt(g.key);
    int failed = a && !a->table;
    pthread_mutex_unlock(&lock);
    return !failed;
}

int bmm__generate(const bmm_call *c)
{
    memset(&last, 0, sizeof last);
    if (has_specialized(c))
        return 0;
    return generate_now(c);
}

static int generate_now(const bmm_call *c)
{
    char err[2048] = "";
    bmm__gen_args g;
    const bmm_kernel_table *t = NULL;
    int kernels = 0;
    lock_idle();
    int usable = locate(c, &g, err, sizeof err);
    uint64_t key = g.key;
    attempt *a = usable ? find_attempt(key) : NULL;
    if (a) {
        t = a->table;
        snprintf(last.source, sizeof last.source, "%s", t ? "loaded before" : "failed before");
        if (!t)
            snprintf(err, sizeof err, "it failed earlier in this process (not tried again)");
    } else if (usable && bmm__registry_room() < (size_t)g.nisa) {
        /* checked before anything is compiled, loaded or deleted */
        snprintf(err, sizeof err, "the process holds %d kernel tables, the registry's limit: no "
            "more classes are generated in it", BMM__MAX_TABLES);
        snprintf(last.source, sizeof last.source, "not generated");
    } else if (usable) {
        busy = 1;
        pthread_mutex_unlock(&lock);
        if (find_or_make(&g, c, &t, &kernels, err, sizeof err) != BMM__GEN_LOADED)
            t = NULL;
        pthread_mutex_lock(&lock);
        busy = 0;
        pthread_cond_broadcast(&idle);
        add_attempt(key, t);
    }
    pthread_mutex_unlock(&lock);
    if (!t) {
        failed(c, err, sizeof err);
        return 0;
    }
    last.kernels = kernels;
    bmm__note("generation on demand: %s (%d kernels, key %016llx, %s): generate %.1f ms, "
        "compile %.1f ms, load %.2f ms, verify %.2f ms", g.text, last.kernels,
        (unsigned long long)key, last.source, last.generate_ms, last.compile_ms, last.load_ms,
        last.check_ms);
    return 1;
}

void bmm__generate_remember(const bmm_call *c, const bmm_kernel_desc *k)
{
    char err[2048];
    bmm__cache dir;
    bmm__gen_args g;
    lock_idle();
    attempt *a = locate(c, &g, err, sizeof err) ? find_attempt(g.key) : NULL;
    if (a && a->table && bmm__cache_open(&dir, 1, err, sizeof err) == BMM_OK) {
        bmm__gen_remember_choice(&dir, g.key, c, k);  /* (a read-only cache keeps none) */
        bmm__cache_close(&dir);
    }
    pthread_mutex_unlock(&lock);
}

bmm_status bmm_cache_clear(void)
{
    char err[1024];
    bmm__cache dir;
    lock_idle();  /* not under a build in flight */
    bmm_status st = bmm__cache_open(&dir, 0, err, sizeof err);
    if (st == BMM_OK) {
        int lk = bmm__cache_lock(&dir);
        size_t n = bmm__cache_clear_all(&dir);
        bmm__cache_unlock(lk);
        bmm__note("generation cache %s: %zu files deleted", dir.path, n);
        bmm__cache_close(&dir);
    }
    pthread_mutex_unlock(&lock);
    return st == BMM_OK ? BMM_OK : bmm__fail(st, "%s", err);
}

/* ---- in the background (one-shot calls, BMM_GENERATE=1) ---- */

/* Classes waiting for the background thread, under the lock; a class already tried, queued
 * or in flight is not queued again, nor any past the queue's length (a later call queues it). */
#define QUEUE_MAX 64
static bmm_call queue[QUEUE_MAX];
static uint64_t queued_key[QUEUE_MAX], flight_key;
static size_t nqueue;
static int worker, in_flight;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;

static void forget_queue(void)
{
    nqueue = 0;
    worker = in_flight = 0;
    pthread_cond_init(&work, NULL);
}

static void *background(void *arg)
{
    (void)arg;
#ifdef __linux__
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);  /* this thread only */
#endif
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!nqueue)
            pthread_cond_wait(&work, &lock);
        bmm_call c = queue[0];
        flight_key = queued_key[0];
        memmove(queue, queue + 1, --nqueue * sizeof *queue);
        memmove(queued_key, queued_key + 1, nqueue * sizeof *queued_key);
        in_flight = 1;
        pthread_mutex_unlock(&lock);
        memset(&last, 0, sizeof last);
        if (!has_specialized(&c))
            generate_now(&c);  /* registers the class's tables: the epoch moves */
        pthread_mutex_lock(&lock);
        in_flight = 0;
        pthread_cond_broadcast(&idle);
    }
    return NULL;
}

void bmm__generate_later(const bmm_call *c)
{
    char err[256];
    bmm__gen_args g;
    memset(&last, 0, sizeof last);
    if (has_specialized(c))
        return;
    pthread_once(&fork_once, watch_fork);
    pthread_mutex_lock(&lock);
    int usable = locate(c, &g, err, sizeof err), known = !usable || find_attempt(g.key)
        || (in_flight && flight_key == g.key);
    for (size_t i = 0; !known && i < nqueue; i++)
        known = queued_key[i] == g.key;
    if (!known && nqueue < QUEUE_MAX && !worker) {  /* the thread, started at the first class */
        pthread_t t;
        pthread_attr_t at;
        sigset_t all, old;
        sigfillset(&all);  /* it takes none of the process's signals */
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        worker = pthread_create(&t, &at, background, NULL) == 0;
        pthread_attr_destroy(&at);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (!known && nqueue < QUEUE_MAX && worker) {
        queue[nqueue] = *c;
        queued_key[nqueue++] = g.key;
        pthread_cond_signal(&work);
    }
    snprintf(last.source, sizeof last.source, "%s", !usable ? "not generated"
        : known ? "queued before" : worker ? "queued" : "failed");
    pthread_mutex_unlock(&lock);
    if (!usable || !worker)
        bmm__note("generation on demand: %s", !usable ? err : "no background thread; the "
            "shape-generic kernels serve (BMM_GENERATE=sync waits for the compiler)");
    else if (!known)
        bmm__note("generation on demand: %s queued for the background thread; the "
            "shape-generic kernels serve until it is loaded", g.text);
}

void bmm__generate_wait(void)
{
    pthread_mutex_lock(&lock);
    while (nqueue || in_flight || busy)
        pthread_cond_wait(&idle, &lock);
    pthread_mutex_unlock(&lock);
}

int bmm__generate_pending(const bmm_call *c)
{
    char err[256];
    bmm__gen_args g;
    pthread_mutex_lock(&lock);
    int pending = locate(c, &g, err, sizeof err) && in_flight && flight_key == g.key;
    for (size_t i = 0; !pending && i < nqueue; i++)
        pending = queued_key[i] == g.key;
    pthread_mutex_unlock(&lock);
    return pending;
}
