/* test_wisdom_env.c: BMM_WISDOM names a file imported at first use. The file chooses a
 * kernel the static rule would not (the b0 form for alpha = 1), so its use is visible. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static void test_env_file_used_at_first_use(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "test_wisdom_env.%ld.txt", (long)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "bmmgen-wisdom 1\ntable %s\ncpu %s\n"
               "entry f32 4 4 4 bf bf bf cache a1b0 bmm_f32_4x4x4_bf_c99_b0\nend 1\n",
        bmm__table_signature(), bmm__cpu_signature());
    fclose(f);
    setenv("BMM_WISDOM", path, 1);
    bmm_plan *plan = NULL;
    bmm_stride s = bmm_stride_batch_first(4, 4);
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 8, 4, 4, 4, s, s, s, 1, 0, BMM_WISDOM_ONLY),
        BMM_OK);
    assert_string_equal(bmm_plan_kernel(plan), "bmm_f32_4x4x4_bf_c99_b0");
    bmm_plan_destroy(plan);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_file_used_at_first_use),
    };
    return cmocka_run_group_tests_name("wisdom_env", tests, NULL, NULL);
}
