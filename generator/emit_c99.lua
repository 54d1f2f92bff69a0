-- emit_c99.lua: IR -> portable C99 kernel body and declarations (scalar code; the compiler
-- is free to vectorize it). Loads address the operand pointers a, b, c, which the batch loop
-- of the kernel template advances.
local util = require("util")

local M = {}

local ROWS = { A = "n", B = "m", C = "n" }
local COLS = { A = "m", B = "p", C = "p" }
local PTR = { A = "a", B = "b", C = "c" }

-- Row stride of an operand: a number (bf: rows are packed) or a runtime variable (sf).
local function row_stride(desc, operand)
  if desc.layout == "bf" then return desc[COLS[operand]] end
  return "s" .. PTR[operand] .. "_row"
end

local function address(desc, used, operand, row, col)
  local rs = row_stride(desc, operand)
  local terms, const = {}, col.off
  if type(rs) == "number" then
    const = const + row.off * rs
    if row.var then terms[#terms + 1] = (rs == 1) and row.var or (util.cint(rs) .. " * " .. row.var) end
  elseif row.var or row.off ~= 0 then
    used[rs] = true
    if row.var and row.off ~= 0 then
      terms[#terms + 1] = "(" .. row.var .. " + " .. util.cint(row.off) .. ") * " .. rs
    elseif row.var then
      terms[#terms + 1] = row.var .. " * " .. rs
    else
      terms[#terms + 1] = util.cint(row.off) .. " * " .. rs
    end
  end
  if col.var then terms[#terms + 1] = col.var end
  if const ~= 0 or #terms == 0 then terms[#terms + 1] = util.cint(const) end
  return PTR[operand] .. "[" .. table.concat(terms, " + ") .. "]"
end

M.address = address

function M.loop_header(indent, s)
  return string.format("%sfor (int64_t %s = %s; %s < %s; %s += %s) {", indent,
    s.var, util.cint(s.from), s.var, util.cint(s.to), s.var, util.cint(s.step))
end
M.row_stride = row_stride

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
    elseif s.op == "block" then
      out[#out + 1] = indent .. "{"
      block(desc, used, s.body, indent .. "    ", out)
      out[#out + 1] = indent .. "}"
    elseif s.op == "loop" then
      out[#out + 1] = M.loop_header(indent, s)
      block(desc, used, s.body, indent .. "    ", out)
      out[#out + 1] = indent .. "}"
    else
      error("emit_c99: unknown statement " .. tostring(s.op))
    end
  end
end

-- The declarations before the batch loop: operand pointers, and the row strides and scalars
-- the body used (shared with emit_simd.lua).
function M.decls(desc, used)
  local ct = desc.ctype
  local decls = {
    "    const " .. ct .. " *BMM_RESTRICT a = g->A;",
    "    const " .. ct .. " *BMM_RESTRICT b = g->B;",
    "    " .. ct .. " *BMM_RESTRICT c = g->C;",
  }
  for _, s in ipairs({ "sa_row", "sb_row", "sc_row" }) do
    if used[s] then decls[#decls + 1] = "    const int64_t " .. s .. " = g->" .. s .. ";" end
  end
  for _, s in ipairs({ "alpha", "beta" }) do
    if used[s] then decls[#decls + 1] = "    const " .. ct .. " " .. s .. " = g->" .. s .. ";" end
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
