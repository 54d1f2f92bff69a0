// eigen_products.cpp: Eigen's fixed-size products of every benchmark shape for one dtype and
// one layout, compiled once per pair (bench/CMakeLists.txt: BENCH_EIGEN_T, BENCH_EIGEN_SF,
// BENCH_EIGEN_TABLE): each instantiation is costly at -O3, and four units build in parallel.
// Batch-first maps packed matrices, seq-first maps them with run-time strides.
#include <Eigen/Core>

#include "eigen_products.h"

namespace {

typedef BENCH_EIGEN_T T;

// A one-column matrix must be column-major in Eigen; everything else is row-major here.
template <int R, int C>
using Mat = Eigen::Matrix<T, R, C, (C == 1 && R != 1) ? Eigen::ColMajor : Eigen::RowMajor>;
using Str = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;

template <int R, int C> Str stride_of(int64_t row)
{
    return (C == 1 && R != 1) ? Str(R * row, row) : Str(row, 1);
}

template <int N, int M, int P> void product(const bench_case *c)
{
    const T *a = static_cast<const T *>(c->A), *b = static_cast<const T *>(c->B);
    T *o = static_cast<T *>(c->C);
#if BENCH_EIGEN_SF
    for (int64_t t = 0; t < c->batch; t++, a += M, b += P, o += P) {
        Eigen::Map<Mat<N, P>, 0, Str> C(o, stride_of<N, P>(c->sc.row));
        C.noalias() = Eigen::Map<const Mat<N, M>, 0, Str>(a, stride_of<N, M>(c->sa.row))
            * Eigen::Map<const Mat<M, P>, 0, Str>(b, stride_of<M, P>(c->sb.row));
    }
#else
    for (int64_t t = 0; t < c->batch; t++, a += N * M, b += M * P, o += N * P) {
        Eigen::Map<Mat<N, P>> C(o);
        C.noalias() = Eigen::Map<const Mat<N, M>>(a) * Eigen::Map<const Mat<M, P>>(b);
    }
#endif
}

}  // namespace

extern const bench_eigen_product BENCH_EIGEN_TABLE[] = {
#define BENCH_SHAPE(N, M, P) { N, M, P, product<N, M, P> },
#include "bench_shapes.h"
#include "bench_unseen.h"
#undef BENCH_SHAPE
    { 0, 0, 0, nullptr },
};
