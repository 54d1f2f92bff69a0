/* wisdom_file.c: the text of a wisdom file (docs/runtime.md, "Wisdom"):
 *
 *   bmmgen-wisdom 4
 *   cpu <vendor>-<family>-<model>-<widest isa admitted>
 *   stepping <stepping>
 *   entry <dtype> <n> <m> <p> <layout A> <layout B> <layout C> <regime> <threads> <scalars> <kernel>
 *   end <number of entries>
 *
 * Version 3 files (a "table" line, the stepping inside the CPU word) are read as well. The
 * parser is strict: fields one space apart, each line consumed whole and ended by '\n', numbers
 * in range, no duplicate keys. Kernels stay names here: whether this process has them, and
 * whether they serve their entry, is bmm__wisdom_file_resolve's question. */
#define _DEFAULT_SOURCE  /* flock */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmm_internal.h"

#define FORMAT_VERSION 4  /* 4: entries name their kernels (no table signature); the stepping
                           * on a line of its own */
#define MAX_LINE 512

/* The words of an entry (bmm_vocab.h). A key's operand layout is BF, SF or 0 ("x"); LAYOUT's
 * further words (ANY) name no key's class, so entries may not use them. */
static const char *const DTYPE[] = BMM_DTYPE_WORDS;
static const char *const LAYOUT[] = BMM_LAYOUT_WORDS;
static const char *const REGIME[] = BMM_REGIME_WORDS;
static const char *const THREADS[] = BMM_THREADS_WORDS;

void bmm__wisdom_file_init(bmm__wisdom_file *f)
{
    memset(f, 0, sizeof *f);
    f->version = FORMAT_VERSION;
    snprintf(f->cpu, sizeof f->cpu, "%s", bmm__cpu_class());
    snprintf(f->stepping, sizeof f->stepping, "%s", bmm__cpu_stepping());
}

void bmm__wisdom_file_free(bmm__wisdom_file *f)
{
    free(f->v);
    free(f->names);
    free(f->slot);
    memset(f, 0, sizeof *f);
}

const char *bmm__wisdom_layout_word(const bmm_call_key *k, int o, char buf[8])
{
    snprintf(buf, 8, "%s%s", LAYOUT[k->layout[o]], o < 2 && ((k->order >> o) & 1) ? "t" : "");
    return buf;
}

/* ---- entries by key ---- */

static size_t *slot_of(const bmm__wisdom_file *f, const bmm_call_key *k)
{
    size_t i = bmm__hash_slot(k, sizeof *k) & (f->slots - 1);
    while (f->slot[i] && memcmp(&f->v[f->slot[i] - 1].key, k, sizeof *k) != 0)
        i = (i + 1) & (f->slots - 1);
    return &f->slot[i];
}

/* Room for one more entry (slots at most half full); 0 past BMM__WISDOM_MAX_ENTRIES or on
 * ENOMEM. */
static int reserve(bmm__wisdom_file *f)
{
    if (f->len >= BMM__WISDOM_MAX_ENTRIES)
        return 0;
    if (f->len == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        bmm__wisdom_entry *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return 0;
        f->v = v, f->cap = cap;
    }
    if (2 * (f->len + 1) > f->slots) {
        size_t slots = f->slots ? 2 * f->slots : 128;
        size_t *slot = calloc(slots, sizeof *slot);
        if (!slot)
            return 0;
        free(f->slot);
        f->slot = slot, f->slots = slots;
        for (size_t i = 0; i < f->len; i++)
            *slot_of(f, &f->v[i].key) = i + 1;
    }
    return 1;
}

/* The offset of a copy of name in f->names; (size_t)-1 on ENOMEM. */
static size_t keep_name(bmm__wisdom_file *f, const char *name)
{
    size_t len = strlen(name) + 1;
    if (f->names_len + len > f->names_cap) {
        size_t cap = f->names_cap ? f->names_cap : 4096;
        while (f->names_len + len > cap)
            cap *= 2;
        char *names = realloc(f->names, cap);
        if (!names)
            return (size_t)-1;
        f->names = names, f->names_cap = cap;
    }
    memcpy(f->names + f->names_len, name, len);
    f->names_len += len;
    return f->names_len - len;
}

