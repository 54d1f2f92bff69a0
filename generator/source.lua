-- source.lua: reads the generator's own files (templates, runtime headers) from disk. Inside
-- libbmm the runtime puts a table with the same read() in package.loaded.source before any
-- module asks for it, serving the copies compiled into the library: generation on demand
-- needs no source tree.
local M = {}

-- The whole file at path, or nil if it cannot be read.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

return M
