/* luagen.c: the generator run inside the library (generation on demand). A fresh Lua state per
 * run loads the generator's modules from the copies compiled in (embedded.c, made by
 * cmake/embed.cmake), serves its templates and runtime headers the same way (generator/
 * source.lua's read(), replaced), and runs the pipeline bmmgen.lua runs: cli.parse, then
 * driver.run. The files come back as text, byte for byte what bmmgen.lua would write for the
 * same arguments. Lua 5.4 or LuaJIT: only the API the two share is used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmm_internal.h"

uint64_t bmm__generator_hash(void)
{
    uint64_t h = BMM__FNV_BASIS;
    for (size_t i = 0; i < bmm__embedded_count; i++) {
        const bmm__embedded_file *f = &bmm__embedded_files[i];
        h = bmm__fnv1a(h, f->path, strlen(f->path) + 1);
        h = bmm__fnv1a(h, f->text, f->size);
    }
    return h;
}

void bmm__gen_files_free(bmm__gen_files *f)
{
    for (size_t i = 0; f && i < f->n; i++) {
        free(f->v[i].path);
        free(f->v[i].text);
    }
    if (f) {
        free(f->v);
        f->v = NULL;
        f->n = 0;
    }
}

#ifndef BMM_HAVE_LUA

bmm_status bmm__lua_generate(int argc, const char *const *argv, bmm__gen_files *out, char *err,
    size_t errlen)
{
    (void)argc, (void)argv;
    out->v = NULL, out->n = 0;
    snprintf(err, errlen, "this libbmm was built without Lua (no liblua5.4 or LuaJIT found)");
    return BMM_EUNSUPPORTED;
}

#else

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#if LUA_VERSION_NUM >= 502
#define lua_objlen lua_rawlen  /* LuaJIT keeps 5.1's name */
#endif

/* The embedded file whose path ends in the last two parts of `path` ("x/../templates/a.in"
 * -> "templates/a.in"): the generator names its files relative to where it sits. */
static const bmm__embedded_file *embedded(const char *path)
{
    const char *tail = path + strlen(path);
    for (int slashes = 0; tail > path; tail--)
        if (tail[-1] == '/' && ++slashes == 2)
            break;
    for (size_t i = 0; i < bmm__embedded_count; i++)
        if (strcmp(bmm__embedded_files[i].path, tail) == 0)
            return &bmm__embedded_files[i];
    return NULL;
}

/* source.read(path) -> text or nil */
static int source_read(lua_State *L)
{
    const bmm__embedded_file *f = embedded(luaL_checkstring(L, 1));
    if (f)
        lua_pushlstring(L, (const char *)f->text, f->size);
    else
        lua_pushnil(L);
    return 1;
}

/* package.preload[module] for every embedded generator/<module>.lua, and
 * package.loaded.source = { read = source_read }. */
static int install_modules(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (size_t i = 0; i < bmm__embedded_count; i++) {
        const bmm__embedded_file *f = &bmm__embedded_files[i];
        size_t len = strlen(f->path);
        if (strncmp(f->path, "generator/", 10) != 0 || len < 15 || strcmp(f->path + len - 4, ".lua"))
            continue;
        char chunk[128];
        snprintf(chunk, sizeof chunk, "@%s", f->path);  /* options.lua finds runtime/ from it */
        if (luaL_loadbuffer(L, (const char *)f->text, f->size, chunk) != 0)
            return lua_error(L);
        lua_pushlstring(L, f->path + 10, len - 14);
        lua_insert(L, -2);
        lua_settable(L, -3);
    }
    lua_getfield(L, -2, "loaded");
    lua_newtable(L);
    lua_pushcfunction(L, source_read);
    lua_setfield(L, -2, "read");
    lua_setfield(L, -2, "source");
    return 0;
}

/* The pipeline: argv table at 1 -> files table, or nil and a message. No exit, no shell: the
 * state loses os.exit, os.execute and io.popen before the generator runs. */
static const char RUN[] =
    "local argv = ...\n"
    "os.exit, os.execute, io.popen = nil, nil, nil\n"
    "local o, err = require('cli').parse(argv, 'generator')\n"
    "if not o then return nil, err end\n"
    "local r, errs = require('driver').run(o)\n"
    "if not r then return nil, table.concat(errs, '\\n') end\n"
    "if r.stage ~= 'files' then return nil, 'the generator stopped before writing files' end\n"
    "local paths = {}\n"
    "for k in pairs(r.value) do paths[#paths + 1] = k end\n"
    "table.sort(paths)\n"
    "return r.value, paths\n";

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* The files table at -2, its sorted paths at -1 -> out. */
static bmm_status collect(lua_State *L, bmm__gen_files *out, char *err, size_t errlen)
{
    size_t n = lua_objlen(L, -1);
    out->v = calloc(n ? n : 1, sizeof *out->v);
    if (!out->v) {
        snprintf(err, errlen, "out of memory");
        return BMM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (int)i + 1);
        size_t plen = 0, tlen = 0;
        const char *path = lua_tolstring(L, -1, &plen);
        lua_gettable(L, -3);
        const char *text = lua_tolstring(L, -1, &tlen);
        bmm__gen_file *f = &out->v[out->n++];
        f->path = path ? dup_bytes(path, plen) : NULL;  /* the key was popped: copy first */
        f->text = text ? dup_bytes(text, tlen) : NULL;
        f->size = tlen;
        lua_pop(L, 1);
        if (!f->path || !f->text) {
            snprintf(err, errlen, "out of memory");
            return BMM_ENOMEM;
        }
    }
    return BMM_OK;
}

bmm_status bmm__lua_generate(int argc, const char *const *argv, bmm__gen_files *out, char *err,
    size_t errlen)
{
    out->v = NULL, out->n = 0;
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(err, errlen, "cannot create a Lua state (out of memory)");
        return BMM_ENOMEM;
    }
    luaL_openlibs(L);
    bmm_status st = BMM_OK;
    lua_pushcfunction(L, install_modules);
    if (lua_pcall(L, 0, 0, 0) != 0 || luaL_loadbuffer(L, RUN, sizeof RUN - 1, "=bmm-ondemand") != 0) {
        snprintf(err, errlen, "generator: %s", lua_tostring(L, -1));
        st = BMM_EUNSUPPORTED;
    } else {
        lua_newtable(L);
        for (int i = 0; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i + 1);
        }
        if (lua_pcall(L, 1, 2, 0) != 0) {
            snprintf(err, errlen, "generator: %s", lua_tostring(L, -1));
            st = BMM_EUNSUPPORTED;
        } else if (lua_isnil(L, -2)) {
            snprintf(err, errlen, "generator: %s", lua_tostring(L, -1));
            st = BMM_EINVAL;
        } else if ((st = collect(L, out, err, errlen)) != BMM_OK) {
            bmm__gen_files_free(out);
        }
    }
    lua_close(L);
    return st;
}

#endif
