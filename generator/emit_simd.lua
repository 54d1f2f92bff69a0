-- emit_simd.lua: vector IR -> C99 with x86 intrinsics (AVX2+FMA or AVX-512F). One table per
-- ISA and dtype names the intrinsics; everything else is shared. Constants (alpha, beta, lane
-- masks, permute indices) are hoisted out of the batch loop.
local util = require("util")
local c99 = require("emit_c99")

local M = {}

local function idiv(a, b) return math.floor(a / b) end
local function mask_bits(lanes) return string.format("0x%X", math.floor(2 ^ lanes) - 1) end

local ISA = {
  avx512 = {
    target = "BMM_TARGET_AVX512",
    f32 = { vt = "__m512", pre = "_mm512_", sfx = "ps", w = 16, mt = "__mmask16", idx = "_mm512_set_epi32" },
    f64 = { vt = "__m512d", pre = "_mm512_", sfx = "pd", w = 8, mt = "__mmask8", idx = "_mm512_set_epi64" },
    mask = function(t, lanes) return "(" .. t.mt .. ")" .. mask_bits(lanes) end,
    mload = function(t, m, p) return t.pre .. "maskz_loadu_" .. t.sfx .. "(" .. m .. ", " .. p .. ")" end,
    mstore = function(t, m, p, v) return t.pre .. "mask_storeu_" .. t.sfx .. "(" .. p .. ", " .. m .. ", " .. v .. ")" end,
    hsum = function(t, v) return t.pre .. "reduce_add_" .. t.sfx .. "(" .. v .. ")" end,
  },
  avx2 = {
    target = "BMM_TARGET_AVX2",
    f32 = { vt = "__m256", pre = "_mm256_", sfx = "ps", w = 8, mt = "__m256i", set = "_mm256_setr_epi32",
      hsum = "bmm__hsum_avx2_f32" },
    f64 = { vt = "__m256d", pre = "_mm256_", sfx = "pd", w = 4, mt = "__m256i", set = "_mm256_setr_epi64x",
      hsum = "bmm__hsum_avx2_f64" },
    mask = function(t, lanes)
      local l = {}
      for i = 1, t.w do l[i] = i <= lanes and "-1" or "0" end
      return t.set .. "(" .. table.concat(l, ", ") .. ")"
    end,
    mload = function(t, m, p) return t.pre .. "maskload_" .. t.sfx .. "(" .. p .. ", " .. m .. ")" end,
    mstore = function(t, m, p, v) return t.pre .. "maskstore_" .. t.sfx .. "(" .. p .. ", " .. m .. ", " .. v .. ")" end,
    hsum = function(t, v) return t.hsum .. "(" .. v .. ")" end,
  },
}

-- Emission state of one kernel: the ISA tables, the row strides used, hoisted constants.
local function state(kernel)
  local d = kernel.desc
  local isa = ISA[d.isa]
  return { d = d, isa = isa, t = isa[d.dtype], used = {}, consts = {}, const_order = {} }
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

local function mask(S, lanes)
  return const(S, S.t.mt, "mask" .. util.cint(lanes), S.isa.mask(S.t, lanes))
end

local function ptr(S, operand, row, col)
  if operand == "Bcol" then
    local base = S.d.layout == "sf" and "bcol" or "b"
    return "&" .. base .. "[" .. util.cint(col.off) .. "]"
  end
  return "&" .. c99.address(S.d, S.used, operand, row, col)
end

local function load(S, operand, row, col, lanes)
  local p = ptr(S, operand, row, col)
  if lanes >= S.t.w then return S.t.pre .. "loadu_" .. S.t.sfx .. "(" .. p .. ")" end
  return S.isa.mload(S.t, mask(S, lanes), p)
end

