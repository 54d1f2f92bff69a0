/* test_kernels.c: every generated kernel against the generic path. One cmocka test per
 * table entry; `test_kernels NAME` runs one (CTest lists one test per kernel; exit 77, a
 * skip, when the CPU or BMM_ARCH does not admit the kernel's ISA).
 * Each kernel runs on batch 1 and an odd batch, alpha/beta values its form serves, its own
 * layout (seq-first also with padded rows), A or B broadcast over the batch (where its form
 * does not need adjacent batch items; there it must not apply), and, for beta == 0, a C full
 * of NaN that must not leak into the result. */
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
    bmm_call call;
    bmm__call_of(&tc.pr, &call);
    int applies = bmm__kernel_applies(k, &call);
    int should = !(broadcast && (k->needs & BMM_NEEDS_ADJACENT_ITEMS));
    if (applies != should) {
        print_error("%s %s\n", what, applies ? "applies although its form's needs are not met"
                                             : "does not apply to its own layout");
        fail();
    }
    if (!applies) {
        th_case_free(&tc);
        return;
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
    /* the values the kernel's alpha/beta form has not fixed take each of these */
    static const double alphas[] = { 0.5, 1.0, -1.5, 0.0 }, betas[] = { -1.25, 1.0, 0.75, 2.0 };
    const bmm_scalar_form *f = &bmm__scalar_forms[k->scalars];
    double scal[4][2];
    int nscal = f->fixes_alpha && f->fixes_beta ? 1 : 4;
    for (int s = 0; s < nscal; s++) {
        scal[s][0] = f->fixes_alpha ? f->alpha : alphas[s];
        scal[s][1] = f->fixes_beta ? f->beta : betas[s];
        assert_true(bmm__scalar_form_serves(k->scalars, scal[s][0], scal[s][1]));
    }
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
    struct CMUnitTest *tests = calloc(bmm__kernel_count(), sizeof *tests);
    size_t nt = 0, skipped = 0;
    bmm__kernel_iter it = { 0, 0, 0 };
    for (const bmm_kernel_desc *k; (k = bmm__kernel_next(&it));) {
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
