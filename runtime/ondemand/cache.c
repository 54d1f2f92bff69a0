/* cache.c: the on-disk cache of generated kernels (generation on demand). One directory:
 * BMM_CACHE_DIR, else $XDG_CACHE_HOME/bmmgen, else $HOME/.cache/bmmgen, created 0700.
 *
 * Nothing in it is trusted unchecked: the directory and every file read from it must be ours
 * (owner = effective uid), writable by no one else, and not a symlink (O_NOFOLLOW); files are
 * reached through the directory's descriptor (openat and friends), so a path swapped after
 * the check is never followed. Files are published whole: written under a private temporary
 * name, fsynced, renamed into place, the directory fsynced. One lock file serializes the
 * processes that make kernels in it. A size cap evicts the least recently used objects (a
 * load touches its object's time). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmm_internal.h"

#define DEFAULT_MAX_MB 256

/* The directory's path, or 0 when neither BMM_CACHE_DIR, XDG_CACHE_HOME nor HOME says. */
static int cache_path(char *out, size_t len)
{
    const char *d = getenv("BMM_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    int n;
    if (d && *d)
        n = snprintf(out, len, "%s", d);
    else if (x && *x == '/')
        n = snprintf(out, len, "%s/bmmgen", x);
    else if (h && *h == '/')
        n = snprintf(out, len, "%s/.cache/bmmgen", h);
    else
        return 0;
    return n > 0 && (size_t)n < len - 128;  /* room for "/build-XXXXXX/kernels/<file>" */
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

/* Why an open file (or directory) of the cache must not be used, or NULL. */
static const char *untrusted(int fd, int want_dir)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return "cannot stat it";
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return want_dir ? "not a directory" : "not a regular file";
    if (st.st_uid != geteuid())
        return "owned by another user";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return "writable by group or others";
    return NULL;
}

bmm_status bmm__cache_open(bmm__cache *c, char *err, size_t errlen)
{
    c->fd = -1;
    if (!cache_path(c->path, sizeof c->path)) {
        snprintf(err, errlen, "no cache directory: set BMM_CACHE_DIR, XDG_CACHE_HOME or HOME "
            "(an absolute path shorter than %d characters)", BMM__PATH_MAX - 128);
        return BMM_EIO;
    }
    make_dirs(c->path);
    c->fd = open(c->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (c->fd < 0) {
        snprintf(err, errlen, "cache directory %s: %s", c->path,
            errno == ELOOP || errno == ENOTDIR ? "a symlink or not a directory" : strerror(errno));
        return BMM_EIO;
    }
    const char *why = untrusted(c->fd, 1);
    if (why) {
        snprintf(err, errlen, "cache directory %s refused: %s", c->path, why);
        bmm__cache_close(c);
        return BMM_EIO;
    }
    return BMM_OK;
}

void bmm__cache_close(bmm__cache *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int bmm__cache_open_file(const bmm__cache *c, const char *name, char *err, size_t errlen)
{
    int fd = openat(c->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s/%s: %s", c->path, name,
            errno == ELOOP ? "a symlink" : strerror(errno));
        return -1;
    }
    const char *why = untrusted(fd, 0);
    if (why) {
        snprintf(err, errlen, "%s/%s refused: %s", c->path, name, why);
        close(fd);
        errno = EPERM;
        return -1;
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

void bmm__cache_touch(int fd)
{
    futimens(fd, NULL);  /* LRU: the eviction reads modification times */
}

void bmm__cache_remove(const bmm__cache *c, const char *name)
{
    unlinkat(c->fd, name, 0);
}

int bmm__cache_lock(const bmm__cache *c)
{
    int fd = openat(c->fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    while (fcntl(fd, F_SETLKW, &l) != 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

void bmm__cache_unlock(int fd)
{
    if (fd >= 0)
        close(fd);  /* closing drops the process's fcntl lock */
}

bmm_status bmm__cache_publish(const bmm__cache *c, const char *name, const void *data,
    size_t size, char *err, size_t errlen)
{
    char tmp[64];
    int fd = -1;
    for (unsigned i = 0; fd < 0 && i < 100; i++) {  /* O_EXCL: a name nobody planted */
        snprintf(tmp, sizeof tmp, ".tmp-%ld-%u-%s", (long)getpid(), i, name);
        fd = openat(c->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file: %s", c->path, strerror(errno));
        return BMM_EIO;
    }
    const unsigned char *b = data;
    size_t put = 0;
    while (put < size) {
        ssize_t w = write(fd, b + put, size - put);
        if (w <= 0 && errno != EINTR)
            break;
        if (w > 0)
            put += (size_t)w;
    }
    int ok = put == size && fsync(fd) == 0;
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

/* A file this cache makes: <16 hex>.so, .wisdom or .failed, or a temporary one. */
static int ours(const char *name)
{
    size_t n = strlen(name);
    if (strncmp(name, ".tmp-", 5) == 0)
        return 1;
    if (n < 17 || strspn(name, "0123456789abcdef") != 16 || name[16] != '.')
        return 0;
    return strcmp(name + 16, ".so") == 0 || strcmp(name + 16, ".wisdom") == 0
        || strcmp(name + 16, ".failed") == 0;
}

/* Removes a build directory of ours (flat: the sources, the object, the log). */
static void remove_build_dir(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 && !untrusted(fd, 1) ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(fd, e->d_name, 0);
    closedir(d);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

uint64_t bmm__cache_max_bytes(void)
{
    const char *v = getenv("BMM_CACHE_MAX_MB");
    char *end;
    long long mb = v && *v ? strtoll(v, &end, 10) : -1;
    if (mb < 1 || mb > (1ll << 30) || *end)
        mb = DEFAULT_MAX_MB;
    return (uint64_t)mb << 20;
}

/* Every entry of the directory: objects (for eviction) into *objs, or with `all`, every file
 * of ours removed. Build directories (build-*) are removed when `all` or older than an hour
 * (left by a process that died while compiling). Returns the count of objects. */
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
        if (strncmp(e->d_name, "build-", 6) == 0 && S_ISDIR(st.st_mode)) {
            if (all || now - st.st_mtime > 3600)
                remove_build_dir(c->fd, e->d_name);
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
