/* bmm-wisdom: list, check, explain, merge and prune wisdom files (FFTW's fftw-wisdom for
 * bmmgen). Files are read as text (wisdom_file.c), so entries naming kernels this program does
 * not have (another program's own) are listed, merged and kept; --kernels LIB.so loads a
 * program's table so that they are known. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bmm_internal.h"
#include "load_kernels.h"

#define MAX_FILES 256

static const char *const DTYPE[] = BMM_DTYPE_WORDS;
static const char *const ISA[] = BMM_ISA_WORDS;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: bmm-wisdom COMMAND [options] FILE...\n"
        "  list FILE...          each entry: its class and kernel, and whether this program has\n"
        "                        the kernel (here) or passes the entry over on import (absent)\n"
        "  check FILE...         whether this machine imports the file: its syntax, its CPU and\n"
        "                        every kernel; exit 1 if it would be rejected\n"
        "  explain FILE...       the header and every entry in words\n"
        "  merge -o OUT FILE...  OUT's entries and every FILE's, into OUT (locked, so runs of\n"
        "                        bmm-tune and bmm-wisdom on OUT each keep the others' entries);\n"
        "                        where two files hold one class, the one modified last wins\n"
        "  prune FILE [-o OUT]   drop the entries whose kernel this program does not have or that\n"
        "                        cannot serve their class; rewrites FILE (locked) or writes OUT\n"
        "options:\n"
        "  --kernels LIB.so      a program's own kernels (its bmm_generate_kernels table) count as\n"
        "                        here; repeatable\n"
        "  --table NAME          the table's name in the next --kernels' library (default: the\n"
        "                        library's name without lib and .so)\n"
        "  --exact               check: the stepping must be this CPU's too (BMM_WISDOM_EXACT_CPU)\n"
        "  --strict              check: an entry whose kernel is absent is an error too\n"
        "This machine: CPU %s, stepping %s.\n", bmm__cpu_class(), bmm__cpu_stepping());
}

typedef struct {
    const char *command, *out, *files[MAX_FILES];
    int nfiles, exact, strict;
} options;

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    o->command = argv[1];
    const char *table = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int known = bmm_tool_kernels_option("bmm-wisdom", a, v, &table);
        if (known >= 0) {
            if (known)
                return 1;
            i++;
        } else if (!strcmp(a, "--exact")) {
            o->exact = 1;
        } else if (!strcmp(a, "--strict")) {
            o->strict = 1;
        } else if (!strcmp(a, "-o") && v) {
            o->out = v;
            i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "bmm-wisdom: bad option '%s'\n", a);
            return 2;
        } else if (o->nfiles < MAX_FILES) {
            o->files[o->nfiles++] = a;
        } else {
            fprintf(stderr, "bmm-wisdom: more than %d files\n", MAX_FILES);
            return 2;
        }
    }
    int want_out = !strcmp(o->command, "merge"), may_out = want_out || !strcmp(o->command, "prune");
    if (!o->nfiles || (want_out && !o->out) || (o->out && !may_out)
        || (!strcmp(o->command, "prune") && o->nfiles != 1)) {
        fprintf(stderr, "bmm-wisdom: %s: %s\n", o->command, want_out ? "needs -o OUT and files"
            : !strcmp(o->command, "prune") ? "takes one file (and -o OUT)" : "needs files");
        return 2;
    }
    return -1;
}

static void class_words(const bmm_call_key *k, char *out, size_t len)
{
    char la[8], lb[8];
    static const char *const LAYOUT[] = BMM_LAYOUT_WORDS, *const REGIME[] = BMM_REGIME_WORDS,
        *const THREADS[] = BMM_THREADS_WORDS;
    snprintf(out, len, "%s %lldx%lldx%lld %s %s %s %s %s %s", DTYPE[k->dtype], (long long)k->n,
        (long long)k->m, (long long)k->p, bmm__wisdom_layout_word(k, 0, la),
        bmm__wisdom_layout_word(k, 1, lb), LAYOUT[k->layout[2]], REGIME[k->streaming],
        THREADS[k->threads], bmm__scalar_forms[k->scalars].word);
}

/* Reads a file, saying why not on stderr. */
static int read_file(const char *path, bmm__wisdom_file *f)
{
    bmm__wisdom_file_init(f);
    if (bmm__wisdom_file_read(f, path) == BMM_OK)
        return 0;
    fprintf(stderr, "bmm-wisdom: %s\n", bmm_last_error());
    bmm__wisdom_file_free(f);
    return -1;
}

