/* wisdom.c: remembered choices, keyed by the call class's key (bmm_select.h: dtype, shape,
 * layout class of each operand, batch regime, thread class, alpha/beta form), in a hash table
 * (at most BMM__WISDOM_MAX_ENTRIES), imported from and exported to files (wisdom_file.c: the
 * text).
 *
 * An import takes a file made on a CPU like this one (vendor, family, model, widest ISA; with
 * BMM_WISDOM_EXACT_CPU=1 the stepping too) whole or not at all, except that an entry naming a
 * kernel this process does not have is passed over (a program's own kernels in a file another
 * program reads, or the other way round). Choices of kernels generated on demand are not
 * exported. At the first call of any kind the system file is imported, then $BMM_WISDOM.
 * Every change bumps the registry's configuration epoch. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmm_internal.h"


typedef struct {
    bmm_call_key key;
    const bmm_kernel_desc *kernel;  /* NULL: the generic path */
    int used;
} wentry;

/* Open addressing, linear probing, load at most one half. */
typedef struct {
    wentry *v;
    size_t len, cap;  /* cap: 0 or a power of two */
} wtable;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static wtable wisdom;

static size_t hash_key(const bmm_call_key *k)
{
    return bmm__hash_slot(k, sizeof *k);
}

static wentry *slot_of(const wtable *t, const bmm_call_key *k)
{
    size_t i = hash_key(k) & (t->cap - 1);
    while (t->v[i].used && memcmp(&t->v[i].key, k, sizeof *k) != 0)
        i = (i + 1) & (t->cap - 1);
    return &t->v[i];
}

static wentry *find(const wtable *t, const bmm_call_key *k)
{
    if (!t->cap)
        return NULL;
    wentry *e = slot_of(t, k);
    return e->used ? e : NULL;
}

/* Room for n entries; 0 past BMM__WISDOM_MAX_ENTRIES or on ENOMEM. */
static int reserve(wtable *t, size_t n)
{
    if (n > BMM__WISDOM_MAX_ENTRIES)
        return 0;
    if (2 * n <= t->cap)
        return 1;
    size_t cap = t->cap ? t->cap : 64;
    while (2 * n > cap)
        cap *= 2;
    wtable g = { calloc(cap, sizeof(wentry)), 0, cap };
    if (!g.v)
        return 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->v[i].used)
            *slot_of(&g, &t->v[i].key) = t->v[i];
    g.len = t->len;
    free(t->v);
    *t = g;
    return 1;
}

/* Insert or replace; caller holds the lock or owns the table. Returns 0 when full or on
 * ENOMEM, 1 when the table changed, 2 when it already said so. */
static int put(wtable *t, const bmm_call_key *k, const bmm_kernel_desc *kd)
{
    wentry *e = find(t, k);
    if (e) {
        int same = e->kernel == kd;
        e->kernel = kd;
        return same ? 2 : 1;
    }
    if (!reserve(t, t->len + 1))
        return 0;
    e = slot_of(t, k);
    e->key = *k;
    e->kernel = kd;
    e->used = 1;
    t->len++;
    return 1;
}

int bmm__wisdom_lookup(const bmm_call *c, const bmm_kernel_desc **kd)
{
    pthread_mutex_lock(&lock);
    const wentry *e = find(&wisdom, &c->key);
    int found = e != NULL;
    if (found)
        *kd = e->kernel;
    pthread_mutex_unlock(&lock);
    /* an entry names a kernel for a class of problems; use it only if it fits this one */
    if (found && *kd && !bmm__kernel_applies(*kd, c))
        found = 0;
    return found;
}

void bmm__wisdom_record(const bmm_call *c, const bmm_kernel_desc *kd)
{
    pthread_mutex_lock(&lock);
    int r = put(&wisdom, &c->key, kd);
    pthread_mutex_unlock(&lock);
    if (r == 0)
        bmm__note("wisdom full (%zu entries) or out of memory: choice not kept",
            BMM__WISDOM_MAX_ENTRIES);
    if (r == 1)
        bmm__config_changed();  /* a choice cached for this class may differ */
}

void bmm__wisdom_drop(const bmm_call *c)
{
    pthread_mutex_lock(&lock);
    wentry *e = find(&wisdom, &c->key);
    if (e) {  /* backward-shift deletion: later entries of the probe chain move up */
        size_t mask = wisdom.cap - 1, hole = (size_t)(e - wisdom.v);
        for (size_t i = (hole + 1) & mask; wisdom.v[i].used; i = (i + 1) & mask) {
            size_t home = hash_key(&wisdom.v[i].key) & mask;
            if (((i - home) & mask) >= ((i - hole) & mask)) {
                wisdom.v[hole] = wisdom.v[i];
                hole = i;
            }
        }
        memset(&wisdom.v[hole], 0, sizeof wisdom.v[hole]);
        wisdom.len--;
    }
    pthread_mutex_unlock(&lock);
    if (e)
        bmm__config_changed();
}

void bmm_wisdom_forget(void)
{
    bmm__wisdom_init();  /* $BMM_WISDOM first, so that it is forgotten too */
    pthread_mutex_lock(&lock);
    free(wisdom.v);
    wisdom = (wtable){ NULL, 0, 0 };
    pthread_mutex_unlock(&lock);
    bmm__config_changed();
}

/* ---- files ---- */

/* Imports a file read whole: the CPU checked, every kernel resolved (an unknown one passes its
 * entry over), then every entry in at once. */
