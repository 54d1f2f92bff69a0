/* load_kernels.c: --kernels LIB.so for the tools (load_kernels.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "bmm.h"
#include "load_kernels.h"

/* "libblocks.so.1" -> "blocks": CMake's MAKE_C_IDENTIFIER of the target's name. */
static void table_of(const char *lib, char *out, size_t len)
{
    const char *base = strrchr(lib, '/') ? strrchr(lib, '/') + 1 : lib;
    if (strncmp(base, "lib", 3) == 0)
        base += 3;
    size_t n = strcspn(base, ".");
    snprintf(out, len, "%.*s", (int)n, base);
    for (char *c = out; *c; c++)
        if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
                || (*c >= '0' && *c <= '9')))
            *c = '_';
    if (*out >= '0' && *out <= '9')
        out[0] = '_';
}

int bmm_tool_load_kernels(const char *tool, const char *lib, const char *table)
{
    char name[256], symbol[300];
    if (!strchr(lib, '/')) {  /* dlopen would search the system's paths for a bare name */
        fprintf(stderr, "%s: --kernels %s: give a path (./%s)\n", tool, lib, lib);
        return -1;
    }
    if (table)
        snprintf(name, sizeof name, "%s", table);
    else
        table_of(lib, name, sizeof name);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s: --kernels: %s\n", tool, dlerror());
        return -1;
    }
    snprintf(symbol, sizeof symbol, "bmm_table_%s", name);
    const struct bmm_kernel_table *t = (const struct bmm_kernel_table *)dlsym(h, symbol);
    if (!t) {
        fprintf(stderr, "%s: %s has no table %s (--table NAME: the NAME of "
            "bmm_generate_kernels, or bmmgen.lua --name)\n", tool, lib, symbol);
        return -1;  /* (h stays open: nothing of it runs, and it is unloaded at exit) */
    }
    if (bmm_register_kernels(t) != BMM_OK) {
        fprintf(stderr, "%s: %s: %s\n", tool, symbol, bmm_last_error());
        return -1;
    }
    return 0;
}

int bmm_tool_kernels_option(const char *tool, const char *a, const char *v, const char **table)
{
    if (!v || (strcmp(a, "--table") != 0 && strcmp(a, "--kernels") != 0))
        return -1;
    if (a[2] == 't') {
        *table = v;
        return 0;
    }
    int rc = bmm_tool_load_kernels(tool, v, *table) != 0;
    *table = NULL;
    return rc;
}
