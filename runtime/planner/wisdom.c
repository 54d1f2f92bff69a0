/* wisdom.c: remembered choices, keyed by the call class's key (bmm_select.h: dtype, shape,
 * layout class of each operand, batch regime, thread class, alpha/beta form), persisted as
 * versioned text:
 *
 *   bmmgen-wisdom 3
 *   table <16 hex digits: hash of every registered table's name, version, spec hash, count>
 *   cpu <vendor>-<family>-<model>-<stepping>-<isa>
 *   entry <dtype> <n> <m> <p> <layout A> <layout B> <layout C> <regime> <threads> <scalars> <kernel>
 *   end <number of entries>
 *
 * A transposed A or B (the key's order) has "t" after its layout word: "bft" is a transposed
 * view whose transpose is batch-first.
 *
 * The parser is strict: fields one space apart, each line consumed whole and ended by '\n',
 * numbers in range, no duplicate keys, each kernel of the entry's class. A file that is not
 * exactly this, or is signed for another table or CPU, is rejected whole and the wisdom in
 * memory is kept. Choices of kernels generated on demand are not exported. Entries live in a hash table (at most MAX_ENTRIES). Export writes a private
 * temporary file in the target's directory (mkstemp: never through a planted name), fsyncs
 * it, renames it over the target and fsyncs the directory. Every change bumps the registry's
 * configuration epoch. */
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

#define FORMAT_VERSION 3  /* 3: the thread class */
#define MAX_LINE 512
#define MAX_ENTRIES ((size_t)1 << 21)

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

/* The words of an entry (bmm_vocab.h). A key's operand layout is BF, SF or 0 ("x"); LAYOUT's
 * further words (ANY) name no key's class, so entries may not use them. */
static const char *const DTYPE[] = BMM_DTYPE_WORDS;
static const char *const LAYOUT[] = BMM_LAYOUT_WORDS;
static const char *const REGIME[] = BMM_REGIME_WORDS;
static const char *const THREADS[] = BMM_THREADS_WORDS;

/* Operand o's layout word in an entry: its class's, and "t" for a transposed view. */
static const char *layout_word(const bmm_call_key *k, int o, char buf[8])
{
    snprintf(buf, 8, "%s%s", LAYOUT[k->layout[o]], o < 2 && ((k->order >> o) & 1) ? "t" : "");
    return buf;
}

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

/* Room for n entries; 0 past MAX_ENTRIES or on ENOMEM. */
static int reserve(wtable *t, size_t n)
{
    if (n > MAX_ENTRIES)
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
        bmm__note("wisdom full (%zu entries) or out of memory: choice not kept", MAX_ENTRIES);
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

/* ---- the strict parser ---- */

static int lookup_word(const char *w, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(w, words[i]) == 0)
            return (int)i;
    return -1;
}

/* Reads one whole line (must end in '\n', no other control character); returns 0 at end of
 * file, -1 if malformed. */
static int read_line(FILE *f, char *buf)
{
    if (!fgets(buf, MAX_LINE, f))
        return 0;
    size_t len = strlen(buf);
    if (len == 0 || buf[len - 1] != '\n')
        return -1;  /* truncated, longer than any valid line, or a NUL inside */
    buf[--len] = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            return -1;  /* CR, tab, ... */
    return 1;
}

/* Splits a line into at most max fields separated by exactly one space (none empty);
 * returns how many, or -1 if the spacing is wrong or there are more. */
static int split(char *line, char **field, int max)
{
    int n = 0;
    for (char *s = line;;) {
        if (*s == ' ' || *s == 0 || n == max)
            return -1;
        field[n++] = s;
        s = strchr(s, ' ');
        if (!s)
            return n;
        *s++ = 0;
    }
}

/* A decimal number in [min, INT64_MAX], digits only, no leading zero; -1 if not. */
static int64_t parse_count(const char *s, int64_t min)
{
    if (*s < '0' || *s > '9' || (*s == '0' && s[1]))
        return -1;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - (*s - '0')) / 10)
            return -1;
        v = 10 * v + (*s - '0');
    }
    return v >= min ? v : -1;
}

