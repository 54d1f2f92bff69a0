-- outputs.lua: descriptors + emitted C -> { [relative path] = file text } through the templates.
local util = require("util")
local template = require("template")
local options = require("options")
local variants = require("variants")
local isa = require("isa")
local source = require("source")
local vocab = require("vocab")

local M = {}

local function comment(text, open, prefix, close)
  local lines = {}
  if open then lines[#lines + 1] = open end
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = (prefix .. l):gsub("%s+$", "") end
  if close then lines[#lines + 1] = close end
  return table.concat(lines, "\n")
end

-- The descriptor initializer of one kernel (bmm_kernel.h's bmm_kernel_desc, field by field).
local function descriptor(T, d, fn)
  local needs = #d.needs > 0 and table.concat(d.needs, " | ") or "0"
  return template.fill(T("desc.c.in"), {
    name = d.name, dtype_enum = options.dtypes[d.dtype].enum, n = util.cint(d.n),
    m = util.cint(d.m), p = util.cint(d.p), layout_enum = options.kernel_layouts[d.layout],
    isa_enum = isa[d.isa].enum, scalars_enum = options.scalars[d.scalars].enum,
    form_enum = variants.FORMS[d.kind].enum, tile = util.cint(d.tile or 0),
    vectors = util.cint(d.vectors or 0),
    lanes = util.cint(d.lanes), prefetch = d.prefetch and "1" or "0", needs = needs,
    fn = fn,
  })
end

-- What a kernel's header comment says of its cost: per matrix from the IR's counts, or, for a
-- shape-generic kernel (no fixed cost per matrix), its block.
local function cost_fields(k)
  local d, c = k.desc, k.cost
  if d.anyshape then
    local f = { form_doc = variants.FORMS[d.kind].doc }
    if d.isa ~= "c99" then
      f.tile, f.vectors, f.lanes = util.cint(d.tile), util.cint(d.vectors or 0), util.cint(d.lanes)
    end
    return f
  end
  local f = { flops = util.cint(c.flops), stores = util.cint(c.stores),
    accumulators = util.cint(c.accumulators) }
  if d.isa == "c99" then
    f.loads = util.cint(c.loads.A + c.loads.B + c.loads.C)
    f.loads_a, f.loads_b, f.loads_c = util.cint(c.loads.A), util.cint(c.loads.B), util.cint(c.loads.C)
  else
    f.loads, f.vops = util.cint(c.loads or 0), util.cint(c.vops or 0)
    f.permutes = util.cint(c.permutes or 0)
  end
  return f
end

-- One kernel -> its C function (through its template) and its descriptor initializer.
local function render(T, k)
  local d = k.desc
  local form = variants.FORMS[d.kind]
  local fields = {
    name = d.name, dtype = d.dtype, n = variants.dim_text(d, "n"), m = variants.dim_text(d, "m"),
    p = variants.dim_text(d, "p"), scalars_doc = options.scalars[d.scalars].doc,
    layout = d.layout .. (d.order ~= "nn"
      and (" " .. d.order .. " (" .. options.orders[d.order].doc .. ")") or ""),
    isa = d.isa, form = d.form, decls = k.c.decls, body = k.c.body,
  }
  for key, v in pairs(cost_fields(k)) do fields[key] = v end
  local fn, text = d.name, nil
  if d.isa == "c99" then
    text = template.fill(T(form.template or "kernel.c.in"), fields)
  else
    fields.target, fields.guard = k.c.target, k.c.guard
    if d.anyshape then fields.helpers = k.c.helpers end
    for key, v in pairs(form.fields and form.fields(k) or {}) do fields[key] = v end
    text = template.fill(T(form.template or "kernel_simd.c.in"), fields)
    fn = isa[d.isa].fn .. "(" .. d.name .. ")"
  end
  return text, descriptor(T, d, fn)
end

-- The forms, one Markdown item each, from variants.FORMS.
local function forms_md()
  local items = {}
  for _, kind in ipairs(variants.FORM_ORDER) do
    local f = variants.FORMS[kind]
    items[#items + 1] = "  - `" .. f.tag .. "`: " .. f.doc
  end
  items[#items + 1] = "  - " .. variants.PREFETCH_DOC
  return table.concat(items, "\n")
end

-- Paths of the output files, relative to the output folder.
function M.kernel_path(file) return "kernels/" .. file .. ".c" end
function M.table_header(name) return "bmm_table_" .. name .. ".h" end
function M.table_source(name) return "bmm_table_" .. name .. ".c" end

-- Every file build() writes, sorted, from the descriptors alone (CMake asks for this list
-- at configure time, before anything is generated).
function M.file_list(spec, descs)
  local seen, list = {}, { "README.md", "files.cmake", M.table_header(spec.name), M.table_source(spec.name) }
  for _, d in ipairs(descs) do
    if not seen[d.file] then seen[d.file] = true; list[#list + 1] = M.kernel_path(d.file) end
  end
  table.sort(list)
  return list
end

-- The banner of a file made from inputs whose hash is `hash`: the whole spec for the table,
-- its header, the file list and the README; a kernel file's own descriptors for a kernel file,
-- so that adding a shape rewrites only the files that change.
local function banners(ctx, hash)
  local banner = template.fill(template.load(ctx.tdir, "banner.txt.in"), {
    version = options.version, spec_name = ctx.spec.name, hash = hash, command = ctx.command,
  })
  return banner, comment(banner, "/*", " * ", " */")
end

-- Descriptors grouped by the file they go to, in order of first appearance.
local function by_file(descs)
  local files, order = {}, {}
  for _, d in ipairs(descs) do
    local f = d.file
    if not files[f] then files[f] = {}; order[#order + 1] = f end
    table.insert(files[f], d)
  end
  return files, order
end

-- One kernel file per dtype and shape, each handed to ctx.put as soon as it is complete (its
-- kernels compiled one at a time and dropped once rendered); returns what the table, the file
-- list and the README need of them: parts, externs, sources, kernel names, the forms of each
-- shape and the kernel count.
local function kernel_files(T, ctx, descs)
  local out = { parts = {}, externs = {}, sources = {}, names = {}, shapes = {}, forms = {}, count = 0 }
  local groups, order = by_file(descs)
  for _, f in ipairs(order) do
    local ds, d0 = groups[f], groups[f][1]
    local tag = variants.shape_tag(d0)
    local part = "bmm__kernels_" .. ctx.spec.name .. "_" .. d0.dtype .. "_" .. tag
    local ktext, dtext = {}, {}
    if not out.forms[tag] then out.forms[tag] = {}; out.shapes[#out.shapes + 1] = tag end
    for i, d in ipairs(ds) do
      ktext[i], dtext[i] = render(T, ctx.compile(d))
      out.names[#out.names + 1] = "    " .. d.name
      local row, key = out.forms[tag], d.isa .. ": " .. d.form
      if not row[key] then row[key] = true; row[#row + 1] = key end
    end
    local path = M.kernel_path(f)
    local _, cbanner = banners(ctx, util.hash(util.serialize(ds)))
    ctx.put(path, template.fill(T("kernel_file.c.in"), {
      banner = cbanner, dtype = d0.dtype, shape = tag, count = util.cint(#ds),
      kernels = table.concat(ktext, "\n\n"), part = part, descs = table.concat(dtext, "\n"),
    }) .. "\n")
    out.count = out.count + #ds
    out.parts[#out.parts + 1] = "    { " .. util.cint(#ds) .. ", " .. part .. " },"
    out.externs[#out.externs + 1] = "extern const bmm_kernel_desc " .. part .. "[" .. util.cint(#ds) .. "];"
    out.sources[#out.sources + 1] = "    ${CMAKE_CURRENT_LIST_DIR}/" .. path
  end
  return out
end

local function readme(T, ctx, banner, k, nkernels)
  local spec = ctx.spec
  local rows = {}
  for _, tag in ipairs(k.shapes) do
    rows[#rows + 1] = "| " .. tag .. " | " .. table.concat(k.forms[tag], ", ") .. " |"
  end
  return template.fill(T("readme.md.in"), {
    banner = banner, spec_name = spec.name, command = ctx.command, nkernels = util.cint(nkernels),
    nparts = util.cint(#k.parts), isas = table.concat(spec.isas, ", "),
    scalars = table.concat(spec.scalars, ", "), dtypes = table.concat(spec.dtypes, ", "),
    layouts = table.concat(spec.layouts, ", "), unroll_budget = util.cint(spec.unroll_budget),
    orders = (function()
      local t = {}
      for _, lay in ipairs(spec.layouts) do
        t[#t + 1] = lay .. " " .. table.concat(spec.orders[lay], ", ")
      end
      return table.concat(t, "; ")
    end)(),
    tile = util.cint(spec.tile.rows) .. "x" .. util.cint(spec.tile.cols),
    shape_rows = table.concat(rows, "\n"), forms = forms_md(),
  }) .. "\n"
end

-- ctx: { spec, hash, command, tdir, compile (descriptor -> kernel), put (path, text) };
-- descs: the descriptors. Puts the kernel files, the table (.c, .h), files.cmake, README.md.
function M.build(ctx, descs)
  local spec = ctx.spec
  local T = function(name) return template.load(ctx.tdir, name) end
  local k = kernel_files(T, ctx, descs)
  local banner, cbanner = banners(ctx, ctx.hash)
  local common = { banner = cbanner, spec_name = spec.name, nparts = util.cint(#k.parts),
    nkernels = util.cint(k.count) }
  local function with(extra)
    for key, v in pairs(common) do extra[key] = v end
    return extra
  end
  local header, table_src = M.table_header(spec.name), M.table_source(spec.name)
  ctx.put(header, template.fill(T("header.h.in"), with({
    spec_name_upper = spec.name:upper(), externs = table.concat(k.externs, "\n"),
  })) .. "\n")
  ctx.put(table_src, template.fill(T("table.c.in"), with({
    header = header, parts = table.concat(k.parts, "\n"), version = options.version,
    spec_hash = ctx.hash, abi = util.cint(options.kernel_abi),
  })) .. "\n")
  k.sources[#k.sources + 1] = "    ${CMAKE_CURRENT_LIST_DIR}/" .. table_src
  ctx.put("files.cmake", template.fill(T("files.cmake.in"), {
    banner = comment(banner, nil, "# ", nil), spec_name = spec.name,
    sources = table.concat(k.sources, "\n"), kernels = table.concat(k.names, "\n"),
  }) .. "\n")
  ctx.put("README.md", readme(T, ctx, banner, k, k.count))
end

-- The license line of vendored files (generated code is under bmmgen's license).
M.LICENSE = "SPDX-License-Identifier: BSD-3-Clause (generated by bmmgen; see its LICENSE)."

-- A runtime header, pasted whole into a vendored file, without its local #includes.
local function runtime_header(dir, name)
  local path = dir .. "/" .. name
  local text = source.read(path)
  if not text then error(path .. ":0: error: cannot open runtime header", 0) end
  text = text:gsub('\n#include "[^"\n]*"', "")
  return (text:gsub("%s+$", ""))
end

-- bmm.h's types the pasted headers use (bmm_dtype's values, bmm_stride): a vendored file does
-- not include bmm.h, so their lines are copied from it.
local function bmm_types(dir)
  local path = dir .. "/bmm.h"
  local text = source.read(path) or ""
  local out = {}
  for _, name in ipairs({ "bmm_dtype", "bmm_stride" }) do
    out[#out + 1] = text:match("\n(typedef [^\n]*} " .. name .. ";)")
      or error(path .. ":0: error: no one-line typedef of " .. name .. " (a vendored file copies it)", 0)
  end
  return table.concat(out, "\n")
end

-- The pair's entry points, one per dtype C computes in (vendor.c.in defines them from
-- bmm_vocab.h's BMM_DTYPE_TYPES, made from the same list; the 16-bit dtypes have none yet).
local function vendor_entries(vname)
  local out = {}
  for _, e in ipairs(vocab.dtypes) do
    if not e.mant then
      local t, s = e.ctype, vname .. "_stride"
      out[#out + 1] = "int " .. vname .. "_" .. e.blas .. "gemm_strided(int64_t batch, int64_t n, "
        .. "int64_t m, int64_t p,\n    " .. t .. " alpha, const " .. t .. " *A, " .. s .. " sa, const "
        .. t .. " *B, " .. s .. " sb,\n    " .. t .. " beta, " .. t .. " *C, " .. s .. " sc);"
    end
  end
  return table.concat(out, "\n")
end

-- Kernels (their texts and descriptor lines, in order) cut into at most `parts` runs of about
-- equal text, in order: { first, last } each.
local function cut(ktext, parts)
  local total = 0
  for _, t in ipairs(ktext) do total = total + #t end
  local runs, first, size = {}, 1, 0
  for i, t in ipairs(ktext) do
    size = size + #t
    local left = #ktext - i  -- kernels after this one, for the runs still to come
    if i == #ktext or (size >= total / parts and #runs < parts - 1 and left >= 1) then
      runs[#runs + 1] = { first, i }
      first, size = i + 1, 0
    end
  end
  return runs
end

-- ctx (with rdir, the runtime folder) and descs -> puts vname .. ".c" and vname .. ".h":
-- a self-contained pair, every kernel of the spec and a dispatcher (an amalgamation, as cJSON
-- and sqlite ship). split > 1: the kernels go to vname_1.c ... vname_<k>.c instead, k <= split,
-- of about equal size, with vname_impl.h (the runtime headers and their tables) shared, so that
-- each file compiles in bounded memory.
function M.vendor(ctx, descs, vname, split)
  local spec = ctx.spec
  local T = function(name) return template.load(ctx.tdir, name) end
  local _, cbanner = banners(ctx, ctx.hash)
  local ktext, dtext = {}, {}
  for i, d in ipairs(descs) do ktext[i], dtext[i] = render(T, ctx.compile(d)) end
  local shapes = {}
  for _, sh in ipairs(spec.shapes) do shapes[#shapes + 1] = variants.shape_tag(sh) end
  local common = {
    banner = cbanner, vname = vname, vname_upper = vname:upper(), license = M.LICENSE,
  }
  local h = {
    shapes = table.concat(shapes, ", "), dtypes = table.concat(spec.dtypes, ", "),
    entries = vendor_entries(vname),
    layouts = table.concat(spec.layouts, ", "), isas = table.concat(spec.isas, ", "),
  }
  local runtime = table.concat({ bmm_types(ctx.rdir), runtime_header(ctx.rdir, "bmm_vocab.h"),
    runtime_header(ctx.rdir, "bmm_kernel.h"), runtime_header(ctx.rdir, "bmm_simd.h"),
    runtime_header(ctx.rdir, "bmm_select.h"), runtime_header(ctx.rdir, "bmm_generic.h") }, "\n\n")
  local c = { count = util.cint(#descs) }
  local runs = cut(ktext, split or 1)
  if #runs <= 1 then
    c.where, c.runtime = "", runtime
    c.kernel_section = "/* ---- kernels ---- */\n\n" .. table.concat(ktext, "\n\n")
      .. "\n\nstatic const bmm_kernel_desc kernels[" .. c.count .. "] = {\n"
      .. table.concat(dtext, "\n") .. "\n};"
    c.pick = "    bmm__pick(kernels, sizeof kernels / sizeof kernels[0], &call, max_isa(), &best, "
      .. "&best_score);"
  else
    local externs, list = {}, {}
    for r, run in ipairs(runs) do
      local n = util.cint(run[2] - run[1] + 1)
      local part = { count = n, part = util.cint(r),
        kernels = table.concat(ktext, "\n\n", run[1], run[2]),
        descs = table.concat(dtext, "\n", run[1], run[2]) }
      part.banner, part.vname, part.license = common.banner, vname, M.LICENSE
      ctx.put(vname .. "_" .. part.part .. ".c", template.fill(T("vendor_part.c.in"), part) .. "\n")
      externs[r] = "extern const bmm_kernel_desc " .. vname .. "_kernels_" .. part.part .. "[" .. n .. "];"
      list[r] = "    { " .. vname .. "_kernels_" .. part.part .. ", " .. n .. " },"
    end
    local impl = { runtime = runtime, externs = table.concat(externs, "\n"),
      parts = util.cint(#runs) }
    for k, v in pairs(common) do impl[k] = v end
    ctx.put(vname .. "_impl.h", template.fill(T("vendor_impl.h.in"), impl) .. "\n")
    c.where = " (in " .. vname .. "_1.c ... " .. vname .. "_" .. util.cint(#runs) .. ".c)"
    c.runtime = "#include \"" .. vname .. "_impl.h\""
    c.kernel_section = "/* ---- kernels: the tables of the kernel files ---- */\n\n"
      .. "static const struct part {\n    const bmm_kernel_desc *kernels;\n    size_t count;\n"
      .. "} parts[" .. util.cint(#runs) .. "] = {\n" .. table.concat(list, "\n") .. "\n};"
    c.pick = "    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)\n"
      .. "        bmm__pick(parts[i].kernels, parts[i].count, &call, max_isa(), &best, &best_score);"
  end
  for k, v in pairs(common) do h[k] = v; c[k] = v end
  ctx.put(vname .. ".h", template.fill(T("vendor.h.in"), h) .. "\n")
  ctx.put(vname .. ".c", template.fill(T("vendor.c.in"), c) .. "\n")
end

return M
