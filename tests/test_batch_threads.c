/* test_batch_threads.c: a batch over threads (threads.c), through the public API: the same bits
 * for 1, 2, 3 and 8 threads, how many threads a plan gets (BMM_THREADS, bmm_set_num_threads,
 * the work threshold), serial inside the caller's parallel region and after fork, BMM_MEASURE
 * keyed by the thread class. `test_batch_threads env N` (CTest sets BMM_NUM_THREADS) checks
 * that the default is N, or OpenMP's when N is "omp". (Every kernel's own bitwise check over
 * threads is in test_kernels.) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "harness.h"

/* A seq-first f32 problem with enough work for several threads (13x13x13: no grain; with
 * 5x4x4 f32 an across-batch form, whose grain is a vector). */
typedef struct {
    th_case tc;
    int64_t n, m, p;
} big;

static void big_init(big *b, int64_t batch, int64_t n, int64_t m, int64_t p)
{
    b->n = n, b->m = m, b->p = p;
    th_case_init(&b->tc, BMM_F32, batch, n, m, p, bmm_stride_seq_first(n, m, batch),
        bmm_stride_seq_first(m, p, batch), bmm_stride_seq_first(n, p, batch), 0.75, -0.5, 3, 0);
}

static bmm_plan *plan_of(const big *b, unsigned flags)
{
    bmm_plan *pl = NULL;
    const th_case *tc = &b->tc;
    bmm_status st = bmm_plan_create(&pl, BMM_F32, tc->pr.batch, b->n, b->m, b->p, tc->pr.sa,
        tc->pr.sb, tc->pr.sc, tc->alpha, tc->beta, flags);
    if (st != BMM_OK)
        print_error("plan: %s\n", bmm_last_error());
    assert_int_equal(st, BMM_OK);
    return pl;
}

/* C from a plan with flags, as a copy (free it); *threads gets the plan's count. */
static void *run_plan(big *b, unsigned flags, int *threads)
{
    bmm_plan *pl = plan_of(b, flags);
    th_case_reset(&b->tc);
    assert_int_equal(bmm_execute(pl, b->tc.A, b->tc.B, b->tc.C), BMM_OK);
    *threads = bmm_plan_threads(pl);
    bmm_plan_destroy(pl);
    return th_copy_c(&b->tc);
}

static size_t c_bytes(const big *b)
{
    return (size_t)b->tc.ext[2] * sizeof(float);
}

/* 1, 2, 3 and 8 threads: the same bits, the plans get what they ask for, and C is right. */
static void test_same_bits(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = { { 13, 13, 13 }, { 5, 4, 4 } };
    for (int s = 0; s < 2; s++) {
        big b;
        big_init(&b, 20011, shapes[s][0], shapes[s][1], shapes[s][2]);
        int t1;
        void *one = run_plan(&b, BMM_THREADS(1), &t1);
        assert_int_equal(t1, 1);
        th_check(&b.tc, NULL, 4.0, "one thread");
        static const int counts[] = { 2, 3, 8 };
        for (int i = 0; i < 3; i++) {
            int t;
            void *got = run_plan(&b, BMM_THREADS(counts[i]), &t);
#ifdef _OPENMP
            assert_int_equal(t, counts[i]);
#else
            assert_int_equal(t, 1);
#endif
            if (memcmp(got, one, c_bytes(&b)) != 0) {
                print_error("%lldx%lldx%lld on %d threads differs from one thread\n",
                    (long long)b.n, (long long)b.m, (long long)b.p, counts[i]);
                fail();
            }
            free(got);
        }
        free(one);
        th_case_free(&b.tc);
    }
}

