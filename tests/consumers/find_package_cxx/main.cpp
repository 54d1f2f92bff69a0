// main.cpp: a C++ program of a C++-only project using an installed bmmgen: one product,
// checked against the consumers' reference (reference.h compiles as C++ too).
#include <cstdio>
#include <vector>

#include "bmm.h"

#include "../reference.h"

int main()
{
    const int64_t batch = 5, n = 4, m = 3, p = 2;
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
    int bad = ref_check("C++ consumer 4x3x2", 0, batch, n, m, p, 1, a.data(),
        ref_layout(0, n, m, batch), b.data(), ref_layout(0, m, p, batch), 0, c.data(), c.data(),
        ref_layout(0, n, p, batch));
    std::printf("C++ consumer: %s\n", bad ? "FAILED" : "ok");
    return bad;
}
