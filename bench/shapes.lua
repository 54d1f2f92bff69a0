-- shapes.lua: writes a header of the benchmark's shapes (bench_shapes.h from
-- generator/specs/default.lua, bench_unseen.h from bench/unseen.lua), so that each list is
-- written down once, in its spec.
-- usage: lua shapes.lua GENERATOR_DIR SPEC OUT
local gdir, spec_path, out = arg[1], arg[2], arg[3]
package.path = gdir .. "/?.lua;" .. package.path
local spec = require("spec")
local util = require("util")

local raw, line_of, errs = spec.read_file(spec_path)
local s
if not errs then s, errs = spec.validate(raw, spec_path, line_of, {}) end
if not s then
  io.stderr:write(table.concat(errs, "\n"), "\n")
  os.exit(1)
end
local lines = {
  "/* " .. out:match("[^/]*$") .. ": made by bench/shapes.lua from " .. spec_path:match("[^/]*$") .. "; do not edit. */",
  "/* BENCH_SHAPE(n, m, p) once per shape of the spec, in its order. */",
}
for _, sh in ipairs(s.shapes) do
  lines[#lines + 1] = "BENCH_SHAPE(" .. util.cint(sh.n) .. ", " .. util.cint(sh.m) .. ", " .. util.cint(sh.p) .. ")"
end
local f = assert(io.open(out, "wb"))
f:write(table.concat(lines, "\n"), "\n")
f:close()
