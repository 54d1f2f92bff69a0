/* ondemand.c: generation on demand (BMM_GENERATE). A call class that no specialized kernel
 * serves gets kernels made for that class alone (its dtype, shape, layout and alpha/beta
 * form; every vector ISA this CPU runs, portable C for tiny products): the embedded
 * generator writes them (luagen.c), the machine's compiler builds a shared object (spawn.c),
 * the cache keeps it (cache.c), the registry takes its table, and the planner chooses among
 * old and new kernels as usual.
 *
 * An object is named by a hash of everything that shapes it: generator version and sources,
 * kernel ABI, the compiler and its version, the flags, the CPU and the class. It ends in a
 * trailer (magic, length, FNV-1a of the bytes before it): a truncated or altered file fails
 * the check, is deleted and made again. dlopen reaches it through the checked directory's
 * descriptor (/proc/self/fd/<dir>/<name>), never through a path that could be swapped. Measured choices for the class
 * are kept beside the object (<key>.wisdom), so a new process neither compiles nor times.
 *
 * Any failure (no Lua, no compiler, a compile error or timeout, a refused directory, a class
 * the generator rejects) leaves the shape-generic kernels to serve the call, with a
 * BMM_VERBOSE note; the call itself succeeds. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmm_internal.h"

#ifndef BMM_BUILD_CC
#define BMM_BUILD_CC "cc"
#endif

/* Fixed and part of the key: the build's own kernel flags (C99, -O3, PIC), shared. */
static const char *const FLAGS[] = { "-std=c99", "-O3", "-fPIC", "-shared" };
#define NFLAGS (sizeof FLAGS / sizeof FLAGS[0])
#define DEFAULT_TIMEOUT_MS 10000
static const char MAGIC[8] = { 'B', 'M', 'M', 'O', 'B', 'J', '1', '\n' };
#define TRAILER 24  /* magic, length, hash */

/* Classes tried in this process: made or loaded (table set), or failed (not tried again). */
typedef struct {
    uint64_t key;
    const bmm_kernel_table *table;
} attempt;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* fork while another thread generates (it holds the lock for the whole compile) would leave
 * the child a lock no thread of its own will release: its first generation would hang. So
 * fork waits for a generation in flight, and the child starts with the lock free. */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }
static void watch_fork(void) { pthread_atfork(before_fork, after_fork, after_fork); }
static attempt *attempts;
static size_t nattempts, cap_attempts;
/* The compiler's identity, asked once per compiler (its --version costs a process); one that
 * failed is not asked again. The generator's hash, computed once. */
static char cc_seen[BMM__PATH_MAX], cc_ident[256], cc_bad[BMM__PATH_MAX];
static uint64_t generator_hash;

static _Thread_local bmm__generate_stats last;

void bmm__generate_last(bmm__generate_stats *s)
{
    *s = last;
}

int bmm__generate_env(void)
{
    const char *v = getenv("BMM_GENERATE");
    return v && strcmp(v, "1") == 0;
}

static long timeout_ms(void)
{
    const char *v = getenv("BMM_GENERATE_TIMEOUT_MS");
    char *end;
    long ms = v && *v ? strtol(v, &end, 10) : -1;
    return ms >= 1 && ms <= 3600000 && !*end ? ms : DEFAULT_TIMEOUT_MS;
}

/* The compiler: BMM_CC, else the one the library was built with if it is there, else cc. */
static const char *compiler(void)
{
    const char *cc = getenv("BMM_CC");
    if (cc && *cc)
        return cc;
    if (BMM_BUILD_CC[0] == '/' && access(BMM_BUILD_CC, X_OK) == 0)
        return BMM_BUILD_CC;
    return "cc";
}

/* ---- the class ---- */

/* The generator's command lines for class c, one per ISA (argv[0] is not the program: the
 * generator takes the arguments only): each ISA's kernels are generated and compiled on
 * their own (side by side), then linked into one object holding a table per ISA. The layout:
 * bf when every operand has packed rows, else sf (unit column strides); none fits a
 * transposed or negative-stride operand. */
typedef struct {
    char buf[6][64];
    int prefetch;  /* the _pf twins too: seq-first and a streaming batch */
    const char *isas[BMM_ISA_COUNT];
    int nisa;
    uint64_t key;
    const char *argv[24];
    int argc;
    char text[512];  /* the class, one space apart: for the key and the notes */
} gen_args;

