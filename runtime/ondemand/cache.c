/* cache.c: the on-disk cache of generated kernels (generation on demand). One directory:
 * BMM_CACHE_DIR, else $XDG_CACHE_HOME/bmmgen, else $HOME/.cache/bmmgen, created 0700.
 *
 * Nothing in it is trusted unchecked: the directory and every file read from it must be ours
 * (owner = effective uid), writable by no one else, regular (a FIFO would hang a read), and
 * not a symlink (O_NOFOLLOW). Its path is opened once; from then on everything goes through
 * its descriptor (openat and friends, and the compiler runs inside a private build folder
 * reached the same way: spawn.c), so a path swapped after the check, here or in any folder
 * above, is never followed. Files are published whole: written under a private temporary
 * name, fsynced, renamed into place, the directory fsynced. One lock file serializes the
 * processes that make kernels in it. A size cap evicts the least recently used objects (a
 * load touches its object's time).
 *
 * It touches only what it made: a CACHEDIR.TAG marks the directory as bmmgen's (written when
 * the directory holds nothing else), and eviction and clearing delete only names of its own
 * (<16 hex>.so, .wisdom, .failed, .gch; .bmmgen-tmp-*; bmmgen-build-* folders). A directory holding
 * anything else and no tag is refused: it is not a cache. */
#define _GNU_SOURCE  /* O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC with C11 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmm_internal.h"

#define DEFAULT_MAX_MB 256
#define TAG "CACHEDIR.TAG"
#define TAG_TEXT "Signature: 8a477f597d28d172789f06886806bc55\n" \
    "# This file is a cache directory tag created by bmmgen (generation on demand).\n" \
    "# For information about cache directory tags, see: https://bford.info/cachedir/\n"
#define TMP_PREFIX ".bmmgen-tmp-"
#define BUILD_PREFIX "bmmgen-build-"

/* The directory's path, or 0 when neither BMM_CACHE_DIR, XDG_CACHE_HOME nor HOME says (or
 * a setuid or setgid process: env.c). */
static int cache_path(char *out, size_t len)
{
    const char *d = bmm__env_path("BMM_CACHE_DIR"), *x = bmm__env_path("XDG_CACHE_HOME"),
               *h = bmm__env_path("HOME");
    int n;
    if (d && *d)
        n = snprintf(out, len, "%s", d);
    else if (x && *x == '/')
        n = snprintf(out, len, "%s/bmmgen", x);
    else if (h && *h == '/')
        n = snprintf(out, len, "%s/.cache/bmmgen", h);
    else
        return 0;
    return n > 0 && (size_t)n < len - 128;  /* room for a file's name in notes */
}

/* mkdir -p, each missing part 0700. */
static void make_dirs(const char *path)
{
    char p[BMM__PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0700);
            *s = '/';
        }
    mkdir(p, 0700);
}

/* Why an open file (or directory) of the cache must not be used, or NULL. root_ok: a
 * prepared cache's, which root may own. */
static const char *untrusted_by(int fd, int want_dir, int root_ok)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return "cannot stat it";
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return want_dir ? "not a directory" : "not a regular file";
    if (st.st_uid != geteuid() && !(root_ok && st.st_uid == 0))
        return root_ok ? "owned by another user than root or this one" : "owned by another user";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return "writable by group or others";
    return NULL;
}

static const char *untrusted(int fd, int want_dir)
{
    return untrusted_by(fd, want_dir, 0);
}

/* A name this cache makes and may delete: an object, its choices, a failure record,
 * precompiled headers, a temporary file. (Build folders: BUILD_PREFIX.) */
static int ours(const char *name)
{
    size_t n = strlen(name);
    if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
        return 1;
    if (n < 17 || strspn(name, "0123456789abcdef") != 16 || name[16] != '.')
        return 0;
    return strcmp(name + 16, ".so") == 0 || strcmp(name + 16, ".wisdom") == 0
        || strcmp(name + 16, ".failed") == 0 || strcmp(name + 16, ".gch") == 0;
}

