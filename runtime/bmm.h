/* bmm.h: public API of bmmgen, batched small matrix products C_i = alpha A_i B_i + beta C_i.
 *
 * Semantics are those of torch.bmm / torch.baddbmm. Every operand is an element pointer plus
 * three element strides {batch, row, col}, like a PyTorch tensor. Every entry point validates
 * its arguments, returns a status, and never aborts, exits or prints; on error the output is
 * untouched and bmm_last_error() says which argument broke which rule. */
#ifndef BMM_H
#define BMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(BMM_SHARED)
#define BMM_API __declspec(dllexport)
#elif defined(__GNUC__)
#define BMM_API __attribute__((visibility("default")))
#else
#define BMM_API
#endif

#define BMM_VERSION "0.1.0"

typedef enum { BMM_F32 = 1, BMM_F64 = 2, BMM_BF16 = 3, BMM_F16 = 4 } bmm_dtype;
/* 16-bit elements (BMM_BF16, BMM_F16) are passed as their bits: products are accumulated in
 * float at least, alpha and beta are floats, and C is rounded once, to nearest even: to the
 * same 16-bit type, or to float (a float C: bmm_sbgemm_strided, bmm_shgemm_strided, plans
 * with BMM_C_F32; what autocast and OpenBLAS's sbgemm compute). */
typedef uint16_t bmm_bf16;
typedef uint16_t bmm_f16;

/* Strides in elements of a rows x cols operand: element (b, i, j) is at
 * base + b*batch + i*row + j*col. Any sign, as NumPy and PyTorch give them: a negative stride
 * walks down from base, zero broadcasts A or B, and a dimension of extent 1 may have any. */
typedef struct { int64_t batch, row, col; } bmm_stride;

/* (batch, rows, cols) contiguous: {rows*cols, cols, 1}. */
BMM_API bmm_stride bmm_stride_batch_first(int64_t rows, int64_t cols);
/* (rows, batch, cols) contiguous, the RNN default (seq_len, batch, features): {cols, batch*cols, 1}. */
BMM_API bmm_stride bmm_stride_seq_first(int64_t rows, int64_t cols, int64_t batch);
/* The same memory seen as the transpose (torch's .transpose(1, 2)): row and col swapped. */
BMM_API bmm_stride bmm_stride_transpose(bmm_stride s);

typedef enum {
    BMM_OK = 0,
    BMM_EINVAL,        /* an argument breaks a rule (null, size, stride, overflow, flags) */
    BMM_EOVERLAP,      /* C overlaps itself, A or B */
    BMM_ENOMEM,        /* an allocation failed */
    BMM_EUNSUPPORTED,  /* valid, but not served (e.g. BMM_WISDOM_ONLY without wisdom) */
    BMM_EIO,           /* a file could not be read or written */
    BMM_EFORMAT        /* a wisdom file is corrupt, truncated or from another configuration */
} bmm_status;

BMM_API const char *bmm_strerror(bmm_status s);
/* What the last failing call in this thread rejected, naming the argument and the rule.
 * Never NULL; "" when no call has failed in this thread. */
BMM_API const char *bmm_last_error(void);

/* One call: validates, finds the cached plan for this problem (creating it from wisdom or,
 * without wisdom, from the static rule), executes. m == 0 is rejected (BMM_EINVAL); batch == 0
 * is a no-op whatever the strides (the pointers may then be NULL). As in BLAS, beta == 0 never
 * reads C and alpha == 0 never reads A or B. Pointers must be aligned to the element size. */
BMM_API bmm_status bmm_sgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p,
    float alpha, const float *A, bmm_stride sa, const float *B, bmm_stride sb,
    float beta, float *C, bmm_stride sc);
BMM_API bmm_status bmm_dgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p,
    double alpha, const double *A, bmm_stride sa, const double *B, bmm_stride sb,
    double beta, double *C, bmm_stride sc);
BMM_API bmm_status bmm_bf16gemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p,
    float alpha, const bmm_bf16 *A, bmm_stride sa, const bmm_bf16 *B, bmm_stride sb,
    float beta, bmm_bf16 *C, bmm_stride sc);
BMM_API bmm_status bmm_hgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p,
    float alpha, const bmm_f16 *A, bmm_stride sa, const bmm_f16 *B, bmm_stride sb,
    float beta, bmm_f16 *C, bmm_stride sc);
/* 16-bit A and B, a float C (named as OpenBLAS's sbgemm: bf16 in, float out; sh: f16). */
BMM_API bmm_status bmm_sbgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p,
    float alpha, const bmm_bf16 *A, bmm_stride sa, const bmm_bf16 *B, bmm_stride sb,
    float beta, float *C, bmm_stride sc);
BMM_API bmm_status bmm_shgemm_strided(int64_t batch, int64_t n, int64_t m, int64_t p,
    float alpha, const bmm_f16 *A, bmm_stride sa, const bmm_f16 *B, bmm_stride sb,
    float beta, float *C, bmm_stride sc);

