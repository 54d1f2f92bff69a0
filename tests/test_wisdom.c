/* test_wisdom.c: wisdom round trip, and files that are corrupt, truncated at every byte,
 * lenient-looking, or made on another CPU: rejected whole, wisdom in memory unchanged; entries
 * naming kernels this process lacks passed over, another stepping taken unless the exact one is
 * asked for, version 3 files read. Export never writes through a symlink and stays whole under concurrent export
 * and import; large files import in linear time; plans record only what they measured. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static char path[256];

static bmm_status plan_kernel(int64_t n, unsigned flags, char *out, size_t len)
{
    bmm_plan *plan = NULL;
    bmm_stride s = bmm_stride_batch_first(n, n);
    bmm_status st = bmm_plan_create(&plan, BMM_F64, 16, n, n, n, s, s, s, 1, 0, flags);
    if (out)
        snprintf(out, len, "%s", st == BMM_OK ? bmm_plan_kernel(plan) : "");
    bmm_plan_destroy(plan);
    return st;
}

static void write_text(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static char *read_text(size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1 << 16, 1);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

static void test_round_trip(void **state)
{
    (void)state;
    char k3[128], k4[128], got[128];
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_MEASURE, k3, sizeof k3), BMM_OK);
    assert_int_equal(plan_kernel(4, BMM_MEASURE, k4, sizeof k4), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, got, sizeof got), BMM_OK);
    assert_string_equal(got, k3);
    assert_int_equal(plan_kernel(4, BMM_WISDOM_ONLY, got, sizeof got), BMM_OK);
    assert_string_equal(got, k4);
    /* export again: the same text */
    size_t len1, len2;
    char *t1 = read_text(&len1);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    char *t2 = read_text(&len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(t1, t2, len1);
    free(t1);
    free(t2);
}

