/* wisdom.c: remembered choices, keyed by the call class's key (bmm_select.h: dtype, shape,
 * layout class of each operand, batch regime, alpha/beta form), persisted as versioned text:
 *
 *   bmmgen-wisdom 1
 *   table <spec>-<version>-<spec hash>-<kernel count>
 *   cpu <vendor>-<family>-<model>-<stepping>-<isa>
 *   entry <dtype> <n> <m> <p> <layout A> <layout B> <layout C> <regime> <scalars> <kernel>
 *   end <number of entries>
 *
 * A file that is not exactly this, or is signed for another table or CPU, is rejected whole
 * and the wisdom in memory is kept. Every change bumps the registry's configuration epoch. */
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
    bmm_call_key key;
    const bmm_kernel_desc *kernel;  /* NULL: the generic path */
} wentry;

typedef struct {
    wentry *v;
    size_t len, cap;
} wlist;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static wlist wisdom;

static const char *const DTYPE[] = { "?", "f32", "f64" };
static const char *const LAYOUT[] = { "x", "bf", "sf" };
static const char *const REGIME[] = { "cache", "stream" };

/* Insert or replace in a list; caller holds the lock or owns the list. Returns 0 on ENOMEM,
 * 1 when the list changed, 2 when it already said so. */
static int put(wlist *l, const bmm_call_key *k, const bmm_kernel_desc *kd)
{
    for (size_t i = 0; i < l->len; i++)
        if (memcmp(&l->v[i].key, k, sizeof *k) == 0) {
            int same = l->v[i].kernel == kd;
            l->v[i].kernel = kd;
            return same ? 2 : 1;
        }
    if (l->len == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 32;
        wentry *grown = realloc(l->v, nc * sizeof *grown);
        if (!grown)
            return 0;
        l->v = grown;
        l->cap = nc;
    }
    l->v[l->len].key = *k;
    l->v[l->len].kernel = kd;
    l->len++;
    return 1;
}

int bmm__wisdom_lookup(const bmm_call *c, const bmm_kernel_desc **kd)
{
    int found = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < wisdom.len && !found; i++)
        if (memcmp(&wisdom.v[i].key, &c->key, sizeof c->key) == 0) {
            *kd = wisdom.v[i].kernel;
            found = 1;
        }
    pthread_mutex_unlock(&lock);
    /* an entry names a kernel for a class of problems; use it only if it fits this one */
    if (found && *kd && !bmm__kernel_applies(*kd, c))
        found = 0;
    return found;
}

void bmm__wisdom_record(const bmm_call *c, const bmm_kernel_desc *kd)
{
    pthread_mutex_lock(&lock);
    int changed = put(&wisdom, &c->key, kd) == 1;  /* on ENOMEM the choice is just not kept */
    pthread_mutex_unlock(&lock);
    if (changed)
        bmm__config_changed();  /* a choice cached for this class may differ */
}