/* What entry i is here: "here", "absent" (passed over on import) or "wrong" (the kernel cannot
 * serve the class: the file is rejected). */
static const char *standing(const bmm__wisdom_file *f, size_t i, const bmm_kernel_desc **kd)
{
    const char *bad;
    int r = bmm__wisdom_file_resolve(f, i, kd, &bad);
    return r < 0 ? "wrong" : r > 0 ? "absent" : "here";
}

/* Runs one of list, check and explain on each file read; 1 if any file fails. */
static int each_file(const options *o, int (*fn)(const options *, const char *, bmm__wisdom_file *))
{
    int rc = 0;
    for (int i = 0; i < o->nfiles; i++) {
        bmm__wisdom_file f;
        if (read_file(o->files[i], &f) != 0) {
            rc = 1;
            continue;
        }
        rc |= fn(o, o->files[i], &f);
        bmm__wisdom_file_free(&f);
    }
    return rc;
}

static int list_one(const options *o, const char *path, bmm__wisdom_file *f)
{
    (void)o;
    printf("# %s: format %d, CPU %s, stepping %s, %zu entries\n", path, f->version, f->cpu,
        f->stepping, f->len);
    for (size_t e = 0; e < f->len; e++) {
        char cls[160];
        const bmm_kernel_desc *kd;
        class_words(&f->v[e].key, cls, sizeof cls);
        printf("%-52s %-7s %s\n", cls, standing(f, e, &kd), bmm__wisdom_file_kernel(f, e));
    }
    return 0;
}

static int check_one(const options *o, const char *path, bmm__wisdom_file *f)
{
    if (bmm__wisdom_file_cpu_check(f, path, o->exact) != BMM_OK) {
        printf("%s: rejected here: %s\n", path, bmm_last_error());
        return 1;
    }
    size_t absent = 0, wrong = 0;
    for (size_t e = 0; e < f->len; e++) {
        const bmm_kernel_desc *kd;
        const char *s = standing(f, e, &kd);
        if (strcmp(s, "here") != 0) {
            printf("%s:%d: %s %s\n", path, f->v[e].line, bmm__wisdom_file_kernel(f, e),
                *s == 'w' ? "cannot serve the entry's class (the file is rejected)"
                          : "is not in this program (the entry is passed over)");
            *s == 'w' ? wrong++ : absent++;
        }
    }
    if (wrong)
        printf("%s: rejected here: %zu entries name kernels that cannot serve them (bmm-wisdom "
            "prune drops them)\n", path, wrong);
    else
        printf("%s: imports here: %zu of %zu entries%s\n", path, f->len - absent, f->len,
            absent ? " (--kernels LIB.so: the program's own kernels)" : "");
    return wrong || (o->strict && absent);
}

/* A layout class (BMM_LAYOUT_*) in words. */
static const char *layout_words(int layout)
{
    static const char *const words[] = { "strided", "batch-first", "seq-first", "any-stride" };
    return words[layout >= 0 && layout < 4 ? layout : 0];
}

