/* bmm-tune: the main job. Plans every shape of the kernel table (or those named on the
 * command line) by measurement on this machine, prints what was chosen and how fast, and
 * writes the wisdom file. Shapes the wisdom file already answers are planned without timing
 * the search (only the figures of the table are measured). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmm_internal.h"
#include "load_kernels.h"

#define MAX_CASES 4096
#define TARGET_BYTES (256 << 10)  /* in-cache regime: operands take about 256 KiB */

typedef struct {
    int dtype, layout;
    int64_t n, m, p;
} tcase;

enum { TABLE, JSON, CSV };  /* what goes to standard output */

static const char *const DTYPE[] = BMM_DTYPE_WORDS, *const LAYOUT[] = BMM_LAYOUT_WORDS;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: bmm-tune [options] [NxMxP ...]\n"
        "  Plans each shape with BMM_MEASURE and prints the chosen kernel and its speed.\n"
        "  Without shapes: every shape, dtype and layout of the built-in kernel table.\n"
        "  --dtype f32|f64      only this dtype (shapes given: default both)\n"
        "  --layout bf|sf       only this layout (shapes given: default both)\n"
        "  --batch N            batch size (default: operands take about 256 KiB)\n"
        "  --wisdom FILE        wisdom file to write (default: $BMM_WISDOM or bmm.wisdom)\n"
        "  --budget MS          tuning time budget per plan (default 50)\n"
        "  --threads N          plan for at most N threads (default: BMM_NUM_THREADS, else\n"
        "                       OpenMP's default)\n"
        "  --retune             measure again even where the wisdom file has an answer\n"
        "  --force              replace a wisdom file made for another CPU or kernel table\n"
        "  --generate           generation on demand (BMM_GENERATE) for the shapes given: report\n"
        "                       the generated kernels' speed against the shape-generic ones, and\n"
        "                       the time to generate, compile, load and tune\n"
        "  --cache-dir DIR      the cache of generated kernels (BMM_CACHE_DIR): with --generate,\n"
        "                       prepares DIR for BMM_CACHE_PATH (objects and their choices)\n"
        "  --clear-cache        delete every generated object from the cache and exit\n"
        "  --kernels LIB.so     tune a program's own kernels too (the table bmm_generate_kernels\n"
        "                       compiled into LIB.so); repeatable\n"
        "  --table NAME         the table's name in the next --kernels' library (default: the\n"
        "                       library's name without lib and .so)\n"
        "  --json, --csv        the results as one JSON document, or CSV rows, on standard output\n"
        "                       (notes stay on standard error)\n"
        "  -v                   print every candidate's GFLOP/s\n");
}

/* A whole decimal number in [1, max]; 0 if not. */
static int64_t parse_size(const char *s, int64_t max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno || end == s || *end || *s == '+' || *s == ' ' || v < 1 || v > max ? 0 : v;
}

/* A progress bar on stderr when it is a terminal (the table goes to stdout; a log gets
 * no bar). */
static int bar;
static void progress(int i, int n, const char *what)
{
    int w = 30, filled = n ? i * w / n : w;
    if (bar)
        fprintf(stderr, "\r[%.*s%*s] %3d/%3d %-14s", filled, "##############################",
            w - filled, "", i, n, what);
}

/* Each compile as it starts and ends (generation on demand, --generate), on a line of its
 * own (over the bar, which the next case draws again). */
static void compile_said(const char *class_text, int done, const bmm__generate_stats *s,
    const char *why)
{
    if (bar)
        fprintf(stderr, "\r%60s\r", "");
    if (!done)
        fprintf(stderr, "bmm-tune: compiling %s\n", class_text);
    else if (!why)
        fprintf(stderr, "bmm-tune: compiled %s: %d kernels, verified; generate %.0f ms, compile "
            "%.0f ms, verify %.2f ms\n", class_text, s->kernels, s->generate_ms, s->compile_ms,
            s->check_ms);
    else
        fprintf(stderr, "bmm-tune: compiling %s failed after %.0f ms: %s\n", class_text,
            s->generate_ms + s->compile_ms, why);
}

/* The dtype a word names (bmm_vocab.h's words), or -1. */
static int dtype_of(const char *w)
{
    for (int d = 1; d < (int)(sizeof DTYPE / sizeof *DTYPE); d++)
        if (!strcmp(w, DTYPE[d]))
            return d;
    return -1;
}

