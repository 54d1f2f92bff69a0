-- bmmgen.lua: command-line front end of the generator. Parses options, runs the pipeline
-- (driver.lua) and puts the output folder in place only if no stage reported an error.
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
if o.vocab then
  local w = require("writer").open(o.out)
  local read = require("source").read
  local ok, err = pcall(function()
    local files = require("vocab_out").files(o.tdir, function(p) return read(o.out .. "/" .. p) end, o.command)
    for _, p in ipairs(require("compat").sorted_keys(files)) do w.put(p, files[p]) end
  end)
  if not ok then w.abort(); fail({ tostring(err) }) end
  local n, werr = w.commit()
  if not n then fail({ werr }) end
  io.stderr:write(string.format("bmmgen: %d file(s) written to %s\n", n, o.out))
  os.exit(0)
end

-- Writing: each file goes to the output folder as soon as the generator completes it, and
-- into place only when every stage succeeded.
local out
if o.out and not o.dump and not o.list_files and (o.stop_after or "files") == "files" then
  out = require("writer").open(o.out)
  o.sink = out.put
end
local result, errs = driver.run(o)
if not result then
  if out then out.abort() end
  fail(errs)
end
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
if not out then os.exit(0) end
local n, werr = out.commit()
if not n then fail({ werr }) end
io.stderr:write(string.format("bmmgen: %d file(s) written to %s\n", n, o.out))
