-- cli.lua: the command line -> run options (driver.lua's opts), shared by bmmgen.lua and the
-- generator inside libbmm (generation on demand), so both make the same files from the same
-- arguments. Never exits or prints: parse() returns what bmmgen.lua is to do.
local util = require("util")
local driver = require("driver")
local spec = require("spec")
local options = require("options")

local M = {}

M.USAGE = string.format([[
usage: bmmgen.lua [--spec FILE] --out DIR [options]
  --spec FILE           spec file (a Lua file returning a table)
  --out DIR             output folder (written only if there was no error)
  --shapes LIST         e.g. 4x4x4,5x7x3 (overrides the spec's shapes); products: 5,13,23^3
                        or {5,13,23}^3 (every n, m, p of the set), 1x{8,16}x{64,128}
  --dtypes LIST         %s
  --layouts LIST        %s
  --isas LIST           %s
  --scalars LIST        %s
  --orders LIST         %s (operand orders: t = a transposed view; default nn)
  --unroll-budget N     multiply-adds per matrix up to which kernels are fully unrolled
  --tile RxC            register tile of the looped form, e.g. 4x8
  --name NAME           spec name (C identifier; names the kernel table)
  --anyshape yes|no     also the shape-generic kernels, which serve every other shape (default yes)
  --prefetch yes|no     also the _pf twins of larger seq-first forms, which prefetch the next
                        batch item (default yes; they win only when the batch streams)
  --vendor NAME         write NAME.c and NAME.h: the kernels, a dispatcher and a generic
                        fallback, needing only a C99 compiler (no runtime, no Lua, no CMake)
  --split N             with --vendor: the kernels in up to N files NAME_1.c ... (about equal
                        size, NAME_impl.h shared) beside NAME.c, each compiled in bounded memory
  --list-files          print the files the output folder would get, one per line
  --vocab               write what is derived from vocab.lua (runtime/bmm_vocab.h,
                        python/bmmgen/_vocab.py, cmake/BmmVocab.cmake, docs tables) under --out
  --templates DIR       template folder (default: ../templates beside this script)
  --runtime DIR         runtime headers pasted by --vendor (default: ../runtime beside this script)
  --stop-after STAGE    spec|problems|variants|ir|c|files: stop after that stage
  --dump                print the last stage's output to stdout instead of writing files
  --version             print the generator version
]], table.concat(options.dtype_order, ","), table.concat(options.layout_order, ","),
  table.concat(options.isa_order, ","), table.concat(options.scalars_order, ","),
  table.concat(options.order_order, ","))

-- A bad command line: raised inside parse(), returned by it.
local function usage_error(msg) error({ usage = "<command line>:0: error: " .. msg }, 0) end

-- Spec fields the command line may replace: flag -> field, and how its value is read.
local function tile_value(v)
  local r, c = v:match("^(%d+)x(%d+)$")
  return r and { rows = tonumber(r), cols = tonumber(c) } or v
end
local function yes_no(v)
  if v == "yes" then return true elseif v == "no" then return false end
  return v
end
local SPEC_FLAGS = {
  ["--shapes"] = { "shapes", function(v)
    local list, why = spec.expand_shapes(v)
    if not list then usage_error("--shapes: " .. why) end
    return list
  end }, ["--dtypes"] = { "dtypes", util.split_list },
  ["--layouts"] = { "layouts", util.split_list }, ["--isas"] = { "isas", util.split_list },
  ["--scalars"] = { "scalars", util.split_list }, ["--orders"] = { "orders", util.split_list },
  ["--unroll-budget"] = { "unroll_budget", function(v) return tonumber(v) or v end },
  ["--tile"] = { "tile", tile_value },
  ["--name"] = { "name", function(v) return v end },
  ["--anyshape"] = { "anyshape", yes_no },
  ["--prefetch"] = { "prefetch", yes_no },
}

-- Flags of the run itself: flag -> function(o, value) (value nil: the flag takes none).
local RUN_FLAGS = {
  ["--dump"] = { false, function(o) o.dump = true end },
  ["--list-files"] = { false, function(o) o.list_files = true end },
  ["--vocab"] = { false, function(o, _, shown) o.vocab = true; shown[#shown + 1] = "--vocab" end },
  ["--spec"] = { true, function(o, v, shown) o.spec_path = v; shown[#shown + 1] = "--spec " .. v end },
  ["--out"] = { true, function(o, v, shown)
    o.out = v
    shown[#shown + 1] = "--out " .. (v:gsub("/+$", ""):match("([^/]*)$"))
  end },
  ["--templates"] = { true, function(o, v) o.tdir = v end },
  ["--runtime"] = { true, function(o, v) o.rdir = v end },
  ["--vendor"] = { true, function(o, v, shown)
    if not v:match("^[%a_][%w_]*$") then usage_error("--vendor: \"" .. v .. "\" is not a C identifier") end
    o.vendor = v
    shown[#shown + 1] = "--vendor " .. v
  end },
  ["--split"] = { true, function(o, v, shown)
    local n = tonumber(v)
    if not (v:match("^%d+$") and n >= 1 and n <= 256) then
      usage_error("--split: \"" .. v .. "\" is not a number of files in 1..256")
    end
    o.split = n
    shown[#shown + 1] = "--split " .. v
  end },
  ["--stop-after"] = { true, function(o, v)
    for _, s in ipairs(driver.STAGES) do if s == v then o.stop_after = v; return end end
    usage_error("--stop-after: unknown stage \"" .. v .. "\" (known: "
      .. table.concat(driver.STAGES, ", ") .. ")")
  end },
}

local function parse_args(argv, script_dir)
  local o = { cli = {}, tdir = script_dir .. "/../templates", rdir = script_dir .. "/../runtime" }
  local shown = { "generator/bmmgen.lua" }
  local i = 1
  while i <= #argv do
    local a, v = argv[i], argv[i + 1]
    local run, field = RUN_FLAGS[a], SPEC_FLAGS[a]
    if a == "--help" or a == "-h" then o.help = true; return o
    elseif a == "--version" then o.version = true; return o
    elseif not run and not field then usage_error("unknown option \"" .. a .. "\" (see --help)")
    elseif (field or run[1]) and v == nil then usage_error(a .. " needs a value")
    elseif run then
      run[2](o, v, shown)
      i = i + (run[1] and 1 or 0)
    else
      o.cli[field[1]] = { value = field[2](v), flag = a }
      shown[#shown + 1] = a .. " " .. v
      i = i + 1
    end
    i = i + 1
  end
  if not o.dump and not o.stop_after and not o.list_files and not o.out then
    usage_error("--out DIR is required (or --dump)")
  end
  if o.vocab then
    if not o.out then usage_error("--vocab needs --out (the repository root)") end
    if o.dump or o.stop_after or o.list_files or o.vendor or o.spec_path or next(o.cli) then
      usage_error("--vocab takes only --out and --templates")
    end
  elseif not o.spec_path and not o.cli.shapes then
    usage_error("give --spec FILE or --shapes LIST")
  end
  if o.split and not o.vendor then usage_error("--split needs --vendor") end
  if o.vendor and not o.cli.name then o.cli.name = { value = o.vendor, flag = "--vendor" } end
  o.command = table.concat(shown, " ")
  -- the files --vocab writes are the repository's own: the banner names the command run there
  if o.vocab then o.command = "generator/bmmgen.lua --vocab --out ." end
  return o
end

-- argv (a list of strings) -> opts, or nil and the message. script_dir: where bmmgen.lua is
-- (templates and runtime headers default to its siblings). opts.help, opts.version: print
-- that and stop.
function M.parse(argv, script_dir)
  local ok, o = pcall(parse_args, argv, script_dir)
  if ok then return o end
  if type(o) == "table" and o.usage then return nil, o.usage end
  error(o, 0)
end

return M
