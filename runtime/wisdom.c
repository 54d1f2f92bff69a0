/* wisdom.c: remembered choices, keyed by dtype, shape, layout class of each operand, batch
 * regime and alpha/beta form, persisted as versioned text (style.md #15):
 *
 *   bmmgen-wisdom 1
 *   table <spec>-<version>-<spec hash>-<kernel count>
 *   cpu <vendor>-<family>-<model>-<stepping>-<isa>
 *   entry <dtype> <n> <m> <p> <layout A> <layout B> <layout C> <regime> <scalars> <kernel>
 *   end <number of entries>
 *
 * A file that is not exactly this, or is signed for another table or CPU, is rejected whole
 * and the wisdom in memory is kept. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmm_internal.h"

#define FORMAT_VERSION 1
#define MAX_LINE 512

typedef struct {
    int32_t dtype, layout[3], regime, scalars;
    int64_t n, m, p;
} wkey;

typedef struct {
    wkey key;
    const bmm_kernel_desc *kernel;  /* NULL: the generic path */
} wentry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static wentry *entries;
static size_t nentries, capacity;

static const char *const DTYPE[] = { "?", "f32", "f64" };
static const char *const LAYOUT[] = { "x", "bf", "sf" };
static const char *const REGIME[] = { "cache", "stream" };
static const char *const SCALARS[] = { "ab", "b0", "a1b0" };

static wkey key_of(const bmm__problem *pr)
{
    wkey k;
    memset(&k, 0, sizeof k);
    k.dtype = pr->dtype;
    for (int o = 0; o < 3; o++)
        k.layout[o] = bmm__layout_class(pr, o);
    k.regime = bmm__regime(pr);
    k.scalars = pr->scalars;
    k.n = pr->n;
    k.m = pr->m;
    k.p = pr->p;
    return k;
}

/* Insert or replace in a list; caller holds the lock or owns the list. */
static int put(wentry **list, size_t *len, size_t *cap, const wkey *k, const bmm_kernel_desc *kd)
{
    for (size_t i = 0; i < *len; i++)
        if (memcmp(&(*list)[i].key, k, sizeof *k) == 0) {
            (*list)[i].kernel = kd;
            return 1;
        }
    if (*len == *cap) {
        size_t nc = *cap ? 2 * *cap : 32;
        wentry *grown = realloc(*list, nc * sizeof **list);
        if (!grown)
            return 0;
        *list = grown;
        *cap = nc;
    }
    (*list)[*len].key = *k;
    (*list)[*len].kernel = kd;
    (*len)++;
    return 1;
}

int bmm__wisdom_lookup(const bmm__problem *pr, const bmm_kernel_desc **kd)
{
    wkey k = key_of(pr);
    int found = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nentries && !found; i++)
        if (memcmp(&entries[i].key, &k, sizeof k) == 0) {
            *kd = entries[i].kernel;
            found = 1;
        }
    pthread_mutex_unlock(&lock);
    /* an entry names a kernel for a class of problems; use it only if it fits this one */
    if (found && *kd && !bmm__kernel_applies(*kd, pr))
        found = 0;
    return found;
}

void bmm__wisdom_record(const bmm__problem *pr, const bmm_kernel_desc *kd)
{
    wkey k = key_of(pr);
    pthread_mutex_lock(&lock);
    put(&entries, &nentries, &capacity, &k, kd);  /* on ENOMEM the choice is just not kept */
    pthread_mutex_unlock(&lock);
    bmm__plan_cache_clear();  /* one-shot calls may have cached a choice this replaces */
}

void bmm_wisdom_forget(void)
{
    pthread_mutex_lock(&lock);
    free(entries);
    entries = NULL;
    nentries = capacity = 0;
    pthread_mutex_unlock(&lock);
    bmm__plan_cache_clear();
}

static int lookup_word(const char *w, const char *const *words, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(w, words[i]) == 0)
            return i;
    return -1;
}

/* Reads one whole line (must end in '\n'); returns 0 at end of file, -1 if malformed. */
static int read_line(FILE *f, char *buf)
{
    if (!fgets(buf, MAX_LINE, f))
        return 0;
    size_t len = strlen(buf);
    if (len == 0 || buf[len - 1] != '\n')
        return -1;  /* truncated, or longer than any valid line */
    buf[len - 1] = 0;
    return 1;
}

