-- ir.lua: kernel descriptor -> scalar IR of one matrix product (the batch loop lives in the
-- template), and the passes both IRs share (vector.lua builds the vector IR).
--   expressions: load{operand,row,col} ref{name} param{name} const{value} mul add fma(a*b+c)
--   statements:  block{body} acc{name,init} set{name,value} store{row,col,value}
--                loop{var,from,to,step,body}
--   index:       {var = loop variable or nil, off = integer}
-- Passes: build (naive epilogue alpha*acc + beta*C), simplify (fold the alpha/beta the variant
-- fixes, then drop what no longer feeds a store), count (cost per matrix by a table of ops).
local options = require("options")

local M = {}

local function idx(var, off) return { var = var, off = off } end
local function load(operand, row, col) return { op = "load", operand = operand, row = row, col = col } end
local function ref(name) return { op = "ref", name = name } end
local function param(name) return { op = "param", name = name } end
local function mul(a, b) return { op = "mul", a = a, b = b } end
local function add(a, b) return { op = "add", a = a, b = b } end
local function fma(a, b, c) return { op = "fma", a = a, b = b, c = c } end

local function accname(r, c) return "c" .. string.format("%d_%d", r, c) end

-- alpha*acc + beta*c_old, the naive epilogue of every store, scalar or (vector) in every
-- lane; simplify folds the values the alpha/beta form fixes.
function M.epilogue(acc, c_old, vector)
  local m, a, p = "mul", "add", "param"
  if vector then m, a, p = "vmul", "vadd", "vparam" end
  return { op = a, a = { op = m, a = { op = p, name = "alpha" }, b = acc },
    b = { op = m, a = { op = p, name = "beta" }, b = c_old } }
end

local function epilogue(acc, row, col)
  return M.epilogue(ref(acc), load("C", row, col))
end

-- An rows x cols tile of C at (rvar + r, cvar + c); k runs 0..m-1, the first term initializes.
-- k_loop: emit k >= 1 as a loop (looped form) or unrolled (fully unrolled form); m may be a
-- run-time size ("m", shape-generic kernels), then k always loops.
function M.tile(body, m, rows, cols, rvar, cvar, k_loop)
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
    if type(m) ~= "number" or m > 1 then
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
  if desc.kind == "unroll" then
    -- one row of C at a time: p accumulators, B rows reused by the compiler's CSE
    for i = 0, desc.n - 1 do
      local blk = {}
      local rb = {}
      M.tile(rb, desc.m, 1, desc.p, nil, nil, false)
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
    local tr, tc = desc.tile, desc.tile_cols
    local n_main, p_main = desc.n - desc.n % tr, desc.p - desc.p % tc
    local function region(r0, r1, rows, c0, c1, cols)
      if r1 <= r0 or c1 <= c0 then return end
      local inner = {}
      M.tile(inner, desc.m, rows, cols, "i0", "j0", true)
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

local MUL = { mul = true, vmul = true }
local ADD = { add = true, vadd = true }
local PARAM = { param = true, vparam = true }

-- Folds the known scalars into an expression of either IR: x*1 = x, x*0 = 0 (beta = 0: C is
-- never read; x * 0 would turn NaN in C into NaN), x+0 = x. A value folded into the vector IR
-- is a vector constant ("vconst": every lane the value), any other value than 0 and 1 too.
local CONST = { const = true, vconst = true }
local function fold(e, known)
  local vector = e.op == "vparam" or e.op == "vmul" or e.op == "vadd"
  if PARAM[e.op] and known[e.name] ~= nil then
    return { op = vector and "vconst" or "const", value = known[e.name] }
  end
  if MUL[e.op] or ADD[e.op] then
    local a, b = fold(e.a, known), fold(e.b, known)
    local function is(x, v) return CONST[x.op] and x.value == v end
    if MUL[e.op] then
      if is(a, 1) then return b end
      if is(b, 1) then return a end
      if is(a, 0) or is(b, 0) then return { op = vector and "vconst" or "const", value = 0 } end
    else
      if is(a, 0) then return b end
      if is(b, 0) then return a end
    end
    return { op = e.op, a = a, b = b }
  end
  return e
end

-- Names an expression or statement tree refers to.
local function refs(node, out)
  if type(node) ~= "table" then return out end
  if node.op == "ref" or node.op == "vref" then out[node.name] = true end
  for k, v in pairs(node) do
    if k ~= "names" and type(v) == "table" then refs(v, out) end
  end
  return out
end

