/* test_half.c: the 16-bit dtypes (bf16, f16): their conversions, every bit pattern and the
 * rounding of doubles to them; and the generic path, whose results are the exact products'
 * sum rounded once (docs/semantics.md), with the special values. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct { bmm_dtype dt; int mant, exp; const char *word; } format;
static const format FORMATS[] = { { BMM_BF16, 7, 8, "bf16" }, { BMM_F16, 10, 5, "f16" } };

static double to_d(const format *f, unsigned h)
{
    return bmm__half_to_double(h, f->mant, f->exp);
}

static uint16_t from_d(const format *f, double x)
{
    return bmm__half_from_double(x, f->mant, f->exp);
}

/* The value of bits h, from the definition: (-1)^s 2^(e - bias) 1.f, or 2^(1 - bias) 0.f. */
static double defined_value(const format *f, unsigned h)
{
    unsigned e = h >> f->mant & ((1u << f->exp) - 1), m = h & ((1u << f->mant) - 1);
    int bias = (1 << (f->exp - 1)) - 1;
    double v = e == ((1u << f->exp) - 1) ? (m ? NAN : INFINITY)
        : e ? ldexp(1.0 + ldexp(m, -f->mant), (int)e - bias) : ldexp(m, 1 - bias - f->mant);
    return h >> (f->mant + f->exp) ? -v : v;
}

/* Every bit pattern: its value, and back to the same bits (NaNs stay NaNs). */
static void test_every_pattern(void **state)
{
    (void)state;
    for (int fi = 0; fi < 2; fi++) {
        const format *f = &FORMATS[fi];
        for (unsigned h = 0; h < 65536; h++) {
            double v = to_d(f, h), want = defined_value(f, h);
            if (isnan(want)) {
                assert_true(isnan(v));
                assert_true(isnan(to_d(f, from_d(f, v))));
                continue;
            }
            if (v != want || signbit(v) != signbit(want) || from_d(f, v) != h) {
                print_error("%s %#06x: value %.17g, want %.17g, back to %#06x\n", f->word, h, v,
                    want, from_d(f, v));
                fail();
            }
        }
    }
}

/* x rounds to h: h is a nearest value, and the even one of two at a tie; past the largest
 * finite value by half its ulp or more, infinity. */
static void check_rounding(const format *f, double x)
{
    unsigned h = from_d(f, x), sign = 1u << (f->mant + f->exp);
    unsigned inf = ((1u << f->exp) - 1) << f->mant;
    double v = to_d(f, h), ax = fabs(x);
    unsigned mag = h & (sign - 1);
    double top = to_d(f, inf - 1), ulp = top - to_d(f, inf - 2);
    if (ax >= top + ulp / 2) {
        if (mag != inf)
            goto bad;
        return;
    }
    if (mag >= inf || (mag && signbit(v) != signbit(x)))
        goto bad;
    double lo = mag ? to_d(f, h - 1) : -v, hi = to_d(f, h + 1);  /* neighbours, same sign */
    double err = fabs(x - v), e_lo = fabs(x - lo), e_hi = fabs(x - hi);
    if (err > e_lo || err > e_hi || ((err == e_lo || err == e_hi) && (mag & 1)))
        goto bad;
    return;
bad:
    print_error("%s: %.17g rounded to %#06x (%.17g)\n", f->word, x, h, v);
    fail();
}

static void test_rounding(void **state)
{
    (void)state;
    unsigned s = 11;
    for (int fi = 0; fi < 2; fi++) {
        const format *f = &FORMATS[fi];
        const unsigned inf = ((1u << f->exp) - 1) << f->mant;
        for (unsigned h = 0; h + 1 < inf; h++) {  /* between every two finite neighbours */
            double a = to_d(f, h), b = to_d(f, h + 1), mid = (a + b) / 2;
            check_rounding(f, mid);  /* a tie */
            check_rounding(f, -mid);
            check_rounding(f, nextafter(mid, 0));
            check_rounding(f, nextafter(mid, INFINITY));
            s = s * 1664525u + 1013904223u;
            check_rounding(f, a + (b - a) * (double)(s >> 8) / 16777216.0);
        }
        double top = to_d(f, inf - 1), half = (top - to_d(f, inf - 2)) / 2;
        check_rounding(f, top);
        check_rounding(f, nextafter(top + half, 0));
        check_rounding(f, top + half);  /* a tie with the next binade: infinity */
        check_rounding(f, -1e300);
        check_rounding(f, INFINITY);
        check_rounding(f, DBL_MIN);
        check_rounding(f, 4.9e-324);
        check_rounding(f, -0.0);
        assert_true(isnan(to_d(f, from_d(f, NAN))));
    }
}

