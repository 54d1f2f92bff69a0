// contender_eigen.cpp: Eigen, a fixed-size product per shape (one instantiation each, made
// in eigen_products.cpp). Eigen is C++, so this contender is too; it exposes a C contender like
// the others.
#include <cstdio>

#include <Eigen/Core>

#include "eigen_products.h"

namespace {

typedef void (*fn)(const bench_case *);

const char *init() { return nullptr; }

const char *info()
{
    static char s[160];
    snprintf(s, sizeof s, "Eigen %d.%d.%d, %s", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
        EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse());
    return s;
}

void *prepare(const bench_case *c, const char **why)
{
    if (c->layout != BENCH_BF && c->layout != BENCH_SF) {
        *why = "no instantiation for transposed operands";
        return nullptr;
    }
    const bench_eigen_product *table = c->dtype == BMM_F64
        ? (c->layout == BENCH_SF ? bench_eigen_f64_sf : bench_eigen_f64_bf)
        : (c->layout == BENCH_SF ? bench_eigen_f32_sf : bench_eigen_f32_bf);
    for (const bench_eigen_product *e = table; e->run; e++)
        if (e->n == c->n && e->m == c->m && e->p == c->p)
            return reinterpret_cast<void *>(e->run);
    *why = "no instantiation for this shape";
    return nullptr;
}

void run(void *s, const bench_case *c) { reinterpret_cast<fn>(s)(c); }

}  // namespace

extern "C" const bench_contender bench_eigen = { "eigen", init, info, prepare, run, bench_release_none, NULL, 0 };
