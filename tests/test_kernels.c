/* test_kernels.c: every generated kernel against the generic path. One cmocka test per
 * table entry; `test_kernels NAME` runs one (CTest lists one test per kernel; exit 77, a
 * skip, when the CPU or BMM_ARCH does not admit the kernel's ISA).
 * A specialized kernel runs on batch 1 and an odd batch, alpha/beta values its form serves,
 * its own layout (seq-first also with padded rows, batch-first also with gaps between
 * matrices), A or B broadcast over the batch, operands ending at a guard page, and, for
 * beta == 0, a C full of NaN that must not leak into the result. Where its form needs adjacent
 * or packed batch items and the strides do not give them, it must not apply.
 * A shape-generic kernel runs every shape of its free sizes in 1..17 and p up to 129 (every
 * tail of its widest block row; batch-first, operands ending at a guard page, so a tail that
 * reads or writes past an operand faults), long inner sizes, and every layout class on a set
 * of shapes: seq-first, padded rows, A or B broadcast, and for portable C any strides
 * (transposed, column-major, padded).
 * Every kernel also runs its batch over 2, 3 and 8 threads, bitwise the same as on one.
 * `test_kernels --generate DT NxMxP bf|sf|nt FORM [stream]` (nt: batch-first, B a transposed
 * view) first makes kernels for that class by
 * generation on demand (BMM_CACHE_DIR), then runs every one of them through the same tests;
 * `stream` asks for them as a batch too large for the cache does, which alone gets the
 * prefetching `_pf` forms of a seq-first class (checked: with it some where vector ISAs run,
 * without it none). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The operands kernel k reads as transposed views (its operand order), as BMM__PACK_* bits. */
static int views_of(const bmm_kernel_desc *k)
{
    return (k->needs & BMM_NEEDS_A_TRANSPOSED ? BMM__PACK_A : 0)
        | (k->needs & BMM_NEEDS_B_TRANSPOSED ? BMM__PACK_B : 0);
}

/* One rows x cols operand in a layout: as it is, or a transposed view (copied to row-major by
 * the runtime for a packed one, read in place by a kernel of that order: then its transpose
 * is in the layout). */
static bmm_stride operand(int layout, int packed, int view, int64_t rows, int64_t cols,
    int64_t batch, unsigned *seed)
{
    if (view)
        return bmm_stride_transpose(th_stride(layout, cols, rows, batch, seed));
    return th_stride(packed ? TH_BF_TRANSPOSED : layout, rows, cols, batch, seed);
}

/* Strides of A, B and C in a layout for kernel k: A or B transposed views where k's order reads
 * them so, the operands of `packed` (BMM__PACK_*) transposed views copied by the runtime (to
 * row-major for the kernel, C and back), and one broadcast (1: A, 2: B). */
static void strides(const bmm_kernel_desc *k, int64_t batch, int64_t n, int64_t m, int64_t p,
    int layout, int packed, int broadcast, unsigned *seed, bmm_stride st[3])
{
    int views = views_of(k);
    st[0] = operand(layout, packed & BMM__PACK_A, views & BMM__PACK_A, n, m, batch, seed);
    st[1] = operand(layout, packed & BMM__PACK_B, views & BMM__PACK_B, m, p, batch, seed);
    st[2] = operand(layout, packed & BMM__PACK_C, 0, n, p, batch, seed);
    if (broadcast)
        st[broadcast - 1].batch = 0;
}

static void run_one(const bmm_kernel_desc *k, int64_t batch, int layout, int broadcast,
    int packed, double alpha, double beta, unsigned seed, int guarded)
{
    char what[256];
    unsigned s = seed;
    bmm_stride st[3];
    strides(k, batch, k->n, k->m, k->p, layout, packed, broadcast, &s, st);
    th_case tc;
    (guarded ? th_case_init_guarded : th_case_init)(&tc, (bmm_dtype)k->dtype, batch, k->n, k->m,
        k->p, st[0], st[1], st[2], alpha, beta, seed, beta == 0);
    tc.pr.pack = (int16_t)packed;
    snprintf(what, sizeof what, "%s (layout %d, broadcast %d, packed %d, batch %lld%s)", k->name,
        layout, broadcast, packed, (long long)batch, guarded ? ", at guard pages" : "");
    bmm_call call;
    bmm__call_of(&tc.pr, 1, &call);
    int applies = bmm__kernel_applies(k, &call);
    unsigned apart = BMM_NEEDS_ADJACENT_ITEMS | BMM_NEEDS_PACKED_ITEMS;
    int should = batch == 1 || !((broadcast && (k->needs & apart))
        || (layout == TH_BF_GAPPED && (k->needs & BMM_NEEDS_PACKED_ITEMS))
        || ((packed & BMM__PACK_C) && (k->needs & BMM_NEEDS_ADJACENT_ITEMS)));  /* C's copy is
            batch-first */
    if (applies != should) {
        print_error("%s %s\n", what, applies ? "applies although its form's needs are not met"
                                             : "does not apply to its own layout");
        fail();
    }
    if (!applies) {
        th_case_free(&tc);
        return;
    }
    bmm__run(NULL, &tc.pr, tc.A, tc.B, tc.C);  /* test_generic checks it */
    void *want = th_copy_c(&tc);
    th_case_reset(&tc);
    bmm__run(k, &tc.pr, tc.A, tc.B, tc.C);
    th_check(&tc, want, 4.0, what);
    free(want);
    th_case_free(&tc);
}

