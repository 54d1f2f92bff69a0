/* gen_store.c: generation on demand's objects in the cache: loading one (checked, mapped
 * through the checked directory's descriptor, /proc/self/fd/<dir>/<name>, never through a path
 * that could be swapped, its tables registered), the class's measured choices kept beside it
 * (<key>.wisdom: a new process neither compiles nor times) and the record of a class that
 * failed (<key>.failed). */
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

#include "gen.h"

bmm__gen_load bmm__gen_load_object(const bmm__cache *dir, const bmm__gen_args *g,
    const bmm_kernel_table **out, int *kernels, double *check_ms, char *err, size_t errlen)
{
    char name[32], sym[80], fdpath[2 * BMM__PATH_MAX], why[512];
    *check_ms = 0;
    snprintf(name, sizeof name, "%016llx.so", (unsigned long long)g->key);
    int fd = bmm__cache_open_file(dir, name, err, errlen);
    if (fd < 0)
        return errno == ENOENT ? BMM__GEN_MISSING : (bmm__cache_remove(dir, name), BMM__GEN_BROKEN);
    unsigned char *b;
    size_t n;
    const char *bad = NULL;
    if (bmm__cache_read_all(fd, &b, &n) != 0 || !bmm__gen_sealed(b, n))
        bad = "truncated or altered (its trailer does not match)";
    free(b);
    void *so = NULL;
    const bmm_kernel_table *t[BMM_ISA_COUNT];
    int nt = 0, registered = 0;
    if (!bad) {
        /* through the checked directory's descriptor, by the object's own name (dlopen takes
         * an already loaded name for the same object: "/proc/self/fd/<file>" would be one) */
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d/%s", dir->fd, name);
        if (access(fdpath, R_OK) != 0)  /* not by its path: one above may have been swapped */
            bad = "cannot be loaded through the directory's descriptor (is /proc mounted?)";
        else if (!(so = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL)))
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
        double t0 = bmm__now_ms();
        int verified = 0;
        for (int i = 0; !bad && i < nt; i++)  /* every kernel, before any is registered */
            if (!bmm__verify_table(t[i], &verified, why, sizeof why))
                bad = why;
        *check_ms = bmm__now_ms() - t0;
        for (int i = 0; !bad && i < nt; i++)
            if (bmm__register_generated(t[i]) == BMM_OK)
                registered++;
            else
                bad = bmm_last_error();
    }
    if (bad) {
        snprintf(err, errlen, "%s/%s: %s", dir->path, name, bad);
        if (so && !registered)
            dlclose(so);  /* nothing of it registered (else it must stay mapped) */
        bmm__cache_remove(dir, name);
        close(fd);
        return BMM__GEN_BROKEN;
    }
    bmm__cache_touch(dir, fd);
    close(fd);
    *out = t[0];
    *kernels = 0;
    for (int i = 0; i < nt; i++)
        *kernels += (int)bmm__table_kernel_count(t[i]);
    return BMM__GEN_LOADED;  /* the object stays mapped for the life of the process */
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
static char *read_beside(const bmm__cache *dir, uint64_t key, const char *suffix,
    char name[40])
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

void bmm__gen_import_choices(const bmm__cache *dir, uint64_t key, const bmm_call *c)
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

void bmm__gen_remember_choice(const bmm__cache *dir, uint64_t key, const bmm_call *c,
    const bmm_kernel_desc *k)
{
    char err[2048], name[40];
    snprintf(name, sizeof name, "%016llx.wisdom", (unsigned long long)key);
    int lk = bmm__cache_lock(dir);
    char text[8192];
    size_t len = (size_t)snprintf(text, sizeof text, "%s", WISDOM_HEAD);
    int fd = bmm__cache_open_file(dir, name, err, sizeof err);
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
    if (len < sizeof text && bmm__cache_publish(dir, name, text, len, err, sizeof err) != BMM_OK)
        bmm__note("generation cache: %s", err);
    bmm__cache_unlock(lk);
}

/* ---- a class that failed, beside where its object would be ---- */

/* <key>.failed: a failure another process would meet again, so it does not pay for it again
 * (a hanging compiler would cost each one the time limit). The limit and the time are
 * recorded: a process with a longer BMM_GENERATE_TIMEOUT_MS tries again, and so does any after
 * a day (a compiler killed on a loaded machine may well succeed later). bmm_cache_clear()
 * forgets it. */
#define FAILED_HEAD "bmmgen-ondemand-failed 1\n"
#define FAILED_FOR_S 86400

void bmm__gen_record_failure(const bmm__cache *dir, uint64_t key, const char *why)
{
    char name[40], text[2400], err[256];
    name_beside(key, ".failed", name);
    int n = snprintf(text, sizeof text, FAILED_HEAD "%ld\n%lld\n%.2000s\n", bmm__gen_timeout_ms(),
        (long long)time(NULL), why);
    if (n > 0 && bmm__cache_publish(dir, name, text, strlen(text), err, sizeof err) != BMM_OK)
        bmm__note("generation cache: %s", err);
}

void bmm__gen_forget_failure(const bmm__cache *dir, uint64_t key)
{
    char name[40];
    name_beside(key, ".failed", name);
    bmm__cache_remove(dir, name);
}

int bmm__gen_failed_earlier(const bmm__cache *dir, uint64_t key, char *err, size_t errlen)
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
    int again = bmm__gen_timeout_ms() <= limit && age >= 0 && age < FAILED_FOR_S;
    if (again) {
        end[1 + strcspn(end + 1, "\n")] = '\0';
        snprintf(err, errlen, "an earlier process failed (%s) and nothing has changed since; "
            "bmm_cache_clear() or bmm-tune --clear-cache forgets it", end + 1);
    }
    free(text);
    return again;
}
