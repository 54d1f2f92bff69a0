/* test_plan.c: planning (ESTIMATE, MEASURE, GENERIC_ONLY), the one-shot calls and their plan
 * cache, and many threads planning and executing at once. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Plans a problem with flags, executes it on a fresh case and checks the result. */
static void plan_and_check(bmm_dtype dt, int64_t batch, int64_t n, int64_t m, int64_t p,
    int layout, double alpha, double beta, unsigned flags, char *kernel, size_t klen)
{
    unsigned s = 3;
    bmm_stride sa = th_stride(layout, n, m, batch, &s), sb = th_stride(layout, m, p, batch, &s);
    bmm_stride sc = th_stride(layout, n, p, batch, &s);
    th_case tc;
    th_case_init(&tc, dt, batch, n, m, p, sa, sb, sc, alpha, beta, 11, beta == 0);
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, dt, batch, n, m, p, sa, sb, sc, alpha, beta, flags),
        BMM_OK);
    const bmm_kernel_desc *k = bmm__kernel_by_name(bmm_plan_kernel(plan));
    bmm_call call;
    bmm__call_of(&tc.pr, 1, &call);
    if (k)  /* whatever was chosen must apply to the problem */
        assert_true(bmm__kernel_applies(k, &call));
    else
        assert_string_equal(bmm_plan_kernel(plan), "generic");
    assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
    th_check(&tc, NULL, 4.0, bmm_plan_kernel(plan));
    snprintf(kernel, klen, "%s", bmm_plan_kernel(plan));
    bmm_plan_destroy(plan);
    th_case_free(&tc);
}

/* The kernel ESTIMATE picks: the exact layout class, a vector ISA where the CPU has one, the
 * most specialized alpha/beta form; under BMM_ARCH=c99 the portable kernel. */
static void expect_estimate(const char *name, const char *prefix, int scalars, int min_isa)
{
    const bmm_kernel_desc *k = bmm__kernel_by_name(name);
    assert_non_null(k);
    assert_memory_equal(name, prefix, strlen(prefix));
    /* vector kernels have no alpha = 1 form: a1b0 problems run their b0 kernel */
    assert_int_equal(k->scalars,
        scalars == BMM_SCALARS_A1B0 && k->isa != BMM_ISA_C99 ? BMM_SCALARS_B0 : scalars);
    int want = bmm__cpu_admits(min_isa) ? min_isa : BMM_ISA_C99;
    assert_true(k->isa >= want);
    assert_true(bmm__cpu_admits(k->isa));
}

static void test_estimate_picks_exact_kernel(void **state)
{
    (void)state;
    char k[128];
    bmm_wisdom_forget();
    plan_and_check(BMM_F32, 37, 4, 4, 4, TH_BF, 1, 0, BMM_ESTIMATE, k, sizeof k);
    expect_estimate(k, "bmm_f32_4x4x4_bf_", BMM_SCALARS_A1B0, BMM_ISA_AVX512);
    plan_and_check(BMM_F64, 37, 5, 7, 3, TH_SF, 2, 0, BMM_ESTIMATE, k, sizeof k);
    expect_estimate(k, "bmm_f64_5x7x3_sf_", BMM_SCALARS_B0, BMM_ISA_AVX2);
    plan_and_check(BMM_F32, 3, 13, 13, 13, TH_SF_PADDED, 0.5, 2, BMM_ESTIMATE, k, sizeof k);
    expect_estimate(k, "bmm_f32_13x13x13_sf_", BMM_SCALARS_AB, BMM_ISA_AVX512);
    /* 2x2x2: 8 multiply-adds, where portable C beats vectors, but for the packed form (two
     * matrices per AVX-512 vector), which needs contiguous matrices */
    plan_and_check(BMM_F64, 5, 2, 2, 2, TH_BF, 1, 0, BMM_ESTIMATE, k, sizeof k);
    assert_string_equal(k, bmm__cpu_admits(BMM_ISA_AVX512) ? "bmm_f64_2x2x2_bf_avx512_pk2_b0"
                                                          : "bmm_f64_2x2x2_bf_c99_a1b0");
    plan_and_check(BMM_F64, 5, 2, 2, 2, TH_BF_GAPPED, 1, 0, BMM_ESTIMATE, k, sizeof k);
    assert_string_equal(k, "bmm_f64_2x2x2_bf_c99_a1b0");
    /* a shape outside the table: a shape-generic vector kernel, the widest the CPU has (9
     * columns: 16 lanes with 7 idle beat 8 lanes twice) */
    plan_and_check(BMM_F32, 5, 9, 9, 9, TH_BF, 1, 0, BMM_ESTIMATE, k, sizeof k);
    const bmm_kernel_desc *any = bmm__kernel_by_name(k);
    assert_non_null(any);
    assert_false(bmm__specialized(any));
    assert_int_equal(any->isa, bmm__cpu_max_isa());
    /* strides no vector kernel takes (transposed, padded): shape-generic portable C */
    plan_and_check(BMM_F64, 5, 4, 4, 4, TH_RANDOM, 1, 0, BMM_ESTIMATE, k, sizeof k);
    assert_string_equal(k, "bmm_f64_nxmxp_any_c99_g4x4_a1b0");
    plan_and_check(BMM_F32, 5, 4, 4, 4, TH_BF, 1, 0, BMM_GENERIC_ONLY, k, sizeof k);
    assert_string_equal(k, "generic");
}