/* Points g->argv at ISA i's command line (table bmm_table_od_<key>_<isa>). */
static void isa_args(gen_args *g, int i)
{
    snprintf(g->buf[4], 64, "%s", g->isas[i]);
    snprintf(g->buf[5], 64, "od_%016llx_%s", (unsigned long long)g->key, g->isas[i]);
    const char *v[] = { "--shapes", g->buf[0], "--dtypes", g->buf[1], "--layouts", g->buf[2],
        "--scalars", g->buf[3], "--isas", g->buf[4], "--anyshape", "no", "--name", g->buf[5],
        "--templates", "templates", "--runtime", "runtime", "--out", "ondemand",
        "--prefetch", g->prefetch ? "yes" : "no" };
    _Static_assert(sizeof v <= sizeof g->argv, "gen_args.argv holds every argument");
    g->argc = (int)(sizeof v / sizeof v[0]);
    memcpy(g->argv, v, sizeof v);
}

static const char *class_args(const bmm_call *c, gen_args *g)
{
    static const char *const DTYPE[] = BMM_DTYPE_WORDS, *const LAYOUT[] = BMM_LAYOUT_WORDS,
                             *const ISA[] = BMM_ISA_WORDS;
    const bmm_call_key *q = &c->key;
    const int layout = (c->fits >> BMM_LAYOUT_BF) & 1u ? BMM_LAYOUT_BF
        : (c->fits >> BMM_LAYOUT_SF) & 1u ? BMM_LAYOUT_SF : 0;
    if (!layout)
        return "no generated layout fits its strides (a column stride other than 1, or a "
               "negative stride)";
    if (q->n > BMM_GEN_MAX_DIM || q->m > BMM_GEN_MAX_DIM || q->p > BMM_GEN_MAX_DIM)
        return "a dimension is past the generator's limit (BMM_GEN_MAX_DIM)";
    /* bmm_select.h's exception to the rule, measured again here: with A's rows far apart
     * (seq-first) and p = 1, or B's and n = 1, the shape-generic dot and row-vector kernels
     * are as fast as generated ones (1.00x on all 8 such classes of the unseen shapes, Zen 4),
     * whose compile took up to 4.5 s */
    if ((q->p == 1 && q->layout[0] == BMM_LAYOUT_SF) || (q->n == 1 && q->layout[1] == BMM_LAYOUT_SF))
        return "seq-first rows of A with p = 1 (or of B with n = 1): the shape-generic kernels "
               "are as fast as specialized ones there";
    int isa = bmm__cpu_max_isa();
    snprintf(g->buf[0], 64, "%lldx%lldx%lld", (long long)q->n, (long long)q->m, (long long)q->p);
    snprintf(g->buf[1], 64, "%s", DTYPE[q->dtype]);
    snprintf(g->buf[2], 64, "%s", LAYOUT[layout]);
    snprintf(g->buf[3], 64, "%s", bmm__scalar_forms[q->scalars].word);
    /* portable C only where it can win: no vectors here, or a tiny product (the static rule
     * takes it up to 8 multiply-adds); elsewhere it would only add to the compile (~40%) */
    g->nisa = 0;
    if (isa == BMM_ISA_C99 || bmm__volume_at_most(q->n, q->m, q->p, 64))
        g->isas[g->nisa++] = ISA[BMM_ISA_C99];
    for (int v = BMM_ISA_C99 + 1; v <= isa; v++)  /* every vector ISA the CPU admits */
        g->isas[g->nisa++] = ISA[v];
    /* The prefetching twins only where they can win: a seq-first batch too large for the
     * cache. In cache they never do, and they double a seq-first class's compile. */
    g->prefetch = layout == BMM_LAYOUT_SF && q->streaming && isa > BMM_ISA_C99;  /* vector forms only */
    int n = snprintf(g->text, sizeof g->text, "%s %s %s %s %s", g->buf[1], g->buf[0], g->buf[2],
        g->buf[3], g->prefetch ? "pf " : "");
    for (int i = 0; i < g->nisa && n > 0 && (size_t)n < sizeof g->text; i++)
        n += snprintf(g->text + n, sizeof g->text - (size_t)n, "%s%s", i ? "," : "", g->isas[i]);
    return NULL;
}

/* The compiler's first line of --version, or NULL and why. Called with the lock held. */
static const char *compiler_ident(const bmm__cache *dir, const char *cc, char *err, size_t errlen)
{
    if (strcmp(cc, cc_seen) == 0 && cc_ident[0])
        return cc_ident;
    if (strcmp(cc, cc_bad) == 0) {
        snprintf(err, errlen, "%s failed before in this process", cc);
        return NULL;
    }
    char log[2 * BMM__PATH_MAX];
    snprintf(log, sizeof log, "%s/.tmp-%ld-ccversion", dir->path, (long)getpid());
    const char *argv[] = { cc, "--version", NULL };
    int rc = bmm__spawn(argv, log, timeout_ms(), err, errlen);
    FILE *f = rc == 0 ? fopen(log, "r") : NULL;
    char line[256] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    unlink(log);
    if (rc != 0) {
        snprintf(cc_bad, sizeof cc_bad, "%s", cc);
        return NULL;
    }
    line[strcspn(line, "\n")] = '\0';
    if (!line[0]) {
        snprintf(err, errlen, "%s --version printed nothing", cc);
        return NULL;
    }
    snprintf(cc_seen, sizeof cc_seen, "%s", cc);
    snprintf(cc_ident, sizeof cc_ident, "%s", line);
    return cc_ident;
}