/* The generic path on random shapes and strides: within half an ulp of the exact result
 * (the sum in double, rounded once), and nothing outside C written. */
static void test_generic_rounds_once(void **state)
{
    (void)state;
    unsigned seed = 5;
    for (int it = 0; it < 300; it++) {
        seed = seed * 1664525u + 1013904223u;
        unsigned r = seed >> 4;
        bmm_dtype dt = FORMATS[r & 1].dt;
        int64_t n = 1 + (r >> 1) % 9, m = 1 + (r >> 5) % 70, p = 1 + (r >> 12) % 70;
        int64_t batch = 1 + (r >> 19) % 4;
        int la = (r >> 21) % 5, lb = (r >> 24) % 5, lc = (r >> 27) % 5;
        if (lc == TH_BF_TRANSPOSED)
            lc = TH_RANDOM;
        static const double ab[][2] = { { 1, 0 }, { -0.5, 0 }, { 2, 0.5 }, { 1, 1 }, { 0, 2 } };
        const double *s = ab[(r >> 3) % 5];
        unsigned st = seed;
        th_case tc;
        th_case_init(&tc, dt, batch, n, m, p, th_stride(la, n, m, batch, &st),
            th_stride(lb, m, p, batch, &st), th_stride(lc, n, p, batch, &st), s[0], s[1], seed,
            s[1] == 0);
        bmm__run(NULL, &tc.pr, tc.A, tc.B, tc.C);
        /* the bound is c m eps (|alpha| sum |a b| + |beta c0|): half an eps of it, relative */
        th_check(&tc, NULL, 0.5 / (double)m, "generic path, rounded once");
        th_case_free(&tc);
    }
}

/* One product through the one-shot entries: n x m times m x 1 of given values. */
static void dot(const format *f, const double *a, const double *b, int m, double alpha,
    double beta, double c0, double *got)
{
    uint16_t A[8], B[8], C = from_d(f, c0);
    for (int k = 0; k < m; k++)
        A[k] = from_d(f, a[k]), B[k] = from_d(f, b[k]);
    bmm_stride sa = bmm_stride_batch_first(1, m), sb = bmm_stride_batch_first(m, 1);
    bmm_stride sc = bmm_stride_batch_first(1, 1);
    bmm_status st = f->dt == BMM_BF16
        ? bmm_bf16gemm_strided(1, 1, m, 1, (float)alpha, A, sa, B, sb, (float)beta, &C, sc)
        : bmm_hgemm_strided(1, 1, m, 1, (float)alpha, A, sa, B, sb, (float)beta, &C, sc);
    assert_int_equal(st, BMM_OK);
    *got = to_d(f, C);
}