static int explain_one(const options *o, const char *path, bmm__wisdom_file *f)
{
    (void)o;
    int same = bmm__wisdom_file_cpu_check(f, path, 0) == BMM_OK;
    printf("%s: wisdom format %d (this library writes 4), %zu entries.\n"
           "Made on CPU %s (vendor-family-model-widest ISA admitted), stepping %s.\n"
           "This machine is %s, stepping %s: %s.\n", path, f->version, f->len, f->cpu,
        f->stepping, bmm__cpu_class(), bmm__cpu_stepping(),
        !same ? "another CPU, so the file is rejected whole here"
        : strcmp(f->stepping, bmm__cpu_stepping()) ? "the same CPU at another stepping: "
          "imported, unless BMM_WISDOM_EXACT_CPU=1" : "the same CPU: imported");
    for (size_t e = 0; e < f->len; e++) {
        const bmm_call_key *k = &f->v[e].key;
        const bmm_kernel_desc *kd;
        const bmm_scalar_form *s = &bmm__scalar_forms[k->scalars];
        const char *st = standing(f, e, &kd), *name = bmm__wisdom_file_kernel(f, e);
        char alpha[48] = "any alpha", beta[48] = "beta != 0 (C read)";
        if (s->fixes_alpha)
            snprintf(alpha, sizeof alpha, "alpha = %g", s->alpha);
        if (s->fixes_beta)
            snprintf(beta, sizeof beta, "beta = %g%s", s->beta, s->beta == 0 ? " (C not read)" : "");
        printf("\n%zu. %s C (%lld x %lld) = A (%lld x %lld) B (%lld x %lld): A %s%s, B %s%s, "
               "C %s;\n   batch %s, %s, %s, %s.\n", e + 1, DTYPE[k->dtype], (long long)k->n,
            (long long)k->p, (long long)k->n, (long long)k->m, (long long)k->m, (long long)k->p,
            layout_words(k->layout[0]), k->order & 1 ? " (transposed view)" : "",
            layout_words(k->layout[1]), k->order & 2 ? " (transposed view)" : "",
            layout_words(k->layout[2]),
            k->streaming ? "streaming from memory" : "in cache",
            k->threads ? "several threads" : "one thread", alpha, beta);
        if (!strcmp(name, "generic"))
            printf("   Runs the generic path (no kernel beat it).\n");
        else if (*st == 'h')
            printf("   Runs %s: %s, %s, %s kernel.\n", name, ISA[kd->isa],
                bmm__specialized(kd) ? "specialized for its shape" : "shape-generic",
                layout_words(kd->layout));
        else if (*st == 'a')
            printf("   Names %s, which this program does not have: passed over on import "
                   "(--kernels LIB.so if it is another program's own).\n", name);
        else
            printf("   Names %s, which cannot serve this class: the file is rejected.\n", name);
    }
    return 0;
}

typedef struct {
    const char *path;
    struct timespec t;  /* modified */
} dated;

static int by_mtime(const void *x, const void *y)
{
    const dated *a = x, *b = y;
    if (a->t.tv_sec != b->t.tv_sec)
        return a->t.tv_sec < b->t.tv_sec ? -1 : 1;
    return a->t.tv_nsec < b->t.tv_nsec ? -1 : a->t.tv_nsec > b->t.tv_nsec;
}