/* The object's key: every input that changes the object. Called with the lock held. */
static uint64_t object_key(const char *cc, const char *ident, const char *class_text)
{
    char text[2048];
    if (!generator_hash)
        generator_hash = bmm__generator_hash();
    int n = snprintf(text, sizeof text, "bmmgen %s abi %d generator %016llx cc %s (%s) cpu %s "
        "class %s flags", BMM_VERSION, BMM_KERNEL_ABI,
        (unsigned long long)generator_hash, cc, ident, bmm__cpu_signature(), class_text);
    uint64_t h = bmm__fnv1a(BMM__FNV_BASIS, text, n > 0 ? (size_t)n : 0);
    for (size_t i = 0; i < NFLAGS; i++)
        h = bmm__fnv1a(h, FLAGS[i], strlen(FLAGS[i]) + 1);
    return h;
}

/* ---- loading ---- */

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int trailer_ok(const unsigned char *b, size_t n)
{
    if (n < TRAILER + 64)
        return 0;
    const unsigned char *t = b + n - TRAILER;
    return memcmp(t, MAGIC, 8) == 0 && get64(t + 8) == n - TRAILER
        && get64(t + 16) == bmm__fnv1a(BMM__FNV_BASIS, b, n - TRAILER);
}

typedef enum { LOADED, MISSING, BROKEN } load_result;

/* Loads <key>.so: checked (owner, mode, no symlink, trailer), mapped through its descriptor,
 * its tables (one per ISA of g, at least one) of the right ABI registered; *kernels counts
 * theirs. BROKEN: the file is deleted (the caller makes it again). */
static load_result load(const bmm__cache *dir, const gen_args *g, const bmm_kernel_table **out,
    int *kernels, char *err, size_t errlen)
{
    char name[32], sym[80], fdpath[2 * BMM__PATH_MAX];
    snprintf(name, sizeof name, "%016llx.so", (unsigned long long)g->key);
    int fd = bmm__cache_open_file(dir, name, err, errlen);
    if (fd < 0)
        return errno == ENOENT ? MISSING : (bmm__cache_remove(dir, name), BROKEN);
    unsigned char *b;
    size_t n;
    const char *bad = NULL;
    if (bmm__cache_read_all(fd, &b, &n) != 0 || !trailer_ok(b, n))
        bad = "truncated or altered (its trailer does not match)";
    free(b);
    void *so = NULL;
    const bmm_kernel_table *t[BMM_ISA_COUNT];
    int nt = 0;
    if (!bad) {
        /* through the checked directory's descriptor, by the object's own name (dlopen takes
         * an already loaded name for the same object: "/proc/self/fd/<file>" would be one) */
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d/%s", dir->fd, name);
        if (access(fdpath, R_OK) != 0)  /* no /proc: the path, checked above */
            snprintf(fdpath, sizeof fdpath, "%s/%s", dir->path, name);
        if (!(so = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL)))
            bad = "not a loadable shared object";
        for (int i = 0; so && !bad && i < g->nisa; i++) {
            snprintf(sym, sizeof sym, "bmm_table_od_%016llx_%s", (unsigned long long)g->key,
                g->isas[i]);
            const bmm_kernel_table *x = (const bmm_kernel_table *)dlsym(so, sym);
            if (x && x->abi != BMM_KERNEL_ABI)
                bad = "a kernel table of it has another kernel ABI";
            else if (x)
                t[nt++] = x;
        }
        if (!bad && so && !nt)
            bad = "its kernel tables are missing";
        for (int i = 0; !bad && i < nt; i++)
            if (bmm__register_generated(t[i]) != BMM_OK)
                bad = bmm_last_error();
    }
    if (bad) {
        snprintf(err, errlen, "%s/%s: %s", dir->path, name, bad);
        if (so && !nt)
            dlclose(so);  /* nothing of it registered (else it must stay mapped) */
        bmm__cache_remove(dir, name);
        close(fd);
        return BROKEN;
    }
    bmm__cache_touch(fd);
    close(fd);
    *out = t[0];
    *kernels = 0;
    for (int i = 0; i < nt; i++)
        *kernels += (int)bmm__table_kernel_count(t[i]);
    return LOADED;  /* the object stays mapped for the life of the process */
}

/* ---- making ---- */