/* Memory holds wisdom for 3x3x3 only; a file that would add 5x5x5 must be rejected whole. */
static void expect_rejected(const char *text, size_t len, const char *needle)
{
    write_text(text, len);
    bmm_status st = bmm_wisdom_import_file(path);
    if (st != BMM_EFORMAT || (needle && !strstr(bmm_last_error(), needle))) {
        print_error("import of %zu bytes: %s (%s), want EFORMAT naming '%s'\n", len,
            bmm_strerror(st), bmm_last_error(), needle ? needle : "");
        fail();
    }
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, NULL, 0), BMM_OK);
    assert_int_equal(plan_kernel(5, BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
}

static void test_bad_files_keep_state(void **state)
{
    (void)state;
    /* a valid file with 5x5x5 in it */
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(5, BMM_MEASURE, NULL, 0), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    size_t len;
    char *good = read_text(&len);
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_MEASURE, NULL, 0), BMM_OK);

    for (size_t cut = 0; cut < len; cut++)  /* truncated anywhere */
        expect_rejected(good, cut, NULL);

    char bad[8192];
    struct { const char *from, *to, *needle; } edits[] = {
        { "bmmgen-wisdom 4", "bmmgen-wisdom 9", "format '9'" },
        { "bmmgen-wisdom 4", "bmmgen-wisdom 2", "format '2'" },
        { "bmmgen-wisdom 4", "bmmgen-wisdom 4.9", "format '4.9'" },
        { "bmmgen-wisdom 4", "bmmgen-wisdom 4 junk", "not a bmmgen wisdom file" },
        { "bmmgen-wisdom 4", "bmmgen-wisdom 3", "expected 'table" },
        { "bmmgen-wisdom", "something-else", "not a bmmgen wisdom file" },
        { "cpu ", "cpu X", "made on CPU" },
        { "cpu ", "cpu AuthenticAMD-19-11-avx2", "made on CPU" },
        { "stepping ", "steppin ", "expected 'stepping" },
        { "stepping ", "stepping 1 ", "expected 'stepping" },
        { "entry f64", "entry f8", "unknown value" },
        { "end 1", "end 2", "'end' says 2" },
        { " cache ", " warm ", "unknown value" },
        { " one ", " two ", "unknown value for the thread class" },
        { " one ", " ", "malformed entry" },
        { "entry f64 5", "entry f64 x", "a size" },
        { "entry f64 5", "entry f64 99999999999999999999", "a size" },
        { "entry f64 5", "entry f64 +5", "a size" },
        { "entry f64 5", "entry f64 05", "a size" },
        { "entry f64 5", "entry  f64 5", "malformed entry" },
        { "end 1", "end 1 junk", "malformed 'end'" },
        { "end 1", "end +1", "malformed 'end'" },
        { "\nend", " extra\nend", "malformed entry" },
        { "\nend", "\r\nend", "control character" },
        { "\ncpu", "\r\ncpu", "control character" },
        { "a1b0 ", "ab ", "does not serve" },          /* an a1b0 kernel for alpha free */
        { "entry f64 5 5 5", "entry f32 5 5 5", "does not serve" },  /* f64 kernel, f32 entry */
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        const char *at = strstr(good, edits[e].from);
        assert_non_null(at);
        size_t pre = (size_t)(at - good);
        int n = snprintf(bad, sizeof bad, "%.*s%s%s", (int)pre, good, edits[e].to,
            at + strlen(edits[e].from));
        expect_rejected(bad, (size_t)n, edits[e].needle);
    }
    int n = snprintf(bad, sizeof bad, "%sextra\n", good);
    expect_rejected(bad, (size_t)n, "after 'end'");
    /* the same entry twice, with 'end' counting it twice */
    const char *entry = strstr(good, "entry "), *end = strstr(good, "end 1");
    assert_non_null(entry);
    assert_non_null(end);
    n = snprintf(bad, sizeof bad, "%.*s%.*send 2\n", (int)(end - good), good,
        (int)(end - entry), entry);
    expect_rejected(bad, (size_t)n, "duplicate entry");
    /* the untouched file still imports */
    write_text(good, len);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    assert_int_equal(plan_kernel(5, BMM_WISDOM_ONLY, NULL, 0), BMM_OK);
    free(good);
}

/* Replaces the first `from` in text (a file of wisdom) by `to`, into out. */
static size_t edit(const char *text, const char *from, const char *to, char *out, size_t len)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    int n = snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    assert_true(n > 0 && (size_t)n < len);
    return (size_t)n;
}

/* What travels: an entry whose kernel this process does not have is passed over (counted) and
 * the rest imported; another stepping of this CPU is taken unless BMM_WISDOM_EXACT_CPU=1; a
 * version 3 file (table line, stepping inside the CPU word) is read. */
