/* limits.c: the roofline's two numbers, measured in the run that uses them: FMA throughput
 * of one core with enough independent accumulators to hide the latency, and triad bandwidth
 * on bench_threads threads (the scaling run: every core, as its contenders). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define BENCH_X86 1
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define REPS 20000000L
#define ACC 16  /* accumulators: latency 4 x 2 pipes, with room */

#ifdef BENCH_X86
/* ACC independent FMA chains per dtype for one ISA: vector types, width, intrinsic prefix */
#define FMA_PEAK(name, isa, vs, vd, lanes, pre)                                                \
    __attribute__((target(isa))) static double name(int f32)                                  \
    {                                                                                         \
        vs s[ACC];                                                                            \
        vd d[ACC];                                                                            \
        for (int i = 0; i < ACC; i++) {                                                       \
            s[i] = pre##set1_ps((float)i);                                                    \
            d[i] = pre##set1_pd((double)i);                                                   \
        }                                                                                     \
        const vs a = pre##set1_ps(0.999999f), b = pre##set1_ps(1e-7f);                        \
        const vd ad = pre##set1_pd(0.999999), bd = pre##set1_pd(1e-7);                        \
        double t = now();                                                                     \
        if (f32)                                                                              \
            for (long r = 0; r < REPS / 10; r++)                                              \
                for (int i = 0; i < ACC; i++)                                                 \
                    s[i] = pre##fmadd_ps(s[i], a, b);                                         \
        else                                                                                  \
            for (long r = 0; r < REPS / 10; r++)                                              \
                for (int i = 0; i < ACC; i++)                                                 \
                    d[i] = pre##fmadd_pd(d[i], ad, bd);                                       \
        t = now() - t;                                                                        \
        float out[16];                                                                        \
        double outd[8];                                                                       \
        volatile double sink = 0;                                                             \
        for (int i = 0; i < ACC; i++) {                                                       \
            pre##storeu_ps(out, s[i]);                                                        \
            pre##storeu_pd(outd, d[i]);                                                       \
            sink += out[0] + outd[0];                                                         \
        }                                                                                     \
        (void)sink;                                                                           \
        return (double)(REPS / 10) * ACC * (f32 ? lanes : lanes / 2) * 2 / t * 1e-9;         \
    }
FMA_PEAK(fma512, "avx512f", __m512, __m512d, 16, _mm512_)
FMA_PEAK(fma256, "avx2,fma", __m256, __m256d, 8, _mm256_)

/* AVX512_BF16 beside AVX-512F (cpuid leaf 7 subleaf 1, EAX bit 5), as the library asks. */
static int has_avx512_bf16(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || a < 1)
        return 0;
    __get_cpuid_count(7, 1, &a, &b, &c, &d);
    return (a >> 5) & 1;
}

/* vdpbf16ps in ACC independent chains: 32 multiply-adds an instruction. */
__attribute__((target("avx512f,avx512bf16"))) static double dpbf16_512(void)
{
    __m512 s[ACC];
    for (int i = 0; i < ACC; i++)
        s[i] = _mm512_set1_ps((float)i);
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), b = (__m512bh)_mm512_set1_epi32(
        0x33d633d6);  /* bf16 0.996 and 1e-7 */
    double t = now();
    for (long r = 0; r < REPS / 10; r++)
        for (int i = 0; i < ACC; i++)
            s[i] = _mm512_dpbf16_ps(s[i], a, b);
    t = now() - t;
    float out[16];
    volatile double sink = 0;
    for (int i = 0; i < ACC; i++) {
        _mm512_storeu_ps(out, s[i]);
        sink += out[0];
    }
    (void)sink;
    return (double)(REPS / 10) * ACC * 64 / t * 1e-9;
}
#endif

double bench_peak_gflops(bmm_dtype dt)
{
    int f32 = dt == BMM_F32;
#ifdef BENCH_X86
    const char *arch = getenv("BMM_ARCH");
    int allow512 = !arch || !*arch || strcmp(arch, "avx512") == 0;  /* as the library's BMM_ARCH */
    if (dt == BMM_BF16 && (!arch || !*arch) && __builtin_cpu_supports("avx512f")
        && has_avx512_bf16())
        return dpbf16_512();  /* bf16 without it: f32's FMAs on converted copies */
    if (__builtin_cpu_supports("avx512f") && allow512)
        return fma512(f32);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return fma256(f32);
#endif
    /* portable: scalar FMAs in independent chains */
    double acc[ACC];
    for (int i = 0; i < ACC; i++)
        acc[i] = i;
    double t = now();
    for (long r = 0; r < REPS / 10; r++)
        for (int i = 0; i < ACC; i++)
            acc[i] = acc[i] * 0.999999 + 1e-7;
    t = now() - t;
    volatile double sink = acc[0];
    (void)sink;
    return (double)(REPS / 10) * ACC * 2 / t * 1e-9;
}

int bench_threads = 1;

double bench_triad_gbs(int64_t bytes)
{
    size_t n = (size_t)(bytes / 3 / sizeof(double));
    double *a = aligned_alloc(64, n * sizeof *a + 64), *b = aligned_alloc(64, n * sizeof *b + 64);
    double *c = aligned_alloc(64, n * sizeof *c + 64);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    const int nt = bench_threads;  /* each thread its own contiguous part, first touched by it */
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (size_t i = 0; i < n; i++)
        a[i] = 0, b[i] = (double)i, c[i] = 1;
    double best = 1e30, total = 0;
    /* best of many: from DRAM, on a shared VM, single runs spread 35-54 GB/s (2 cores) */
    const double span = bytes > ((int64_t)64 << 20) ? 1.5 : 0.5;
    for (int rep = 0; rep < 1000 && (rep < 5 || total < span); rep++) {
        double t = now();
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + 0.5 * c[i];
        t = now() - t;
        total += t;
        if (t < best)
            best = t;
    }
    volatile double sink = a[n / 2];
    (void)sink;
    free(a), free(b), free(c);
    return 3.0 * (double)n * sizeof(double) / best * 1e-9;
}

double bench_bound(const bench_case *c, double peak, double gbs)
{
    double mem = gbs * c->flops / c->bytes;
    return mem < peak ? mem : peak;
}