static void test_attention_shapes_use_kernels(void **state)
{
    (void)state;
    /* scores = bmm(enc, dec^T): B x S x h times the transposed view of B x 1 x h */
    enum { BATCH = 8, S = 10, H = 256 };
    float *enc = calloc(BATCH * S * H, sizeof *enc), *dec = calloc(BATCH * H, sizeof *dec);
    float *scores = calloc(BATCH * S, sizeof *scores);
    for (int i = 0; i < BATCH * S * H; i++)
        enc[i] = (float)(i % 13) * 0.25f;
    for (int i = 0; i < BATCH * H; i++)
        dec[i] = (float)(i % 7) - 3.0f;
    bmm_plan *plan = NULL;
    bmm_stride dec_t = bmm_stride_transpose(bmm_stride_batch_first(1, H));
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, BATCH, S, H, 1, bmm_stride_batch_first(S, H),
        dec_t, bmm_stride_batch_first(S, 1), 1, 0, BMM_ESTIMATE), BMM_OK);
    expect_estimate(bmm_plan_kernel(plan), "bmm_f32_10x256x1_bf_", BMM_SCALARS_A1B0, BMM_ISA_AVX2);
    if (bmm__cpu_admits(BMM_ISA_AVX2))  /* p = 1: the dot-product form */
        assert_int_equal(bmm__kernel_by_name(bmm_plan_kernel(plan))->form, BMM_FORM_DOT);
    assert_int_equal(bmm_execute(plan, enc, dec, scores), BMM_OK);
    for (int b = 0; b < BATCH; b++)
        for (int s = 0; s < S; s++) {
            double want = 0;
            for (int h = 0; h < H; h++)
                want += (double)enc[(b * S + s) * H + h] * dec[b * H + h];
            assert_float_equal(scores[b * S + s], want, 1e-3 * (1 + fabs(want)));
        }
    bmm_plan_destroy(plan);
    free(enc);
    free(dec);
    free(scores);
}

