-- driver.lua: the pipeline, stage by stage, each a pure function (docs/generator.md):
--   spec -> problems -> variants -> ir -> c -> files
-- run(opts) returns { stage = name, value = output of the last stage run } or nil, errors.
-- Nothing here writes files; bmmgen.lua does that only when run() had no error.
local util = require("util")
local specmod = require("spec")
local problems = require("problems")
local variants = require("variants")
local ir = require("ir")
local vector = require("vector")
local anyshape = require("anyshape")
local isa = require("isa")
local emit_c99 = require("emit_c99")
local emit_simd = require("emit_simd")
local outputs = require("outputs")

local M = {}

-- One descriptor -> its kernel: IR (simplified), cost, and C (decls, body, helpers).
function M.compile(d)
  local scalar = d.isa == "c99"
  local build = d.anyshape and anyshape.build or scalar and ir.build or vector.build
  local k = ir.simplify(build(d))
  if not scalar then ir.hoist_c_loads(k.body, math.floor(isa[d.isa].regs / 4)) end
  local emit = scalar and emit_c99 or emit_simd
  local cost = scalar and ir.cost(k) or vector.cost(k)
  return { desc = d, ir = k, cost = cost, c = emit.emit(k, cost) }
end

M.STAGES = { "spec", "problems", "variants", "ir", "c", "files" }

-- opts: { spec_path?, cli = { field = {value, flag} }, command, tdir, rdir, stop_after?,
--   list_files? (stop after the variants with the list of files build() would write),
--   vendor? (a name: one self-contained .c/.h pair instead of the table and file list),
--   sink? (function(path, text): takes each file as soon as it is complete) }
function M.run(opts)
  local raw, line_of = {}, function() return 0 end
  local where = "<command line>"
  if opts.spec_path then
    local errs
    raw, line_of, errs = specmod.read_file(opts.spec_path)
    if errs then return nil, errs end
    where = opts.spec_path
  end
  local spec, errs = specmod.validate(raw, where, line_of, opts.cli or {})
  if not spec then return nil, errs end
  local stop = opts.stop_after
  if stop == "spec" then return { stage = "spec", value = spec } end

  local probs = problems.from_spec(spec)
  if stop == "problems" then return { stage = "problems", value = probs } end

  local descs = variants.from_problems(probs, spec)
  if stop == "variants" then return { stage = "variants", value = descs } end
  if opts.list_files then return { stage = "list", value = outputs.file_list(spec, descs) } end

  if stop == "ir" or stop == "c" then
    local v = {}
    for i, d in ipairs(descs) do
      local k = M.compile(d)
      if stop == "ir" then
        v[i] = { name = d.name, cost = k.cost, body = k.ir.body }
      else
        -- outlined blocks (shape-generic vector kernels) are part of the body
        local helpers = k.c.helpers and k.c.helpers ~= "" and (k.c.helpers .. "\n") or ""
        v[i] = { name = d.name, decls = k.c.decls, body = helpers .. k.c.body }
      end
    end
    return { stage = stop, value = v }
  end

  -- Files go to opts.sink(path, text) as each is complete, so only one file's kernels are
  -- held at a time; without a sink they are collected and returned.
  local files = {}
  local ctx = { spec = spec, hash = util.hash(specmod.canonical(spec)), command = opts.command,
    tdir = opts.tdir, rdir = opts.rdir, compile = M.compile,
    put = opts.sink or function(path, text) files[path] = text end }
  local ok, err
  if opts.vendor then
    ok, err = pcall(outputs.vendor, ctx, descs, opts.vendor, opts.split)
  else
    ok, err = pcall(outputs.build, ctx, descs)
  end
  if not ok then return nil, { tostring(err) } end
  return { stage = "files", value = files }
end

return M