static void test_special_values(void **state)
{
    (void)state;
    for (int fi = 0; fi < 2; fi++) {
        const format *f = &FORMATS[fi];
        double big = to_d(f, (((1u << f->exp) - 1) << f->mant) - 1), tiny = to_d(f, 1), got;
        const double one[3] = { 1, 1, 1 };
        const double nan_a[3] = { 1, NAN, 1 }, inf_a[3] = { 1, INFINITY, 1 };
        dot(f, nan_a, one, 3, 1, 0, 0, &got);
        assert_true(isnan(got));
        dot(f, inf_a, one, 3, 1, 0, 0, &got);
        assert_true(isinf(got) && got > 0);
        const double inf_b[2] = { INFINITY, 0 }, two[2] = { 1, 1 };
        dot(f, two, inf_b, 2, -1, 0, 0, &got);
        assert_true(isinf(got) && got < 0);
        const double bigs[2] = { big, big };
        dot(f, bigs, two, 2, 1, 0, 0, &got);  /* overflows the format: infinity */
        assert_true(isinf(got));
        dot(f, bigs, two, 2, 0.5, 0, 0, &got);  /* f32 accumulation: f16's 2 big is a float */
        assert_true(f->dt == BMM_F16 ? got == big : isinf(got));  /* (bf16's is not) */
        /* subnormals: products and sums of them, rounded once, ties to even */
        const double sub[3] = { tiny, 3 * tiny, tiny }, halves[3] = { 0.5, 0.5, 0.5 };
        dot(f, sub, halves, 1, 1, 0, 0, &got);  /* tiny / 2: a tie, to even (zero) */
        assert_true(got == 0);
        dot(f, sub + 1, halves, 1, 1, 0, 0, &got);  /* 1.5 tiny: a tie, to 2 tiny */
        assert_true(got == 2 * tiny);
        dot(f, sub, halves, 3, 1, 0, 0, &got);  /* 2.5 tiny: to 2 tiny */
        assert_true(got == 2 * tiny);
        dot(f, sub, one, 3, 1, 1, tiny, &got);  /* 5 tiny + tiny */
        assert_true(got == 6 * tiny);
        /* odd m: the cancellation of a long sum is exact before the one rounding */
        const double a5[5] = { 1, 1 + ldexp(1, -f->mant), -1, -1, 1 }, b5[5] = { 1, 1, 1, 1, 1 };
        dot(f, a5, b5, 5, 1, 0, 0, &got);
        assert_true(got == 1 + ldexp(1, -f->mant));
        /* beta = 0 never reads C; alpha = 0 never reads A and B */
        dot(f, one, one, 3, 2, 0, NAN, &got);
        assert_true(got == 6);
        dot(f, nan_a, one, 3, 0, 0.5, 3, &got);
        assert_true(got == 1.5);
    }
}

/* th_check's c for a kernel's result: float accumulation, (m + 2) 2^-23 relative to
 * |alpha| sum |a b| + |beta c|, then C's one rounding, half an epsilon. */
static double kernel_c(const format *f, int64_t m)
{
    return 0.5 / (double)m + (double)(m + 2) * ldexp(1, -23) / ((double)m * ldexp(1, -f->mant));
}

/* Plans: an f32 kernel on converted copies, timing included; bf16's own kernel instead where
 * the CPU has AVX512_BF16 (test_pairs.c). */
static void test_plans(void **state)
{
    (void)state;
    for (int fi = 0; fi < 2; fi++) {
        const format *f = &FORMATS[fi];
        for (unsigned flags = BMM_ESTIMATE; flags <= BMM_MEASURE; flags++) {
            th_case tc;
            bmm_stride s = bmm_stride_seq_first(5, 6, 33);
            th_case_init(&tc, f->dt, 33, 5, 6, 6, s, bmm_stride_batch_first(6, 6), s, 1.5,
                -1, 3 + flags, 0);
            bmm_plan *plan;
            assert_int_equal(bmm_plan_create(&plan, f->dt, 33, 5, 6, 6, tc.pr.sa, tc.pr.sb,
                tc.pr.sc, 1.5, -1, flags), BMM_OK);
            assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
            const int own = f->dt == BMM_BF16 && bmm__cpu_bf16();
            assert_true(strncmp(bmm_plan_kernel(plan), own ? "bmm_bf16_" : "bmm_f32_", 8) == 0);
            assert_string_equal(bmm_plan_operands(plan),
                own ? "as given (AVX512_BF16 pairs)" : "A, B and C converted to f32");
            th_check(&tc, NULL, kernel_c(f, 6), "plan");
            bmm_plan_destroy(plan);
            th_case_free(&tc);
        }
        /* a 16-bit operand is aligned to 2 bytes */
        uint16_t buf[40] = { 0 };
        bmm_stride s = bmm_stride_batch_first(2, 2);
        const void *odd = (const char *)buf + 1;
        bmm_status st = f->dt == BMM_BF16
            ? bmm_bf16gemm_strided(1, 2, 2, 2, 1, odd, s, buf, s, 0, buf + 8, s)
            : bmm_hgemm_strided(1, 2, 2, 2, 1, odd, s, buf, s, 0, buf + 8, s);
        assert_int_equal(st, BMM_EINVAL);
    }
}