static void test_measure_records_wisdom(void **state)
{
    (void)state;
    char measured[128], again[128];
    bmm_wisdom_forget();
    plan_and_check(BMM_F32, 64, 8, 8, 8, TH_BF, 1, 0, BMM_MEASURE, measured, sizeof measured);
    /* the winner is now wisdom: WISDOM_ONLY finds it, for a batch in the same regime */
    plan_and_check(BMM_F32, 60, 8, 8, 8, TH_BF, 1, 0, BMM_WISDOM_ONLY, again, sizeof again);
    assert_string_equal(measured, again);
    plan_and_check(BMM_F64, 9, 23, 23, 23, TH_SF, 1, 0.5, BMM_MEASURE, measured, sizeof measured);
    plan_and_check(BMM_F64, 3, 3, 5, 7, TH_SF, -1, 0, BMM_MEASURE, measured, sizeof measured);
    /* streaming seq-first, 120 MiB: timed on a cut sample whose rows keep their items
     * adjacent, checked on a few items; the winner is recorded and computes every item right */
    plan_and_check(BMM_F32, 40000, 16, 16, 16, TH_SF, 1, 0, BMM_MEASURE, measured, sizeof measured);
    plan_and_check(BMM_F32, 40000, 16, 16, 16, TH_SF, 1, 0, BMM_WISDOM_ONLY, again, sizeof again);
    assert_string_equal(measured, again);
    bmm_wisdom_forget();
    bmm_plan *plan = NULL;
    bmm_stride s = bmm_stride_batch_first(8, 8);
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 64, 8, 8, 8, s, s, s, 1, 0, BMM_WISDOM_ONLY),
        BMM_EUNSUPPORTED);
}

static void test_oneshot_cache_uses_callers_scalars(void **state)
{
    (void)state;
    /* same problem class, different alpha/beta: one cached choice, each call's own scalars */
    static const double scal[][2] = { { 2, 0 }, { -1, 0 }, { 3, 0 }, { 0.5, 1.5 }, { 1, -1 } };
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < 5; i++) {
            bmm_stride s = bmm_stride_batch_first(6, 6);
            th_case tc;
            th_case_init(&tc, BMM_F64, 11, 6, 6, 6, s, s, s, scal[i][0], scal[i][1], 20 + i, 0);
            assert_int_equal(bmm_dgemm_strided(11, 6, 6, 6, scal[i][0], tc.A, s, tc.B, s,
                scal[i][1], tc.C, s), BMM_OK);
            th_check(&tc, NULL, 4.0, "one-shot");
            th_case_free(&tc);
        }
}

/* One one-shot call of f32 4x4x4 (batch 7) with these scalars, its BMM_VERBOSE notes in
 * note; checked against the reference. */
static void oneshot_noted(double alpha, double beta, unsigned seed, char *note, size_t len)
{
    bmm_stride s = bmm_stride_batch_first(4, 4);
    th_case tc;
    th_case_init(&tc, BMM_F32, 7, 4, 4, 4, s, s, s, alpha, beta, seed, 0);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    fflush(stderr);
    dup2(fileno(tmp), 2);
    bmm_status st = bmm_sgemm_strided(7, 4, 4, 4, (float)alpha, tc.A, s, tc.B, s, (float)beta,
        tc.C, s);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    note[fread(note, 1, len - 1, tmp)] = 0;
    fclose(tmp);
    assert_int_equal(st, BMM_OK);
    th_check(&tc, NULL, 4.0, "one-shot");
    th_case_free(&tc);
}

/* alpha = 0 runs no kernel (C = beta C), and shares its class (ab) with every other alpha: it
 * must not become the class's cached choice, or later calls of the class run the generic path. */
static void test_oneshot_alpha_zero_is_not_cached(void **state)
{
    (void)state;
    char note[4096];
    setenv("BMM_VERBOSE", "1", 1);
    bmm_wisdom_forget();  /* no cached choice of the class yet */
    oneshot_noted(0, 1.5, 31, note, sizeof note);
    oneshot_noted(0.5, 1.5, 32, note, sizeof note);
    unsetenv("BMM_VERBOSE");
    printf("after alpha = 0, alpha = 0.5 says: %s", note);
    assert_non_null(strstr(note, "chose bmm_f32_4x4x4_"));
}

/* A product with each operand in its own layout (broadcast 1: one A for every item, 2: one B),
 * planned with flags and run by the plan and by the one-shot call, both checked against the
 * reference; the plan's kernel in k. */
