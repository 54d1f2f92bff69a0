-- bmmgen.lua: command-line front end of the generator. Parses options, runs the pipeline
-- (driver.lua) and writes the output folder only if no stage reported an error.
-- Runs unchanged under Lua 5.4 and LuaJIT 2.1; both give byte-identical output.
local script_dir = (arg and arg[0] or ""):match("^(.*)[/\\][^/\\]*$") or "."
package.path = script_dir .. "/?.lua;" .. package.path

local util = require("util")
local options = require("options")
local driver = require("driver")

local USAGE = [[
usage: bmmgen.lua [--spec FILE] --out DIR [options]
  --spec FILE           spec file (a Lua file returning a table)
  --out DIR             output folder (written only if there was no error)
  --shapes LIST         e.g. 4x4x4,5x7x3 (overrides the spec's shapes)
  --dtypes LIST         f32,f64
  --layouts LIST        bf,sf
  --isas LIST           c99,avx2,avx512
  --scalars LIST        a1b0,b0,ab
  --unroll-budget N     multiply-adds per matrix up to which kernels are fully unrolled
  --tile RxC            register tile of the looped form, e.g. 4x8
  --name NAME           spec name (C identifier; names the kernel table)
  --vendor NAME         write NAME.c and NAME.h: the kernels, a dispatcher and a generic
                        fallback, needing only a C99 compiler (no runtime, no Lua, no CMake)
  --list-files          print the files the output folder would get, one per line
  --templates DIR       template folder (default: ../templates beside this script)
  --runtime DIR         runtime headers pasted by --vendor (default: ../runtime beside this script)
  --stop-after STAGE    spec|problems|variants|ir|c|files: stop after that stage
  --dump                print the last stage's output to stdout instead of writing files
  --version             print the generator version
]]

local LIST_FLAGS = {
  ["--shapes"] = "shapes", ["--dtypes"] = "dtypes", ["--layouts"] = "layouts",
  ["--isas"] = "isas", ["--scalars"] = "scalars",
}

local function fail(msgs)
  for _, m in ipairs(msgs) do io.stderr:write(m, "\n") end
  io.stderr:write(string.format("bmmgen: %d error(s); no file written\n", #msgs))
  os.exit(1)
end

local function parse_args(argv)
  local o = { cli = {}, tdir = script_dir .. "/../templates", rdir = script_dir .. "/../runtime" }
  local shown = { "generator/bmmgen.lua" }
  local i = 1
  local function value(flag)
    local v = argv[i + 1]
    if v == nil then fail({ "<command line>:0: error: " .. flag .. " needs a value" }) end
    i = i + 2
    return v
  end
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then io.write(USAGE); os.exit(0)
    elseif a == "--version" then io.write("bmmgen ", options.version, "\n"); os.exit(0)
    elseif a == "--dump" then o.dump = true; i = i + 1
    elseif a == "--spec" then o.spec_path = value(a); shown[#shown + 1] = "--spec " .. o.spec_path
    elseif a == "--out" then
      o.out = value(a)
      shown[#shown + 1] = "--out " .. (o.out:gsub("/+$", ""):match("([^/]*)$"))
    elseif a == "--templates" then o.tdir = value(a)
    elseif a == "--runtime" then o.rdir = value(a)
    elseif a == "--list-files" then o.list_files = true; i = i + 1
    elseif a == "--vendor" then
      o.vendor = value(a)
      if not o.vendor:match("^[%a_][%w_]*$") then
        fail({ "<command line>:0: error: --vendor: \"" .. o.vendor .. "\" is not a C identifier" })
      end
      shown[#shown + 1] = "--vendor " .. o.vendor
    elseif a == "--stop-after" then
      o.stop_after = value(a)
      local known = false
      for _, s in ipairs(driver.STAGES) do known = known or s == o.stop_after end
      if not known then
        fail({ "<command line>:0: error: --stop-after: unknown stage \"" .. o.stop_after
          .. "\" (known: " .. table.concat(driver.STAGES, ", ") .. ")" })
      end
    elseif LIST_FLAGS[a] then
      local v = value(a)
      o.cli[LIST_FLAGS[a]] = { value = util.split_list(v), flag = a }
      shown[#shown + 1] = a .. " " .. v
    elseif a == "--unroll-budget" then
      local v = value(a)
      o.cli.unroll_budget = { value = tonumber(v) or v, flag = a }
      shown[#shown + 1] = a .. " " .. v
    elseif a == "--tile" then
      local v = value(a)
      local r, c = v:match("^(%d+)x(%d+)$")
      o.cli.tile = { value = r and { rows = tonumber(r), cols = tonumber(c) } or v, flag = a }
      shown[#shown + 1] = a .. " " .. v
    elseif a == "--name" then
      local v = value(a)
      o.cli.name = { value = v, flag = a }
      shown[#shown + 1] = a .. " " .. v
    else
      fail({ "<command line>:0: error: unknown option \"" .. a .. "\" (see --help)" })
    end
  end
  if not o.dump and not o.stop_after and not o.list_files and not o.out then
    fail({ "<command line>:0: error: --out DIR is required (or --dump)" })
  end
  if not o.spec_path and not o.cli.shapes then
    fail({ "<command line>:0: error: give --spec FILE or --shapes LIST" })
  end
  if o.vendor and not o.cli.name then o.cli.name = { value = o.vendor, flag = "--vendor" } end
  o.command = table.concat(shown, " ")
  return o
end

local o = parse_args(arg)
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
local n, err = require("writer").write(o.out, result.value)
if not n then fail({ err }) end
io.stderr:write(string.format("bmmgen: %d file(s) written to %s\n", n, o.out))
