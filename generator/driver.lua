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
local emit_c99 = require("emit_c99")
local emit_simd = require("emit_simd")
local outputs = require("outputs")

local M = {}

M.STAGES = { "spec", "problems", "variants", "ir", "c", "files" }

-- opts: { spec_path?, cli = { field = {value, flag} }, command, tdir, rdir, stop_after?,
--   list_files? (stop after the variants with the list of files build() would write),
--   vendor? (a name: one self-contained .c/.h pair instead of the table and file list) }
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

  local kernels = {}
  for i, d in ipairs(descs) do
    local scalar = d.isa == "c99"
    local build = d.anyshape and anyshape.build or scalar and ir.build or vector.build
    local k = ir.simplify(build(d))
    kernels[i] = { desc = d, ir = k, cost = scalar and ir.cost(k) or vector.cost(k),
      emit = scalar and emit_c99 or emit_simd }
  end
  if stop == "ir" then
    local v = {}
    for i, k in ipairs(kernels) do v[i] = { name = k.desc.name, cost = k.cost, body = k.ir.body } end
    return { stage = "ir", value = v }
  end

  for _, k in ipairs(kernels) do k.c = k.emit.emit(k.ir) end
  if stop == "c" then
    local v = {}
    for i, k in ipairs(kernels) do
      -- outlined blocks (shape-generic vector kernels) are part of the body
      local helpers = k.c.helpers and k.c.helpers ~= "" and (k.c.helpers .. "\n") or ""
      v[i] = { name = k.desc.name, decls = k.c.decls, body = helpers .. k.c.body }
    end
    return { stage = "c", value = v }
  end

  local ctx = { spec = spec, hash = util.hash(specmod.canonical(spec)), command = opts.command,
    tdir = opts.tdir, rdir = opts.rdir }
  local ok, files
  if opts.vendor then
    ok, files = pcall(outputs.vendor, ctx, kernels, opts.vendor)
  else
    ok, files = pcall(outputs.build, ctx, kernels)
  end
  if not ok then return nil, { tostring(files) } end
  return { stage = "files", value = files }
end

return M