/* Too little work for threads: one, whatever is asked; the count grows with the work. */
static void test_threshold(void **state)
{
    (void)state;
    big b;
    big_init(&b, 16, 4, 4, 4);
    bmm_plan *pl = plan_of(&b, BMM_THREADS(8));
    assert_int_equal(bmm_plan_threads(pl), 1);
    bmm_plan_destroy(pl);
    th_case_free(&b.tc);
    int last = 1;
    for (int64_t batch = 1; batch <= (1 << 20); batch *= 4) {
        int t = bmm__threads_worth(BMM_F32, batch, 8, 8, 8, 64);
        assert_true(t >= last && t <= 64 && t <= batch);
        last = t;
    }
    assert_int_equal(last, 64);
    assert_int_equal(bmm__threads_worth(BMM_F64, INT64_MAX / 2, 64, 64, 64, 100000),
        BMM_THREADS_MAX);
}

/* A lone call after the team slept gets threads only for work that pays the wake-up; a call
 * right after one that wanted threads gets them all. The clock is given, not read: the test
 * does not depend on how fast two calls follow each other. */
static void test_awake(void **state)
{
    (void)state;
    big small, large;
    big_init(&small, 4096, 4, 4, 4);  /* ~33 us of estimated work: threads pay only awake */
    big_init(&large, 20011, 13, 13, 13);
    double t = bmm__now_ms() + 1e3;  /* past every team and call so far: asleep */
#ifdef _OPENMP
    assert_int_equal(bmm__threads_awake_at(&small.tc.pr, 2, t), 1);
    assert_int_equal(bmm__threads_awake_at(&small.tc.pr, 2, t + 0.5), 2);  /* awake */
    assert_int_equal(bmm__threads_awake_at(&small.tc.pr, 2, t + 20), 1);   /* asleep again */
    assert_int_equal(bmm__threads_awake_at(&large.tc.pr, 2, t + 40), 2);   /* pays the wake-up */
#else
    assert_int_equal(bmm__threads_awake_at(&small.tc.pr, 2, t), 1);
#endif
    assert_int_equal(bmm__threads_awake_at(&small.tc.pr, 1, t + 60), 1);
    th_case_free(&small.tc);
    th_case_free(&large.tc);
}

/* The chunks cover the batch once, in order, each of whole grains but the last. */
static void test_chunks(void **state)
{
    (void)state;
    for (int64_t batch = 1; batch <= 70; batch++)
        for (int64_t grain = 1; grain <= 16; grain *= 2)
            for (int nt = 1; nt <= 9; nt++) {
                int64_t next = 0;
                for (int t = 0; t < nt; t++) {
                    int64_t lo, hi;
                    bmm__chunk(batch, grain, t, nt, &lo, &hi);
                    assert_true(lo <= hi);
                    if (lo == hi)
                        continue;
                    assert_int_equal(lo, next);
                    assert_int_equal(lo % grain, 0);
                    if (t < nt - 1)
                        assert_int_equal(hi % grain, 0);
                    next = hi;
                }
                assert_int_equal(next, batch);
            }
    int64_t lo, hi;  /* no overflow at the largest batch */
    bmm__chunk(INT64_MAX, 1, 1023, 1024, &lo, &hi);
    assert_true(lo > 0 && hi == INT64_MAX);
}

/* bmm_set_num_threads and BMM_THREADS: the range, the default, what plans take. */
static void test_counts(void **state)
{
    (void)state;
    int dflt = bmm_get_num_threads();
    assert_true(dflt >= 1 && dflt <= BMM_THREADS_MAX);
    assert_int_equal(bmm_set_num_threads(-1), BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "bmm_set_num_threads"));
    assert_int_equal(bmm_set_num_threads(BMM_THREADS_MAX + 1), BMM_EINVAL);
    assert_int_equal(bmm_get_num_threads(), dflt);
    big b;
    big_init(&b, 20011, 13, 13, 13);
    assert_int_equal(bmm_set_num_threads(3), BMM_OK);
#ifdef _OPENMP
    assert_int_equal(bmm_get_num_threads(), 3);
#endif
    bmm_plan *pl = plan_of(&b, 0);
    assert_int_equal(bmm_set_num_threads(0), BMM_OK);
    assert_int_equal(bmm_get_num_threads(), dflt);
