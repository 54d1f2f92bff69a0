/* bmm-tune: the main job. Plans every shape of the kernel table (or those named on the
 * command line) by measurement on this machine, prints what was chosen and how fast, and
 * writes the wisdom file. Shapes the wisdom file already answers are planned without timing
 * the search (only the figures of the table are measured). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"

#define MAX_CASES 4096
#define TARGET_BYTES (256 << 10)  /* in-cache regime: operands take about 256 KiB */

typedef struct {
    int dtype, layout;
    int64_t n, m, p;
} tcase;

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
        "  --retune             measure again even where the wisdom file has an answer\n"
        "  -v                   print every candidate's GFLOP/s\n");
}

static int fopen_ok(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f)
        fclose(f);
    return f != NULL;
}

/* A progress bar on stderr (the table goes to stdout). */
static void progress(int i, int n, const char *what)
{
    int w = 30, filled = n ? i * w / n : w;
    fprintf(stderr, "\r[%.*s%*s] %3d/%3d %-14s", filled, "##############################",
        w - filled, "", i, n, what);
}

static int has_case(const tcase *cs, int n, const tcase *c)
{
    for (int i = 0; i < n; i++)
        if (cs[i].dtype == c->dtype && cs[i].layout == c->layout && cs[i].n == c->n
            && cs[i].m == c->m && cs[i].p == c->p)
            return 1;
    return 0;
}

static void *alloc_random(int64_t elems, size_t es)
{
    void *p = malloc((size_t)elems * es);
    if (!p)
        return NULL;
    for (int64_t i = 0; i < elems; i++) {
        double v = (double)rand() / RAND_MAX - 0.5;
        if (es == 4)
            ((float *)p)[i] = (float)v;
        else
            ((double *)p)[i] = v;
    }
    return p;
}

typedef struct {
    char kernel[128];
    const char *source;      /* "measured" or "wisdom" */
    double gflops, vs_generic, vs_c99;  /* vs_c99: NAN when no portable kernel applies */
    int estimate_same;       /* the static rule picked the same kernel (-1: not measured) */
    int estimate_close;      /* ... or one within 10% of its speed */
} result;

static double gflops_of(const tcase *c, int64_t batch, double seconds)
{
    return 2.0 * (double)c->n * (double)c->m * (double)c->p * (double)batch / seconds * 1e-9;
}

/* Best time of the portable C kernels among the timings (NAN if none applied). */
static double best_c99(const bmm__timing *log, size_t n)
{
    double t = NAN;
    for (size_t i = 0; i < n; i++)
        if (log[i].kernel && log[i].kernel->isa == BMM_ISA_C99 && !log[i].wrong
            && !(log[i].seconds >= t))
            t = log[i].seconds;
    return t;
}