int bmm__cache_open_at(int dirfd, const char *rel, int root_ok, const char **why)
{
    /* O_NONBLOCK: a FIFO planted under the name must not hang the open */
    int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    *why = NULL;
    if (fd < 0) {
        *why = errno == ELOOP ? "a symlink" : strerror(errno);
        return -1;
    }
    if ((*why = untrusted_by(fd, 0, root_ok)) != NULL) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/* The directory is bmmgen's: its tag, else (holding nothing but names of ours) tagged now.
 * NULL, or why not. */
static const char *claim(const bmm__cache *c, char *why, size_t len)
{
    const char *w;
    int fd = bmm__cache_open_at(c->fd, TAG, 0, &w);
    if (fd >= 0) {
        char head[sizeof TAG_TEXT];
        ssize_t r = pread(fd, head, sizeof head - 1, 0);
        close(fd);
        head[r > 0 ? r : 0] = '\0';
        if (strcmp(head, TAG_TEXT) == 0)
            return NULL;
        snprintf(why, len, "its %s was not written by bmmgen", TAG);
        return why;
    }
    if (errno != ENOENT) {
        snprintf(why, len, "%s: %s", TAG, w);
        return why;
    }
    int dfd = dup(c->fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        snprintf(why, len, "cannot list it");
        return why;
    }
    rewinddir(d);
    const char *foreign = NULL;
    for (struct dirent *e; !foreign && (e = readdir(d)) != NULL;)
        /* TAG: another process claimed the directory since we looked (publishing it again
         * writes the same bytes); before this, one of two processes sharing a new cache
         * refused it now and then */
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "lock")
            && strcmp(e->d_name, TAG) && !ours(e->d_name))
            foreign = e->d_name;
    if (foreign)
        snprintf(why, len, "it holds '%.100s', which bmmgen did not make, and no %s: name an "
            "empty or new directory", foreign, TAG);
    closedir(d);
    if (foreign)
        return why;
    char err[256];
    if (bmm__cache_publish(c, TAG, TAG_TEXT, strlen(TAG_TEXT), err, sizeof err) != BMM_OK) {
        snprintf(why, len, "%s", err);
        return why;
    }
    return NULL;
}