#ifdef _OPENMP
    assert_int_equal(bmm_plan_threads(pl), 3);  /* a plan keeps its count */
#endif
    bmm_plan_destroy(pl);
    assert_int_equal(bmm_plan_threads(NULL), 0);
    bmm_plan *bad = NULL;
    const th_case *tc = &b.tc;
    bmm_status st = bmm_plan_create(&bad, BMM_F32, tc->pr.batch, 13, 13, 13, tc->pr.sa,
        tc->pr.sb, tc->pr.sc, 1, 0, BMM_THREADS(BMM_THREADS_MAX + 1));
    assert_int_equal(st, BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "BMM_THREADS"));
    assert_null(bad);
    st = bmm_plan_create(&bad, BMM_F32, tc->pr.batch, 13, 13, 13, tc->pr.sa, tc->pr.sb,
        tc->pr.sc, 1, 0, BMM_THREADS(1u << 14));
    assert_int_equal(st, BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "unknown bits"));
    th_case_free(&b.tc);
}

/* One-shot calls run on the default count, and give the serial bits. */
static void test_oneshot(void **state)
{
    (void)state;
    big b;
    big_init(&b, 20011, 13, 13, 13);
    const th_case *tc = &b.tc;
    void *want[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(bmm_set_num_threads(i ? 3 : 1), BMM_OK);
        th_case_reset(&b.tc);
        assert_int_equal(bmm_sgemm_strided(tc->pr.batch, 13, 13, 13, (float)tc->alpha, tc->A,
                             tc->pr.sa, tc->B, tc->pr.sb, (float)tc->beta, tc->C, tc->pr.sc),
            BMM_OK);
        want[i] = th_copy_c(&b.tc);
    }
    assert_int_equal(bmm_set_num_threads(0), BMM_OK);
    assert_memory_equal(want[0], want[1], c_bytes(&b));
    free(want[0]);
    free(want[1]);
    th_case_free(&b.tc);
}

/* Called from inside the caller's parallel region: serial (no nested team), and right.
 * Without OpenMP every call is serial. */
static void test_inside_parallel(void **state)
{
    (void)state;
    big b[2];
    for (int i = 0; i < 2; i++)
        big_init(&b[i], 20011, 13, 13, 13);
    int ran[2] = { 0, 0 };
    bmm__problem pr[2] = { b[0].tc.pr, b[1].tc.pr };
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    {
        int t = omp_get_thread_num();
        if (t < 2)
            ran[t] = bmm__run_threads(NULL, &pr[t], b[t].tc.A, b[t].tc.B, b[t].tc.C, 8);
    }
#else
    for (int t = 0; t < 2; t++)
        ran[t] = bmm__run_threads(NULL, &pr[t], b[t].tc.A, b[t].tc.B, b[t].tc.C, 8);
#endif
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ran[i], 1);
        th_check(&b[i].tc, NULL, 4.0, "inside a parallel region");
        th_case_free(&b[i].tc);
    }
}

/* BMM_MEASURE times on the plan's threads and records wisdom under its thread class: a plan
 * of the other class does not find the answer. (Without OpenMP a plan runs on one thread,
 * whatever it asks for: the class is "one".) */
