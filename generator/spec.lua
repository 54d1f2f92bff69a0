-- spec.lua: spec file + command-line options -> validated spec table.
-- Errors name the field and the line; any error means no later stage runs.
local compat = require("compat")
local util = require("util")
local options = require("options")
local locate = require("locate")

local M = {}

local function fieldname(path)
  local s = ""
  for _, k in ipairs(path) do
    if type(k) == "number" then s = s .. "[" .. util.cint(k) .. "]"
    else s = (s == "" and k) or (s .. "." .. k) end
  end
  return s
end

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "number" then
    return compat.is_integer(v) and util.cint(v) or util.cfloat(v)
  end
  return type(v)
end

-- Parse "NxMxP" (or a {n, m, p} table) into three integers, or nil + reason.
function M.parse_shape(v)
  local dims
  if type(v) == "string" then
    local a, b, c = v:match("^%s*(%d+)%s*[xX]%s*(%d+)%s*[xX]%s*(%d+)%s*$")
    if not a then
      if v:match("^[%s%dxX%-]+$") and v:match("%-") then
        return nil, "dimensions must be >= 1 (got " .. string.format("%q", v) .. ")"
      end
      return nil, "shape must be a triple \"NxMxP\" (got " .. string.format("%q", v) .. ")"
    end
    dims = { tonumber(a), tonumber(b), tonumber(c) }
  elseif type(v) == "table" then
    if #v ~= 3 then
      return nil, "shape must be a triple {n, m, p} (got " .. util.cint(#v) .. " values)"
    end
    dims = { v[1], v[2], v[3] }
  else
    return nil, "shape must be a triple \"NxMxP\" or {n, m, p} (got " .. type(v) .. ")"
  end
  local names = { "n", "m", "p" }
  for i = 1, 3 do
    local d = dims[i]
    if not compat.is_integer(d) then
      return nil, names[i] .. " must be an integer (got " .. describe(d) .. ")"
    end
    if d < 1 then
      return nil, names[i] .. " must be >= 1 (got " .. util.cint(d) .. ")"
    end
    if d > options.max_dim then
      return nil, names[i] .. " must be <= " .. util.cint(options.max_dim)
        .. " (got " .. util.cint(d) .. ")"
    end
  end
  return dims
end

-- Each field's check: (value given or nil, bad(path, msg)) -> the validated value. bad names
-- the field (the path below it) and the line; every error is collected.

-- A list of words drawn from a vocabulary, kept in the vocabulary's order.
local function wordlist(key, vocab, order)
  return function(v, bad)
    if v == nil then v = options.defaults[key] end
    if type(v) ~= "table" or #v == 0 then
      bad({ key }, "must be a non-empty list (got " .. describe(v) .. ")")
      return {}
    end
    local seen = {}
    for i = 1, #v do
      if not vocab[v[i]] then
        bad({ key, i }, "unknown value " .. describe(v[i]) .. " (known: "
          .. table.concat(order, ", ") .. ")")
      elseif seen[v[i]] then
        bad({ key, i }, "duplicate value " .. describe(v[i]))
      else
        seen[v[i]] = true  -- only a known value: v[i] may be nil (a hole in the list)
      end
    end
    local out = {}
    for _, w in ipairs(order) do if seen[w] then out[#out + 1] = w end end
    return out
  end
end

-- Operand orders: a list of words for every layout, or a table of such lists keyed by layout
-- ({ bf = { "nn", "tn" }, sf = { "nn" } }); validated to { layout = list } over the spec's
-- layouts (a layout not named gets "nn").
local check_order_list = wordlist("orders", options.orders, options.order_order)
local function check_orders(v, bad, spec)
  local out = {}
  if type(v) ~= "table" or #v > 0 then
    local list = check_order_list(v, bad)
    for _, lay in ipairs(spec.layouts) do out[lay] = list end
    return out
  end
  for _, k in ipairs(compat.sorted_keys(v)) do
    local asked = false
    for _, lay in ipairs(spec.layouts) do asked = asked or lay == k end
    if not options.layouts[k] then
      bad({ "orders", k }, "unknown layout " .. describe(k) .. " (known: "
        .. table.concat(options.layout_order, ", ") .. ")")
    elseif not asked then
      bad({ "orders", k }, "layout " .. describe(k) .. " is not in layouts")
    end
  end
  for _, lay in ipairs(spec.layouts) do
    out[lay] = v[lay] == nil and { "nn" }
      or wordlist("orders", options.orders, options.order_order)(v[lay], function(path, msg)
        table.insert(path, 2, lay)
        bad(path, msg)
      end)
  end
  return out
end

local function check_name(name, bad)
  if name == nil then name = options.defaults.name end
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    bad({ "name" }, "must be a C identifier (got " .. describe(name) .. ")")
  end
  return name
end

-- Products of shapes, on the command line (--shapes) and in a spec's list: "{5,13,23}^3" and
-- "5,13,23^3" (the same: every n, m, p drawn from the set), "1x{8,16}x{64,128}" (a set per
-- dimension). Returns the items, each "NxMxP" (n varies slowest) or left as given when it is
-- no product (parse_shape judges it), or nil and what is wrong.
local MAX_PRODUCT = 4096
local function int_set(text)
  local out = {}
  for w in text:gmatch("[^,]+") do
    w = w:match("^%s*(.-)%s*$")
    if not w:match("^%d+$") then return nil end
    out[#out + 1] = w
  end
  return #out > 0 and out or nil
end

local function product(sets, item, out)
  local total = #sets[1] * #sets[2] * #sets[3]
  if total > MAX_PRODUCT then
    return nil, "\"" .. item .. "\" makes " .. util.cint(total) .. " shapes (at most "
      .. util.cint(MAX_PRODUCT) .. ")"
  end
  for _, n in ipairs(sets[1]) do
    for _, m in ipairs(sets[2]) do
      for _, p in ipairs(sets[3]) do out[#out + 1] = n .. "x" .. m .. "x" .. p end
    end
  end
  return out
end

function M.expand_shapes(text)
  local tokens, depth, cur = {}, 0, ""
  for ch in text:gmatch(".") do  -- split at the commas outside braces
    if ch == "{" then depth = depth + 1 elseif ch == "}" then depth = depth - 1 end
    if ch == "," and depth == 0 then tokens[#tokens + 1] = cur; cur = ""
    else cur = cur .. ch end
  end
  tokens[#tokens + 1] = cur
  local out, run = {}, {}
  for _, tok in ipairs(tokens) do
    tok = tok:match("^%s*(.-)%s*$")
    local last, pow = tok:match("^(%d+)%^(%d+)$")
    local set, pow2 = tok:match("^{([^{}]*)}%^(%d+)$")
    if tok:match("^%d+$") then
      run[#run + 1] = tok  -- "5,13,23^3": the set goes on until its power
    elseif last or set then
      local members = last and run or int_set(set)
      if last then run[#run + 1] = last; run = {} end
      if not members then return nil, "\"" .. tok .. "\": a set is {a,b,...} of whole numbers" end
      if (pow or pow2) ~= "3" then
        return nil, "\"" .. tok .. "\": a shape has three dimensions (^3)"
      end
      local ok, why = product({ members, members, members }, tok, out)
      if not ok then return nil, why end
    else
      if #run > 0 then
        return nil, "\"" .. table.concat(run, ",") .. "\" is no shape (NxMxP, or a set: 5,13,23^3)"
      end
      if tok:match("[{}]") then
        local dims, level, part = {}, 0, ""  -- split at the x outside braces
        for ch in tok:gmatch(".") do
          if ch == "{" then level = level + 1 elseif ch == "}" then level = level - 1 end
          if (ch == "x" or ch == "X") and level == 0 then dims[#dims + 1] = part; part = ""
          else part = part .. ch end
        end
        dims[#dims + 1] = part
        local sets = {}
        for i = 1, #dims do
          sets[i] = dims[i]:match("^%s*(%d+)%s*$") and { dims[i]:match("%d+") }
            or int_set(dims[i]:match("^%s*{(.*)}%s*$") or "x")
        end
        if #dims ~= 3 or not (sets[1] and sets[2] and sets[3]) then
          return nil, "\"" .. tok .. "\": want NxMxP with {a,b,...} for a set of sizes"
        end
        local ok, why = product(sets, tok, out)
        if not ok then return nil, why end
      elseif tok ~= "" then
        out[#out + 1] = tok
      end
    end
  end
  if #run > 0 then
    return nil, "\"" .. table.concat(run, ",") .. "\" is no shape (NxMxP, or a set: 5,13,23^3)"
  end
  return out
end

local function check_shapes(v, bad)
  local shapes, seen = {}, {}
  if type(v) ~= "table" or #v == 0 then
    bad({ "shapes" }, "must be a non-empty list of \"NxMxP\" (got " .. describe(v) .. ")")
    return shapes
  end
  local items = {}  -- products expanded: { value, index in the spec's list }
  for i = 1, #v do
    if type(v[i]) == "string" and v[i]:match("[{}%^,]") then
      local list, why = M.expand_shapes(v[i])
      if not list then bad({ "shapes", i }, why) end
      for _, s in ipairs(list or {}) do items[#items + 1] = { s, i } end
    else
      items[#items + 1] = { v[i], i }
    end
  end
  for j = 1, #items do
    local i = items[j][2]
    local dims, why = M.parse_shape(items[j][1])
    if not dims then
      bad({ "shapes", i }, why)
    else
      local key = table.concat({ util.cint(dims[1]), util.cint(dims[2]), util.cint(dims[3]) }, "x")
      if seen[key] then bad({ "shapes", i }, "duplicate shape " .. key) end
      seen[key] = true
      shapes[#shapes + 1] = { n = dims[1], m = dims[2], p = dims[3] }
    end
  end
  return shapes
end

local function check_budget(budget, bad)
  if budget == nil then budget = options.defaults.unroll_budget end
  if not compat.is_integer(budget) or budget < 1 then
    bad({ "unroll_budget" }, "must be an integer >= 1 (got " .. describe(budget) .. ")")
  end
  return budget
end

local function check_tile(tile, bad)
  if tile == nil then tile = options.defaults.tile end
  if type(tile) ~= "table" then
    bad({ "tile" }, "must be a table {rows = R, cols = C} (got " .. describe(tile) .. ")")
    return nil
  end
  for _, k in ipairs(compat.sorted_keys(tile)) do
    if k ~= "rows" and k ~= "cols" then bad({ "tile", k }, "unknown key (known: cols, rows)") end
  end
  for _, k in ipairs({ "rows", "cols" }) do
    local v = tile[k]
    if not compat.is_integer(v) or v < 1 or v > options.max_tile then
      bad({ "tile", k }, "must be an integer in 1.." .. util.cint(options.max_tile)
        .. " (got " .. describe(v) .. ")")
    end
  end
  return { rows = tile.rows, cols = tile.cols }
end

local function flag(key)
  return function(v, bad)
    if v == nil then v = options.defaults[key] end
    if type(v) ~= "boolean" then bad({ key }, "must be true or false (got " .. describe(v) .. ")") end
    return v
  end
end

-- Every field a spec may have, and its check.
local FIELDS = {
  name = check_name,
  dtypes = wordlist("dtypes", options.dtypes, options.dtype_order),
  layouts = wordlist("layouts", options.layouts, options.layout_order),
  isas = wordlist("isas", options.isas, options.isa_order),
  scalars = wordlist("scalars", options.scalars, options.scalars_order),
  shapes = check_shapes,
  unroll_budget = check_budget,
  tile = check_tile,
  anyshape = flag("anyshape"),
  prefetch = flag("prefetch"),
}

local KNOWN = compat.sorted_keys(FIELDS)
KNOWN[#KNOWN + 1] = "orders"
table.sort(KNOWN)

-- raw: table from the spec file (or {}); where: file name; line_of: path -> line;
-- cli: { field = {value=..., flag=...} } overrides. Returns spec or nil, errors.
function M.validate(raw, where, line_of, cli)
  local errs = util.errors()
  local function bad(path, msg)
    local c = cli[path[1]]
    if c then
      errs.add("<command line>", 0, c.flag .. ": " .. msg)
    else
      errs.add(where, line_of(path), fieldname(path) .. ": " .. msg)
    end
  end
  if type(raw) ~= "table" then
    errs.add(where, 1, "spec must return a table (got " .. type(raw) .. ")")
    return nil, errs.list
  end
  local src = {}
  for _, k in ipairs(compat.sorted_keys(raw)) do
    if not FIELDS[k] and k ~= "orders" then
      bad({ k }, "unknown key (known: " .. table.concat(KNOWN, ", ") .. ")")
    else
      src[k] = raw[k]
    end
  end
  for k, c in pairs(cli) do src[k] = c.value end
  local spec = {}
  for _, k in ipairs(compat.sorted_keys(FIELDS)) do spec[k] = FIELDS[k](src[k], bad) end
  spec.orders = check_orders(src.orders, bad, spec)  -- after layouts: it may be keyed by them
  if #errs.list > 0 then return nil, errs.list end
  return spec
end

-- A spec is code: it runs under an instruction limit and a memory limit, so one that loops or
-- grows without end is an error, not a hang or the machine's memory. The hook runs every few
-- instructions because one instruction can double a string (s = s .. s); string.rep, which
-- can ask for gigabytes in one call, is checked before it runs.
local SPEC_INSTRUCTIONS = 10000000
local SPEC_MEMORY_KB = 64 * 1024
local HOOK_EVERY = 4
local function run_limited(chunk)
  if jit then jit.off(chunk, true) end  -- count hooks do not fire inside compiled traces
  local base = collectgarbage("count")
  local function over_memory(kb)
    return "used more than " .. math.floor(SPEC_MEMORY_KB / 1024) .. " MB of memory"
      .. (kb and (" (asked for " .. math.floor(kb / 1024) .. " MB more)") or "")
  end
  local strings = getmetatable("")
  local plain = strings.__index
  local rep = plain.rep
  strings.__index = setmetatable({ rep = function(s, n, sep)
    local kb = ((#tostring(s) + #tostring(sep or "")) * (tonumber(n) or 0)) / 1024
    if kb > SPEC_MEMORY_KB then error(over_memory(kb), 2) end
    return rep(s, n, sep)
  end }, { __index = plain })
  local left = SPEC_INSTRUCTIONS / HOOK_EVERY
  debug.sethook(function()
    left = left - 1
    if left <= 0 then error("ran past " .. SPEC_INSTRUCTIONS .. " instructions", 0) end
    if collectgarbage("count") - base > SPEC_MEMORY_KB then
      collectgarbage()  -- garbage is not use: count again after a full collection
      if collectgarbage("count") - base > SPEC_MEMORY_KB then error(over_memory(), 0) end
    end
  end, "", HOOK_EVERY)
  local ok, raw = pcall(chunk)
  debug.sethook()
  strings.__index = plain
  return ok, raw
end

-- Read a spec file; returns raw table, line_of, or nil + errors.
-- What a spec may call: pure functions only (no io, os, require, load, debug; no
-- math.random, whose numbers would make the output differ run to run), and product(ns, ms,
-- ps), the list of every "NxMxP" of three lists of sizes.
local function copy(from, names)
  local t = {}
  for name in names:gmatch("%S+") do t[name] = from[name] end
  return t
end
local function sandbox()
  local env = copy(_G, "ipairs pairs next select type tostring tonumber assert error unpack")
  env.string = copy(string, "byte char find format gmatch gsub len lower match rep reverse sub upper")
  env.math = copy(math, "abs ceil floor fmod huge max min pi sqrt tointeger type")
  env.table = copy(table, "concat insert remove sort unpack")
  env.unpack = env.unpack or table.unpack
  env.product = function(ns, ms, ps)
    local out = {}
    for _, n in ipairs(ns) do
      for _, m in ipairs(ms) do
        for _, p in ipairs(ps) do out[#out + 1] = { n, m, p } end
      end
    end
    return out
  end
  return env
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil, nil, { path .. ":0: error: cannot open spec file" } end
  local text = f:read("*a")
  f:close()
  local chunk, err = compat.load(text, "@" .. path, sandbox())
  if not chunk then
    local located, n = err:gsub(":(%d+):", ":%1: error:", 1)
    return nil, nil, { n > 0 and located or (path .. ":0: error: " .. err) }
  end
  local ok, raw = run_limited(chunk)
  if not ok then return nil, nil, { path .. ":0: error: spec raised: " .. tostring(raw) } end
  return raw, locate.index(text)
end

-- Canonical text of a validated spec: what the banner hash covers.
function M.canonical(spec)
  return util.serialize(spec)
end

return M
