/* contenders.c: the contenders built into this benchmark (peers only where CMake found them),
 * in the order of the report's columns. */
#include <stddef.h>

#include "bench.h"

extern const bench_contender bench_bmm_measure, bench_bmm_estimate, bench_bmm_oneshot,
    bench_bmm_generic, bench_loops, bench_openblas, bench_blis, bench_libxsmm, bench_libxsmm_pf,
    bench_eigen, bench_specialized, bench_bmm_generate, bench_wrong, bench_crash;

void *bench_stateless(const bench_case *c, const char **why)
{
    (void)c, (void)why;
    return (void *)1;  /* non-NULL: the case is handled */
}

void bench_release_none(void *state) { (void)state; }

const bench_contender *const bench_contenders[] = {
    &bench_bmm_measure, &bench_bmm_estimate, &bench_bmm_oneshot, &bench_bmm_generic,
    &bench_specialized, &bench_bmm_generate, &bench_loops,
#ifdef BENCH_HAVE_OPENBLAS
    &bench_openblas,
#endif
#ifdef BENCH_HAVE_BLIS
    &bench_blis,
#endif
#ifdef BENCH_HAVE_LIBXSMM
    &bench_libxsmm, &bench_libxsmm_pf,
#endif
#ifdef BENCH_HAVE_EIGEN
    &bench_eigen,
#endif
    &bench_wrong, &bench_crash,
    NULL,
};