static int has_case(const tcase *cs, int n, const tcase *c)
{
    for (int i = 0; i < n; i++)
        if (cs[i].dtype == c->dtype && cs[i].layout == c->layout && cs[i].n == c->n
            && cs[i].m == c->m && cs[i].p == c->p)
            return 1;
    return 0;
}

static void *alloc_random(int64_t elems, int dtype)
{
    void *p = malloc((size_t)(elems > 0 ? elems : 1) * (size_t)bmm__elem_bytes(dtype));
    if (!p)
        return NULL;
    for (int64_t i = 0; i < elems; i++)
        bmm__elem_set(dtype, p, i, (double)rand() / RAND_MAX - 0.5);
    return p;
}

typedef struct {
    char kernel[128];
    char source[64];         /* how it was chosen: "measured", "wisdom" ...; "measured, 3 of
                              * 26 timed" when the budget timed only some */
    double gflops, vs_generic, vs_c99;  /* vs_c99: NAN when no portable kernel applies */
    int estimate_same;       /* the static rule picked the same kernel (-1: not measured) */
    int estimate_close;      /* ... or one within 10% of its speed */
    int specialized;         /* a specialized kernel (shape compiled in) applies */
    double plan_ms;          /* wall time of the measured plan; NAN when from wisdom */
    int threads;             /* the threads its plan runs on */
    double vs_anyshape;      /* the best shape-generic kernel's time over the chosen's (NAN:
                              * none was timed) */
    bmm__generate_stats gen; /* --generate: what generation did */
    double plan_total_ms;    /* the plan's wall time, generation included */
    size_t searched, candidates;  /* kernels the measured search timed, of those that apply */
} result;

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double gflops_of(const tcase *c, int64_t batch, double seconds)
{
    return 2.0 * (double)c->n * (double)c->m * (double)c->p * (double)batch / seconds * 1e-9;
}

/* Best time of the portable C kernels (anyshape: of the shape-generic kernels) among the
 * timings (NAN if none applied or was timed). */
static double best_of(const bmm__timing *log, size_t n, int anyshape)
{
    double t = NAN;
    for (size_t i = 0; i < n; i++)
        if (log[i].kernel && !log[i].wrong
            && (anyshape ? !bmm__specialized(log[i].kernel) : log[i].kernel->isa == BMM_ISA_C99)
            && log[i].how == BMM__TIMED && !(log[i].seconds >= t))
            t = log[i].seconds;
    return t;
}

/* Planned from wisdom, there was no search: time the figures of the table (the chosen kernel,
 * the generic path and the portable C kernels) on the case's own operands. */
static bmm__timings time_figures(const bmm__problem *pr, const bmm_call *c,
    const bmm_kernel_desc *chosen, const void *A, const void *B, void *C, int threads,
    int anyshape)
{
    size_t nc = bmm__candidates(c, NULL, 0), n = 0;
    const bmm_kernel_desc **cand = malloc((nc + 1) * sizeof *cand);
    bmm__timings t = { malloc((nc + 2) * sizeof *t.v), 0, pr->batch };
    if (!cand || !t.v) {
        free(cand);
        free(t.v);
        return (bmm__timings){ NULL, 0, 0 };
    }
    bmm__candidates(c, cand, nc);
    t.v[n++] = (bmm__timing){ NULL, bmm__time_kernel(NULL, pr, A, B, C, 0.01, threads), 0,
        BMM__TIMED };
    if (chosen)
        t.v[n++] = (bmm__timing){ chosen,
            bmm__time_kernel(chosen, pr, A, B, C, 0.01, threads), 0, BMM__TIMED };
    for (size_t i = 0; i < nc; i++)
        if ((cand[i]->isa == BMM_ISA_C99 || (anyshape && !bmm__specialized(cand[i])))
            && cand[i] != chosen)
            t.v[n++] = (bmm__timing){ cand[i],
                bmm__time_kernel(cand[i], pr, A, B, C, 0.01, threads), 0, BMM__TIMED };
    t.n = n;
    free(cand);
    return t;
}

