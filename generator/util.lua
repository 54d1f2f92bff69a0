-- util.lua: C literals, hashing, serialization and error collection shared by the stages.
local compat = require("compat")

local M = {}

-- C integer literal. Never tostring(): 5.4 prints 3.0 where LuaJIT prints 3.
function M.cint(x)
  assert(compat.is_integer(x), "cint: not an integer")
  return string.format("%d", x)
end

-- Shortest round-trip C floating literal; f32 gets the f suffix.
function M.cfloat(x, dtype)
  local s
  for prec = 1, 17 do
    s = string.format("%." .. prec .. "g", x)
    if tonumber(s) == x then break end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end
  if dtype == "f32" then s = s .. "f" end
  return s
end

-- 64-bit style hash as 16 hex digits from two 32-bit lanes; arithmetic stays below 2^53.
function M.hash(s)
  local h1, h2 = 5381, 52711
  for i = 1, #s do
    local b = s:byte(i)
    h1 = (h1 * 33 + b) % 4294967291
    h2 = (h2 * 31 + b) % 4294967279
  end
  return string.format("%08x%08x", h1, h2)
end

-- Deterministic text form of a Lua value (sorted keys, integers via cint).
function M.serialize(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "number" then
    if compat.is_integer(v) then return M.cint(v) end
    return M.cfloat(v)
  elseif t == "string" then
    return string.format("%q", v)
  elseif t == "boolean" then
    return v and "true" or "false"
  elseif t == "table" then
    local parts, inner = {}, indent .. "  "
    local n = #v
    for i = 1, n do parts[#parts + 1] = inner .. M.serialize(v[i], inner) end
    for _, k in ipairs(compat.sorted_keys(v)) do
      if not (type(k) == "number" and k >= 1 and k <= n and compat.is_integer(k)) then
        local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k
          or "[" .. M.serialize(k) .. "]"
        parts[#parts + 1] = inner .. key .. " = " .. M.serialize(v[k], inner)
      end
    end
    if #parts == 0 then return "{}" end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  end
  return "nil"
end

-- Error list in compiler style: "file:line: error: msg". Stages add, the CLI prints them all.
function M.errors()
  local list = {}
  return {
    add = function(where, line, msg)
      list[#list + 1] = string.format("%s:%s: error: %s", where, M.cint(line), msg)
    end,
    list = list,
  }
end

-- Split "a,b , c" into {"a","b","c"}.
function M.split_list(s)
  local out = {}
  for item in s:gmatch("[^,%s]+") do out[#out + 1] = item end
  return out
end

return M
