/* env.c: the variables that name programs, files or directories (BMM_CC, BMM_CACHE_DIR,
 * BMM_WISDOM, HOME...). A setuid or setgid program must not run, compile, load or write what
 * its caller names: there they read as unset (secure_getenv, as glibc's own loader does). */
#define _GNU_SOURCE  /* secure_getenv */
#include <stdlib.h>
#include <unistd.h>

#include "bmm_internal.h"

const char *bmm__env_path(const char *name)
{
#if defined(__GLIBC__)
    return secure_getenv(name);
#else
    return getuid() == geteuid() && getgid() == getegid() ? getenv(name) : NULL;
#endif
}
