/* run.c: executing one kernel through the one ABI: the problem's sizes, strides and scalars
 * into the args struct, then the kernel's function; the generic path for no kernel, and for
 * alpha == 0 (C = beta*C without reading A or B). Packed operands (pack.c; B perhaps as B^T)
 * are copied a chunk of whole grains at a time into a buffer on the stack (a heap one when an
 * item is larger), so a call cut into threads computes every C_i as the serial call does; a
 * packed C is computed in the buffer (copied in first only when beta != 0) and copied back.
 * A 16-bit problem (BMM__PACK_WIDE) runs so on float copies (convert.c), C rounded back (a
 * float C with unit column stride is the kernel's own). */
#include <stdlib.h>

#include "bmm_internal.h"

#define PACK_STACK_BYTES 16384  /* a chunk's copies: within L1 beside the kernel's own use */

static void call(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C)
{
    const bmm_args g = { A, B, C, pr->batch, pr->sa.batch, pr->sa.row, pr->sb.batch, pr->sb.row,
        pr->sc.batch, pr->sc.row, pr->alpha, pr->beta, pr->n, pr->m, pr->p, pr->sa.col,
        pr->sb.col, pr->sc.col };
    k->fn(&g);
}

/* One operand of a packed run: the caller's, or copies in the buffer. */
typedef struct {
    const char *x;      /* the caller's operand (C: written back through C itself) */
    int dt;             /* its dtype (a float C of 16-bit A and B: BMM_F32) */
    bmm_stride s;       /* its strides */
    int64_t rows, cols;
    int64_t size;       /* elements of one copy; 0: not packed */
    int once;           /* broadcast (or one item): copied once, before the chunks */
    char *buf;
} operand;

/* A 16-bit transposed view (unit row stride) widened: its columns, contiguous, converted by
 * vectors into a block of 16 of them, which pack.c's transposes then move into rows (the
 * element-wise conversion along its rows ran 6x slower: f16 16x16x16 with a transposed B). */
#define WIDE_T_COLS 16
#define WIDE_T_ROWS 256
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void widen_transposed(int dt, const char *x, bmm_stride s, int64_t items, int64_t rows,
    int64_t cols, float *d, int64_t db, int64_t ldd, int isa)
{
    _Alignas(64) float t[WIDE_T_COLS * WIDE_T_ROWS];
    for (int64_t it = 0; it < items; it++, x += s.batch * 2, d += db)
        for (int64_t j0 = 0; j0 < cols; j0 += WIDE_T_COLS)
            for (int64_t i0 = 0; i0 < rows; i0 += WIDE_T_ROWS) {
                const int64_t jn = cols - j0 < WIDE_T_COLS ? cols - j0 : WIDE_T_COLS;
                const int64_t in = rows - i0 < WIDE_T_ROWS ? rows - i0 : WIDE_T_ROWS;
                bmm__widen(dt, x + (i0 + j0 * s.col) * 2, (bmm_stride){ 0, s.col, 1 }, 1, jn,
                    in, t, 0, in, isa);
                bmm__pack(BMM_F32, t, (bmm_stride){ 0, 1, in }, 1, in, jn, d + i0 * ldd + j0, 0,
                    ldd, isa);
            }
}

static void pack_chunk(const operand *o, const bmm__problem *pr, int64_t lo, int64_t items,
    bmm_stride ks, int isa)
{
    const int64_t es = bmm__elem_bytes(o->dt);  /* (a float C of a wide problem: 4, copied) */
    if ((pr->pack & BMM__PACK_WIDE) && es == 2 && o->s.row == 1 && o->s.col > 1 && o->rows >= 8
        && o->cols >= 8 && isa >= BMM_ISA_AVX2)
        widen_transposed(o->dt, o->x + lo * o->s.batch * es, o->s, items, o->rows, o->cols,
            (float *)(void *)o->buf, ks.batch, ks.row, isa);
    else if ((pr->pack & BMM__PACK_WIDE) && es == 2)
        bmm__widen(o->dt, o->x + lo * o->s.batch * es, o->s, items, o->rows, o->cols,
            (float *)(void *)o->buf, ks.batch, ks.row, isa);
    else
        bmm__pack(o->dt, o->x + lo * o->s.batch * es, o->s, items, o->rows, o->cols,
            o->buf, ks.batch, ks.row, isa);
}

/* A wide problem's float C (columns not unit-stride) from the kernel's row-major floats at x
 * (items xb, rows ldx apart): a transposed C by pack.c's transposes, any other one by one. */
static void unpack_floats(const float *x, int64_t xb, int64_t ldx, int64_t items, int64_t rows,
    int64_t cols, float *c, bmm_stride s, int isa)
{
    if (s.row == 1) {
        bmm__pack(BMM_F32, x, (bmm_stride){ xb, 1, ldx }, items, cols, rows, c, s.batch, s.col,
            isa);
        return;
    }
    for (int64_t t = 0; t < items; t++, x += xb, c += s.batch)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                c[i * s.row + j * s.col] = x[i * ldx + j];
}

