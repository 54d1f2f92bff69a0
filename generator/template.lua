-- template.lua: strict ${name} substitution: templates hold no logic. A variable the template uses but
-- the caller did not give, or one given but never used, is an error naming template and line.
-- "$$" stands for a literal "$" (CMake text needs it).
local compat = require("compat")
local source = require("source")

local M = {}

local cache = {}

function M.load(dir, name)
  local path = dir .. "/" .. name
  if cache[path] then return cache[path] end
  local text = source.read(path)
  if not text then error(path .. ":0: error: cannot open template", 0) end
  cache[path] = { name = path, text = text }
  return cache[path]
end

function M.fill(tpl, vars)
  local used = {}
  local out, line = {}, 1
  for chunk in (tpl.text .. "\n"):gmatch("([^\n]*)\n") do
    local filled = chunk:gsub("%$%$", "\1"):gsub("%${([%w_]+)}", function(k)
      local v = vars[k]
      if v == nil then
        error(string.format("%s:%d: error: template variable ${%s} not given", tpl.name, line, k), 0)
      end
      used[k] = true
      return v
    end):gsub("\1", "$")
    out[#out + 1] = filled
    line = line + 1
  end
  for _, k in ipairs(compat.sorted_keys(vars)) do
    if not used[k] then
      error(string.format("%s:0: error: variable ${%s} given but not used by the template", tpl.name, k), 0)
    end
  end
  -- the file text ends in exactly one newline, like the template
  local s = table.concat(out, "\n")
  return (s:gsub("\n$", ""))
end

return M