static void print_candidates(const tcase *c, const bmm__timings *log,
    const bmm_kernel_desc *chosen, const bmm_kernel_desc *est)
{
    for (size_t i = 0; i < log->n; i++) {
        const char *name = log->v[i].kernel ? log->v[i].kernel->name : "generic";
        if (log->v[i].how == BMM__UNTIMED)
            fprintf(stderr, "\n    %-44s   untimed (the budget was spent)", name);
        else
            fprintf(stderr, "\n    %-44s %9.2f GFLOP/s%s%s%s", name,
                gflops_of(c, log->batch, log->v[i].seconds),
                log->v[i].how == BMM__PROBED ? "  (at most: one cold call on a few items, "
                                               "scaled; it could not win)" : "",
                log->v[i].kernel == chosen ? "  <- chosen" : "",
                log->v[i].wrong ? "  WRONG (disagrees with the generic path)" : "");
    }
    fprintf(stderr, "\n    static rule: %s\n", est ? est->name : "generic");
}

/* The row of the table from the timings of one case. */
static void summarize(const tcase *c, const bmm__choice *ch,
    const bmm_kernel_desc *est, result *r)
{
    double t_win = NAN, t_gen = NAN, t_est = NAN;
    const bmm__timings *log = &ch->log;
    for (size_t i = 0; i < log->n; i++) {
        if (log->v[i].kernel == ch->kernel)
            t_win = log->v[i].seconds;
        if (!log->v[i].kernel)
            t_gen = log->v[i].seconds;
        if (log->v[i].kernel == est)
            t_est = log->v[i].seconds;
    }
    snprintf(r->kernel, sizeof r->kernel, "%s", ch->kernel ? ch->kernel->name : "generic");
    if (ch->measured && r->searched < r->candidates)
        snprintf(r->source, sizeof r->source, "%.16s, %u of %u timed", ch->source,
            (unsigned)r->searched, (unsigned)r->candidates);
    else
        snprintf(r->source, sizeof r->source, "%s", ch->source);
    r->gflops = gflops_of(c, log->batch, t_win);
    r->vs_generic = t_gen / t_win;
    r->vs_c99 = best_of(log->v, log->n, 0) / t_win;
    r->vs_anyshape = best_of(log->v, log->n, 1) / t_win;
    r->estimate_same = r->estimate_close = -1;
    if (ch->measured) {
        r->estimate_same = est == ch->kernel;
        r->estimate_close = est == ch->kernel || t_est <= 1.1 * t_win;
    }
}

/* Plans one case as the library does (BMM_MEASURE: wisdom, else a measured search; on the
 * threads that pay, of at most want) and fills the row of the table. Returns 0 on success. */
/* Case c's problem: batch_opt items (0: what fills TARGET_BYTES), in its layout, checked. */
static bmm_status problem_of(const tcase *c, int64_t batch_opt, bmm__problem *pr)
{
    size_t es = (size_t)bmm__elem_bytes(c->dtype);
    /* in double: sizes given on the command line may be near 2^63 */
    double per = ((double)c->n * (double)c->m + (double)c->m * (double)c->p
                     + (double)c->n * (double)c->p) * (double)es;
    int64_t batch = batch_opt > 0 ? batch_opt : (int64_t)ceil(TARGET_BYTES / per);
    bmm_stride sa, sb, sc;
    if (c->layout == BMM_LAYOUT_BF) {
        sa = bmm_stride_batch_first(c->n, c->m);
        sb = bmm_stride_batch_first(c->m, c->p);
        sc = bmm_stride_batch_first(c->n, c->p);
    } else {
        sa = bmm_stride_seq_first(c->n, c->m, batch);
        sb = bmm_stride_seq_first(c->m, c->p, batch);
        sc = bmm_stride_seq_first(c->n, c->p, batch);
    }
    bmm__problem_init(pr, (bmm_dtype)c->dtype, batch, c->n, c->m, c->p, sa, sb, sc, 1.0, 0.0);
    return bmm__check_problem(pr);
}

/* A specialized kernel (shape compiled in) applies to the call on this CPU. */
static int has_specialized(const bmm_call *call)
{
    bmm__kernel_iter it = { 0, 0, 0 };
    for (const bmm_kernel_desc *k; (k = bmm__kernel_next(&it));)
        if (bmm__specialized(k) && bmm__kernel_applies(k, call))
            return 1;
    return 0;
}

