/* fuzz_execute.c: argument validation and execution on random shapes, strides (any sign,
 * huge ones included), scalars and offsets of A, B and C inside one buffer with inaccessible
 * pages on both sides (a float C of 16-bit A and B in a second such buffer). Every call either
 * returns a status and leaves the buffers untouched, or computes every element of C exactly
 * (small integers and halves: sums exact in float, rounded once to a 16-bit C, whose 8 or 11
 * bits need not hold them) and writes nothing else. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bmm.h"
#include "bmm_generic.h"  /* 16-bit conversions (tests/test_half.c checks them whole) */

#define NE 4096  /* elements in the buffer */

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned byte(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static int64_t size_of(reader *r)
{
    unsigned b = byte(r);
    static const int64_t big[] = { (int64_t)1 << 31, (int64_t)1 << 40, (int64_t)1 << 62, INT64_MAX };
    return b >= 252 ? big[b - 252] : 1 + (int64_t)(b % 17);
}

static int64_t stride_of(reader *r)
{
    int v = (int8_t)byte(r);
    static const int64_t odd[] = { INT64_MIN, INT64_MAX, (int64_t)1 << 40, -((int64_t)1 << 40),
        (int64_t)1 << 60, -((int64_t)1 << 60), 4096, -4096 };
    return v >= 120 ? odd[v - 120] : v;
}

static void *buf;
static float *cbuf;  /* a float C's */

/* bytes with one inaccessible page before and after them, their end meeting the second */
static void *guarded(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), body = (bytes + page - 1) / page * page;
    char *region = mmap(NULL, body + 2 * page, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED)
        abort();
    mprotect(region, page, PROT_NONE);
    mprotect(region + page + body, page, PROT_NONE);
    return region + page + body - bytes;
}

static void setup(void)
{
    buf = guarded(NE * sizeof(double));
    cbuf = guarded(NE * sizeof(float));
}

/* Offsets (lo, hi) of an operand, exactly; 0 if they pass int64. */
static int span(int64_t batch, int64_t rows, int64_t cols, const bmm_stride *s, __int128 *lo,
    __int128 *hi)
{
    __int128 size[3] = { batch - 1, rows - 1, cols - 1 }, step[3] = { s->batch, s->row, s->col };
    *lo = *hi = 0;
    for (int d = 0; d < 3; d++) {
        if (size[d] <= 0)
            continue;
        __int128 x = size[d] * step[d];  /* |x| < 2^126 */
        if (x > (__int128)INT64_MAX || x < -(__int128)INT64_MAX)
            return 0;  /* the sum of three such stays in range */
        if (x < 0)
            *lo += x;
        else
            *hi += x;
    }
    return *lo >= -(__int128)INT64_MAX && *hi <= INT64_MAX;
}

/* A 16-bit dtype's bits: f16 10 of mantissa and 5 of exponent, bf16 7 and 8. */
#define MANT(dt) ((dt) == BMM_F16 ? 10 : 7)
#define EXP(dt) ((dt) == BMM_F16 ? 5 : 8)

/* Element i of the buffer as dtype dt (every value put here is a small integer: exact in each). */
static void put(bmm_dtype dt, int i, double v)
{
    switch (dt) {
    case BMM_F64: ((double *)buf)[i] = v; break;
    case BMM_F32: ((float *)buf)[i] = (float)v; break;
    default: ((uint16_t *)buf)[i] = bmm__half_from_double(v, MANT(dt), EXP(dt));
    }
}

static double get(bmm_dtype dt, int i)
{
    switch (dt) {
    case BMM_F64: return ((double *)buf)[i];
    case BMM_F32: return ((float *)buf)[i];
    default: return bmm__half_to_double(((uint16_t *)buf)[i], MANT(dt), EXP(dt));
    }
}

