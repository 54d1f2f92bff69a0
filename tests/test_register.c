/* test_register.c: bmm_register_kernels, the public way to add kernels generated for other
 * shapes: malformed tables are refused, a good one is found by plans and one-shot calls (whose
 * cached choice it replaces), registering twice does nothing, wisdom's signature names it;
 * verifying a table (generation on demand's, before registering it) passes every built-in
 * kernel and names a wrong one. */
#include <stdio.h>
#include <string.h>

#include "bmm_table_default.h"
#include "harness.h"

static int calls;

/* A hand-written kernel for 1x2x3 f32 in the generated ABI, with a call counter. */
static void k_1x2x3(const bmm_args *g)
{
    calls++;
    const float alpha = (float)g->alpha, beta = (float)g->beta;
    for (int64_t t = 0; t < g->batch; t++) {
        const float *a = (const float *)g->A + t * g->sa_batch;
        const float *b = (const float *)g->B + t * g->sb_batch;
        float *c = (float *)g->C + t * g->sc_batch;
        for (int j = 0; j < 3; j++) {
            float v = alpha * (a[0] * b[j] + a[1] * b[3 + j]);
            c[j] = beta != 0 ? v + beta * c[j] : v;
        }
    }
}

static const bmm_kernel_desc kernels[] = {
    { "test_f32_1x2x3_bf_c99_ab", BMM_F32, 1, 2, 3, BMM_LAYOUT_BF, BMM_ISA_C99, BMM_SCALARS_AB,
        BMM_FORM_UNROLL, 0, 0, 1, 0, 0, k_1x2x3 },
    { "test_f32_1x2x3_bf_c99_b0", BMM_F32, 1, 2, 3, BMM_LAYOUT_BF, BMM_ISA_C99, BMM_SCALARS_B0,
        BMM_FORM_UNROLL, 0, 0, 1, 0, 0, k_1x2x3 },
};
static const bmm_kernel_part parts[] = { { 2, kernels } };
static const bmm_kernel_table extra = { BMM_KERNEL_ABI, "extra", "0.1.0", "0123456789abcdef", 1,
    parts };

static void malformed_tables_are_refused(void **state)
{
    (void)state;
    size_t before = bmm__kernel_count();
    assert_int_equal(bmm_register_kernels(NULL), BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "table"));
    bmm_kernel_table t = extra;
    t.nparts = -1;
    assert_int_equal(bmm_register_kernels(&t), BMM_EINVAL);
    bmm_kernel_desc bad[1] = { kernels[0] };
    bad[0].dtype = 7;
    bmm_kernel_part bad_part = { 1, bad };
    t = extra;
    t.parts = &bad_part;
    assert_int_equal(bmm_register_kernels(&t), BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "malformed"));
    bad[0] = kernels[0];
    bad[0].fn = NULL;  /* a portable C kernel must have its function */
    assert_int_equal(bmm_register_kernels(&t), BMM_EINVAL);
    bad[0] = kernels[0];
    bad[0].form = BMM_FORM_COUNT;  /* typed fields are checked too */
    assert_int_equal(bmm_register_kernels(&t), BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "malformed"));
    bad[0] = kernels[0];
    bad[0].needs = 1u << 7;
    assert_int_equal(bmm_register_kernels(&t), BMM_EINVAL);
    /* a table generated for another kernel ABI is refused, whole and clearly */
    t = extra;
    t.abi = BMM_KERNEL_ABI + 1;
    assert_int_equal(bmm_register_kernels(&t), BMM_EUNSUPPORTED);
    assert_non_null(strstr(bmm_last_error(), "kernel ABI"));
    assert_int_equal(bmm__kernel_count(), before);
}