/* Whether kernel k may be the answer for calls of class key: its dtype, shape, alpha/beta
 * form and layout. (The CPU is the file's signature; lookup checks the rest per call.) */
static int kernel_fits_key(const bmm_kernel_desc *k, const bmm_call_key *key)
{
    if (k->dtype != key->dtype || !bmm__shape_admits(k, key->n, key->m, key->p)
        || !bmm__scalars_fit(k->scalars, key->scalars))
        return 0;
    /* a seq-first operand (rows batch*cols apart) never fits packed rows */
    for (int o = 0; o < 3; o++)
        if (k->layout == BMM_LAYOUT_BF && key->layout[o] == BMM_LAYOUT_SF)
            return 0;
    return bmm__order_fits(k, key->order);  /* another order reads the operands wrong */
}

/* Header line lineno: "<word> <value>"; value points into line. */
static bmm_status header_line(FILE *f, const char *path, int lineno, const char *word,
    char *line, char **value)
{
    char *w[2];
    int r = read_line(f, line);
    if (r != 1)
        return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
            r == 0 ? "missing line (truncated file?)" : "incomplete line, or a control character");
    if (split(line, w, 2) != 2 || strcmp(w[0], word) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
            lineno == 1 ? "not a bmmgen wisdom file" : word[0] == 't'
                ? "expected 'table <signature>'" : "expected 'cpu <signature>'");
    *value = w[1];
    return BMM_OK;
}

/* The header: format version, then the table and CPU signatures this library has. */
static bmm_status parse_header(FILE *f, const char *path, int *lineno)
{
    char line[MAX_LINE], *v, want[32];
    bmm_status st;
    snprintf(want, sizeof want, "%d", FORMAT_VERSION);
    *lineno = 1;
    if ((st = header_line(f, path, 1, "bmmgen-wisdom", line, &v)) != BMM_OK)
        return st;
    if (strcmp(v, want) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:1: wisdom format '%s', this library reads %d", path,
            v, FORMAT_VERSION);
    if ((st = header_line(f, path, ++*lineno, "table", line, &v)) != BMM_OK)
        return st;
    if (strcmp(v, bmm__table_signature()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: made for kernel table %s, this library has %s",
            path, *lineno, v, bmm__table_signature());
    if ((st = header_line(f, path, ++*lineno, "cpu", line, &v)) != BMM_OK)
        return st;
    if (strcmp(v, bmm__cpu_signature()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: made on CPU %s, this is %s", path, *lineno,
            v, bmm__cpu_signature());
    return BMM_OK;
}

/* One "entry" line -> key and kernel; NULL, or what is wrong with it. */
static const char *parse_entry(char *line, bmm_call_key *k, const bmm_kernel_desc **kd)
{
    char *w[12];
    if (split(line, w, 12) != 12 || strcmp(w[0], "entry") != 0)
        return "malformed entry (want 'entry' and 11 fields one space apart)";
    memset(k, 0, sizeof *k);
    k->dtype = lookup_word(w[1], DTYPE, sizeof DTYPE / sizeof *DTYPE);
    if (k->dtype < 1)
        return "unknown value for dtype";
    int64_t *size[3] = { &k->n, &k->m, &k->p };
    for (int d = 0; d < 3; d++)
        if ((*size[d] = parse_count(w[2 + d], 1)) < 1)
            return "a size is not a number in [1, 2^63)";
    for (int o = 0; o < 3; o++) {
        size_t len = strlen(w[5 + o]);
        if (o < 2 && len > 1 && w[5 + o][len - 1] == 't') {  /* a transposed view */
            w[5 + o][len - 1] = '\0';
            k->order |= 1 << o;
        }
        if ((k->layout[o] = lookup_word(w[5 + o], LAYOUT, BMM_LAYOUT_ANY)) < 0)
            return "unknown value for a layout";
    }
    if ((k->streaming = lookup_word(w[8], REGIME, sizeof REGIME / sizeof *REGIME)) < 0)
        return "unknown value for the regime";
    if ((k->threads = lookup_word(w[9], THREADS, sizeof THREADS / sizeof *THREADS)) < 0)
        return "unknown value for the thread class";
    k->scalars = -1;
    for (int f = 0; f < BMM_SCALARS_COUNT; f++)
        if (strcmp(w[10], bmm__scalar_forms[f].word) == 0)
            k->scalars = f;
    if (k->scalars < 0)
        return "unknown value for the alpha/beta form";
    *kd = NULL;
    if (strcmp(w[11], "generic") != 0) {
        if (!(*kd = bmm__kernel_by_name(w[11])))
            return "unknown value or kernel";
        if (!kernel_fits_key(*kd, k))
            return "the kernel named does not serve the entry's class";
    }
    return NULL;
}

static bmm_status parse(FILE *f, const char *path, wtable *list)
{
    char line[MAX_LINE], *w[2];
    int lineno;
    bmm_status st = parse_header(f, path, &lineno);
    if (st != BMM_OK)
        return st;
    for (;;) {
        lineno++;
        int r = read_line(f, line);
        if (r != 1)
            return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
                r == 0 ? "missing 'end' line (truncated file?)"
                       : "incomplete line, or a control character (truncated file?)");
        if (strncmp(line, "end", 3) == 0) {
            int64_t count;
            if (split(line, w, 2) != 2 || strcmp(w[0], "end") != 0
                || (count = parse_count(w[1], 0)) < 0)
                return bmm__fail(BMM_EFORMAT, "%s:%d: malformed 'end' line", path, lineno);
            if ((uint64_t)count != list->len)
                return bmm__fail(BMM_EFORMAT, "%s:%d: 'end' says %lld entries, file has %zu",
                    path, lineno, (long long)count, list->len);
            if (read_line(f, line) != 0)
                return bmm__fail(BMM_EFORMAT, "%s:%d: text after 'end'", path, lineno + 1);
            return BMM_OK;
        }
        bmm_call_key k;
        const bmm_kernel_desc *kd;
        const char *bad = parse_entry(line, &k, &kd);
        if (bad)
            return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno, bad);
        if (find(list, &k))
            return bmm__fail(BMM_EFORMAT, "%s:%d: duplicate entry", path, lineno);
        if (!put(list, &k, kd))
            return bmm__fail(list->len >= MAX_ENTRIES ? BMM_EFORMAT : BMM_ENOMEM,
                "%s:%d: more than %zu entries, or out of memory", path, lineno, MAX_ENTRIES);
    }
}

