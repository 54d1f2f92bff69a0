/* bmm_internal.h: what the runtime's files share; not installed. Tests and bmm-tune use it
 * to reach single kernels and the timer. */
#ifndef BMM_INTERNAL_H
#define BMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "bmm.h"
#include "bmm_kernel.h"

/* A problem, and the plan-cache key: fixed size, no padding, zero-filled, compared with memcmp. */
typedef struct bmm__problem {
    int32_t dtype;       /* BMM_F32 or BMM_F64 */
    int32_t scalars;     /* BMM_SCALARS_* class of (alpha, beta) */
    int64_t batch, n, m, p;
    bmm_stride sa, sb, sc;
} bmm__problem;


/* error.c */
bmm_status bmm__fail(bmm_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int bmm__verbose(void);
/* Says what was chosen and why, on stderr, when BMM_VERBOSE is set. */
void bmm__note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* problem.c */
void bmm__problem_init(bmm__problem *pr, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta);
int bmm__scalars_class(double alpha, double beta);
size_t bmm__dtype_size(int dtype);
bmm_status bmm__check_problem(const bmm__problem *pr);
bmm_status bmm__check_operands(const bmm__problem *pr, const void *A, const void *B, const void *C);
/* Elements spanned by each operand (1 + largest offset); valid after a successful check. */
void bmm__extents(const bmm__problem *pr, int64_t ext[3]);
/* Layout class of operand 0 (A), 1 (B) or 2 (C): BMM_LAYOUT_BF, BMM_LAYOUT_SF or 0 (other). */
int bmm__layout_class(const bmm__problem *pr, int operand);
int bmm__regime(const bmm__problem *pr);  /* 0 in cache, 1 streaming */

/* generic.c: any shape and strides; beta == 0 never reads C. */
void bmm__generic(const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, void *C);

/* registry.c */
int bmm__kernel_applies(const bmm_kernel_desc *k, const bmm__problem *pr);
/* Kernels that apply and whose ISA this CPU admits; returns how many (up to max). */
size_t bmm__candidates(const bmm__problem *pr, const bmm_kernel_desc **out, size_t max);
const bmm_kernel_desc *bmm__estimate(const bmm__problem *pr);  /* NULL: generic */
const bmm_kernel_desc *bmm__kernel_by_name(const char *name);
size_t bmm__kernel_count(void);
const bmm_kernel_desc *bmm__kernel_at(size_t i);
const char *bmm__table_signature(void);
/* Runs kernel k (NULL: the generic path) on a checked problem. */
void bmm__run(const bmm_kernel_desc *k, const bmm__problem *pr, double alpha, double beta,
    const void *A, const void *B, void *C);

/* cpu.c */
int bmm__cpu_admits(int isa);
const char *bmm__cpu_signature(void);

/* tune.c */
/* Seconds per call of kernel k on these operands: warm-up, then the best of repetitions
 * within budget seconds. */
double bmm__time_kernel(const bmm_kernel_desc *k, const bmm__problem *pr, double alpha,
    double beta, const void *A, const void *B, void *C, double budget);
/* One candidate's timing (kernel NULL: the generic path). */
typedef struct bmm__timing {
    const bmm_kernel_desc *kernel;
    double seconds;  /* per call on the timing sample */
    int wrong;       /* disagreed with the generic path: never chosen */
} bmm__timing;
/* Times every candidate on private buffers; *best is the winner (NULL: generic). log (may be
 * NULL) receives up to max_log timings, *nlog of them, candidates then the generic path. */
bmm_status bmm__measure(const bmm__problem *pr, double alpha, double beta,
    const bmm_kernel_desc **best, bmm__timing *log, size_t max_log, size_t *nlog);

/* wisdom.c */
void bmm__wisdom_init(void);  /* imports $BMM_WISDOM once */
int bmm__wisdom_lookup(const bmm__problem *pr, const bmm_kernel_desc **k);
void bmm__wisdom_record(const bmm__problem *pr, const bmm_kernel_desc *k);

/* plan.c */
void bmm__plan_cache_clear(void);

#endif