/* Returns 0 on success; fills the row of the table. */
static int run_case(const tcase *c, int64_t batch_opt, int verbose, int retune, result *r)
{
    size_t es = c->dtype == BMM_F32 ? 4 : 8;
    int64_t per = (c->n * c->m + c->m * c->p + c->n * c->p) * (int64_t)es;
    int64_t batch = batch_opt > 0 ? batch_opt : (TARGET_BYTES + per - 1) / per;
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
    void *A = alloc_random(batch * c->n * c->m, es), *B = alloc_random(batch * c->m * c->p, es);
    void *C = alloc_random(batch * c->n * c->p, es);
    int rc = 1;
    if (!A || !B || !C) {
        fprintf(stderr, "bmm-tune: out of memory\n");
        goto out;
    }
    bmm__problem pr;
    bmm__problem_init(&pr, (bmm_dtype)c->dtype, batch, c->n, c->m, c->p, sa, sb, sc, 1.0, 0.0);
    bmm_status st = bmm__check_problem(&pr);
    if (st != BMM_OK) {
        fprintf(stderr, "bmm-tune: %s: %s\n", bmm_strerror(st), bmm_last_error());
        goto out;
    }
    const bmm_kernel_desc *kd = NULL;
    bmm__timing log[64];
    size_t nlog = 0;
    r->estimate_same = r->estimate_close = -1;
    if (!retune && bmm__wisdom_lookup(&pr, &kd)) {
        /* planned from wisdom: no search, only the figures for the table */
        r->source = "wisdom";
        const bmm_kernel_desc *cand[64];
        size_t nc = bmm__candidates(&pr, cand, 64);
        log[nlog++] = (bmm__timing){ NULL, bmm__time_kernel(NULL, &pr, 1, 0, A, B, C, 0.01), 0 };
        if (kd)
            log[nlog++] = (bmm__timing){ kd, bmm__time_kernel(kd, &pr, 1, 0, A, B, C, 0.01), 0 };
        for (size_t i = 0; i < nc && nlog < 64; i++)
            if (cand[i]->isa == BMM_ISA_C99 && cand[i] != kd)
                log[nlog++] = (bmm__timing){ cand[i],
                    bmm__time_kernel(cand[i], &pr, 1, 0, A, B, C, 0.01), 0 };
    } else {
        r->source = "measured";
        st = bmm__measure(&pr, 1.0, 0.0, &kd, log, 64, &nlog);
        if (st != BMM_OK) {
            fprintf(stderr, "bmm-tune: %s: %s\n", bmm_strerror(st), bmm_last_error());
            goto out;
        }
        bmm__wisdom_record(&pr, kd);
    }
    double t_win = NAN, t_gen = NAN, t_est = NAN;
    const bmm_kernel_desc *est = bmm__estimate(&pr);
    for (size_t i = 0; i < nlog; i++) {
        if (log[i].kernel == kd)
            t_win = log[i].seconds;
        if (!log[i].kernel)
            t_gen = log[i].seconds;
        if (log[i].kernel == est)
            t_est = log[i].seconds;
    }
    if (verbose) {
        for (size_t i = 0; i < nlog; i++)
            fprintf(stderr, "\n    %-44s %9.2f GFLOP/s%s%s",
                log[i].kernel ? log[i].kernel->name : "generic",
                gflops_of(c, batch, log[i].seconds), log[i].kernel == kd ? "  <- chosen" : "",
                log[i].wrong ? "  WRONG (disagrees with the generic path)" : "");
        fprintf(stderr, "\n    static rule: %s\n", est ? est->name : "generic");
    }
    snprintf(r->kernel, sizeof r->kernel, "%s", kd ? kd->name : "generic");
    r->gflops = gflops_of(c, batch, t_win);
    r->vs_generic = t_gen / t_win;
    r->vs_c99 = best_c99(log, nlog) / t_win;
    if (!strcmp(r->source, "measured")) {
        r->estimate_same = est == kd;
        r->estimate_close = est == kd || t_est <= 1.1 * t_win;
    }
    rc = 0;
out:
    free(A);
    free(B);
    free(C);
    return rc;
}

