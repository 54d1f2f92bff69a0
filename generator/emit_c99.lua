-- emit_c99.lua: IR -> portable C99 kernel body and declarations (scalar code; the compiler
-- is free to vectorize it). Loads address the operand pointers a, b, c, which the batch loop
-- of the kernel template advances.
local util = require("util")

local M = {}

local ROWS = { A = "n", B = "m", C = "n" }
local COLS = { A = "m", B = "p", C = "p" }
local PTR = { A = "a", B = "b", C = "c" }

-- Row stride of an operand: a number (bf: rows are packed) or a runtime variable (sf, any).
local function row_stride(desc, operand)
  if desc.layout == "bf" then return desc[COLS[operand]] end
  return "s" .. PTR[operand] .. "_row"
end

-- Column stride: 1, or a runtime variable (layout any: transposed views too).
local function col_stride(desc, operand)
  if desc.layout == "any" then return "s" .. PTR[operand] .. "_col" end
  return 1
end

-- index * stride as a term (nil when zero), stride a number or a variable (marked used);
-- index: a loop variable or nil, plus an integer offset.
local function scaled(used, ix, stride)
  if type(stride) == "number" then
    if not ix.var then return nil, ix.off * stride end
    local v = stride == 1 and ix.var or (util.cint(stride) .. " * " .. ix.var)
    return v, ix.off * stride
  end
  if not ix.var and ix.off == 0 then return nil, 0 end
  used[stride] = true
  if ix.var and ix.off ~= 0 then
    return "(" .. ix.var .. " + " .. util.cint(ix.off) .. ") * " .. stride, 0
  end
  return (ix.var or util.cint(ix.off)) .. " * " .. stride, 0
end

-- An operand the kernel reads transposed (desc.trans_a, trans_b: a column-major view): element
-- (row, col) of it is element (col, row) of its transpose, whose rows are stored row-major:
-- rows long when batch-first, the column stride apart otherwise.
local function transposed(desc, operand)
  return (operand == "A" and desc.trans_a) or (operand == "B" and desc.trans_b)
end