/* v as a C of dtype dt holds it: rounded once (round to nearest even) if 16-bit. */
static double as_c(bmm_dtype dt, int float_c, double v)
{
    if (float_c || dt == BMM_F64 || dt == BMM_F32)
        return v;  /* |v| < 2^10 in halves: exact */
    return bmm__half_to_double(bmm__half_from_double(v, MANT(dt), EXP(dt)), MANT(dt), EXP(dt));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!buf)
        setup();
    reader r = { data, size };
    unsigned mode = byte(&r);
    int f64 = mode & 1, api = (mode >> 1) & 3, half = (mode >> 3) & 1;  /* half: f16 or bf16 */
    int cf = half && (mode >> 4 & 1);  /* a float C, in cbuf */
    bmm_dtype dt = half ? (f64 ? BMM_F16 : BMM_BF16) : f64 ? BMM_F64 : BMM_F32;
    size_t es = half ? 2 : f64 ? 8 : 4, ces = cf ? 4 : es;
    int64_t batch = byte(&r) % 9, n = size_of(&r), m = size_of(&r), p = size_of(&r);
    int64_t rows[3] = { n, m, n }, cols[3] = { m, p, p }, off[3];
    bmm_stride s[3];
    for (int o = 0; o < 3; o++) {
        unsigned hi = byte(&r);  /* two statements: the order of the reads is fixed */
        off[o] = (int64_t)((hi << 8 | byte(&r)) % NE);
        s[o].batch = stride_of(&r);
        s[o].row = stride_of(&r);
        s[o].col = stride_of(&r);
    }
    static const double scalars[] = { 1, 0, -1, 0.5, 2 };
    double alpha = scalars[byte(&r) % 5], beta = scalars[byte(&r) % 5];

    /* where the operands lie; a call reaching outside the buffer is not made (the library
     * cannot know the buffer), unless its span cannot exist at all */
    int fits = 1, impossible = 0;
    for (int o = 0; o < 3 && batch > 0; o++) {
        __int128 lo, hi;
        if (!span(batch, rows[o], cols[o], &s[o], &lo, &hi)
            || (hi - lo + 1) * (__int128)(o == 2 ? ces : es) > PTRDIFF_MAX)
            impossible = 1;
        else if (off[o] + lo < 0 || off[o] + hi >= NE)
            fits = 0;
    }
    if (!fits && !impossible)
        return 0;
    /* a valid call with a huge size (zero strides make it fit) is valid work that never ends */
    if (!impossible && batch > 0 && (n > 17 || m > 17 || p > 17))
        return 0;

    static double before[NE];
    for (int i = 0; i < NE; i++) {
        double v = (double)((i * 7 + (int)size) % 5 - 2);
        put(dt, i, v);
        cbuf[i] = (float)v;
        before[i] = v;
    }
    char *base = (char *)buf;
    const void *A = base + off[0] * (int64_t)es, *B = base + off[1] * (int64_t)es;
    void *C = cf ? (void *)(cbuf + off[2]) : base + off[2] * (int64_t)es;
    bmm_status st;
    if (api == 0) {
        const float fa = (float)alpha, fb = (float)beta;
        switch (dt) {
        case BMM_F64:
            st = bmm_dgemm_strided(batch, n, m, p, alpha, A, s[0], B, s[1], beta, C, s[2]);
            break;
        case BMM_F32:
            st = bmm_sgemm_strided(batch, n, m, p, fa, A, s[0], B, s[1], fb, C, s[2]);
            break;
        case BMM_BF16:
            st = cf ? bmm_sbgemm_strided(batch, n, m, p, fa, A, s[0], B, s[1], fb, C, s[2])
                    : bmm_bf16gemm_strided(batch, n, m, p, fa, A, s[0], B, s[1], fb, C, s[2]);
            break;
        default:
            st = cf ? bmm_shgemm_strided(batch, n, m, p, fa, A, s[0], B, s[1], fb, C, s[2])
                    : bmm_hgemm_strided(batch, n, m, p, fa, A, s[0], B, s[1], fb, C, s[2]);
            break;
        }
    } else {
        bmm_plan *plan = NULL;
        unsigned flags = (api == 2 ? BMM_GENERIC_ONLY : BMM_ESTIMATE) | (cf ? BMM_C_F32 : 0);
        st = bmm_plan_create(&plan, dt, batch, n, m, p, s[0], s[1], s[2], alpha, beta, flags);
        if ((st == BMM_OK) != (plan != NULL))
            abort();
        if (st == BMM_OK)
            st = bmm_execute(plan, A, B, C);
        bmm_plan_destroy(plan);
    }
    double got[NE], gotc[NE];  /* the buffer's elements; C's (the buffer's, or cbuf's) */
    for (int i = 0; i < NE; i++) {
        got[i] = get(dt, i);
        gotc[i] = cf ? cbuf[i] : got[i];
    }
    if (st != BMM_OK || batch == 0) {
        if (batch == 0 && st != BMM_OK)
            abort();  /* batch 0 is a no-op, whatever the rest */
        if (st != BMM_EINVAL && st != BMM_EOVERLAP && st != BMM_OK)
            abort();
        if (st == BMM_EINVAL && !impossible && n <= 17 && m <= 17 && p <= 17)
            abort();  /* sizes and spans were valid */
        if (memcmp(got, before, sizeof got) != 0 || memcmp(gotc, before, sizeof gotc) != 0)
            abort();  /* a refused call wrote */
        return 0;
    }
    if (impossible)
        abort();  /* accepted an operand larger than the address space */
    /* every element of C once, and nothing else written */
    static unsigned char is_c[NE];
    memset(is_c, 0, sizeof is_c);
    for (int64_t t = 0; t < batch; t++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < p; j++) {
                int64_t at = off[2] + t * s[2].batch + i * s[2].row + j * s[2].col;
                if (is_c[at]++)
                    abort();  /* accepted a C that overlaps itself */
                double acc = 0;
                for (int64_t k = 0; k < m; k++)
                    acc += before[off[0] + t * s[0].batch + i * s[0].row + k * s[0].col]
                        * before[off[1] + t * s[1].batch + k * s[1].row + j * s[1].col];
                double want = as_c(dt, cf,
                    (alpha == 0 ? 0 : alpha * acc) + (beta == 0 ? 0 : beta * before[at]));
                if (gotc[at] != want)
                    abort();
            }
    for (int i = 0; i < NE; i++)
        if ((!is_c[i] && gotc[i] != before[i]) || (cf && got[i] != before[i]))
            abort();
    return 0;
}