static void plan_layouts(bmm_dtype dt, int64_t batch, int64_t n, int64_t m, int64_t p,
    const int lay[3], int broadcast, double alpha, double beta, unsigned flags, char *k,
    size_t klen)
{
    unsigned s = 5;
    bmm_stride sa = th_stride(lay[0], n, m, batch, &s), sb = th_stride(lay[1], m, p, batch, &s);
    bmm_stride sc = th_stride(lay[2], n, p, batch, &s);
    if (broadcast == 1)  /* one matrix for every item */
        sa.batch = 0;
    if (broadcast == 2)
        sb.batch = 0;
    th_case tc;
    th_case_init(&tc, dt, batch, n, m, p, sa, sb, sc, alpha, beta, 17, beta == 0);
    bmm_plan *plan = NULL;
    assert_int_equal(bmm_plan_create(&plan, dt, batch, n, m, p, sa, sb, sc, alpha, beta, flags),
        BMM_OK);
    snprintf(k, klen, "%s", bmm_plan_kernel(plan));
    assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
    th_check(&tc, NULL, 4.0, k);
    bmm_plan_destroy(plan);
    th_case_reset(&tc);
    assert_int_equal(dt == BMM_F32
        ? bmm_sgemm_strided(batch, n, m, p, (float)alpha, tc.A, sa, tc.B, sb, (float)beta, tc.C, sc)
        : bmm_dgemm_strided(batch, n, m, p, alpha, tc.A, sa, tc.B, sb, beta, tc.C, sc), BMM_OK);
    th_check(&tc, NULL, 4.0, "one-shot");
    th_case_free(&tc);
}

/* Transposed views that become row-major in C^T = B^T A^T run that transpose, on vector
 * kernels where the CPU (or BMM_ARCH) admits them: a transposed B with n = 1 (attention's
 * backward dL/dattn = dctx V^T) as a p = 1 product (gdot), a transposed A with p = 1 as n = 1
 * (gvec), column-major A, B and C as row-major ones; the others copied to row-major; on
 * threads too; messages still name the caller's operands; bmm_plan_operands says which. */