static int run_case(const tcase *c, int64_t batch_opt, unsigned flags, int want, int verbose,
    result *r)
{
    bmm__problem pr;
    bmm_status st = problem_of(c, batch_opt, &pr);  /* first: the sizes below are then in range */
    if (st != BMM_OK) {
        fprintf(stderr, "bmm-tune: %s: %s\n", bmm_strerror(st), bmm_last_error());
        return 1;
    }
    int64_t batch = pr.batch, lo[3], hi[3];
    bmm__spans(&pr, lo, hi);
    void *A = alloc_random(hi[0] + 1, c->dtype), *B = alloc_random(hi[1] + 1, c->dtype);
    void *C = alloc_random(hi[2] + 1, c->dtype);
    bmm__choice ch = { NULL, "", 0, { NULL, 0, 0 } };
    int rc = 1;
    bmm_call call;
    st = !A || !B || !C ? bmm__fail(BMM_ENOMEM, "cannot allocate the operands") : BMM_OK;
    r->threads = bmm__threads_worth(c->dtype, batch, c->n, c->m, c->p, want);
    if (st == BMM_OK) {
        bmm__call_of(&pr, r->threads, &call);
        double t0 = seconds_now();
        st = bmm__choose(&pr, &call, flags, r->threads, &ch);
        r->plan_ms = ch.measured ? 1e3 * (seconds_now() - t0) : NAN;
        r->plan_total_ms = 1e3 * (seconds_now() - t0);
        bmm__generate_last(&r->gen);
    }
    if (st != BMM_OK) {
        fprintf(stderr, "bmm-tune: %s: %s\n", bmm_strerror(st), bmm_last_error());
        goto out;
    }
    if (!ch.log.n)
        ch.log = time_figures(&pr, &call, ch.kernel, A, B, C, r->threads,
            (flags & BMM_GENERATE) != 0);
    r->candidates = ch.log.n ? ch.log.n - 1 : 0;  /* (the last: the generic path) */
    for (size_t i = 0; i < r->candidates; i++)
        r->searched += ch.log.v[i].how == BMM__TIMED;
    for (size_t i = 0; i < ch.log.n; i++) {  /* what the table compares against, timed if the
                                              * budget left it untimed or only probed */
        const bmm_kernel_desc *k = ch.log.v[i].kernel;
        int figure = !k || k->isa == BMM_ISA_C99
            || ((flags & BMM_GENERATE) && !bmm__specialized(k));
        if (figure && ch.log.v[i].how != BMM__TIMED && !ch.log.v[i].wrong) {
            ch.log.v[i].seconds = bmm__time_kernel(k, &pr, A, B, C, 0.01, r->threads)
                * (double)ch.log.batch / (double)pr.batch;
            ch.log.v[i].how = BMM__TIMED;
        }
    }
    r->specialized = has_specialized(&call);
    const bmm_kernel_desc *est = bmm__estimate(&call);
    if (verbose)
        print_candidates(c, &ch.log, ch.kernel, est);
    summarize(c, &ch, est, r);
    rc = 0;
out:
    free(ch.log.v);
    free(A);
    free(B);
    free(C);
    return rc;
}

/* NxMxP, each a whole number >= 1; 0 if not. */
static int parse_shape(const char *a, int64_t shape[3])
{
    char buf[96], *save = NULL, *tok = buf;
    if (strlen(a) >= sizeof buf)
        return 0;
    snprintf(buf, sizeof buf, "%s", a);
    for (int d = 0; d < 3; d++, tok = NULL) {
        char *w = strtok_r(tok, "x", &save);
        if (!w || !(shape[d] = parse_size(w, INT64_MAX)))
            return 0;
    }
    return strtok_r(NULL, "x", &save) == NULL && a[strlen(a) - 1] != 'x' && !strstr(a, "xx");
}

