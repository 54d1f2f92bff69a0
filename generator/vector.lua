-- vector.lua: kernel descriptor -> vector IR of one matrix product, for the SIMD emitters.
-- The same IR serves every vector ISA; only the width W and the register file (isa.lua) differ.
--   expressions: vload{operand,row,col,lanes} vbcast{operand,row,col} vref{name} vzero
--                vparam{name} (a scalar argument in every lane) vfma{a,b,c} vmul{a,b} vadd{a,b}
--                vperm{a,b?,c?,d?,idx} (idx[l] indexes a ++ b ++ c ++ d) hsum{a} (the sum of a's lanes, a
--                scalar), and ir.lua's scalar param/load/mul/add/const
--   statements:  vdef{name,value} vset{name,value} store{row,col,lanes,value}
--                sstore{row,col,value} (one scalar of C) hsums{names,into} (up to 8 vectors'
--                sums at once, into the scalar array `into`) pack_bcol{} (seq-first B column made
--                contiguous) pnext{} (pointers to the next batch item, or this one when last)
--                pfetch{operand,row,count,bytes,write?,when_zero?} (those rows of the next
--                item into L2; when_zero: only when that loop variable is 0)
--                deint{operand,row,cols,names} (row of W items -> one vector per column)
--                xstore{row,cols,values} (one vector per column -> interleaved, stored)
--                tpanel{name,values} (up to W row vectors, zeros after them, transposed in
--                registers: the array `name`, row k in name[k])
--                loop{var,from,to,step,body} block{body}
--   index:       {var = loop variable or nil, off = integer}
-- Stores carry the naive epilogue alpha*acc + beta*C (ir.epilogue); ir.simplify folds what the
-- alpha/beta form fixes, as for the scalar IR. Forms (variants.lua chooses which apply):
-- rows (vectorize along p, broadcast A; R rows x V vectors of C per block), rl (the same block
-- in loops), flat (the whole small C in registers, built with permutes, batch-first only),
-- pk (several whole matrices per vector, contiguous batch-first only),
-- dot (p = 1: dot products along m), xb (across the batch: lanes are consecutive seq-first
-- batch items). A kernel with prefetch set also prefetches the next item's rows of A and B.
local util = require("util")
local options = require("options")
local isa = require("isa")
local ir = require("ir")
local variants = require("variants")

local M = {}

local function idx(var, off) return { var = var, off = off } end
local function idiv(a, b) return math.floor(a / b) end
local function ceil_div(a, b) return idiv(a + b - 1, b) end
local function vref(name) return { op = "vref", name = name } end
local function name_of(...) -- "acc" .. r .. "_" .. v, with integers printed by cint
  local parts = { ... }
  for i = 2, #parts do parts[i] = util.cint(parts[i]) end
  return (table.concat(parts, "_"):gsub("^([%a]+)_", "%1"))
end

-- acc = a * b for the first term of a sum, acc = a * b + acc after it.
-- Accumulator sets 1..S-1 added into set 0: acc(r, v, s) for R x V accumulators.
local function fold_sets(out, acc, R, V, S)
  for s = 1, S - 1 do
    for r = 0, R - 1 do
      for v = 0, V - 1 do
        out[#out + 1] = { op = "vset", name = acc(r, v, 0),
          value = { op = "vadd", a = vref(acc(r, v, 0)), b = vref(acc(r, v, s)) } }
      end
    end
  end
end