void bmm_wisdom_forget(void)
{
    pthread_mutex_lock(&lock);
    free(wisdom.v);
    wisdom = (wlist){ NULL, 0, 0 };
    pthread_mutex_unlock(&lock);
    bmm__config_changed();
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

static const char *scalars_word(int f)
{
    return bmm__scalar_forms[f].word;
}

/* The header: format version, then the table and CPU signatures this library has. */
static bmm_status parse_header(FILE *f, const char *path, int *lineno)
{
    char line[MAX_LINE], word[MAX_LINE];
    int version;
    *lineno = 1;
    if (read_line(f, line) != 1 || sscanf(line, "bmmgen-wisdom %d", &version) != 1)
        return bmm__fail(BMM_EFORMAT, "%s:1: not a bmmgen wisdom file", path);
    if (version != FORMAT_VERSION)
        return bmm__fail(BMM_EFORMAT, "%s:1: wisdom format %d, this library reads %d", path,
            version, FORMAT_VERSION);
    ++*lineno;
    if (read_line(f, line) != 1 || sscanf(line, "table %511s", word) != 1)
        return bmm__fail(BMM_EFORMAT, "%s:%d: expected 'table <signature>'", path, *lineno);
    if (strcmp(word, bmm__table_signature()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: made for kernel table %s, this library has %s",
            path, *lineno, word, bmm__table_signature());
    ++*lineno;
    if (read_line(f, line) != 1 || sscanf(line, "cpu %511s", word) != 1)
        return bmm__fail(BMM_EFORMAT, "%s:%d: expected 'cpu <signature>'", path, *lineno);
    if (strcmp(word, bmm__cpu_signature()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: made on CPU %s, this is %s", path, *lineno,
            word, bmm__cpu_signature());
    return BMM_OK;
}

/* One "entry" line -> key and kernel; 0 if any word is unknown or the kernel does not fit. */
static int parse_entry(const char *line, bmm_call_key *k, const bmm_kernel_desc **kd, int *malformed)
{
    char dt[16], la[3][16], reg[16], sc[16], name[MAX_LINE], tail;
    long long n, m, p;
    *malformed = sscanf(line, "entry %15s %lld %lld %lld %15s %15s %15s %15s %15s %511s %c", dt,
                     &n, &m, &p, la[0], la[1], la[2], reg, sc, name, &tail) != 10;
    if (*malformed)
        return 0;
    memset(k, 0, sizeof *k);
    k->dtype = lookup_word(dt, DTYPE, 3);
    k->streaming = lookup_word(reg, REGIME, 2);
    k->scalars = -1;
    for (int f = 0; f < BMM_SCALARS_COUNT; f++)
        if (strcmp(sc, scalars_word(f)) == 0)
            k->scalars = f;
    k->n = n, k->m = m, k->p = p;
    int ok = k->dtype >= 1 && k->streaming >= 0 && k->scalars >= 0 && n >= 1 && m >= 1 && p >= 1;
    for (int o = 0; o < 3; o++) {
        k->layout[o] = lookup_word(la[o], LAYOUT, 3);
        ok &= k->layout[o] >= 0;
    }
    *kd = NULL;
    if (ok && strcmp(name, "generic") != 0) {
        *kd = bmm__kernel_by_name(name);
        ok = *kd && (*kd)->dtype == k->dtype && bmm__shape_admits(*kd, n, m, p);
    }
    return ok;
}

static bmm_status parse(FILE *f, const char *path, wlist *list)
{
    char line[MAX_LINE];
    int lineno;
    bmm_status st = parse_header(f, path, &lineno);
    if (st != BMM_OK)
        return st;
    for (;;) {
        lineno++;
        int r = read_line(f, line);
        if (r != 1)
            return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
                r == 0 ? "missing 'end' line (truncated file?)" : "incomplete line (truncated file?)");
        long long count;
        char tail;
        if (sscanf(line, "end %lld %c", &count, &tail) == 1) {
            if (count != (long long)list->len)
                return bmm__fail(BMM_EFORMAT, "%s:%d: 'end' says %lld entries, file has %zu",
                    path, lineno, count, list->len);
            if (read_line(f, line) != 0)
                return bmm__fail(BMM_EFORMAT, "%s:%d: text after 'end'", path, lineno + 1);
            return BMM_OK;
        }
        bmm_call_key k;
        const bmm_kernel_desc *kd;
        int malformed;
        if (!parse_entry(line, &k, &kd, &malformed))
            return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
                malformed ? "malformed entry" : "entry names an unknown value or kernel");
        if (!put(list, &k, kd))
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
    wlist list = { NULL, 0, 0 };
    bmm_status st = parse(f, path, &list);
    fclose(f);
    if (st == BMM_OK) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < list.len; i++)
            put(&wisdom, &list.v[i].key, list.v[i].kernel);
        pthread_mutex_unlock(&lock);
        bmm__config_changed();
        bmm__note("imported %zu wisdom entries from %s", list.len, path);
    }
    free(list.v);
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
    for (size_t i = 0; i < wisdom.len && ok; i++) {
        const bmm_call_key *k = &wisdom.v[i].key;
        ok = fprintf(f, "entry %s %lld %lld %lld %s %s %s %s %s %s\n", DTYPE[k->dtype],
                 (long long)k->n, (long long)k->m, (long long)k->p, LAYOUT[k->layout[0]],
                 LAYOUT[k->layout[1]], LAYOUT[k->layout[2]], REGIME[k->streaming],
                 scalars_word(k->scalars), wisdom.v[i].kernel ? wisdom.v[i].kernel->name : "generic") > 0;
    }
    ok = ok && fprintf(f, "end %zu\n", wisdom.len) > 0;
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