local function address(desc, used, operand, row, col)
  local terms, const = {}, 0
  local parts = { { row, row_stride(desc, operand) }, { col, col_stride(desc, operand) } }
  if transposed(desc, operand) then
    local s = desc.layout == "bf" and desc[ROWS[operand]] or "s" .. PTR[operand] .. "_col"
    parts = { { row, 1 }, { col, s } }
  end
  for _, part in ipairs(parts) do
    local term, c = scaled(used, part[1], part[2])
    if term then terms[#terms + 1] = term end
    const = const + c
  end
  if const ~= 0 or #terms == 0 then terms[#terms + 1] = util.cint(const) end
  return PTR[operand] .. "[" .. table.concat(terms, " + ") .. "]"
end

M.address = address
M.row_stride = row_stride

-- A loop bound or step: an integer, or a C expression over run-time sizes (shape-generic).
local function bound(x) return type(x) == "number" and util.cint(x) or x end

-- Loops: from set: a counted loop that declares var; from nil: whole steps from var's current
-- value (a decl made it); once: at most one step, as an if.
function M.loop_header(indent, s)
  if s.once then
    return string.format("%sif (%s + %s <= %s) {", indent, s.var, bound(s.step), bound(s.to))
  elseif s.from == nil then
    return string.format("%sfor (; %s + %s <= %s; %s += %s) {", indent, s.var, bound(s.step),
      bound(s.to), s.var, bound(s.step))
  end
  return string.format("%sfor (int64_t %s = %s; %s < %s; %s += %s) {", indent,
    s.var, bound(s.from), s.var, bound(s.to), s.var, bound(s.step))
end

-- The statements both emitters write alike: blocks, loops, integer declarations and if
-- chains. recurse(body, indent) emits a nested body. Returns false for any other statement.
function M.control(s, indent, out, recurse)
  if s.op == "block" then
    out[#out + 1] = indent .. "{"
    recurse(s.body, indent .. "    ")
    out[#out + 1] = indent .. "}"
  elseif s.op == "loop" then
    out[#out + 1] = M.loop_header(indent, s)
    recurse(s.body, indent .. "    ")
    if s.once then out[#out + 1] = indent .. "    " .. s.var .. " += " .. bound(s.step) .. ";" end
    out[#out + 1] = indent .. "}"
  elseif s.op == "decl" then
    out[#out + 1] = indent .. "int64_t " .. s.name .. " = " .. bound(s.start) .. ";"
  elseif s.op == "cases" then
    for i, arm in ipairs(s.arms) do
      local head = arm.cond and ("if (" .. arm.cond .. ") {") or "{"
      out[#out + 1] = indent .. (i > 1 and "} else " or "") .. head
      recurse(arm.body, indent .. "    ")
    end
    out[#out + 1] = indent .. "}"
  else
    return false
  end
  return true
end

local ATOM = { load = true, ref = true, param = true, const = true }

-- A scalar expression in C. leaf (optional) writes the ops another IR adds (emit_simd's
-- hsum), as atoms.
local function expr(desc, used, e, leaf)
  local function wrap(x)
    local s = expr(desc, used, x, leaf)
    if ATOM[x.op] or x.op == "mul" or (leaf and leaf(x)) then return s end
    return "(" .. s .. ")"
  end
  local own = leaf and leaf(e)
  if own then return own
  elseif e.op == "load" then return address(desc, used, e.operand, e.row, e.col)
  elseif e.op == "ref" then return e.name
  elseif e.op == "param" then used[e.name] = true; return e.name
  elseif e.op == "const" then return util.cfloat(e.value, desc.dtype)
  elseif e.op == "mul" then return wrap(e.a) .. " * " .. wrap(e.b)
  elseif e.op == "add" then return expr(desc, used, e.a, leaf) .. " + " .. wrap(e.b)
  elseif e.op == "fma" then return expr(desc, used, e.c, leaf) .. " + " .. wrap(e.a) .. " * " .. wrap(e.b)
  end
  error("emit_c99: unknown expression " .. tostring(e.op))
end
M.expr = expr

local function block(desc, used, body, indent, out)
  local ctype = desc.ctype
  for _, s in ipairs(body) do
    if s.op == "acc" then
      out[#out + 1] = indent .. ctype .. " " .. s.name .. " = " .. expr(desc, used, s.init) .. ";"
    elseif s.op == "set" then
      -- acc = acc + x * y, written compound so the accumulator chain reads at a glance
      local v = s.value
      if v.op == "fma" and v.c.op == "ref" and v.c.name == s.name then
        out[#out + 1] = indent .. s.name .. " += " .. expr(desc, used, v.a) .. " * "
          .. expr(desc, used, v.b) .. ";"
      else
        out[#out + 1] = indent .. s.name .. " = " .. expr(desc, used, v) .. ";"
      end
    elseif s.op == "store" then
      out[#out + 1] = indent .. address(desc, used, "C", s.row, s.col) .. " = "
        .. expr(desc, used, s.value) .. ";"
    elseif M.control(s, indent, out, function(b, ind) block(desc, used, b, ind, out) end) then
      -- block, loop, decl or cases
    else
      error("emit_c99: unknown statement " .. tostring(s.op))
    end
  end
end

-- The declarations before the batch loop: operand pointers of the dtype's type, and the row
-- strides and scalars the body used, the scalars converted once from the ABI's doubles
-- (shared with emit_simd.lua).
function M.decls(desc, used)
  local ct = desc.ctype
  local decls = {
    "    const " .. ct .. " *BMM_RESTRICT a = (const " .. ct .. " *)g->A;",
    "    const " .. ct .. " *BMM_RESTRICT b = (const " .. ct .. " *)g->B;",
    "    " .. ct .. " *BMM_RESTRICT c = (" .. ct .. " *)g->C;",
  }
  for _, d in ipairs({ "n", "m", "p" }) do
    if desc[d] == 0 then decls[#decls + 1] = "    const int64_t " .. d .. " = g->" .. d .. ";" end
  end
  for _, s in ipairs({ "sa_row", "sb_row", "sc_row", "sa_col", "sb_col", "sc_col" }) do
    if used[s] then decls[#decls + 1] = "    const int64_t " .. s .. " = g->" .. s .. ";" end
  end
  for _, s in ipairs({ "alpha", "beta" }) do
    if used[s] then
      decls[#decls + 1] = "    const " .. ct .. " " .. s .. " = (" .. ct .. ")g->" .. s .. ";"
    end
  end
  return decls
end

-- Returns { body = text, decls = text }: the batch-loop body and the declarations it needs.
function M.emit(kernel)
  local desc = kernel.desc
  local used, lines = {}, {}
  block(desc, used, kernel.body, "        ", lines)
  return { body = table.concat(lines, "\n"), decls = table.concat(M.decls(desc, used), "\n") }
end

return M
