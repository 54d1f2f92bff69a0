-- variants.lua: problems -> kernel descriptors, one per ISA x form x alpha/beta form: the
-- autotuner's search space. Each descriptor carries typed fields (kind, tile, prefetch, lanes,
-- needs) and the name that spells it out:
--   bmm_<dtype>_<n>x<m>x<p>_<layout>[_<order>]_<isa>[_<form>]_<scalars>
-- (a shape-generic kernel's <layout> says what it requires of the strides: vocab.lua's
-- `generic` word of its class; <order> is there when A or B is read transposed: tn, nt, tt)
local util = require("util")
local options = require("options")
local isa = require("isa")
local vocab = require("vocab")

local M = {}

-- Every form (vocab.lua's facts: its C enum, name part, doc and needs), with what the
-- generator adds: where its batch loop is not the common one, its template and the extra
-- fields that template takes (chunked: the template walks the batch a chunk at a time and
-- the form's outlined blocks loop over the chunk's items).
local TEMPLATES = {
  xb = { template = "kernel_xb.c.in",
    fields = function(k) return { w = util.cint(k.ir.width), fallback = k.desc.fallback.name } end },
  pk = { template = "kernel_pk.c.in",
    fields = function(k) return { items = util.cint(k.desc.tile), fallback = k.desc.fallback.name } end },
  gtile = { template = "kernel_anyshape.c.in" },
  grows = { template = "kernel_anyshape_chunk.c.in", chunked = true },
  gvec = { template = "kernel_anyshape_chunk.c.in", chunked = true },
  gdot = { template = "kernel_anyshape_simd.c.in" },
  gnt = { template = "kernel_anyshape_simd.c.in" },
}
M.FORMS, M.FORM_ORDER = {}, {}
for i, v in ipairs(vocab.forms) do
  local needs = {}
  for j, w in ipairs(v.needs or {}) do needs[j] = vocab.need[w].enum end
  local t = TEMPLATES[v.kind] or {}
  M.FORMS[v.kind] = { enum = v.enum, tag = v.tag, doc = v.doc, needs = needs,
    template = t.template, fields = t.fields, chunked = t.chunked }
  M.FORM_ORDER[i] = v.kind
end
M.PREFETCH_DOC = "`<form>_pf`: also prefetches the next batch item's rows of A and B"

local function idiv(a, b) return math.floor(a / b) end
local function ceil_div(a, b) return idiv(a + b - 1, b) end

-- A dimension as names spell it: its value, or its letter when read at run time (0).
function M.dim_text(pr, dim)
  return pr[dim] == 0 and dim or util.cint(pr[dim])
end

local function shape_tag(pr)
  return M.dim_text(pr, "n") .. "x" .. M.dim_text(pr, "m") .. "x" .. M.dim_text(pr, "p")
end
M.shape_tag = shape_tag

-- The name part of a form instance: "" for unroll, "t4x8", "rows", "rl8_pf", ...
local function form_tag(f)
  local tag = f.kind
  if f.kind == "unroll" then return "" end
  if f.kind == "tile" then tag = "t" .. util.cint(f.tile) .. "x" .. util.cint(f.tile_cols) end
  if f.kind == "rl" then tag = "rl" .. util.cint(f.tile) end
  if f.kind == "pk" then tag = "pk" .. util.cint(f.tile) end
  if f.kind == "grows" then tag = "g" .. util.cint(f.tile) end
  if f.kind == "gtile" then tag = "g" .. util.cint(f.tile) .. "x" .. util.cint(f.tile_cols) end
  if f.kind == "gnt" then tag = "gnt" .. util.cint(f.tile) .. "x" .. util.cint(f.tile_cols) end
  return tag .. (f.prefetch and "_pf" or "")
end

-- Rows of C per vector in the flat form: g*p lanes of C, g rows of A in at most two vectors.
function M.flat_rows(pr, W)
  if pr.layout ~= "bf" or pr.p > W or pr.m > 2 * W then return 0 end
  return math.min(pr.n, idiv(W, pr.p), idiv(2 * W, pr.m))
end

-- Whether the flat form reads an order's transposed operands in place, what it loads whole
-- staying whole: a transposed A in one group of rows or whole in two sources (shared by the
-- groups), a transposed B in up to four sources (its lanes then take two permutes and a blend).
local function flat_reads(pr, W, order)
  return (order:sub(1, 1) == "n" or M.flat_rows(pr, W) >= pr.n or pr.n * pr.m <= 2 * W)
    and (order:sub(2, 2) == "n" or pr.m * pr.p <= 4 * W)
end

-- The product the flat form computes: pr itself, or, both operands transposed, the transposed
-- product C^T = B^T A^T, whose operands are B's and A's stored orders (row-major both) and
-- whose C the kernel stores transposed: one permute per vector of C, from up to four groups'
-- accumulators. That pays where the direct form takes B in more than two sources or the
-- transposed product's rows are 128-bit blocks (in-lane permutes: 4x4x4 f32 1.2x); elsewhere
-- the direct form saves C's permutes (3x3x3 f32 1.15x). Returns the product and whether it is
-- swapped; nil where neither fits.
function M.flat_problem(pr, W)
  local function fits(q) return M.flat_rows(q, W) > 1 and q.p < W end
  local order = pr.order or "nn"
  local direct = fits(pr) and flat_reads(pr, W, order)
  if order == "tt" then
    local sw = { layout = pr.layout, n = pr.p, m = pr.m, p = pr.n }
    local pays = not direct or pr.m * pr.p > 2 * W or pr.n * options.dtypes[pr.dtype].size == 16
    if pays and fits(sw) and ceil_div(sw.n, M.flat_rows(sw, W)) <= 4 then return sw, true end
  end
  if direct then return pr, false end
  return nil
end

-- How the unrolled rows form reads a transposed B (batch-first: dense items): "whole", loaded
-- whole in up to four registers and each row a permute (AVX-512), or "panel", p and m at most
-- W, its stored rows transposed in registers once per item (bmm_simd.h); nil: it does not.
function M.rows_transposed_b(pr, W, I)
  if pr.layout ~= "bf" then return nil end
  if I.permute and pr.m * pr.p <= 4 * W then return "whole" end
  if pr.p <= W and pr.m <= W then return "panel" end
  return nil
end

-- Matrices per vector of the packed form: as many whole C as one vector holds, their A and B
-- in at most two vectors each; 0 when fewer than two fit (the flat form covers one).
function M.pack_items(pr, W)
  if pr.layout ~= "bf" then return 0 end
  local g = math.min(idiv(W, pr.n * pr.p), idiv(2 * W, pr.n * pr.m), idiv(2 * W, pr.m * pr.p))
  return g >= 2 and g or 0
end

-- Portable C: unrolled, or a register tile in loops past the unroll budget.
local function c99_forms(pr, spec)
  if pr.n * pr.m * pr.p <= spec.unroll_budget then return { { kind = "unroll" } } end
  return { { kind = "tile", tile = math.min(spec.tile.rows, pr.n),
    tile_cols = math.min(spec.tile.cols, pr.p) } }
end

-- Vector forms of one problem on one ISA.
local function vector_forms(pr, spec, name)
  local I = isa[name]
  local W = I.width[pr.dtype]
  -- The budget counts scalar multiply-adds; a vector one does W of them, but a function of
  -- budget/W vector FMAs would outgrow the instruction cache, so vectors get a quarter.
  local vbudget = idiv(spec.unroll_budget, 4)
  -- p = 1: one lane of each vector would do work; dot products along m instead. They are
  -- fully unrolled, so only up to half the budget in vector FMAs (no stores between them: twice
  -- the rows form's; 64x128x1 f64 on AVX2 is at it): past it the compile takes seconds (61x512x1
  -- f64 took 3 to 10 s) and the shape-generic gdot form, which loops, is as fast.
  if pr.p == 1 then
    return pr.n * ceil_div(pr.m, W) <= 2 * vbudget and { { kind = "dot" } } or {}
  end
  local out = {}
  if pr.n * pr.m * ceil_div(pr.p, W) <= vbudget then
    out[#out + 1] = { kind = "rows" }
  else
    local R = idiv(I.acc, math.min(ceil_div(pr.p, W), I.vmax))
    out[#out + 1] = { kind = "rl", tile = R }
    if idiv(R, 2) >= 2 then out[#out + 1] = { kind = "rl", tile = idiv(R, 2) } end
  end
  if spec.prefetch and pr.layout == "sf" and pr.n * pr.m * pr.p >= options.prefetch_min_madds then
    for i = 1, #out do out[#out + 1] = { kind = out[i].kind, tile = out[i].tile, prefetch = true } end
  end
  local flat, swap = M.flat_problem(pr, W)
  if I.permute and flat then out[#out + 1] = { kind = "flat", swap = swap } end
  if I.permute and M.pack_items(pr, W) > 0 then out[#out + 1] = { kind = "pk", tile = M.pack_items(pr, W) } end
  local xb = options.xb_max
  if I.permute and pr.layout == "sf" and pr.m <= xb.m and pr.p <= xb.p and pr.m * pr.p <= xb.mp then
    out[#out + 1] = { kind = "xb" }
  end
  return out
end

-- An alpha/beta form a vector kernel need not have: it differs from another generated form
-- only in fixing alpha = 1, which saves one multiply per vector of C.
local function redundant_in_vectors(sc, generated)
  local f = options.scalars[sc].fixes
  if f.alpha ~= 1 then return false end
  for _, other in ipairs(generated) do
    local g = options.scalars[other].fixes
    if other ~= sc and g.alpha == nil and g.beta == f.beta then return true end
  end
  return false
end

local function descriptor(pr, name, f, sc)
  local lay = pr.anyshape and vocab.layout[pr.layout].generic or pr.layout
  local ord = vocab.order[pr.order or "nn"]
  local parts = { "bmm", pr.dtype, shape_tag(pr), lay, name }
  if ord.tag ~= "" then table.insert(parts, 5, ord.tag) end
  local tag = form_tag(f)
  local needs = {}
  for _, w in ipairs(M.FORMS[f.kind].needs or {}) do needs[#needs + 1] = w end
  for _, w in ipairs(ord.needs) do needs[#needs + 1] = vocab.need[w].enum end
  return {
    name = table.concat(parts, "_") .. (tag ~= "" and "_" .. tag or "") .. "_" .. sc,
    dtype = pr.dtype, n = pr.n, m = pr.m, p = pr.p, ctype = options.dtypes[pr.dtype].ctype,
    layout = pr.layout, isa = name, scalars = sc, form = tag ~= "" and tag or "unroll",
    kind = f.kind, tile = f.tile, tile_cols = f.tile_cols, vectors = f.vectors,
    prefetch = f.prefetch or false, swap = f.swap or false, lanes = isa[name].width[pr.dtype],
    order = ord.word, trans_a = ord.word:sub(1, 1) == "t", trans_b = ord.word:sub(2, 2) == "t",
    needs = needs, anyshape = pr.anyshape,
    file = "bmm_" .. pr.dtype .. "_" .. (pr.anyshape and "anyshape" or shape_tag(pr)),
  }
end

-- Shape-generic forms of one ISA, each with the dimensions it fixes (0: read at run time).
-- Portable C: a 4x4 tile for any shape, any strides; 8 rows at once for p = 1. Vectors (unit
-- column stride, row strides at run time): a rows form per tile height in isa.lua's family,
-- as many vectors wide as the accumulators allow; n = 1 twice the widest rows block; p = 1
-- dot products.
local function anyshape_forms(name)
  if name == "c99" then
    return {
      { dims = { 0, 0, 0 }, layout = "any", f = { kind = "gtile", tile = 4, tile_cols = 4 } },
      { dims = { 0, 0, 1 }, layout = "any", f = { kind = "gtile", tile = 8, tile_cols = 1 } },
    }
  end
  local I, out = isa[name], {}
  for _, R in ipairs(I.any.rows) do
    out[#out + 1] = { dims = { 0, 0, 0 }, layout = "sf",
      f = { kind = "grows", tile = R, vectors = math.min(I.vmax, idiv(I.acc, R)) } }
  end
  out[#out + 1] = { dims = { 1, 0, 0 }, layout = "sf", f = { kind = "gvec", tile = 1, vectors = 2 * I.vmax } }
  out[#out + 1] = { dims = { 0, 0, 1 }, layout = "sf", f = { kind = "gdot", tile = I.any.dot } }
  out[#out + 1] = { dims = { 0, 0, 0 }, layout = "sf",
    f = { kind = "gnt", tile = I.any.nt[1], tile_cols = I.any.nt[2] } }
  return out
end

-- Forms by operand order. A transposed A is read by broadcasts alone in the rows forms
-- (vector.lua's rows_block), so those take it at the same cost; they load B's rows, so a
-- transposed B has none of them (the runtime copies it: kernels/pack.c). The forms that load
-- whole matrices and build every lane with permutes (flat, pk) take any order at the same
-- cost, where what they load whole stays whole: flat, a transposed A in one group of rows (or
-- whole in two sources, shared by the groups) and a transposed B in up to four sources
-- (flat_reads; against a copy of B for the row-major kernel: 8x8x8 f32); both transposed, it
-- may compute the transposed product (flat_problem). The shape-generic rows kernels come in
-- both orders whatever the spec's orders: every shape is served either way.
local function order_has(f, order, pr, W, I)
  if f.kind == "gnt" then return order == "nt" end  -- its one order: B's columns contiguous
  if order == "nn" then return true end
  if f.prefetch then return false end
  if f.kind == "pk" then return true end
  if f.kind == "flat" then return true end   -- made only where flat_problem admits the order
  -- the unrolled rows form reads a transposed B (rows_transposed_b) where no flat form is
  -- (it beats this one: 4x4x4 f64 1.25x); both transposed, only where C's rows are at least
  -- as long as its columns: else the runtime's transposed product, whose rows are the longer,
  -- wins (12x20x3 f32 2.5x)
  if f.kind == "rows" and order:sub(2, 2) == "t" then
    return M.rows_transposed_b(pr, W, I) ~= nil and not (I.permute and M.flat_problem(pr, W))
      and (order == "nt" or pr.p >= pr.n)
  end
  return order == "tn" and (f.kind == "rows" or f.kind == "rl" or f.kind == "grows")
end

-- The shape-generic kernels of a spec: its dtypes x ISAs x alpha/beta forms, and the rows
-- forms again for a transposed A.
function M.anyshape(spec)
  local out = {}
  for _, dt in ipairs(spec.dtypes) do
    for _, name in ipairs(spec.isas) do
      for _, order in ipairs(options.order_order) do
        for _, a in ipairs(anyshape_forms(name)) do
          if order_has(a.f, order, a, 0) then
            local pr = { dtype = dt, n = a.dims[1], m = a.dims[2], p = a.dims[3], layout = a.layout,
              anyshape = true, order = order }
            for _, sc in ipairs(spec.scalars) do
              if not (name ~= "c99" and redundant_in_vectors(sc, spec.scalars)) then
                out[#out + 1] = descriptor(pr, name, a.f, sc)
              end
            end
          end
        end
      end
    end
  end
  return out
end

function M.from_problems(problems, spec)
  local out = {}
  for _, pr in ipairs(problems) do
    for _, name in ipairs(spec.isas) do
      local vec = name ~= "c99"
      local fs = vec and vector_forms(pr, spec, name) or c99_forms(pr, spec)
      local first = {}   -- per alpha/beta form: the descriptor of the ISA's first form
      local kept = {}
      for _, f in ipairs(fs) do  -- n = 1: A's one row is never a transposed view
        if order_has(f, pr.order, pr, isa[name].width[pr.dtype], isa[name])
          and (pr.order == "nn" or pr.n > 1) then kept[#kept + 1] = f end
      end
      for _, f in ipairs(kept) do
        for _, sc in ipairs(spec.scalars) do
          if not (vec and redundant_in_vectors(sc, spec.scalars)) then
            local d = descriptor(pr, name, f, sc)
            -- a form that computes several items together (vocab.lua's `fallback`) hands the
            -- leftover items to the first form of its ISA
            if vocab.form[f.kind].fallback then d.fallback = first[sc] end
            -- (an order whose only form computes several items together has no fallback)
            if d.fallback or not vocab.form[f.kind].fallback then
              first[sc] = first[sc] or d
              out[#out + 1] = d
            end
          end
        end
      end
    end
  end
  if spec.anyshape then
    for _, d in ipairs(M.anyshape(spec)) do out[#out + 1] = d end
  end
  return out
end

return M
