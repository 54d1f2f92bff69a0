-- anyshape.lua: kernel descriptor -> IR of a shape-generic kernel, whose n, m and p (those
-- the descriptor leaves 0) are read at run time while the register block and the vector width
-- are fixed. The blocks are vector.lua's and ir.lua's; around them, loops with run-time bounds
-- and tails:
--   rows (grows): blocks of R rows (then one block of the remaining rows) x V vectors along
--     p, the last 1..V vectors of a block row masked at run time (vmask), so no load or store
--     passes an operand's last element;
--   gvec (n = 1): the same with one row, twice as wide;
--   gdot (p = 1): R rows x one vector along m per step, the tail masked, horizontal sums; B's
--     column copied to a stack buffer first unless contiguous (BMM_NEEDS_PACKABLE_B);
--   gnt (B a transposed view: its columns contiguous): the same, R rows x C columns of B at
--     once, then the remaining columns in one narrower block;
--   gtile (portable C, any strides): an R x C scalar tile, then single rows and columns.
-- Bounds are C expressions over the run-time sizes; both emitters write them as given. Each
-- block of the rows forms is marked outline: emit_simd makes it a function of its own, which
-- runs on a chunk of items (the kernel is `chunked`: its template walks the batch a chunk at a
-- time), so a block's call, tail masks and set-up are paid once per chunk, not per item.
local util = require("util")
local ir = require("ir")
local vector = require("vector")
local isa = require("isa")
local variants = require("variants")

local M = {}

local idx, vref, name_of = vector.idx, vector.vref, vector.name_of

-- The sizes as the IR uses them: a number where fixed, else the run-time variable's name.
local function dims(d)
  local function of(k) return d[k] ~= 0 and d[k] or k end
  return { n = of("n"), m = of("m"), p = of("p") }
end