typedef struct {
    int want_dtype, want_layout, nshapes, verbose, retune, force, threads, generate, clear_cache;
    int format;  /* TABLE, JSON or CSV */
    int64_t batch, shapes[256][3];
    const char *wisdom;
} options;

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    const char *table = NULL;
    o->wisdom = getenv("BMM_WISDOM");
    if (!o->wisdom || !*o->wisdom)
        o->wisdom = "bmm.wisdom";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int known = bmm_tool_kernels_option("bmm-tune", a, v, &table);
        if (known >= 0) {
            if (known)
                return 1;
            i++;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (!strcmp(a, "--json") || !strcmp(a, "--csv")) {
            o->format = a[2] == 'j' ? JSON : CSV;
        } else if (!strcmp(a, "--retune")) {
            o->retune = 1;
        } else if (!strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "--generate")) {
            o->generate = 1;
        } else if (!strcmp(a, "--clear-cache")) {
            o->clear_cache = 1;
        } else if (!strcmp(a, "--dtype") && v) {
            o->want_dtype = dtype_of(v);
            i++;
        } else if (!strcmp(a, "--layout") && v) {
            o->want_layout = !strcmp(v, "bf") ? BMM_LAYOUT_BF : !strcmp(v, "sf") ? BMM_LAYOUT_SF : -1;
            i++;
        } else if (!strcmp(a, "--batch") && v) {
            o->batch = parse_size(v, INT64_MAX);
            if (!o->batch)
                o->batch = -1;
            i++;
        } else if (!strcmp(a, "--wisdom") && v) {
            o->wisdom = v;
            i++;
        } else if (!strcmp(a, "--threads") && v) {
            o->threads = (int)parse_size(v, BMM_THREADS_MAX);
            if (!o->threads)
                o->threads = -1;
            i++;
        } else if (!strcmp(a, "--budget") && v) {
            setenv("BMM_TUNE_BUDGET_MS", v, 1);
            i++;
        } else if (!strcmp(a, "--cache-dir") && v) {
            setenv("BMM_CACHE_DIR", v, 1);  /* read at the first generation, after this */
            i++;
        } else if (parse_shape(a, o->shapes[o->nshapes]) && o->nshapes < 256) {
            o->nshapes++;
        } else {
            fprintf(stderr, "bmm-tune: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o->want_dtype < 0 || o->want_layout < 0 || o->batch < 0 || o->threads < 0) {
        fprintf(stderr, "bmm-tune: --dtype takes f32|f64, --layout bf|sf, --batch N >= 1, "
                        "--threads N in [1, %d]\n", BMM_THREADS_MAX);
        return 2;
    }
    if (o->generate && !o->nshapes) {
        fprintf(stderr, "bmm-tune: --generate needs shapes (NxMxP ...): the built-in ones have "
                        "specialized kernels already\n");
        return 2;
    }
    return -1;
}

static int wanted(const options *o, const tcase *c)
{
    return (!o->want_dtype || c->dtype == o->want_dtype)
        && (!o->want_layout || c->layout == o->want_layout);
}

/* The shapes given, else every shape, dtype and layout the kernel tables specialize for. */
static int build_cases(const options *o, tcase *cases)
{
    int ncases = 0;
    for (int d = 1; bmm__elem_bytes(d); d++)
        for (int s = 0; s < o->nshapes; s++)
            for (int l = BMM_LAYOUT_BF; l <= BMM_LAYOUT_SF; l++) {
                tcase c = { d, l, o->shapes[s][0], o->shapes[s][1], o->shapes[s][2] };
                if (wanted(o, &c) && ncases < MAX_CASES)
                    cases[ncases++] = c;
            }
    bmm__kernel_iter it = { 0, 0, 0 };
    for (const bmm_kernel_desc *k; !o->nshapes && (k = bmm__kernel_next(&it));) {
        tcase c = { k->dtype, k->layout, k->n, k->m, k->p };
        if (bmm__specialized(k) && wanted(o, &c) && !has_case(cases, ncases, &c) && ncases < MAX_CASES)
            cases[ncases++] = c;
    }
    return ncases;
}

/* Wisdom the search may reuse: the file's (with --retune measured again, then merged over
 * it). A file that cannot be imported (another CPU or kernel table, BMM_ARCH lowered, or
 * damaged) would lose its entries when the new wisdom is written: refused without --force.
 * Returns 0 to go on. */
static int load_wisdom(const options *o)
{
    bmm__wisdom_init();
    struct stat sb;
    if (lstat(o->wisdom, &sb) != 0 || (S_ISREG(sb.st_mode) && sb.st_size == 0))
        return 0;  /* (empty: made by another run's lock, not yet written) */
    int64_t imported, skipped;
    if (bmm_wisdom_import_file_counted(o->wisdom, &imported, &skipped) == BMM_OK) {
        fprintf(stderr, "bmm-tune: %lld wisdom entries imported from %s (%s)\n",
            (long long)imported, o->wisdom,
            o->retune ? "measuring again, then merging" : "--retune to measure again");
        if (skipped)
            fprintf(stderr, "bmm-tune: %lld entries name kernels this run does not have (another "
                "program's own; --kernels LIB.so loads them): kept in the file\n",
                (long long)skipped);
        return 0;
    }
    if (o->force) {
        fprintf(stderr, "bmm-tune: %s will be replaced (--force): %s\n", o->wisdom,
            bmm_last_error());
        return 0;
    }
    fprintf(stderr, "bmm-tune: %s cannot be merged into: %s\n"
        "bmm-tune: not replacing it; --force replaces it, --wisdom FILE writes elsewhere\n",
        o->wisdom, bmm_last_error());
    return 1;
}

