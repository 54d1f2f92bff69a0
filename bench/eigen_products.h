// eigen_products.h: the tables eigen_products.cpp makes, one per dtype and layout, each ending
// with a zero entry.
#ifndef BENCH_EIGEN_PRODUCTS_H
#define BENCH_EIGEN_PRODUCTS_H

#include "bench.h"

struct bench_eigen_product {
    int n, m, p;
    void (*run)(const bench_case *);
};

extern const bench_eigen_product bench_eigen_f32_bf[], bench_eigen_f32_sf[], bench_eigen_f64_bf[],
    bench_eigen_f64_sf[];

#endif