/* The alpha/beta pairs a kernel's form serves: the values it has not fixed take each of these. */
static int scalar_pairs(const bmm_kernel_desc *k, double out[4][2])
{
    static const double alphas[] = { 0.5, 1.0, -1.5, 0.0 }, betas[] = { -1.25, 1.0, 0.75, 2.0 };
    const bmm_scalar_form *f = &bmm__scalar_forms[k->scalars];
    int count = f->fixes_alpha && f->fixes_beta ? 1 : 4;
    for (int s = 0; s < count; s++) {
        out[s][0] = f->fixes_alpha ? f->alpha : alphas[s];
        out[s][1] = f->fixes_beta ? f->beta : betas[s];
        assert_true(bmm__scalar_form_serves(k->scalars, out[s][0], out[s][1]));
    }
    return count;
}

/* One shape-generic case: the kernel must apply (unless the layout is one its class does not
 * serve) and agree with the generic path. */
static void run_any(const bmm_kernel_desc *k, int64_t batch, int64_t n, int64_t m, int64_t p,
    int layout, int broadcast, int packed, const double ab[2], unsigned seed, int guarded)
{
    char what[256];
    unsigned s = seed;
    bmm_stride st[3];
    strides(k, batch, n, m, p, layout, packed, broadcast, &s, st);
    th_case tc;
    (guarded ? th_case_init_guarded : th_case_init)(&tc, (bmm_dtype)k->dtype, batch, n, m, p,
        st[0], st[1], st[2], ab[0], ab[1], seed, ab[1] == 0);
    tc.pr.pack = (int16_t)packed;
    snprintf(what, sizeof what, "%s (layout %d, broadcast %d, packed %d)", k->name, layout,
        broadcast, packed);
    bmm_call call;
    bmm__call_of(&tc.pr, 1, &call);
    /* each operand as the kernel reads it (strides normalized: one row or column is either
     * way): row-major or copied, or a transposed view where its order wants one */
    const bmm_stride *ns[3] = { &tc.pr.sa, &tc.pr.sb, &tc.pr.sc };
    int fits = 1, views = views_of(k);
    for (int o = 0; o < 3; o++)
        fits &= (views >> o) & 1 ? ns[o]->row == 1 && ns[o]->col != 1
                                 : ns[o]->col == 1 || ((packed >> o) & 1);
    int should = k->layout == BMM_LAYOUT_ANY || fits;
    if (bmm__kernel_applies(k, &call) != should) {
        print_error("%s on %lldx%lldx%lld: %s\n", what, (long long)n, (long long)m, (long long)p,
            should ? "does not apply" : "applies to strides it cannot serve");
        fail();
    }
    if (should) {
        bmm__run(NULL, &tc.pr, tc.A, tc.B, tc.C);
        void *want = th_copy_c(&tc);
        th_case_reset(&tc);
        bmm__run(k, &tc.pr, tc.A, tc.B, tc.C);
        th_check(&tc, want, 4.0, what);
        free(want);
    }
    th_case_free(&tc);
}

/* Over 2, 3 and 8 threads (static chunks of whole grains) the kernel gives the bits it gives on
 * one: batch 61, a prime, so chunks are uneven and a remainder follows the last whole group of
 * an across-batch or packed form. Built with OpenMP, the threads must really run. */