typedef struct {
    int failed, done, measured, same, close, nc99, over, nany;
    double log_generic, log_c99, log_any, plan_ms[MAX_CASES];
} totals;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A JSON string (names and notes: printable ASCII but for what is escaped here). */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    putchar('"');
}

/* A figure, or JSON's null / CSV's empty field where there is none (never "nan"). */
static void figure(int format, double v)
{
    if (v == v)
        printf("%.4g", v);
    else if (format == JSON)
        printf("null");
}

static const char *const CSV_HEADER = "n,m,p,dtype,layout,kernel,gflops,vs_generic,vs_c99,"
    "chosen_by,timed,candidates,threads,plan_ms,static_rule_same,generated_kernels,vs_shape_generic";

/* One case as a JSON object of "cases" or a CSV row. */
static void print_record(int format, int first, const tcase *c, const result *r)
{
    const char *sep = format == JSON ? ", " : ",";
    if (format == JSON)
        printf("%s\n    {\"n\": %lld, \"m\": %lld, \"p\": %lld, \"dtype\": \"%s\", \"layout\": "
               "\"%s\", \"kernel\": \"%s\", \"gflops\": ", first ? "" : ",", (long long)c->n,
            (long long)c->m, (long long)c->p, DTYPE[c->dtype], LAYOUT[c->layout], r->kernel);
    else
        printf("%lld,%lld,%lld,%s,%s,%s,", (long long)c->n, (long long)c->m, (long long)c->p,
            DTYPE[c->dtype], LAYOUT[c->layout], r->kernel);
    const double figures[] = { r->gflops, r->vs_generic, r->vs_c99 };
    static const char *const names[] = { "gflops", "vs_generic", "vs_c99" };
    for (int i = 0; i < 3; i++) {
        if (format == JSON && i)
            printf("%s\"%s\": ", sep, names[i]);
        figure(format, figures[i]);
        if (format == CSV)
            printf(",");
    }
    char by[64];  /* "measured", "wisdom", ...: without the count the next fields give */
    snprintf(by, sizeof by, "%.*s", (int)strcspn(r->source, ","), r->source);
    if (format == JSON) {
        printf(", \"chosen_by\": ");
        json_string(by);
        printf(", \"timed\": %zu, \"candidates\": %zu, \"threads\": %d, \"plan_ms\": ",
            r->searched, r->candidates, r->threads);
    } else {
        printf("%s,%zu,%zu,%d,", by, r->searched, r->candidates, r->threads);
    }
    figure(format, r->plan_ms);
    if (format == JSON)
        printf(", \"static_rule_same\": %s", r->estimate_same < 0 ? "null"
            : r->estimate_same ? "true" : "false");
    else
        printf(",%s,", r->estimate_same < 0 ? "" : r->estimate_same ? "1" : "0");
    if (r->gen.source[0]) {
        printf(format == JSON ? ", \"generated_kernels\": %d, \"vs_shape_generic\": " : "%d,",
            r->gen.kernels);
        figure(format, r->vs_anyshape);
    } else if (format == CSV) {
        printf(",");
    }
    printf(format == JSON ? "}" : "\n");
}

