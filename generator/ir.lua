-- ir.lua: kernel descriptor -> IR of one matrix product (the batch loop lives in the template).
--   expressions: load{operand,row,col} ref{name} param{name} const{value} mul add fma(a*b+c)
--   statements:  block{body} acc{name,init} set{name,value} store{row,col,value}
--                loop{var,from,to,step,body}
--   index:       {var = loop variable or nil, off = integer}
-- Passes: build (naive epilogue alpha*acc + beta*C), simplify (fold the alpha/beta the variant
-- fixes), cost (flops, loads, stores, accumulators per matrix).
local M = {}

local function idx(var, off) return { var = var, off = off } end
local function load(operand, row, col) return { op = "load", operand = operand, row = row, col = col } end
local function ref(name) return { op = "ref", name = name } end
local function param(name) return { op = "param", name = name } end
local function mul(a, b) return { op = "mul", a = a, b = b } end
local function add(a, b) return { op = "add", a = a, b = b } end
local function fma(a, b, c) return { op = "fma", a = a, b = b, c = c } end

local function accname(r, c) return "c" .. string.format("%d_%d", r, c) end

local function epilogue(acc, row, col)
  return add(mul(param("alpha"), ref(acc)), mul(param("beta"), load("C", row, col)))
end

-- An rows x cols tile of C at (rvar + r, cvar + c); k runs 0..m-1, the first term initializes.
-- k_loop: emit k >= 1 as a loop (looped form) or unrolled (fully unrolled form).
local function tile(body, m, rows, cols, rvar, cvar, k_loop)
  for r = 0, rows - 1 do
    for c = 0, cols - 1 do
      body[#body + 1] = { op = "acc", name = accname(r, c),
        init = mul(load("A", idx(rvar, r), idx(nil, 0)), load("B", idx(nil, 0), idx(cvar, c))) }
    end
  end
  local function step(kv, koff, out)
    for r = 0, rows - 1 do
      for c = 0, cols - 1 do
        out[#out + 1] = { op = "set", name = accname(r, c),
          value = fma(load("A", idx(rvar, r), idx(kv, koff)),
                      load("B", idx(kv, koff), idx(cvar, c)), ref(accname(r, c))) }
      end
    end
  end
  if k_loop then
    if m > 1 then
      local lb = {}
      step("k", 0, lb)
      body[#body + 1] = { op = "loop", var = "k", from = 1, to = m, step = 1, body = lb }
    end
  else
    for k = 1, m - 1 do step(nil, k, body) end
  end
  for r = 0, rows - 1 do
    for c = 0, cols - 1 do
      body[#body + 1] = { op = "store", row = idx(rvar, r), col = idx(cvar, c),
        value = epilogue(accname(r, c), idx(rvar, r), idx(cvar, c)) }
    end
  end
end

function M.build(desc)
  local body = {}
  if desc.form == "unroll" then
    -- one row of C at a time: p accumulators, B rows reused by the compiler's CSE
    for i = 0, desc.n - 1 do
      local blk = {}
      local rb = {}
      tile(rb, desc.m, 1, desc.p, nil, nil, false)
      -- shift the 1-row tile to row i
      local function shift(node)
        if type(node) ~= "table" then return end
        if node.op == "load" and node.operand ~= "B" then node.row = idx(nil, node.row.off + i) end
        if node.op == "store" then node.row = idx(nil, node.row.off + i) end
        for _, k in ipairs({ "a", "b", "c", "init", "value" }) do shift(node[k]) end
      end
      for _, s in ipairs(rb) do shift(s); blk[#blk + 1] = s end
      body[#body + 1] = { op = "block", body = blk }
    end
  else
    local tr, tc = desc.tile.rows, desc.tile.cols
    local n_main, p_main = desc.n - desc.n % tr, desc.p - desc.p % tc
    local function region(r0, r1, rows, c0, c1, cols)
      if r1 <= r0 or c1 <= c0 then return end
      local inner = {}
      tile(inner, desc.m, rows, cols, "i0", "j0", true)
      body[#body + 1] = { op = "loop", var = "i0", from = r0, to = r1, step = rows, body = {
        { op = "loop", var = "j0", from = c0, to = c1, step = cols, body = inner } } }
    end
    region(0, n_main, tr, 0, p_main, tc)
    region(0, n_main, tr, p_main, desc.p, desc.p - p_main)
    region(n_main, desc.n, desc.n - n_main, 0, p_main, tc)
    region(n_main, desc.n, desc.n - n_main, p_main, desc.p, desc.p - p_main)
  end
  return { desc = desc, body = body }
end

-- The scalars each variant fixes.
local KNOWN = { ab = {}, b0 = { beta = 0 }, a1b0 = { alpha = 1, beta = 0 } }

local function fold(e, known)
  if e.op == "param" and known[e.name] ~= nil then
    return { op = "const", value = known[e.name] }
  end
  if e.op == "mul" or e.op == "add" then
    local a, b = fold(e.a, known), fold(e.b, known)
    if e.op == "mul" then
      if a.op == "const" and a.value == 1 then return b end
      if b.op == "const" and b.value == 1 then return a end
      -- beta = 0: C is never read (x * 0 would turn NaN in C into NaN)
      if (a.op == "const" and a.value == 0) or (b.op == "const" and b.value == 0) then
        return { op = "const", value = 0 }
      end
    else
      if a.op == "const" and a.value == 0 then return b end
      if b.op == "const" and b.value == 0 then return a end
    end
    return { op = e.op, a = a, b = b }
  end
  return e
end

local function simplify_block(body, known)
  for _, s in ipairs(body) do
    if s.op == "store" then s.value = fold(s.value, known) end
    if s.body then simplify_block(s.body, known) end
  end
end

function M.simplify(kernel)
  simplify_block(kernel.body, KNOWN[kernel.desc.scalars])
  return kernel
end

-- Cost per matrix product: flops, loads per operand, stores, accumulators.
function M.cost(kernel)
  local c = { flops = 0, loads = { A = 0, B = 0, C = 0 }, stores = 0, accumulators = 0 }
  local function expr(e, w)
    if e.op == "load" then c.loads[e.operand] = c.loads[e.operand] + w
    elseif e.op == "mul" or e.op == "add" then
      c.flops = c.flops + w; expr(e.a, w); expr(e.b, w)
    elseif e.op == "fma" then
      c.flops = c.flops + 2 * w; expr(e.a, w); expr(e.b, w); expr(e.c, w)
    end
  end
  local function block(body, w)
    local accs = 0
    for _, s in ipairs(body) do
      if s.op == "acc" then accs = accs + 1; expr(s.init, w)
      elseif s.op == "set" then expr(s.value, w)
      elseif s.op == "store" then c.stores = c.stores + w; expr(s.value, w)
      elseif s.op == "block" then block(s.body, w)
      elseif s.op == "loop" then
        local trips = math.floor((s.to - s.from + s.step - 1) / s.step)
        block(s.body, w * trips)
      end
    end
    if accs > c.accumulators then c.accumulators = accs end
  end
  block(kernel.body, 1)
  return c
end

return M