/* Writes text to dir/rel (creating dir and rel's folder). */
static int write_file(const char *dir, const char *rel, const void *text, size_t n)
{
    char path[2 * BMM__PATH_MAX];
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    if (slash && slash > path + strlen(dir)) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(text, 1, n, f) == n;
    return (f && fclose(f) == 0) && ok;
}

/* Removes the build folder: flat, but for a folder per ISA holding kernels/. */
static void remove_tree(const char *dir, const gen_args *g, bmm__gen_files *files)
{
    char path[2 * BMM__PATH_MAX + 64];
    for (int i = 0; i < g->nisa; i++) {
        for (size_t j = 0; j < files[i].n; j++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, g->isas[i], files[i].v[j].path);
            unlink(path);
        }
        const char *extra[] = { "k.o", "log", "kernels", "" };  /* "": the ISA's folder */
        for (size_t j = 0; j < sizeof extra / sizeof extra[0]; j++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, g->isas[i], extra[j]);
            if (unlink(path) != 0)
                rmdir(path);
        }
    }
    for (size_t i = 0; i < bmm__embedded_count; i++) {  /* the headers write_sources wrote */
        const bmm__embedded_file *f = &bmm__embedded_files[i];
        if (strncmp(f->path, "runtime/", 8) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, f->path + 8);
            unlink(path);
        }
    }
    const char *extra[] = { "out.so", "log" };
    for (size_t j = 0; j < sizeof extra / sizeof extra[0]; j++) {
        snprintf(path, sizeof path, "%s/%s", dir, extra[j]);
        unlink(path);
    }
    rmdir(dir);
}

/* err += ": " and the first line of the log at dir/log. */
static void add_log_head(const char *dir, char *err, size_t errlen)
{
    char path[2 * BMM__PATH_MAX], head[200] = "";
    snprintf(path, sizeof path, "%s/log", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(head, (int)sizeof head, f))
            head[0] = '\0';
        fclose(f);
    }
    head[strcspn(head, "\n")] = '\0';
    size_t l = strlen(err);
    if (head[0] && l < errlen)
        snprintf(err + l, errlen - l, ": %s", head);
}

/* The compiler's command: cc, the flags, then the words given (NULL-ended). */
static const char **command(const char **argv, const char *cc, const char *const *words)
{
    size_t n = 0;
    argv[n++] = cc;
    for (size_t i = 0; i < NFLAGS; i++)
        argv[n++] = FLAGS[i];
    while (*words)
        argv[n++] = *words++;
    argv[n] = NULL;
    return argv;
}

/* Generates each ISA's sources into build/<isa>/. 0 kernels: nothing to compile. */
static bmm_status generate_all(gen_args *g, const char *build, bmm__gen_files *files,
    int *nkernel_files, char *err, size_t errlen)
{
    int ok = 1;
    *nkernel_files = 0;
    for (int i = 0; i < g->nisa; i++) {
        char sub[2 * BMM__PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", build, g->isas[i]);
        isa_args(g, i);
        bmm_status st = bmm__lua_generate(g->argc, g->argv, &files[i], err, errlen);
        if (st != BMM_OK)
            return st;
        for (size_t j = 0; j < files[i].n; j++) {
            const char *p = files[i].v[j].path;
            size_t len = strlen(p);
            if (len > 2 && (strcmp(p + len - 2, ".c") == 0 || strcmp(p + len - 2, ".h") == 0))
                ok &= write_file(sub, p, files[i].v[j].text, files[i].v[j].size);
            *nkernel_files += strncmp(p, "kernels/", 8) == 0;
        }
    }
    for (size_t i = 0; i < bmm__embedded_count; i++) {  /* the headers the kernels include */
        const bmm__embedded_file *f = &bmm__embedded_files[i];
        if (strncmp(f->path, "runtime/", 8) == 0)
            ok &= write_file(build, f->path + 8, f->text, f->size);
    }
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write the generated sources", build);
        return BMM_EIO;
    }
    return BMM_OK;
}

/* Compiles each ISA's kernel file side by side (one process each, one deadline), then links
 * them with the tables into build/out.so. *lasting: the compiler ran and failed (an exit
 * status, a signal, the time limit), which another process would meet again. */
