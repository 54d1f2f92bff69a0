// contender_eigen.cpp: Eigen, a fixed-size product per shape (one instantiation each):
// batch-first maps packed matrices, seq-first maps them with run-time strides. Eigen is C++,
// so this contender is too; it exposes a C contender like the others.
#include <cstdio>

#include <Eigen/Core>

#include "bench.h"

namespace {

// A one-column matrix must be column-major in Eigen; everything else is row-major here.
template <typename T, int R, int C>
using Mat = Eigen::Matrix<T, R, C, (C == 1 && R != 1) ? Eigen::ColMajor : Eigen::RowMajor>;
using Str = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;

template <int R, int C> Str stride_of(int64_t row)
{
    return (C == 1 && R != 1) ? Str(R * row, row) : Str(row, 1);
}

template <typename T, int N, int M, int P> void product_bf(const bench_case *c)
{
    const T *a = static_cast<const T *>(c->A), *b = static_cast<const T *>(c->B);
    T *o = static_cast<T *>(c->C);
    for (int64_t t = 0; t < c->batch; t++, a += N * M, b += M * P, o += N * P) {
        Eigen::Map<Mat<T, N, P>> C(o);
        C.noalias() = Eigen::Map<const Mat<T, N, M>>(a) * Eigen::Map<const Mat<T, M, P>>(b);
    }
}

template <typename T, int N, int M, int P> void product_sf(const bench_case *c)
{
    const T *a = static_cast<const T *>(c->A), *b = static_cast<const T *>(c->B);
    T *o = static_cast<T *>(c->C);
    for (int64_t t = 0; t < c->batch; t++, a += M, b += P, o += P) {
        Eigen::Map<Mat<T, N, P>, 0, Str> C(o, stride_of<N, P>(c->sc.row));
        C.noalias() = Eigen::Map<const Mat<T, N, M>, 0, Str>(a, stride_of<N, M>(c->sa.row))
            * Eigen::Map<const Mat<T, M, P>, 0, Str>(b, stride_of<M, P>(c->sb.row));
    }
}

typedef void (*fn)(const bench_case *);
struct entry { int n, m, p; fn f[2][2]; };
const entry table[] = {
#define BENCH_SHAPE(N, M, P)                                                                  \
    { N, M, P, { { product_bf<float, N, M, P>, product_sf<float, N, M, P> },                  \
                 { product_bf<double, N, M, P>, product_sf<double, N, M, P> } } },
#include "bench_shapes.h"
#include "bench_unseen.h"
#undef BENCH_SHAPE
};

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
    for (const entry &e : table)
        if (e.n == c->n && e.m == c->m && e.p == c->p)
            return reinterpret_cast<void *>(e.f[c->dtype == BMM_F64][c->layout == BENCH_SF]);
    *why = "no instantiation for this shape";
    return nullptr;
}

void run(void *s, const bench_case *c) { reinterpret_cast<fn>(s)(c); }

}  // namespace

extern "C" const bench_contender bench_eigen = { "eigen", init, info, prepare, run, bench_release_none, NULL };
