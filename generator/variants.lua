-- variants.lua: problems -> kernel descriptors (one per ISA x form x alpha/beta variant),
-- each with the name that spells it out: bmm_<dtype>_<n>x<m>x<p>_<layout>_<isa>[_<form>]_<scalars>.
local util = require("util")
local options = require("options")
local vector = require("vector")

local M = {}

local function shape_tag(pr)
  return util.cint(pr.n) .. "x" .. util.cint(pr.m) .. "x" .. util.cint(pr.p)
end
M.shape_tag = shape_tag

-- Forms of one problem on one ISA: c99 has one (unrolled, or a register tile in loops past
-- the unroll budget); the vector ISAs have the search space of vector.lua.
local function forms(pr, spec, isa)
  if isa ~= "c99" then return vector.forms(pr, isa, spec.unroll_budget), true end
  if pr.n * pr.m * pr.p <= spec.unroll_budget then return { "unroll" } end
  local tile = { rows = math.min(spec.tile.rows, pr.n), cols = math.min(spec.tile.cols, pr.p) }
  return { "t" .. util.cint(tile.rows) .. "x" .. util.cint(tile.cols) }, nil, tile
end

function M.from_problems(problems, spec)
  local out = {}
  local has_b0 = false
  for _, sc in ipairs(spec.scalars) do has_b0 = has_b0 or sc == "b0" end
  for _, pr in ipairs(problems) do
    for _, isa in ipairs(spec.isas) do
      local fs, vec, tile = forms(pr, spec, isa)
      for _, form in ipairs(fs) do
        for _, sc in ipairs(spec.scalars) do
          -- vector kernels fold alpha = 1 only where b0 is not generated anyway: in a vector
          -- kernel it saves one multiply per vector of C (a1b0 problems run the b0 kernel)
          if not (vec and sc == "a1b0" and has_b0) then
            local name = table.concat({ "bmm", pr.dtype, shape_tag(pr), pr.layout, isa }, "_")
            if form ~= "unroll" then name = name .. "_" .. form end
            -- the across-batch form hands leftover items to the first form of its ISA
            local fallback = nil
            if form == "xb" then fallback = name:gsub("_xb$", "_" .. fs[1]) .. "_" .. sc end
            out[#out + 1] = {
              name = name .. "_" .. sc, fallback = fallback, dtype = pr.dtype, n = pr.n, m = pr.m, p = pr.p,
              ctype = options.dtypes[pr.dtype].ctype,
              layout = pr.layout, isa = isa, scalars = sc, form = form, tile = tile,
              file = "bmm_" .. pr.dtype .. "_" .. shape_tag(pr),
            }
          end
        end
      end
    end
  end
  return out
end

return M