/* Merges OUT (if it holds anything) and the files, oldest first, all made on one CPU. */
static int merge(const options *o)
{
    dated in[MAX_FILES + 1];
    int n = 0, lk = bmm__wisdom_file_lock(o->out);
    struct stat sb;
    if (lk < 0) {
        fprintf(stderr, "bmm-wisdom: cannot lock %s (a regular file, or a new one)\n", o->out);
        return 1;
    }
    if (fstat(lk, &sb) == 0 && sb.st_size > 0)
        in[n++] = (dated){ o->out, sb.st_mtim };
    for (int i = 0; i < o->nfiles; i++) {
        if (stat(o->files[i], &sb) != 0) {
            fprintf(stderr, "bmm-wisdom: cannot read %s\n", o->files[i]);
            close(lk);
            return 1;
        }
        in[n++] = (dated){ o->files[i], sb.st_mtim };
    }
    qsort(in, (size_t)n, sizeof in[0], by_mtime);
    bmm__wisdom_file all, f;
    bmm__wisdom_file_init(&all);
    int rc = 0, first = 1;
    for (int i = 0; i < n && !rc; i++) {
        if (read_file(in[i].path, &f) != 0) {
            rc = 1;
            break;
        }
        if (first) {
            memcpy(all.cpu, f.cpu, sizeof all.cpu);
        } else if (strcmp(f.cpu, all.cpu) != 0) {
            fprintf(stderr, "bmm-wisdom: %s was made on CPU %s, the others on %s: not merged\n",
                in[i].path, f.cpu, all.cpu);
            rc = 1;
        }
        memcpy(all.stepping, f.stepping, sizeof all.stepping);  /* the newest's */
        if (!rc && !bmm__wisdom_file_merge(&all, &f)) {
            fprintf(stderr, "bmm-wisdom: out of memory, or more entries than a file holds\n");
            rc = 1;
        }
        first = 0;
        bmm__wisdom_file_free(&f);
    }
    if (!rc && bmm__wisdom_file_write(&all, o->out) != BMM_OK) {
        fprintf(stderr, "bmm-wisdom: %s\n", bmm_last_error());
        rc = 1;
    }
    if (!rc)
        printf("%s: %zu entries from %d files\n", o->out, all.len, n);
    bmm__wisdom_file_free(&all);
    close(lk);
    return rc;
}

static int prune(const options *o)
{
    const char *path = o->files[0], *out = o->out ? o->out : path;
    bmm__wisdom_file f, kept;
    if (access(path, R_OK) != 0) {  /* (the lock would make it) */
        fprintf(stderr, "bmm-wisdom: cannot read %s\n", path);
        return 1;
    }
    int lk = o->out ? 0 : bmm__wisdom_file_lock(path);  /* rewritten in place: locked */
    if (lk < 0) {
        fprintf(stderr, "bmm-wisdom: cannot lock %s\n", path);
        return 1;
    }
    int rc = read_file(path, &f) != 0;
    bmm__wisdom_file_init(&kept);
    size_t dropped = 0;
    if (!rc) {
        memcpy(kept.cpu, f.cpu, sizeof kept.cpu);
        memcpy(kept.stepping, f.stepping, sizeof kept.stepping);
    }
    for (size_t e = 0; !rc && e < f.len; e++) {
        const bmm_kernel_desc *kd;
        if (strcmp(standing(&f, e, &kd), "here") != 0) {
            printf("%s:%d: dropped %s\n", path, f.v[e].line, bmm__wisdom_file_kernel(&f, e));
            dropped++;
        } else if (!bmm__wisdom_file_put(&kept, &f.v[e].key, bmm__wisdom_file_kernel(&f, e))) {
            fprintf(stderr, "bmm-wisdom: out of memory\n");
            rc = 1;
        }
    }
    if (!rc && bmm__wisdom_file_write(&kept, out) != BMM_OK) {
        fprintf(stderr, "bmm-wisdom: %s\n", bmm_last_error());
        rc = 1;
    }
    if (!rc)
        printf("%s: kept %zu entries, dropped %zu\n", out, kept.len, dropped);
    bmm__wisdom_file_free(&f);
    bmm__wisdom_file_free(&kept);
    if (!o->out)
        close(lk);
    return rc;
}

static int list(const options *o) { return each_file(o, list_one); }
static int check(const options *o) { return each_file(o, check_one); }
static int explain(const options *o) { return each_file(o, explain_one); }

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    static const struct { const char *name; int (*run)(const options *); } commands[] = {
        { "list", list }, { "check", check }, { "explain", explain }, { "merge", merge },
        { "prune", prune } };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(o.command, commands[i].name))
            return commands[i].run(&o);
    fprintf(stderr, "bmm-wisdom: unknown command '%s'\n", o.command);
    usage(stderr);
    return 2;
}