static void add_row(totals *t, int format, const tcase *c, const char *shape, const result *r)
{
    t->done++;
    t->log_generic += log(r->vs_generic);
    if (r->vs_c99 == r->vs_c99) {
        t->log_c99 += log(r->vs_c99);
        t->nc99++;
    }
    if (r->estimate_same >= 0) {
        t->plan_ms[t->measured] = r->plan_ms;
        t->over += r->plan_ms > 1.2e3 * bmm__tune_budget();
        t->measured++;
        t->same += r->estimate_same;
        t->close += r->estimate_close;
    }
    if (r->gen.source[0] && r->vs_anyshape == r->vs_anyshape) {
        t->log_any += log(r->vs_anyshape);
        t->nany++;
    }
    if (format != TABLE) {
        print_record(format, t->done == 1, c, r);
        return;
    }
    char threads[32] = "";
    if (r->threads > 1)
        snprintf(threads, sizeof threads, ", %d threads", r->threads);
    char c99[16] = "       -";  /* no portable C kernel applies */
    if (r->vs_c99 == r->vs_c99)
        snprintf(c99, sizeof c99, "%7.2fx", r->vs_c99);
    printf("%-12s %-5s %-6s %-44s %8.2f %7.2fx %s  %s%s\n", shape, DTYPE[c->dtype],
        LAYOUT[c->layout], r->kernel, r->gflops, r->vs_generic, c99, r->source, threads);
    if (r->gen.source[0]) {  /* --generate */
        const bmm__generate_stats *g = &r->gen;
        double tune = r->plan_total_ms - g->generate_ms - g->compile_ms - g->load_ms
            - g->check_ms;
        printf("%-12s generated kernels (%s, %d): %.2fx the best shape-generic kernel; plan "
               "%.1f ms = generate %.1f + compile %.1f + load %.2f + verify %.2f + choose "
               "%.1f\n", "", g->source, g->kernels, r->vs_anyshape, r->plan_total_ms,
            g->generate_ms, g->compile_ms, g->load_ms, g->check_ms, tune > 0 ? tune : 0);
        if (!g->kernels && g->why[0])
            printf("%-12s %s\n", "", g->why);
    }
}

static void print_totals(totals *t, int format)
{
    double geo_generic = t->done ? exp(t->log_generic / t->done) : NAN;
    double geo_c99 = t->nc99 ? exp(t->log_c99 / t->nc99) : NAN;
    double geo_any = t->nany ? exp(t->log_any / t->nany) : NAN;
    if (t->measured)
        qsort(t->plan_ms, (size_t)t->measured, sizeof t->plan_ms[0], cmp_double);
    double median = t->measured ? t->plan_ms[t->measured / 2] : NAN;
    double longest = t->measured ? t->plan_ms[t->measured - 1] : NAN;
    if (format == JSON) {
        printf("\n  ],\n  \"summary\": {\"cases\": %d, \"failed\": %d, \"geomean_vs_generic\": ",
            t->done, t->failed);
        figure(JSON, geo_generic);
        printf(", \"geomean_vs_c99\": ");
        figure(JSON, geo_c99);
        printf(", \"measured\": %d, \"static_rule_same\": %d, \"static_rule_within_10pct\": %d, "
               "\"geomean_generated_vs_shape_generic\": ", t->measured, t->same, t->close);
        figure(JSON, geo_any);
        printf(", \"plan_ms_median\": ");
        figure(JSON, median);
        printf(", \"plan_ms_longest\": ");
        figure(JSON, longest);
        printf("}\n}\n");
        return;
    }
    if (format != TABLE)
        return;
    if (t->done)
        printf("%d cases; geometric mean speedup over the generic path %.2fx, over the portable "
               "C kernels %.2fx\n", t->done, geo_generic, geo_c99);
    if (t->measured)
        printf("static rule (BMM_ESTIMATE) picked the measured winner in %d of %d cases, "
               "one within 10%% of it in %d\n", t->same, t->measured, t->close);
    if (t->nany)
        printf("generated kernels: geometric mean %.2fx the best shape-generic kernel over %d "
               "cases\n", geo_any, t->nany);
    if (t->measured)
        printf("measured plans: median %.1f ms, longest %.1f ms, budget %.0f ms; %d of %d took "
               "over 1.2x the budget\n", median, longest, 1e3 * bmm__tune_budget(), t->over,
            t->measured);
}

/* Writes the wisdom: under the file's lock, what another run wrote since this one read it
 * is kept (entries of kernels this program does not have included), this run's own choices over
 * it (they win where both measured). */
static bmm_status save_wisdom(const char *path)
{
    int lk = bmm__wisdom_file_lock(path);
    struct stat st;
    bmm__wisdom_file f, mine;
    bmm__wisdom_file_init(&f);
    if (lk >= 0 && fstat(lk, &st) == 0 && st.st_size > 0
        && (bmm__wisdom_file_read(&f, path) != BMM_OK
            || bmm__wisdom_file_cpu_check(&f, path, 0) != BMM_OK)) {
        fprintf(stderr, "bmm-tune: not merging %s as it is now: %s\n", path, bmm_last_error());
        bmm__wisdom_file_free(&f);
        bmm__wisdom_file_init(&f);
    }
    bmm_status rc = bmm__wisdom_snapshot(&mine);
    if (rc == BMM_OK && !bmm__wisdom_file_merge(&f, &mine))
        rc = bmm__fail(BMM_ENOMEM, "cannot merge the wisdom: out of memory");
    memcpy(f.stepping, mine.stepping, sizeof f.stepping);  /* measured on this one */
    if (rc == BMM_OK)
        rc = bmm__wisdom_file_write(&f, path);
    bmm__wisdom_file_free(&f);
    bmm__wisdom_file_free(&mine);
    if (lk >= 0)
        close(lk);  /* closing drops the lock */
    return rc;
}

