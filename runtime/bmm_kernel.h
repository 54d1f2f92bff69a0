/* bmm_kernel.h: the kernel ABI, shared by generated kernels and the runtime.
 *
 * Every generated kernel has one signature, whatever its dtype: it takes one args struct,
 * runs the whole batch loop itself, and trusts its arguments (the runtime validated them once).
 * Each kernel comes with a descriptor; a generated file exports an array of them (a part),
 * and a generated table lists the parts. The runtime walks tables, never kernel names.
 * C99, and also valid C++, so vendored and consumer builds can include it. */
#ifndef BMM_KERNEL_H
#define BMM_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "bmm.h"
#include "bmm_vocab.h"

#ifdef __cplusplus
#define BMM_RESTRICT __restrict
extern "C" {
#else
#define BMM_RESTRICT restrict
#endif

/* Arguments of one batched product, the same struct for every dtype: A, B and C point to
 * elements of the kernel's dtype (its descriptor's: bmm_vocab.h's bmm__elem_bytes), strides
 * count elements, and alpha and beta come as doubles that the kernel converts once to its
 * scalar type (float for f32: the runtime passes values already rounded to it). Batch strides
 * are read by every kernel (0 broadcasts A or B); row strides by kernels whose layout takes
 * them at run time (BMM_LAYOUT_SF, BMM_LAYOUT_ANY); column strides only by BMM_LAYOUT_ANY
 * kernels (every other kernel serves unit column strides only); n, m and p only by
 * shape-generic kernels (a descriptor dimension of 0): a specialized kernel has its shape
 * compiled in. */
typedef struct bmm_args {
    const void *A;           /* first element of A_0 */
    const void *B;           /* first element of B_0 */
    void *C;                 /* first element of C_0 */
    int64_t batch;           /* number of products, >= 1 */
    int64_t sa_batch, sa_row;
    int64_t sb_batch, sb_row;
    int64_t sc_batch, sc_row;
    double alpha, beta;
    int64_t n, m, p;
    int64_t sa_col, sb_col, sc_col;
} bmm_args;

typedef void (*bmm_kernel_fn)(const bmm_args *args);

/* The version of this ABI: the args struct, the descriptor and the table below. A table
 * carries the version it was generated for, and the runtime refuses a table of another. */
#define BMM_KERNEL_ABI 4

/* The words of the kernel space (layout classes BMM_LAYOUT_*, ISAs BMM_ISA_*, alpha/beta forms
 * BMM_SCALARS_*, forms BMM_FORM_*, needs BMM_NEEDS_*) are defined once, in generator/vocab.lua,
 * and come from bmm_vocab.h, generated from it. */
/* BMM_NEEDS_PACKABLE_B: the longest strided B column a kernel copies to its stack. */
#define BMM_PACK_MAX 2048
/* The shape-generic p = 1 kernels' stack buffer: that column, or the columns of a vector's
 * width of adjacent seq-first items at once (bmm_simd.h's pack_bcols). */
#define BMM_PACK_BYTES 32768

typedef struct bmm_kernel_desc {
    const char *name;        /* bmm_<dtype>_<n>x<m>x<p>_<layout>_<isa>[_<form>]_<scalars>, with
                              * n, m, p spelled as letters where run-time ("nxmx1") */
    int dtype;               /* bmm_dtype: BMM_F32, BMM_F64 */
    int32_t n, m, p;         /* C is n x p, A is n x m, B is m x p; 0: any (read at run time) */
    int layout;              /* BMM_LAYOUT_* */
    int isa;                 /* BMM_ISA_* */
    int scalars;             /* BMM_SCALARS_* */
    int form;                /* BMM_FORM_* */
    int32_t tile;            /* rows of C per register block of a looped form, matrices per
                              * vector of the packed form; 0: neither */
    int32_t vectors;         /* vectors (portable C: columns) of C per block row; 0: unrolled */
    int32_t lanes;           /* elements per vector register (ISA and dtype); 1: portable C */
    int prefetch;            /* 1: also prefetches the next batch item's rows of A and B */
    unsigned needs;          /* BMM_NEEDS_* */
    bmm_kernel_fn fn;        /* NULL: a vector kernel compiled out (not an x86 GCC/Clang
                              * build); never for portable C */
} bmm_kernel_desc;

typedef struct bmm_kernel_part {
    int32_t count;
    const bmm_kernel_desc *kernels;
} bmm_kernel_part;

typedef struct bmm_kernel_table {
    int32_t abi;             /* BMM_KERNEL_ABI of the generator that wrote it; first, always */
    const char *spec_name;   /* the spec's name */
    const char *version;     /* generator version */
    const char *spec_hash;   /* hash of the canonical spec */
    int32_t nparts;
    const bmm_kernel_part *parts;
} bmm_kernel_table;

#ifdef __cplusplus
}
#endif

#endif
