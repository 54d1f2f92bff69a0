-- compat.lua: the one place that papers over LuaJIT 2.1 vs Lua 5.4 (see docs/generator.md).
-- Everything else uses only the common subset: no //, no bit operators, no integer subtype.
local M = {}

-- 4-argument load with an environment works on both interpreters.
function M.load(src, chunkname, env)
  return load(src, chunkname, "t", env)
end

-- True if x is a number holding an integer value (5.4 float or int, LuaJIT double).
function M.is_integer(x)
  return type(x) == "number" and x == x and x == math.floor(x)
    and x > -2^53 and x < 2^53
end

-- Keys of t in a stable order (pairs order differs between interpreters).
function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  return keys
end

return M