local function perm_index(S, lanes)
  local l = {}
  for i = S.t.w, 1, -1 do l[#l + 1] = util.cint(lanes[i] or 0) end   -- _mm512_set_*: last lane first
  return const(S, "__m512i", nil, S.t.idx .. "(" .. table.concat(l, ", ") .. ")")
end

local function expr(S, e)
  local t = S.t
  if e.op == "vref" then return e.name
  elseif e.op == "vzero" then return t.pre .. "setzero_" .. t.sfx .. "()"
  elseif e.op == "vload" then return load(S, e.operand, e.row, e.col, e.lanes)
  elseif e.op == "vbcast" then
    return t.pre .. "set1_" .. t.sfx .. "(" .. c99.address(S.d, S.used, e.operand, e.row, e.col) .. ")"
  elseif e.op == "vmul" then return t.pre .. "mul_" .. t.sfx .. "(" .. expr(S, e.a) .. ", " .. expr(S, e.b) .. ")"
  elseif e.op == "vfma" then
    return t.pre .. "fmadd_" .. t.sfx .. "(" .. expr(S, e.a) .. ", " .. expr(S, e.b) .. ", " .. expr(S, e.c) .. ")"
  elseif e.op == "vperm" then
    local ix = perm_index(S, e.idx)
    if e.b then
      return t.pre .. "permutex2var_" .. t.sfx .. "(" .. expr(S, e.a) .. ", " .. ix .. ", " .. expr(S, e.b) .. ")"
    end
    return t.pre .. "permutexvar_" .. t.sfx .. "(" .. ix .. ", " .. expr(S, e.a) .. ")"
  end
  error("emit_simd: unknown expression " .. tostring(e.op))
end

-- Lane shuffles of the across-batch form. src: names of c vectors holding W groups of c
-- elements each (group t = one matrix). gather(t, k) -> element index into src ++ ...:
-- deinterleave makes vector k from lanes t*c + k; interleave makes vector r from
-- (vector e % c, lane e // c) for e = r*W + l. Pairs of sources go through permutex2var,
-- pair results are merged by masked blends.
local function shuffle(S, out, indent, dst, srcs, lane_source)
  local t, W = S.t, S.t.w
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
        e = t.pre .. "permutex2var_" .. t.sfx .. "(" .. srcs[2 * q + 1] .. ", " .. ix .. ", " .. srcs[2 * q + 2] .. ")"
      else
        e = t.pre .. "permutexvar_" .. t.sfx .. "(" .. ix .. ", " .. srcs[2 * q + 1] .. ")"
      end
      if expr_of then
        local mk = const(S, t.mt, nil, "(" .. t.mt .. ")" .. string.format("0x%X", math.floor(pp.mask)), "km")
        e = t.pre .. "mask_blend_" .. t.sfx .. "(" .. mk .. ", " .. expr_of .. ", " .. e .. ")"
      end
      expr_of = e
    end
  end
  out[#out + 1] = indent .. t.vt .. " " .. dst .. " = " .. expr_of .. ";"
end

-- Row `row` of W consecutive items: cols vectors loaded, deinterleaved into names[k + 1].
local function deinterleave(S, out, indent, operand, row, cols, names, tmp)
  local t, W = S.t, S.t.w
  if cols == 1 then
    out[#out + 1] = indent .. t.vt .. " " .. names[1] .. " = " .. load(S, operand, row, { off = 0 }, W) .. ";"
    return
  end
  local srcs = {}
  for r = 0, cols - 1 do
    srcs[r + 1] = tmp .. r
    out[#out + 1] = indent .. t.vt .. " " .. srcs[r + 1] .. " = "
      .. load(S, operand, row, { off = r * W }, W) .. ";"
  end
  for k = 0, cols - 1 do
    shuffle(S, out, indent, names[k + 1], srcs, function(l)
      local e = l * cols + k
      return idiv(e, W), e % W
    end)
  end
end

local function scalar_param(S, name)
  S.used[name] = true
  return name
end

local function vparam(S, name)
  S.used[name] = true
  return const(S, S.t.vt, "v" .. name, S.t.pre .. "set1_" .. S.t.sfx .. "(" .. name .. ")")
end

-- C = alpha*acc + beta*C, folded as the variant fixes (beta = 0 never reads C).
local function epilogue(S, acc, row, col, lanes)
  local t, sc = S.t, S.d.scalars
  if sc == "a1b0" then return acc end
  local scaled = t.pre .. "mul_" .. t.sfx .. "(" .. vparam(S, "alpha") .. ", " .. acc .. ")"
  if sc == "b0" then return scaled end
  local cold = load(S, "C", row, col, lanes)
  return t.pre .. "fmadd_" .. t.sfx .. "(" .. vparam(S, "beta") .. ", " .. cold .. ", " .. scaled .. ")"
end

local function block(S, body, indent, out)
  local t = S.t
  for _, s in ipairs(body) do
    if s.op == "vdef" then
      out[#out + 1] = indent .. t.vt .. " " .. s.name .. " = " .. expr(S, s.value) .. ";"
    elseif s.op == "vset" then
      out[#out + 1] = indent .. s.name .. " = " .. expr(S, s.value) .. ";"
    elseif s.op == "store" then
      local v = epilogue(S, expr(S, s.acc), s.row, s.col, s.lanes)
      local p = ptr(S, "C", s.row, s.col)
      if s.lanes >= t.w then
        out[#out + 1] = indent .. t.pre .. "storeu_" .. t.sfx .. "(" .. p .. ", " .. v .. ");"
      else
        out[#out + 1] = indent .. S.isa.mstore(t, mask(S, s.lanes), p, v) .. ";"
      end
    elseif s.op == "dot_store" then
      local sum = S.isa.hsum(t, expr(S, s.acc))
      local cref = c99.address(S.d, S.used, "C", s.row, s.col)
      local sc = S.d.scalars
      local v = sc == "a1b0" and sum or (scalar_param(S, "alpha") .. " * " .. sum)
      if sc == "ab" then v = v .. " + " .. scalar_param(S, "beta") .. " * " .. cref end
      out[#out + 1] = indent .. cref .. " = " .. v .. ";"
    elseif s.op == "deint" then
      deinterleave(S, out, indent, s.operand, s.row, s.cols, s.names, s.names[1] .. "_s")
    elseif s.op == "xstore" then
      local vals = {}
      if S.d.scalars == "ab" then
        local cold = {}
        for j = 1, s.cols do cold[j] = "cold_" .. (j - 1) end
        deinterleave(S, out, indent, "C", s.row, s.cols, cold, "cold_s")
        for j = 1, s.cols do
          out[#out + 1] = indent .. t.vt .. " e_" .. (j - 1) .. " = " .. t.pre .. "fmadd_" .. t.sfx .. "("
            .. vparam(S, "beta") .. ", " .. cold[j] .. ", " .. t.pre .. "mul_" .. t.sfx .. "("
            .. vparam(S, "alpha") .. ", " .. s.accs[j] .. "));"
          vals[j] = "e_" .. (j - 1)
        end
      else
        for j = 1, s.cols do vals[j] = epilogue(S, s.accs[j]) end
      end
      if s.cols == 1 then
        out[#out + 1] = indent .. t.pre .. "storeu_" .. t.sfx .. "(" .. ptr(S, "C", s.row, { off = 0 }) .. ", " .. vals[1] .. ");"
      else
        local srcs = {}
        for j = 1, s.cols do
          if vals[j]:match("^[%w_]+$") then srcs[j] = vals[j] else
            srcs[j] = "e_" .. (j - 1)
            out[#out + 1] = indent .. t.vt .. " " .. srcs[j] .. " = " .. vals[j] .. ";"
          end
        end
        local W = t.w
        for r = 0, s.cols - 1 do
          shuffle(S, out, indent, "o_" .. r, srcs, function(l)
            local e = r * W + l
            return e % s.cols, idiv(e, s.cols)
          end)
          out[#out + 1] = indent .. t.pre .. "storeu_" .. t.sfx .. "(" .. ptr(S, "C", s.row, { off = r * W })
            .. ", o_" .. r .. ");"
        end
      end
    elseif s.op == "pack_bcol" then
      S.used.sb_row = true
      S.pack = true
      out[#out + 1] = string.format("%sfor (int64_t k = 0; k < %s; ++k) bcol[k] = b[k * sb_row];",
        indent, util.cint(S.d.m))
    elseif s.op == "block" then
      out[#out + 1] = indent .. "{"
      block(S, s.body, indent .. "    ", out)
      out[#out + 1] = indent .. "}"
    elseif s.op == "loop" then
      out[#out + 1] = c99.loop_header(indent, s)
      block(S, s.body, indent .. "    ", out)
      out[#out + 1] = indent .. "}"
    else
      error("emit_simd: unknown statement " .. tostring(s.op))
    end
  end
end

-- Returns { body, decls, attributes } like emit_c99.emit, plus the function attribute.
-- Prefetches of the next batch item's rows of A and B (a "_pf" form), appended to the batch
-- loop's opening line: every 64-byte line of each row, and the row's last byte.
local function prefetch(d)
  local es = d.dtype == "f32" and 4 or 8
  local out = { "", "        if (t + 1 < g->batch) {" }
  for _, op in ipairs({ { "a", "sa", d.n, d.m }, { "b", "sb", d.m, d.p } }) do
    local ptr, s, rows, bytes = op[1], op[2], op[3], util.cint(op[4] * es)
    out[#out + 1] = "            for (int64_t i = 0; i < " .. util.cint(rows) .. "; ++i) {"
    out[#out + 1] = "                const char *r = (const char *)(" .. ptr .. " + g->" .. s
      .. "_batch + i * g->" .. s .. "_row);"
    out[#out + 1] = "                for (int o = 0; o < " .. bytes .. "; o += 64)"
    out[#out + 1] = "                    _mm_prefetch(r + o, _MM_HINT_T0);"
    out[#out + 1] = "                _mm_prefetch(r + " .. bytes .. " - 1, _MM_HINT_T0);"
    out[#out + 1] = "            }"
  end
  out[#out + 1] = "        }"
  return table.concat(out, "\n")
end

function M.emit(kernel)
  local S = state(kernel)
  local lines = {}
  block(S, kernel.body, kernel.desc.form == "xb" and "            " or "        ", lines)
  local d, ct = S.d, S.d.ctype
  local decls = c99.decls(d, S.used)
  if S.pack then decls[#decls + 1] = "    " .. ct .. " bcol[" .. util.cint(d.m) .. "];" end
  for _, l in ipairs(S.const_order) do decls[#decls + 1] = l end
  return { body = table.concat(lines, "\n"), decls = table.concat(decls, "\n"), target = S.isa.target,
    prefetch = kernel.prefetch and prefetch(d) or "" }
end

return M
