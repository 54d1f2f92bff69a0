/* bench.h: the C side of the benchmark. A case is one batched product (shape, dtype, layout,
 * regime) with its operands; a contender is one way to compute it (bmmgen, a peer library,
 * the compiler's own loops). The C++ shim (shim.cpp) registers every (case, contender) pair
 * with Google Benchmark; everything else is here and in the contender_*.c files. */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>

#include "bmm.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { BENCH_BF = 1, BENCH_SF = 2 };            /* all three operands alike */
/* The operand orders (in cache only): batch-first, with B, A or both transposed views (stored
 * as the transpose, batch-first): Q K^T, a context product, a backward product. */
enum { BENCH_NT = 3, BENCH_TN = 4, BENCH_TT = 5 };
/* ~256 KiB or ~256 MiB of operands; ~16 KiB (the scaling run only: below the threads' work
 * threshold) */
enum { BENCH_CACHE = 0, BENCH_STREAM = 1, BENCH_SMALL = 2 };

typedef struct bench_case {
    bmm_dtype dtype;
    int layout, regime;
    int64_t n, m, p, batch;
    bmm_stride sa, sb, sc;
    void *A, *B, *C;        /* C: shared with the checking child process */
    void *Cref;             /* the generic path's result */
    int64_t ext[3];         /* elements spanned by A, B, C */
    double flops, bytes;    /* per batched call: 2nmp*batch; A, B read and C written once */
} bench_case;

typedef struct bench_contender {
    const char *name;
    /* Once per run: NULL when usable, else why not (the contender is then left out). */
    const char *(*init)(void);
    /* Which kernels or configuration it runs with, for the report. */
    const char *(*info)(void);
    /* Per case: state for run(), or NULL with *why set when it does not handle the case. */
    void *(*prepare)(const bench_case *c, const char **why);
    /* One batched product: C = A B for every item (alpha 1, beta 0). */
    void (*run)(void *state, const bench_case *c);
    void (*release)(void *state);
    /* Runs on n threads from now on (prepare() and run() after it); NULL: one thread only (left
     * out of the scaling run). */
    void (*threads)(int n);
    /* Also takes the 16-bit group's cases (BMM_BF16: A, B and C bf16, f32 accumulation). */
    int half;
} bench_contender;

/* contenders.c: every contender built in, NULL-terminated. */
/* prepare() and release() of a contender that keeps no state per case. */
void *bench_stateless(const bench_case *c, const char **why);
void bench_release_none(void *state);
extern const bench_contender *const bench_contenders[];

/* The threads of the scaling run (BENCH_THREADS; 1 otherwise): its limits are measured on
 * that many. */
extern int bench_threads;

/* cases.c */
const char *bench_layout_name(int layout);
const char *bench_regime_name(int regime);
/* Sets up operands for the case (fills A, B; C from the generic path into Cref).
 * Returns 0, or -1 when memory runs out. */
int bench_case_setup(bench_case *c, bmm_dtype dt, int layout, int regime, int64_t n, int64_t m,
    int64_t p);
void bench_case_free(bench_case *c);

/* check.c: runs the contender once in a child process on C (filled with NaN first) and
 * compares with Cref. Returns NULL when right, else what went wrong (static text). */
const char *bench_check(const bench_contender *k, void *state, bench_case *c);

/* limits.c: the machine's limits, measured in the same run. */
double bench_peak_gflops(bmm_dtype dt);     /* FMA throughput of the widest ISA admitted (bf16:
                                            * vdpbf16ps's where the library would use it) */
double bench_triad_gbs(int64_t bytes);       /* a[i] = b[i] + s c[i] over 3 arrays of bytes/3 */
/* Roofline bound of a case in GFLOP/s: min(peak, bandwidth x flops / bytes). */
double bench_bound(const bench_case *c, double peak, double gbs);

/* The shapes of the default spec, from bench_shapes.h, then those of bench/unseen.lua (not in
 * the default spec: served by shape-generic kernels), from bench_unseen.h; both made from
 * their spec at build time. */
typedef struct bench_shape {
    int64_t n, m, p;
    int unseen;
} bench_shape;
extern const bench_shape bench_shapes[];
extern const int bench_nshapes;
/* The 16-bit group's shapes (in cache, batch-first): tiny, blocks, 64^3, attention, and two
 * shapes no spec has (unseen = 1). */
extern const bench_shape bench_half_shapes[];
extern const int bench_nhalf_shapes;

/* A bf16's bits from a float, rounded to nearest even (finite values); and back. */
static inline uint16_t bench_bf16(float f)
{
    union { float f; uint32_t u; } v = { f };
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float bench_float(uint16_t h)
{
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}
/* An operand's element size. */
static inline size_t bench_elem_size(bmm_dtype dt)
{
    return dt == BMM_F64 ? 8 : dt == BMM_F32 ? 4 : 2;
}

#ifdef __cplusplus
}
#endif

#endif