static bmm_status compile_all(const gen_args *g, const char *build, const bmm__gen_files *files,
    const char *cc, int *lasting, char *err, size_t errlen)
{
    enum { SUB = BMM__PATH_MAX + 64, PATH = SUB + 256 };  /* build/<isa>, then files in it */
    static const char *const NO_WORDS[] = { NULL };
    char src[BMM_ISA_COUNT][PATH], obj[BMM_ISA_COUNT][PATH], log[BMM_ISA_COUNT][PATH];
    char table[BMM_ISA_COUNT][PATH], inc[BMM_ISA_COUNT + 1][PATH], out[PATH], sub[SUB];
    const char *argv[BMM_ISA_COUNT][NFLAGS + 8], *link[NFLAGS + 4 * BMM_ISA_COUNT + 8];
    int pid[BMM_ISA_COUNT], have[BMM_ISA_COUNT] = { 0 };
    long limit = timeout_ms();
    double deadline = bmm__spawn_deadline(limit);
    bmm_status st = BMM_OK;
    snprintf(inc[BMM_ISA_COUNT], PATH, "-I%s", build);
    for (int i = 0; i < g->nisa; i++) {
        snprintf(sub, SUB, "%s/%s", build, g->isas[i]);
        snprintf(inc[i], PATH, "-I%s", sub);
        snprintf(obj[i], PATH, "%s/k.o", sub);
        snprintf(log[i], PATH, "%s/log", sub);
        for (size_t j = 0; j < files[i].n; j++) {
            const char *p = files[i].v[j].path;
            if (strncmp(p, "kernels/", 8) == 0)
                snprintf(src[i], PATH, "%s/%s", sub, p), have[i] = 1;
            else if (strncmp(p, "bmm_table_", 10) == 0 && p[strlen(p) - 1] == 'c')
                snprintf(table[i], PATH, "%s/%s", sub, p);
        }
        pid[i] = -1;
        if (!have[i])
            continue;
        const char *words[] = { "-c", inc[BMM_ISA_COUNT], src[i], "-o", obj[i], NULL };
        pid[i] = bmm__spawn_start(command(argv[i], cc, words), log[i], err, errlen);
        if (pid[i] < 0)
            st = BMM_EUNSUPPORTED;
    }
    for (int i = 0; i < g->nisa; i++) {  /* every process is waited for, whatever happened */
        char e2[512];
        snprintf(sub, SUB, "%s/%s", build, g->isas[i]);
        if (pid[i] >= 0 && bmm__spawn_wait(pid[i], cc, deadline, limit, e2, sizeof e2) != 0
            && st == BMM_OK) {
            snprintf(err, errlen, "%s", e2);
            add_log_head(sub, err, errlen);
            st = BMM_EUNSUPPORTED;
            *lasting = 1;
        }
    }
    if (st != BMM_OK)
        return st;
    size_t n = 0;
    command(link, cc, NO_WORDS);
    while (link[n])
        n++;
    link[n++] = inc[BMM_ISA_COUNT];
    for (int i = 0; i < g->nisa; i++)
        if (have[i]) {
            link[n++] = inc[i];
            link[n++] = obj[i];
            link[n++] = table[i];
        }
    snprintf(out, PATH, "%s/out.so", build);
    link[n++] = "-o";
    link[n++] = out;
    link[n] = NULL;
    snprintf(sub, SUB, "%s/log", build);
    int lpid = bmm__spawn_start(link, sub, err, errlen);
    if (lpid < 0)
        return BMM_EUNSUPPORTED;
    if (bmm__spawn_wait(lpid, cc, deadline, limit, err, errlen) != 0) {
        add_log_head(build, err, errlen);
        *lasting = 1;
        return BMM_EUNSUPPORTED;
    }
    return BMM_OK;
}

/* Generates, compiles and publishes <key>.so. *lasting: it failed in a way another process
 * would repeat (the generator has nothing for the class, the compiler failed or hung). */
static bmm_status make(const bmm__cache *dir, gen_args *g, const char *cc, int *lasting,
    char *err, size_t errlen)
{
    bmm__gen_files files[BMM_ISA_COUNT];
    memset(files, 0, sizeof files);
    char build[BMM__PATH_MAX + 32];
    snprintf(build, sizeof build, "%s/build-XXXXXX", dir->path);
    if (!mkdtemp(build)) {
        snprintf(err, errlen, "%s: cannot make a build folder: %s", dir->path, strerror(errno));
        return BMM_EIO;
    }
    int nkernel_files;
    double t0 = bmm__now_ms();
    bmm_status st = generate_all(g, build, files, &nkernel_files, err, errlen);
    last.generate_ms = bmm__now_ms() - t0;
    *lasting = st == BMM_EINVAL;  /* the generator refused the class */
    if (st == BMM_OK && !nkernel_files) {  /* e.g. p = 1, long rows: only the looping gdot fits */
        snprintf(err, errlen, "the generator has no specialized form for this class within its "
            "unroll budget");
        st = BMM_EUNSUPPORTED;
        *lasting = 1;
    }
    t0 = bmm__now_ms();
    if (st == BMM_OK)
        st = compile_all(g, build, files, cc, lasting, err, errlen);
    last.compile_ms = bmm__now_ms() - t0;
    if (st == BMM_OK) {  /* the object and its trailer, published whole */
        char out[BMM__PATH_MAX + 64], name[32];
        unsigned char *b = NULL, *nb;
        size_t n = 0;
        snprintf(out, sizeof out, "%s/out.so", build);
        int fd = open(out, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || bmm__cache_read_all(fd, &b, &n) != 0 || !(nb = realloc(b, n + TRAILER))) {
            snprintf(err, errlen, "%s: cannot read the compiled object", out);
            st = BMM_EIO;
        } else {
            b = nb;
            memcpy(b + n, MAGIC, 8);
            put64(b + n + 8, n);
            put64(b + n + 16, bmm__fnv1a(BMM__FNV_BASIS, b, n));
            snprintf(name, sizeof name, "%016llx.so", (unsigned long long)g->key);
            st = bmm__cache_publish(dir, name, b, n + TRAILER, err, errlen);
        }
        if (fd >= 0)
            close(fd);
        free(b);
    }
    remove_tree(build, g, files);
    for (int i = 0; i < g->nisa; i++)
        bmm__gen_files_free(&files[i]);
    return st;
}

