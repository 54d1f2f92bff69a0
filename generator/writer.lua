-- writer.lua: { [path] = text } -> files under the output folder. Writes only files whose text
-- changed (so builds stay incremental) and removes kernel files the previous run listed in its
-- files.cmake but this run no longer makes.
local compat = require("compat")
local read = require("source").read

local M = {}

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mkdir(path)
  local ok = os.execute("mkdir -p " .. shell_quote(path))
  return ok == true or ok == 0
end

-- Returns the number of files written, or nil + error message.
function M.write(outdir, files)
  local stale = {}
  local old_list = read(outdir .. "/files.cmake")
  if old_list then
    for rel in old_list:gmatch("}/(kernels/[^\n]+%.c)") do
      if not files[rel] then stale[#stale + 1] = rel end
    end
  end
  local written = 0
  for _, rel in ipairs(compat.sorted_keys(files)) do
    local path = outdir .. "/" .. rel
    local dir = path:match("^(.*)/[^/]*$")
    if dir and not mkdir(dir) then return nil, dir .. ": error: cannot create folder" end
    if read(path) ~= files[rel] then
      local tmp = path .. ".tmp"
      local f = io.open(tmp, "wb")
      if not f then return nil, path .. ": error: cannot write" end
      f:write(files[rel])
      f:close()
      local ok, err = os.rename(tmp, path)
      if not ok then return nil, path .. ": error: " .. tostring(err) end
      written = written + 1
    end
  end
  for _, rel in ipairs(stale) do os.remove(outdir .. "/" .. rel) end
  return written
end

return M
