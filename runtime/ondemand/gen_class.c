/* gen_class.c: generation on demand's class: the generator's command lines for a call class,
 * the compiler, and the key that names the class's object (a hash of everything that shapes
 * its code: generator version and sources, kernel ABI, the flags, the CPU and the class). The
 * compiler is not in it: an object any compiler made serves, so a prepared cache serves a
 * machine without one, and no compiler runs before the cache is looked at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"

#ifndef BMM_BUILD_CC
#define BMM_BUILD_CC "cc"
#endif
#define DEFAULT_TIMEOUT_MS 10000
#define STR_(x) #x
#define STR(x) STR_(x)

const char *const bmm__gen_flags[BMM__GEN_NFLAGS] = { "-std=c99", "-O3", "-fPIC", "-shared" };

/* The generator's hash, computed once. Under ondemand.c's lock. */
static uint64_t generator_hash;

long bmm__gen_timeout_ms(void)
{
    const char *v = getenv("BMM_GENERATE_TIMEOUT_MS");
    char *end;
    long ms = v && *v ? strtol(v, &end, 10) : -1;
    return ms >= 1 && ms <= 3600000 && !*end ? ms : DEFAULT_TIMEOUT_MS;
}

const char *bmm__gen_compiler(void)
{
    const char *cc = bmm__env_path("BMM_CC");
    if (cc && *cc)
        return cc;
    if (BMM_BUILD_CC[0] == '/' && access(BMM_BUILD_CC, X_OK) == 0)
        return BMM_BUILD_CC;
    return "cc";
}

void bmm__gen_isa_args(bmm__gen_args *g, int i)
{
    snprintf(g->buf[4], 64, "%s", g->isas[i]);
    snprintf(g->buf[5], 64, "od_%016llx_%s", (unsigned long long)g->key, g->isas[i]);
    const char *v[] = { "--shapes", g->buf[0], "--dtypes", g->buf[1], "--layouts", g->buf[2],
        "--scalars", g->buf[3], "--isas", g->buf[4], "--anyshape", "no", "--name", g->buf[5],
        "--templates", "templates", "--runtime", "runtime", "--out", "ondemand",
        "--prefetch", g->prefetch ? "yes" : "no", "--orders", g->buf[6] };
    _Static_assert(sizeof v <= sizeof g->argv, "bmm__gen_args.argv holds every argument");
    g->argc = (int)(sizeof v / sizeof v[0]);
    memcpy(g->argv, v, sizeof v);
}

/* Whether generated kernels read q's transposed B in place, as generator/variants.lua's rules
 * make them (kept in step): batch-first items, n > 1 and p > 1 (the n = 1 and dot forms read
 * no transposed B), the unrolled rows form (n*m*ceil(p/w) at most 1024) with p and m at most
 * a vector of w lanes, or on AVX-512 a B of at most four registers (rows or flat); both
 * operands transposed, only where C's rows are at least as long as its columns. */
static int reads_b_transposed(const bmm_call_key *q, int layout, int isa)
{
    const int64_t w = bmm__vector_lanes(q->dtype, isa);
    if (layout != BMM_LAYOUT_BF || w == 0 || q->n < 2 || q->p < 2
        || ((q->order & BMM__ORDER_A) && q->p < q->n)
        || q->n * q->m * ((q->p + w - 1) / w) > 1024)
        return 0;
    return (q->p <= w && q->m <= w) || (isa >= BMM_ISA_AVX512 && q->m * q->p <= 4 * w);
}

