/* bmm-tune: the main job. Plans every shape of the kernel table (or those named on the
 * command line) with BMM_MEASURE on this machine, prints what was chosen and how fast, and
 * writes the wisdom file. */
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
        "  --budget MS          tuning time budget per plan (default 50)\n");
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

/* Returns 0 on success; fills the row of the table. */
static int run_case(const tcase *c, int64_t batch_opt, char *kernel, size_t klen, double *gflops,
    double *speedup)
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
    bmm_plan *tuned = NULL, *generic = NULL;
    void *A = alloc_random(batch * c->n * c->m, es), *B = alloc_random(batch * c->m * c->p, es);
    void *C = alloc_random(batch * c->n * c->p, es);
    int rc = 1;
    if (!A || !B || !C) {
        fprintf(stderr, "bmm-tune: out of memory\n");
        goto out;
    }
    bmm_status st = bmm_plan_create(&tuned, (bmm_dtype)c->dtype, batch, c->n, c->m, c->p, sa, sb,
        sc, 1.0, 0.0, BMM_MEASURE);
    if (st == BMM_OK)
        st = bmm_plan_create(&generic, (bmm_dtype)c->dtype, batch, c->n, c->m, c->p, sa, sb, sc,
            1.0, 0.0, BMM_GENERIC_ONLY);
    if (st != BMM_OK) {
        fprintf(stderr, "bmm-tune: %s: %s\n", bmm_strerror(st), bmm_last_error());
        goto out;
    }
    bmm__problem pr;
    bmm__problem_init(&pr, (bmm_dtype)c->dtype, batch, c->n, c->m, c->p, sa, sb, sc, 1.0, 0.0);
    const bmm_kernel_desc *kd = bmm__kernel_by_name(bmm_plan_kernel(tuned));
    double t = bmm__time_kernel(kd, &pr, 1.0, 0.0, A, B, C, 0.02);
    double tg = bmm__time_kernel(NULL, &pr, 1.0, 0.0, A, B, C, 0.02);
    snprintf(kernel, klen, "%s", bmm_plan_kernel(tuned));
    *gflops = 2.0 * (double)c->n * (double)c->m * (double)c->p * (double)batch / t * 1e-9;
    *speedup = tg / t;
    rc = 0;
out:
    bmm_plan_destroy(tuned);
    bmm_plan_destroy(generic);
    free(A);
    free(B);
    free(C);
    return rc;
}

int main(int argc, char **argv)
{
    static tcase cases[MAX_CASES];
    int ncases = 0, want_dtype = 0, want_layout = 0, nshapes = 0;
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
    fprintf(stderr, "bmm-tune: %d cases on CPU %s\n", ncases, bmm__cpu_signature());
    printf("%-12s %-5s %-6s %-40s %9s %9s\n", "shape", "dtype", "layout", "kernel", "GFLOP/s",
        "vs generic");
    int failed = 0, done = 0;
    double log_speedup = 0;
    for (int i = 0; i < ncases; i++) {
        const tcase *c = &cases[i];
        fprintf(stderr, "\r[%3d/%3d] %lldx%lldx%lld          ", i + 1, ncases, (long long)c->n,
            (long long)c->m, (long long)c->p);
        char kernel[128], shape[48];
        double gf, sp;
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)c->n, (long long)c->m,
            (long long)c->p);
        if (run_case(c, batch, kernel, sizeof kernel, &gf, &sp) != 0) {
            failed++;
            continue;
        }
        done++;
        log_speedup += log(sp);
        printf("%-12s %-5s %-6s %-40s %9.2f %8.2fx\n", shape, c->dtype == BMM_F32 ? "f32" : "f64",
            c->layout == BMM_LAYOUT_BF ? "bf" : "sf", kernel, gf, sp);
        fflush(stdout);
    }
    fprintf(stderr, "\n");
    if (done)
        printf("%d cases tuned; geometric mean speedup over the generic path: %.2fx\n", done,
            exp(log_speedup / done));
    bmm_status st = bmm_wisdom_export_file(wisdom);
    if (st != BMM_OK) {
        fprintf(stderr, "bmm-tune: %s\n", bmm_last_error());
        return 1;
    }
    fprintf(stderr, "bmm-tune: wisdom written to %s\n", wisdom);
    return failed ? 1 : 0;
}
