// main.cpp: a C++ program of a C++-only project using an installed bmmgen: one product,
// checked against the consumers' reference (reference.h compiles as C++ too). The mixed
// project builds it for its own shape (SHAPE_N, _M, _P) with EXPECT_GENERATED: a plan must
// run the kernel generated for it.
#include <cstdio>
#include <cstring>
#include <vector>

#include "bmm.h"

#include "../reference.h"

#ifndef SHAPE_N
#define SHAPE_N 4
#define SHAPE_M 3
#define SHAPE_P 2
#endif

int main()
{
    const int64_t batch = 5, n = SHAPE_N, m = SHAPE_M, p = SHAPE_P;
    std::vector<float> a(batch * n * m), b(batch * m * p), c(batch * n * p);
    for (float &x : a)
        x = float(ref_fill());
    for (float &x : b)
        x = float(ref_fill());
    bmm_status st = bmm_sgemm_strided(batch, n, m, p, 1.0f, a.data(),
        bmm_stride_batch_first(n, m), b.data(), bmm_stride_batch_first(m, p), 0.0f, c.data(),
        bmm_stride_batch_first(n, p));
    if (st != BMM_OK) {
        std::fprintf(stderr, "C++ consumer: %s\n", bmm_last_error());
        return 1;
    }
#ifdef EXPECT_GENERATED
    bmm_plan *plan = nullptr;
    if (bmm_plan_create(&plan, BMM_F32, batch, n, m, p, bmm_stride_batch_first(n, m),
            bmm_stride_batch_first(m, p), bmm_stride_batch_first(n, p), 1, 0, BMM_ESTIMATE)
        != BMM_OK || !std::strstr(bmm_plan_kernel(plan), "_11x6x3_")) {
        std::fprintf(stderr, "C++ consumer: not the generated kernel: %s\n", bmm_plan_kernel(plan));
        return 1;
    }
    std::printf("C++ consumer: plans run %s\n", bmm_plan_kernel(plan));
    bmm_plan_destroy(plan);
#endif
    int bad = ref_check("C++ consumer", 0, batch, n, m, p, 1, a.data(),
        ref_layout(0, n, m, batch), b.data(), ref_layout(0, m, p, batch), 0, c.data(), c.data(),
        ref_layout(0, n, p, batch));
    std::printf("C++ consumer: %s\n", bad ? "FAILED" : "ok");
    return bad;
}