static void test_wisdom_travels(void **state)
{
    (void)state;
    bmm_wisdom_forget();
    char k3[128], k5[128], got[128], bad[8192], cpu3[256];
    assert_int_equal(plan_kernel(3, BMM_MEASURE, k3, sizeof k3), BMM_OK);
    assert_int_equal(plan_kernel(5, BMM_MEASURE, k5, sizeof k5), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    size_t len;
    char *good = read_text(&len);
    int64_t imported = -1, skipped = -1;

    char from[160], to[160];
    snprintf(from, sizeof from, " %s\nend", k5);  /* 5x5x5: the last entry */
    snprintf(to, sizeof to, " %s_of_another_program\nend", k5);
    bmm_wisdom_forget();
    write_text(bad, edit(good, from, to, bad, sizeof bad));
    assert_int_equal(bmm_wisdom_import_file_counted(path, &imported, &skipped), BMM_OK);
    assert_int_equal(imported, 1);
    assert_int_equal(skipped, 1);
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, got, sizeof got), BMM_OK);
    assert_string_equal(got, k3);
    assert_int_equal(plan_kernel(5, BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);

    snprintf(from, sizeof from, "stepping %s\n", bmm__cpu_stepping());
    bmm_wisdom_forget();
    write_text(bad, edit(good, from, "stepping ff\n", bad, sizeof bad));
    assert_int_equal(bmm_wisdom_import_file_counted(path, &imported, &skipped), BMM_OK);
    assert_int_equal(imported, 2);
    assert_int_equal(skipped, 0);
    setenv("BMM_WISDOM_EXACT_CPU", "1", 1);
    bmm_wisdom_forget();
    assert_int_equal(bmm_wisdom_import_file(path), BMM_EFORMAT);
    assert_non_null(strstr(bmm_last_error(), "stepping ff"));
    assert_int_equal(plan_kernel(3, BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
    unsetenv("BMM_WISDOM_EXACT_CPU");

    /* version 3: <vendor>-<family>-<model>-<stepping>-<isa> after a table line */
    const char *isa = strrchr(bmm__cpu_class(), '-');
    snprintf(cpu3, sizeof cpu3, "bmmgen-wisdom 3\ntable 0123456789abcdef\ncpu %.*s-%s%s\n",
        (int)(isa - bmm__cpu_class()), bmm__cpu_class(), bmm__cpu_stepping(), isa);
    const char *entries = strstr(good, "entry ");
    assert_non_null(entries);
    int n = snprintf(bad, sizeof bad, "%s%s", cpu3, entries);
    bmm_wisdom_forget();
    write_text(bad, (size_t)n);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    assert_int_equal(plan_kernel(5, BMM_WISDOM_ONLY, got, sizeof got), BMM_OK);
    assert_string_equal(got, k5);
    n = snprintf(bad, sizeof bad, "bmmgen-wisdom 3\ntable 0\ncpu %s\n%s", bmm__cpu_class(),
        entries);  /* four parts: the stepping missing */
    write_text(bad, (size_t)n);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_EFORMAT);
    assert_int_equal(bmm_wisdom_import_file_counted(NULL, &imported, NULL), BMM_EINVAL);
    assert_int_equal(imported, 0);
    free(good);
}

/* A plan of A transposed (f32 9x7x5, batch-first): where vector kernels run, its view is read
 * in place, and the entry's A layout word says so ("bft"); the file round-trips, and a kernel
 * of another order than the entry's class is refused. */
static bmm_status plan_transposed(unsigned flags, char *out, size_t len)
{
    bmm_plan *plan = NULL;
    bmm_status st = bmm_plan_create(&plan, BMM_F32, 16, 9, 7, 5,
        bmm_stride_transpose(bmm_stride_batch_first(7, 9)), bmm_stride_batch_first(7, 5),
        bmm_stride_batch_first(9, 5), 1, 0, flags);
    if (out)
        snprintf(out, len, "%s", st == BMM_OK ? bmm_plan_kernel(plan) : "");
    bmm_plan_destroy(plan);
    return st;
}

static void test_transposed_round_trip(void **state)
{
    (void)state;
    char k[128], got[128];
    bmm_wisdom_forget();
    assert_int_equal(plan_transposed(BMM_MEASURE, k, sizeof k), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    size_t len;
    char *text = read_text(&len);
    int views = bmm__cpu_admits(BMM_ISA_AVX2);  /* portable C copies A instead */
    assert_int_equal(strstr(text, "entry f32 9 7 5 bft bf bf ") != NULL, views);
    bmm_wisdom_forget();
    assert_int_equal(plan_transposed(BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    assert_int_equal(plan_transposed(BMM_WISDOM_ONLY, got, sizeof got), BMM_OK);
    assert_string_equal(got, k);
    if (views && strstr(k, "_tn_")) {  /* the same entry without the "t": its kernel is refused */
        char bad[4096], *at = strstr(text, " bft ");
        int n = snprintf(bad, sizeof bad, "%.*s bf %s", (int)(at - text), text, at + 5);
        write_text(bad, (size_t)n);
        assert_int_equal(bmm_wisdom_import_file(path), BMM_EFORMAT);
        assert_non_null(strstr(bmm_last_error(), "does not serve"));
        n = snprintf(bad, sizeof bad, "%.*s bfq %s", (int)(at - text), text, at + 5);
        write_text(bad, (size_t)n);
        assert_int_equal(bmm_wisdom_import_file(path), BMM_EFORMAT);
        assert_non_null(strstr(bmm_last_error(), "unknown value for a layout"));
    }
    free(text);
}

/* Dropping entries from the open-addressed table keeps every other entry findable (the
 * probe chains are mended), whatever the collisions. */
static void test_drop_keeps_the_rest(void **state)
{
    (void)state;
    bmm_wisdom_forget();
    enum { N = 3000 };
    const bmm_kernel_desc *k = bmm_kernel_at(0);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N; i++) {
            bmm_call c;
            memset(&c, 0, sizeof c);
            c.key.dtype = k->dtype, c.key.n = 1 + i, c.key.m = 1 + i % 7, c.key.p = 3;
            if (pass == 0)
                bmm__wisdom_record(&c, NULL);
            else if (i % 3 == 0)
                bmm__wisdom_drop(&c);
        }
    for (int i = 0; i < N; i++) {
        bmm_call c;
        const bmm_kernel_desc *kd = k;
        memset(&c, 0, sizeof c);
        c.key.dtype = k->dtype, c.key.n = 1 + i, c.key.m = 1 + i % 7, c.key.p = 3;
        assert_int_equal(bmm__wisdom_lookup(&c, &kd), i % 3 != 0);
    }
    bmm_wisdom_forget();
}

/* With 20 tables registered, export then import works; names that cannot be one word of a
 * wisdom line are refused at registration. */
static void test_many_tables(void **state)
{
    (void)state;
    static char names[20][32];
    static bmm_kernel_table tables[20];
    for (int t = 0; t < 20; t++) {
        snprintf(names[t], sizeof names[t], "table-with-a-long-name-%02d", t);
        tables[t] = (bmm_kernel_table){ BMM_KERNEL_ABI, names[t], "0.1.0-long-version",
            "0123456789abcdef0123456789abcdef", 0, NULL };
        assert_int_equal(bmm_register_kernels(&tables[t]), BMM_OK);
    }
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_MEASURE, NULL, 0), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    assert_int_equal(bmm_wisdom_import_file(path), BMM_OK);
    /* names that could not be one word of a wisdom line are refused at registration */
    static bmm_kernel_table spaced = { BMM_KERNEL_ABI, "two words", "1", "0", 0, NULL };
    static bmm_kernel_table newline = { BMM_KERNEL_ABI, "name", "1\nentry", "0", 0, NULL };
    assert_int_equal(bmm_register_kernels(&spaced), BMM_EINVAL);
    assert_int_equal(bmm_register_kernels(&newline), BMM_EINVAL);
}

/* Export replaces a symlink at the wisdom path by a regular file, never writing through it. */
static void test_export_never_follows_symlinks(void **state)
{
    (void)state;
    char target[300];
    snprintf(target, sizeof target, "%s.target", path);
    FILE *f = fopen(target, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    remove(path);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    f = fopen(target, "r");
    char line[32] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "precious\n");
    remove(target);
}

/* Two threads export to one path while a third imports it: every export succeeds and every
 * import sees a whole file (bounded iterations). */
static void *exporter(void *arg)
{
    long failures = 0;
    for (int i = 0; i < 200; i++)
        failures += bmm_wisdom_export_file(path) != BMM_OK;
    *(long *)arg = failures;
    return NULL;
}

static void test_concurrent_export_import(void **state)
{
    (void)state;
    bmm_wisdom_forget();
    assert_int_equal(plan_kernel(3, BMM_MEASURE, NULL, 0), BMM_OK);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    pthread_t th[2];
    long failed[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, exporter, &failed[t]), 0);
    int torn = 0;
    for (int i = 0; i < 300; i++)
        torn += bmm_wisdom_import_file(path) != BMM_OK;
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(failed[t], 0);
    }
    assert_int_equal(torn, 0);
}