static void test_measure_class(void **state)
{
    (void)state;
#ifdef _OPENMP
    const int threads = 2, other = 1;
    const char *word = " stream many ";
#else
    const int threads = 1, other = 2;  /* other: unused, a second plan of the same class */
    const char *word = " stream one ";
#endif
    bmm_wisdom_forget();
    big b;
    big_init(&b, 20011, 13, 13, 13);
    bmm_plan *pl = plan_of(&b, BMM_MEASURE | BMM_THREADS(2));
    assert_int_equal(bmm_plan_threads(pl), threads);
    bmm_plan_destroy(pl);
    pl = plan_of(&b, BMM_WISDOM_ONLY | BMM_THREADS(2));
    bmm_plan_destroy(pl);
    bmm_plan *one = NULL;
    const th_case *tc = &b.tc;
    bmm_status st = bmm_plan_create(&one, BMM_F32, tc->pr.batch, 13, 13, 13, tc->pr.sa,
        tc->pr.sb, tc->pr.sc, tc->alpha, tc->beta, BMM_WISDOM_ONLY | BMM_THREADS(other));
    assert_int_equal(st, threads > 1 ? BMM_EUNSUPPORTED : BMM_OK);
    bmm_plan_destroy(one);
    char path[] = "/tmp/bmm-threads-wisdom-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(bmm_wisdom_export_file(path), BMM_OK);
    FILE *f = fopen(path, "r");
    char text[4096] = "";
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    unlink(path);
    assert_non_null(strstr(text, word));
    bmm_wisdom_forget();
    th_case_free(&b.tc);
}

/* A child forked after threads ran can still call the library (serially), and is right. */
static void test_fork(void **state)
{
    (void)state;
    big b;
    big_init(&b, 20011, 13, 13, 13);
    int parent_ran = bmm__run_threads(NULL, &b.tc.pr, b.tc.A, b.tc.B, b.tc.C, 2);
#ifdef _OPENMP
    assert_int_equal(parent_ran, 2);
#else
    assert_int_equal(parent_ran, 1);
#endif
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);  /* a hang (libgomp's pool after fork) fails the test instead */
        bmm_plan *pl = NULL;
        const th_case *tc = &b.tc;
        int bad = bmm_plan_create(&pl, BMM_F32, tc->pr.batch, 13, 13, 13, tc->pr.sa, tc->pr.sb,
                      tc->pr.sc, tc->alpha, tc->beta, BMM_THREADS(2)) != BMM_OK;
        th_case_reset(&b.tc);
        bad |= bmm_execute(pl, tc->A, tc->B, tc->C) != BMM_OK;
        bmm_plan_destroy(pl);
        bad |= bmm__run_threads(NULL, &b.tc.pr, tc->A, tc->B, tc->C, 2) != 1;
        _exit(bad ? 1 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_error("child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        fail();
    }
    th_case_reset(&b.tc);  /* the parent still runs threads */
    assert_int_equal(bmm__run_threads(NULL, &b.tc.pr, b.tc.A, b.tc.B, b.tc.C, 2), parent_ran);
    th_check(&b.tc, NULL, 4.0, "parent after fork");
    th_case_free(&b.tc);
}

/* `env N`: the default count under the environment CTest gave (N, or "omp": OpenMP's). A
 * BMM_NUM_THREADS that is set but must be refused (want "omp") must also be reported under
 * BMM_VERBOSE (CTest sets it): stderr is captured around the first call. */
static int check_env(const char *want)
{
    const char *env = getenv("BMM_NUM_THREADS");
    FILE *tmp = tmpfile();
    int saved = dup(2);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    int got = bmm_get_num_threads();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char note[1024] = "";
    rewind(tmp);
    note[fread(note, 1, sizeof note - 1, tmp)] = 0;
    fclose(tmp);
#ifdef _OPENMP
    int expect = strcmp(want, "omp") == 0 ? omp_get_max_threads() : atoi(want);
#else
    int expect = 1;
#endif
    char refused[256];
    snprintf(refused, sizeof refused, "BMM_NUM_THREADS=%s refused", env ? env : "");
    int must_note = env && *env && strcmp(want, "omp") == 0;
    printf("BMM_NUM_THREADS=%s: %d threads (want %d)%s%s", env ? env : "(unset)", got, expect,
        *note ? "; said: " : "\n", note);
    if (must_note && !strstr(note, refused)) {
        printf("the refusal was not reported\n");
        return 1;
    }
    return got == expect ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "env") == 0)
        return check_env(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bits),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_awake),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_oneshot),
        cmocka_unit_test(test_inside_parallel),
        cmocka_unit_test(test_measure_class),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
