-- bmmgen.lua: command-line front end of the generator. Parses options, runs the pipeline
-- (driver.lua) and writes the output folder only if no stage reported an error.
-- Runs unchanged under Lua 5.4 and LuaJIT 2.1; both give byte-identical output.
local script_dir = (arg and arg[0] or ""):match("^(.*)[/\\][^/\\]*$") or "."
package.path = script_dir .. "/?.lua;" .. package.path

local util = require("util")
local options = require("options")
local driver = require("driver")
local cli = require("cli")

local function fail(msgs)
  for _, m in ipairs(msgs) do io.stderr:write(m, "\n") end
  io.stderr:write(string.format("bmmgen: %d error(s); no file written\n", #msgs))
  os.exit(1)
end

local argv = {}
for i = 1, #arg do argv[i] = arg[i] end
local o, err = cli.parse(argv, script_dir)
if not o then fail({ err }) end
if o.help then io.write(cli.USAGE); os.exit(0) end
if o.version then io.write("bmmgen ", options.version, "\n"); os.exit(0) end
local result, errs = driver.run(o)
if not result then fail(errs) end
if result.stage == "list" then
  for _, path in ipairs(result.value) do io.write(path, "\n") end
  os.exit(0)
end
if o.dump then
  if result.stage == "files" then
    local keys = require("compat").sorted_keys(result.value)
    for _, k in ipairs(keys) do io.write("==> ", k, " <==\n", result.value[k]) end
  else
    io.write(util.serialize(result.value), "\n")
  end
  os.exit(0)
end
if result.stage ~= "files" then os.exit(0) end
local n, werr = require("writer").write(o.out, result.value)
if not n then fail({ werr }) end
io.stderr:write(string.format("bmmgen: %d file(s) written to %s\n", n, o.out))