-- The statement lists nested in a statement: a block's or loop's body, each arm of cases.
local function children(s)
  local out = {}
  if s.body then out[1] = s.body end
  for _, arm in ipairs(s.arms or {}) do out[#out + 1] = arm.body end
  return out
end
M.children = children

local function fold_block(body, known)
  for _, s in ipairs(body) do
    if s.value then s.value = fold(s.value, known) end
    if s.values then
      for i, v in ipairs(s.values) do s.values[i] = fold(v, known) end
    end
    for _, b in ipairs(children(s)) do fold_block(b, known) end
  end
end

-- Drops deinterleaves whose vectors nothing reads (C's old values, once beta = 0 folded).
local function prune(body, used)
  local kept = {}
  for _, s in ipairs(body) do
    local dead = s.op == "deint"
    for _, n in ipairs(s.names or {}) do dead = dead and not used[n] end
    for _, b in ipairs(children(s)) do prune(b, used) end
    if not dead then kept[#kept + 1] = s end
  end
  for i = 1, math.max(#body, #kept) do body[i] = kept[i] end
end

-- C's old values read before a run of vector stores writes any of them, `group` rows at a
-- time: a load after a masked store to the same cache line waits for the store to retire (it
-- cannot be forwarded), so load, store, load, store on short rows serialized the epilogue
-- (9x9x9 f32 with beta ran at half the speed of beta = 0, Zen 4).
local EXPR_FIELDS = { "a", "b", "c" }
function M.hoist_c_loads(body, group, count)
  count = count or { n = 0 }
  for _, s in ipairs(body) do
    for _, b in ipairs(children(s)) do M.hoist_c_loads(b, group, count) end
  end
  local out, i = {}, 1
  local function lift(e, defs)
    if e.op == "vload" and e.operand == "C" then
      local name = "c_in" .. count.n
      count.n = count.n + 1
      defs[#defs + 1] = { op = "vdef", name = name, value = e }
      return { op = "vref", name = name }
    end
    for _, f in ipairs(EXPR_FIELDS) do
      if type(e[f]) == "table" then e[f] = lift(e[f], defs) end
    end
    return e
  end
  while i <= #body do
    local j = i
    while j <= #body and body[j].op == "store" and j - i < group do j = j + 1 end
    if j == i then
      out[#out + 1] = body[i]
      i = i + 1
    else
      local defs = {}
      for k = i, j - 1 do body[k].value = lift(body[k].value, defs) end
      for _, d in ipairs(defs) do out[#out + 1] = d end
      for k = i, j - 1 do out[#out + 1] = body[k] end
      i = j
    end
  end
  for k = 1, math.max(#body, #out) do body[k] = out[k] end
  return body
end

-- Folds the values the kernel's alpha/beta form fixes (options.scalars) into every store.
function M.simplify(kernel)
  fold_block(kernel.body, options.scalars[kernel.desc.scalars].fixes)
  prune(kernel.body, refs(kernel.body, {}))
  return kernel
end

-- Cost per matrix (shape-generic kernels: per pass of each loop): counts by op, each statement and expression weighted by its loops' trips.
-- rules[op] is a counter name (+1) or a function(node) -> { counter = amount }. Also counts
-- accumulators: the most accumulators one block stores.
function M.count(body, rules)
  local c = { accumulators = 0 }
  local function add(name, w) c[name] = (c[name] or 0) + w end
  local function visit(node, w)
    local r = rules[node.op]
    if type(r) == "string" then add(r, w)
    elseif r then
      for k, v in pairs(r(node)) do add(k, w * v) end
    end
    for _, k in ipairs({ "a", "b", "c", "init", "value" }) do
      if type(node[k]) == "table" and node[k].op then visit(node[k], w) end
    end
    for _, v in ipairs(node.values or {}) do visit(v, w) end
  end
  local function block(list, w)
    local stored = {}
    for _, s in ipairs(list) do
      visit(s, w)
      for n in pairs(refs({ s.value, s.values }, {})) do
        if s.op == "store" or s.op == "sstore" or s.op == "xstore" then stored[n] = true end
      end
      if s.op == "loop" and type(s.to) == "number" and s.from then
        block(s.body, w * math.floor((s.to - s.from + s.step - 1) / s.step))
      else  -- run-time trip counts (shape-generic kernels) count once
        for _, b in ipairs(children(s)) do block(b, w) end
      end
    end
    local n = 0
    for _ in pairs(stored) do n = n + 1 end
    if n > c.accumulators then c.accumulators = n end
  end
  block(body, 1)
  return c
end

-- Scalar cost: flops (mul, add: 1; fma: 2), loads per operand, stores, accumulators.
function M.cost(kernel)
  local function loads(e) return { ["loads_" .. e.operand] = 1 } end
  local c = M.count(kernel.body, { mul = "flops", add = "flops",
    fma = function() return { flops = 2 } end, load = loads, store = "stores" })
  c.loads = { A = c.loads_A or 0, B = c.loads_B or 0, C = c.loads_C or 0 }
  c.flops, c.stores = c.flops or 0, c.stores or 0
  return c
end

return M
