/* test_kernels.c: every generated kernel against the generic path. One cmocka test per
 * table entry; `test_kernels NAME` runs one (CTest lists one test per kernel; exit 77, a
 * skip, when the CPU or BMM_ARCH does not admit the kernel's ISA).
 * Each kernel runs on batch 1 and an odd batch, every alpha/beta its form accepts, its own
 * layout (seq-first also with padded rows), A or B broadcast over the batch, and, for
 * beta == 0, a C full of NaN that must not leak into the result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void run_one(const bmm_kernel_desc *k, int64_t batch, int layout, int broadcast,
    double alpha, double beta, unsigned seed)
{
    char what[256];
    unsigned s = seed;
    bmm_stride sa = th_stride(layout, k->n, k->m, batch, &s);
    bmm_stride sb = th_stride(layout, k->m, k->p, batch, &s);
    bmm_stride sc = th_stride(layout, k->n, k->p, batch, &s);
    if (broadcast == 1)
        sa.batch = 0;
    if (broadcast == 2)
        sb.batch = 0;
    th_case tc;
    th_case_init(&tc, (bmm_dtype)k->dtype, batch, k->n, k->m, k->p, sa, sb, sc, alpha, beta,
        seed, beta == 0);
    snprintf(what, sizeof what, "%s (layout %d, broadcast %d)", k->name, layout, broadcast);
    if (!bmm__kernel_applies(k, &tc.pr)) {
        print_error("%s does not apply to its own layout\n", what);
        fail();
    }
    bmm__run(NULL, &tc.pr, alpha, beta, tc.A, tc.B, tc.C);  /* test_generic checks it */
    void *want = th_copy_c(&tc);
    th_case_reset(&tc);
    bmm__run(k, &tc.pr, alpha, beta, tc.A, tc.B, tc.C);
    th_check(&tc, want, 4.0, what);
    free(want);
    th_case_free(&tc);
}

static void test_kernel(void **state)
{
    const bmm_kernel_desc *k = *state;
    static const double ab[][2] = { { 0.5, -1.25 }, { 1.0, 1.0 }, { -2.0, 0.75 } };
    static const double b0[][2] = { { 1.0, 0.0 }, { -1.5, 0.0 }, { 0.0, 0.0 } };
    const double (*scal)[2] = k->scalars == BMM_SCALARS_AB ? ab : b0;
    int nscal = k->scalars == BMM_SCALARS_A1B0 ? 1 : 3;
    int layouts[2] = { k->layout == BMM_LAYOUT_BF ? TH_BF : TH_SF,
                       k->layout == BMM_LAYOUT_BF ? TH_BF : TH_SF_PADDED };
    static const int64_t batches[] = { 1, 37 };
    unsigned seed = 1;
    for (int b = 0; b < 2; b++)
        for (int l = 0; l < 2; l++)
            for (int s = 0; s < nscal; s++)
                run_one(k, batches[b], layouts[l], 0, scal[s][0], scal[s][1], seed++);
    run_one(k, 5, layouts[0], 1, scal[0][0], scal[0][1], seed++);
    run_one(k, 5, layouts[0], 2, scal[0][0], scal[0][1], seed++);
}

int main(int argc, char **argv)
{
    size_t nk = bmm__kernel_count();
    struct CMUnitTest *tests = calloc(nk, sizeof *tests);
    size_t nt = 0, skipped = 0;
    for (size_t i = 0; i < nk; i++) {
        const bmm_kernel_desc *k = bmm__kernel_at(i);
        if (argc > 1 && strcmp(argv[1], k->name) != 0)
            continue;
        if (!bmm__cpu_admits(k->isa)) {
            fprintf(stderr, "%s: skipped: this CPU (or BMM_ARCH) does not admit its ISA\n",
                k->name);
            skipped++;
            continue;
        }
        struct CMUnitTest t = { k->name, test_kernel, NULL, NULL, (void *)k };
        tests[nt++] = t;
    }
    if (nt == 0 && skipped) {
        free(tests);
        return 77;
    }
    if (nt == 0) {
        fprintf(stderr, "no kernel named %s\n", argc > 1 ? argv[1] : "(any)");
        free(tests);
        return 1;
    }
    int rc = _cmocka_run_group_tests("kernels", tests, nt, NULL, NULL);
    free(tests);
    return rc;
}
