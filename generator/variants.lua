-- variants.lua: problems -> kernel descriptors (one per ISA x alpha/beta variant x form),
-- each with the name that spells it out: bmm_<dtype>_<n>x<m>x<p>_<layout>_<isa>[_t<R>x<C>]_<scalars>.
local util = require("util")
local options = require("options")

local M = {}

local function shape_tag(pr)
  return util.cint(pr.n) .. "x" .. util.cint(pr.m) .. "x" .. util.cint(pr.p)
end
M.shape_tag = shape_tag

function M.from_problems(problems, spec)
  local out = {}
  for _, pr in ipairs(problems) do
    local unrolled = pr.n * pr.m * pr.p <= spec.unroll_budget
    local tile = nil
    if not unrolled then
      tile = { rows = math.min(spec.tile.rows, pr.n), cols = math.min(spec.tile.cols, pr.p) }
    end
    for _, isa in ipairs(spec.isas) do
      for _, sc in ipairs(spec.scalars) do
        local form = unrolled and "unroll"
          or ("t" .. util.cint(tile.rows) .. "x" .. util.cint(tile.cols))
        local name = table.concat({ "bmm", pr.dtype, shape_tag(pr), pr.layout, isa }, "_")
        if not unrolled then name = name .. "_" .. form end
        name = name .. "_" .. sc
        out[#out + 1] = {
          name = name, dtype = pr.dtype, n = pr.n, m = pr.m, p = pr.p,
          ctype = options.dtypes[pr.dtype].ctype,
          layout = pr.layout, isa = isa, scalars = sc, form = form, tile = tile,
          file = "bmm_" .. pr.dtype .. "_" .. shape_tag(pr),
        }
      end
    end
  end
  return out
end

return M