local function accumulate(out, acc, a, b, first)
  if first then
    out[#out + 1] = { op = "vdef", name = acc, value = { op = "vmul", a = a, b = b } }
  else
    out[#out + 1] = { op = "vset", name = acc, value = { op = "vfma", a = a, b = b, c = vref(acc) } }
  end
end

-- A store of one vector of C; mask (a vmask name) when its lanes are known at run time only;
-- width: the lanes of a narrower register it is held in (nil: the ISA's width).
local function vstore(out, row, col, lanes, acc, mask, width)
  out[#out + 1] = { op = "store", row = row, col = col, lanes = lanes, mask = mask, width = width,
    value = ir.epilogue(vref(acc), { op = "vload", operand = "C", row = row, col = col, lanes = lanes,
      mask = mask, width = width }, true) }
end

-- Vector v of a block row: its column index, lanes, run-time mask (nil: all lanes known) and
-- width (W / 2 where it is held in a half-width register, isa.lua's `half`; nil: W).
-- Fixed columns c0 + v*W of a p wide C (half: the ISA has half-width registers):
local function fixed_cols(c0, W, p, half)
  local function lanes(v) return math.min(W, p - (c0 + v * W)) end
  return {
    idx = function(v) return idx(nil, c0 + v * W) end,
    lanes = lanes,
    mask = function() return nil end,
    width = function(v) return half and lanes(v) <= W / 2 and W / 2 or nil end,
  }
end

-- The k loop of a block: accumulators zeroed, then `splits` sets of them taking turns along k
-- (whole steps of splits, then one at a time), summed into the first set at the end.
local function looped_k(blk, R, V, m, splits, step, acc, width)
  for s = 0, splits - 1 do
    for r = 0, R - 1 do
      for v = 0, V - 1 do
        blk[#blk + 1] = { op = "vdef", name = acc(r, v, s), value = { op = "vzero", width = width(v) } }
      end
    end
  end
  if splits == 1 then
    local lb = {}
    step(idx("k", 0), false, lb, 0)
    blk[#blk + 1] = { op = "loop", var = "k", from = 0, to = m, step = 1, body = lb }
    return
  end
  local lb, rest = {}, {}
  for s = 0, splits - 1 do step(idx("k", s), false, lb, s) end
  step(idx("k", 0), false, rest, 0)
  blk[#blk + 1] = { op = "decl", name = "k", start = 0 }
  blk[#blk + 1] = { op = "loop", var = "k", to = m, step = splits, body = lb }
  blk[#blk + 1] = { op = "loop", var = "k", to = m, step = 1, body = rest }
  fold_sets(blk, acc, R, V, splits)
end

-- Sources (two; four for a transposed B of the flat form) covering count contiguous elements starting at element `first` of a batch-first
-- item (its stored order: a transposed operand's stored rows are its transpose's).
local function sources(out, operand, first, count, W, prefix)
  local names = {}
  for s = 0, ceil_div(count, W) - 1 do
    names[#names + 1] = prefix .. util.cint(s)
    out[#out + 1] = { op = "vdef", name = names[#names], value = { op = "vload", operand = operand,
      stored = first + s * W, lanes = math.min(W, count - s * W) } }
  end
  return names
end

-- Where element (r, c) of a rows x cols operand lies in its item's storage: row-major, or
-- column-major when the kernel reads it transposed.
local function stored_at(trans, rows, cols)
  if trans then return function(r, c) return c * rows + r end end
  return function(r, c) return r * cols + c end
end

local function perm(names, lane_src)
  local function src(i) return names[i] and vref(names[i]) or nil end
  return { op = "vperm", a = src(1), b = src(2), c = src(3), d = src(4), idx = lane_src }
end

-- One R x V block of C, b = { r0, rows = R, cols, vectors = V, m, k_loop, splits, pf }: rows
-- from r0 (an index) and columns cols (above): for each k, V vector
-- loads of B's row k, one broadcast of A[r, k] per row, R*V fused multiply-adds. m: the
-- inner size, a number or a run-time size ("m"; then k_loop). splits (k_loop only, default 1):
-- that many sets of accumulators take turns along k and are summed at the end, so a short
-- block still has enough independent chains to hide the FMA latency. bsrc: a transposed B
-- whole in registers (rows_form), each row of it built by a permute instead of loaded; brow:
-- k -> the register holding B's row k (a transposed B transposed in registers).
-- pf (prefetching forms): { es = element size, d = descriptor, b = "first" | var name | nil }:
-- the block prefetches the next item's rows of A and C it will work on, and, where pf.b says
-- (the first block: always, or when that loop variable is 0), B's row of each k, so the
-- prefetches spread over the item instead of coming in one burst.
local function rows_block(out, b)
  local r0, R, cols, V, m, pf = b.r0, b.rows, b.cols, b.vectors, b.m, b.pf
  local splits = b.splits or 1
  -- B's rows loaded (not built in registers): a short last vector in a half-width register,
  -- and A's broadcasts too when every vector is
  local function width(v) return not (b.brow or b.bsrc) and cols.width and cols.width(v) or nil end
  local a_width = width(0)
  for v = 1, V - 1 do if width(v) ~= a_width then a_width = nil end end
  local function acc(r, v, s) return s > 0 and name_of("acc", r, v, s) or name_of("acc", r, v) end
  local function step(kidx, first, body, set)
    -- temporaries are named per k when k is unrolled (one C scope holds them all), per set
    -- when the sets share a loop body
    local sfx = kidx.var and (set > 0 and ("_s" .. util.cint(set)) or "") or ("_" .. util.cint(kidx.off))
    if pf and pf.b then
      body[#body + 1] = { op = "pfetch", operand = "B", row = kidx, count = 1,
        bytes = pf.d.p * pf.es, when_zero = pf.b ~= "first" and pf.b or nil }
    end
    for v = 0, V - 1 do
      local value = { op = "vload", operand = "B", row = kidx, col = cols.idx(v),
        lanes = cols.lanes(v), mask = cols.mask(v), width = width(v) }
      if b.brow then   -- a transposed B's rows transposed in registers
        value = vref(b.brow(kidx.off))
      elseif b.bsrc then   -- a transposed B whole in registers: B[k, j] is stored at j*m + k
        local lanes, c0 = {}, cols.idx(v).off
        for j = c0, c0 + cols.lanes(v) - 1 do lanes[#lanes + 1] = j * m + kidx.off end
        value = perm(b.bsrc, lanes)
      end
      body[#body + 1] = { op = "vdef", name = name_of("b", v) .. sfx, value = value }
    end
    for r = 0, R - 1 do
      local a = name_of("a", r) .. sfx
      body[#body + 1] = { op = "vdef", name = a,
        value = { op = "vbcast", operand = "A", row = idx(r0.var, r0.off + r), col = kidx, width = a_width } }
      for v = 0, V - 1 do
        accumulate(body, acc(r, v, set), vref(a), vref(name_of("b", v) .. sfx), first)
      end
    end
  end
  local blk = {}
  if pf then
    blk[#blk + 1] = { op = "pfetch", operand = "A", row = r0, count = R, bytes = pf.d.m * pf.es }
    blk[#blk + 1] = { op = "pfetch", operand = "C", row = r0, count = R, bytes = pf.d.p * pf.es,
      write = true }
  end
  if b.k_loop then
    looped_k(blk, R, V, m, splits, step, acc, width)
  else
    for k = 0, m - 1 do step(idx(nil, k), k == 0, blk, 0) end
  end
  for r = 0, R - 1 do
    for v = 0, V - 1 do
      vstore(blk, idx(r0.var, r0.off + r), cols.idx(v), cols.lanes(v), acc(r, v, 0), cols.mask(v), width(v))
    end
  end
  out[#out + 1] = { op = "block", body = blk }
end
M.rows_block = rows_block

-- Blocks of V vectors across p; rows in blocks of R (the last block takes what is left).
-- R nil: as many rows as the accumulators allow, fully unrolled.
-- A prefetching kernel (desc.prefetch) spreads the next item's prefetches over its blocks
-- (rows_block's pf): C's and A's rows with each block of the first column block, B's rows
-- along k in the first block.
local function rows_form(K, W, R)
  local d, I = K.desc, isa[K.desc.isa]
  local half = I[d.dtype] and I[d.dtype].half ~= nil
  local looped = R ~= nil
  local nv = ceil_div(d.p, W)
  local V = math.min(nv, I.vmax)
  local es = options.dtypes[d.dtype].size
  local function pf(c0, b)
    if not d.prefetch or c0 > 0 then return nil end
    return { es = es, d = d, b = b }
  end
  -- a transposed B (unrolled only, variants.rows_transposed_b): loaded whole once, each block
  -- building its rows by permutes, or its stored rows transposed in registers once, each
  -- block reading B's rows there (m of the registers: fewer rows per block)
  local bsrc, brow, held = nil, nil, 0
  local how = d.trans_b and variants.rows_transposed_b(d, W, I)
  if how == "whole" then
    bsrc = sources(K.body, "B", 0, d.m * d.p, W, "bs")
  elseif how == "panel" then
    local rows = {}
    for j = 0, d.p - 1 do
      rows[#rows + 1] = { op = "vload", operand = "B", stored = j * d.m, lanes = d.m }
    end
    K.body[#K.body + 1] = { op = "tpanel", name = "bt", values = rows }
    brow = function(k) return "bt[" .. util.cint(k) .. "]" end
    held = d.m
  end
  for c0 = 0, nv - 1, V do
    local Vb = math.min(V, nv - c0)
    local Rb = R or math.max(1, math.min(d.n, idiv(I.acc, Vb)))
    if held > 0 then   -- blocks of even height within the registers left
      Rb = math.max(1, math.min(Rb, I.regs - held - 2))
      Rb = ceil_div(d.n, ceil_div(d.n, Rb))
    end
    local n_main = d.n - d.n % Rb
    if looped and n_main > Rb then
      local body = {}
      rows_block(body, { r0 = idx("i0", 0), rows = Rb, cols = fixed_cols(c0 * W, W, d.p, half), vectors = Vb,
        m = d.m, k_loop = true, pf = pf(c0, "i0") })
      K.body[#K.body + 1] = { op = "loop", var = "i0", from = 0, to = n_main, step = Rb, body = body }
    else
      for r0 = 0, n_main - 1, Rb do
        rows_block(K.body, { r0 = idx(nil, r0), rows = Rb, cols = fixed_cols(c0 * W, W, d.p, half),
          vectors = Vb, m = d.m, k_loop = looped, pf = pf(c0, r0 == 0 and "first" or nil), bsrc = bsrc, brow = brow })
      end
    end
    if n_main < d.n then
      rows_block(K.body, { r0 = idx(nil, n_main), rows = d.n - n_main,
        cols = fixed_cols(c0 * W, W, d.p, half), vectors = Vb, m = d.m, k_loop = looped,
        pf = pf(c0, n_main == 0 and "first" or nil), bsrc = bsrc, brow = brow })
    end
  end
end

-- The flat form: C whole in registers, g rows per vector (variants.flat_rows); for each k,
-- one permute builds A's column k repeated along each row's p lanes, one B's row k repeated
-- per row, and one FMA per group adds their product. With d.swap (both operands transposed)
-- it computes C^T = B^T A^T from the operands' stored orders and stores C by permutes of the
-- accumulators (variants.flat_problem).
local function flat_form(K, W)
  local d = K.desc
  -- left (n x m) and right (m x p) operands of the product computed, where their elements lie
  local L, R, n, p
  if d.swap then
    L = { operand = "B", at = stored_at(false, d.p, d.m) }
    R = { operand = "A", at = stored_at(false, d.m, d.n) }
    n, p = d.p, d.n
  else
    L = { operand = "A", at = stored_at(d.trans_a, d.n, d.m), trans = d.trans_a }
    R = { operand = "B", at = stored_at(d.trans_b, d.m, d.p), trans = d.trans_b }
    n, p = d.n, d.p
  end
  local m = d.m
  local g = variants.flat_rows({ layout = d.layout, n = n, m = m, p = p }, W)
  local groups = {}
  for lo = 0, n - 1, g do groups[#groups + 1] = { lo = lo, rows = math.min(g, n - lo) } end
  local body = K.body
  -- the right operand whole in two sources, or transposed whole in up to four (its rows are
  -- not contiguous)
  local whole_r = m * p <= 2 * W or R.trans
  local rsrc = whole_r and sources(body, R.operand, 0, m * p, W, "bs") or nil
  -- the left by groups of rows; transposed (its rows not contiguous) whole, once, for every
  -- group (variants.lua admits it in one group, or in two sources)
  local lwhole = L.trans and sources(body, L.operand, 0, n * m, W, "as") or nil
  for gi, gr in ipairs(groups) do
    gr.afirst = lwhole and 0 or gr.lo * m   -- the element its sources start at
    gr.asrc = lwhole or sources(body, L.operand, gr.lo * m, gr.rows * m, W, name_of("as", gi - 1) .. "_")
  end
  for k = 0, m - 1 do
    local bk = {}   -- Bk per group size: lane r*p + j holds the right operand's (k, j)
    local src = whole_r and rsrc or sources(body, R.operand, k * p, p, W, name_of("br", k) .. "_")
    for gi, gr in ipairs(groups) do
      if not bk[gr.rows] then
        local lanes = {}
        for _ = 0, gr.rows - 1 do
          for j = 0, p - 1 do lanes[#lanes + 1] = whole_r and R.at(k, j) or j end
        end
        bk[gr.rows] = name_of("bk", k, gr.rows)
        body[#body + 1] = { op = "vdef", name = bk[gr.rows], value = perm(src, lanes) }
      end
      local lanes = {}
      for r = 0, gr.rows - 1 do
        for _ = 0, p - 1 do lanes[#lanes + 1] = L.at(gr.lo + r, k) - gr.afirst end
      end
      accumulate(body, name_of("acc", gi - 1), perm(gr.asrc, lanes), vref(bk[gr.rows]), k == 0)
    end
  end
  if not d.swap then
    for gi, gr in ipairs(groups) do
      vstore(body, idx(nil, gr.lo), idx(nil, 0), gr.rows * p, name_of("acc", gi - 1))
    end
    return
  end
  -- C[i, j] = C^T[j, i]: lane (j - lo)*d.n + i of the accumulator of the group holding row j
  local accs = {}
  for gi = 1, #groups do accs[gi] = name_of("acc", gi - 1) end
  for s = 0, ceil_div(d.n * d.p, W) - 1 do
    local first, lanes = s * W, {}
    for e = first, math.min(first + W, d.n * d.p) - 1 do
      local i, j = idiv(e, d.p), e % d.p
      local gi = idiv(j, g)
      lanes[#lanes + 1] = gi * W + (j - gi * g) * p + i
    end
    local name = name_of("ct", s)
    body[#body + 1] = { op = "vdef", name = name, value = perm(accs, lanes) }
    vstore(body, idx(nil, idiv(first, d.p)), idx(nil, first % d.p), #lanes, name)
  end
end

-- Several whole matrices per vector (contiguous batch-first: item g's A, B and C follow item
-- g-1's): G items' A and B are each loaded as at most two vectors, C is one vector of G*n*p
-- lanes, and each k adds Ak*Bk, lane (g, r, j) of Ak holding A_g[r, k] and of Bk B_g[k, j].
-- Tiny shapes whose C fills a fraction of a vector get every lane busy this way.
local function pk_form(K, W)
  local d = K.desc
  local G, body = d.tile, K.body
  local asrc = sources(body, "A", 0, G * d.n * d.m, W, "as")
  local bsrc = sources(body, "B", 0, G * d.m * d.p, W, "bs")
  local at, bt = stored_at(d.trans_a, d.n, d.m), stored_at(d.trans_b, d.m, d.p)
  for k = 0, d.m - 1 do
    local al, bl = {}, {}
    for g = 0, G - 1 do
      for r = 0, d.n - 1 do
        for j = 0, d.p - 1 do
          al[#al + 1] = g * d.n * d.m + at(r, k)
          bl[#bl + 1] = g * d.m * d.p + bt(k, j)
        end
      end
    end
    accumulate(body, "acc", perm(asrc, al), perm(bsrc, bl), k == 0)
  end
  vstore(body, idx(nil, 0), idx(nil, 0), G * d.n * d.p, "acc")
end

-- p = 1: C[i] = sum_k A[i, k] B[k]. Rows in blocks of R accumulators, m in vectors of W.
local function dot_form(K, W)
  local d, I = K.desc, isa[K.desc.isa]
  local body = K.body
  if d.layout == "sf" then body[#body + 1] = { op = "pack_bcol" } end
  local nv = ceil_div(d.m, W)
  local R = math.min(d.n, I.acc)
  for r0 = 0, d.n - 1, R do
    local Rb = math.min(R, d.n - r0)
    local blk = {}
    for v = 0, nv - 1 do
      local lanes = math.min(W, d.m - v * W)
      blk[#blk + 1] = { op = "vdef", name = name_of("b", v),
        value = { op = "vload", operand = "Bcol", row = idx(nil, 0), col = idx(nil, v * W), lanes = lanes } }
      for r = 0, Rb - 1 do
        local a = { op = "vload", operand = "A", row = idx(nil, r0 + r), col = idx(nil, v * W), lanes = lanes }
        accumulate(blk, name_of("acc", r), a, vref(name_of("b", v)), v == 0)
      end
    end
    for r = 0, Rb - 1 do
      local row, col = idx(nil, r0 + r), idx(nil, 0)
      blk[#blk + 1] = { op = "sstore", row = row, col = col, value = ir.epilogue(
        { op = "hsum", a = vref(name_of("acc", r)) }, { op = "load", operand = "C", row = row, col = col }) }
    end
    body[#body + 1] = { op = "block", body = blk }
  end
end

-- Across the batch (seq-first): SIMD lanes are W consecutive batch items, whose rows lie next
-- to each other in memory (batch stride = cols), so row i of W items is W*cols contiguous
-- elements: loaded as cols vectors and deinterleaved by permutes into one vector per column.
-- Every multiply-add then uses whole vectors, whatever the shape; C is interleaved back.
local function xb_form(K)
  local d = K.desc
  local body = K.body
  local function names(prefix, count)
    local t = {}
    for j = 0, count - 1 do t[#t + 1] = prefix .. "_" .. util.cint(j) end
    return t
  end
  for k = 0, d.m - 1 do
    body[#body + 1] = { op = "deint", operand = "B", row = idx(nil, k), cols = d.p, names = names(name_of("b", k), d.p) }
  end
  for i = 0, d.n - 1 do
    local blk = {}
    blk[#blk + 1] = { op = "deint", operand = "A", row = idx(nil, i), cols = d.m, names = names("a", d.m) }
    local accs, cold, values = names("acc", d.p), names("cold", d.p), {}
    for j = 0, d.p - 1 do
      for k = 0, d.m - 1 do
        accumulate(blk, accs[j + 1], vref("a_" .. util.cint(k)), vref(name_of("b", k) .. "_" .. util.cint(j)), k == 0)
      end
      values[j + 1] = ir.epilogue(vref(accs[j + 1]), vref(cold[j + 1]), true)
    end
    -- C's old values, deinterleaved: pruned by ir.simplify when the form does not read C
    blk[#blk + 1] = { op = "deint", operand = "C", row = idx(nil, i), cols = d.p, names = cold }
    blk[#blk + 1] = { op = "xstore", row = idx(nil, i), cols = d.p, values = values }
    body[#body + 1] = { op = "block", body = blk }
  end
end

M.idx, M.vref, M.name_of, M.accumulate, M.fold_sets = idx, vref, name_of, accumulate, fold_sets

local BUILD = {
  rows = function(K, W) rows_form(K, W, nil) end,
  rl = function(K, W) rows_form(K, W, K.desc.tile) end,
  flat = flat_form,
  pk = pk_form,
  dot = dot_form,
  xb = xb_form,
}

-- Permutes the emitter makes to deinterleave or interleave cols vectors (two sources each).
function M.shuffle_permutes(cols)
  if cols <= 1 then return 0 end
  return cols * ceil_div(cols, 2)
end

-- Cost per matrix (per group of W matrices for xb) from the IR: vector arithmetic ops
-- (fma, mul, add: the epilogue's included), vector loads (broadcasts too), stores, lane
-- permutes, and the accumulators a block keeps in registers.
function M.cost(K)
  local d = K.desc
  local c = ir.count(K.body, {
    vfma = "vops", vmul = "vops", vload = "loads", vbcast = "loads",
    -- x * y + z is one fused multiply-add (emit_simd.lua): its multiply was counted already
    vadd = function(e) return { vops = (e.a.op == "vmul" or e.b.op == "vmul") and 0 or 1 } end,
    -- four sources: two two-source permutes and a blend
    vperm = function(e) return { permutes = e.c and 3 or 1 } end, store = "stores", sstore = "stores",
    deint = function(s) return { loads = s.cols, permutes = M.shuffle_permutes(s.cols) } end,
    xstore = function(s) return { stores = s.cols, permutes = M.shuffle_permutes(s.cols) } end,
    pack_bcol = function() return { loads = d.m } end,
    tpanel = function() return { permutes = isa[d.isa][d.dtype].shuffles } end,
  })
  c.flops = 2 * d.n * d.m * d.p   -- useful flops, the definition of GFLOP/s
  return c
end

function M.build(desc)
  local W = isa[desc.isa].width[desc.dtype]
  local K = { desc = desc, body = {}, width = W }
  local build = BUILD[desc.kind] or error("vector: unknown form " .. tostring(desc.kind))
  build(K, W)
  if desc.prefetch then table.insert(K.body, 1, { op = "pnext" }) end
  return K
end

return M
