/* test_threads.c: the runtime from 8 threads at once, for ThreadSanitizer (scripts/test.sh
 * --tsan) and as a stress test everywhere: one-shot calls, ESTIMATE and MEASURE plans, wisdom
 * import, export and forget, and table registration, in bounded iterations. Every product is
 * checked, so a stale or torn choice that computes wrong fails here too. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define THREADS 8
#define ROUNDS 400

static char path[256];

static void f32_noop(const bmm_args *g)
{
    (void)g;  /* never chosen: its shape is never called */
}

/* One extra table per thread, each with one kernel of a shape nobody calls. */
static bmm_kernel_desc descs[THREADS][1];
static bmm_kernel_part parts[THREADS];
static bmm_kernel_table tables[THREADS];
static char names[THREADS][2][48];

/* C = A B for small shapes in both layouts; returns 0 if any element is off. */
static int product_ok(int64_t n, int64_t m, int64_t p, int seq, unsigned flags, int plan)
{
    enum { BATCH = 16 };
    float A[BATCH * 64], B[BATCH * 64], C[BATCH * 64];
    bmm_stride sa = seq ? bmm_stride_seq_first(n, m, BATCH) : bmm_stride_batch_first(n, m);
    bmm_stride sb = seq ? bmm_stride_seq_first(m, p, BATCH) : bmm_stride_batch_first(m, p);
    bmm_stride sc = seq ? bmm_stride_seq_first(n, p, BATCH) : bmm_stride_batch_first(n, p);
    for (int i = 0; i < BATCH * 64; i++) {
        A[i] = (float)(i % 5 - 2);
        B[i] = (float)(i % 3 - 1);
        C[i] = -1;
    }
    bmm_status st;
    if (plan) {
        bmm_plan *pl = NULL;
        st = bmm_plan_create(&pl, BMM_F32, BATCH, n, m, p, sa, sb, sc, 1, 0, flags);
        if (st == BMM_OK)
            st = bmm_execute(pl, A, B, C);
        bmm_plan_destroy(pl);
    } else {
        st = bmm_sgemm_strided(BATCH, n, m, p, 1, A, sa, B, sb, 0, C, sc);
    }
    if (st != BMM_OK)
        return 0;
    for (int64_t t = 0; t < BATCH; t++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < p; j++) {
                float want = 0;
                for (int64_t k = 0; k < m; k++)
                    want += A[t * sa.batch + i * sa.row + k] * B[t * sb.batch + k * sb.row + j];
                if (C[t * sc.batch + i * sc.row + j] != want)  /* small integers: exact */
                    return 0;
            }
    return 1;
}

static void *worker(void *arg)
{
    long id = (long)arg, bad = 0;
    static const int64_t shapes[][3] = { { 2, 2, 2 }, { 4, 4, 4 }, { 3, 5, 7 }, { 8, 8, 1 },
        { 1, 8, 8 }, { 5, 5, 5 } };
    for (int r = 0; r < ROUNDS; r++) {
        const int64_t *s = shapes[(r + id) % 6];
        int seq = (r / 6 + id) % 2;
        switch ((r + id) % 8) {
        case 0: case 1: case 2:
            bad += !product_ok(s[0], s[1], s[2], seq, 0, 0);
            break;
        case 3:
            bad += !product_ok(s[0], s[1], s[2], seq, BMM_ESTIMATE, 1);
            break;
        case 4:
            bad += !product_ok(s[0], s[1], s[2], seq, BMM_MEASURE, 1);
            break;
        case 5:
            bad += bmm_wisdom_export_file(path) != BMM_OK;
            break;
        case 6: {
            /* the file is always whole; it may be signed for fewer tables than are registered
             * now (a registration since its export): that, and only that, is refused */
            bmm_status st = bmm_wisdom_import_file(path);
            bad += st != BMM_OK
                && !(st == BMM_EFORMAT && strstr(bmm_last_error(), "made for kernel table"));
            break;
        }
        default:
            if (r % 3 == 0)
                bmm_wisdom_forget();
            else
                bad += bmm_register_kernels(&tables[id]) != BMM_OK;
            break;
        }
    }
    return (void *)bad;
}

static void test_many_threads(void **state)
{
    (void)state;
    for (int t = 0; t < THREADS; t++) {
        snprintf(names[t][0], sizeof names[t][0], "threads_%d_f32_9x9x9_bf_c99_ab", t);
        snprintf(names[t][1], sizeof names[t][1], "threads-%d", t);
        descs[t][0] = (bmm_kernel_desc){ names[t][0], BMM_F32, 9, 9, 9, BMM_LAYOUT_BF,
            BMM_ISA_C99, BMM_SCALARS_AB, BMM_FORM_UNROLL, 0, 0, 1, 0, 0, f32_noop };
        parts[t] = (bmm_kernel_part){ 1, descs[t] };
        tables[t] = (bmm_kernel_table){ BMM_KERNEL_ABI, names[t][1], "0", "0", 1, &parts[t] };
    }
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, worker, (void *)t), 0);
    long bad = 0;
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(th[t], &r);
        bad += (long)r;
    }
    assert_int_equal(bad, 0);
    for (int t = 0; t < 6; t++)
        assert_true(product_ok(4, 4, 4, t % 2, 0, t / 3));
}

int main(void)
{
    setenv("BMM_TUNE_BUDGET_MS", "2", 1);
    snprintf(path, sizeof path, "test_threads.%ld.wisdom", (long)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_threads),
    };
    int rc = cmocka_run_group_tests_name("threads", tests, NULL, NULL);
    remove(path);
    return rc;
}