static void same_bits_on_threads(const bmm_kernel_desc *k, int64_t n, int64_t m, int64_t p,
    int layout, int packed, const double ab[2])
{
    const int64_t batch = 61;
    unsigned s = 7;
    assert_true(ab[0] != 0);  /* alpha 0 runs no kernel */
    bmm_stride st[3];
    strides(k, batch, n, m, p, layout, packed, 0, &s, st);
    th_case tc;
    th_case_init(&tc, (bmm_dtype)k->dtype, batch, n, m, p, st[0], st[1], st[2], ab[0], ab[1], 7,
        0);
    tc.pr.pack = (int16_t)packed;
    bmm_call call;
    bmm__call_of(&tc.pr, 1, &call);
    assert_true(bmm__kernel_applies(k, &call));
    size_t bytes = (size_t)tc.ext[2] * bmm__dtype_size(k->dtype);
    assert_int_equal(bmm__run_threads(k, &tc.pr, tc.A, tc.B, tc.C, 1), 1);
    void *one = th_copy_c(&tc);
    static const int counts[] = { 2, 3, 8 };
    for (int i = 0; i < 3; i++) {
        th_case_reset(&tc);
        int ran = bmm__run_threads(k, &tc.pr, tc.A, tc.B, tc.C, counts[i]);
#ifdef BMM_TEST_OPENMP
        int64_t grains = batch / bmm__batch_grain(k);
        assert_int_equal(ran, counts[i] < grains ? counts[i] : grains);
#else
        assert_int_equal(ran, 1);
#endif
        void *got = th_copy_c(&tc);
        if (memcmp(got, one, bytes) != 0) {
            print_error("%s on %d threads: C differs from one thread's\n", k->name, counts[i]);
            fail();
        }
        free(got);
    }
    free(one);
    th_case_free(&tc);
}

/* A size of a shape-generic kernel: its own where fixed, else v. */
static int64_t size_or(int32_t fixed, int64_t v)
{
    return fixed ? fixed : v;
}