/* 200000 entries: written, imported whole, every one found (a quadratic import took minutes). */
static void test_large_file(void **state)
{
    (void)state;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const int count = 200000;
    fprintf(f, "bmmgen-wisdom 4\ncpu %s\nstepping %s\n", bmm__cpu_class(), bmm__cpu_stepping());
    for (int i = 0; i < count; i++)
        fprintf(f, "entry f64 %d %d 7 bf bf bf cache one a1b0 generic\n", 100 + i % 1000,
            100 + i / 1000);
    fprintf(f, "end %d\n", count);
    fclose(f);
    bmm_wisdom_forget();
    if (bmm_wisdom_import_file(path) != BMM_OK) {
        print_error("%s\n", bmm_last_error());
        fail();
    }
    bmm_plan *plan = NULL;
    bmm_stride sa = bmm_stride_batch_first(137, 199), sb = bmm_stride_batch_first(199, 7);
    bmm_stride sc = bmm_stride_batch_first(137, 7);  /* entry i = 99037 */
    assert_int_equal(bmm_plan_create(&plan, BMM_F64, 1, 137, 199, 7, sa, sb, sc, 1, 0,
        BMM_WISDOM_ONLY), BMM_OK);
    assert_string_equal(bmm_plan_kernel(plan), "generic");
    bmm_plan_destroy(plan);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    bmm_wisdom_forget();
}

