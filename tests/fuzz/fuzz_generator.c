/* fuzz_generator.c: the generator (generator/bmmgen.lua, in an embedded Lua 5.4) on random
 * specs and command lines. An input starting with "--" is a command line, one argument per
 * line; any other is a spec file's text. The generator runs to the variants stage and must
 * either succeed or exit non-zero with messages of the form "file:line: error: ...": a Lua
 * error escaping it (a traceback) is a crash. Specs run under an instruction limit.
 * libFuzzer cannot see inside liblua, so a line hook feeds the Lua lines run (source and line,
 * hashed) to it as extra coverage counters; debug.sethook is replaced so that the generator's
 * own count hook (the spec's instruction limit) runs beside it. Lua allocates through a capped
 * allocator: past LUA_MEMORY_CAP it fails like malloc, and the generator's "not enough memory"
 * is a clean end, where libFuzzer's own memory limit would have called it a crash. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs bmmgen.lua with arg = the given strings; os.exit raises {exit = code}; stderr and
 * stdout are captured in CAPTURED. Returns 0 if it ran cleanly (success or a clean exit). */
static const char PRELUDE[] =
    "CAPTURED = {}\n"
    "local sink = { write = function(self, ...) for _, s in ipairs({...}) do\n"
    "  CAPTURED[#CAPTURED + 1] = tostring(s) end return self end,\n"
    "  close = function() end, flush = function() end, setvbuf = function() end }\n"
    "io.stderr, io.stdout = sink, sink\n"
    "io.write = function(...) return sink:write(...) end\n"
    "print = function(...) sink:write(...) end\n"
    "os.exit = function(code) error({ exit = code == true and 0 or code or 0 }, 0) end\n";

/* After a clean non-zero exit: every line of the captured output that is not the summary is
 * "file:line: error: ..." */
static const char CHECK[] =
    "local text = table.concat(CAPTURED)\n"
    "for line in text:gmatch('[^\\n]+') do\n"
    "  if not line:match('^bmmgen: %d+ error%(s%)') and not line:match('^[^\\n]-:%d+: error: ') then\n"
    "    return line end end\n"
    "return nil\n";

static char spec_path[64];

/* Lua line coverage, read by libFuzzer like its own counters. */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_lines[1 << 16];

static const char *last_source;
static uint32_t last_hash;

static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The generator's hook (debug.sethook from Lua), kept in the registry under this key. */
static const char LUA_HOOK_KEY = 0;

static void hook(lua_State *L, lua_Debug *ar)
{
    if (ar->event == LUA_HOOKLINE) {
        lua_getinfo(L, "S", ar);
        if (ar->source != last_source) {  /* interned: the same pointer, the same text */
            last_source = ar->source;
            last_hash = hash_text(ar->source);
        }
        uint8_t *c = &lua_lines[(last_hash ^ (uint32_t)ar->currentline * 2654435761u) & 0xffff];
        if (*c < 255)
            ++*c;
        return;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &LUA_HOOK_KEY);  /* a count event: the generator's hook */
    if (lua_isfunction(L, -1)) {
        lua_pushstring(L, "count");
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
}

/* debug.sethook([f, mask, count]) as the generator uses it: a count hook, or none. */
static int fuzz_sethook(lua_State *L)
{
    int count = lua_isfunction(L, 1) ? (int)luaL_optinteger(L, 3, 0) : 0;
    lua_pushvalue(L, count > 0 ? 1 : LUA_REGISTRYINDEX);
    if (count <= 0) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &LUA_HOOK_KEY);
    lua_sethook(L, hook, LUA_MASKLINE | (count > 0 ? LUA_MASKCOUNT : 0), count);
    return 0;
}

/* Lua's whole heap, far above what a generator run to the variants stage uses. */
#define LUA_MEMORY_CAP ((size_t)512 << 20)
static size_t lua_heap;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        lua_heap -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > LUA_MEMORY_CAP - lua_heap)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        lua_heap = lua_heap - old + nsize;
    return p;
}

static int run(lua_State *L, int argc, const char **argv)
{
    lua_newtable(L);
    lua_pushstring(L, BMM_GENERATOR_DIR "/bmmgen.lua");
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    if (luaL_loadfile(L, BMM_GENERATOR_DIR "/bmmgen.lua") != LUA_OK) {
        fprintf(stderr, "cannot load the generator: %s\n", lua_tostring(L, -1));
        abort();
    }
    for (int i = 0; i < argc; i++)
        lua_pushstring(L, argv[i]);
    int status = lua_pcall(L, argc, 0, 0);
    if (status == LUA_OK || status == LUA_ERRMEM)
        return 0;
    if (lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "not enough memory") == 0)
        return 0;  /* the cap, re-raised by a pcall on the way out */
    int code = -1;
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "exit");
        code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
        lua_pop(L, 1);
    }
    if (code < 0) {
        fprintf(stderr, "the generator raised a Lua error: %s\n",
            lua_isstring(L, -1) ? lua_tostring(L, -1) : "(not a string)");
        abort();
    }
    if (code == 0)
        return 0;
    luaL_dostring(L, CHECK);
    if (lua_isstring(L, -1)) {
        fprintf(stderr, "exit %d with a message not in file:line: error: form: %s\n", code,
            lua_tostring(L, -1));
        abort();
    }
    return 0;
}

static void cleanup(void)
{
    unlink(spec_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!*spec_path) {
        snprintf(spec_path, sizeof spec_path, "/tmp/fuzz_generator.%ld.lua", (long)getpid());
        atexit(cleanup);
    }
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    const char *argv[40];
    int argc = 0;
    if (size >= 2 && memcmp(text, "--", 2) == 0) {
        for (char *save = NULL, *a = strtok_r(text, "\n", &save); a && argc < 32;
             a = strtok_r(NULL, "\n", &save))
            argv[argc++] = a;
    } else {
        FILE *f = fopen(spec_path, "wb");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
            perror(spec_path);
            abort();
        }
        argv[argc++] = "--spec";
        argv[argc++] = spec_path;
    }
    argv[argc++] = "--out";
    argv[argc++] = "/nonexistent/fuzz-out";
    argv[argc++] = "--stop-after";
    argv[argc++] = "variants";
    lua_heap = 0;
    lua_State *L = lua_newstate(capped_alloc, NULL);
    if (!L)
        abort();
    luaL_openlibs(L);
    if (luaL_dostring(L, PRELUDE) != LUA_OK)
        abort();
    lua_getglobal(L, "debug");
    lua_pushcfunction(L, fuzz_sethook);
    lua_setfield(L, -2, "sethook");
    lua_pop(L, 1);
    last_source = NULL;
    lua_sethook(L, hook, LUA_MASKLINE, 0);
    run(L, argc, argv);
    lua_close(L);
    free(text);
    return 0;
}
