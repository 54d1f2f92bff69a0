/* cases.c: operands of a benchmark case in its layout and regime, and the generic path's
 * result that every contender is checked against. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

#define CACHE_BYTES ((int64_t)256 << 10)
#define STREAM_BYTES ((int64_t)256 << 20)
#define SMALL_BYTES ((int64_t)16 << 10)

const bench_shape bench_shapes[] = {
#define BENCH_SHAPE(n, m, p) { n, m, p, 0 },
#include "bench_shapes.h"
#undef BENCH_SHAPE
#define BENCH_SHAPE(n, m, p) { n, m, p, 1 },
#include "bench_unseen.h"
#undef BENCH_SHAPE
};
const int bench_nshapes = (int)(sizeof bench_shapes / sizeof bench_shapes[0]);

const bench_shape bench_half_shapes[] = {
    { 4, 4, 4, 0 }, { 8, 8, 8, 0 }, { 13, 13, 13, 0 }, { 16, 16, 16, 0 }, { 32, 32, 32, 0 },
    { 64, 64, 64, 0 }, { 37, 256, 1, 1 }, { 1, 37, 256, 1 }, { 6, 10, 14, 1 }, { 20, 24, 28, 1 },
};
const int bench_nhalf_shapes = (int)(sizeof bench_half_shapes / sizeof bench_half_shapes[0]);

const char *bench_layout_name(int layout)
{
    static const char *const NAME[] = { "?", "bf", "sf", "nt", "tn", "tt" };
    return layout >= BENCH_BF && layout <= BENCH_TT ? NAME[layout] : "?";
}
const char *bench_regime_name(int regime)
{
    return regime == BENCH_CACHE ? "cache" : regime == BENCH_STREAM ? "stream" : "small";
}

/* Operand buffers, kept from case to case: allocating and faulting in 256 MiB per streaming
 * case cost more than running it. Slot 2 (C) is a shared mapping, so that the checking child's
 * writes are seen here. The benchmark runs on one thread. */
static struct {
    void *p;
    size_t cap;
} arena[4];

static int arena_get(void **out, int slot, size_t bytes)
{
    bytes = (bytes + 4095) & ~(size_t)4095;
    if (arena[slot].cap < bytes) {
        void *p = NULL;
        if (slot == 2) {
            if (arena[slot].p)
                munmap(arena[slot].p, arena[slot].cap);
            p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                p = NULL;
        } else {
            free(arena[slot].p);
            p = aligned_alloc(4096, bytes);
        }
        arena[slot].p = p;
        arena[slot].cap = p ? bytes : 0;
        if (p)
            memset(p, 0, bytes);  /* fault it in now, not in the first timed call */
    }
    *out = arena[slot].p;
    return *out != NULL;
}

static void fill(void *p, int64_t elems, bmm_dtype dt, unsigned seed)
{
    for (int64_t i = 0; i < elems; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = (double)((seed >> 8) & 0xffff) / 65536.0 - 0.5;
        if (dt == BMM_F32)
            ((float *)p)[i] = (float)v;
        else if (dt == BMM_F64)
            ((double *)p)[i] = v;
        else
            ((uint16_t *)p)[i] = bench_bf16((float)v);
    }
}

int bench_case_setup(bench_case *c, bmm_dtype dt, int layout, int regime, int64_t n, int64_t m,
    int64_t p)
{
    memset(c, 0, sizeof *c);
    size_t es = bench_elem_size(dt);
    int64_t per = (n * m + m * p + n * p) * (int64_t)es;
    /* in cache: each thread's share (the scaling run's threads) */
    int64_t target = regime == BENCH_CACHE ? CACHE_BYTES * bench_threads
        : regime == BENCH_STREAM              ? STREAM_BYTES
                                              : SMALL_BYTES;
    c->dtype = dt;
    c->layout = layout;
    c->regime = regime;
    c->n = n, c->m = m, c->p = p;
    c->batch = (target + per - 1) / per;
    if (layout != BENCH_SF) {
        c->sa = bmm_stride_batch_first(n, m);
        c->sb = bmm_stride_batch_first(m, p);
        c->sc = bmm_stride_batch_first(n, p);
        if (layout == BENCH_TN || layout == BENCH_TT)  /* A stored as its m x n transpose */
            c->sa = bmm_stride_transpose(bmm_stride_batch_first(m, n));
        if (layout == BENCH_NT || layout == BENCH_TT)
            c->sb = bmm_stride_transpose(bmm_stride_batch_first(p, m));
    } else {
        c->sa = bmm_stride_seq_first(n, m, c->batch);
        c->sb = bmm_stride_seq_first(m, p, c->batch);
        c->sc = bmm_stride_seq_first(n, p, c->batch);
    }
    c->ext[0] = c->batch * n * m;
    c->ext[1] = c->batch * m * p;
    c->ext[2] = c->batch * n * p;
    c->flops = 2.0 * (double)(n * m * p) * (double)c->batch;
    c->bytes = (double)per * (double)c->batch;
    if (!arena_get(&c->A, 0, (size_t)c->ext[0] * es) || !arena_get(&c->B, 1, (size_t)c->ext[1] * es)
        || !arena_get(&c->C, 2, (size_t)c->ext[2] * es)
        || !arena_get(&c->Cref, 3, (size_t)c->ext[2] * es)) {
        bench_case_free(c);
        return -1;
    }
    fill(c->A, c->ext[0], dt, 1);
    fill(c->B, c->ext[1], dt, 2);
    bmm_plan *plan = NULL;
    if (bmm_plan_create(&plan, dt, c->batch, n, m, p, c->sa, c->sb, c->sc, 1, 0, BMM_GENERIC_ONLY)
            != BMM_OK
        || bmm_execute(plan, c->A, c->B, c->Cref) != BMM_OK) {
        bmm_plan_destroy(plan);
        bench_case_free(c);
        return -1;
    }
    bmm_plan_destroy(plan);
    return 0;
}

void bench_case_free(bench_case *c)
{
    memset(c, 0, sizeof *c);  /* the buffers stay in the arena for the next case */
}