/* ---- the class's measured choices, beside its object ---- */

static const char *const REGIME[] = BMM_REGIME_WORDS;
static const char *const THREADS[] = BMM_THREADS_WORDS;
#define WISDOM_HEAD "bmmgen-ondemand-wisdom 1\n"

/* The name of a file beside the object: <key><suffix>. */
static void name_beside(uint64_t key, const char *suffix, char name[40])
{
    snprintf(name, 40, "%016llx%.20s", (unsigned long long)key, suffix);
}

/* The text of <key><suffix> (name: its name, for notes), checked as every file of the cache
 * is; NULL when it is not there or refused. free() it. */
static char *read_beside(const bmm__cache *dir, uint64_t key, const char *suffix, char name[40])
{
    char err[256];
    name_beside(key, suffix, name);
    int fd = bmm__cache_open_file(dir, name, err, sizeof err);
    unsigned char *b;
    size_t n;
    if (fd < 0)
        return NULL;
    int rd = bmm__cache_read_all(fd, &b, &n);
    close(fd);
    if (rd != 0)
        return NULL;
    b[n] = '\0';
    return (char *)b;
}

/* Records the lines of <key>.wisdom that name a kernel serving c's class in its regime and
 * thread class; a line that does not is skipped. */
static void import_choices(const bmm__cache *dir, uint64_t key, const bmm_call *c)
{
    char name[40];
    char *text = read_beside(dir, key, ".wisdom", name);
    if (!text)
        return;
    if (strncmp(text, WISDOM_HEAD, strlen(WISDOM_HEAD)) != 0) {
        bmm__note("%s/%s: not ondemand wisdom; deleted", dir->path, name);
        bmm__cache_remove(dir, name);
        free(text);
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(text + strlen(WISDOM_HEAD), "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char r[16], t[16], k[256];
        if (sscanf(line, "%15s %15s %255s", r, t, k) != 3)
            continue;
        bmm_call cc = *c;
        cc.key.streaming = strcmp(r, REGIME[1]) == 0;
        cc.key.threads = strcmp(t, THREADS[1]) == 0;
        if ((!cc.key.streaming && strcmp(r, REGIME[0])) || (!cc.key.threads && strcmp(t, THREADS[0])))
            continue;
        const bmm_kernel_desc *kd = strcmp(k, "generic") ? bmm__kernel_by_name(k) : NULL;
        if (strcmp(k, "generic") && (!kd || !bmm__kernel_applies(kd, &cc)))
            continue;
        bmm__wisdom_record(&cc, kd);
    }
    free(text);
}

/* ---- a class that failed, beside where its object would be ---- */

/* <key>.failed: a failure another process would meet again, so it does not pay for it again
 * (a hanging compiler would cost each one the time limit). The limit and the time are
 * recorded: a process with a longer BMM_GENERATE_TIMEOUT_MS tries again, and so does any after
 * a day (a compiler killed on a loaded machine may well succeed later). bmm_cache_clear()
 * forgets it. */
#define FAILED_HEAD "bmmgen-ondemand-failed 1\n"
#define FAILED_FOR_S 86400

static void record_failure(const bmm__cache *dir, uint64_t key, const char *why)
{
    char name[40], text[2400], err[256];
    name_beside(key, ".failed", name);
    int n = snprintf(text, sizeof text, FAILED_HEAD "%ld\n%lld\n%.2000s\n", timeout_ms(),
        (long long)time(NULL), why);
    if (n > 0 && bmm__cache_publish(dir, name, text, strlen(text), err, sizeof err) != BMM_OK)
        bmm__note("generation cache: %s", err);
}

static void forget_failure(const bmm__cache *dir, uint64_t key)
{
    char name[40];
    name_beside(key, ".failed", name);
    bmm__cache_remove(dir, name);
}

/* 1 and why in err if an earlier process recorded a failure this one would repeat. */
static int failed_earlier(const bmm__cache *dir, uint64_t key, char *err, size_t errlen)
{
    char name[40];
    char *text = read_beside(dir, key, ".failed", name), *end = text;
    if (!text)
        return 0;
    long limit = -1;
    long long when = -1;
    if (strncmp(text, FAILED_HEAD, strlen(FAILED_HEAD)) == 0)
        limit = strtol(text + strlen(FAILED_HEAD), &end, 10);
    if (limit >= 1 && *end == '\n')
        when = strtoll(end + 1, &end, 10);
    if (when < 0 || *end != '\n') {
        bmm__note("%s/%s: not a failure record; deleted", dir->path, name);
        bmm__cache_remove(dir, name);
        free(text);
        return 0;
    }
    long long age = (long long)time(NULL) - when;
    int again = timeout_ms() <= limit && age >= 0 && age < FAILED_FOR_S;
    if (again) {
        end[1 + strcspn(end + 1, "\n")] = '\0';
        snprintf(err, errlen, "an earlier process failed (%s) and nothing has changed since; "
            "bmm_cache_clear() or bmm-tune --clear-cache forgets it", end + 1);
    }
    free(text);
    return again;
}

/* ---- the entry points ---- */

static attempt *find_attempt(uint64_t key)
{
    for (size_t i = 0; i < nattempts; i++)
        if (attempts[i].key == key)
            return &attempts[i];
    return NULL;
}

static void add_attempt(uint64_t key, const bmm_kernel_table *t)
{
    if (nattempts == cap_attempts) {
        size_t nc = cap_attempts ? 2 * cap_attempts : 16;
        attempt *v = realloc(attempts, nc * sizeof *v);
        if (!v)
            return;  /* forgetting only means trying again */
        attempts = v, cap_attempts = nc;
    }
    attempts[nattempts++] = (attempt){ key, t };
}

/* A specialized kernel (shape compiled in) serves c on this CPU. */
static int has_specialized(const bmm_call *c)
{
    const bmm_kernel_desc *v[256];
    size_t n = bmm__candidates(c, v, 256);
    for (size_t i = 0; i < n && i < 256; i++)
        if (bmm__specialized(v[i]))
            return 1;
    return 0;
}

/* The cache directory and the class's key; 0 and a note when generation cannot run. */
static int locate(const bmm_call *c, bmm__cache *dir, gen_args *g, uint64_t *key, char *err,
    size_t errlen)
{
    const char *why = class_args(c, g);
    if (why) {
        snprintf(err, errlen, "%s", why);
        snprintf(last.source, sizeof last.source, "not generated");
        return 0;
    }
    if (bmm__cache_open(dir, err, errlen) != BMM_OK)
        return 0;
    const char *cc = compiler(), *ident = compiler_ident(dir, cc, err, errlen);
    if (!ident) {
        bmm__cache_close(dir);
        return 0;
    }
    *key = g->key = object_key(cc, ident, g->text);  /* the tables' names carry it */
    return 1;
}

int bmm__generate(const bmm_call *c)
{
    memset(&last, 0, sizeof last);
    if (has_specialized(c))
        return 0;
    char err[2048] = "";
    bmm__cache dir;
    gen_args g;
    uint64_t key = 0;
    const bmm_kernel_table *t = NULL;
    int kernels = 0;
    pthread_once(&fork_once, watch_fork);
    pthread_mutex_lock(&lock);  /* one class at a time in the process; the lock file across */
    int usable = locate(c, &dir, &g, &key, err, sizeof err);
    attempt *a = usable ? find_attempt(key) : NULL;
    if (a) {
        t = a->table;
        snprintf(last.source, sizeof last.source, "%s", t ? "loaded before" : "failed before");
        if (!t)
            snprintf(err, sizeof err, "it failed earlier in this process (not tried again)");
    } else if (usable) {
        double t0 = bmm__now_ms();
        load_result r = load(&dir, &g, &t, &kernels, err, sizeof err);
        if (r == BROKEN)
            bmm__note("generation cache: %s; making it again", err);
        if (r != LOADED) {
            int lk = bmm__cache_lock(&dir);
            r = load(&dir, &g, &t, &kernels, err, sizeof err);  /* another process may have made it */
            if (r != LOADED && failed_earlier(&dir, key, err, sizeof err)) {
                snprintf(last.source, sizeof last.source, "failed before");
                r = BROKEN;
            } else if (r != LOADED) {
                int lasting = 0;
                bmm_status st = make(&dir, &g, compiler(), &lasting, err, sizeof err);
                t0 = bmm__now_ms();
                r = st == BMM_OK ? load(&dir, &g, &t, &kernels, err, sizeof err) : BROKEN;
                snprintf(last.source, sizeof last.source, "compiled");
                if (st == BMM_OK) {
                    forget_failure(&dir, key);
                    bmm__cache_evict(&dir, bmm__cache_max_bytes(), NULL);
                } else if (lasting) {
                    record_failure(&dir, key, err);
                }
            } else {
                snprintf(last.source, sizeof last.source, "cache");
            }
            bmm__cache_unlock(lk);
        } else {
            snprintf(last.source, sizeof last.source, "cache");
        }
        last.load_ms = bmm__now_ms() - t0;
        if (r == LOADED) {  /* choices made without these kernels are stale: the cache's win */
            for (int regime = 0; regime < 2; regime++)
                for (int threads = 0; threads < 2; threads++) {
                    bmm_call cc = *c;
                    cc.key.streaming = regime, cc.key.threads = threads;
                    bmm__wisdom_drop(&cc);
                }
            import_choices(&dir, key, c);
        }
        else
            t = NULL;
        add_attempt(key, t);
    }
    if (usable)
        bmm__cache_close(&dir);
    pthread_mutex_unlock(&lock);
    if (!t) {
        if (strcmp(last.source, "not generated") != 0 && strcmp(last.source, "failed before") != 0)
            snprintf(last.source, sizeof last.source, "failed");
        if (!err[0])
            snprintf(err, sizeof err, "(no reason given)");
        size_t l = strlen(err) < sizeof last.why ? strlen(err) : sizeof last.why - 1;
        memcpy(last.why, err, l);
        last.why[l] = 0;
        bmm__note("generation on demand for %s %lldx%lldx%lld: %s, shape-generic kernels "
            "serve it: %s", c->key.dtype == BMM_F32 ? "f32" : "f64", (long long)c->key.n,
            (long long)c->key.m, (long long)c->key.p, last.source, err);
        return 0;
    }
    last.kernels = kernels;
    bmm__note("generation on demand: %s (%d kernels, key %016llx, %s): generate %.1f ms, "
        "compile %.1f ms, load %.2f ms", g.text, last.kernels, (unsigned long long)key,
        last.source, last.generate_ms, last.compile_ms, last.load_ms);
    return 1;
}

void bmm__generate_remember(const bmm_call *c, const bmm_kernel_desc *k)
{
    char err[2048], name[40];
    bmm__cache dir;
    gen_args g;
    uint64_t key;
    pthread_mutex_lock(&lock);
    if (!locate(c, &dir, &g, &key, err, sizeof err)) {
        pthread_mutex_unlock(&lock);
        return;
    }
    attempt *a = find_attempt(key);
    if (a && a->table) {
        snprintf(name, sizeof name, "%016llx.wisdom", (unsigned long long)key);
        int lk = bmm__cache_lock(&dir);
        char text[8192];
        size_t len = (size_t)snprintf(text, sizeof text, "%s", WISDOM_HEAD);
        int fd = bmm__cache_open_file(&dir, name, err, sizeof err);
        unsigned char *b = NULL;
        size_t n = 0;
        char mine[300];
        snprintf(mine, sizeof mine, "%s %s ", REGIME[c->key.streaming], THREADS[c->key.threads]);
        if (fd >= 0 && bmm__cache_read_all(fd, &b, &n) == 0
            && n > strlen(WISDOM_HEAD) && n < sizeof text / 2) {
            b[n] = '\0';
            char *save = NULL;  /* keep the other regimes' lines */
            for (char *line = strtok_r((char *)b + strlen(WISDOM_HEAD), "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save))
                if (strncmp(line, mine, strlen(mine)) != 0)
                    len += (size_t)snprintf(text + len, sizeof text - len, "%s\n", line);
        }
        if (fd >= 0)
            close(fd);
        free(b);
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%s\n", mine,
            k ? k->name : "generic");
        if (len < sizeof text && bmm__cache_publish(&dir, name, text, len, err, sizeof err) != BMM_OK)
            bmm__note("generation cache: %s", err);
        bmm__cache_unlock(lk);
    }
    bmm__cache_close(&dir);
    pthread_mutex_unlock(&lock);
}

bmm_status bmm_cache_clear(void)
{
    char err[1024];
    bmm__cache dir;
    pthread_mutex_lock(&lock);
    bmm_status st = bmm__cache_open(&dir, err, sizeof err);
    if (st == BMM_OK) {
        int lk = bmm__cache_lock(&dir);
        size_t n = bmm__cache_clear_all(&dir);
        bmm__cache_unlock(lk);
        bmm__note("generation cache %s: %zu files deleted", dir.path, n);
        bmm__cache_close(&dir);
    }
    pthread_mutex_unlock(&lock);
    return st == BMM_OK ? BMM_OK : bmm__fail(st, "%s", err);
}
