-- problems.lua: validated spec -> sorted list of problems {dtype, n, m, p, layout, order}.
local options = require("options")

local M = {}

function M.from_spec(spec)
  local out = {}
  for _, dt in ipairs(spec.dtypes) do
    for _, s in ipairs(spec.shapes) do
      for _, lay in ipairs(spec.layouts) do
        for _, ord in ipairs(spec.orders[lay]) do
          out[#out + 1] = { dtype = dt, n = s.n, m = s.m, p = s.p, layout = lay, order = ord }
        end
      end
    end
  end
  local rank = {}
  for i, v in ipairs(options.dtype_order) do rank[v] = i end
  for i, v in ipairs(options.layout_order) do rank[v] = i end
  for i, v in ipairs(options.order_order) do rank[v] = i end
  table.sort(out, function(a, b)
    if a.dtype ~= b.dtype then return rank[a.dtype] < rank[b.dtype] end
    if a.n ~= b.n then return a.n < b.n end
    if a.m ~= b.m then return a.m < b.m end
    if a.p ~= b.p then return a.p < b.p end
    if a.layout ~= b.layout then return rank[a.layout] < rank[b.layout] end
    return rank[a.order] < rank[b.order]
  end)
  return out
end

return M
