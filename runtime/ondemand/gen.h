/* gen.h: what the files of generation on demand share; not installed. The chain, each file
 * calling only those above it in this list:
 *   gen_class.c (the class, its command lines, the compiler and the object's key) <-
 *   gen_build.c (generate, compile, link, publish the object) <-
 *   gen_store.c (the cache's objects: loading, the choices and failure records beside them) <-
 *   ondemand.c (the entry points: one class at a time, what this process tried).
 * Called with ondemand.c's lock held, unless said otherwise. */
#ifndef BMM_GEN_H
#define BMM_GEN_H

#include <string.h>

#include "bmm_internal.h"

/* The generator's command lines for class c, one per ISA (argv[0] is not the program: the
 * generator takes the arguments only): each ISA's kernels are generated and compiled on
 * their own (side by side), then linked into one object holding a table per ISA. The layout:
 * bf when every operand has packed rows, else sf (unit column strides); a transposed A gets
 * kernels of its order (tn), a transposed B none (no vector form reads it: it is copied), nor
 * a negative-stride operand. */
typedef struct {
    char buf[7][64];
    int prefetch;  /* the _pf twins too: seq-first and a streaming batch */
    const char *isas[BMM_ISA_COUNT];
    int nisa;
    uint64_t key;
    const char *argv[26];
    int argc;
    char text[512];  /* the class, one space apart: for the key and the notes */
} bmm__gen_args;


/* gen_class.c */
/* Fixed and part of the key: the build's own kernel flags (C99, -O3, PIC), shared. */
extern const char *const bmm__gen_flags[];
#define BMM__GEN_NFLAGS 4
/* The size of C an ISA's kernels may have, per millisecond of the time limit: a file the
 * compiler would not finish in time is refused before it is written. -O3 compiles generated
 * kernels at about 100 bytes a millisecond on one idle Zen 5 core (a 1024^3 class's 196 KB in
 * 2.0 s, 256^3's 50 KB in 1.05 s); a quarter of that leaves room for a loaded machine, and the
 * default 10 s takes 250 KB (1024^3; 4096^3 is 780 KB). */
#define BMM__GEN_BYTES_PER_MS 25
/* BMM_GENERATE_TIMEOUT_MS, else 10 s. */
long bmm__gen_timeout_ms(void);
/* The compiler: BMM_CC, else the one the library was built with if it is there, else cc. */
const char *bmm__gen_compiler(void);
/* Points g->argv at ISA i's command line (table bmm_table_od_<key>_<isa>). */
void bmm__gen_isa_args(bmm__gen_args *g, int i);
/* Fills g for class c (all but the key); NULL, or why the class is not generated. */
const char *bmm__gen_class_args(const bmm_call *c, bmm__gen_args *g);
/* The object's key: every input that shapes its code (not the compiler: see gen_class.c). */
uint64_t bmm__gen_object_key(const char *class_text);
/* The key of the precompiled runtime headers compiler cc makes (<key>.gch): what the object
 * key covers but the CPU and the class (the headers are the same), and the compiler (a header
 * precompiled by another is no use to it). */
uint64_t bmm__gen_pch_key(const char *cc);
/* The key of the record of the object's build failing with compiler cc (<key>.failed). */
uint64_t bmm__gen_failure_key(uint64_t key, const char *cc);

/* The object's trailer (magic, length, FNV-1a of the bytes before it): written by gen_build.c,
 * checked by gen_store.c. A truncated or altered file fails the check. */
#define BMM__GEN_TRAILER 24
static const char BMM__GEN_MAGIC[8] = { 'B', 'M', 'M', 'O', 'B', 'J', '1', '\n' };
static inline void bmm__gen_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint64_t bmm__gen_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
/* Appends the trailer to the n bytes at b (room for BMM__GEN_TRAILER more). */
static inline void bmm__gen_seal(unsigned char *b, size_t n)
{
    memcpy(b + n, BMM__GEN_MAGIC, 8);
    bmm__gen_put64(b + n + 8, n);
    bmm__gen_put64(b + n + 16, bmm__fnv1a(BMM__FNV_BASIS, b, n));
}
static inline int bmm__gen_sealed(const unsigned char *b, size_t n)
{
    if (n < BMM__GEN_TRAILER + 64)
        return 0;
    const unsigned char *t = b + n - BMM__GEN_TRAILER;
    return memcmp(t, BMM__GEN_MAGIC, 8) == 0 && bmm__gen_get64(t + 8) == n - BMM__GEN_TRAILER
        && bmm__gen_get64(t + 16) == bmm__fnv1a(BMM__FNV_BASIS, b, n - BMM__GEN_TRAILER);
}

/* gen_build.c */
/* Generates, compiles and publishes <key>.so, timing the generator and the compiler, in a
 * private build folder of the cache (see gen_build.c), with the runtime headers precompiled
 * when the cache has them, or (make_pch) after making them. *lasting: it failed in a way another
 * process would repeat (the generator has nothing for the class, the compiler failed or hung,
 * not for want of disk space). */
bmm_status bmm__gen_make(const bmm__cache *dir, bmm__gen_args *g, const char *cc, int make_pch,
    int *lasting, double *generate_ms, double *compile_ms, char *err, size_t errlen);

/* gen_store.c */
typedef enum { BMM__GEN_LOADED, BMM__GEN_MISSING, BMM__GEN_BROKEN } bmm__gen_load;
/* Loads <key>.so: checked (owner, mode, no symlink, trailer), mapped through its descriptor,
 * its tables (one per ISA of g, at least one) of the right ABI verified (every kernel against
 * the generic path on a few items, *check_ms) and registered; *kernels counts theirs. BROKEN:
 * the file is deleted (the caller makes it again). */
bmm__gen_load bmm__gen_load_object(const bmm__cache *dir, const bmm__gen_args *g,
    const bmm_kernel_table **out, int *kernels, double *check_ms, char *err, size_t errlen);
/* Records the lines of <key>.wisdom that name a kernel serving c's class in its regime and
 * thread class; a line that does not is skipped. */
void bmm__gen_import_choices(const bmm__cache *dir, uint64_t key, const bmm_call *c);
/* Keeps k as the choice for c's regime and thread class in <key>.wisdom. */
void bmm__gen_remember_choice(const bmm__cache *dir, uint64_t key, const bmm_call *c,
    const bmm_kernel_desc *k);
/* A class that failed in a way another process would repeat: <key>.failed. */
void bmm__gen_record_failure(const bmm__cache *dir, uint64_t key, const char *why);
void bmm__gen_forget_failure(const bmm__cache *dir, uint64_t key);
/* 1 and why in err if an earlier process recorded a failure this one would repeat. */
int bmm__gen_failed_earlier(const bmm__cache *dir, uint64_t key, char *err, size_t errlen);

#endif
