/* test_wisdom_env.c MODE: the environment, read once per process, so one mode per run.
 *   plan    BMM_WISDOM names a file imported at the first plan; it chooses a kernel the static
 *           rule would not (the b0 form for alpha = 1), so its use is visible
 *   forget  the first call is a forget: the file is imported first, then forgotten
 *   export  the first call is an export: it writes the file's entry
 *   bad     BMM_WISDOM names a FIFO: refused without blocking, and bmm_last_error() stays ""
 *   system  BMM_SYSTEM_WISDOM names a file imported first, then BMM_WISDOM's over it;
 *           bmm_import_system_wisdom() imports it again; an empty name means none
 *   arch    BMM_ARCH=bogus admits no vector ISA; bad BMM_TUNE_BUDGET_MS values are refused */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static const char *mode;
static char path[256];

static bmm_status plan_4x4x4(unsigned flags, char *kernel, size_t len)
{
    bmm_plan *plan = NULL;
    bmm_stride s = bmm_stride_batch_first(4, 4);
    bmm_status st = bmm_plan_create(&plan, BMM_F32, 8, 4, 4, 4, s, s, s, 1, 0, flags);
    if (kernel)
        snprintf(kernel, len, "%s", st == BMM_OK ? bmm_plan_kernel(plan) : "");
    bmm_plan_destroy(plan);
    return st;
}

/* A file choosing kernel for f32 4x4x4, named by the variable var. */
static void write_wisdom_to(const char *file, const char *var, const char *kernel)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f, "bmmgen-wisdom 4\ncpu %s\nstepping %s\n"
               "entry f32 4 4 4 bf bf bf cache one a1b0 %s\nend 1\n",
        bmm__cpu_class(), bmm__cpu_stepping(), kernel);
    fclose(f);
    setenv(var, file, 1);
}

static void write_wisdom(void)
{
    write_wisdom_to(path, "BMM_WISDOM", "bmm_f32_4x4x4_bf_c99_b0");
}

static void test_env(void **state)
{
    (void)state;
    char kernel[128];
    if (strcmp(mode, "plan") == 0) {
        write_wisdom();
        assert_int_equal(plan_4x4x4(BMM_WISDOM_ONLY, kernel, sizeof kernel), BMM_OK);
        assert_string_equal(kernel, "bmm_f32_4x4x4_bf_c99_b0");
    } else if (strcmp(mode, "forget") == 0) {
        write_wisdom();
        bmm_wisdom_forget();
        assert_int_equal(plan_4x4x4(BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
    } else if (strcmp(mode, "export") == 0) {
        write_wisdom();
        char out[300];
        snprintf(out, sizeof out, "%s.out", path);
        assert_int_equal(bmm_wisdom_export_file(out), BMM_OK);
        FILE *f = fopen(out, "r");
        char text[4096] = "";
        assert_non_null(f);
        assert_true(fread(text, 1, sizeof text - 1, f) > 0);
        fclose(f);
        remove(out);
        assert_non_null(strstr(text, "bmm_f32_4x4x4_bf_c99_b0"));
    } else if (strcmp(mode, "system") == 0) {
        char sys[300];
        snprintf(sys, sizeof sys, "%s.system", path);
        write_wisdom_to(sys, "BMM_SYSTEM_WISDOM", "bmm_f32_4x4x4_bf_c99_b0");
        write_wisdom_to(path, "BMM_WISDOM", "generic");
        assert_int_equal(plan_4x4x4(BMM_WISDOM_ONLY, kernel, sizeof kernel), BMM_OK);
        assert_string_equal(kernel, "generic");  /* the user's file over the machine's */
        assert_int_equal(bmm_import_system_wisdom(), BMM_OK);
        assert_int_equal(plan_4x4x4(BMM_WISDOM_ONLY, kernel, sizeof kernel), BMM_OK);
        assert_string_equal(kernel, "bmm_f32_4x4x4_bf_c99_b0");
        remove(sys);
        assert_int_equal(bmm_import_system_wisdom(), BMM_EIO);
        assert_non_null(strstr(bmm_last_error(), sys));
        setenv("BMM_SYSTEM_WISDOM", "", 1);
        assert_int_equal(bmm_import_system_wisdom(), BMM_EIO);
        assert_non_null(strstr(bmm_last_error(), "BMM_SYSTEM_WISDOM is empty"));
    } else if (strcmp(mode, "bad") == 0) {
        assert_int_equal(mkfifo(path, 0600), 0);
        setenv("BMM_WISDOM", path, 1);
        assert_int_equal(plan_4x4x4(BMM_ESTIMATE, kernel, sizeof kernel), BMM_OK);
        assert_string_equal(bmm_last_error(), "");
    } else {
        setenv("BMM_ARCH", "bogus", 1);
        assert_int_equal(bmm__cpu_max_isa(), BMM_ISA_C99);
        assert_int_equal(plan_4x4x4(BMM_ESTIMATE, kernel, sizeof kernel), BMM_OK);
        assert_non_null(strstr(kernel, "_c99_"));
        const char *refused[] = { "inf", "nan", "-5", "0", "1e9", "abc", "5ms", "" };
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
            setenv("BMM_TUNE_BUDGET_MS", refused[i], 1);
            assert_true(bmm__tune_budget() == 0.05);
        }
        setenv("BMM_TUNE_BUDGET_MS", "10", 1);
        assert_true(bmm__tune_budget() == 0.01);
    }
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "plan";
    snprintf(path, sizeof path, "test_wisdom_env.%s.%ld.txt", mode, (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),
    };
    int rc = cmocka_run_group_tests_name(mode, tests, NULL, NULL);
    remove(path);
    return rc;
}
