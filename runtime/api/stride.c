/* stride.c: stride helpers for the two layouts and transposed views. */
#include "bmm.h"

bmm_stride bmm_stride_batch_first(int64_t rows, int64_t cols)
{
    /* unsigned: huge sizes wrap instead of overflowing; the call that uses them rejects them */
    bmm_stride s = { (int64_t)((uint64_t)rows * (uint64_t)cols), cols, 1 };
    return s;
}

bmm_stride bmm_stride_seq_first(int64_t rows, int64_t cols, int64_t batch)
{
    bmm_stride s = { cols, (int64_t)((uint64_t)batch * (uint64_t)cols), 1 };
    (void)rows;
    return s;
}

bmm_stride bmm_stride_transpose(bmm_stride s)
{
    bmm_stride t = { s.batch, s.col, s.row };
    return t;
}