static void test_anyshape_kernel(const bmm_kernel_desc *k)
{
    double ab[4][2];
    int nscal = scalar_pairs(k, ab);
    unsigned seed = 1;
    /* every shape of the free sizes in 1..17, batch-first, at guard pages */
    for (int64_t n = 1; n <= (k->n ? 1 : 17); n++)
        for (int64_t m = 1; m <= (k->m ? 1 : 17); m++)
            for (int64_t p = 1; p <= (k->p ? 1 : 17); p++)
                run_any(k, 2, size_or(k->n, n), size_or(k->m, m), size_or(k->p, p), TH_BF, 0, 0,
                    ab[seed % (unsigned)nscal], seed, 1), seed++;
    /* long inner sizes (the dot form's stack buffer and past it with contiguous B), wide C */
    static const int64_t longs[][3] = { { 5, 1000, 19 }, { 3, 1000, 1 }, { 1, 1000, 37 },
        { 9, BMM_PACK_MAX + 3, 1 }, { 2, 7, 300 }, { 1, 1, 1 } };
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++)
        for (int s = 0; s < nscal; s++)
            run_any(k, 3, size_or(k->n, longs[i][0]), size_or(k->m, longs[i][1]),
                size_or(k->p, longs[i][2]), TH_BF, 0, 0, ab[s], seed++, 1);
    /* every tail of a block row, up to the widest (8 vectors of 16 lanes): a last vector of
     * at most half the lanes runs in a half-width register, a longer one masked */
    for (int64_t p = 18; p <= (k->p ? 17 : 129); p++)
        run_any(k, 2, size_or(k->n, 3), size_or(k->m, 5), p, TH_BF, 0, 0,
            ab[seed % (unsigned)nscal], seed, 1), seed++;
    /* every layout class, every alpha/beta pair, on shapes around the vector widths */
    static const int64_t sizes[] = { 1, 3, 8, 16, 17, 33 };
    static const int layouts[] = { TH_SF, TH_SF_PADDED, TH_BF_TRANSPOSED, TH_RANDOM };
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            int64_t n = size_or(k->n, sizes[a]), m = size_or(k->m, sizes[(a + b) % 6]);
            int64_t p = size_or(k->p, sizes[b]);
            for (int l = 0; l < 4; l++)
                run_any(k, 5, n, m, p, layouts[l], 0, 0, ab[(a + b + l) % nscal], seed++, 0);
            for (int s = 0; s < nscal; s++)
                run_any(k, 4, n, m, p, TH_BF, 1 + (a + b + s) % 2, 0, ab[s], seed++, 0);
            /* transposed A, B, C or several, copied to row-major (kernels/pack.c), at guard
             * pages; seq-first C, and the copied operand broadcast */
            if (k->layout != BMM_LAYOUT_ANY)
                for (int packed = 1; packed <= 7; packed++)
                    if (!(packed & views_of(k)))  /* a view the kernel reads is not copied */
                        run_any(k, 3, n, m, p, (a + packed) % 2 ? TH_SF : TH_BF,
                            (a + b) % 3 == 0 ? (packed == 2 ? 2 : 1) : 0, packed,
                            ab[(a + packed) % nscal], seed++, 1);
        }
    /* batches of several chunks and a short last one (the rows forms run each block on the
     * items of about 16 KiB of operands: 2x3x2 f32 is 256 items a chunk), every layout class,
     * A or B broadcast */
    static const int layouts_all[] = { TH_BF, TH_SF, TH_SF_PADDED, TH_RANDOM };
    for (int l = 0; l < 4; l++)
        for (int bc = 0; bc <= 2; bc++)
            run_any(k, 600 + 7 * l, size_or(k->n, 2), size_or(k->m, 3), size_or(k->p, 2),
                layouts_all[l], bc, 0, ab[(l + bc) % nscal], seed++, 0);
    /* seq-first B of one column, copied a vector's width of adjacent items at a time where
     * they are (bmm_simd.h's pack_bcols): every group size and the items after the last
     * group, columns around the vector widths, at the group buffer's limit (512 elements
     * with AVX-512, 1024 with AVX2) and past it, at guard pages */
    if (k->needs & BMM_NEEDS_PACKABLE_B) {
        static const int64_t cols[] = { 1, 7, 16, 17, 40, 512, 513, 1024, 1030 };
        for (int64_t batch = 1; batch <= 18; batch++)
            for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
                run_any(k, batch, size_or(k->n, 3), cols[c], 1, TH_SF, 0, 0,
                    ab[seed % (unsigned)nscal], seed, 1), seed++;
    }
    /* seq-first B of one column past the stack buffer: only a kernel that needs no packing */
    bmm_call call;
    th_case tc;
    int64_t n = size_or(k->n, 2), m = BMM_PACK_MAX + 1, p = size_or(k->p, 1);
    th_case_init(&tc, (bmm_dtype)k->dtype, 3, n, m, p, bmm_stride_seq_first(n, m, 3),
        bmm_stride_seq_first(m, p, 3), bmm_stride_seq_first(n, p, 3), ab[0][0], ab[0][1], seed, 0);
    bmm__call_of(&tc.pr, 1, &call);
    assert_int_equal(bmm__kernel_applies(k, &call),
        !(k->needs & BMM_NEEDS_PACKABLE_B) && !views_of(k));  /* (A row-major here) */
    th_case_free(&tc);
    same_bits_on_threads(k, size_or(k->n, 5), size_or(k->m, 7), size_or(k->p, 3), TH_BF, 0, ab[0]);
    if (k->layout != BMM_LAYOUT_ANY)
        same_bits_on_threads(k, size_or(k->n, 5), size_or(k->m, 7), size_or(k->p, 3), TH_BF,
            7 & ~views_of(k), ab[nscal > 1]);
}

static void test_kernel(void **state)
{
    const bmm_kernel_desc *k = *state;
    if (!bmm__specialized(k)) {
        test_anyshape_kernel(k);
        return;
    }
    double scal[4][2];
    int nscal = scalar_pairs(k, scal);
    int layouts[2] = { k->layout == BMM_LAYOUT_BF ? TH_BF : TH_SF,
                       k->layout == BMM_LAYOUT_BF ? TH_BF_GAPPED : TH_SF_PADDED };
    static const int64_t batches[] = { 1, 37 };
    unsigned seed = 1;
    for (int b = 0; b < 2; b++)
        for (int l = 0; l < 2; l++)
            for (int s = 0; s < nscal; s++)
                run_one(k, batches[b], layouts[l], 0, 0, scal[s][0], scal[s][1], seed++, 0);
    run_one(k, 5, layouts[0], 1, 0, scal[0][0], scal[0][1], seed++, 0);
    run_one(k, 5, layouts[0], 2, 0, scal[0][0], scal[0][1], seed++, 0);
    /* every batch size modulo a packed form's group (16 covers every group), and past the
     * operands' ends nothing may be touched */
    for (int64_t batch = 2; batch <= 17; batch++)
        run_one(k, batch, layouts[0], 0, 0, scal[0][0], scal[0][1], seed++, 1);
    /* transposed A, B, C or several, copied to row-major for the kernel (kernels/pack.c; C
     * back): at guard pages, with gaps between C's matrices, broadcast, and on threads */
    for (int packed = 1; packed <= 7; packed++)
        for (int broadcast = 0; broadcast <= 2 && !(packed & views_of(k)); broadcast++) {
            const double *ab = scal[(packed + broadcast) % nscal];
            run_one(k, 7, layouts[broadcast % 2], broadcast, packed, ab[0], ab[1], seed++, 1);
        }
    same_bits_on_threads(k, k->n, k->m, k->p, layouts[0], 0, scal[0]);
    same_bits_on_threads(k, k->n, k->m, k->p, layouts[0], 3 & ~views_of(k), scal[0]);
    if (!(k->needs & BMM_NEEDS_ADJACENT_ITEMS))  /* C's copy is batch-first */
        same_bits_on_threads(k, k->n, k->m, k->p, layouts[0], 4, scal[nscal > 1]);
}

