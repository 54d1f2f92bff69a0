/* fuzz_generator.c: the generator (generator/bmmgen.lua, in an embedded Lua 5.4) on random
 * specs and command lines. An input starting with "--" is a command line, one argument per
 * line; any other is a spec file's text. The generator runs to the variants stage and must
 * either succeed or exit non-zero with messages of the form "file:line: error: ...": a Lua
 * error escaping it (a traceback) is a crash. Specs run under an instruction limit. */
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
    if (lua_pcall(L, argc, 0, 0) == LUA_OK)
        return 0;
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
        fwrite(data, 1, size, f);
        fclose(f);
        argv[argc++] = "--spec";
        argv[argc++] = spec_path;
    }
    argv[argc++] = "--out";
    argv[argc++] = "/nonexistent/fuzz-out";
    argv[argc++] = "--stop-after";
    argv[argc++] = "variants";
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_dostring(L, PRELUDE) != LUA_OK)
        abort();
    run(L, argc, argv);
    lua_close(L);
    free(text);
    return 0;
}