/* A random case at guard pages, of every kind of operand the copies meet: its format; random
 * shapes (items past the copies' stack buffer too), strides of any sign, broadcast A or B,
 * beta = 0 over a C of NaN, alpha = 0. c_transposed: C may be a transposed view too. */
static const format *random_case(unsigned seed, int c_transposed, th_case *tc)
{
    unsigned r = seed >> 4;
    const format *f = &FORMATS[r & 1];
    int big = (r >> 1) % 16 == 0;  /* an item of 40 KiB and more: the heap buffer */
    int64_t n = 1 + (r >> 5) % (big ? 90 : 13), m = 1 + (r >> 12) % (big ? 150 : 40);
    int64_t p = 1 + (r >> 19) % (big ? 90 : 21), batch = 1 + (r >> 26) % 37;
    unsigned st = seed;
    int la = (int)(st % 6), lb = (int)(st / 6 % 6), lc = (int)(st / 36 % 6);
    bmm_stride sa = th_stride(la, n, m, batch, &st), sb = th_stride(lb, m, p, batch, &st);
    bmm_stride sc = th_stride(lc == TH_BF_TRANSPOSED && !c_transposed ? TH_SF_PADDED : lc, n, p,
        batch, &st);
    if (r >> 30 == 1)
        sa.batch = 0;
    if (r >> 30 == 2)
        sb.batch = 0;
    if (st % 7 == 0)  /* rows read backwards */
        sa.row = -sa.row;
    static const double ab[][2] = { { 1, 0 }, { -0.5, 0 }, { 2, 0.5 }, { 1, 1 }, { 0, 2 } };
    const double *s = ab[st / 7 % 5];
    th_case_init_guarded(tc, f->dt, batch, n, m, p, sa, sb, sc, s[0], s[1], seed, s[1] == 0);
    return f;
}

/* A case's one-shot call: 16-bit C, or a float one (th_case_float_c). */
static bmm_status oneshot(const th_case *tc)
{
    const bmm__problem *q = &tc->pr;
    const float alpha = (float)tc->alpha, beta = (float)tc->beta;
    if (q->cdtype == BMM_F32)
        return q->dtype == BMM_BF16
            ? bmm_sbgemm_strided(q->batch, q->n, q->m, q->p, alpha, tc->A, q->sa, tc->B, q->sb,
                  beta, tc->C, q->sc)
            : bmm_shgemm_strided(q->batch, q->n, q->m, q->p, alpha, tc->A, q->sa, tc->B, q->sb,
                  beta, tc->C, q->sc);
    return q->dtype == BMM_BF16
        ? bmm_bf16gemm_strided(q->batch, q->n, q->m, q->p, alpha, tc->A, q->sa, tc->B, q->sb,
              beta, tc->C, q->sc)
        : bmm_hgemm_strided(q->batch, q->n, q->m, q->p, alpha, tc->A, q->sa, tc->B, q->sb, beta,
              tc->C, q->sc);
}

/* The one-shot calls on random cases: within the kernels' bound, nothing else written. */
static void test_converted_runs(void **state)
{
    (void)state;
    unsigned seed = 9;
    for (int it = 0; it < 400; it++) {
        seed = seed * 1664525u + 1013904223u;
        th_case tc;
        const format *f = random_case(seed, 0, &tc);
        assert_int_equal(oneshot(&tc), BMM_OK);
        th_check(&tc, NULL, kernel_c(f, tc.pr.m), "converted run");
        th_case_free(&tc);
    }
}

/* Transposed views widened past run.c's blocks (16 columns, 256 rows at a time): A and B of
 * 9..300 rows, tails of every width, at guard pages. */