/* Out of line: its 16 KiB frame (stack probes) must not be set up for every row-major call. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void run_packed(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C)
{
    _Alignas(64) unsigned char stack[PACK_STACK_BYTES];
    const int wide = (pr->pack & BMM__PACK_WIDE) != 0;
    const int64_t es = bmm__elem_bytes(pr->dtype), ces = bmm__operand_bytes(pr, 2);
    const int64_t grain = bmm__batch_grain(k);
    const int64_t kes = wide ? (int64_t)sizeof(float) : es;  /* the copies' elements */
    const int sf = bmm__pack_seq_first(pr), isa = bmm__cpu_admits(BMM_ISA_AVX512) ? BMM_ISA_AVX512
        : bmm__cpu_admits(BMM_ISA_AVX2) ? BMM_ISA_AVX2 : BMM_ISA_C99;
    const int bt = (pr->pack & BMM__PACK_BT) != 0;  /* B's copy is B^T: p rows of m */
    operand op[3] = { { A, pr->dtype, pr->sa, pr->n, pr->m, 0, 0, NULL },
                      { B, pr->dtype, pr->sb, pr->m, pr->p, 0, 0, NULL },
                      { C, pr->cdtype, pr->sc, pr->n, pr->p, 0, 0, NULL } };
    if (bt)
        op[1] = (operand){ B, pr->dtype, { pr->sb.batch, pr->sb.col, pr->sb.row }, pr->p, pr->m,
            0, 0, NULL };
    int64_t each = 0, once = 0;  /* elements of the copies per item, and made once */
    for (int i = 0; i < 3; i++) {
        if (!(pr->pack & (1 << i)) && !(i == 1 && bt))  /* BMM__PACK_A, _B, _C */
            continue;
        op[i].size = op[i].rows * op[i].cols;
        op[i].once = i < 2 && (op[i].s.batch == 0 || pr->batch == 1);
        *(op[i].once ? &once : &each) += op[i].size;
    }
    int64_t chunk = pr->batch, room = PACK_STACK_BYTES / kes - once;
    if (each && chunk * each > room)
        chunk = room / each / grain * grain;
    if (chunk < 1)
        chunk = pr->batch < grain ? pr->batch : grain;
    char *buf = (char *)stack, *heap = NULL;
    if ((once + chunk * each) * kes > PACK_STACK_BYTES) {
        heap = aligned_alloc(64, (size_t)(((once + chunk * each) * kes + 63) / 64 * 64));
        if (!heap) {
            bmm__generic(pr, A, B, C);  /* the call succeeds, at the portable path's speed */
            return;
        }
        buf = heap;
    }
    bmm__problem kv = *pr;
    bmm_stride *ks[3] = { &kv.sa, &kv.sb, &kv.sc }, cs[3];  /* the kernel's strides, the copies' */
    for (int i = 0; i < 3; i++)
        if (op[i].size) {
            op[i].buf = buf;
            buf += (op[i].once ? 1 : chunk) * op[i].size * kes;
            cs[i] = bmm__pack_strides(i < 2 && sf && !(i == 1 && bt), op[i].once ? 1 : chunk,
                op[i].rows, op[i].cols, op[i].s);
            *ks[i] = i == 1 && bt ? (bmm_stride){ cs[i].batch, 1, cs[i].row } : cs[i];
            if (op[i].once)
                pack_chunk(&op[i], pr, 0, 1, cs[i], isa);
        }
    kv.pack = 0;
    for (int64_t lo = 0; lo < pr->batch; lo += chunk) {
        kv.batch = pr->batch - lo < chunk ? pr->batch - lo : chunk;
        const void *x[2];
        char *c = (char *)C + lo * pr->sc.batch * ces;
        for (int i = 0; i < 3; i++)
            if (op[i].size && !op[i].once && (i < 2 || pr->beta != 0))  /* C: read if used */
                pack_chunk(&op[i], pr, lo, kv.batch, cs[i], isa);
        for (int i = 0; i < 2; i++)
            x[i] = op[i].size ? op[i].buf : op[i].x + lo * op[i].s.batch * es;
        call(k, &kv, x[0], x[1], op[2].size ? op[2].buf : c);
        if (wide && op[2].size && pr->cdtype == BMM_F32) {
            unpack_floats((const float *)(void *)op[2].buf, ks[2]->batch, ks[2]->row, kv.batch,
                pr->n, pr->p, (float *)(void *)c, pr->sc, isa);
        } else if (wide && op[2].size) {  /* C back, rounded once, whatever its strides */
            bmm__narrow(pr->dtype, (const float *)(void *)op[2].buf, ks[2]->batch, ks[2]->row,
                kv.batch, pr->n, pr->p, c, pr->sc, isa);
        } else if (op[2].size) {  /* the copy of C back: C's transpose is row-major (sc.col apart) */
            const bmm_stride t = { ks[2]->batch, 1, ks[2]->row };
            bmm__pack(pr->dtype, op[2].buf, t, kv.batch, pr->p, pr->n, c, pr->sc.batch,
                pr->sc.col, isa);
        }
    }
    free(heap);
}

void bmm__run(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A, const void *B,
    void *C)
{
    if (pr->batch == 0)
        return;
    if (!k || pr->alpha == 0) {  /* alpha == 0: C = beta*C without reading A or B */
        bmm__generic(pr, A, B, C);
        return;
    }
    if (pr->pack)
        run_packed(k, pr, A, B, C);
    else
        call(k, pr, A, B, C);
}
