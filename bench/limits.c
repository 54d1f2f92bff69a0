/* limits.c: the roofline's two numbers, measured in the run that uses them: FMA throughput
 * with enough independent accumulators to hide the latency, and triad bandwidth. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
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
__attribute__((target("avx512f"))) static double fma512(int f32)
{
    __m512 s[ACC];
    __m512d d[ACC];
    for (int i = 0; i < ACC; i++) {
        s[i] = _mm512_set1_ps((float)i);
        d[i] = _mm512_set1_pd((double)i);
    }
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    const __m512d ad = _mm512_set1_pd(0.999999), bd = _mm512_set1_pd(1e-7);
    double t = now();
    for (long r = 0; r < REPS / 10; r++)
        for (int i = 0; i < ACC; i++) {
            if (f32)
                s[i] = _mm512_fmadd_ps(s[i], a, b);
            else
                d[i] = _mm512_fmadd_pd(d[i], ad, bd);
        }
    t = now() - t;
    volatile float sink = 0;
    for (int i = 0; i < ACC; i++)
        sink += _mm512_reduce_add_ps(s[i]) + (float)_mm512_reduce_add_pd(d[i]);
    (void)sink;
    return (double)(REPS / 10) * ACC * (f32 ? 16 : 8) * 2 / t * 1e-9;
}

__attribute__((target("avx2,fma"))) static double fma256(int f32)
{
    __m256 s[ACC];
    __m256d d[ACC];
    for (int i = 0; i < ACC; i++) {
        s[i] = _mm256_set1_ps((float)i);
        d[i] = _mm256_set1_pd((double)i);
    }
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    const __m256d ad = _mm256_set1_pd(0.999999), bd = _mm256_set1_pd(1e-7);
    double t = now();
    for (long r = 0; r < REPS / 10; r++)
        for (int i = 0; i < ACC; i++) {
            if (f32)
                s[i] = _mm256_fmadd_ps(s[i], a, b);
            else
                d[i] = _mm256_fmadd_pd(d[i], ad, bd);
        }
    t = now() - t;
    volatile float sink = 0;
    float tmp[8];
    double tmpd[4];
    for (int i = 0; i < ACC; i++) {
        _mm256_storeu_ps(tmp, s[i]);
        _mm256_storeu_pd(tmpd, d[i]);
        sink += tmp[0] + (float)tmpd[0];
    }
    (void)sink;
    return (double)(REPS / 10) * ACC * (f32 ? 8 : 4) * 2 / t * 1e-9;
}
#endif

double bench_peak_gflops(bmm_dtype dt)
{
    int f32 = dt == BMM_F32;
#ifdef BENCH_X86
    const char *arch = getenv("BMM_ARCH");
    int allow512 = !arch || !*arch || strcmp(arch, "avx512") == 0;  /* as the library's BMM_ARCH */
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

double bench_triad_gbs(int64_t bytes)
{
    size_t n = (size_t)(bytes / 3 / sizeof(double));
    double *a = aligned_alloc(64, n * sizeof *a + 64), *b = aligned_alloc(64, n * sizeof *b + 64);
    double *c = aligned_alloc(64, n * sizeof *c + 64);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        a[i] = 0, b[i] = (double)i, c[i] = 1;
    double best = 1e30, total = 0;
    for (int rep = 0; rep < 1000 && (rep < 5 || total < 0.5); rep++) {
        double t = now();
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