static void test_transposed_products_run_row_major(void **state)
{
    (void)state;
    static const struct {
        int64_t batch, n, m, p;
        int lay[3], form;
        double alpha, beta;
    } cases[] = {
        { 6, 1, 37, 24, { TH_BF, TH_BF_TRANSPOSED, TH_BF }, BMM_FORM_GDOT, 1, 0 },
        { 6, 1, 37, 24, { TH_SF, TH_BF_TRANSPOSED, TH_SF }, BMM_FORM_GDOT, -0.5, 2 },
        { 6, 24, 37, 1, { TH_BF_TRANSPOSED, TH_BF, TH_BF }, BMM_FORM_GVEC, 0.5, 2 },
        { 6, 5, 7, 9, { TH_BF_TRANSPOSED, TH_BF_TRANSPOSED, TH_BF_TRANSPOSED }, 0, 1, 1 },
    };
    char k[128];
    for (int dt = BMM_F32; dt <= BMM_F64; dt++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            plan_layouts((bmm_dtype)dt, cases[i].batch, cases[i].n, cases[i].m, cases[i].p,
                cases[i].lay, 0, cases[i].alpha, cases[i].beta, BMM_ESTIMATE, k, sizeof k);
            printf("%lldx%lldx%lld, layouts %d %d %d: %s\n", (long long)cases[i].n,
                (long long)cases[i].m, (long long)cases[i].p, cases[i].lay[0], cases[i].lay[1],
                cases[i].lay[2], k);
            const bmm_kernel_desc *kd = bmm__kernel_by_name(k);
            assert_non_null(kd);
            if (bmm__cpu_admits(BMM_ISA_AVX2)) {  /* portable C alone has only any-stride ones */
                assert_int_not_equal(kd->layout, BMM_LAYOUT_ANY);
                if (cases[i].form)
                    assert_int_equal(kd->form, cases[i].form);
            }
        }
    /* transposed operands no orientation makes row-major are copied to row-major for vector
     * kernels (kernels/pack.c): Q K^T (B transposed, n > 1), attention's context with the
     * weights transposed (A transposed, p > 1), both with a row-major C, seq-first C, a
     * broadcast transposed operand, negative strides, copies past the stack buffer */
    static const struct {
        int64_t batch, n, m, p;
        int lay[3], broadcast;
    } packed[] = {
        { 9, 37, 64, 20, { TH_BF, TH_BF_TRANSPOSED, TH_BF }, 0 },
        { 9, 20, 37, 64, { TH_BF_TRANSPOSED, TH_BF, TH_BF }, 0 },
        { 9, 21, 21, 21, { TH_BF_TRANSPOSED, TH_BF_TRANSPOSED, TH_BF }, 0 },
        { 9, 13, 11, 16, { TH_BF_TRANSPOSED, TH_SF, TH_SF }, 0 },
        { 9, 16, 11, 13, { TH_SF, TH_BF_TRANSPOSED, TH_SF }, 0 },
        { 9, 8, 8, 8, { TH_BF_TRANSPOSED, TH_BF, TH_BF }, 1 },
        { 9, 8, 8, 8, { TH_BF, TH_BF_TRANSPOSED, TH_BF }, 2 },
        { 3, 9, 300, 40, { TH_BF, TH_BF_TRANSPOSED, TH_BF }, 0 },
        { 3, 40, 300, 9, { TH_BF_TRANSPOSED, TH_BF, TH_SF }, 0 },
    };
    for (int dt = BMM_F32; dt <= BMM_F64; dt++)
        for (size_t i = 0; i < sizeof packed / sizeof packed[0]; i++) {
            unsigned flags = i % 2 ? BMM_MEASURE : BMM_ESTIMATE;
            plan_layouts((bmm_dtype)dt, packed[i].batch, packed[i].n, packed[i].m,
                packed[i].p, packed[i].lay, packed[i].broadcast, 1.5, i % 3 ? 0.5 : 0, flags,
                k, sizeof k);
            const bmm_kernel_desc *kd = bmm__kernel_by_name(k);
            if (flags == BMM_ESTIMATE && bmm__cpu_admits(BMM_ISA_AVX2)) {  /* the rule's pick */
                assert_non_null(kd);
                assert_int_not_equal(kd->layout, BMM_LAYOUT_ANY);
            }
        }
    /* a transposed view read backwards (negative row stride): copied too */
    {
        float a[6 * 5], b[5 * 4], c[6 * 4];
        for (int i = 0; i < 30; i++)
            a[i] = (float)(i % 7) - 3;
        for (int i = 0; i < 20; i++)
            b[i] = (float)(i % 5) - 2;
        bmm_stride sa = { 0, -1, 6 }, sb = bmm_stride_batch_first(5, 4);
        bmm_stride sc = bmm_stride_batch_first(6, 4);
        assert_int_equal(bmm_sgemm_strided(1, 6, 5, 4, 1, a + 5, sa, b, sb, 0, c, sc), BMM_OK);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 4; j++) {
                float want = 0;
                for (int l = 0; l < 5; l++)
                    want += a[5 - i + 6 * l] * b[l * 4 + j];
                assert_true(c[i * 4 + j] == want);
            }
    }
    /* on two threads: the chunks of the transposed problem cut the swapped operands */
    static const int nt[3] = { TH_BF, TH_BF_TRANSPOSED, TH_BF };
    plan_layouts(BMM_F32, 4099, 1, 64, 48, nt, 0, 1, 0, BMM_THREADS(2), k, sizeof k);
    static const int tn[3] = { TH_BF_TRANSPOSED, TH_BF, TH_SF };  /* and packed copies */
    plan_layouts(BMM_F32, 4099, 9, 16, 12, tn, 0, 1, 0, BMM_THREADS(2), k, sizeof k);
    /* what bmm_plan_operands says of each arrangement: where vector kernels run, a transposed
     * A is read in place by the kernels of its order (tn); in portable C it is copied. A
     * transposed B is copied where its dot products are short (m = 7 here: the gnt form
     * costs more than the copy) and in portable C. */
    int views = bmm__cpu_admits(BMM_ISA_AVX2);
    static const struct {
        int64_t n, m, p;
        int lay[3];
        const char *says, *in_place;  /* in portable C; where A is read in place (NULL: same) */
    } says[] = {
        { 5, 7, 9, { TH_BF, TH_BF, TH_BF }, "as given", NULL },
        { 1, 7, 9, { TH_BF, TH_BF_TRANSPOSED, TH_BF }, "transposed", NULL },
        { 5, 7, 9, { TH_BF_TRANSPOSED, TH_BF_TRANSPOSED, TH_BF_TRANSPOSED }, "transposed", NULL },
        { 5, 7, 9, { TH_BF_TRANSPOSED, TH_BF, TH_BF }, "A copied", "as given" },
        { 5, 7, 9, { TH_BF, TH_BF_TRANSPOSED, TH_SF }, "B copied", NULL },
        { 5, 7, 9, { TH_BF_TRANSPOSED, TH_BF_TRANSPOSED, TH_BF }, "transposed, C copied", NULL },
        { 2, 7, 9, { TH_BF_TRANSPOSED, TH_BF, TH_BF_TRANSPOSED }, "A and C copied", "transposed" },
        { 3, 7, 40, { TH_BF_TRANSPOSED, TH_BF, TH_BF }, "A copied", "as given" },
        { 40, 7, 3, { TH_BF_TRANSPOSED, TH_BF, TH_BF }, "transposed, B and C copied",
          "as given" },
        { 5, 7, 9, { TH_BF, TH_BF_TRANSPOSED, TH_BF_TRANSPOSED }, "transposed, A copied", NULL },
    };
    for (size_t i = 0; i < sizeof says / sizeof says[0]; i++) {
        unsigned seed = 3;
        bmm_stride st[3] = { th_stride(says[i].lay[0], says[i].n, says[i].m, 4, &seed),
                             th_stride(says[i].lay[1], says[i].m, says[i].p, 4, &seed),
                             th_stride(says[i].lay[2], says[i].n, says[i].p, 4, &seed) };
        bmm_plan *plan = NULL;
        assert_int_equal(bmm_plan_create(&plan, BMM_F32, 4, says[i].n, says[i].m, says[i].p,
            st[0], st[1], st[2], 1, 0, BMM_ESTIMATE), BMM_OK);
        assert_string_equal(bmm_plan_operands(plan),
            views && says[i].in_place ? says[i].in_place : says[i].says);
        bmm_plan_destroy(plan);
    }
    assert_string_equal(bmm_plan_operands(NULL), "");
    /* the caller's names: B is NULL, although the transpose runs it as A */
    float a[64], c[64];
    bmm_stride sa = bmm_stride_batch_first(1, 8), sc = bmm_stride_batch_first(1, 8);
    bmm_stride sb = bmm_stride_transpose(bmm_stride_batch_first(8, 8));
    assert_int_equal(bmm_sgemm_strided(1, 1, 8, 8, 1, a, sa, NULL, sb, 0, c, sc), BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "B is NULL"));
}