/* Adds (or with replace, replaces) the entry; 0 on ENOMEM or past BMM__WISDOM_MAX_ENTRIES, -1
 * when the key is there and replace is 0. */
static int add(bmm__wisdom_file *f, const bmm_call_key *k, const char *kernel, int line,
    int replace)
{
    size_t *s = f->slots ? slot_of(f, k) : NULL;
    if (s && *s && !replace)
        return -1;
    size_t name = keep_name(f, kernel);
    if (name == (size_t)-1)
        return 0;
    if (s && *s) {
        f->v[*s - 1].name = name;
        f->v[*s - 1].line = line;
        return 1;
    }
    if (!reserve(f))
        return 0;
    f->v[f->len] = (bmm__wisdom_entry){ *k, name, line };
    *slot_of(f, k) = ++f->len;
    return 1;
}

int bmm__wisdom_file_put(bmm__wisdom_file *f, const bmm_call_key *k, const char *kernel)
{
    return add(f, k, kernel, 0, 1) == 1;
}

int bmm__wisdom_file_merge(bmm__wisdom_file *into, const bmm__wisdom_file *from)
{
    for (size_t i = 0; i < from->len; i++)
        if (!bmm__wisdom_file_put(into, &from->v[i].key, bmm__wisdom_file_kernel(from, i)))
            return 0;
    return 1;
}

/* ---- reading ---- */

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

/* Header line lineno, "<word> <value>": value points into line. */
static bmm_status header_line(FILE *in, const char *path, int lineno, const char *word,
    char *line, char **value)
{
    char *w[2];
    int r = read_line(in, line);
    if (r != 1)
        return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
            r == 0 ? "missing line (truncated file?)" : "incomplete line, or a control character");
    if (split(line, w, 2) != 2 || strcmp(w[0], word) != 0)
        return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
            lineno == 1 ? "not a bmmgen wisdom file" : strcmp(word, "cpu") == 0
                ? "expected 'cpu <signature>'" : strcmp(word, "table") == 0
                ? "expected 'table <signature>'" : "expected 'stepping <number>'");
    *value = w[1];
    return BMM_OK;
}

/* A CPU word of a version 3 file, <vendor>-<family>-<model>-<stepping>-<isa>, as the class
 * and stepping of version 4; 0 if it has not five parts. */
static int split_v3_cpu(const char *word, bmm__wisdom_file *f)
{
    const char *isa = strrchr(word, '-'), *step;
    if (!isa || isa == word)
        return 0;
    for (step = isa - 1; step > word && *step != '-'; step--)
        ;
    if (*step != '-' || isa - step - 1 <= 0 || isa - step - 1 >= (int)sizeof f->stepping)
        return 0;
    snprintf(f->stepping, sizeof f->stepping, "%.*s", (int)(isa - step - 1), step + 1);
    snprintf(f->cpu, sizeof f->cpu, "%.*s%s", (int)(step - word), word, isa);
    return 1;
}

static bmm_status parse_header(FILE *in, const char *path, bmm__wisdom_file *f, int *lineno)
{
    char line[MAX_LINE], *v;
    bmm_status st;
    *lineno = 1;
    if ((st = header_line(in, path, 1, "bmmgen-wisdom", line, &v)) != BMM_OK)
        return st;
    if (strcmp(v, "3") != 0 && strcmp(v, "4") != 0)
        return bmm__fail(BMM_EFORMAT, "%s:1: wisdom format '%s', this library reads 3 and %d",
            path, v, FORMAT_VERSION);
    f->version = v[0] - '0';
    if (f->version == 3 && (st = header_line(in, path, ++*lineno, "table", line, &v)) != BMM_OK)
        return st;  /* (entries name their kernels: the table signature decides nothing) */
    if ((st = header_line(in, path, ++*lineno, "cpu", line, &v)) != BMM_OK)
        return st;
    if (strlen(v) >= sizeof f->cpu || (f->version == 3 && !split_v3_cpu(v, f)))
        return bmm__fail(BMM_EFORMAT, "%s:%d: malformed CPU signature", path, *lineno);
    if (f->version == 3)
        return BMM_OK;
    snprintf(f->cpu, sizeof f->cpu, "%s", v);
    if ((st = header_line(in, path, ++*lineno, "stepping", line, &v)) != BMM_OK)
        return st;
    if (strlen(v) >= sizeof f->stepping)
        return bmm__fail(BMM_EFORMAT, "%s:%d: malformed stepping", path, *lineno);
    snprintf(f->stepping, sizeof f->stepping, "%s", v);
    return BMM_OK;
}

