-- vector.lua: kernel descriptor -> vector IR of one matrix product, for the SIMD emitters.
-- The same IR serves every vector ISA; only the width W and the register count differ.
--   expressions: vload{operand,row,col,lanes} vbcast{operand,row,col} vref{name} vzero
--                vfma{a,b,c} vmul{a,b} vperm{a,b?,idx}   (idx[l] indexes a ++ b)
--   statements:  vdef{name,value} vset{name,value} store{row,col,lanes,acc} (epilogue applied
--                by the emitter: alpha*acc + beta*C as the variant fixes), dot_store{row,col,acc}
--                (C = horizontal sum), pack_bcol{} (seq-first B column made contiguous),
--                loop{var,from,to,step,body} block{body}
--   index:       {var = loop variable or nil, off = integer}
-- Forms: rows (vectorize along p, broadcast A; R rows x V vectors of C per block),
-- rl<R> (the same block in loops past the unroll budget), flat (the whole small C in
-- registers, built with permutes, batch-first only), dot (p = 1: dot products along m),
-- xb (across the batch: lanes are consecutive seq-first batch items).
--   xb statements: deint{operand,row,cols,names} (row of W items -> one vector per column),
--                  xstore{row,cols,accs} (epilogue, interleave back, store)
local util = require("util")
local options = require("options")

local M = {}

-- Register file of each vector ISA: width per dtype, accumulators a block may hold, and
-- whether it has two-source lane permutes (the flat form needs them).
M.ISA = {
  avx2 = { width = { f32 = 8, f64 = 4 }, acc = 12, vmax = 2, permute = false },
  avx512 = { width = { f32 = 16, f64 = 8 }, acc = 24, vmax = 4, permute = true },
}

local function idx(var, off) return { var = var, off = off } end
local function idiv(a, b) return math.floor(a / b) end
local function ceil_div(a, b) return idiv(a + b - 1, b) end

local function new_kernel(desc, regs)
  return { desc = desc, body = {}, regs = regs,
    cost = { flops = 2 * desc.n * desc.m * desc.p, loads = 0, stores = 0, permutes = 0, vregs = regs } }
end