bmm_status bmm__cache_open(bmm__cache *c, int create, char *err, size_t errlen)
{
    c->fd = -1;
    c->prepared = 0;
    if (!cache_path(c->path, sizeof c->path)) {
        snprintf(err, errlen, "no cache directory: set BMM_CACHE_DIR, XDG_CACHE_HOME or HOME "
            "(an absolute path shorter than %d characters; a setuid or setgid process has "
            "none)", BMM__PATH_MAX - 128);
        return BMM_EIO;
    }
    if (create)
        make_dirs(c->path);
    c->fd = open(c->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (c->fd < 0) {
        snprintf(err, errlen, "cache directory %s: %s", c->path,
            errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory" : strerror(errno));
        return BMM_EIO;
    }
    char why[256];
    const char *w = untrusted(c->fd, 1);
    if (!w)
        w = claim(c, why, sizeof why);
    if (w) {
        snprintf(err, errlen, "cache directory %s refused: %s", c->path, w);
        bmm__cache_close(c);
        return BMM_EIO;
    }
    return BMM_OK;
}

bmm_status bmm__cache_open_prepared(bmm__cache *c, const char *path, char *err, size_t errlen)
{
    c->prepared = 1;
    if (path != c->path)
        snprintf(c->path, sizeof c->path, "%s", path);
    c->fd = open(c->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    const char *why = c->fd < 0 ? (e == ELOOP || e == ENOTDIR
        ? "a symlink or not a directory" : strerror(e)) : untrusted_by(c->fd, 1, 1);
    if (why) {  /* (a folder that is not there is no news: err left empty) */
        if (c->fd >= 0 || e != ENOENT)
            snprintf(err, errlen, "prepared cache %s refused: %s", path, why);
        else if (errlen)
            err[0] = '\0';
        bmm__cache_close(c);
        return BMM_EIO;
    }
    return BMM_OK;
}

int bmm__cache_prepared_path(int i, char *out, size_t len)
{
    const char *list = bmm__env_path("BMM_CACHE_PATH");
    for (const char *s = list; s && *s;) {  /* its entries, ':' apart; empty ones skipped */
        size_t n = strcspn(s, ":");
        if (n > 0 && i-- == 0) {
            if (n >= len)
                n = len - 1;
            memcpy(out, s, n);
            out[n] = '\0';
            return 1;
        }
        s += n + (s[n] == ':');
    }
#ifdef BMM_PREPARED_CACHE_DIR
    if (i == 0 && BMM_PREPARED_CACHE_DIR[0] == '/') {  /* the one installed with the library */
        snprintf(out, len, "%s", BMM_PREPARED_CACHE_DIR);
        return 1;
    }
#endif
    return 0;
}

void bmm__cache_close(bmm__cache *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int bmm__cache_open_file(const bmm__cache *c, const char *name, char *err, size_t errlen)
{
    const char *why;
    int fd = bmm__cache_open_at(c->fd, name, c->prepared, &why);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s/%s%s%s", c->path, name, e == EPERM ? " refused: " : ": ", why);
        errno = e;
    }
    return fd;
}

int bmm__cache_read_all(int fd, unsigned char **data, size_t *size)
{
    struct stat st;
    *data = NULL, *size = 0;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || st.st_size > ((off_t)1 << 30))
        return -1;
    unsigned char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (!b || got != (size_t)st.st_size) {
        free(b);
        return -1;
    }
    *data = b, *size = got;
    return 0;
}

void bmm__cache_touch(const bmm__cache *c, int fd)
{
    if (!c->prepared)
        futimens(fd, NULL);  /* LRU: the eviction reads modification times */
}

void bmm__cache_remove(const bmm__cache *c, const char *name)
{
    if (!c->prepared)  /* a prepared cache is read, never changed (root's, maybe, as root) */
        unlinkat(c->fd, name, 0);
}

int bmm__cache_lock(const bmm__cache *c)
{
    int fd = openat(c->fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (untrusted(fd, 0)) {
        close(fd);
        return -1;
    }
    /* flock, held by this open file: an fcntl lock is the process's, and closing any other
     * descriptor of the file would drop it */
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

void bmm__cache_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);  /* first: a child forked meanwhile shares this open file */
        close(fd);
    }
}

/* 1 when all size bytes went to fd. */
static int write_all(int fd, const void *data, size_t size)
{
    const unsigned char *b = data;
    size_t put = 0;
    while (put < size) {
        ssize_t w = write(fd, b + put, size - put);
        if (w <= 0 && errno != EINTR)
            return 0;
        if (w > 0)
            put += (size_t)w;
    }
    return 1;
}

/* ---- private build folders ---- */

int bmm__cache_make_dir(const bmm__cache *c, char name[32], char *err, size_t errlen)
{
    static unsigned counter;  /* under ondemand.c's lock; the name only has to be new */
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t h = bmm__fnv1a(BMM__FNV_BASIS, &t, sizeof t);
    for (int i = 0; i < 100; i++) {
        unsigned long pid = (unsigned long)getpid();
        h = bmm__fnv1a(h, &pid, sizeof pid);
        counter++;
        h = bmm__fnv1a(h, &counter, sizeof counter);
        snprintf(name, 32, BUILD_PREFIX "%012llx", (unsigned long long)(h & 0xffffffffffffull));
        if (mkdirat(c->fd, name, 0700) == 0)
            break;
        if (errno != EEXIST || i == 99) {
            snprintf(err, errlen, "%s: cannot make a build folder: %s", c->path, strerror(errno));
            return -1;
        }
    }
    int fd = openat(c->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const char *why = fd < 0 ? strerror(errno) : untrusted(fd, 1);
    if (why) {
        snprintf(err, errlen, "%s/%s refused: %s", c->path, name, why);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int bmm__cache_write_at(int dirfd, const char *rel, const void *data, size_t size)
{
    char part[BMM__PATH_MAX];
    snprintf(part, sizeof part, "%s", rel);
    for (char *s = strchr(part, '/'); s; s = strchr(s + 1, '/')) {  /* its folders, 0700 */
        *s = '\0';
        mkdirat(dirfd, part, 0700);
        *s = '/';
    }
    int fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = write_all(fd, data, size);
    return close(fd) == 0 && ok ? 0 : -1;
}

/* Empties and removes the folder name of dirfd: a build folder of ours (what is inside it
 * was made by us, in a folder no one else can write), depth levels of folders at most. */
static void remove_tree(int dirfd, const char *name, int depth)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 && !untrusted(fd, 1) ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(fd, e->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM) && depth > 0)
            remove_tree(fd, e->d_name, depth - 1);
    }
    closedir(d);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

void bmm__cache_remove_dir(const bmm__cache *c, const char *name)
{
    if (strncmp(name, BUILD_PREFIX, strlen(BUILD_PREFIX)) == 0)
        remove_tree(c->fd, name, 3);
}

bmm_status bmm__cache_publish(const bmm__cache *c, const char *name, const void *data,
    size_t size, char *err, size_t errlen)
{
    char tmp[64];
    int fd = -1;
    for (unsigned i = 0; fd < 0 && i < 100; i++) {  /* O_EXCL: a name nobody planted */
        snprintf(tmp, sizeof tmp, TMP_PREFIX "%ld-%u-%s", (long)getpid(), i, name);
        fd = openat(c->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file: %s", c->path, strerror(errno));
        return BMM_EIO;
    }
    int ok = write_all(fd, data, size) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || renameat(c->fd, tmp, c->fd, name) != 0) {
        snprintf(err, errlen, "%s/%s: cannot write: %s", c->path, name, strerror(errno));
        unlinkat(c->fd, tmp, 0);
        return BMM_EIO;
    }
    fsync(c->fd);
    return BMM_OK;
}

/* ---- eviction and clearing ---- */

typedef struct {
    char name[64];
    off_t size;
    struct timespec mtime;
} object;

static int older_first(const void *x, const void *y)
{
    const object *a = x, *b = y;
    if (a->mtime.tv_sec != b->mtime.tv_sec)
        return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
    if (a->mtime.tv_nsec != b->mtime.tv_nsec)
        return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
    return strcmp(a->name, b->name);
}

uint64_t bmm__cache_max_bytes(void)
{
    const char *v = getenv("BMM_CACHE_MAX_MB");  /* a number: no harm in any process */
    char *end;
    long long mb = v && *v ? strtoll(v, &end, 10) : -1;
    if (mb < 1 || mb > (1ll << 30) || *end)
        mb = DEFAULT_MAX_MB;
    return (uint64_t)mb << 20;
}

/* Every entry of the directory: objects (for eviction) into *objs, or with `all`, every file
 * of ours removed. Build folders of ours are removed when `all` or older than an hour (left
 * by a process that died while compiling). Returns the count of objects. */
static size_t scan(const bmm__cache *c, int all, object **objs)
{
    int fd = dup(c->fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    size_t n = 0, cap = 0;
    *objs = NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    rewinddir(d);
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        struct stat st;
        if (fstatat(c->fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != geteuid())
            continue;
        if (strncmp(e->d_name, BUILD_PREFIX, strlen(BUILD_PREFIX)) == 0 && S_ISDIR(st.st_mode)) {
            if (all || now - st.st_mtime > 3600)
                remove_tree(c->fd, e->d_name, 3);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !ours(e->d_name))
            continue;
        if (all) {
            unlinkat(c->fd, e->d_name, 0);
            n++;
            continue;
        }
        size_t len = strlen(e->d_name);
        if (len < 3 || len >= sizeof (*objs)->name || strcmp(e->d_name + len - 3, ".so") != 0
            || e->d_name[0] == '.')
            continue;
        if (n == cap) {
            object *v = realloc(*objs, (cap = cap ? 2 * cap : 16) * sizeof *v);
            if (!v)
                break;
            *objs = v;
        }
        object *o = &(*objs)[n++];
        memcpy(o->name, e->d_name, len + 1);
        o->size = st.st_size;
        o->mtime = st.st_mtim;
    }
    closedir(d);
    return n;
}

void bmm__cache_evict(const bmm__cache *c, uint64_t max_bytes, const char *keep)
{
    object *v;
    size_t n = scan(c, 0, &v);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (uint64_t)v[i].size;
    if (n > 1)
        qsort(v, n, sizeof *v, older_first);
    for (size_t i = 0; i < n && total > max_bytes; i++) {
        if (keep && strcmp(v[i].name, keep) == 0)
            continue;
        char side[80];
        snprintf(side, sizeof side, "%.16s.wisdom", v[i].name);
        unlinkat(c->fd, v[i].name, 0);
        unlinkat(c->fd, side, 0);
        total -= (uint64_t)v[i].size;
        bmm__note("generation cache over %llu MiB: evicted %s (least recently used)",
            (unsigned long long)(max_bytes >> 20), v[i].name);
    }
    free(v);
}

size_t bmm__cache_clear_all(const bmm__cache *c)
{
    object *v;
    size_t n = scan(c, 1, &v);
    free(v);
    return n;
}