/* One "entry" line -> key and kernel name; NULL, or what is wrong with it. */
static const char *parse_entry(char *line, bmm_call_key *k, const char **kernel)
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
    for (int s = 0; s < BMM_SCALARS_COUNT; s++)
        if (strcmp(w[10], bmm__scalar_forms[s].word) == 0)
            k->scalars = s;
    if (k->scalars < 0)
        return "unknown value for the alpha/beta form";
    if (strlen(w[11]) > BMM__NAME_MAX)
        return "kernel name too long";
    *kernel = w[11];
    return NULL;
}

static bmm_status parse(FILE *in, const char *path, bmm__wisdom_file *f)
{
    char line[MAX_LINE], *w[2];
    int lineno;
    bmm_status st = parse_header(in, path, f, &lineno);
    if (st != BMM_OK)
        return st;
    for (;;) {
        lineno++;
        int r = read_line(in, line);
        if (r != 1)
            return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno,
                r == 0 ? "missing 'end' line (truncated file?)"
                       : "incomplete line, or a control character (truncated file?)");
        if (strncmp(line, "end", 3) == 0) {
            int64_t count;
            if (split(line, w, 2) != 2 || strcmp(w[0], "end") != 0
                || (count = parse_count(w[1], 0)) < 0)
                return bmm__fail(BMM_EFORMAT, "%s:%d: malformed 'end' line", path, lineno);
            if ((uint64_t)count != f->len)
                return bmm__fail(BMM_EFORMAT, "%s:%d: 'end' says %lld entries, file has %zu",
                    path, lineno, (long long)count, f->len);
            if (read_line(in, line) != 0)
                return bmm__fail(BMM_EFORMAT, "%s:%d: text after 'end'", path, lineno + 1);
            return BMM_OK;
        }
        bmm_call_key k;
        const char *kernel;
        const char *bad = parse_entry(line, &k, &kernel);
        if (bad)
            return bmm__fail(BMM_EFORMAT, "%s:%d: %s", path, lineno, bad);
        int added = add(f, &k, kernel, lineno, 0);
        if (added < 0)
            return bmm__fail(BMM_EFORMAT, "%s:%d: duplicate entry", path, lineno);
        if (!added)
            return bmm__fail(f->len >= BMM__WISDOM_MAX_ENTRIES ? BMM_EFORMAT : BMM_ENOMEM,
                "%s:%d: more than %zu entries, or out of memory", path, lineno, BMM__WISDOM_MAX_ENTRIES);
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

bmm_status bmm__wisdom_file_read(bmm__wisdom_file *f, const char *path)
{
    bmm__wisdom_file_free(f);
    bmm_status st = BMM_OK;
    FILE *in = open_regular(path, &st);
    if (!in)
        return st;
    st = parse(in, path, f);
    fclose(in);
    return st;
}

/* ---- what a file means here ---- */

bmm_status bmm__wisdom_file_cpu_check(const bmm__wisdom_file *f, const char *path, int exact)
{
    if (strcmp(f->cpu, bmm__cpu_class()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s: made on CPU %s, this is %s", path, f->cpu,
            bmm__cpu_class());
    if (exact && strcmp(f->stepping, bmm__cpu_stepping()) != 0)
        return bmm__fail(BMM_EFORMAT, "%s: made on stepping %s of this CPU, this is stepping %s "
            "(the exact stepping was asked for)", path, f->stepping, bmm__cpu_stepping());
    return BMM_OK;
}

/* Whether kernel k may be the answer for calls of class key: its dtype, shape, alpha/beta
 * form and layout. (The CPU is the file's; lookup checks the rest per call.) */
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

int bmm__wisdom_file_resolve(const bmm__wisdom_file *f, size_t i, const bmm_kernel_desc **kd,
    const char **bad)
{
    const char *name = bmm__wisdom_file_kernel(f, i);
    *kd = NULL;
    if (strcmp(name, "generic") == 0)
        return 0;
    if (!(*kd = bmm__kernel_by_name(name)))
        return 1;
    if (!kernel_fits_key(*kd, &f->v[i].key)) {
        *bad = "the kernel named does not serve the entry's class";
        return -1;
    }
    return 0;
}

/* ---- writing ---- */

static int key_order(const void *x, const void *y)
{
    const bmm_call_key *a = &((const bmm__wisdom_entry *)x)->key;
    const bmm_call_key *b = &((const bmm__wisdom_entry *)y)->key;
    const int64_t u[] = { a->dtype, a->n, a->m, a->p, a->order, a->layout[0], a->layout[1],
        a->layout[2], a->streaming, a->threads, a->scalars };
    const int64_t v[] = { b->dtype, b->n, b->m, b->p, b->order, b->layout[0], b->layout[1],
        b->layout[2], b->streaming, b->threads, b->scalars };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (u[i] != v[i])
            return u[i] < v[i] ? -1 : 1;
    return 0;
}

static int write_all(FILE *out, const bmm__wisdom_file *f, const bmm__wisdom_entry *v)
{
    int ok = fprintf(out, "bmmgen-wisdom %d\ncpu %s\nstepping %s\n", FORMAT_VERSION, f->cpu,
                 f->stepping) > 0;
    for (size_t i = 0; i < f->len && ok; i++) {
        const bmm_call_key *k = &v[i].key;
        char la[8], lb[8];
        ok = fprintf(out, "entry %s %lld %lld %lld %s %s %s %s %s %s %s\n", DTYPE[k->dtype],
                 (long long)k->n, (long long)k->m, (long long)k->p,
                 bmm__wisdom_layout_word(k, 0, la), bmm__wisdom_layout_word(k, 1, lb),
                 LAYOUT[k->layout[2]], REGIME[k->streaming], THREADS[k->threads],
                 bmm__scalar_forms[k->scalars].word, f->names + v[i].name) > 0;
    }
    return ok && fprintf(out, "end %zu\n", f->len) > 0 && fflush(out) == 0
        && fsync(fileno(out)) == 0;
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

bmm_status bmm__wisdom_file_write(const bmm__wisdom_file *f, const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return bmm__fail(BMM_EINVAL, "path is too long (%zu bytes)", strlen(path));
    bmm__wisdom_entry *v = malloc((f->len ? f->len : 1) * sizeof *v);
    if (!v)
        return bmm__fail(BMM_ENOMEM, "cannot sort the wisdom to write it");
    if (f->len)
        memcpy(v, f->v, f->len * sizeof *v);
    qsort(v, f->len, sizeof *v, key_order);
    int fd = mkstemp(tmp);  /* O_EXCL: a name planted by someone else is never written through */
    if (fd < 0) {
        int e = errno;
        free(v);
        return bmm__fail(BMM_EIO, "cannot create a temporary file next to %s: %s", path,
            strerror(e));
    }
    fchmod(fd, 0644);  /* mkstemp's 0600 would hide tuning from other users of the machine */
    FILE *out = fdopen(fd, "w");
    int ok = out && write_all(out, f, v);
    int e = errno;
    free(v);
    if (out)
        ok = fclose(out) == 0 && ok;
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

/* The wisdom file, locked (flock, on the file itself) so that tools writing it one after
 * another each merge what the one before wrote. A run that locked a file since replaced (by
 * the rename of the run before) locks the new one. Made empty when missing. -1: no lock.
 * (Not fcntl: a process loses an fcntl lock when it closes any descriptor of the file, as
 * reading it for the merge does; a flock belongs to the descriptor that took it.) */
int bmm__wisdom_file_lock(const char *path)
{
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
        struct stat held, now;
        if (fd < 0 || fstat(fd, &held) != 0 || !S_ISREG(held.st_mode)) {
            if (fd >= 0)
                close(fd);
            return -1;
        }
        int locked;
        while ((locked = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
            ;
        if (locked == 0 && stat(path, &now) == 0 && now.st_ino == held.st_ino
            && now.st_dev == held.st_dev)
            return fd;
        close(fd);
        if (locked != 0)
            return -1;
    }
    return -1;
}