static void registered_kernels_are_planned_and_called(void **state)
{
    (void)state;
    enum { BATCH = 5 };
    float A[BATCH * 2], B[BATCH * 6], C[BATCH * 3], want[BATCH * 3];
    for (int i = 0; i < BATCH * 2; i++)
        A[i] = (float)(i % 7) - 3;
    for (int i = 0; i < BATCH * 6; i++)
        B[i] = (float)(i % 5) - 2;
    for (int t = 0; t < BATCH; t++)
        for (int j = 0; j < 3; j++)
            want[t * 3 + j] = A[t * 2] * B[t * 6 + j] + A[t * 2 + 1] * B[t * 6 + 3 + j];
    bmm_stride sa = bmm_stride_batch_first(1, 2), sb = bmm_stride_batch_first(2, 3);
    bmm_stride sc = bmm_stride_batch_first(1, 3);

    /* before: the one-shot call caches the generic path for this shape */
    calls = 0;
    assert_int_equal(bmm_sgemm_strided(BATCH, 1, 2, 3, 1, A, sa, B, sb, 0, C, sc), BMM_OK);
    assert_int_equal(calls, 0);
    size_t before = bmm__kernel_count();

    assert_int_equal(bmm_register_kernels(&extra), BMM_OK);
    assert_int_equal(bmm__kernel_count(), before + 2);
    assert_int_equal(bmm_register_kernels(&extra), BMM_OK);  /* again: nothing changes */
    assert_int_equal(bmm__kernel_count(), before + 2);
    /* the public listing: the built-in kernels, then the new table's, then NULL */
    assert_null(bmm_kernel_at(-1));
    assert_non_null(bmm_kernel_at(0));
    assert_ptr_equal(bmm_kernel_at((int64_t)before), &kernels[0]);
    assert_ptr_equal(bmm_kernel_at((int64_t)before + 1), &kernels[1]);
    assert_null(bmm_kernel_at((int64_t)before + 2));
    assert_true(bmm_kernel_runs_here(bmm_kernel_at((int64_t)before)));  /* c99 */
    assert_false(bmm_kernel_runs_here(NULL));

    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, BATCH, 1, 2, 3, sa, sb, sc, 1, 0, BMM_ESTIMATE),
        BMM_OK);
    assert_string_equal(bmm_plan_kernel(plan), "test_f32_1x2x3_bf_c99_b0");
    memset(C, 0, sizeof C);
    assert_int_equal(bmm_execute(plan, A, B, C), BMM_OK);
    assert_int_equal(calls, 1);
    assert_memory_equal(C, want, sizeof C);
    bmm_plan_destroy(plan);

    /* the one-shot call's cached choice was dropped: it now runs the new kernel */
    memset(C, 0, sizeof C);
    assert_int_equal(bmm_sgemm_strided(BATCH, 1, 2, 3, 1, A, sa, B, sb, 0, C, sc), BMM_OK);
    assert_int_equal(calls, 2);
    assert_memory_equal(C, want, sizeof C);
}

/* k_1x2x3 with one product lost: what a miscompiled kernel does. */
static void k_1x2x3_wrong(const bmm_args *g)
{
    k_1x2x3(g);
    ((float *)g->C)[g->sc_batch + 2] = 0;
}

/* Every built-in kernel this CPU runs agrees with the generic path on the problem
 * bmm__verify_table makes for it (its shape, layout, operand order and form: generation on
 * demand verifies its tables so before registering them); a wrong kernel is named. */
static void verify_names_the_wrong_kernel(void **state)
{
    (void)state;
    char why[512] = "";
    int verified = 0, runs = 0;
    assert_true(bmm__verify_table(&bmm_table_default, &verified, why, sizeof why));
    for (int32_t i = 0; i < bmm_table_default.nparts; i++)
        for (int32_t j = 0; j < bmm_table_default.parts[i].count; j++)
            runs += bmm_kernel_runs_here(&bmm_table_default.parts[i].kernels[j]);
    assert_int_equal(verified, runs);
    assert_true(runs > 100);

    bmm_kernel_desc k[3] = { kernels[0], kernels[1], kernels[1] };
    k[1].fn = k_1x2x3_wrong;
    k[1].name = "test_f32_1x2x3_bf_c99_wrong";
    bmm_kernel_part part = { 3, k };
    bmm_kernel_table t = extra;
    t.parts = &part;
    verified = 0;
    assert_false(bmm__verify_table(&t, &verified, why, sizeof why));
    assert_int_equal(verified, 1);  /* stopped at the wrong one */
    assert_non_null(strstr(why, "test_f32_1x2x3_bf_c99_wrong disagrees with the generic path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(malformed_tables_are_refused),
        cmocka_unit_test(registered_kernels_are_planned_and_called),
        cmocka_unit_test(verify_names_the_wrong_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
