/* check.c: a contender's result is checked once before it is timed, in a child process, so a
 * contender that crashes or exits is reported for that case and the run goes on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

const char *bench_check(const bench_contender *k, void *state, bench_case *c)
{
    static _Thread_local char why[160];
    const bmm_dtype dt = c->dtype;
    for (int64_t i = 0; i < c->ext[2]; i++) {  /* what the contender does not write stays NaN */
        if (dt == BMM_F32)
            ((float *)c->C)[i] = NAN;
        else if (dt == BMM_F64)
            ((double *)c->C)[i] = NAN;
        else
            ((uint16_t *)c->C)[i] = 0x7fc0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return "cannot fork to check";
    if (pid == 0) {
#ifdef MADV_POPULATE_WRITE
        /* the shared C is not in the child's page tables: map it in one call, not by faults */
        madvise(c->C, (size_t)c->ext[2] * bench_elem_size(dt), MADV_POPULATE_WRITE);
#endif
        if (k->threads)  /* OpenMP's pool does not survive fork: the check runs on one */
            k->threads(1);
        k->run(state, c);
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return "lost the checking process";
    if (WIFSIGNALED(status)) {
        snprintf(why, sizeof why, "crashed (signal %d)", WTERMSIG(status));
        return why;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
        return why;
    }
    /* both are sums of m products of values in [-0.5, 0.5): the standard bound, a margin;
     * bf16 sums in float, each rounded once to bf16: one ulp of bf16 apart at most */
    double eps = dt == BMM_F64 ? 2.3e-16 : 1.2e-7;
    double tol = 8.0 * (double)(c->m + 2) * eps * 0.25 * (double)c->m;
    for (int64_t i = 0; i < c->ext[2]; i++) {
        double got, want;
        if (dt == BMM_F32)
            got = ((float *)c->C)[i], want = ((float *)c->Cref)[i];
        else if (dt == BMM_F64)
            got = ((double *)c->C)[i], want = ((double *)c->Cref)[i];
        else
            got = bench_float(((uint16_t *)c->C)[i]), want = bench_float(((uint16_t *)c->Cref)[i]);
        if (!(fabs(got - want) <= tol + (dt == BMM_BF16 ? fabs(want) * 0x1p-7 : 0))) {
            snprintf(why, sizeof why, "wrong result: element %lld is %.9g, want %.9g",
                (long long)i, got, want);
            return why;
        }
    }
    return NULL;
}
