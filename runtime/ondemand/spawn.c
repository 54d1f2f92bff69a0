/* spawn.c: runs a program (the compiler) without a shell: posix_spawnp with an argument
 * vector, in a process group of its own so that a time limit kills the compiler driver and
 * whatever it started (cc1, as, ld), its output to a file. The program starts inside a
 * directory given by descriptor (its working directory is that very directory, whatever is
 * renamed above it), and every path it is given is relative: no one can redirect them. */
#define _GNU_SOURCE  /* posix_spawn_file_actions_addfchdir_np */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bmm_internal.h"

extern char **environ;

/* Waits for pid until deadline_ms: 1 and its status, or 0 past the deadline. Polls with a
 * sleep growing from 0.1 to 5 ms (no SIGCHLD handler: the library must not take the
 * process's signals). */
static int wait_until(pid_t pid, double deadline_ms, int *status)
{
    long nap_ns = 100000;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR) {
            *status = -1;
            return 1;
        }
        if (bmm__now_ms() >= deadline_ms)
            return 0;
        struct timespec nap = { 0, nap_ns };
        nanosleep(&nap, NULL);
        if (nap_ns < 5000000)
            nap_ns *= 2;
    }
}

/* glibc 2.29 and musl 1.1.24 start a child in a directory descriptor */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define HAVE_FCHDIR_NP 1
#endif

int bmm__spawn_start(const char *const *argv, int cwd, const char *log, char *err,
    size_t errlen)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    pid_t pid;
#ifndef HAVE_FCHDIR_NP
    if (cwd >= 0) {
        snprintf(err, errlen, "cannot start %s inside a directory descriptor with this C "
            "library (posix_spawn_file_actions_addfchdir_np)", argv[0]);
        return -1;
    }
#endif
    if (posix_spawn_file_actions_init(&fa) != 0) {
        snprintf(err, errlen, "cannot start %s: out of memory", argv[0]);
        return -1;
    }
#ifdef HAVE_FCHDIR_NP
    if (cwd >= 0)  /* first: the log below is opened inside it */
        posix_spawn_file_actions_addfchdir_np(&fa, cwd);
#endif
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    const char *out = log ? log : "/dev/null";
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out,
        O_WRONLY | O_CREAT | O_TRUNC | (log ? O_NOFOLLOW : 0), 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

int bmm__spawn_found(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");  /* as posix_spawnp searches it */
    char buf[4096];
    for (const char *s = path ? path : "/usr/local/bin:/usr/bin:/bin"; *s;) {
        size_t n = strcspn(s, ":");
        int len = snprintf(buf, sizeof buf, "%.*s/%s", (int)(n ? n : 1), n ? s : ".", prog);
        if (len > 0 && (size_t)len < sizeof buf && access(buf, X_OK) == 0)
            return 1;
        s += n + (s[n] == ':');
    }
    return 0;
}

double bmm__spawn_deadline(long timeout_ms)
{
    return bmm__now_ms() + (double)timeout_ms;
}

int bmm__spawn_wait(int pid, const char *name, double deadline_ms, long timeout_ms, char *err,
    size_t errlen)
{
    int status = 0;
    if (!wait_until(pid, deadline_ms, &status)) {
        kill(-pid, SIGKILL);  /* the group: the driver and what it started */
        waitpid(pid, &status, 0);
        snprintf(err, errlen, "%s ran past %ld ms (BMM_GENERATE_TIMEOUT_MS) and was killed",
            name, timeout_ms);
        return -1;
    }
    if (status == -1) {
        snprintf(err, errlen, "%s: lost its exit status (SIGCHLD ignored?)", name);
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, errlen, "%s was killed by signal %d", name, WTERMSIG(status));
        return -1;
    }
    if (WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "%s exited with status %d", name, WEXITSTATUS(status));
        return -1;
    }
    return 0;
}
