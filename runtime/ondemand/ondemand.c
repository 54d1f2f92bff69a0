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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* Classes tried in this process: made or loaded (table set), or failed (not tried again). */
typedef struct {
    uint64_t key;
    const bmm_kernel_table *table;
} attempt;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* fork while another thread generates (it holds the lock for the whole compile) would leave
 * the child a lock no thread of its own will release: its first generation would hang. So
 * fork waits for a generation in flight, and the child starts with the lock free. */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }
static void watch_fork(void) { pthread_atfork(before_fork, after_fork, after_fork); }
static attempt *attempts;
static size_t nattempts, cap_attempts;
static _Thread_local bmm__generate_stats last;

void bmm__generate_last(bmm__generate_stats *s)
{
    *s = last;
}

int bmm__generate_env(void)
{
    const char *v = getenv("BMM_GENERATE");
    return v && strcmp(v, "1") == 0;
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

/* The cache directory and the class's key; 0 and a note when generation cannot run. */
static int locate(const bmm_call *c, bmm__cache *dir, bmm__gen_args *g, uint64_t *key, char *err,
    size_t errlen)
{
    const char *why = bmm__gen_class_args(c, g);
    if (why) {
        snprintf(err, errlen, "%s", why);
        snprintf(last.source, sizeof last.source, "not generated");
        return 0;
    }
    if (bmm__cache_open(dir, err, errlen) != BMM_OK)
        return 0;
    const char *cc = bmm__gen_compiler(), *ident = bmm__gen_compiler_ident(dir, cc, err, errlen);
    if (!ident) {
        bmm__cache_close(dir);
        return 0;
    }
    *key = g->key = bmm__gen_object_key(cc, ident, g->text);  /* the tables' names carry it */
    return 1;
}

/* Class g's kernels from the cache, else made (under the cache's lock: another process may
 * be making them) and then loaded; sets last's source and times. */
static bmm__gen_load load_or_make(const bmm__cache *dir, bmm__gen_args *g,
    const bmm_kernel_table **t, int *kernels, char *err, size_t errlen)
{
    double t0 = bmm__now_ms();
    bmm__gen_load r = bmm__gen_load_object(dir, g, t, kernels, err, errlen);
    snprintf(last.source, sizeof last.source, "cache");
    if (r == BMM__GEN_BROKEN)
        bmm__note("generation cache: %s; making it again", err);
    if (r != BMM__GEN_LOADED) {
        int lk = bmm__cache_lock(dir);
        r = bmm__gen_load_object(dir, g, t, kernels, err, errlen);
        if (r != BMM__GEN_LOADED && bmm__gen_failed_earlier(dir, g->key, err, errlen)) {
            snprintf(last.source, sizeof last.source, "failed before");
            r = BMM__GEN_BROKEN;
        } else if (r != BMM__GEN_LOADED) {
            int lasting = 0;
            bmm_status st = bmm__gen_make(dir, g, bmm__gen_compiler(), &lasting,
                &last.generate_ms, &last.compile_ms, err, errlen);
            t0 = bmm__now_ms();
            r = st == BMM_OK ? bmm__gen_load_object(dir, g, t, kernels, err, errlen) : BMM__GEN_BROKEN;
            snprintf(last.source, sizeof last.source, "compiled");
            if (st == BMM_OK) {
                bmm__gen_forget_failure(dir, g->key);
                bmm__cache_evict(dir, bmm__cache_max_bytes(), NULL);
            } else if (lasting) {
                bmm__gen_record_failure(dir, g->key, err);
            }
        }
        bmm__cache_unlock(lk);
    }
    last.load_ms = bmm__now_ms() - t0;
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

int bmm__generate(const bmm_call *c)
{
    memset(&last, 0, sizeof last);
    if (has_specialized(c))
        return 0;
    char err[2048] = "";
    bmm__cache dir;
    bmm__gen_args g;
    uint64_t key = 0;
    const bmm_kernel_table *t = NULL;
    int kernels = 0;
    pthread_once(&fork_once, watch_fork);
    pthread_mutex_lock(&lock);  /* one class at a time in the process; the lock file across */
    int usable = locate(c, &dir, &g, &key, err, sizeof err);
    attempt *a = usable ? find_attempt(key) : NULL;
    if (a) {
        t = a->table;
        snprintf(last.source, sizeof last.source, "%s", t ? "loaded before" : "failed before");
        if (!t)
            snprintf(err, sizeof err, "it failed earlier in this process (not tried again)");
    } else if (usable) {
        if (load_or_make(&dir, &g, &t, &kernels, err, sizeof err) == BMM__GEN_LOADED)
            adopt(&dir, key, c);
        else
            t = NULL;
        add_attempt(key, t);
    }
    if (usable)
        bmm__cache_close(&dir);
    pthread_mutex_unlock(&lock);
    if (!t) {
        failed(c, err, sizeof err);
        return 0;
    }
    last.kernels = kernels;
    bmm__note("generation on demand: %s (%d kernels, key %016llx, %s): generate %.1f ms, "
        "compile %.1f ms, load %.2f ms", g.text, last.kernels, (unsigned long long)key,
        last.source, last.generate_ms, last.compile_ms, last.load_ms);
    return 1;
}

void bmm__generate_remember(const bmm_call *c, const bmm_kernel_desc *k)
{
    char err[2048];
    bmm__cache dir;
    bmm__gen_args g;
    uint64_t key;
    pthread_mutex_lock(&lock);
    if (!locate(c, &dir, &g, &key, err, sizeof err)) {
        pthread_mutex_unlock(&lock);
        return;
    }
    attempt *a = find_attempt(key);
    if (a && a->table)
        bmm__gen_remember_choice(&dir, key, c, k);
    bmm__cache_close(&dir);
    pthread_mutex_unlock(&lock);
}

bmm_status bmm_cache_clear(void)
{
    char err[1024];
    bmm__cache dir;
    pthread_mutex_lock(&lock);
    bmm_status st = bmm__cache_open(&dir, err, sizeof err);
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