/* Row-major products whose rows of C leave a quarter of the vector lanes idle or more, and whose
 * m is long, run as dot products along m on a copy of B^T (BMM__PACK_BT, the gnt form): on
 * AVX-512, f32 37x256x20 (p = 16 + 4 lanes), with B batch-first, seq-first or broadcast, any
 * alpha and beta, measured, on two threads; computed right everywhere. Where the rows kernels
 * fill their lanes, m is short or n = 1, B is read as given. */
static void test_lane_starved_rows_copy_b_transposed(void **state)
{
    (void)state;
    static const struct {
        int64_t batch, n, m, p;
        int lay[3], broadcast;
        double alpha, beta;
        unsigned flags;
    } cases[] = {
        { 9, 37, 256, 20, { TH_BF, TH_BF, TH_BF }, 0, 1, 0, BMM_ESTIMATE },
        { 9, 37, 256, 20, { TH_SF, TH_SF, TH_SF }, 0, -0.5, 2, BMM_ESTIMATE },
        { 9, 37, 256, 20, { TH_BF, TH_BF, TH_BF }, 2, 1.5, 0.5, BMM_MEASURE },
        { 130, 37, 256, 20, { TH_BF, TH_BF, TH_BF }, 0, 1, 0, BMM_THREADS(2) },
        { 5, 100, 512, 20, { TH_BF, TH_SF, TH_BF }, 0, 1, 1, BMM_ESTIMATE },
    };
    char k[128];
    int wide = bmm__cpu_admits(BMM_ISA_AVX512);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plan_layouts(BMM_F32, cases[i].batch, cases[i].n, cases[i].m, cases[i].p, cases[i].lay,
            cases[i].broadcast, cases[i].alpha, cases[i].beta, cases[i].flags, k, sizeof k);
        const bmm_kernel_desc *kd = bmm__kernel_by_name(k);
        if (wide && cases[i].flags != BMM_MEASURE) {
            assert_non_null(kd);
            assert_int_equal(kd->form, BMM_FORM_GNT);
        }
    }
    static const struct {
        int dt;
        int64_t n, m, p;
        int bt[2];  /* on AVX-512, on AVX2 (half the lanes) */
    } says[] = {
        { BMM_F32, 37, 256, 20, { 1, 0 } },  /* rows of 32 lanes, 20 used; of 24 on AVX2 */
        { BMM_F32, 64, 32, 17, { 1, 0 } },   /* on AVX2, the copy costs more than it saves */
        { BMM_F64, 64, 256, 9, { 1, 1 } },
        { BMM_F32, 37, 16, 20, { 0, 0 } },   /* m one vector: the sums cost more than they save */
        { BMM_F32, 1, 256, 20, { 0, 0 } },   /* n = 1: the copy costs as much as the product */
        { BMM_F32, 37, 256, 32, { 0, 0 } },  /* every lane used */
        { BMM_F32, 20, 256, 37, { 0, 0 } },  /* 37 of 48: past 3/4 */
        { BMM_F64, 37, 256, 20, { 0, 0 } },  /* 20 of 24 */
        { BMM_F32, 4, 4, 4, { 0, 0 } },
    };
    for (size_t i = 0; i < sizeof says / sizeof says[0]; i++) {
        bmm_stride sa = bmm_stride_batch_first(says[i].n, says[i].m);
        bmm_stride sb = bmm_stride_batch_first(says[i].m, says[i].p);
        bmm_stride sc = bmm_stride_batch_first(says[i].n, says[i].p);
        int bt = wide ? says[i].bt[0] : bmm__cpu_admits(BMM_ISA_AVX2) ? says[i].bt[1] : 0;
        bmm_plan *plan = NULL;
        assert_int_equal(bmm_plan_create(&plan, (bmm_dtype)says[i].dt, 8, says[i].n, says[i].m,
            says[i].p, sa, sb, sc, 1, 0, BMM_ESTIMATE), BMM_OK);
        assert_string_equal(bmm_plan_operands(plan), bt ? "B copied transposed" : "as given");
        bmm_plan_destroy(plan);
    }
}