static bmm_status import_file(const char *path, int64_t *imported, int64_t *skipped)
{
    bmm__wisdom_file f;
    bmm__wisdom_file_init(&f);
    const char *exact = getenv("BMM_WISDOM_EXACT_CPU");
    bmm_status st = bmm__wisdom_file_read(&f, path);
    if (st == BMM_OK)
        st = bmm__wisdom_file_cpu_check(&f, path, exact && strcmp(exact, "1") == 0);
    const bmm_kernel_desc **kd = NULL;
    size_t passed = 0, first_passed = 0;
    if (st == BMM_OK && !(kd = malloc((f.len ? f.len : 1) * sizeof *kd)))
        st = bmm__fail(BMM_ENOMEM, "cannot import wisdom file %s: out of memory", path);
    for (size_t i = 0; st == BMM_OK && i < f.len; i++) {
        const char *bad;
        int r = bmm__wisdom_file_resolve(&f, i, &kd[i], &bad);
        if (r < 0)
            st = bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, f.v[i].line, bad);
        if (r > 0 && passed++ == 0)
            first_passed = i;
    }
    if (st == BMM_OK) {
        pthread_mutex_lock(&lock);
        int ok = reserve(&wisdom, wisdom.len + f.len - passed);
        for (size_t i = 0; ok && i < f.len; i++)
            if (kd[i] || strcmp(bmm__wisdom_file_kernel(&f, i), "generic") == 0)
                put(&wisdom, &f.v[i].key, kd[i]);
        pthread_mutex_unlock(&lock);
        if (!ok)
            st = bmm__fail(BMM_ENOMEM, "%s: wisdom would pass %zu entries, or out of memory",
                path, BMM__WISDOM_MAX_ENTRIES);
        else
            bmm__config_changed();
    }
    if (st == BMM_OK) {
        bmm__note("imported %zu wisdom entries from %s", f.len - passed, path);
        if (passed)
            bmm__note("%s: passed over %zu entries whose kernels this process does not have "
                "(the first: %s, line %d)", path, passed, bmm__wisdom_file_kernel(&f, first_passed),
                f.v[first_passed].line);
        if (imported)
            *imported = (int64_t)(f.len - passed);
        if (skipped)
            *skipped = (int64_t)passed;
    }
    free(kd);
    bmm__wisdom_file_free(&f);
    return st;
}

bmm_status bmm_wisdom_import_file_counted(const char *path, int64_t *imported, int64_t *skipped)
{
    if (imported)
        *imported = 0;
    if (skipped)
        *skipped = 0;
    if (!path)
        return bmm__fail(BMM_EINVAL, "path is NULL");
    bmm__wisdom_init();
    return import_file(path, imported, skipped);
}

bmm_status bmm_wisdom_import_file(const char *path)
{
    return bmm_wisdom_import_file_counted(path, NULL, NULL);
}

/* The entries in memory, as a file made on this CPU. Choices of kernels generated on demand
 * stay out: another process may not have loaded them (the generation cache keeps those choices
 * beside the kernels). */
bmm_status bmm__wisdom_snapshot(bmm__wisdom_file *f)
{
    bmm__wisdom_file_init(f);
    int ok = 1;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; ok && i < wisdom.cap; i++) {
        const wentry *e = &wisdom.v[i];
        if (e->used && !(e->kernel && bmm__kernel_generated(e->kernel)))
            ok = bmm__wisdom_file_put(f, &e->key, e->kernel ? e->kernel->name : "generic");
    }
    pthread_mutex_unlock(&lock);
    if (!ok) {
        bmm__wisdom_file_free(f);
        return bmm__fail(BMM_ENOMEM, "cannot copy the wisdom to export it");
    }
    return BMM_OK;
}

bmm_status bmm_wisdom_export_file(const char *path)
{
    if (!path)
        return bmm__fail(BMM_EINVAL, "path is NULL");
    bmm__wisdom_init();
    bmm__wisdom_file f;
    bmm_status st = bmm__wisdom_snapshot(&f);
    if (st == BMM_OK)
        st = bmm__wisdom_file_write(&f, path);
    bmm__wisdom_file_free(&f);
    return st;
}
/* ---- the system file and $BMM_WISDOM ---- */

#ifndef BMM_SYSCONFDIR
#define BMM_SYSCONFDIR "/etc"
#endif

/* $BMM_SYSTEM_WISDOM (empty: none), else <sysconfdir>/bmmgen/wisdom. */
static const char *system_path(void)
{
    const char *path = bmm__env_path("BMM_SYSTEM_WISDOM");
    return path ? path : BMM_SYSCONFDIR "/bmmgen/wisdom";
}

bmm_status bmm_import_system_wisdom(void)
{
    bmm__wisdom_init();
    const char *path = system_path();
    if (!*path)
        return bmm__fail(BMM_EIO, "no system wisdom file (BMM_SYSTEM_WISDOM is empty)");
    return import_file(path, NULL, NULL);
}

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* Imports one file at first use: a failure is noted under BMM_VERBOSE and leaves
 * bmm_last_error() as it was (it is not the failure of the call that triggered the import). A
 * missing system file is the usual case and not noted. */
static void import_quietly(const char *what, const char *path, int missing_is_normal)
{
    struct stat sb;
    if (!path || !*path || (missing_is_normal && stat(path, &sb) != 0 && errno == ENOENT))
        return;
    char saved[512];
    snprintf(saved, sizeof saved, "%s", bmm_last_error());
    if (import_file(path, NULL, NULL) != BMM_OK) {
        bmm__note("%s=%s not imported: %s", what, path, bmm_last_error());
        bmm__set_last_error(saved);
    }
}

static void import_env(void)
{
    import_quietly("system wisdom", system_path(), 1);
    import_quietly("BMM_WISDOM", bmm__env_path("BMM_WISDOM"), 0);
}

void bmm__wisdom_init(void)
{
    pthread_once(&env_once, import_env);
}