/* MEASURE records only what it timed: batch 0 is not timed; alpha = NaN is timed with finite
 * scalars of its class, so a kernel (not the generic path) wins and is recorded. */
static void test_measure_records_only_measurements(void **state)
{
    (void)state;
    bmm_wisdom_forget();
    bmm_stride s = bmm_stride_batch_first(6, 6);
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, BMM_F64, 0, 6, 6, 6, s, s, s, 1, 0, BMM_MEASURE),
        BMM_OK);
    bmm_plan_destroy(plan);
    assert_int_equal(plan_kernel(6, BMM_WISDOM_ONLY, NULL, 0), BMM_EUNSUPPORTED);
    /* batch strides near 2^60: too large to time (was ENOMEM, and UB in the extent sums) */
    bmm_stride far = { (int64_t)1 << 58, 6, 1 };
    assert_int_equal(bmm_plan_create(&plan, BMM_F64, 3, 6, 6, 6, far, s, s, 1, 0, BMM_MEASURE),
        BMM_OK);
    bmm_plan_destroy(plan);
    assert_int_equal(bmm_plan_create(&plan, BMM_F64, 3, 6, 6, 6, far, s, s, 1, 0,
        BMM_WISDOM_ONLY), BMM_EUNSUPPORTED);
    assert_int_equal(bmm_plan_create(&plan, BMM_F64, 64, 6, 6, 6, s, s, s, NAN, 0.5,
        BMM_MEASURE), BMM_OK);
    assert_string_not_equal(bmm_plan_kernel(plan), "generic");
    bmm_plan_destroy(plan);
}

int main(void)
{
    setenv("BMM_TUNE_BUDGET_MS", "5", 1);
    snprintf(path, sizeof path, "test_wisdom.%ld.txt", (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_transposed_round_trip),
        cmocka_unit_test(test_bad_files_keep_state),
        cmocka_unit_test(test_export_never_follows_symlinks),
        cmocka_unit_test(test_concurrent_export_import),
        cmocka_unit_test(test_large_file),
        cmocka_unit_test(test_measure_records_only_measurements),
        cmocka_unit_test(test_drop_keeps_the_rest),
        cmocka_unit_test(test_wisdom_travels),
        cmocka_unit_test(test_many_tables),  /* last: it registers tables for good */
    };
    int rc = cmocka_run_group_tests_name("wisdom", tests, NULL, NULL);
    remove(path);
    return rc;
}