static void test_transposed_runs(void **state)
{
    (void)state;
    static const int64_t SHAPES[][3] = { { 9, 300, 20 }, { 257, 17, 8 }, { 40, 256, 33 },
        { 8, 8, 8 }, { 300, 261, 15 } };
    for (int fi = 0; fi < 2; fi++)
        for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++) {
            const format *f = &FORMATS[fi];
            const int64_t n = SHAPES[i][0], m = SHAPES[i][1], p = SHAPES[i][2], batch = 3;
            unsigned seed = 17;
            bmm_stride sa = th_stride(TH_BF_TRANSPOSED, n, m, batch, &seed);
            bmm_stride sb = th_stride(TH_BF_TRANSPOSED, m, p, batch, &seed);
            th_case tc;
            th_case_init_guarded(&tc, f->dt, batch, n, m, p, sa, sb,
                bmm_stride_batch_first(n, p), 1, 0, 5 + (unsigned)i, 1);
            assert_int_equal(f->dt == BMM_BF16
                ? bmm_bf16gemm_strided(batch, n, m, p, 1, tc.A, sa, tc.B, sb, 0, tc.C, tc.pr.sc)
                : bmm_hgemm_strided(batch, n, m, p, 1, tc.A, sa, tc.B, sb, 0, tc.C, tc.pr.sc),
                BMM_OK);
            th_check(&tc, NULL, kernel_c(f, m), "transposed run");
            th_case_free(&tc);
        }
}

/* th_check's c for a float C (f32's epsilon): float accumulation, (m + 2) ulps, then C's one
 * rounding, half of one; the generic path's is the rounding alone. */
static double float_c(int64_t m, int generic)
{
    return (0.5 + (generic ? 0 : (double)(m + 2))) / (double)m;
}

/* A float C (16-bit A and B): the one-shot entries on random cases (transposed C too), then
 * a plan of each kind on the same problem: BMM_C_F32 with the static rule, with timing, and
 * the generic path (the exact sum rounded once to float). */
static void test_float_c(void **state)
{
    (void)state;
    unsigned seed = 21;
    for (int it = 0; it < 300; it++) {
        seed = seed * 1664525u + 1013904223u;
        th_case tc;
        random_case(seed, it % 3 == 0, &tc);
        th_case_float_c(&tc);
        const bmm__problem *q = &tc.pr;
        assert_int_equal(oneshot(&tc), BMM_OK);
        th_check(&tc, NULL, float_c(q->m, 0), "float C, one-shot");
        static const unsigned FLAGS[] = { BMM_ESTIMATE, BMM_MEASURE, BMM_GENERIC_ONLY };
        const unsigned flags = FLAGS[it % 3];
        th_case_reset(&tc);
        bmm_plan *plan;
        assert_int_equal(bmm_plan_create(&plan, q->dtype, q->batch, q->n, q->m, q->p, q->sa,
            q->sb, q->sc, tc.alpha, tc.beta, flags | BMM_C_F32), BMM_OK);
        assert_int_equal(bmm_execute(plan, tc.A, tc.B, tc.C), BMM_OK);
        th_check(&tc, NULL, float_c(q->m, flags == BMM_GENERIC_ONLY), "float C, plan");
        const char *ops = bmm_plan_operands(plan);
        if (strncmp(bmm_plan_kernel(plan), "bmm_f32_", 8) == 0)  /* (else a 16-bit kernel's) */
            assert_string_equal(ops, q->sc.col == 1 ? "A and B converted to f32"
                                                    : "A and B converted to f32, C copied");
        bmm_plan_destroy(plan);
        th_case_free(&tc);
    }
}

/* BMM_C_F32's rules: 16-bit A and B only; a float C aligned to 4 bytes; its span in bytes. */
static void test_float_c_rules(void **state)
{
    (void)state;
    bmm_stride s = bmm_stride_batch_first(2, 2);
    bmm_plan *plan;
    assert_int_equal(bmm_plan_create(&plan, BMM_F32, 1, 2, 2, 2, s, s, s, 1, 0, BMM_C_F32),
        BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "BMM_C_F32"));
    assert_null(plan);
    float c[8];
    uint16_t ab[8] = { 0 };
    const float *odd = (const float *)(void *)((char *)c + 2);
    th_poison(c, sizeof c);
    assert_int_equal(bmm_sbgemm_strided(1, 2, 2, 2, 1, ab, s, ab, s, 0, (float *)odd, s),
        BMM_EINVAL);
    assert_non_null(strstr(bmm_last_error(), "4 bytes"));
    assert_true(th_poisoned(c, sizeof c));
    /* C overlapping A by its float bytes (A's 8 bytes, C's 16 from A + 4 bytes) */
    uint16_t mem[16] = { 0 };
    assert_int_equal(bmm_shgemm_strided(1, 2, 2, 2, 1, mem, s, ab, s, 0,
        (float *)(void *)(mem + 2), s), BMM_EOVERLAP);
    assert_int_equal(bmm_shgemm_strided(1, 2, 2, 2, 1, mem, s, ab, s, 0,
        (float *)(void *)(mem + 4), s), BMM_OK);
}

