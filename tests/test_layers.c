/* test_layers.c: the lower runtime layers stand alone. Linked without plan.c and tune.c (CMake
 * builds it from the core objects only, so a call up into the planner fails to link), it checks
 * that registry and wisdom work there, and that every change of configuration (a table
 * registered, wisdom recorded, imported or forgotten) bumps the epoch the planner compares,
 * while recording the same choice again does not. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const bmm_kernel_desc *first_applying(const bmm_call *c)
{
    const bmm_kernel_desc *k = NULL;
    return bmm__candidates(c, &k, 1) ? k : NULL;
}

static void wisdom_without_planner(void **state)
{
    (void)state;
    bmm__problem pr;
    bmm_stride s = bmm_stride_batch_first(4, 4);
    bmm__problem_init(&pr, BMM_F32, 8, 4, 4, 4, s, s, s, 1, 0);
    assert_int_equal(bmm__check_problem(&pr), BMM_OK);
    bmm_call c;
    bmm__call_of(&pr, 1, &c);
    const bmm_kernel_desc *k = first_applying(&c), *got = NULL;
    assert_non_null(k);
    assert_non_null(bmm__estimate(&c));

    unsigned e0 = bmm__config_epoch();
    bmm__wisdom_record(&c, k);
    unsigned e1 = bmm__config_epoch();
    assert_true(e1 != e0);
    bmm__wisdom_record(&c, k);  /* the same choice again: nothing cached goes stale */
    assert_int_equal(bmm__config_epoch(), e1);
    assert_true(bmm__wisdom_lookup(&c, &got));
    assert_ptr_equal(got, k);

    char path[64];
    snprintf(path, sizeof path, "test_layers.%ld.wisdom", (long)getpid());
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    bmm_wisdom_forget();
    unsigned e2 = bmm__config_epoch();
    assert_true(e2 != e1);
    assert_false(bmm__wisdom_lookup(&c, &got));
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    assert_true(bmm__config_epoch() != e2);
    assert_true(bmm__wisdom_lookup(&c, &got));
    assert_ptr_equal(got, k);
    remove(path);
}

static void f32_2x2x2(const bmm_args *g)
{
    (void)g;
}

static void registering_bumps_the_epoch(void **state)
{
    (void)state;
    static const bmm_kernel_desc ks[] = {
        { "layers_f32_2x2x2_bf_c99_ab", BMM_F32, 2, 2, 2, BMM_LAYOUT_BF, BMM_ISA_C99,
            BMM_SCALARS_AB, BMM_FORM_UNROLL, 0, 0, 1, 0, 0, f32_2x2x2 },
    };
    static const bmm_kernel_part part = { 1, ks };
    static const bmm_kernel_table t = { BMM_KERNEL_ABI, "layers", "0", "0", 1, &part };
    unsigned e0 = bmm__config_epoch();
    assert_int_equal(bmm_register_kernels(&t), BMM_OK);
    unsigned e1 = bmm__config_epoch();
    assert_true(e1 != e0);
    assert_int_equal(bmm_register_kernels(&t), BMM_OK);  /* again: no change */
    assert_int_equal(bmm__config_epoch(), e1);
    assert_ptr_equal(bmm__kernel_by_name("layers_f32_2x2x2_bf_c99_ab"), &ks[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wisdom_without_planner),
        cmocka_unit_test(registering_bumps_the_epoch),
    };
    return cmocka_run_group_tests_name("layers", tests, NULL, NULL);
}
