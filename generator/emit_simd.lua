-- emit_simd.lua: vector IR -> C99 with intrinsics. The ISA's table (isa.lua) spells every
-- intrinsic; everything else is shared. Constants (alpha, beta, lane masks, permute indices)
-- are hoisted out of the batch loop.
local util = require("util")
local isa = require("isa")
local c99 = require("emit_c99")
local compat = require("compat")

local M = {}

local function idiv(a, b) return math.floor(a / b) end

-- Emission state of one kernel: the ISA tables, the row strides used, hoisted constants.
local function state(kernel)
  local d = kernel.desc
  local I = isa[d.isa]
  return { d = d, isa = I, t = I[d.dtype], w = I.width[d.dtype], used = {}, consts = {},
    const_order = {}, helpers = {}, chunked = kernel.chunked, wof = {} }
end

-- The dtype table (isa.lua) of a vector of w lanes: the ISA's own, or its half-width one.
local function tw(S, w)
  if not w or w == S.w then return S.t end
  return S.t.half or error("emit_simd: no " .. w .. "-lane registers on " .. S.d.isa)
end

-- The lanes of the register an expression's value is held in: nil for the ISA's width, or a
-- narrower width (vector.lua's `width`) that its operands take on; nil too for values any
-- width can take (broadcasts, zeros, constants: ask for them at the width needed).
local function width_of(S, e)
  if e.op == "vref" then return S.wof[e.name] end
  if e.op == "vload" or e.op == "vzero" or e.op == "vbcast" then return e.width end
  if e.op == "vmul" or e.op == "vadd" or e.op == "vfma" then
    local w
    for _, f in ipairs({ "a", "b", "c" }) do
      local x = e[f] and width_of(S, e[f])
      if x and (not w or x < w) then w = x end
    end
    return w
  end
  return nil
end

local function const(S, ctype, name, init, prefix)
  local key = ctype .. " " .. init
  if not S.consts[key] then
    if not name then name = (prefix or "ix") .. util.cint(#S.const_order) end
    S.consts[key] = name
    S.const_order[#S.const_order + 1] = "    const " .. ctype .. " " .. name .. " = " .. init .. ";"
  end
  return S.consts[key]
end

local function mask(S, lanes, t)
  t = t or S.t
  return const(S, t.mt, (t.mt == S.t.mt and "mask" or "maskh") .. util.cint(lanes), S.isa.mask(t, S.w, lanes))
end

-- A run-time mask for a half-width register (its type is the full width's)
local function narrow_mask(S, t, maskvar)
  if t.mt == S.t.mt then return maskvar end
  return "(" .. t.mt .. ")" .. maskvar
end

local function ptr(S, operand, row, col)
  if operand == "Bcol" then  -- B's one column, contiguous (packed if it was not)
    local base = S.d.anyshape and "bk" or S.d.layout == "sf" and "bcol" or "b"
    if col.var then
      return "&" .. base .. "[" .. col.var .. (col.off ~= 0 and (" + " .. util.cint(col.off)) or "") .. "]"
    end
    return "&" .. base .. "[" .. util.cint(col.off) .. "]"
  end
  return "&" .. c99.address(S.d, S.used, operand, row, col)
end

local function opt(t, name, ...)  -- t.pre .. name .. "_" .. t.sfx (args)
  return t.pre .. name .. "_" .. t.sfx .. "(" .. table.concat({ ... }, ", ") .. ")"
end
local function op(S, name, ...) return opt(S.t, name, ...) end

-- maskvar: a vmask's name, when the lanes are known at run time only. stored: an element
-- offset in the item's storage instead of (row, col) (vector.lua's whole-matrix sources).
-- width: the lanes of a half-width register to load into (nil: the ISA's width).
local function load(S, operand, row, col, lanes, maskvar, stored, width)
  local p = stored and ("&" .. operand:lower() .. "[" .. util.cint(stored) .. "]")
    or ptr(S, operand, row, col)
  local t = tw(S, width)
  if maskvar then return S.isa.mload(t, narrow_mask(S, t, maskvar), p) end
  if lanes >= (width or S.w) then return opt(t, "loadu", p) end
  return S.isa.mload(t, mask(S, lanes, t), p)
end

local function perm_index(S, lanes)
  local l = {}
  for i = S.w, 1, -1 do l[#l + 1] = util.cint(lanes[i] or 0) end   -- set_*: last lane first
  return const(S, S.isa.index_type, nil, S.t.idx .. "(" .. table.concat(l, ", ") .. ")")
end

-- One source's lanes moved by an instruction cheaper than a full permute with an index vector,
-- when the pattern allows (AVX-512; lanes not listed are free): within each 128-bit block
-- (vpermilps/pd, the same pattern in every block for f32), or whole 128-bit blocks
-- (vshuff32x4/64x2). nil when neither fits.
local function cheap_perm(S, lanes, src)
  if S.d.isa ~= "avx512" then return nil end
  local per = S.d.dtype == "f32" and 4 or 2   -- elements per 128-bit block
  local inlane, q, blocks, sb = true, {}, true, {}
  for l = 0, S.w - 1 do
    local v = lanes[l + 1]
    if v then
      local b, i = idiv(l, per), l % per
      if idiv(v, per) ~= b then inlane = false end
      local key = per == 4 and i or l   -- f64's immediate has a bit per lane
      if q[key] and q[key] ~= v % per then inlane = false end
      q[key] = v % per
      if v % per ~= i or (sb[b] and sb[b] ~= idiv(v, per)) then blocks = false end
      sb[b] = idiv(v, per)
    end
  end
  if inlane then
    local imm = 0
    for key = 0, (per == 4 and 3 or S.w - 1) do
      imm = imm + (q[key] or (per == 4 and key or key % 2)) * (per == 4 and 4 ^ key or 2 ^ key)
    end
    return op(S, "permute", src, util.cint(math.floor(imm)))
  end
  if blocks then
    local imm = 0
    for b = 0, 3 do imm = imm + (sb[b] or b) * 4 ^ b end
    return S.t.shuf128 .. "(" .. src .. ", " .. src .. ", " .. util.cint(math.floor(imm)) .. ")"
  end
  return nil
end

local function vparam(S, name)
  S.used[name] = true
  return const(S, S.t.vt, "v" .. name, op(S, "set1", name))
end

-- A full-width value's low w lanes (free: the register's low half)
local function narrowed(S, v, w)
  if not w or w == S.w then return v end
  return tw(S, w).cast .. "(" .. v .. ")"
end

local expr

-- x * y + z as one fused multiply-add, else x + y. The right-hand product is fused first:
-- for alpha*acc + beta*C that is fmadd(beta, C, alpha*acc), measured 5-8% faster than the
-- other way on 5x7x3 and 13x13x13 f32 (Zen 4).
local function vadd(S, e, w)
  local t = tw(S, w)
  for _, pair in ipairs({ { e.b, e.a }, { e.a, e.b } }) do
    local prod, other = pair[1], pair[2]
    if prod.op == "vmul" then
      return opt(t, "fmadd", expr(S, prod.a, w), expr(S, prod.b, w), expr(S, other, w))
    end
  end
  return opt(t, "add", expr(S, e.a, w), expr(S, e.b, w))
end

-- Scalar expressions of the IR (the dot form's epilogue), as the portable emitter writes them.
local function scalar(S, e)
  return c99.expr(S.d, S.used, e, function(x)
    if x.op == "hsum" then return S.isa.hsum(S.t, expr(S, x.a)) end
  end)
end

-- w: the lanes of the register the value is wanted in (nil: the ISA's width); a value held
-- wider is narrowed (its low lanes).
function expr(S, e, w)
  local t = tw(S, w)
  if e.op == "vref" then
    local held = S.wof[e.name]
    if held == w then return e.name end
    assert(not held or (w and w < held), "emit_simd: a half-width vector used at full width")
    return narrowed(S, e.name, w)
  elseif e.op == "vzero" then return opt(t, "setzero")
  elseif e.op == "vparam" then return narrowed(S, vparam(S, e.name), w)
  elseif e.op == "vconst" then  -- a value an alpha/beta form fixed, in every lane
    return narrowed(S, const(S, S.t.vt, nil, op(S, "set1", util.cfloat(e.value, S.d.dtype)), "vk"), w)
  elseif e.op == "vload" then
    assert(e.width == w or not e.width, "emit_simd: a half-width load used at full width")
    local v = load(S, e.operand, e.row, e.col, e.lanes, e.mask, e.stored, e.width)
    return e.width == w and v or narrowed(S, v, w)
  elseif e.op == "vbcast" then return opt(t, "set1", c99.address(S.d, S.used, e.operand, e.row, e.col))
  elseif e.op == "vmul" then return opt(t, "mul", expr(S, e.a, w), expr(S, e.b, w))
  elseif e.op == "vfma" then return opt(t, "fmadd", expr(S, e.a, w), expr(S, e.b, w), expr(S, e.c, w))
  elseif e.op == "vadd" then return vadd(S, e, w)
  elseif e.op == "vperm" and e.c then
    -- four sources: a two-source permute of each pair, blended where a lane's source is in
    -- the second pair (permutex2var reads an index's low bits: one index vector serves both)
    local hi, lo_used = 0, false
    for l = 1, S.w do
      local v = e.idx[l]
      if v and v >= 2 * S.w then hi = hi + 2 ^ (l - 1) elseif v then lo_used = true end
    end
    if hi == 0 then return expr(S, { op = "vperm", a = e.a, b = e.b, idx = e.idx }) end
    local ix = perm_index(S, e.idx)
    local second = op(S, "permutex2var", expr(S, e.c), ix, expr(S, e.d or e.c))
    if not lo_used then return second end
    return op(S, "mask_blend", "(" .. S.t.mt .. ")" .. string.format("0x%X", math.floor(hi)),
      op(S, "permutex2var", expr(S, e.a), ix, expr(S, e.b or e.a)), second)
  elseif e.op == "vperm" then
    local one = not e.b
    if e.b then   -- every lane from the first source: a one-source permute
      one = true
      for l = 1, S.w do if e.idx[l] and e.idx[l] >= S.w then one = false end end
    end
    if one then
      local src = expr(S, e.a)
      return cheap_perm(S, e.idx, src) or op(S, "permutexvar", perm_index(S, e.idx), src)
    end
    return op(S, "permutex2var", expr(S, e.a), perm_index(S, e.idx), expr(S, e.b))
  end
  return scalar(S, e)
end

-- Lane shuffles of the across-batch form. srcs: names of c vectors holding W groups of c
-- elements each (group t = one matrix). lane_source(l) -> (source vector, lane) of output
-- lane l. Pairs of sources go through permutex2var, pair results are merged by masked blends
-- (vector.lua's shuffle_permutes counts them).
local function shuffle(S, out, indent, dst, srcs, lane_source)
  local t, W = S.t, S.w
  local per_pair = {}
  for l = 0, W - 1 do
    local reg, lane = lane_source(l)
    local q = idiv(reg, 2)
    per_pair[q] = per_pair[q] or { idx = {}, mask = 0 }
    per_pair[q].idx[l + 1] = (reg - 2 * q) * W + lane
    per_pair[q].mask = per_pair[q].mask + 2 ^ l
  end
  local expr_of = nil
  for q = 0, idiv(#srcs - 1, 2) do
    local pp = per_pair[q]
    if pp then
      local lanes = {}
      for l = 1, W do lanes[l] = pp.idx[l] or 0 end
      local ix = perm_index(S, lanes)
      local e
      if srcs[2 * q + 2] then
        e = op(S, "permutex2var", srcs[2 * q + 1], ix, srcs[2 * q + 2])
      else
        e = op(S, "permutexvar", ix, srcs[2 * q + 1])
      end
      if expr_of then
        local mk = const(S, t.mt, nil, "(" .. t.mt .. ")" .. string.format("0x%X", math.floor(pp.mask)), "km")
        e = op(S, "mask_blend", mk, expr_of, e)
      end
      expr_of = e
    end
  end
  out[#out + 1] = indent .. t.vt .. " " .. dst .. " = " .. expr_of .. ";"
end

-- Row `row` of W consecutive items: cols vectors loaded, deinterleaved into names[k + 1].
local function deinterleave(S, out, indent, s)
  local t, W, cols = S.t, S.w, s.cols
  if cols == 1 then
    out[#out + 1] = indent .. t.vt .. " " .. s.names[1] .. " = " .. load(S, s.operand, s.row, { off = 0 }, W) .. ";"
    return
  end
  local srcs, tmp = {}, s.names[1] .. "_s"
  for r = 0, cols - 1 do
    srcs[r + 1] = tmp .. util.cint(r)
    out[#out + 1] = indent .. t.vt .. " " .. srcs[r + 1] .. " = "
      .. load(S, s.operand, s.row, { off = r * W }, W) .. ";"
  end
  for k = 0, cols - 1 do
    shuffle(S, out, indent, s.names[k + 1], srcs, function(l)
      local e = l * cols + k
      return idiv(e, W), e % W
    end)
  end
end

-- One vector per column of C for W items -> interleaved back and stored.
local function interleave_store(S, out, indent, s)
  local t, W, srcs = S.t, S.w, {}
  for j, v in ipairs(s.values) do
    if v.op == "vref" then srcs[j] = v.name else
      srcs[j] = "e_" .. util.cint(j - 1)
      out[#out + 1] = indent .. t.vt .. " " .. srcs[j] .. " = " .. expr(S, v) .. ";"
    end
  end
  if s.cols == 1 then
    out[#out + 1] = indent .. op(S, "storeu", ptr(S, "C", s.row, { off = 0 }), srcs[1]) .. ";"
    return
  end
  for r = 0, s.cols - 1 do
    local o = "o_" .. util.cint(r)
    shuffle(S, out, indent, o, srcs, function(l)
      local e = r * W + l
      return e % s.cols, idiv(e, s.cols)
    end)
    out[#out + 1] = indent .. op(S, "storeu", ptr(S, "C", s.row, { off = r * W }), o) .. ";"
  end
end

-- Pointers to the next batch item's operands (this item's when it is the last: prefetching
-- it again is harmless, while an address past the operands would not be).
local function prefetch_next(S, out, indent)
  local ct = S.d.ctype
  for _, o in ipairs({ "a", "b", "c" }) do
    out[#out + 1] = string.format("%sconst %s *n%s = t + 1 < g->batch ? %s + g->s%s_batch : %s;",
      indent, ct, o, o, o, o)
  end
end

-- Every line of count rows of the next item's operand from row on, and each row's last byte,
-- into L2 (write: C, for writing).
local function prefetch_rows(S, out, indent, s)
  local o = s.operand:lower()
  S.used["s" .. o .. "_row"] = true
  local inner = indent
  if s.when_zero then
    out[#out + 1] = indent .. "if (" .. s.when_zero .. " == 0) {"
    inner = indent .. "    "
  end
  for r = 0, s.count - 1 do
    local row = s.row.var and ("(" .. s.row.var .. (s.row.off + r ~= 0 and (" + " .. util.cint(s.row.off + r)) or "") .. ")")
      or util.cint(s.row.off + r)
    local base = "(const char *)(n" .. o .. " + " .. row .. " * s" .. o .. "_row)"
    local offs = {}
    for off = 0, s.bytes - 1, S.isa.line_bytes do offs[#offs + 1] = off end
    offs[#offs + 1] = s.bytes - 1
    for _, off in ipairs(offs) do
      out[#out + 1] = inner .. S.isa.prefetch_l2(base .. " + " .. util.cint(off), s.write) .. ";"
    end
  end
  if s.when_zero then out[#out + 1] = indent .. "}" end
end

local block

-- The loop variables and run-time masks a block uses but does not define: what an outlined
-- block takes as parameters besides the operands, sizes, strides and scalars.
local function free_names(body)
  local defined, used = {}, {}
  local function visit(node)
    if node.op == "loop" then defined[node.var] = true end
    if node.op == "decl" or node.op == "vmask" then defined[node.name] = true end
    if node.op == nil and node.off ~= nil and node.var then used[node.var] = true end  -- an index
    if node.mask then used[node.mask] = true end
    for _, v in pairs(node) do
      if type(v) == "table" then visit(v) end
    end
  end
  for _, st in ipairs(body) do visit(st) end
  local vars, masks = {}, {}
  for _, name in ipairs(compat.sorted_keys(used)) do
    if not defined[name] then
      if name == "i0" or name == "j0" then vars[#vars + 1] = name else masks[#masks + 1] = name end
    end
  end
  return vars, masks
end

-- A register block as a function of its own (BMM_CHUNK_BLOCK, noinline), called from a
-- chunked kernel (anyshape.lua outlines the rows forms' blocks): the compiler allocates
-- registers per block (blocks of different widths in one function made GCC 12 spill around
-- every block: 8x8x8 f32 in 36 ns per matrix instead of 22, Zen 4), and the block runs on cnt
-- items, one after another, reading the sizes, strides and scalars from g itself: a call per
-- item cost 9x9x9 f32 a third of its time (28 -> 42 GFLOP/s with chunks of 16 items, Zen 4).
local function outline(S, s, indent, out)
  assert(S.chunked, "emit_simd: an outlined block outside a chunked kernel")
  local d, t, ct = S.d, S.t, S.d.ctype
  local name = d.name .. "_blk" .. util.cint(#S.helpers)
  local S2 = state({ desc = d })
  local lines = {}
  block(S2, s.body, "        ", lines)
  local vars, masks = free_names(s.body)
  local params, args = { "const " .. ct .. " *BMM_RESTRICT a", "const " .. ct
    .. " *BMM_RESTRICT b", ct .. " *BMM_RESTRICT c" }, { "a", "b", "c" }
  local function param(ctype, n) params[#params + 1] = ctype .. " " .. n; args[#args + 1] = n end
  param("const bmm_args *BMM_RESTRICT", "g")
  param("int64_t", "cnt")
  local scalars = {}
  for _, dim in ipairs({ "n", "m", "p" }) do
    if d[dim] == 0 then scalars[#scalars + 1] = { "int64_t", dim } end
  end
  for _, v in ipairs({ "sa_row", "sb_row", "sc_row", "sa_col", "sb_col", "alpha", "beta" }) do
    if S2.used[v] then scalars[#scalars + 1] = { (v == "alpha" or v == "beta") and ct or "int64_t", v } end
  end
  for _, v in ipairs({ "sa_batch", "sb_batch", "sc_batch" }) do scalars[#scalars + 1] = { "int64_t", v } end
  -- the constants in the loop too: hoisted, GCC 12 spilled a B vector in the loop over k
  local head = { "    do {  /* cnt >= 1 */" }
  for _, l in ipairs(S2.const_order) do head[#head + 1] = "    " .. l end
  for i = #head, 1, -1 do table.insert(lines, 1, head[i]) end
  for _, o in ipairs({ "a", "b", "c" }) do lines[#lines + 1] = "        " .. o .. " += s" .. o .. "_batch;" end
  lines[#lines + 1] = "    } while (--cnt > 0);"
  local body = table.concat(lines, "\n")
  for _, v in ipairs(vars) do param("int64_t", v) end
  for _, m in ipairs(masks) do param(t.mt, m) end
  local text = { "static BMM_CHUNK_BLOCK " .. S.isa.target .. " void " .. name .. "("
    .. table.concat(params, ", ") .. ")", "{" }
  for i = 6, #args do text[#text + 1] = "    (void)" .. args[i] .. ";" end  -- after g and cnt
  for _, sc in ipairs(scalars) do  -- those the block reads
    if body:find("%f[%w_]" .. sc[2] .. "%f[^%w_]") then
      text[#text + 1] = "    const " .. sc[1] .. " " .. sc[2] .. " = " ..
        (sc[1] == ct and ("(" .. ct .. ")") or "") .. "g->" .. sc[2] .. ";"
    end
  end
  text[#text + 1] = body
  text[#text + 1] = "}"
  S.helpers[#S.helpers + 1] = table.concat(text, "\n")
  out[#out + 1] = indent .. name .. "(" .. table.concat(args, ", ") .. ");"
end

local STATEMENT = {
  vdef = function(S, s, indent, out)
    local w = width_of(S, s.value)
    S.wof[s.name] = w
    out[#out + 1] = indent .. tw(S, w).vt .. " " .. s.name .. " = " .. expr(S, s.value, w) .. ";"
  end,
  vset = function(S, s, indent, out)
    out[#out + 1] = indent .. s.name .. " = " .. expr(S, s.value, S.wof[s.name]) .. ";"
  end,
  store = function(S, s, indent, out)
    local t = tw(S, s.width)
    local v, p = expr(S, s.value, s.width), ptr(S, "C", s.row, s.col)
    if s.mask then
      out[#out + 1] = indent .. S.isa.mstore(t, narrow_mask(S, t, s.mask), p, v) .. ";"
    elseif s.lanes >= (s.width or S.w) then
      out[#out + 1] = indent .. opt(t, "storeu", p, v) .. ";"
    else
      out[#out + 1] = indent .. S.isa.mstore(t, mask(S, s.lanes, t), p, v) .. ";"
    end
  end,
  hsums = function(S, s, indent, out)  -- up to 8 vectors' sums into s.into[0..7]
    local args = {}
    for r = 1, 8 do args[r] = s.names[r] or op(S, "setzero") end
    out[#out + 1] = indent .. S.d.ctype .. " " .. s.into .. "[8];"
    out[#out + 1] = indent .. S.isa.hsums(S.t, s.into, table.concat(args, ", ")) .. ";"
  end,
  tpanel = function(S, s, indent, out)  -- rows transposed in registers (bmm_simd.h)
    local rows = {}
    for j = 1, S.w do rows[j] = s.values[j] and expr(S, s.values[j]) or op(S, "setzero") end
    out[#out + 1] = indent .. S.t.vt .. " " .. s.name .. "[" .. util.cint(S.w) .. "] = { "
      .. table.concat(rows, ", ") .. " };"
    out[#out + 1] = indent .. S.t.transpose .. "(" .. s.name .. ");"
  end,
  sstore = function(S, s, indent, out)
    out[#out + 1] = indent .. c99.address(S.d, S.used, "C", s.row, s.col) .. " = " .. expr(S, s.value) .. ";"
  end,
  deint = function(S, s, indent, out) deinterleave(S, out, indent, s) end,
  xstore = function(S, s, indent, out) interleave_store(S, out, indent, s) end,
  pnext = function(S, _, indent, out) prefetch_next(S, out, indent) end,
  pfetch = function(S, s, indent, out) prefetch_rows(S, out, indent, s) end,
  vmask = function(S, s, indent, out)
    out[#out + 1] = indent .. "const " .. S.t.mt .. " " .. s.name .. " = "
      .. S.isa.rmask(S.t, S.w, s.count) .. ";"
  end,
  -- A strided B column (p = 1, seq-first) copied to the stack. The shape-generic kernels copy
  -- W adjacent items' columns at once where they lie side by side, by bmm_simd.h's transposing
  -- pack_bcols (item by item, one element per load and store, ran seq-first 10x256x1 at 0.5x
  -- of batch-first); bk points at this item's. The specialized ones copy item by item to bcol,
  -- at fixed stack offsets: the group code cost their unrolled rows 0.75x (GCC then kept
  -- hundreds of row addresses on the stack, f64 64x128x1), and gdot runs these shapes faster.
  pack_bcol = function(S, _, indent, out)
    S.used.sb_row = true
    S.pack = true
    if S.d.anyshape then  -- m at run time: the runtime checks it fits the buffer
      local ct, W = S.d.ctype, util.cint(S.w)
      for _, l in ipairs({
        "const " .. ct .. " *bk = b;",
        "if (sb_row != 1) {",
        -- a group of W / 4 items or fewer costs more than their copies one by one (measured)
        "    if (bleft == 0 && g->sb_batch == 1 && bld <= (int64_t)(BMM_PACK_BYTES / (" .. W
          .. " * sizeof(" .. ct .. "))) && g->batch - t > " .. util.cint(math.floor(S.w / 4)) .. ") {",
        "        bleft = g->batch - t < " .. W .. " ? g->batch - t : " .. W .. ";",
        "        " .. S.t.pack_bcols .. "(bbuf, bld, b, sb_row, m, (int)bleft);",
        "        bnext = bbuf;",
        "    }",
        "    if (bleft > 0) {  /* copied with its group */",
        "        bk = bnext;",
        "        bnext += bld;",
        "        --bleft;",
        "    } else {",
        "        for (int64_t k = 0; k < m; ++k) bbuf[k] = b[k * sb_row];",
        "        bk = bbuf;",
        "    }",
        "}",
      }) do out[#out + 1] = indent .. l end
      return
    end
    out[#out + 1] = string.format("%sfor (int64_t k = 0; k < %s; ++k) bcol[k] = b[k * sb_row];",
      indent, util.cint(S.d.m))
  end,
}

function block(S, body, indent, out)
  for _, s in ipairs(body) do
    local emit = STATEMENT[s.op]
    if s.op == "block" and s.outline then
      outline(S, s, indent, out)
    elseif emit then
      emit(S, s, indent, out)
    elseif not c99.control(s, indent, out, function(b, ind) block(S, b, ind, out) end) then
      error("emit_simd: unknown statement " .. tostring(s.op))
    end
  end
end

-- GCC's regional register allocator (-fira-region=mixed, its default), short of general
-- registers where the row strides are run-time values (seq-first: a register per row's offset),
-- parks integers in vector registers and then feeds the FMAs of a rows block that holds all
-- the accumulators the ISA allows from B vectors kept on the stack. One region for the
-- function (BMM_ONE_REGION, bmm_simd.h) allocates them; isa.lua says where that was measured
-- to pay. Not in the prefetching variants and dot forms: as often lost as won there.
local ONE_REGION_FORMS = { rows = true, rl = true }
local function one_region(S, cost)
  local d = S.d
  return S.isa.one_region and d.layout == "sf" and ONE_REGION_FORMS[d.kind] and not d.prefetch
    and cost.accumulators >= S.isa.acc
end

-- Returns { body, decls } like emit_c99.emit, plus the function attribute and compile guard.
function M.emit(kernel, cost)
  local S = state(kernel)
  local lines = {}
  block(S, kernel.body, "        ", lines)
  local d, ct = S.d, S.d.ctype
  local decls = c99.decls(d, S.used)
  if S.pack and d.anyshape then
    decls[#decls + 1] = "    " .. ct .. " bbuf[BMM_PACK_BYTES / sizeof(" .. ct .. ")];"
    decls[#decls + 1] = "    const int64_t bld = (m + " .. util.cint(S.w - 1) .. ") / " .. util.cint(S.w)
      .. " * " .. util.cint(S.w) .. ";  /* a group's column stride */"
    decls[#decls + 1] = "    const " .. ct .. " *bnext = bbuf;"
    decls[#decls + 1] = "    int64_t bleft = 0;"
  elseif S.pack then
    decls[#decls + 1] = "    " .. ct .. " bcol[" .. util.cint(d.m) .. "];"
  end
  for _, l in ipairs(S.const_order) do decls[#decls + 1] = l end
  return { body = table.concat(lines, "\n"), decls = table.concat(decls, "\n"),
    target = S.isa.target .. (one_region(S, cost) and " BMM_ONE_REGION" or ""),
    guard = S.isa.guard, helpers = table.concat(S.helpers, "\n\n") }
end

return M