static bmm_status parse(FILE *f, const char *path, wentry **list, size_t *len, size_t *cap)
{
    char line[MAX_LINE], word[MAX_LINE];
    int version, lineno = 1;
    if (read_line(f, line) != 1 || sscanf(line, "bmmgen-wisdom %d", &version) != 1)
        return bmm__fail(BMM_EFORMAT, "%s:1: not a bmmgen wisdom file", path);
    if (version != FORMAT_VERSION)
        return bmm__fail(BMM_EFORMAT, "%s:1: wisdom format %d, this library reads %d", path,
            version, FORMAT_VERSION);
    lineno++;
    if (read_line(f, line) != 1 || sscanf(line, "table %511s", word) != 1)
        return bmm__fail(BMM_EFORMAT, "%s:%d: expected 'table <signature>'", path, lineno);
    if (strcmp(word, bmm__table_signature()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: made for kernel table %s, this library has %s",
            path, lineno, word, bmm__table_signature());
    lineno++;
    if (read_line(f, line) != 1 || sscanf(line, "cpu %511s", word) != 1)
        return bmm__fail(BMM_EFORMAT, "%s:%d: expected 'cpu <signature>'", path, lineno);
    if (strcmp(word, bmm__cpu_signature()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: made on CPU %s, this is %s", path, lineno, word,
            bmm__cpu_signature());
    for (;;) {
        lineno++;
        int r = read_line(f, line);
        if (r != 1)
            return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
                r == 0 ? "missing 'end' line (truncated file?)" : "incomplete line (truncated file?)");
        long long count;
        char tail;
        if (sscanf(line, "end %lld %c", &count, &tail) == 1) {
            if (count != (long long)*len)
                return bmm__fail(BMM_EFORMAT, "%s:%d: 'end' says %lld entries, file has %zu",
                    path, lineno, count, *len);
            if (read_line(f, line) != 0)
                return bmm__fail(BMM_EFORMAT, "%s:%d: text after 'end'", path, lineno + 1);
            return BMM_OK;
        }
        char dt[16], la[3][16], reg[16], sc[16], name[MAX_LINE];
        long long n, m, p;
        if (sscanf(line, "entry %15s %lld %lld %lld %15s %15s %15s %15s %15s %511s %c", dt, &n, &m,
                &p, la[0], la[1], la[2], reg, sc, name, &tail) != 10)
            return bmm__fail(BMM_EFORMAT, "%s:%d: malformed entry", path, lineno);
        wkey k;
        memset(&k, 0, sizeof k);
        k.dtype = lookup_word(dt, DTYPE, 3);
        k.regime = lookup_word(reg, REGIME, 2);
        k.scalars = lookup_word(sc, SCALARS, 3);
        k.n = n;
        k.m = m;
        k.p = p;
        int ok = k.dtype >= 1 && k.regime >= 0 && k.scalars >= 0 && n >= 1 && m >= 1 && p >= 1;
        for (int o = 0; o < 3; o++) {
            k.layout[o] = lookup_word(la[o], LAYOUT, 3);
            ok &= k.layout[o] >= 0;
        }
        const bmm_kernel_desc *kd = NULL;
        if (ok && strcmp(name, "generic") != 0) {
            kd = bmm__kernel_by_name(name);
            ok = kd && kd->dtype == k.dtype && kd->n == n && kd->m == m && kd->p == p;
        }
        if (!ok)
            return bmm__fail(BMM_EFORMAT, "%s:%d: entry names an unknown value or kernel", path,
                lineno);
        if (!put(list, len, cap, &k, kd))
            return bmm__fail(BMM_ENOMEM, "%s:%d: out of memory", path, lineno);
    }
}

bmm_status bmm_wisdom_import_file(const char *path)
{
    if (!path)
        return bmm__fail(BMM_EINVAL, "path is NULL");
    FILE *f = fopen(path, "r");
    if (!f)
        return bmm__fail(BMM_EIO, "cannot open wisdom file %s: %s", path, strerror(errno));
    wentry *list = NULL;
    size_t len = 0, cap = 0;
    bmm_status st = parse(f, path, &list, &len, &cap);
    fclose(f);
    if (st == BMM_OK) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < len; i++)
            put(&entries, &nentries, &capacity, &list[i].key, list[i].kernel);
        pthread_mutex_unlock(&lock);
        bmm__plan_cache_clear();
        bmm__note("imported %zu wisdom entries from %s", len, path);
    }
    free(list);
    return st;
}

bmm_status bmm_wisdom_export_file(const char *path)
{
    if (!path)
        return bmm__fail(BMM_EINVAL, "path is NULL");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return bmm__fail(BMM_EINVAL, "path is too long (%zu bytes)", strlen(path));
    FILE *f = fopen(tmp, "w");
    if (!f)
        return bmm__fail(BMM_EIO, "cannot create %s: %s", tmp, strerror(errno));
    pthread_mutex_lock(&lock);
    int ok = fprintf(f, "bmmgen-wisdom %d\ntable %s\ncpu %s\n", FORMAT_VERSION,
                 bmm__table_signature(), bmm__cpu_signature()) > 0;
    for (size_t i = 0; i < nentries && ok; i++) {
        const wkey *k = &entries[i].key;
        ok = fprintf(f, "entry %s %lld %lld %lld %s %s %s %s %s %s\n", DTYPE[k->dtype],
                 (long long)k->n, (long long)k->m, (long long)k->p, LAYOUT[k->layout[0]],
                 LAYOUT[k->layout[1]], LAYOUT[k->layout[2]], REGIME[k->regime],
                 SCALARS[k->scalars], entries[i].kernel ? entries[i].kernel->name : "generic") > 0;
    }
    ok = ok && fprintf(f, "end %zu\n", nentries) > 0;
    pthread_mutex_unlock(&lock);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return bmm__fail(BMM_EIO, "cannot write wisdom file %s: %s", path, strerror(e));
    }
    return BMM_OK;
}

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void import_env(void)
{
    const char *path = getenv("BMM_WISDOM");
    if (path && *path && bmm_wisdom_import_file(path) != BMM_OK)
        bmm__note("BMM_WISDOM=%s not imported: %s", path, bmm_last_error());
}

void bmm__wisdom_init(void)
{
    pthread_once(&env_once, import_env);
}