/* The sanitizers' shadow memory and allocators need the address space (GCC's macros, Clang's
 * __has_feature). */
#define ADDRESS_LIMIT_WORKS 1
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#undef ADDRESS_LIMIT_WORKS
#define ADDRESS_LIMIT_WORKS 0
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) \
    || __has_feature(memory_sanitizer)
#undef ADDRESS_LIMIT_WORKS
#define ADDRESS_LIMIT_WORKS 0
#endif
#endif

/* A copy buffer that cannot be allocated: the call runs the generic path and succeeds. In a
 * child whose address space is capped 8 MiB past what it uses, B is a 32 x 1048576 view with
 * no unit stride (rows 2 apart, columns 3: overlapping, as inputs may), so its row-major copy
 * (in either orientation) needs 128 MiB, past what malloc's arenas hold in reserve, while B
 * spans 12 MiB. The result must still be exact. */
static void test_pack_buffer_refused_falls_back(void **state)
{
    (void)state;
    if (!ADDRESS_LIMIT_WORKS)
        return;
    const int64_t n = 1, m = 32, p = 1 << 20, span = 2 * (m - 1) + 3 * (p - 1) + 1;
    float *a = malloc(sizeof(float) * m), *b = malloc(sizeof(float) * span);
    float *c = malloc(sizeof(float) * p);
    assert_true(a && b && c);
    for (int64_t i = 0; i < m; i++)
        a[i] = (float)(i % 3);
    for (int64_t i = 0; i < span; i++)
        b[i] = (float)(i % 5) - 2;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1)
            _exit(2);
        fclose(f);
        rlim_t cap = (rlim_t)pages * 4096 + (8 << 20);
        struct rlimit lim = { cap, cap };
        bmm_set_num_threads(1);
        if (setrlimit(RLIMIT_AS, &lim) != 0)
            _exit(3);
        void *volatile probe = malloc((size_t)m * p * sizeof(float));  /* the cap holds */
        if (probe)
            _exit(4);
        bmm_stride sa = bmm_stride_batch_first(n, m), sc = bmm_stride_batch_first(n, p);
        bmm_stride sb = { 0, 2, 3 };  /* B[k][j] = b[2 k + 3 j] */
        if (bmm_sgemm_strided(1, n, m, p, 1, a, sa, b, sb, 0, c, sc) != BMM_OK)
            _exit(5);
        for (int64_t j = 0; j < p; j += 997) {  /* small integers: exact in any order */
            float want = 0;
            for (int64_t l = 0; l < m; l++)
                want += a[l] * b[2 * l + 3 * j];
            if (c[j] != want)
                _exit(6);
        }
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    free(a), free(b), free(c);
}