/* Rows of length len at x (16-bit) converted on isa's runs, one after another: the tails of
 * every length too. Returns the elements covered. */
static int64_t widen_rows(const format *f, const uint16_t *h, float *x, int64_t n, int64_t len,
    int isa)
{
    int64_t o = 0;
    for (; o + len <= n; o += len)
        bmm__widen(f->dt, h + o, (bmm_stride){ 0, len, 1 }, 1, 1, len, x + o, 0, len, isa);
    return o;
}

static int64_t narrow_rows(const format *f, const float *x, uint16_t *h, int64_t n, int64_t len,
    int isa)
{
    int64_t o = 0;
    for (; o + len <= n; o += len)
        bmm__narrow(f->dt, x + o, 0, len, 1, 1, len, h + o, (bmm_stride){ 0, len, 1 }, isa);
    return o;
}

/* convert.c's vector runs (each ISA this CPU admits, rows of every length to 33) give the
 * bits its one-at-a-time loop gives: every 16-bit pattern widened; floats of every kind
 * narrowed (ties of either parity, subnormals, past the largest, NaN: any NaN). */
static void test_conversions_agree(void **state)
{
    (void)state;
    enum { N = 65536 };
    static const int64_t LENGTHS[] = { N, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33 };
    uint16_t *h = malloc(N * sizeof *h), *h1 = malloc(N * sizeof *h1), *h2 = malloc(N * sizeof *h2);
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_true(h && h1 && h2 && x && y);
    for (int fi = 0; fi < 2; fi++) {
        const format *f = &FORMATS[fi];
        unsigned s = 17;
        for (int i = 0; i < N; i++) {
            h[i] = (uint16_t)i;
            s = s * 1664525u + 1013904223u;
            unsigned v = (unsigned)(i >> 2) ^ (unsigned)(i & 3) << 13;  /* either parity */
            double a = to_d(f, (uint16_t)v), b = to_d(f, (uint16_t)(v + 1));
            uint32_t u = s;
            switch (i % 4) {  /* around every value's neighbours, and random bits */
            case 0: x[i] = (float)((a + b) / 2); break;
            case 1: x[i] = nextafterf((float)((a + b) / 2), (float)b); break;
            case 2: x[i] = (float)a; break;
            default: memcpy(&x[i], &u, sizeof u);
            }
            if (s >> 31)
                x[i] = -x[i];
            h2[i] = from_d(f, (double)x[i]);
        }
        for (int isa = BMM_ISA_C99; isa <= bmm__cpu_max_isa(); isa++)
            for (size_t l = 0; l < sizeof LENGTHS / sizeof LENGTHS[0]; l++) {
                int64_t n = widen_rows(f, h, y, N, LENGTHS[l], isa);
                for (int64_t i = 0; i < n; i++)
                    if ((double)y[i] != to_d(f, h[i]) && !(isnan(y[i]) && isnan(to_d(f, h[i])))) {
                        print_error("%s %#06x widened to %a (ISA %d, rows of %lld)\n", f->word,
                            (unsigned)i, y[i], isa, (long long)LENGTHS[l]);
                        fail();
                    }
                n = narrow_rows(f, x, h1, N, LENGTHS[l], isa);
                for (int64_t i = 0; i < n; i++)
                    if (h1[i] != h2[i] && !(isnan(to_d(f, h1[i])) && isnan(to_d(f, h2[i])))) {
                        print_error("%s: %a narrowed to %#06x, want %#06x (ISA %d, rows of "
                            "%lld)\n", f->word, x[i], h1[i], h2[i], isa, (long long)LENGTHS[l]);
                        fail();
                    }
            }
    }
    free(h), free(h1), free(h2), free(x), free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pattern),
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_generic_rounds_once),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_plans),
        cmocka_unit_test(test_converted_runs),
        cmocka_unit_test(test_transposed_runs),
        cmocka_unit_test(test_float_c),
        cmocka_unit_test(test_float_c_rules),
        cmocka_unit_test(test_conversions_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