/* Plans, FFTW style: choose once, execute many times, from many threads at once. */
typedef struct bmm_plan bmm_plan;

enum {
    BMM_ESTIMATE = 0,          /* choose by a static rule, no timing */
    BMM_MEASURE = 1u << 0,     /* time the candidates here; record the winner in wisdom (nothing
                                  is recorded when nothing could be timed: batch 0, too large) */
    BMM_WISDOM_ONLY = 1u << 1, /* use wisdom or fail with BMM_EUNSUPPORTED */
    BMM_GENERIC_ONLY = 1u << 2, /* always the generic path (for comparisons and debugging) */
    BMM_GENERATE = 1u << 3,     /* generation on demand: see below */
    BMM_GENERATE_ASYNC = 1u << 4, /* the same in the background: the plan is made at once on the
                                  kernels there are, and switches to the class's own between
                                  executions once they are loaded (bmm_plan_kernel says which) */
    BMM_C_F32 = 1u << 5        /* C is float, A and B of the 16-bit dtype (BMM_BF16, BMM_F16):
                                  rounded once to float; BMM_EINVAL with BMM_F32 or BMM_F64 */
};
/* Generation on demand. With BMM_GENERATE (one-shot calls: the environment variable
 * BMM_GENERATE=1 or =sync), a plan whose shape no specialized kernel serves first gets kernels
 * made for its class alone (dtype, shape, layout, alpha/beta form; every vector ISA this CPU
 * runs, and portable C for products of at most 64 multiply-adds or without vectors): generated
 * by the generator compiled into the library, compiled by BMM_CC (else the compiler the
 * library was built with, else cc; no shell) within BMM_GENERATE_TIMEOUT_MS (default 10000),
 * and loaded. The object is cached in BMM_CACHE_DIR (else $XDG_CACHE_HOME/bmmgen, else
 * ~/.cache/bmmgen; created 0700, at most BMM_CACHE_MAX_MB, default 256, least recently used
 * evicted) with the choices BMM_MEASURE makes among its kernels: a later process loads both.
 * Nothing there is loaded unless it is the user's own, writable by no one else, not a
 * symlink, and whole. Any failure leaves the shape-generic kernels to serve the plan (a
 * BMM_VERBOSE note says why); it never fails the call. A failure the next process would
 * repeat (a compiler that failed or hung, a class with no form) is recorded in the cache so
 * that it falls back at once. Seq-first A with p = 1 (B with n = 1) is left to the
 * shape-generic kernels, which are as fast there. Prepared caches (BMM_CACHE_PATH, then
 * <libdir>/bmmgen/cache) are read first and need no compiler. A plan waits for the compiler;
 * one-shot calls with BMM_GENERATE=1 never do: the class is made by a background thread (one
 * per process, one class at a time, at low priority, no signals) while the shape-generic
 * kernels serve, and its calls take the new kernels once they are loaded (=sync waits). */
/* Deletes every generated object, its choices and failure records from the cache directory
 * (kernels loaded stay loaded); BMM_EIO when the directory is missing or refused. */
BMM_API bmm_status bmm_cache_clear(void);
/* Threads over the batch. A plan flag BMM_THREADS(n), 1 <= n <= BMM_THREADS_MAX, runs the
 * plan on at most n threads (and BMM_MEASURE times it so); without it, a plan takes the
 * process default: bmm_set_num_threads, else the environment variable BMM_NUM_THREADS, else
 * OpenMP's (OMP_NUM_THREADS, else every core the process may use). Fewer run where the work is
 * too small to pay for them (one per ~3 us of one-core work), none inside an OpenMP parallel
 * region or while another call of the process runs threads, and none in a child forked after
 * threads ran. The batch is cut into contiguous chunks computed by the serial call's kernel:
 * results are bitwise the same for any number of threads. Built without OpenMP: always one. */
#define BMM_THREADS_MAX 1024
#define BMM_THREADS(n) ((unsigned)(n) << 16)
/* The process default (0: back to BMM_NUM_THREADS or OpenMP's); BMM_EINVAL outside
 * [0, BMM_THREADS_MAX]. Plans made earlier keep their count. */
BMM_API bmm_status bmm_set_num_threads(int n);
/* The threads a call without BMM_THREADS asks for now (1 without OpenMP). */
BMM_API int bmm_get_num_threads(void);

/* Creates a plan for a problem; *plan is set to NULL on error. Wisdom (in memory, or from
 * the system file and the one named by BMM_WISDOM, imported at the first call) is consulted before anything
 * else. For BMM_F32 and the 16-bit dtypes, alpha and beta are rounded to float first (what the
 * kernel gets). */
BMM_API bmm_status bmm_plan_create(bmm_plan **plan, bmm_dtype dt,
    int64_t batch, int64_t n, int64_t m, int64_t p,
    bmm_stride sa, bmm_stride sb, bmm_stride sc,
    double alpha, double beta, unsigned flags);