int main(int argc, char **argv)
{
    static tcase cases[MAX_CASES];
    int ncases = 0, want_dtype = 0, want_layout = 0, nshapes = 0, verbose = 0, retune = 0;
    int64_t batch = 0, shapes[256][3];
    const char *wisdom = getenv("BMM_WISDOM");
    if (!wisdom || !*wisdom)
        wisdom = "bmm.wisdom";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n, m, p;
        char tail;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--retune")) {
            retune = 1;
        } else if (!strcmp(a, "--dtype") && v) {
            want_dtype = !strcmp(v, "f32") ? BMM_F32 : !strcmp(v, "f64") ? BMM_F64 : -1;
            i++;
        } else if (!strcmp(a, "--layout") && v) {
            want_layout = !strcmp(v, "bf") ? BMM_LAYOUT_BF : !strcmp(v, "sf") ? BMM_LAYOUT_SF : -1;
            i++;
        } else if (!strcmp(a, "--batch") && v) {
            batch = atoll(v);
            i++;
        } else if (!strcmp(a, "--wisdom") && v) {
            wisdom = v;
            i++;
        } else if (!strcmp(a, "--budget") && v) {
            setenv("BMM_TUNE_BUDGET_MS", v, 1);
            i++;
        } else if (sscanf(a, "%lldx%lldx%lld%c", &n, &m, &p, &tail) == 3 && n > 0 && m > 0
            && p > 0 && nshapes < 256) {
            shapes[nshapes][0] = n;
            shapes[nshapes][1] = m;
            shapes[nshapes][2] = p;
            nshapes++;
        } else {
            fprintf(stderr, "bmm-tune: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (want_dtype < 0 || want_layout < 0 || batch < 0) {
        fprintf(stderr, "bmm-tune: --dtype takes f32|f64, --layout bf|sf, --batch N >= 1\n");
        return 2;
    }
    if (nshapes) {
        for (int d = BMM_F32; d <= BMM_F64; d++)
            for (int s = 0; s < nshapes; s++)
                for (int l = BMM_LAYOUT_BF; l <= BMM_LAYOUT_SF; l++) {
                    tcase c = { d, l, shapes[s][0], shapes[s][1], shapes[s][2] };
                    if ((!want_dtype || d == want_dtype) && (!want_layout || l == want_layout)
                        && ncases < MAX_CASES)
                        cases[ncases++] = c;
                }
    } else {
        for (size_t i = 0, nk = bmm__kernel_count(); i < nk; i++) {
            const bmm_kernel_desc *k = bmm__kernel_at(i);
            tcase c = { k->dtype, k->layout, k->n, k->m, k->p };
            if ((!want_dtype || c.dtype == want_dtype) && (!want_layout || c.layout == want_layout)
                && !has_case(cases, ncases, &c) && ncases < MAX_CASES)
                cases[ncases++] = c;
        }
    }
    if (!retune && fopen_ok(wisdom)) {
        if (bmm_wisdom_import_file(wisdom) == BMM_OK)
            fprintf(stderr, "bmm-tune: wisdom imported from %s (--retune to measure again)\n",
                wisdom);
        else
            fprintf(stderr, "bmm-tune: ignoring %s: %s\n", wisdom, bmm_last_error());
    }
    fprintf(stderr, "bmm-tune: %d cases on CPU %s\n", ncases, bmm__cpu_signature());
    printf("%-12s %-5s %-6s %-44s %8s %8s %8s  %s\n", "shape", "dtype", "layout", "kernel",
        "GFLOP/s", "vs gen", "vs c99", "from");
    int failed = 0, done = 0, measured = 0, same = 0, close = 0, nc99 = 0;
    double log_generic = 0, log_c99 = 0;
    for (int i = 0; i < ncases; i++) {
        const tcase *c = &cases[i];
        char shape[48];
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)c->n, (long long)c->m,
            (long long)c->p);
        progress(i, ncases, shape);
        result r;
        if (run_case(c, batch, verbose, retune, &r) != 0) {
            failed++;
            continue;
        }
        done++;
        log_generic += log(r.vs_generic);
        if (r.vs_c99 == r.vs_c99) {
            log_c99 += log(r.vs_c99);
            nc99++;
        }
        if (r.estimate_same >= 0) {
            measured++;
            same += r.estimate_same;
            close += r.estimate_close;
        }
        printf("%-12s %-5s %-6s %-44s %8.2f %7.2fx %7.2fx  %s\n", shape,
            c->dtype == BMM_F32 ? "f32" : "f64", c->layout == BMM_LAYOUT_BF ? "bf" : "sf",
            r.kernel, r.gflops, r.vs_generic, r.vs_c99, r.source);
        fflush(stdout);
    }
    progress(ncases, ncases, "done");
    fprintf(stderr, "\n");
    if (done)
        printf("%d cases; geometric mean speedup over the generic path %.2fx, over the portable "
               "C kernels %.2fx\n", done, exp(log_generic / done), nc99 ? exp(log_c99 / nc99) : NAN);
    if (measured)
        printf("static rule (BMM_ESTIMATE) picked the measured winner in %d of %d cases, "
               "one within 10%% of it in %d\n", same, measured, close);
    bmm_status st = bmm_wisdom_export_file(wisdom);
    if (st != BMM_OK) {
        fprintf(stderr, "bmm-tune: %s\n", bmm_last_error());
        return 1;
    }
    fprintf(stderr, "bmm-tune: wisdom written to %s\n", wisdom);
    return failed ? 1 : 0;
}
