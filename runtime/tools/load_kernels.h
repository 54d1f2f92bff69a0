/* load_kernels.h: the tools' --kernels LIB.so [--table NAME]: a program's own kernel table,
 * loaded from its shared library and registered, so that bmm-tune tunes it and bmm-wisdom
 * knows its kernels. */
#ifndef BMM_TOOLS_LOAD_KERNELS_H
#define BMM_TOOLS_LOAD_KERNELS_H

/* Loads lib (dlopen) and registers its bmm_table_<table>; table NULL: the library's name
 * without "lib" and ".so...", as bmm_generate_kernels names a target's table. 0 on success,
 * else -1 and a message on stderr prefixed by tool. */
int bmm_tool_load_kernels(const char *tool, const char *lib, const char *table);

/* The options of both tools, argument a with value v (NULL: none): --table NAME is kept in
 * *table for the next --kernels LIB.so, which loads. -1: a is not one of them; 0: it was, v
 * used; 1: loading failed (said on stderr). */
int bmm_tool_kernels_option(const char *tool, const char *a, const char *v, const char **table);

#endif