-- One R x V block of C at rows r0 (an index) and columns c0 .. c0 + V*W: for each k, V vector
-- loads of B's row k, one broadcast of A[r, k] per row, R*V fused multiply-adds.
local function rows_block(K, out, r0, R, c0, V, W, k_loop, weight)
  local d = K.desc
  local function acc(r, v) return "acc" .. r .. "_" .. v end
  local function lanes(v) return math.min(W, d.p - (c0 + v * W)) end
  local function step(kidx, first, body)
    -- temporaries are named per k when k is unrolled (one C scope holds them all)
    local sfx = kidx.var and "" or ("_" .. util.cint(kidx.off))
    for v = 0, V - 1 do
      body[#body + 1] = { op = "vdef", name = "b" .. v .. sfx,
        value = { op = "vload", operand = "B", row = kidx, col = idx(nil, c0 + v * W), lanes = lanes(v) } }
    end
    for r = 0, R - 1 do
      body[#body + 1] = { op = "vdef", name = "a" .. r .. sfx,
        value = { op = "vbcast", operand = "A", row = idx(r0.var, r0.off + r), col = kidx } }
      for v = 0, V - 1 do
        local prod = { op = "vref", name = "b" .. v .. sfx }
        local a = { op = "vref", name = "a" .. r .. sfx }
        if first then
          body[#body + 1] = { op = "vdef", name = acc(r, v), value = { op = "vmul", a = a, b = prod } }
        else
          body[#body + 1] = { op = "vset", name = acc(r, v), value = { op = "vfma",
            a = a, b = prod, c = { op = "vref", name = acc(r, v) } } }
        end
      end
    end
  end
  local blk = {}
  if k_loop then
    for r = 0, R - 1 do
      for v = 0, V - 1 do blk[#blk + 1] = { op = "vdef", name = acc(r, v), value = { op = "vzero" } } end
    end
    local lb = {}
    step(idx("k", 0), false, lb)
    blk[#blk + 1] = { op = "loop", var = "k", from = 0, to = d.m, step = 1, body = lb }
  else
    for k = 0, d.m - 1 do
      local sb = {}
      step(idx(nil, k), k == 0, sb)
      for _, s in ipairs(sb) do blk[#blk + 1] = s end
    end
  end
  for r = 0, R - 1 do
    for v = 0, V - 1 do
      blk[#blk + 1] = { op = "store", row = idx(r0.var, r0.off + r), col = idx(nil, c0 + v * W),
        lanes = lanes(v), acc = { op = "vref", name = acc(r, v) } }
    end
  end
  out[#out + 1] = { op = "block", body = blk }
  K.cost.loads = K.cost.loads + weight * (d.m * (V + R) + (d.scalars == "ab" and R * V or 0))
  K.cost.stores = K.cost.stores + weight * R * V
end

-- Blocks of V vectors across p; rows in blocks of R (the last block takes what is left).
local function rows_form(K, W, R, looped)
  local d, isa = K.desc, M.ISA[K.desc.isa]
  local nv = ceil_div(d.p, W)
  local V = math.min(nv, isa.vmax)
  for c0 = 0, nv - 1, V do
    local Vb = math.min(V, nv - c0)
    local Rb = R or math.max(1, math.min(d.n, idiv(isa.acc, Vb)))
    local n_main = d.n - d.n % Rb
    if looped and n_main > Rb then
      local body = {}
      rows_block(K, body, idx("i0", 0), Rb, c0 * W, Vb, W, true, idiv(n_main, Rb))
      K.body[#K.body + 1] = { op = "loop", var = "i0", from = 0, to = n_main, step = Rb, body = body }
    else
      for r0 = 0, n_main - 1, Rb do rows_block(K, K.body, idx(nil, r0), Rb, c0 * W, Vb, W, looped, 1) end
    end
    if n_main < d.n then
      rows_block(K, K.body, idx(nil, n_main), d.n - n_main, c0 * W, Vb, W, looped, 1)
    end
  end
end

-- Rows of C per vector in the flat form: g*p lanes of C, g rows of A in at most two vectors.
function M.flat_rows(d, W)
  if d.layout ~= "bf" or d.p > W or d.m > 2 * W then return 0 end
  return math.min(d.n, idiv(W, d.p), idiv(2 * W, d.m))
end

-- Two sources covering count contiguous elements starting at (row, 0) of a batch-first operand.
local function sources(K, out, operand, row, count, W, prefix)
  local names = {}
  for s = 0, ceil_div(count, W) - 1 do
    names[#names + 1] = prefix .. s
    out[#out + 1] = { op = "vdef", name = prefix .. s, value = { op = "vload", operand = operand,
      row = idx(nil, row), col = idx(nil, s * W), lanes = math.min(W, count - s * W) } }
    K.cost.loads = K.cost.loads + 1
  end
  return names
end

local function perm(names, lane_src)
  return { op = "vperm", a = { op = "vref", name = names[1] },
    b = names[2] and { op = "vref", name = names[2] } or nil, idx = lane_src }
end

local function flat_form(K, W)
  local d = K.desc
  local g = M.flat_rows(d, W)
  local groups = {}
  for lo = 0, d.n - 1, g do groups[#groups + 1] = { lo = lo, rows = math.min(g, d.n - lo) } end
  local body = K.body
  local whole_b = d.m * d.p <= 2 * W
  local bsrc = whole_b and sources(K, body, "B", 0, d.m * d.p, W, "bs") or nil
  for gi, gr in ipairs(groups) do
    gr.asrc = sources(K, body, "A", gr.lo, gr.rows * d.m, W, "as" .. (gi - 1) .. "_")
  end
  for k = 0, d.m - 1 do
    local bk = {}   -- Bk per group size: lane r*p + j holds B[k, j]
    local src = bsrc
    if not whole_b then
      src = sources(K, body, "B", k, d.p, W, "br" .. k .. "_")
    end
    for gi, gr in ipairs(groups) do
      if not bk[gr.rows] then
        local lanes = {}
        for r = 0, gr.rows - 1 do
          for j = 0, d.p - 1 do lanes[#lanes + 1] = (whole_b and k * d.p or 0) + j end
        end
        bk[gr.rows] = "bk" .. k .. "_" .. gr.rows
        body[#body + 1] = { op = "vdef", name = bk[gr.rows], value = perm(src, lanes) }
        K.cost.permutes = K.cost.permutes + 1
      end
      local lanes = {}
      for r = 0, gr.rows - 1 do
        for _ = 0, d.p - 1 do lanes[#lanes + 1] = r * d.m + k end
      end
      local acc = "acc" .. (gi - 1)
      local prod = { a = perm(gr.asrc, lanes), b = { op = "vref", name = bk[gr.rows] } }
      K.cost.permutes = K.cost.permutes + 1
      if k == 0 then
        body[#body + 1] = { op = "vdef", name = acc, value = { op = "vmul", a = prod.a, b = prod.b } }
      else
        body[#body + 1] = { op = "vset", name = acc, value = { op = "vfma", a = prod.a, b = prod.b,
          c = { op = "vref", name = acc } } }
      end
    end
  end
  for gi, gr in ipairs(groups) do
    body[#body + 1] = { op = "store", row = idx(nil, gr.lo), col = idx(nil, 0), lanes = gr.rows * d.p,
      acc = { op = "vref", name = "acc" .. (gi - 1) } }
    K.cost.stores = K.cost.stores + 1
    if d.scalars == "ab" then K.cost.loads = K.cost.loads + 1 end
  end
  K.cost.vregs = #groups * 2 + (bsrc and #bsrc or 1) + 2
end

-- p = 1: C[i] = sum_k A[i, k] B[k]. Rows in blocks of R accumulators, m in vectors of W.
local function dot_form(K, W)
  local d, isa = K.desc, M.ISA[K.desc.isa]
  local body = K.body
  if d.layout == "sf" then body[#body + 1] = { op = "pack_bcol" } end
  local nv = ceil_div(d.m, W)
  local R = math.min(d.n, isa.acc)
  for r0 = 0, d.n - 1, R do
    local Rb = math.min(R, d.n - r0)
    local blk = {}
    for v = 0, nv - 1 do
      local lanes = math.min(W, d.m - v * W)
      blk[#blk + 1] = { op = "vdef", name = "b" .. v,
        value = { op = "vload", operand = "Bcol", row = idx(nil, 0), col = idx(nil, v * W), lanes = lanes } }
      for r = 0, Rb - 1 do
        local a = { op = "vload", operand = "A", row = idx(nil, r0 + r), col = idx(nil, v * W), lanes = lanes }
        local b = { op = "vref", name = "b" .. v }
        local acc = "acc" .. r
        if v == 0 then
          blk[#blk + 1] = { op = "vdef", name = acc, value = { op = "vmul", a = a, b = b } }
        else
          blk[#blk + 1] = { op = "vset", name = acc,
            value = { op = "vfma", a = a, b = b, c = { op = "vref", name = acc } } }
        end
      end
    end
    for r = 0, Rb - 1 do
      blk[#blk + 1] = { op = "dot_store", row = idx(nil, r0 + r), col = idx(nil, 0),
        acc = { op = "vref", name = "acc" .. r } }
    end
    body[#body + 1] = { op = "block", body = blk }
  end
  K.cost.loads = d.n * nv + nv + (d.layout == "sf" and d.m or 0)
  K.cost.stores = d.n
  K.cost.vregs = R + 2
end

-- Across the batch (seq-first): SIMD lanes are W consecutive batch items, whose rows lie next
-- to each other in memory (batch stride = cols), so row i of W items is W*cols contiguous
-- elements: loaded as cols vectors and deinterleaved by permutes into one vector per column.
-- Every multiply-add then uses whole vectors, whatever the shape; C is interleaved back.
function M.xb_applies(pr, isa)
  return M.ISA[isa].permute and pr.layout == "sf" and pr.m <= 8 and pr.p <= 8 and pr.m * pr.p <= 40
end

local function xb_form(K, W)
  local d = K.desc
  local body = K.body
  local function names(prefix, count)
    local t = {}
    for j = 0, count - 1 do t[#t + 1] = prefix .. "_" .. j end
    return t
  end
  for k = 0, d.m - 1 do
    body[#body + 1] = { op = "deint", operand = "B", row = idx(nil, k), cols = d.p, names = names("b" .. k, d.p) }
  end
  for i = 0, d.n - 1 do
    local blk = {}
    blk[#blk + 1] = { op = "deint", operand = "A", row = idx(nil, i), cols = d.m, names = names("a", d.m) }
    local accs = names("acc", d.p)
    for j = 0, d.p - 1 do
      for k = 0, d.m - 1 do
        local a, b = { op = "vref", name = "a_" .. k }, { op = "vref", name = "b" .. k .. "_" .. j }
        if k == 0 then
          blk[#blk + 1] = { op = "vdef", name = accs[j + 1], value = { op = "vmul", a = a, b = b } }
        else
          blk[#blk + 1] = { op = "vset", name = accs[j + 1],
            value = { op = "vfma", a = a, b = b, c = { op = "vref", name = accs[j + 1] } } }
        end
      end
    end
    blk[#blk + 1] = { op = "xstore", row = idx(nil, i), cols = d.p, accs = accs }
    body[#body + 1] = { op = "block", body = blk }
  end
  -- per group of W matrices: deinterleaving costs about cols/2 permutes per vector made
  local perms = function(c) return c * math.max(1, ceil_div(c, 2)) end
  K.cost.loads = d.m * d.p + d.n * d.m + (d.scalars == "ab" and d.n * d.p or 0)
  K.cost.stores = d.n * d.p
  K.cost.permutes = d.m * perms(d.p) + d.n * perms(d.m) + d.n * perms(d.p) * (d.scalars == "ab" and 2 or 1)
  K.cost.vregs = d.m * d.p + d.m + d.p + 2
  K.per = "group of " .. util.cint(W) .. " matrices"
end

-- Which vector forms apply to a problem on an ISA (the search space of variants.lua).
function M.forms(pr, isa, budget)
  local W = M.ISA[isa].width[pr.dtype]
  -- p = 1: one lane of each vector would do work; dot products along m instead
  if pr.p == 1 then return { "dot" } end
  local out = {}
  -- The budget counts scalar multiply-adds; a vector one does W of them, but a function of
  -- budget/W vector FMAs would outgrow the instruction cache, so vectors get a quarter.
  if pr.n * pr.m * ceil_div(pr.p, W) <= idiv(budget, 4) then
    out[#out + 1] = "rows"
  else
    local V = math.min(ceil_div(pr.p, W), M.ISA[isa].vmax)
    local R = idiv(M.ISA[isa].acc, V)
    out[#out + 1] = "rl" .. util.cint(R)
    if idiv(R, 2) >= 2 then out[#out + 1] = "rl" .. util.cint(idiv(R, 2)) end
  end
  if pr.layout == "sf" and pr.n * pr.m * pr.p >= options.prefetch_min_madds then
    local base = #out
    for i = 1, base do out[#out + 1] = out[i] .. "_pf" end
  end
  if M.ISA[isa].permute and M.flat_rows({ layout = pr.layout, n = pr.n, m = pr.m, p = pr.p }, W) > 1
    and pr.p < W then
    out[#out + 1] = "flat"
  end
  if M.xb_applies(pr, isa) then out[#out + 1] = "xb" end
  return out
end

function M.build(desc)
  local W = M.ISA[desc.isa].width[desc.dtype]
  local K = new_kernel(desc, 0)
  K.width = W
  -- a "_pf" form is its twin plus prefetches of the next batch item (emitted in emit_simd)
  local form = desc.form:gsub("_pf$", "")
  K.prefetch = form ~= desc.form
  if form == "rows" then
    rows_form(K, W, nil, false)
    local V = math.min(ceil_div(desc.p, W), M.ISA[desc.isa].vmax)
    K.cost.vregs = math.min(desc.n, idiv(M.ISA[desc.isa].acc, V)) * V + V + 1
  elseif form:match("^rl%d+$") then
    local R = tonumber(form:sub(3))
    local V = math.min(ceil_div(desc.p, W), M.ISA[desc.isa].vmax)
    rows_form(K, W, R, true)
    K.cost.vregs = R * V + V + 1
  elseif form == "flat" then
    flat_form(K, W)
  elseif form == "dot" then
    dot_form(K, W)
  elseif form == "xb" then
    xb_form(K, W)
  else
    error("vector: unknown form " .. tostring(desc.form))
  end
  return K
end

return M