typedef struct {
    int id;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    static const int64_t shapes[][3] = { { 2, 2, 2 }, { 4, 4, 4 }, { 5, 7, 3 }, { 9, 9, 9 }, { 16, 16, 16 } };
    for (int it = 0; it < 60; it++) {
        const int64_t *sh = shapes[(it + w->id) % 5];
        int64_t n = sh[0], m = sh[1], p = sh[2], batch = 1 + (it % 7);
        float *A = malloc(sizeof(float) * batch * n * m), *B = malloc(sizeof(float) * batch * m * p);
        float *C = malloc(sizeof(float) * batch * n * p);
        for (int64_t i = 0; i < batch * n * m; i++) A[i] = (float)((i + w->id) % 5);
        for (int64_t i = 0; i < batch * m * p; i++) B[i] = (float)(i % 3);
        bmm_stride sa = bmm_stride_batch_first(n, m), sb = bmm_stride_batch_first(m, p);
        bmm_stride sc = bmm_stride_batch_first(n, p);
        bmm_status st;
        if (it % 3 == 0) {
            bmm_plan *plan = NULL;
            st = bmm_plan_create(&plan, BMM_F32, batch, n, m, p, sa, sb, sc, 1, 0,
                it % 6 == 0 ? BMM_MEASURE : BMM_ESTIMATE);
            if (st == BMM_OK)
                st = bmm_execute(plan, A, B, C);
            bmm_plan_destroy(plan);
        } else {
            st = bmm_sgemm_strided(batch, n, m, p, 1, A, sa, B, sb, 0, C, sc);
        }
        if (it % 20 == 19 && w->id == 0)
            bmm_wisdom_forget();
        w->failures += st != BMM_OK;
        for (int64_t t = 0; t < batch && st == BMM_OK; t++)  /* small integers: exact */
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < p; j++) {
                    float want = 0;
                    for (int64_t k = 0; k < m; k++)
                        want += A[t * n * m + i * m + k] * B[t * m * p + k * p + j];
                    w->failures += C[t * n * p + i * p + j] != want;
                }
        free(A);
        free(B);
        free(C);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    enum { NT = 4 };
    pthread_t th[NT];
    worker_arg args[NT];
    for (int i = 0; i < NT; i++) {
        args[i].id = i;
        args[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

int main(void)
{
    setenv("BMM_TUNE_BUDGET_MS", "5", 1);  /* tests check choices, not speed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate_picks_exact_kernel),
        cmocka_unit_test(test_attention_shapes_use_kernels),
        cmocka_unit_test(test_measure_records_wisdom),
        cmocka_unit_test(test_oneshot_cache_uses_callers_scalars),
        cmocka_unit_test(test_oneshot_alpha_zero_is_not_cached),
        cmocka_unit_test(test_transposed_products_run_row_major),
        cmocka_unit_test(test_lane_starved_rows_copy_b_transposed),
        cmocka_unit_test(test_pack_buffer_refused_falls_back),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