/* Runs the plan on new operands of the planned shape and strides. */
BMM_API bmm_status bmm_execute(const bmm_plan *plan, const void *A, const void *B, void *C);
/* Name of the chosen kernel ("generic" for the generic path); "" for NULL. */
BMM_API const char *bmm_plan_kernel(const bmm_plan *plan);
/* How the plan reads the operands: "as given"; "transposed" (it runs C^T = B^T A^T, whose
 * operands are row-major); "A copied", "B copied", "A and B copied" (to row-major, a chunk of
 * the batch at a time, for the vector kernels), after "transposed, " when both; "B copied
 * transposed" (a row-major B whose rows would leave vector lanes idle, for dot products
 * along m); "A, B and C converted to f32" (a 16-bit dtype, on an f32 kernel; "A and B
 * converted to f32" with a float C of unit column stride, "A and B converted to f32, C
 * copied" with another); bf16's own kernels (AVX512_BF16) say what they pair or copy; "" for
 * NULL. */
BMM_API const char *bmm_plan_operands(const bmm_plan *plan);
/* The threads the plan's executions use (at most: see BMM_THREADS); 0 for NULL. */
BMM_API int bmm_plan_threads(const bmm_plan *plan);
BMM_API void bmm_plan_destroy(bmm_plan *plan);

/* Persisted tuning (FFTW's model). A file is versioned text naming the CPU it was made on
 * (vendor, family, model, widest ISA admitted; the stepping is recorded, and compared when
 * BMM_WISDOM_EXACT_CPU=1) and, per class of problems, the kernel chosen. A file that is
 * corrupt, truncated, not exactly the format or made on another CPU is rejected whole
 * (BMM_EFORMAT, the message says why) and the wisdom in memory is kept; entries naming kernels
 * this process does not have (another program's own) are passed over, the rest imported. A path
 * that is not a regular file is BMM_EIO. Export writes a private temporary file beside the
 * target (mkstemp), fsyncs it and renames it over the target: readers see the old file or the
 * new one, whole. */
BMM_API bmm_status bmm_wisdom_import_file(const char *path);
/* The same; *imported and *skipped (either may be NULL) count the entries taken and those
 * passed over. */
BMM_API bmm_status bmm_wisdom_import_file_counted(const char *path, int64_t *imported,
    int64_t *skipped);
/* The machine's wisdom: $BMM_SYSTEM_WISDOM, else <sysconfdir>/bmmgen/wisdom (/etc/bmmgen/wisdom
 * for an install to /usr). Imported at the first call of any kind, before $BMM_WISDOM; call
 * this to import it again (after it changed). BMM_EIO when there is none. */
BMM_API bmm_status bmm_import_system_wisdom(void);
BMM_API bmm_status bmm_wisdom_export_file(const char *path);
/* Forgets all wisdom and every cached plan choice. */
BMM_API void bmm_wisdom_forget(void);
/* A number that changes whenever a choice made earlier may no longer be the one a new plan
 * would make: a kernel table registered, wisdom imported, recorded or forgotten. A binding
 * that keeps plans for its own one-shot calls (Python's bmmgen does) compares it per call,
 * as the one-shot calls' own cache does. */
BMM_API unsigned bmm_config_generation(void);

/* More kernels: a table generated for other shapes (bmmgen.lua --name X writes bmm_table_X;
 * see bmm_kernel.h). Plans made after the call consider its kernels, and one-shot calls drop
 * their cached choices. Tables compiled with BMM_AUTO_REGISTER defined (as CMake's
 * bmm_generate_kernels does) register themselves when the program loads, on GCC and Clang.
 * The table must stay valid for the life of the process; registering it again does nothing.
 * BMM_EINVAL names what is malformed; BMM_EUNSUPPORTED: the table was generated for another
 * kernel ABI (bmm_kernel.h's BMM_KERNEL_ABI; regenerate it); BMM_ENOMEM past 63 extra tables.
 * (Tables made by BMM_GENERATE are outside both the count and the signature.)
 * Wisdom entries name their kernels: register before importing wisdom that names them (an
 * import passes over entries whose kernels are not here yet). */
struct bmm_kernel_table;
BMM_API bmm_status bmm_register_kernels(const struct bmm_kernel_table *table);

/* Every kernel the library holds, for listings (Python's bmmgen.kernels()): the built-in
 * table, then the registered ones, in their order. The i-th descriptor (bmm_kernel.h), or NULL
 * when i is out of range. */
struct bmm_kernel_desc;
BMM_API const struct bmm_kernel_desc *bmm_kernel_at(int64_t i);
/* 1 when this CPU (and BMM_ARCH) admit the kernel's ISA, so that plans may choose it. */
BMM_API int bmm_kernel_runs_here(const struct bmm_kernel_desc *k);

#ifdef __cplusplus
}
#endif

#endif
