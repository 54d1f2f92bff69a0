/* bmm_internal.h: what the runtime's files share; not installed. Tests and the tools use it
 * to reach single kernels, the timer and wisdom files.
 *
 * The files sit in folders by job: api/ (the public entry points and the validation of a
 * call), planner/ (tuning and wisdom), kernels/ (the kernel tables, running a kernel, the
 * generic loop), ondemand/ (generation on demand: its class, build and object store, the
 * embedded generator, the compiler, the cache), platform/ (CPU, threads, errors), tools/.
 * They form a chain; each calls only those below it, never one above (tests/check_layers.sh):
 *   cblas.c -> plan.c -> ondemand.c -> gen_store.c -> tune.c, wisdom.c -> threads.c,
 *   gen_build.c, wisdom_file.c -> verify.c -> registry.c, run.c, gen_class.c -> problem.c,
 *   pairs.c, fma16.c, cpu.c, generic.c, pack.c, convert.c, luagen.c, spawn.c, cache.c, bmm_select.h ->
 *   error.c, stride.c, env.c
 * A lower layer that changes what an upper one may have cached (a table registered, wisdom
 * imported, recorded or forgotten) bumps the registry's configuration epoch; the upper layer
 * compares epochs instead of being called back. */
#ifndef BMM_INTERNAL_H
#define BMM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bmm.h"
#include "bmm_generic.h"
#include "bmm_kernel.h"
#include "bmm_select.h"

/* A problem: what a kernel runs on, whole. Fixed size, no padding (problem.c asserts it), every
 * field set by bmm__problem_init: the plan cache keys on it with its scalar values cleared
 * (their class decides, bmm__problem_class). */
typedef struct bmm__problem {
    int16_t dtype;       /* bmm_dtype */
    int16_t scalars;     /* BMM_SCALARS_* class of (alpha, beta) */
    int16_t swapped;     /* 1: the transpose of the caller's problem, run on (B, A, C) */
    int16_t pack;        /* BMM__PACK_*: operands the kernel reads from a copy (16-bit fields:
                          * the one-shot calls compare and hash the whole struct) */
    int16_t cdtype;      /* C's dtype: dtype, or BMM_F32 for 16-bit A and B (BMM_C_F32) */
    int16_t spare[3];    /* zero */
    int64_t batch, n, m, p;
    bmm_stride sa, sb, sc;
    double alpha, beta;  /* as the kernel gets them: rounded to the dtype's scalar type */
} bmm__problem;

/* Bytes of one element of operand o (0 A, 1 B, 2 C) of pr. */
static inline int64_t bmm__operand_bytes(const bmm__problem *pr, int o)
{
    return bmm__elem_bytes(o == 2 ? pr->cdtype : pr->dtype);
}

/* FNV-1a of n bytes, continuing from h (start at BMM__FNV_BASIS): the plan cache, the wisdom
 * table, the registry's name index and the table signature all hash with it. */
#define BMM__FNV_BASIS 1469598103934665603ull
static inline uint64_t bmm__fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* A monotonic clock in milliseconds: timing kernels, compiles and deadlines. */
static inline double bmm__now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* A hash for a table of power-of-two size: the high bits folded into the low ones. */
static inline size_t bmm__hash_slot(const void *p, size_t n)
{
    uint64_t h = bmm__fnv1a(BMM__FNV_BASIS, p, n);
    return (size_t)(h ^ (h >> 32));
}



