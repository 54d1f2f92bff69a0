-- writer.lua: files, one at a time as the generator completes them -> the output folder.
-- open(outdir) returns { put(rel, text), commit() -> count, abort() }. put() writes a file
-- whose text changed to "<path>.tmp" at once (so no file's text stays in memory); commit()
-- renames them all into place and removes the kernel files the previous run listed in its
-- files.cmake but this run no longer made; abort() removes the .tmp files, so a run that
-- fails leaves the folder as it was. Unchanged files are not touched (builds stay incremental).
local read = require("source").read

local M = {}

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mkdir(path)
  local ok = os.execute("mkdir -p " .. shell_quote(path))
  return ok == true or ok == 0
end

-- Errors are raised as "path:0: error: ..." (the driver collects them).
function M.open(outdir)
  local put, pending = {}, {}
  local w = {}

  function w.put(rel, text)
    if put[rel] then error(outdir .. "/" .. rel .. ":0: error: written twice", 0) end
    put[rel] = true
    local path = outdir .. "/" .. rel
    if read(path) == text then return end
    local dir = path:match("^(.*)/[^/]*$")
    if dir and not mkdir(dir) then error(dir .. ":0: error: cannot create folder", 0) end
    local f = io.open(path .. ".tmp", "wb")
    if not f then error(path .. ":0: error: cannot write", 0) end
    pending[#pending + 1] = rel
    local ok = f:write(text)
    f:close()
    if not ok then error(path .. ":0: error: cannot write", 0) end
  end

  -- Returns the number of files written, or nil + error message.
  function w.commit()
    local stale = {}
    local old_list = read(outdir .. "/files.cmake")
    if old_list then
      for rel in old_list:gmatch("}/(kernels/[^\n]+%.c)") do
        if not put[rel] then stale[#stale + 1] = rel end
      end
    end
    table.sort(pending)
    for _, rel in ipairs(pending) do
      local path = outdir .. "/" .. rel
      local ok, err = os.rename(path .. ".tmp", path)
      if not ok then return nil, path .. ":0: error: " .. tostring(err) end
    end
    for _, rel in ipairs(stale) do os.remove(outdir .. "/" .. rel) end
    return #pending
  end

  function w.abort()
    for _, rel in ipairs(pending) do os.remove(outdir .. "/" .. rel .. ".tmp") end
  end

  return w
end

return M