const char *bmm__gen_class_args(const bmm_call *c, bmm__gen_args *g)
{
    static const char *const DTYPE[] = BMM_DTYPE_WORDS, *const LAYOUT[] = BMM_LAYOUT_WORDS,
                             *const ISA[] = BMM_ISA_WORDS;
    const bmm_call_key *q = &c->key;
    const int layout = (c->fits >> BMM_LAYOUT_BF) & 1u ? BMM_LAYOUT_BF
        : (c->fits >> BMM_LAYOUT_SF) & 1u ? BMM_LAYOUT_SF : 0;
    if (!bmm__dtype_has_kernels(q->dtype))
        return "the generator makes no kernels of this dtype yet (the generic path serves it)";
    if (!layout)
        return "no generated layout fits its strides (a column stride other than 1, or a "
               "negative stride)";
    int isa = bmm__cpu_max_isa();
    if ((q->order & BMM__ORDER_B) && !reads_b_transposed(q, layout, isa))
        return "B is a transposed view that no generated form reads in place here (batch-first "
               "items with p and m at most a vector are read; else the shape-generic kernels "
               "serve it, on the view or a row-major copy)";
    if (q->n > BMM_GEN_MAX_DIM || q->m > BMM_GEN_MAX_DIM || q->p > BMM_GEN_MAX_DIM)
        return "a dimension is past the generator's limit (" STR(BMM_GEN_MAX_DIM) ")";
    /* bmm_select.h's exception to the rule, measured again here: with A's rows far apart
     * (seq-first) and p = 1, or B's and n = 1, the shape-generic dot and row-vector kernels
     * are as fast as generated ones (1.00x on all 8 such classes of the unseen shapes, Zen 4),
     * whose compile took up to 4.5 s */
    if ((q->p == 1 && q->layout[0] == BMM_LAYOUT_SF) || (q->n == 1 && q->layout[1] == BMM_LAYOUT_SF))
        return "seq-first rows of A with p = 1 (or of B with n = 1): the shape-generic kernels "
               "are as fast as specialized ones there";
    snprintf(g->buf[0], 64, "%lldx%lldx%lld", (long long)q->n, (long long)q->m, (long long)q->p);
    snprintf(g->buf[1], 64, "%s", DTYPE[q->dtype]);
    snprintf(g->buf[2], 64, "%s", LAYOUT[layout]);
    snprintf(g->buf[3], 64, "%s", bmm__scalar_forms[q->scalars].word);
    static const char *const ORDER[] = { "nn", "tn", "nt", "tt" };  /* by BMM__ORDER_* bits */
    snprintf(g->buf[6], 64, "%s", ORDER[q->order & 3]);
    /* portable C only where it can win: no vectors here, or a tiny product (the static rule
     * takes it up to 8 multiply-adds); elsewhere it would only add to the compile (~40%) */
    g->nisa = 0;
    if ((isa == BMM_ISA_C99 || bmm__volume_at_most(q->n, q->m, q->p, 64)) && !q->order)
        g->isas[g->nisa++] = ISA[BMM_ISA_C99];  /* (no portable C of a transposed order) */
    if (isa == BMM_ISA_C99 && q->order)
        return "a transposed A has vector kernels only, and this CPU runs none";
    for (int v = BMM_ISA_C99 + 1; v <= isa; v++)  /* every vector ISA the CPU admits */
        g->isas[g->nisa++] = ISA[v];
    /* The prefetching twins only where they can win: a seq-first batch too large for the
     * cache. In cache they never do, and they double a seq-first class's compile. */
    g->prefetch = layout == BMM_LAYOUT_SF && q->streaming && isa > BMM_ISA_C99;  /* vector forms only */
    int n = snprintf(g->text, sizeof g->text, "%s %s %s %s%s%s %s", g->buf[1], g->buf[0],
        g->buf[2], q->order ? g->buf[6] : "", q->order ? " " : "", g->buf[3],
        g->prefetch ? "pf " : "");
    for (int i = 0; i < g->nisa && n > 0 && (size_t)n < sizeof g->text; i++)
        n += snprintf(g->text + n, sizeof g->text - (size_t)n, "%s%s", i ? "," : "", g->isas[i]);
    return NULL;
}

uint64_t bmm__gen_failure_key(uint64_t key, const char *cc)
{
    return bmm__fnv1a(bmm__fnv1a(key, "failed with ", 12), cc, strlen(cc));
}

uint64_t bmm__gen_pch_key(const char *cc)
{
    char text[256];
    if (!generator_hash)
        generator_hash = bmm__generator_hash();
    int n = snprintf(text, sizeof text, "bmmgen %s abi %d generator %016llx precompiled by ",
        BMM_VERSION, BMM_KERNEL_ABI, (unsigned long long)generator_hash);
    uint64_t h = bmm__fnv1a(bmm__fnv1a(BMM__FNV_BASIS, text, n > 0 ? (size_t)n : 0), cc,
        strlen(cc) + 1);
    for (size_t i = 0; i < BMM__GEN_NFLAGS; i++)
        h = bmm__fnv1a(h, bmm__gen_flags[i], strlen(bmm__gen_flags[i]) + 1);
    return h;
}

uint64_t bmm__gen_object_key(const char *class_text)
{
    char text[2048];
    if (!generator_hash)
        generator_hash = bmm__generator_hash();
    int n = snprintf(text, sizeof text, "bmmgen %s abi %d generator %016llx cpu %s class %s "
        "flags", BMM_VERSION, BMM_KERNEL_ABI, (unsigned long long)generator_hash,
        bmm__cpu_signature(), class_text);
    uint64_t h = bmm__fnv1a(BMM__FNV_BASIS, text, n > 0 ? (size_t)n : 0);
    for (size_t i = 0; i < BMM__GEN_NFLAGS; i++)
        h = bmm__fnv1a(h, bmm__gen_flags[i], strlen(bmm__gen_flags[i]) + 1);
    return h;
}