-- Heights of the row block after the whole blocks of R: every height below R, largest first.
-- Each is tried once; the first that fits takes all the remaining rows (fewer than R), so
-- they run as one block with one chain per row, not as 4 + 2 + 1.
local function tail_heights(R)
  local hs = {}
  for h = R - 1, 1, -1 do hs[#hs + 1] = h end
  return hs
end

-- Row blocks over i0 of n rows: block(h, r0) returns the statements of h rows at index r0.
local function row_blocks(body, n, R, block)
  if n == 1 then
    for _, s in ipairs(block(1, idx(nil, 0))) do body[#body + 1] = s end
    return
  end
  local r0 = idx("i0", 0)
  body[#body + 1] = { op = "decl", name = "i0", start = 0 }
  body[#body + 1] = { op = "loop", var = "i0", to = n, step = R, body = block(R, r0) }
  for _, h in ipairs(tail_heights(R)) do
    body[#body + 1] = { op = "loop", var = "i0", once = true, to = n, step = h, body = block(h, r0) }
  end
end

-- Independent accumulator chains a block needs to keep the FMA units busy (latency 4 x 2
-- units); a block with fewer takes turns along k with this many sets (at most 4).
local CHAINS = 8
local function splits(chains) return math.min(4, math.ceil(CHAINS / chains)) end

-- h rows at r0 x all of p, in vectors: whole blocks of V vectors, then a block of 1..V vectors
-- whose last one is masked to what is left of p; where the ISA has half-width registers
-- (isa.lua's `half`), a last vector of at most W / 2 lanes is held in one.
local function vector_rows(h, r0, V, W, m, p, half)
  local out = { { op = "decl", name = "j0", start = 0 } }
  local function cols(last_masked, narrow)
    return {
      idx = function(v) return idx("j0", v * W) end,
      lanes = function() return W end,
      mask = function(v) return v == last_masked and "mt" or nil end,
      width = function(v) return narrow and v == last_masked and W / 2 or nil end,
    }
  end
  local whole = {}
  vector.rows_block(whole, { r0 = r0, rows = h, cols = cols(-1), vectors = V, m = m, k_loop = true,
    splits = splits(h * V) })
  whole[#whole].outline = true
  out[#out + 1] = { op = "loop", var = "j0", to = p, step = V * W, body = whole }
  local arms = {}
  for v = V, 1, -1 do
    local before = (v - 1) * W   -- lanes of the whole vectors before the masked one
    -- more than W / 2 lanes left for the last vector, then (half-width) at most W / 2
    for _, narrow in ipairs(half and { false, true } or { false }) do
      local body = { { op = "vmask", name = "mt",
        count = before > 0 and ("p - j0 - " .. util.cint(before)) or "p - j0" } }
      vector.rows_block(body, { r0 = r0, rows = h, cols = cols(v - 1, narrow), vectors = v, m = m,
        k_loop = true, splits = splits(h * v) })
      body[#body].outline = true
      local least = before + ((half and not narrow) and W / 2 or 0)
      arms[#arms + 1] = { cond = "j0 + " .. util.cint(least) .. " < p", body = body }
    end
  end
  out[#out + 1] = { op = "cases", arms = arms }
  return out
end

local HSUMS = 8  -- the rows an hsums statement takes (bmm_simd.h's bmm__hsums8_*)

-- h rows at r0 of A times c columns of B, dot products along m: one accumulator per row and
-- column (per set: see splits), W elements of m per step, the tail masked. cols.load(cc, k,
-- mask) is the vector of column cc at k; cols.at(cc) its column index in C.
local function dot_block(h, r0, c, cols, W, m)
  local blk, S = {}, splits(h * c)
  local function acc(r, cc, s)
    if c == 1 then return s > 0 and name_of("acc", r, s) or name_of("acc", r) end
    return s > 0 and name_of("acc", r, cc) .. "_s" .. util.cint(s) or name_of("acc", r, cc)
  end
  local function bname(cc, s) return c == 1 and "b" .. util.cint(s) or name_of("b", cc, s) end
  for s = 0, S - 1 do
    for r = 0, h - 1 do
      for cc = 0, c - 1 do blk[#blk + 1] = { op = "vdef", name = acc(r, cc, s), value = { op = "vzero" } } end
    end
  end
  local function step(out, s, mask)
    for cc = 0, c - 1 do
      out[#out + 1] = { op = "vdef", name = bname(cc, s), value = cols.load(cc, idx("k", s * W), mask) }
    end
    for r = 0, h - 1 do
      local a = { op = "vload", operand = "A", row = idx(r0.var, r0.off + r), col = idx("k", s * W),
        lanes = W, mask = mask }
      if c > 1 then  -- A's vector feeds c multiply-adds: loaded once
        out[#out + 1] = { op = "vdef", name = name_of("a", r, s), value = a }
        a = vref(name_of("a", r, s))
      end
      for cc = 0, c - 1 do vector.accumulate(out, acc(r, cc, s), a, vref(bname(cc, s)), false) end
    end
    return out
  end
  blk[#blk + 1] = { op = "decl", name = "k", start = 0 }
  if S > 1 then
    local body = {}
    for s = 0, S - 1 do step(body, s, nil) end
    blk[#blk + 1] = { op = "loop", var = "k", to = m, step = S * W, body = body }
  end
  blk[#blk + 1] = { op = "loop", var = "k", to = m, step = W, body = step({}, 0, nil) }
  local tail = { { op = "vmask", name = "mt", count = "m - k" } }
  step(tail, 0, "mt")
  blk[#blk + 1] = { op = "cases", arms = { { cond = "k < m", body = tail } } }
  vector.fold_sets(blk, acc, h, c, S)
  local sums, at = {}, {}
  for r = 0, h - 1 do
    for cc = 0, c - 1 do sums[#sums + 1], at[#at + 1] = acc(r, cc, 0), { r = r, cc = cc } end
  end
  -- the sums HSUMS at once (hsums: a few instructions each where a lone hsum takes 8, which
  -- is most of the work when m is short); below 4 the lone sums cost less
  for g = 1, #sums, HSUMS do
    local n = math.min(HSUMS, #sums - g + 1)
    local into = #sums <= HSUMS and "hs" or "hs" .. util.cint(math.floor((g - 1) / HSUMS))
    if n >= 4 then
      local names = {}
      for i = 0, n - 1 do names[i + 1] = sums[g + i] end
      blk[#blk + 1] = { op = "hsums", names = names, into = into }
    end
    for i = 0, n - 1 do
      local row, col = idx(r0.var, r0.off + at[g + i].r), cols.at(at[g + i].cc)
      local sum = n >= 4 and { op = "ref", name = into .. "[" .. i .. "]" }
        or { op = "hsum", a = vref(sums[g + i]) }
      blk[#blk + 1] = { op = "sstore", row = row, col = col, value = ir.epilogue(
        sum, { op = "load", operand = "C", row = row, col = col }) }
    end
  end
  return { op = "block", body = blk }
end

-- h rows at r0 of A times B's column (p = 1; packed to the stack when strided).
local function dot_rows(h, r0, W, m)
  local col = {
    load = function(_, k, mask)
      return { op = "vload", operand = "Bcol", row = idx(nil, 0), col = k, lanes = W, mask = mask }
    end,
    at = function() return idx(nil, 0) end,
  }
  return { dot_block(h, r0, 1, col, W, m) }  -- one accumulator per row: inline is as fast
end

-- h rows at r0 of A times every column of a transposed B (its columns contiguous: rows of A
-- times rows of B^T, as Q K^T): blocks of C columns, then one block of the remaining ones.
local function dot_cols(h, r0, C, W, m, p)
  local function cols(c)
    return {
      load = function(cc, k, mask)
        return { op = "vload", operand = "B", row = k, col = idx("j0", cc), lanes = W, mask = mask }
      end,
      at = function(cc) return idx("j0", cc) end,
    }
  end
  local out = { { op = "decl", name = "j0", start = 0 } }
  out[#out + 1] = { op = "loop", var = "j0", to = p, step = C, body = { dot_block(h, r0, C, cols(C), W, m) } }
  for _, c in ipairs(tail_heights(C)) do
    out[#out + 1] = { op = "loop", var = "j0", once = true, to = p, step = c, body = { dot_block(h, r0, c, cols(c), W, m) } }
  end
  return out
end

-- h rows at r0 x all of p in scalars: tiles of C columns, then single columns.
local function scalar_rows(h, r0, C, m, p)
  local out = { { op = "decl", name = "j0", start = 0 } }
  local widths = C > 1 and { C, 1 } or { 1 }
  for _, w in ipairs(widths) do
    local t = {}
    ir.tile(t, m, h, w, r0.var, "j0", true)
    out[#out + 1] = { op = "loop", var = "j0", to = p, step = w, body = { { op = "block", body = t } } }
  end
  return out
end

-- Per form: the builder of a block of h rows at r0, and the block height R.
local BUILD = {
  grows = function(d, D, W)
    local half = isa[d.isa][d.dtype].half ~= nil
    return function(h, r0) return vector_rows(h, r0, d.vectors, W, D.m, D.p, half) end, d.tile
  end,
  gdot = function(d, D, W)
    return function(h, r0) return dot_rows(h, r0, W, D.m) end, d.tile
  end,
  gnt = function(d, D, W)
    return function(h, r0) return dot_cols(h, r0, d.tile_cols, W, D.m, D.p) end, d.tile
  end,
  gtile = function(d, D)
    return function(h, r0) return scalar_rows(h, r0, d.tile_cols, D.m, D.p) end, d.tile
  end,
}
BUILD.gvec = BUILD.grows  -- n = 1: one block of one row (its descriptor's tile is 1)

function M.build(desc)
  local D, W = dims(desc), isa[desc.isa].width[desc.dtype]
  local build = BUILD[desc.kind] or error("anyshape: unknown form " .. tostring(desc.kind))
  local block, R = build(desc, D, W)
  local body = {}
  if desc.kind == "gdot" then body[1] = { op = "pack_bcol" } end
  row_blocks(body, D.n, R, block)
  return { desc = desc, body = body, width = W, chunked = variants.FORMS[desc.kind].chunked }
end

return M