int main(int argc, char **argv)
{
    static tcase cases[MAX_CASES];
    static options o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.clear_cache) {
        if (bmm_cache_clear() != BMM_OK) {
            fprintf(stderr, "bmm-tune: %s\n", bmm_last_error());
            return 1;
        }
        fprintf(stderr, "bmm-tune: generation cache cleared\n");
        return 0;
    }
    int ncases = build_cases(&o, cases);
    bar = isatty(STDERR_FILENO);
    bmm__generate_watch(compile_said);
    if (load_wisdom(&o) != 0)
        return 1;
    int want = o.threads ? o.threads : bmm_get_num_threads();
    fprintf(stderr, "bmm-tune: %d cases on CPU %s, up to %d thread%s (cases with too little "
                    "work run on fewer)\n", ncases, bmm__cpu_signature(), want, want > 1 ? "s" : "");
    if (o.format == TABLE)
        printf("%-12s %-5s %-6s %-44s %8s %8s %8s  %s\n", "shape", "dtype", "layout", "kernel",
            "GFLOP/s", "vs gen", "vs c99", "from");
    else if (o.format == CSV)
        printf("%s\n", CSV_HEADER);
    else
        printf("{\n  \"cpu\": \"%s\",\n  \"stepping\": \"%s\",\n  \"threads\": %d,\n  "
               "\"budget_ms\": %.0f,\n  \"cases\": [", bmm__cpu_class(), bmm__cpu_stepping(),
            want, 1e3 * bmm__tune_budget());
    static totals t;
    char unspecialized[1024] = "";  /* shapes that ran shape-generic kernels: " a b c " */
    for (int i = 0; i < ncases; i++) {
        const tcase *c = &cases[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)c->n, (long long)c->m,
            (long long)c->p);
        progress(i, ncases, shape);
        result r;
        memset(&r, 0, sizeof r);
        r.specialized = 1;  /* a failed case is not listed as unspecialized */
        unsigned flags = BMM_MEASURE | (o.retune ? BMM__RETUNE : 0u) | (o.generate ? BMM_GENERATE : 0u);
        if (run_case(c, o.batch, flags, want, o.verbose, &r) != 0)
            t.failed++;
        else
            add_row(&t, o.format, c, shape, &r);
        fflush(stdout);
        char spaced[52];  /* " 3x4x5 ", so that 3x4x5 is not found in 13x4x5 */
        snprintf(spaced, sizeof spaced, " %s ", shape);
        size_t used = strlen(unspecialized);
        if (!r.specialized && !strstr(unspecialized, spaced)
            && used + strlen(spaced) < sizeof unspecialized)
            snprintf(unspecialized + used, sizeof unspecialized - used, "%s", spaced + !!used);
    }
    progress(ncases, ncases, "done");
    if (bar)
        fprintf(stderr, "\n");
    print_totals(&t, o.format);
    if (*unspecialized && !o.generate) {  /* with --generate, each row's note says why */
        int len = (int)strlen(unspecialized) - 2;  /* without the spaces around */
        fprintf(o.format == TABLE ? stdout : stderr, "no specialized kernels for %.*s: shape-generic ones ran. To have them: "
               "bmm-tune --generate %.*s (compiled now, cached for every program of this user; "
               "BMM_GENERATE=1 in a program does the same), or build them into the program "
               "(CMake: bmm_generate_kernels(TARGET SHAPES ...))\n", len, unspecialized + 1,
            len, unspecialized + 1);
    }
    bmm_status st = save_wisdom(o.wisdom);
    if (st != BMM_OK) {
        fprintf(stderr, "bmm-tune: %s\n", bmm_last_error());
        return 1;
    }
    fprintf(stderr, "bmm-tune: wisdom written to %s\n", o.wisdom);
    return t.failed ? 1 : 0;
}