/* error.c */
bmm_status bmm__fail(bmm_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Puts back a message saved from bmm_last_error() (an internal failure is not the caller's). */
void bmm__set_last_error(const char *msg);
int bmm__verbose(void);
/* Says what was chosen and why, on stderr, when BMM_VERBOSE is set. */
void bmm__note(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* problem.c */
/* Strides of size-1 dimensions are normalized (bmm_select.h); alpha and beta are rounded to
 * the dtype's scalar type (bmm__scalar_round), and their class is of the rounded values. */
void bmm__problem_init(bmm__problem *pr, bmm_dtype dt, int64_t batch, int64_t n, int64_t m,
    int64_t p, bmm_stride sa, bmm_stride sb, bmm_stride sc, double alpha, double beta);
size_t bmm__dtype_size(int dtype);
bmm_status bmm__check_problem(const bmm__problem *pr);
bmm_status bmm__check_operands(const bmm__problem *pr, const void *A, const void *B, const void *C);
/* Both, with the spans computed once (the one-shot calls). */
bmm_status bmm__check_call(const bmm__problem *pr, const void *A, const void *B, const void *C);
/* The lowest and highest element offset of each operand (lo <= 0 <= hi; a negative stride
 * reaches below the pointer); valid after a successful check. */
void bmm__spans(const bmm__problem *pr, int64_t lo[3], int64_t hi[3]);
/* The problem the kernels run for a checked pr: 1 when it is not pr itself but *run (run on
 * (B, A, C) when run->swapped); 0: pr runs as it is (*run untouched). Every operand's
 * columns unit-stride: pr. Else the transpose C^T = B^T A^T (n and p, A and B swapped, each
 * operand transposed) when that makes them all unit-stride: a transposed B with n = 1 (the
 * backward products of attention) becomes p = 1, a transposed A with p = 1 becomes n = 1,
 * column-major A, B and C row-major. Else, of pr and its transpose, the one that copies
 * fewer elements with its operands that are not row-major packed (run->pack, kernels/pack.c;
 * a C with unit row stride too, written back), then the one with fewer transposed views.
 * in_place: a transposed view of A or B (unit row stride) is not copied but left to the
 * kernels of its operand order (bmm_select.h's order). Else (C's rows and columns both
 * strided) pr, for the any-stride kernels. Checks and messages stay on pr, whose operands
 * are the caller's. */
int bmm__problem_arrange(const bmm__problem *pr, int in_place, bmm__problem *run);
/* What an arranged problem costs an item on this CPU's widest vectors, in lane multiply-adds:
 * its kernels' vector multiply-adds by their form (rows, or dot products where a transposed B
 * is read in place), its copies weighed in. */
double bmm__problem_cost(const bmm__problem *run);
/* Every operand's columns are unit-stride: what the vector kernels take as it is. */
static inline int bmm__row_major(const bmm__problem *pr)
{
    return pr->sa.col == 1 && pr->sb.col == 1 && pr->sc.col == 1;
}
/* The class of a checked problem (bmm_select.h): what selection and wisdom read; of the
 * kernel's view (bmm__pack_view) when operands are packed. */
void bmm__call_of(const bmm__problem *pr, int threads, bmm_call *c);

/* generic.c: any shape and strides; beta == 0 never reads C. */
void bmm__generic(const bmm__problem *pr, const void *A, const void *B, void *C);
/* The same on a kernel's arguments (dtypes of A and B, and of C): the runtime's own kernels
 * where they cannot have a buffer. */
void bmm__generic_args(const bmm_args *g, int dtype, int cdtype);

/* pack.c: the operands a problem's kernel reads from a row-major copy. */
#define BMM__PACK_A 1
#define BMM__PACK_B 2
#define BMM__PACK_C 4  /* computed in a row-major buffer, written back (read first: beta != 0) */
#define BMM__PACK_BT 8 /* a row-major B copied transposed (B^T row-major): the kernel reads a
                        * transposed view, by dot products along m (the gnt form) */
#define BMM__PACK_WIDE 16 /* with A, B and C: 16-bit operands copied as floats, for an f32
                           * kernel; its C rounded once into the caller's (convert.c) */
/* What the kernel sees of pr: its packed operands row-major, pack 0. */
void bmm__pack_view(const bmm__problem *pr, bmm__problem *kv);
/* 1: copies are seq-first (C's items are adjacent), a chunk's items side by side;
 * 0: batch-first. */
int bmm__pack_seq_first(const bmm__problem *pr);
/* The strides of `items` copies of a rows x cols operand whose own strides are s. */
bmm_stride bmm__pack_strides(int seq_first, int64_t items, int64_t rows, int64_t cols,
    bmm_stride s);
/* Copies `items` rows x cols operands at x (strides s) to row-major d, items db and rows ldd
 * apart; isa: the highest vector ISA the CPU (and BMM_ARCH) admit (a transposed view moves in
 * register tiles from AVX2, small items in permutes from AVX-512). */
void bmm__pack(int dtype, const void *x, bmm_stride s, int64_t items, int64_t rows,
    int64_t cols, void *d, int64_t db, int64_t ldd, int isa);

/* convert.c: a 16-bit dtype's (BMM_BF16, BMM_F16) `items` rows x cols operands at x (strides
 * s) widened to floats at d, items db and rows ldd apart, exactly; and rows x cols floats at x
 * (items xb, rows ldx apart) rounded once, to nearest even, into the operands at c (strides
 * s). isa: as bmm__pack's. */
void bmm__widen(int dtype, const void *x, bmm_stride s, int64_t items, int64_t rows,
    int64_t cols, float *d, int64_t db, int64_t ldd, int isa);
void bmm__narrow(int dtype, const float *x, int64_t xb, int64_t ldx, int64_t items,
    int64_t rows, int64_t cols, void *c, bmm_stride s, int isa);
/* 1, with *run: pr's dtype has no kernels of its own (the 16-bit ones), so it runs an f32
 * kernel on widened copies of its operands (BMM__PACK_WIDE). */
int bmm__problem_widen(const bmm__problem *pr, bmm__problem *run);

/* pairs.c: the bf16 kernel (AVX512_BF16's pairs along k; a shape-generic kernel of the one
 * ABI, any strides) for a checked bf16 problem as the caller gave it, when admitted
 * (bmm__cpu_bf16()); NULL: none, the problem runs as a 16-bit one without. */
const bmm_kernel_desc *bmm__pairs_kernel(const bmm__problem *pr, int admitted);
/* What kernel k (of bmm__pairs_kernel) copies of pr's operands, for bmm_plan_operands. */
const char *bmm__pairs_operands(const bmm_kernel_desc *k, const bmm__problem *pr);

/* fma16.c: the f16 kernel (conversions in registers around float FMAs; a shape-generic
 * kernel of the one ABI, any strides) for a checked f16 problem as the caller gave it, when
 * admitted (bmm__cpu_f16()) and its shape is one it pays for; NULL: none, the problem runs
 * widened. Its operands, for bmm_plan_operands. */
const bmm_kernel_desc *bmm__fma16_kernel(const bmm__problem *pr, int admitted);
const char *bmm__fma16_operands(const bmm_kernel_desc *k, const bmm__problem *pr);

/* A path buffer's size: the cache directory's path is at most this long, less the room its
 * files' names take (cache.c refuses a longer one). */
#define BMM__PATH_MAX 512

/* embedded.c (made while building by cmake/embed.cmake): the generator's modules, templates
 * and the runtime headers generated kernels include, as bytes, paths relative to the source
 * tree ("generator/cli.lua"). */
typedef struct bmm__embedded_file {
    const char *path;
    const unsigned char *text;  /* size bytes, then a NUL */
    size_t size;
} bmm__embedded_file;
extern const bmm__embedded_file bmm__embedded_files[];
extern const size_t bmm__embedded_count;

/* luagen.c: the generator, run inside the library (Lua 5.4 or LuaJIT). */
typedef struct bmm__gen_file {
    char *path, *text;  /* relative to the output folder; text NUL-terminated */
    size_t size;
} bmm__gen_file;
typedef struct bmm__gen_files {
    bmm__gen_file *v;
    size_t n;
} bmm__gen_files;
/* bmmgen.lua's pipeline on its arguments (without the program name): the files it would
 * write, byte for byte, in path order; else a message in err (BMM_EINVAL: the generator
 * refused the arguments; BMM_EUNSUPPORTED: no Lua). */
bmm_status bmm__lua_generate(int argc, const char *const *argv, bmm__gen_files *out, char *err,
    size_t errlen);
void bmm__gen_files_free(bmm__gen_files *f);
/* FNV-1a of every embedded file: a changed generator makes new objects. */
uint64_t bmm__generator_hash(void);

/* env.c: a variable that names a program, file or directory; NULL when unset or in a setuid
 * or setgid process (secure_getenv). */
const char *bmm__env_path(const char *name);

/* spawn.c: programs that run side by side (the compiler, once per ISA). Start runs argv
 * (argv[0] searched in PATH) without a shell, in the directory cwd (a descriptor; -1: this
 * process's), its output to log (a path relative to cwd; NULL: discarded): a pid, or -1 and
 * why in err. Wait waits for it until a deadline (bmm__spawn_deadline) shared by all, and
 * kills it with everything it started past that: 0 when it exited 0, else -1 and what
 * happened in err. */
int bmm__spawn_start(const char *const *argv, int cwd, const char *log, char *err,
    size_t errlen);
double bmm__spawn_deadline(long timeout_ms);
/* 1 if prog can be run: a path to an executable, or a name found in PATH. */
int bmm__spawn_found(const char *prog);
int bmm__spawn_wait(int pid, const char *name, double deadline_ms, long timeout_ms, char *err,
    size_t errlen);

/* cache.c: the directory of generated objects (see there for the rules). */
typedef struct bmm__cache {
    int fd;                      /* the directory, opened after its checks */
    int prepared;                /* read-only: loaded from, never written or deleted in */
    char path[BMM__PATH_MAX];
} bmm__cache;
/* Opens the directory (create: made first, 0700, when missing), checks it and claims it
 * (CACHEDIR.TAG); BMM_EIO and why in err when it is missing, refused or not a cache. */
bmm_status bmm__cache_open(bmm__cache *c, int create, char *err, size_t errlen);
/* Opens a prepared cache, read-only: a directory (not a symlink) owned by root or the
 * effective user and writable by no one else; BMM_EIO and why otherwise. */
bmm_status bmm__cache_open_prepared(bmm__cache *c, const char *path, char *err, size_t errlen);
/* The i-th prepared cache's path (BMM_CACHE_PATH's entries, ':' apart, then the one installed
 * with the library); 0 past the last. */
int bmm__cache_prepared_path(int i, char *out, size_t len);
void bmm__cache_close(bmm__cache *c);
/* rel inside dirfd, opened to read and checked (ours, or root's when root_ok; writable by no
 * one else; regular; not a symlink; without waiting on a FIFO): its descriptor, or -1 with
 * errno ENOENT (missing) or another (*why says why: EPERM, refused). */
int bmm__cache_open_at(int dirfd, const char *rel, int root_ok, const char **why);
/* The same for a file of the cache directory, err naming it. */
int bmm__cache_open_file(const bmm__cache *c, const char *name, char *err, size_t errlen);
/* The whole file (malloc'd, one spare byte after it), or -1. */
int bmm__cache_read_all(int fd, unsigned char **data, size_t *size);
void bmm__cache_touch(const bmm__cache *c, int fd);
void bmm__cache_remove(const bmm__cache *c, const char *name);
/* A new private build folder in the cache (0700, checked): its descriptor and its name
 * (bmmgen-build-<12 hex>), or -1 and why. */
int bmm__cache_make_dir(const bmm__cache *c, char name[32], char *err, size_t errlen);
/* Removes a build folder of ours and everything in it. */
void bmm__cache_remove_dir(const bmm__cache *c, const char *name);
/* Writes a new file rel (0600; its folders made 0700) inside dirfd; 0, or -1 and errno. */
int bmm__cache_write_at(int dirfd, const char *rel, const void *data, size_t size);
/* Writes name whole: a private temporary file, fsync, rename, the directory fsynced. */
bmm_status bmm__cache_publish(const bmm__cache *c, const char *name, const void *data,
    size_t size, char *err, size_t errlen);
/* The lock file, locked (blocks while another process holds it): a descriptor to unlock,
 * or -1 (then nothing is locked: the cost is at worst a second compile). */
int bmm__cache_lock(const bmm__cache *c);
void bmm__cache_unlock(int fd);
/* BMM_CACHE_MAX_MB in bytes (default 256 MiB). */
uint64_t bmm__cache_max_bytes(void);
/* Deletes the least recently used objects (and their wisdom) until the rest fit max_bytes. */
void bmm__cache_evict(const bmm__cache *c, uint64_t max_bytes, const char *keep);
/* Deletes every file of ours; returns how many. */
size_t bmm__cache_clear_all(const bmm__cache *c);

/* cpu.c */
int bmm__cpu_max_isa(void);  /* the widest BMM_ISA_* this CPU, its OS and BMM_ARCH admit */
/* Lanes of dtype in a vector of isa (0: portable C, no vectors). */
static inline int64_t bmm__vector_lanes(int dtype, int isa)
{
    return (isa >= BMM_ISA_AVX512 ? 64 : isa >= BMM_ISA_AVX2 ? 32 : 0) / bmm__elem_bytes(dtype);
}
int bmm__cpu_avx512_split(void);  /* AVX-512 on 256-bit halves (bmm_simd.h), for the rule */
int bmm__cpu_admits(int isa);
/* AVX512_BF16 and AVX512BW beside AVX-512, BMM_ARCH unset: the bf16 kernels of pairs.c. */
int bmm__cpu_bf16(void);
/* 1: AVX512BW is admitted (with AVX-512F: fma16.c's kernels); BMM_ARCH=avx512 keeps it. */
int bmm__cpu_f16(void);
/* <vendor>-<family>-<model>-<stepping>-<widest ISA admitted> (hex numbers): generated objects */
const char *bmm__cpu_signature(void);
/* The same without the stepping (what decides speed: wisdom's CPU line), and the stepping. */
const char *bmm__cpu_class(void);
const char *bmm__cpu_stepping(void);

/* registry.c: the kernel tables, walked by descriptor */
/* Walks every registered kernel: start with an iterator zeroed, NULL at the end. */
typedef struct bmm__kernel_iter {
    size_t table;
    int32_t part, index;
} bmm__kernel_iter;
const bmm_kernel_desc *bmm__kernel_next(bmm__kernel_iter *it);
size_t bmm__kernel_count(void);
const bmm_kernel_desc *bmm__kernel_by_name(const char *name);
/* bmm__applies (bmm_select.h) on this CPU. */
int bmm__kernel_applies(const bmm_kernel_desc *k, const bmm_call *c);
/* Kernels that apply to c on this CPU; stores up to max in out, in the static rule's order
 * (best first) among those stored, and returns how many there are in all (call with max 0 to
 * count). */
size_t bmm__candidates(const bmm_call *c, const bmm_kernel_desc **out, size_t max);
const bmm_kernel_desc *bmm__estimate(const bmm_call *c);  /* NULL: generic */
/* Registers a table made by generation on demand: like bmm_register_kernels, but outside the
 * count of a program's tables (its choices are kept in the cache, not in wisdom files) and up
 * to MAX_TABLES in all. */
bmm_status bmm__register_generated(const bmm_kernel_table *table);
/* Tables bmm__register_generated may still add (the registry's limit less those held). */
#define BMM__MAX_TABLES 1024  /* generated on demand included */
size_t bmm__registry_room(void);
/* k belongs to a table registered by bmm__register_generated. */
int bmm__kernel_generated(const bmm_kernel_desc *k);
size_t bmm__table_kernel_count(const bmm_kernel_table *t);
/* The configuration epoch: bumped whenever a cached choice may have become stale. */
unsigned bmm__config_epoch(void);
void bmm__config_changed(void);
/* run.c: runs kernel k (NULL: the generic path) on a checked problem, its packed operands
 * (pr->pack) copied a chunk at a time into a buffer (a failed allocation: the generic path). */
void bmm__run(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A, const void *B,
    void *C);

/* verify.c: kernels against the generic path on a few items (tune.c's winner; generation on
 * demand's tables, before they are registered). */
/* elems values in [-0.5, 0.5) from seed: a short pseudo-random run, then copies of it
 * (generating every value of a 64 MiB sample took longer than timing it). */
void bmm__sample_fill(void *p, int64_t elems, int dtype, unsigned seed);
/* Finite scalars of alpha/beta form `form`: the values it fixes, else 0.75 and 0.5. */
void bmm__sample_scalars(int form, double *alpha, double *beta);
/* The offset of the first element of C where a kernel's Ck and the generic path's Cg differ
 * by more than the bound of an m-term sum of such values (with a margin); -1 if none. */
int64_t bmm__sample_disagrees(const bmm__problem *pr, const void *Ck, const void *Cg);
/* 1 when every kernel of t agrees with the generic path on a few items of its own shape,
 * layout, operand order and alpha/beta form (those this CPU cannot run are passed over); else
 * 0 and why names the first that does not. *verified counts those run. */
int bmm__verify_table(const bmm_kernel_table *t, int *verified, char *why, size_t len);

/* threads.c */
/* The threads a call asks for: bmm_set_num_threads, else BMM_NUM_THREADS, else OpenMP's
 * default (1 without OpenMP). */
int bmm__threads_default(void);
/* What a plan asking for `want` threads (0: the default) may run on: 1 without OpenMP. */
int bmm__threads_request(int want);
/* The threads a call of a plan for `threads` runs on at time now_ms (bmm__now_ms): fewer when
 * the team has been idle (asleep) and the work does not pay its wake-up. Records the call as
 * wanting a team. */
int bmm__threads_awake_at(const bmm__problem *pr, int threads, double now_ms);
static inline int bmm__threads_awake(const bmm__problem *pr, int threads)
{
    return threads < 2 ? threads : bmm__threads_awake_at(pr, threads, bmm__now_ms());  /* one
        thread reads no clock: it costs more than a tiny call */
}
/* Runs kernel k on a checked problem over at most `threads` threads (chunks of whole grains,
 * bitwise the serial result), serially where threads would nest, pile up or follow a fork;
 * returns how many ran. */
int bmm__run_threads(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C, int threads);

/* wisdom_file.c: a wisdom file's text (docs/runtime.md), read and written without the
 * in-memory wisdom: import and export build on it, and so do the tools (bmm-wisdom merges
 * files whose kernels this process may not have). An entry keeps its kernel's name. */
#define BMM__NAME_MAX 200  /* a kernel's or table's name: a wisdom line holds one in 511 characters */
#define BMM__WISDOM_MAX_ENTRIES ((size_t)1 << 21)  /* in memory, and in a file */

typedef struct bmm__wisdom_entry {
    bmm_call_key key;
    size_t name;  /* offset of the kernel's name ("generic" for the generic path) in names */
    int line;     /* where it was read; 0: put */
} bmm__wisdom_entry;

typedef struct bmm__wisdom_file {
    int version;         /* as read (3 or 4); written as the current */
    char cpu[160];       /* bmm__cpu_class() of the machine it was made on */
    char stepping[16];   /* and its stepping */
    bmm__wisdom_entry *v;
    size_t len, cap;
    char *names;         /* the kernels' names, each ended by NUL */
    size_t names_len, names_cap;
    size_t *slot, slots; /* index + 1 of the entry of a key (open addressing); 0: free */
} bmm__wisdom_file;

/* An empty file made on this CPU. */
void bmm__wisdom_file_init(bmm__wisdom_file *f);
void bmm__wisdom_file_free(bmm__wisdom_file *f);
/* Reads path (a regular file) into f (made empty first). The syntax only: kernels are names,
 * the CPU is not compared. BMM_EFORMAT with file and line, BMM_EIO, BMM_ENOMEM. */
bmm_status bmm__wisdom_file_read(bmm__wisdom_file *f, const char *path);
/* Adds the entry, or replaces the kernel of an entry of the same key. 0 past the limit of
 * entries or out of memory. */
int bmm__wisdom_file_put(bmm__wisdom_file *f, const bmm_call_key *k, const char *kernel);
/* Puts every entry of from into `into` (from's win); 0 on ENOMEM. */
int bmm__wisdom_file_merge(bmm__wisdom_file *into, const bmm__wisdom_file *from);
/* The file at path, locked (flock on the file itself: every tool that rewrites one takes it),
 * made empty when missing; a descriptor to close to unlock, or -1. */
int bmm__wisdom_file_lock(const char *path);
static inline const char *bmm__wisdom_file_kernel(const bmm__wisdom_file *f, size_t i)
{
    return f->names + f->v[i].name;
}
/* Writes f (entries in key order, so the same wisdom is the same file) through a private
 * temporary file beside path, renamed over it. */
bmm_status bmm__wisdom_file_write(const bmm__wisdom_file *f, const char *path);
/* BMM_OK when f was made on a CPU like this one (vendor, family, model, widest ISA; exact:
 * and the stepping); else BMM_EFORMAT saying how it differs. */
bmm_status bmm__wisdom_file_cpu_check(const bmm__wisdom_file *f, const char *path, int exact);
/* Whether entry i can be used here: 0 with *kd (NULL: the generic path); 1 when this process
 * has no kernel of that name (the entry is passed over); -1 when the kernel named cannot
 * serve the entry's class (the file is wrong), why in *bad. */
int bmm__wisdom_file_resolve(const bmm__wisdom_file *f, size_t i, const bmm_kernel_desc **kd,
    const char **bad);
/* The words of an entry's fields: operand o's layout ("bf", "sft": a transposed view). */
const char *bmm__wisdom_layout_word(const bmm_call_key *k, int o, char buf[8]);

/* wisdom.c */
/* Imports the system wisdom file, then $BMM_WISDOM, once, at the first call of any kind (so
 * a forget or export sees them). */
void bmm__wisdom_init(void);
/* The in-memory wisdom as a file (its kernels' names); BMM_ENOMEM. */
bmm_status bmm__wisdom_snapshot(bmm__wisdom_file *f);
int bmm__wisdom_lookup(const bmm_call *c, const bmm_kernel_desc **k);
void bmm__wisdom_record(const bmm_call *c, const bmm_kernel_desc *k);
/* Forgets the choice for c's key, if any (made before c's class had kernels of its own). */
void bmm__wisdom_drop(const bmm_call *c);

/* tune.c */
/* Seconds of BMM_TUNE_BUDGET_MS (default 0.05; values outside (0, 60000] ms refused). */
double bmm__tune_budget(void);
/* Seconds per call of kernel k on these operands over `threads` threads: warm-up, then the
 * best of repetitions within budget seconds. */
double bmm__time_kernel(const bmm_kernel_desc *k, const bmm__problem *pr, const void *A,
    const void *B, void *C, double budget, int threads);
/* One candidate's timing (kernel NULL: the generic path). */
typedef struct bmm__timing {
    const bmm_kernel_desc *kernel;
    double seconds;  /* per call on the timing sample */
    int wrong;       /* disagreed with the generic path: never chosen */
    int how;         /* BMM__TIMED, BMM__PROBED or BMM__UNTIMED (seconds 1e30) */
} bmm__timing;
/* How a candidate's time was had: the best of calls on the sample (the generic path's: on a
 * few items, scaled); one cold call on a few items, scaled, which showed it could not win (an
 * estimate: not a figure to report); or not at all, the budget spent. */
enum { BMM__UNTIMED, BMM__PROBED, BMM__TIMED };
/* Every candidate's timing, then the generic path's; free(log.v) when done. batch: the items
 * each timing covers (the plan's, or fewer: tuning times a sample). */
typedef struct bmm__timings {
    bmm__timing *v;
    size_t n;
    int64_t batch;
} bmm__timings;
/* Times the candidates of class c on private buffers shaped like pr, run on `threads`
 * threads as the plan will be (within the tuning budget, tune.c says how), with finite scalars
 * of pr's alpha/beta class; *best is the winner (NULL: generic). log->n is 0 when nothing
 * could be timed (batch 0, operands too large): *best is then the static rule's pick and must
 * not be recorded as measured. */
bmm_status bmm__measure(const bmm__problem *pr, const bmm_call *c, int threads,
    const bmm_kernel_desc **best, bmm__timings *log);

/* ondemand.c: generation on demand (ondemand/gen.h: what its files share) */
/* With no specialized kernel for c here: loads (or generates, compiles and caches) kernels
 * for c's class and registers them, with the choices measured for it before. 1 when new
 * kernels joined; 0 otherwise (a failure is a BMM_VERBOSE note, never an error). */
int bmm__generate(const bmm_call *c);
/* 1 when c's class is one that is generated (gen_class.c admits it) and no attempt at it
 * failed in this process: its own kernels may join the candidates. */
int bmm__generate_serves(const bmm_call *c);
/* The same without waiting: c's class is queued for a background thread (one per process,
 * one class at a time, signals blocked, at low priority) and 0 returned at once. Once its
 * kernels are registered the configuration epoch moves, so the one-shot calls of the class
 * plan again and take them. */
void bmm__generate_later(const bmm_call *c);
/* Waits until no class is queued or being generated (tests, bmm-tune). */
void bmm__generate_wait(void);
/* 1 while c's class waits for the background thread or is being made there. */
int bmm__generate_pending(const bmm_call *c);
/* Keeps a measured choice for c beside its generated object (a later process reuses it). */
void bmm__generate_remember(const bmm_call *c, const bmm_kernel_desc *k);
/* BMM_GENERATE=1 in the environment: one-shot calls generate. */
/* BMM_GENERATE for one-shot calls: 0 (unset or not 1/sync), BMM_GENERATE | BMM__GENERATE_LATER
 * ("1": generated in the background, the call never waits) or BMM_GENERATE ("sync"). */
unsigned bmm__generate_env(void);
/* What the calling thread's last bmm__generate did, and how long each step took. */
typedef struct bmm__generate_stats {
    char source[24];     /* "compiled", "cache", "loaded before", "failed", "failed before",
                          * "not generated" (a class the rules leave to shape-generic ones) */
    char why[160];       /* with no kernels: why, cut short */
    int kernels;
    double generate_ms, compile_ms;
    double load_ms;      /* mapping and registering the object */
    double check_ms;     /* verifying every kernel against the generic path, before that */
} bmm__generate_stats;
void bmm__generate_last(bmm__generate_stats *s);
/* Called as each compile starts (done 0: s and why not yet set) and ends (done 1: s says what
 * it took, why is NULL if its kernels were loaded, else why not), on the generating thread;
 * class_text names the class. bmm-tune's (NULL: none). */
typedef void (*bmm__compile_watch)(const char *class_text, int done,
    const bmm__generate_stats *s, const char *why);
void bmm__generate_watch(bmm__compile_watch fn);

/* plan.c */
/* How a plan's kernel was chosen, and (measured) every candidate's timing. */
typedef struct bmm__choice {
    const bmm_kernel_desc *kernel;  /* NULL: the generic path */
    const char *source;             /* "wisdom", "measured", "static rule" or "generic only" */
    int measured;                   /* 1: chosen by timing the candidates just now */
    bmm__timings log;               /* measured only; free(log.v) */
} bmm__choice;
/* An internal flag of bmm__choose (bmm-tune --retune): measure even where wisdom answers. */
#define BMM__RETUNE (1u << 30)
/* An internal flag of bmm__choose (one-shot calls, BMM_GENERATE=1): generate in the background. */
#define BMM__GENERATE_LATER (1u << 29)
/* The planner: alpha == 0 needs no kernel (C = beta*C), else wisdom, else BMM_MEASURE times
 * the candidates (and records the winner if it could time them), else the static rule. Used
 * by plans, one-shot calls and bmm-tune alike. c->key.threads is the class of `threads`, the
 * count the plan runs with. */
bmm_status bmm__choose(const bmm__problem *pr, const bmm_call *c, unsigned flags, int threads,
    bmm__choice *out);

#endif