/* Opens a regular file for reading; a directory, FIFO or device is refused without blocking. */
static FILE *open_regular(const char *path, bmm_status *st)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        *st = bmm__fail(BMM_EIO, "cannot open wisdom file %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        *st = bmm__fail(BMM_EIO, "wisdom file %s is not a regular file", path);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        *st = bmm__fail(BMM_ENOMEM, "cannot read wisdom file %s: %s", path, strerror(errno));
    }
    return f;
}

static bmm_status import_file(const char *path)
{
    bmm_status st = BMM_OK;
    FILE *f = open_regular(path, &st);
    if (!f)
        return st;
    wtable list = { NULL, 0, 0 };
    st = parse(f, path, &list);
    fclose(f);
    if (st == BMM_OK) {
        pthread_mutex_lock(&lock);
        int ok = reserve(&wisdom, wisdom.len + list.len);
        for (size_t i = 0; ok && i < list.cap; i++)
            if (list.v[i].used)
                put(&wisdom, &list.v[i].key, list.v[i].kernel);
        pthread_mutex_unlock(&lock);
        if (!ok)
            st = bmm__fail(BMM_ENOMEM, "%s: wisdom would pass %zu entries, or out of memory",
                path, MAX_ENTRIES);
        else
            bmm__config_changed();
        if (ok)
            bmm__note("imported %zu wisdom entries from %s", list.len, path);
    }
    free(list.v);
    return st;
}

bmm_status bmm_wisdom_import_file(const char *path)
{
    if (!path)
        return bmm__fail(BMM_EINVAL, "path is NULL");
    bmm__wisdom_init();
    return import_file(path);
}

/* ---- export ---- */