/* Makes kernels for one class by generation on demand: 1 when it made some, 0 when it
 * failed, -1 when it made none as it should not: a transposed B that no generated form reads
 * on this CPU (BMM_ARCH lowered: p or m past AVX2's vector). */
static int generate(char **argv, int stream)
{
    long long n, m, p;
    int form = -1;
    for (int f = 0; f < BMM_SCALARS_COUNT; f++)
        if (strcmp(argv[3], bmm__scalar_forms[f].word) == 0)
            form = f;
    if (sscanf(argv[1], "%lldx%lldx%lld", &n, &m, &p) != 3 || form < 0)
        return 0;
    int nt = strcmp(argv[2], "nt") == 0, bf = nt || strcmp(argv[2], "bf") == 0;
    bmm_stride sa = { bf ? n * m : m, bf ? m : 8 * m, 1 }, sb = { bf ? m * p : p, bf ? p : 8 * p, 1 };
    if (nt)  /* batch-first, B a transposed view */
        sb = (bmm_stride){ m * p, 1, m };
    bmm_stride sc = { bf ? n * p : p, bf ? p : 8 * p, 1 };
    bmm_call call;
    bmm__call_init(&call, strcmp(argv[0], "f64") == 0 ? BMM_F64 : BMM_F32, stream ? 1 << 16 : 8,
        n, m, p, &sa, &sb, &sc, form, 1, bmm__cpu_avx512_split());
    if (nt && !bmm__generate_serves(&call))
        return bmm__generate(&call) ? 0 : -1;
    return bmm__generate(&call);
}

int main(int argc, char **argv)
{
    int generated = (argc == 6 || argc == 7) && strcmp(argv[1], "--generate") == 0;
    int stream = generated && argc == 7 && strcmp(argv[6], "stream") == 0;
    int made = generated ? generate(argv + 2, stream) : 1;
    if (made < 0) {
        fprintf(stderr, "%s %s nt: no generated form reads this transposed B on this CPU, and "
            "none was made\n", argv[2], argv[3]);
        return 0;
    }
    if (!made) {
        fprintf(stderr, "generation on demand made no kernels for %s %s %s %s (BMM_VERBOSE=1 "
            "says why)\n", argv[2], argv[3], argv[4], argv[5]);
        return 1;
    }
    size_t prefetching = 0;
    struct CMUnitTest *tests = calloc(bmm__kernel_count(), sizeof *tests);
    size_t nt = 0, skipped = 0;
    bmm__kernel_iter it = { 0, 0, 0 };
    for (const bmm_kernel_desc *k; (k = bmm__kernel_next(&it));) {
        if (generated ? !bmm__kernel_generated(k) : argc > 1 && strcmp(argv[1], k->name) != 0)
            continue;
        if (!bmm__cpu_admits(k->isa)) {
            fprintf(stderr, "%s: skipped: this CPU (or BMM_ARCH) does not admit its ISA\n",
                k->name);
            skipped++;
            continue;
        }
        struct CMUnitTest t = { k->name, test_kernel, NULL, NULL, (void *)k };
        tests[nt++] = t;
        prefetching += k->prefetch != 0;
    }
    if (generated && strcmp(argv[4], "sf") == 0
        && (prefetching > 0) != (stream && bmm__cpu_max_isa() >= BMM_ISA_AVX2)) {
        fprintf(stderr, "%zu generated _pf kernels for a %s batch\n", prefetching,
            stream ? "streaming" : "cached");
        free(tests);
        return 1;
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
