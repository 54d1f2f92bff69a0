/* error.c: status strings and the thread-local "what went wrong" message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bmm_internal.h"

static _Thread_local char last_error[512];

const char *bmm_strerror(bmm_status s)
{
    switch (s) {
    case BMM_OK: return "success";
    case BMM_EINVAL: return "invalid argument";
    case BMM_EOVERLAP: return "output overlaps itself or an input";
    case BMM_ENOMEM: return "out of memory";
    case BMM_EUNSUPPORTED: return "not supported";
    case BMM_EIO: return "input/output error";
    case BMM_EFORMAT: return "bad wisdom format";
    }
    return "unknown status";
}

const char *bmm_last_error(void)
{
    return last_error;
}

bmm_status bmm__fail(bmm_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (bmm__verbose())
        fprintf(stderr, "bmm: %s: %s\n", bmm_strerror(s), last_error);
    return s;
}

void bmm__set_last_error(const char *msg)
{
    snprintf(last_error, sizeof last_error, "%s", msg);
}

int bmm__verbose(void)
{
    const char *v = getenv("BMM_VERBOSE");
    return v && *v && *v != '0';
}

void bmm__note(const char *fmt, ...)
{
    if (!bmm__verbose())
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("bmm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