static int key_order(const void *x, const void *y)
{
    const bmm_call_key *a = &((const wentry *)x)->key, *b = &((const wentry *)y)->key;
    const int64_t u[] = { a->dtype, a->n, a->m, a->p, a->order, a->layout[0], a->layout[1],
        a->layout[2], a->streaming, a->threads, a->scalars };
    const int64_t v[] = { b->dtype, b->n, b->m, b->p, b->order, b->layout[0], b->layout[1],
        b->layout[2], b->streaming, b->threads, b->scalars };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (u[i] != v[i])
            return u[i] < v[i] ? -1 : 1;
    return 0;
}

/* The entries in key order (the file is the same for the same wisdom); NULL on ENOMEM.
 * Choices of kernels generated on demand stay out: another process may not have loaded them
 * (the generation cache keeps those choices beside the kernels). */
static wentry *sorted_entries(size_t *n)
{
    pthread_mutex_lock(&lock);
    wentry *v = malloc((wisdom.len ? wisdom.len : 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; v && i < wisdom.cap; i++)
        if (wisdom.v[i].used && !(wisdom.v[i].kernel && bmm__kernel_generated(wisdom.v[i].kernel)))
            v[(*n)++] = wisdom.v[i];
    pthread_mutex_unlock(&lock);
    if (v)
        qsort(v, *n, sizeof *v, key_order);
    return v;
}

static int write_all(FILE *f, const wentry *v, size_t n)
{
    int ok = fprintf(f, "bmmgen-wisdom %d\ntable %s\ncpu %s\n", FORMAT_VERSION,
                 bmm__table_signature(), bmm__cpu_signature()) > 0;
    for (size_t i = 0; i < n && ok; i++) {
        const bmm_call_key *k = &v[i].key;
        char la[8], lb[8];
        ok = fprintf(f, "entry %s %lld %lld %lld %s %s %s %s %s %s %s\n", DTYPE[k->dtype],
                 (long long)k->n, (long long)k->m, (long long)k->p, layout_word(k, 0, la),
                 layout_word(k, 1, lb), LAYOUT[k->layout[2]], REGIME[k->streaming],
                 THREADS[k->threads], bmm__scalar_forms[k->scalars].word, v[i].kernel ? v[i].kernel->name : "generic")
            > 0;
    }
    return ok && fprintf(f, "end %zu\n", n) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
}

/* Makes the rename durable: fsync the directory that holds path. */
static void sync_directory(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

bmm_status bmm_wisdom_export_file(const char *path)
{
    if (!path)
        return bmm__fail(BMM_EINVAL, "path is NULL");
    bmm__wisdom_init();
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return bmm__fail(BMM_EINVAL, "path is too long (%zu bytes)", strlen(path));
    size_t n;
    wentry *v = sorted_entries(&n);
    if (!v)
        return bmm__fail(BMM_ENOMEM, "cannot copy the wisdom to export it");
    int fd = mkstemp(tmp);  /* O_EXCL: a name planted by someone else is never written through */
    if (fd < 0) {
        int e = errno;
        free(v);
        return bmm__fail(BMM_EIO, "cannot create a temporary file next to %s: %s", path,
            strerror(e));
    }
    fchmod(fd, 0644);  /* mkstemp's 0600 would hide tuning from other users of the machine */
    FILE *f = fdopen(fd, "w");
    int ok = f && write_all(f, v, n);
    int e = errno;
    free(v);
    if (f)
        ok = fclose(f) == 0 && ok;
    else
        close(fd);
    if (ok && rename(tmp, path) != 0)
        ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        return bmm__fail(BMM_EIO, "cannot write wisdom file %s: %s", path, strerror(e));
    }
    sync_directory(path);
    return BMM_OK;
}

/* ---- $BMM_WISDOM ---- */

static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* A failure is noted under BMM_VERBOSE and leaves bmm_last_error() as it was: it is not the
 * failure of the call that triggered the import. */
static void import_env(void)
{
    const char *path = bmm__env_path("BMM_WISDOM");
    if (!path || !*path)
        return;
    char saved[512];
    snprintf(saved, sizeof saved, "%s", bmm_last_error());
    if (import_file(path) != BMM_OK) {
        bmm__note("BMM_WISDOM=%s not imported: %s", path, bmm_last_error());
        bmm__set_last_error(saved);
    }
}

void bmm__wisdom_init(void)
{
    pthread_once(&env_once, import_env);
}
