-- run.lua: unit tests of the generator's stages. Usage: <lua> tests/lua/run.lua <repo root>
-- Runs under Lua 5.4 and LuaJIT; prints "N passed, N failed" and exits non-zero on failure.
local root = arg[1] or "."
local interp = arg[-1] or "lua"
package.path = root .. "/generator/?.lua;" .. package.path

local util = require("util")
local compat = require("compat")
local spec = require("spec")
local driver = require("driver")
local template = require("template")
local ir = require("ir")

local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then passed = passed + 1
  else
    failed = failed + 1
    io.write("FAIL ", name, ": ", tostring(err), "\n")
  end
end
local function check(cond, msg) if not cond then error(msg or "check failed", 2) end end
local function eq(a, b) if a ~= b then error(("got %s, want %s"):format(tostring(a), tostring(b)), 2) end end

local tmp = os.tmpname()
os.remove(tmp)
local function write(path, text) local f = assert(io.open(path, "wb")); f:write(text); f:close() end
local function exists(path) local f = io.open(path, "rb"); if f then f:close() end; return f ~= nil end
local function slurp(path) local f = io.open(path, "rb"); if not f then return nil end; local t = f:read("*a"); f:close(); return t end
local TDIR = root .. "/templates"

-- Runs the pipeline on spec text; returns result or nil, errors.
local function run_spec(text, stop)
  local p = tmp .. ".spec.lua"
  write(p, text)
  local r, errs = driver.run({ spec_path = p, command = "test", tdir = TDIR, stop_after = stop })
  os.remove(p)
  return r, errs, p
end

local GOOD = 'return {\n  shapes = { "2x3x4", "5x5x5" },\n  dtypes = { "f32" },\n}\n'

test("cint prints integers the same on every interpreter", function()
  eq(util.cint(3), "3"); eq(util.cint(3.0), "3"); eq(util.cint(-12), "-12")
  check(not pcall(util.cint, 0.5), "cint must refuse fractions")
end)

test("cfloat is the shortest round trip, f suffix for f32", function()
  eq(util.cfloat(1, "f32"), "1.0f"); eq(util.cfloat(0.1, "f64"), "0.1"); eq(util.cfloat(0, "f64"), "0.0")
  eq(tonumber(util.cfloat(1 / 3)), 1 / 3)
end)

test("hash is stable and sensitive", function()
  eq(util.hash("abc"), util.hash("abc")); check(util.hash("abc") ~= util.hash("abd"))
  eq(#util.hash(""), 16)
end)

test("sorted_keys orders numbers before strings", function()
  local k = compat.sorted_keys({ b = 1, a = 2, [2] = 3, [1] = 4 })
  eq(k[1], 1); eq(k[2], 2); eq(k[3], "a"); eq(k[4], "b")
end)

test("parse_shape", function()
  local d = spec.parse_shape("12x20x3"); eq(d[1], 12); eq(d[2], 20); eq(d[3], 3)
  d = spec.parse_shape({ 1, 2, 3 }); eq(d[3], 3)
  check(not spec.parse_shape("4x4")); check(not spec.parse_shape("4x0x4"))
  check(not spec.parse_shape({ 1, 2 })); check(not spec.parse_shape(7))
end)

-- Each bad spec: the error names the file, the line and the field.
local BAD = {
  { 'return {\n  shapes = { "4x4x4" },\n  colour = "red",\n}\n', ":3: error: colour: unknown key" },
  { 'return {\n  shapes = {\n    "4x4x4",\n    "4x4x0",\n  },\n}\n', ":4: error: shapes[2]: p must be >= 1 (got 0)" },
  { 'return {\n  shapes = { "4x4x4", "4x4" },\n}\n', ":2: error: shapes[2]: shape must be a triple" },
  { 'return {\n  shapes = { {1, 2} },\n}\n', ":2: error: shapes[1]: shape must be a triple {n, m, p}" },
  { 'return {\n  shapes = { "4x4x4" },\n  dtypes = { "f32",\n "f16" },\n}\n', ":4: error: dtypes[2]: unknown value \"f16\"" },
  { 'return {\n  shapes = { "4x4x4" },\n  layouts = { "cf" },\n}\n', ":3: error: layouts[1]: unknown value \"cf\"" },
  { 'return {\n  shapes = { "4x4x4", "4x4x4" },\n}\n', "shapes[2]: duplicate shape 4x4x4" },
  { 'return {\n  shapes = { "4x4x4" },\n  unroll_budget = 0,\n}\n', ":3: error: unroll_budget: must be an integer >= 1" },
  { 'return {\n  shapes = { "4x4x4" },\n  tile = { rows = 4, cols = 99 },\n}\n', ":3: error: tile.cols: must be an integer in 1..32" },
  { 'return {\n  shapes = {},\n}\n', ":2: error: shapes: must be a non-empty list" },
  { 'return 42\n', ":1: error: spec must return a table" },
  { 'return {\n  shapes = { "4x4x4" \n', "error:" },
  -- found by fuzz_generator: a spec that loops, a binary chunk; both in file:line: error: form
  { 'local n = 0\nwhile true do n = n + 1 end\n', ":0: error: spec raised: ran past" },
  { '\27Lua binary', ":0: error: " },
  -- found by fuzz_generator: a hole in a word list (an undefined name) was a Lua error
  { 'return {\n  shapes = { "4x4x4" },\n  dtypes = { nosuch, "f32" },\n}\n', ":3: error: dtypes[1]: unknown value nil" },
  -- a spec that grows a string without end, or asks string.rep for gigabytes: the memory limit
  { 'local s = "x"\nwhile true do s = s .. s end\n', ":0: error: spec raised: used more than 64 MB" },
  { 'return { shapes = { ("4"):rep(2^40) } }\n', ":1: used more than 64 MB of memory (asked for" },
  -- products: a bad set, a power not 3, a run of sizes without one, too many shapes
  { 'return {\n  shapes = { "4x4x4", "{2,x}^3" },\n}\n', ":2: error: shapes[2]: \"{2,x}^3\": a set is" },
  { 'return {\n  shapes = { "2,3^2" },\n}\n', "shapes[1]: \"3^2\": a shape has three dimensions" },
  { 'return {\n  shapes = { "2,3" },\n}\n', "shapes[1]: \"2,3\" is no shape" },
  { 'return {\n  shapes = { "1x{1,2}" },\n}\n', "shapes[1]: \"1x{1,2}\": want NxMxP" },
  { 'return { shapes = { "{' .. ("1,"):rep(16) .. '17}^3" } }\n', "makes 4913 shapes (at most 4096)" },
  { 'return { shapes = { "{2,3}^3", "2x2x2" } }\n', "shapes[2]: duplicate shape 2x2x2" },
  -- the sandbox: pure helpers only
  { 'return { shapes = { os.time() } }\n', "'os'" },
  { 'return { shapes = { math.random(9) } }\n', "'random'" },
  { 'return { shapes = { io.read() } }\n', "'io'" },
}
for i, case in ipairs(BAD) do
  test("bad spec " .. util.cint(i) .. " names its field", function()
    local r, errs = run_spec(case[1], "spec")
    check(not r, "bad spec accepted")
    local all = table.concat(errs, "\n")
    check(all:find(case[2], 1, true), "errors were:\n" .. all .. "\nwanted: " .. case[2])
  end)
end

test("shape products: 5,13,23^3, {..}^3 and a set per dimension, n slowest; the spec's helpers", function()
  local l = spec.expand_shapes("5,13,23^3")
  eq(#l, 27); eq(l[1], "5x5x5"); eq(l[2], "5x5x13"); eq(l[27], "23x23x23")
  l = spec.expand_shapes("{5,13}^3, 4x4x4,1x{8,16}x{64,128}")
  eq(#l, 13); eq(l[9], "4x4x4"); eq(l[10], "1x8x64"); eq(l[13], "1x16x128")
  eq(#spec.expand_shapes("4x4x4,5x7x3"), 2)
  local r = run_spec('local s = {}\nfor _, t in ipairs(product({ 5, 13 }, { 7 }, { 3, 9 })) do\n'
    .. '  s[#s + 1] = t\nend\ntable.insert(s, string.format("%dx%dx%d", 2, math.max(1, 2), 2))\n'
    .. 'return { shapes = s, dtypes = { "f32" } }\n', "spec")
  check(r, "a spec using the helpers failed")
  eq(#r.value.shapes, 5); eq(r.value.shapes[2].p, 9); eq(r.value.shapes[5].m, 2)
end)

test("every error of a spec is reported, not just the first", function()
  local r, errs = run_spec('return {\n  shapes = { "0x1x1" },\n  dtypes = { "f8" },\n  x = 1,\n}\n', "spec")
  check(not r); eq(#errs, 3)
end)

test("command-line options override the spec and are checked", function()
  local r = driver.run({ cli = { shapes = { value = { "3x3x3" }, flag = "--shapes" },
    dtypes = { value = { "f64" }, flag = "--dtypes" } }, command = "t", tdir = TDIR, stop_after = "problems" })
  eq(#r.value, 2); eq(r.value[1].dtype, "f64"); eq(r.value[1].n, 3)
  local bad, errs = driver.run({ cli = { shapes = { value = { "3x3" }, flag = "--shapes" } },
    command = "t", tdir = TDIR })
  check(not bad); check(errs[1]:find("<command line>:0: error: --shapes: shape must be a triple", 1, true), errs[1])
end)

test("anyshape: a boolean; false leaves the shape-generic kernels out; a bad value is named", function()
  local r = run_spec(GOOD:gsub("}\n$", '  anyshape = false,\n}\n'), "variants")
  for _, d in ipairs(r.value) do check(not d.anyshape, d.name) end
  local bad, errs = run_spec(GOOD:gsub("}\n$", '  anyshape = "yes",\n}\n'), "spec")
  check(not bad); check(errs[1]:find(":4: error: anyshape: must be true or false", 1, true), errs[1])
end)

test("prefetch: a boolean; false leaves the _pf twins out and nothing else", function()
  local base = 'return {\n  shapes = { "9x9x9" },\n  layouts = { "sf" },\n  isas = { "avx512" },\n'
  local with = run_spec(base .. '}\n', "variants").value
  local without = run_spec(base .. '  prefetch = false,\n}\n', "variants").value
  local pf, rest = 0, {}
  for _, d in ipairs(with) do
    if d.prefetch then pf = pf + 1 else rest[#rest + 1] = d.name end
  end
  check(pf > 0, "9x9x9 seq-first has no _pf form")
  eq(#without, #rest)
  for i, d in ipairs(without) do eq(d.name, rest[i]) end
  local bad, errs = run_spec(base .. '  prefetch = 1,\n}\n', "spec")
  check(not bad); check(errs[1]:find(":5: error: prefetch: must be true or false", 1, true), errs[1])
end)

test("problems and variants are sorted and named in the fixed order", function()
  local r = run_spec(GOOD:gsub("}\n$", '  isas = { "c99" },\n}\n'), "variants")
  local v = r.value
  -- shapes x layouts x alpha/beta forms, then the shape-generic kernels (two forms)
  eq(#v, (2 * 2 + 2) * #require("options").defaults.scalars)
  eq(v[17].name, "bmm_f32_nxmxp_any_c99_g4x4_a1b0"); eq(v[24].name, "bmm_f32_nxmx1_any_c99_g8x1_ab")
  eq(v[1].name, "bmm_f32_2x3x4_bf_c99_a1b0"); eq(v[2].name, "bmm_f32_2x3x4_bf_c99_a1b1")
  eq(v[5].name, "bmm_f32_2x3x4_sf_c99_a1b0"); eq(v[16].name, "bmm_f32_5x5x5_sf_c99_ab")
end)

test("vector variants: forms per shape and ISA, no alpha = 1 form beside b0", function()
  local r = run_spec('return { shapes = { "4x4x4", "10x64x1", "40x40x40" }, dtypes = { "f32" } }\n', "variants")
  local names = {}
  for _, d in ipairs(r.value) do names[d.name] = d end
  check(names["bmm_f32_4x4x4_bf_avx512_flat_b0"], "flat for a small batch-first shape")
  check(not names["bmm_f32_4x4x4_sf_avx512_flat_b0"], "flat needs batch-first rows")
  check(not names["bmm_f32_4x4x4_bf_avx2_flat_b0"], "flat needs AVX-512 permutes")
  check(names["bmm_f32_4x4x4_sf_avx2_rows_ab"] and not names["bmm_f32_4x4x4_sf_avx2_rows_a1b0"])
  local xb = names["bmm_f32_4x4x4_sf_avx512_xb_ab"]
  check(xb and xb.fallback == names["bmm_f32_4x4x4_sf_avx512_rows_ab"], "across-batch form falls back to rows")
  check(not names["bmm_f32_4x4x4_bf_avx512_xb_ab"], "across-batch is seq-first only")
  check(names["bmm_f32_10x64x1_bf_avx2_dot_b0"] and not names["bmm_f32_10x64x1_bf_avx2_rows_b0"], "p = 1: dot only")
  check(names["bmm_f32_40x40x40_bf_avx512_rl8_b0"] and names["bmm_f32_40x40x40_bf_avx512_rl4_b0"], "looped tiles")
  check(names["bmm_f32_40x40x40_bf_c99_t4x8_a1b0"])
  -- prefetching twins: seq-first, past the threshold, rows/rl forms only
  check(names["bmm_f32_40x40x40_sf_avx512_rl8_pf_b0"] and names["bmm_f32_40x40x40_sf_avx2_rl6_pf_ab"], "sf twins")
  check(not names["bmm_f32_40x40x40_bf_avx512_rl8_pf_b0"], "no prefetching twin batch-first")
  check(not names["bmm_f32_4x4x4_sf_avx512_rows_pf_b0"], "no prefetching twin below the threshold")
  check(not names["bmm_f32_10x64x1_sf_avx512_dot_pf_b0"] and not names["bmm_f32_40x40x40_sf_c99_t4x8_pf_b0"])
end)

test("operand orders: per layout, forms by order, names, needs; bad orders are named", function()
  local r = run_spec('return { shapes = { "2x2x2", "8x8x8", "40x40x40", "1x9x9" }, dtypes = { "f32" },\n'
    .. '  orders = { bf = { "nn", "tn", "nt", "tt" } } }\n', "variants")
  local names = {}
  for _, d in ipairs(r.value) do names[d.name] = d end
  local tn = names["bmm_f32_8x8x8_bf_tn_avx512_rows_ab"]
  check(tn and tn.trans_a and not tn.trans_b, "tn rows, batch-first")
  eq(tn.needs[#tn.needs], "BMM_NEEDS_A_TRANSPOSED")
  check(names["bmm_f32_40x40x40_bf_tn_avx2_rl6_b0"], "tn looped rows")
  check(not names["bmm_f32_8x8x8_sf_tn_avx512_rows_ab"], "sf: nn only (not named)")
  -- the unrolled rows form reads a transposed B of up to four registers (permutes: AVX-512)
  -- where no flat form does
  check(not names["bmm_f32_8x8x8_bf_nt_avx512_rows_ab"], "flat reads it: no rows")
  check(not names["bmm_f32_40x40x40_bf_nt_avx512_rl8_ab"], "no looped form reads a transposed B")
  check(not names["bmm_f32_8x8x8_bf_tn_c99_ab"], "no portable C of a transposed order")
  check(names["bmm_f32_2x2x2_bf_nt_avx512_flat_ab"] and names["bmm_f32_2x2x2_bf_tt_avx512_pk4_ab"])
  -- flat takes a transposed B of up to four registers (8x8x8 f32), not a transposed A of more
  -- than one group of rows; both transposed, it computes the transposed product
  check(names["bmm_f32_8x8x8_bf_nt_avx512_flat_ab"], "nt flat, B in four sources")
  check(not names["bmm_f32_8x8x8_bf_tn_avx512_flat_ab"], "no tn flat with A in four groups")
  check(names["bmm_f32_8x8x8_bf_tt_avx512_flat_ab"].swap, "tt flat: C^T = B^T A^T")
  check(not names["bmm_f32_8x8x8_bf_nt_avx512_flat_ab"].swap)
  eq(names["bmm_f32_2x2x2_bf_tt_avx512_pk4_ab"].fallback, names["bmm_f32_2x2x2_bf_tt_avx512_flat_ab"])
  check(not names["bmm_f32_1x9x9_bf_tn_avx512_rows_ab"], "n = 1: A is never a transposed view")
  check(names["bmm_f32_nxmxp_rm_tn_avx512_g8_ab"], "shape-generic tn, whatever the orders")
  local plain = run_spec('return { shapes = { "8x8x8" }, dtypes = { "f32" } }\n', "variants")
  for _, d in ipairs(plain.value) do check(not d.name:find("_bf_tn_"), d.name) end
  local bad, errs = run_spec('return { shapes = { "4x4x4" },\n  orders = { bf = { "nn", "tx" } } }\n', "spec")
  check(not bad); check(errs[1]:find(":2: error: orders.bf[2]: unknown value \"tx\"", 1, true), errs[1])
  bad, errs = run_spec('return { shapes = { "4x4x4" }, layouts = { "bf" },\n  orders = { sf = { "nn" } } }\n', "spec")
  check(not bad); check(errs[1]:find("orders.sf: layout \"sf\" is not in layouts", 1, true), errs[1])
end)

test("vector IR of a transposed order reads the operand's stored order", function()
  local vector = require("vector")
  local r = run_spec('return { shapes = { "2x3x2", "3x3x3" }, dtypes = { "f32" }, isas = { "avx512" },\n'
    .. '  scalars = { "a1b0" }, layouts = { "bf" }, orders = { "nn", "tn", "nt", "tt" }, anyshape = false }\n',
    "variants")
  local by = {}
  for _, d in ipairs(r.value) do by[d.name] = d end
  -- the tt permute form loads the same sources as nn, and its lanes pick A[r,k] at k*n + r
  local nn, tt = by["bmm_f32_3x3x3_bf_avx512_flat_a1b0"], by["bmm_f32_3x3x3_bf_tt_avx512_flat_a1b0"]
  check(nn and tt, "3x3x3 flat in both orders")
  local function perms(d)
    local out = {}
    local function walk(e)
      if type(e) ~= "table" then return end
      if e.op == "vperm" then out[#out + 1] = table.concat(e.idx, ",") end
      for _, v in pairs(e) do walk(v) end
    end
    walk(vector.build(d).body)
    table.sort(out)
    return table.concat(out, ";")
  end
  check(perms(nn) ~= perms(tt), "tt permutes its lanes otherwise")
  -- a transposed B in four sources: lane (r, j) of B's k-th vector is B[k, j], stored at
  -- j*m + k, and the emitter blends the two pairs' permutes where that passes 2W
  local wide = run_spec('return { shapes = { "8x8x8" }, dtypes = { "f32" }, isas = { "avx512" },\n'
    .. '  scalars = { "a1b0" }, layouts = { "bf" }, orders = { "nt" }, anyshape = false }\n', "variants")
  local nt8
  for _, d in ipairs(wide.value) do if d.name == "bmm_f32_8x8x8_bf_nt_avx512_flat_a1b0" then nt8 = d end end
  check(nt8, "8x8x8 nt flat")
  local seen = {}
  local function walk(e)
    if type(e) ~= "table" then return end
    if e.op == "vperm" and e.c then seen[#seen + 1] = e.idx end
    for _, v in pairs(e) do walk(v) end
  end
  walk(vector.build(nt8).body)
  eq(#seen, 8)
  for _, ix in ipairs(seen) do
    local k = ix[1]
    for l = 0, 15 do eq(ix[l + 1], (l % 8) * 8 + k) end
  end
  -- both transposed: C^T = B^T A^T (8 x 7 for a 7x5x8 C) in four groups of two rows; lane l
  -- of C's vector s (C[i, j], s*W + l = i*8 + j) is lane (j % 2)*7 + i of group j // 2's
  local both = run_spec('return { shapes = { "7x5x8" }, dtypes = { "f32" }, isas = { "avx512" },\n'
    .. '  scalars = { "a1b0" }, layouts = { "bf" }, orders = { "tt" }, anyshape = false }\n', "variants")
  local stores = {}
  for _, d in ipairs(both.value) do
    if d.kind == "flat" then
      for _, st in ipairs(vector.build(d).body) do
        if st.op == "vdef" and st.name:find("^ct") then stores[#stores + 1] = st.value end
      end
    end
  end
  eq(#stores, 4)
  for s, v in ipairs(stores) do
    check(v.op == "vperm" and v.d, "four accumulators per vector of C")
    eq(#v.idx, s < 4 and 16 or 8)
    for l = 0, #v.idx - 1 do
      local e = (s - 1) * 16 + l
      local i, j = math.floor(e / 8), e % 8
      eq(v.idx[l + 1], math.floor(j / 2) * 16 + (j % 2) * 7 + i)
    end
  end
  -- the rows form where no flat form is: B's row k, lane j, is stored at j*m + k; both
  -- transposed, only where C's rows are at least as long as its columns
  local narrow = run_spec('return { shapes = { "12x20x3", "9x7x9" }, dtypes = { "f32" },\n'
    .. '  scalars = { "a1b0" }, layouts = { "bf" }, orders = { "nt", "tt" }, anyshape = false }\n', "variants")
  local rows12 = {}
  for _, d in ipairs(narrow.value) do rows12[d.name] = d end
  check(not rows12["bmm_f32_12x20x3_bf_nt_avx2_rows_a1b0"], "AVX2 has no permutes for it")
  check(not rows12["bmm_f32_12x20x3_bf_tt_avx512_rows_a1b0"], "tt: the transposed product's rows are longer")
  check(rows12["bmm_f32_9x7x9_bf_tt_avx512_rows_a1b0"], "tt rows")
  local rowperms = {}
  for _, st in ipairs(vector.build(rows12["bmm_f32_12x20x3_bf_nt_avx512_rows_a1b0"]).body) do
    if st.op == "block" then
      for _, x in ipairs(st.body) do
        if x.op == "vdef" and x.value.op == "vperm" then rowperms[#rowperms + 1] = x.value.idx end
      end
    end
  end
  eq(#rowperms, 20)
  for k, ix in ipairs(rowperms) do
    eq(#ix, 3)
    for j = 0, 2 do eq(ix[j + 1], j * 20 + k - 1) end
  end
  -- p and m at most W: B's p stored rows transposed in registers once (tpanel), each k's row
  -- read from there; AVX2 too (no permutes needed)
  local panel = run_spec('return { shapes = { "8x8x8" }, dtypes = { "f32", "f64" }, scalars = { "a1b0" },\n'
    .. '  layouts = { "bf" }, orders = { "nt" }, anyshape = false }\n', "variants")
  local pk = {}
  for _, d in ipairs(panel.value) do pk[d.name] = d end
  check(pk["bmm_f64_8x8x8_bf_nt_avx512_rows_a1b0"] and pk["bmm_f32_8x8x8_bf_nt_avx2_rows_a1b0"])
  check(not pk["bmm_f64_8x8x8_bf_nt_avx2_rows_a1b0"], "p above AVX2's f64 width")
  local body = vector.build(pk["bmm_f32_8x8x8_bf_nt_avx2_rows_a1b0"]).body
  eq(body[1].op, "tpanel"); eq(#body[1].values, 8)
  for j, v in ipairs(body[1].values) do eq(v.stored, (j - 1) * 8); eq(v.lanes, 8) end
  local read = {}
  for _, st in ipairs(body) do
    for _, x in ipairs(st.body or {}) do
      if x.op == "vdef" and x.value.op == "vref" then read[x.value.name] = true end
    end
  end
  for k = 0, 7 do check(read["bt[" .. k .. "]"], "row " .. k .. " read from the panel") end
  local c = require("emit_simd").emit(vector.build(nt8))
  local _, blends = c.body:gsub("_mm512_mask_blend_ps%(%(__mmask16%)0xF0F0, _mm512_permutex2var_ps%(bs0, ix%d+, bs1%), _mm512_permutex2var_ps%(bs2, ix%d+, bs3%)%)", "")
  eq(blends, 8)
  -- rows: A(i, k) broadcast from a[i*m + k], and in order tn from a[k*n + i] (n compiled in)
  local function bcasts(name)
    local seq = {}
    local c = require("emit_simd").emit(vector.build(by[name]))
    for i in c.body:gmatch("_mm%d*_set1_ps%(a%[(%d+)%]%)") do seq[#seq + 1] = i end
    return table.concat(seq, " ")
  end
  eq(bcasts("bmm_f32_2x3x2_bf_avx512_rows_a1b0"), "0 3 1 4 2 5")
  eq(bcasts("bmm_f32_2x3x2_bf_tn_avx512_rows_a1b0"), "0 1 2 3 4 5")
end)

test("a prefetching twin is its form plus prefetches of the next item's rows, spread out", function()
  local r = run_spec('return { shapes = { "9x9x9" }, dtypes = { "f64" }, layouts = { "sf" }, isas = { "avx2" } }\n', "c")
  local body = {}
  for _, k in ipairs(r.value) do body[k.name] = k.body end
  local plain, pf = body["bmm_f64_9x9x9_sf_avx2_rows_b0"], body["bmm_f64_9x9x9_sf_avx2_rows_pf_b0"]
  check(plain and pf, "both forms generated")
  local kept, counts = {}, { a = 0, b = 0, c = 0 }
  for line in (pf .. "\n"):gmatch("(.-)\n") do
    local o = line:match("_mm_prefetch%(%(const char %*%)%(n([ab]) ")
      or line:match("__builtin_prefetch%(%(const char %*%)%(n(c) ")
    if o then
      counts[o] = counts[o] + 1
      check(o == "c" and line:find(", 1, 2%);$") or line:find("_MM_HINT_T1%);$"), line)
    elseif not line:find("^%s*const double %*n[abc] = t %+ 1 < g%->batch %? ") then
      kept[#kept + 1] = line
    end
  end
  eq(table.concat(kept, "\n"), (plain:gsub("\n$", "")))  -- the same arithmetic, between the prefetches
  -- every row of A, B and C (72 bytes: lines at 0 and 64, and the last byte), once each
  eq(counts.a, 27); eq(counts.b, 27); eq(counts.c, 27)
  local files = run_spec('return { shapes = { "9x9x9" }, dtypes = { "f64" }, layouts = { "sf" }, isas = { "avx2" } }\n', "files")
  local text = files.value["kernels/bmm_f64_9x9x9.c"]
  local plain_fn = text:match("void bmm_f64_9x9x9_sf_avx2_rows_b0%(.-\n}\n")
  check(plain_fn and not plain_fn:find("prefetch", 1, true), "the plain form does not prefetch")
end)

-- Marks element flat of C stored by kernel name; fails if it was stored before.
local function mark_stored(seen, name, flat)
  check(not seen[flat], ("%s: element %d stored twice"):format(name, flat))
  seen[flat] = true
end

test("vector IR stores every element of C exactly once, every form", function()
  local vector = require("vector")
  local r = run_spec('return { shapes = { "2x2x2", "4x4x4", "5x7x3", "13x13x13", "1x10x37", "10x33x1", "41x9x50" },\n'
    .. '  dtypes = { "f64" }, isas = { "avx2", "avx512" }, scalars = { "ab" }, unroll_budget = 512,\n'
    .. '  anyshape = false }\n', "variants")
  local kinds = {}
  for _, d in ipairs(r.value) do
    kinds[d.kind] = true
    local seen, count = {}, 0
    local function walk(body, env)
      for _, s in ipairs(body) do
        if s.op == "loop" then
          for v = s.from, s.to - 1, s.step do
            local e = {}; for k, x in pairs(env) do e[k] = x end; e[s.var] = v
            walk(s.body, e)
          end
        elseif s.op == "block" then walk(s.body, env)
        elseif s.op == "store" or s.op == "sstore" or s.op == "xstore" then
          local row = s.row.off + (s.row.var and env[s.row.var] or 0)
          for l = 0, (s.lanes or s.cols or 1) - 1 do
            -- bf view: lanes may run across rows
            mark_stored(seen, d.name, row * d.p + (s.col and s.col.off or 0) + l); count = count + 1
          end
        end
      end
    end
    walk(vector.build(d).body, {})
    eq(count, (d.kind == "pk" and d.tile or 1) * d.n * d.p)  -- pk: C of d.tile matrices
  end
  for _, kind in ipairs({ "rows", "rl", "flat", "dot", "xb", "pk" }) do check(kinds[kind], kind .. " not covered") end
end)

test("shape-generic IR stores every element of C once, lanes in range, for every shape", function()
  local anyshape = require("anyshape")
  local isa = require("isa")
  local r = run_spec('return { shapes = { "2x2x2" }, scalars = { "ab" } }\n', "variants")
  local kinds = {}
  -- run-time bounds and conditions are C expressions that are also Lua: evaluate them
  local function eval(x, env)
    if type(x) == "number" then return x end
    return assert(compat.load("return " .. x, "=expr", env))()
  end
  for _, d in ipairs(r.value) do
    if d.anyshape then
      kinds[d.kind] = true
      local K = anyshape.build(d)
      local W = d.isa == "c99" and 1 or isa[d.isa].width[d.dtype]
      for _, shape in ipairs({ { 1, 1, 1 }, { 3, 5, 7 }, { 9, 17, 33 }, { 13, 2, 31 }, { 31, 40, 65 }, { 8, 16, 64 } }) do
        local env = { n = d.n ~= 0 and d.n or shape[1], m = shape[2], p = d.p ~= 0 and d.p or shape[3] }
        local seen, count = {}, 0
        local function walk(body, e)
          for _, s in ipairs(body) do
            if s.op == "decl" then e[s.name] = s.start
            elseif s.op == "vmask" then
              local c = eval(s.count, e)
              check(c >= 1 and c <= W, ("%s: mask of %d lanes"):format(d.name, c)); e[s.name] = c
            elseif s.op == "loop" and s.once then
              if e[s.var] + s.step <= eval(s.to, e) then walk(s.body, e); e[s.var] = e[s.var] + s.step end
            elseif s.op == "loop" and s.from == nil then
              while e[s.var] + s.step <= eval(s.to, e) do walk(s.body, e); e[s.var] = e[s.var] + s.step end
            elseif s.op == "loop" then
              for v = s.from, eval(s.to, e) - 1, s.step do e[s.var] = v; walk(s.body, e) end
            elseif s.op == "cases" then
              for _, arm in ipairs(s.arms) do
                if not arm.cond or eval(arm.cond, e) then walk(arm.body, e); break end
              end
            elseif s.op == "block" then walk(s.body, e)
            elseif s.op == "store" or s.op == "sstore" then
              local row = s.row.off + (s.row.var and e[s.row.var] or 0)
              local col = s.col.off + (s.col.var and e[s.col.var] or 0)
              local lanes = s.mask and e[s.mask] or s.lanes or 1   -- scalar stores: one
              check(lanes <= (s.width or W), ("%s: %d lanes from a %d-lane register"):format(d.name, lanes, s.width or W))
              for l = 0, lanes - 1 do
                check(row < env.n and col + l < env.p, ("%s: store outside C at (%d, %d)"):format(d.name, row, col + l))
                mark_stored(seen, d.name, row * env.p + col + l); count = count + 1
              end
            end
          end
        end
        local e = {}
        for k, v in pairs(env) do e[k] = v end
        walk(K.body, e)
        eq(count, env.n * env.p)
      end
    end
  end
  for _, kind in ipairs({ "gtile", "grows", "gvec", "gdot", "gnt" }) do check(kinds[kind], kind .. " not covered") end
end)

test("a rows block's last vector of at most half the lanes is a half-width register (AVX-512)", function()
  local r = run_spec('return { shapes = { "23x23x23", "16x16x16" }, dtypes = { "f32" }, layouts = { "bf" },\n'
    .. '  scalars = { "ab" } }\n', "files")
  local function kernel(file, name)  -- the kernel's text, its outlined blocks before it
    return r.value["kernels/" .. file]:match("\n(static [^\n]*%f[%w_]" .. name .. "%(.-\n}\n)")
  end
  local k23 = kernel("bmm_f32_23x23x23.c", "bmm_f32_23x23x23_bf_avx512_rl6_ab")
  check(k23:find("__m256 acc0_1 = _mm256_setzero_ps%(%);"), "the 7-lane tail's accumulator")
  check(k23:find("_mm256_maskz_loadu_ps%(maskh7, &b%["), "B's tail loaded into a YMM")
  check(k23:find("_mm256_mask_storeu_ps%(&c%[[^%]]*%], maskh7, _mm256_fmadd_ps%("), "C's tail stored from one")
  check(not k23:find("_mm512_maskz_loadu_ps"), "no masked ZMM load left")
  check(not kernel("bmm_f32_16x16x16.c", "bmm_f32_16x16x16_bf_avx512_rows_ab"):find("_mm256_"), "whole vectors")
  check(not kernel("bmm_f32_23x23x23.c", "bmm_f32_23x23x23_bf_avx2_rl6_ab"):find("maskz"), "AVX2: no half")
  -- shape-generic: at most 8 lanes left, the half-width arm (the run-time mask narrowed)
  local any = r.value["kernels/bmm_f32_anyshape.c"]
  check(any:find("_mm256_maskz_loadu_ps%(%(__mmask8%)mt, &b%["), "a run-time tail in a YMM")
  check(any:find("} else if %(j0 %+ 0 < p%) {"), "the half-width arm after the full one")
end)

test("seq-first AVX-512 rows blocks that fill the accumulators get one allocation region", function()
  local r = run_spec('return { shapes = { "26x26x26" }, dtypes = { "f64" }, layouts = { "bf", "sf" },\n'
    .. '  scalars = { "b0" } }\n', "files")
  local text = r.value["kernels/bmm_f64_26x26x26.c"]
  local function one(name)
    local attrs = text:match("\nstatic ([^\n]-) void " .. name .. "%(")
    check(attrs, name .. " not emitted")
    return attrs:find("BMM_ONE_REGION", 1, true) ~= nil
  end
  check(one("bmm_f64_26x26x26_sf_avx512_rl6_b0"), "24 accumulators, strides at run time")
  check(not one("bmm_f64_26x26x26_sf_avx512_rl3_b0"), "12 accumulators")
  check(not one("bmm_f64_26x26x26_sf_avx512_rl6_pf_b0"), "the prefetching variant")
  check(not one("bmm_f64_26x26x26_bf_avx512_rl6_b0"), "batch-first: strides are constants")
  check(not one("bmm_f64_26x26x26_sf_avx2_rl6_b0"), "AVX2")
end)

test("descriptors are typed: form enum, tile, lanes, prefetch and needs, no names to parse", function()
  local r = run_spec('return { shapes = { "4x4x4", "40x40x40" }, dtypes = { "f32" }, layouts = { "sf" } }\n', "files")
  local table_c = r.value["kernels/bmm_f32_4x4x4.c"] .. r.value["kernels/bmm_f32_40x40x40.c"]
  local function desc(name) return table_c:match('\n    { "' .. name .. '", ([^\n]*) },') end
  eq(desc("bmm_f32_4x4x4_sf_avx512_xb_b0"), "BMM_F32, 4, 4, 4, BMM_LAYOUT_SF, BMM_ISA_AVX512, BMM_SCALARS_B0, "
    .. "BMM_FORM_XB, 0, 0, 16, 0, BMM_NEEDS_ADJACENT_ITEMS, BMM_X86_FN(bmm_f32_4x4x4_sf_avx512_xb_b0)")
  eq(desc("bmm_f32_40x40x40_sf_avx2_rl6_pf_ab"), "BMM_F32, 40, 40, 40, BMM_LAYOUT_SF, BMM_ISA_AVX2, BMM_SCALARS_AB, "
    .. "BMM_FORM_ROWS_LOOP, 6, 0, 8, 1, 0, BMM_X86_FN(bmm_f32_40x40x40_sf_avx2_rl6_pf_ab)")
  eq(desc("bmm_f32_40x40x40_sf_c99_t4x8_a1b0"), "BMM_F32, 40, 40, 40, BMM_LAYOUT_SF, BMM_ISA_C99, BMM_SCALARS_A1B0, "
    .. "BMM_FORM_TILE, 4, 0, 1, 0, 0, bmm_f32_40x40x40_sf_c99_t4x8_a1b0")
  -- the table carries the kernel ABI bmm_kernel.h declares, as a literal
  local abi = slurp(root .. "/runtime/bmm_kernel.h"):match("#define BMM_KERNEL_ABI (%d+)")
  check(r.value["bmm_table_default.c"]:find("\n    " .. abi .. ", \"default\", ", 1, true), "table abi")
  -- the across-batch kernel trusts its strides: no check of them inside
  local xb = table_c:match("void bmm_f32_4x4x4_sf_avx512_xb_b0%(.-\n}\n")
  check(xb and not xb:find("g->sa_batch", 1, true), "xb kernel reads its batch strides")
end)

test("version and kernel ABI come from the runtime's headers", function()
  local options = require("options")
  eq(options.version, slurp(root .. "/runtime/bmm.h"):match('#define BMM_VERSION "([^"]+)"'))
  eq(util.cint(options.kernel_abi), slurp(root .. "/runtime/bmm_kernel.h"):match("#define BMM_KERNEL_ABI (%d+)"))
end)

test("vector cost is counted from the IR", function()
  local vector = require("vector")
  local r = run_spec('return { shapes = { "4x4x4", "3x3x3" }, dtypes = { "f32" }, isas = { "avx512" } }\n', "variants")
  local by = {}
  for _, d in ipairs(r.value) do by[d.name] = d end
  -- rows, 4 rows x 1 vector: per k one B load and 4 broadcasts; 16 multiply-adds, 4 stores
  local c = vector.cost(ir.simplify(vector.build(by["bmm_f32_4x4x4_bf_avx512_rows_b0"])))
  eq(c.loads, 4 * (1 + 4)); eq(c.stores, 4); eq(c.vops, 16 + 4); eq(c.accumulators, 4); eq(c.flops, 128)
  -- beta != 0 reads C: 4 more loads, and alpha*acc + beta*C is one fma and one multiply
  c = vector.cost(ir.simplify(vector.build(by["bmm_f32_4x4x4_bf_avx512_rows_ab"])))
  eq(c.loads, 24); eq(c.vops, 16 + 8)
  -- across the batch, 3 columns: deinterleaving B (3 rows) and A (3 rows), interleaving C
  c = vector.cost(ir.simplify(vector.build(by["bmm_f32_3x3x3_sf_avx512_xb_b0"])))
  eq(c.loads, 9 + 9); eq(c.stores, 9); eq(c.permutes, 3 * 6 + 3 * 6 + 3 * 6)
  c = vector.cost(ir.simplify(vector.build(by["bmm_f32_3x3x3_sf_avx512_xb_ab"])))
  eq(c.loads, 27); eq(c.permutes, 3 * 6 * 4)  -- C's old values deinterleaved too
end)


test("the unroll budget switches to register tiles in loops", function()
  local r = run_spec('return { shapes = { "9x9x9", "3x3x3" }, dtypes = { "f64" }, unroll_budget = 100,\n'
    .. '  tile = { rows = 2, cols = 4 }, layouts = { "bf" }, scalars = { "ab" }, isas = { "c99" } }\n', "variants")
  eq(r.value[1].form, "unroll"); eq(r.value[2].form, "t2x4")
  eq(r.value[2].name, "bmm_f64_9x9x9_bf_c99_t2x4_ab")
end)

test("IR cost: flops, loads, stores per matrix", function()
  local d = { n = 2, m = 3, p = 4, kind = "unroll", scalars = "a1b0", dtype = "f32", layout = "bf" }
  local c = ir.cost(ir.simplify(ir.build(d)))
  eq(c.flops, 2 * 4 * (2 * 3 - 1)); eq(c.loads.C, 0); eq(c.stores, 8); eq(c.loads.A, 24); eq(c.loads.B, 24)
  d.scalars = "ab"
  c = ir.cost(ir.simplify(ir.build(d)))
  eq(c.flops, 2 * 4 * (2 * 3 - 1) + 3 * 8); eq(c.loads.C, 8)
end)

test("IR of the tiled form covers every element of C once, edges included", function()
  for _, shape in ipairs({ { 9, 5, 11 }, { 4, 4, 8 }, { 1, 3, 3 } }) do
    local d = { n = shape[1], m = shape[2], p = shape[3], kind = "tile", tile = 4, tile_cols = 8,
      scalars = "b0", dtype = "f64", layout = "sf" }
    local c = ir.cost(ir.simplify(ir.build(d)))
    eq(c.stores, d.n * d.p); eq(c.flops, d.n * d.p * (2 * d.m - 1) + d.n * d.p)
  end
end)

test("simplify folds what each alpha/beta form fixes, and never reads C when beta = 0", function()
  local options = require("options")
  local r = run_spec(GOOD, "c")
  local seen = {}
  for _, k in ipairs(r.value) do
    local text = k.decls .. k.body
    local sc = k.name:match("_([%w]+)$")
    local fixes = options.scalars[sc].fixes
    seen[sc] = true
    local reads_c = k.body:find("= [^;]*[^&]c%[") or k.body:find("load[%w_]*%([^;]*&c%[")
    check((fixes.alpha ~= nil) == not text:find("alpha"), k.name .. ": alpha folded wrongly")
    check((fixes.beta ~= nil) == not text:find("beta"), k.name .. ": beta folded wrongly")
    check((fixes.beta == 0) == not reads_c, k.name .. (reads_c and " reads C" or " does not read C"))
  end
  for _, sc in ipairs(options.scalars_order) do check(seen[sc], sc .. " not generated") end
end)

test("a fixed alpha other than 0 and 1 is a vector constant in vector kernels", function()
  -- an alpha/beta form the vocabulary does not have (alpha = -1, beta = 0), added for the test
  local options = require("options")
  options.scalars.m1b0 = { word = "m1b0", enum = "BMM_SCALARS_AB", fixes = { alpha = -1, beta = 0 } }
  table.insert(options.scalars_order, "m1b0")
  local ok, r = pcall(run_spec, (GOOD:gsub("}\n$", '  scalars = { "m1b0" },\n}\n')), "c")
  options.scalars.m1b0 = nil
  table.remove(options.scalars_order)
  check(ok and r, tostring(r))
  local splat = 0
  for _, k in ipairs(r.value) do
    local text = k.decls .. k.body
    check(not text:find("alpha", 1, true), k.name .. ": alpha not folded")
    check(not text:find("_ps(-1.0f,", 1, true), k.name .. ": a scalar where a vector goes")
    check(text:find("-1.0f", 1, true), k.name .. ": no -1")
    if text:find("set1_ps(-1.0f)", 1, true) then splat = splat + 1 end
  end
  check(splat > 0, "no vector kernel splats -1")
end)

test("templates are strict: missing and unused variables are errors", function()
  local t = { name = "t.in", text = "a ${x}\nb ${y}\n" }
  eq(template.fill(t, { x = "1", y = "2" }), "a 1\nb 2")
  local ok, err = pcall(template.fill, t, { x = "1" })
  check(not ok and err:find("t.in:2: error: template variable ${y} not given", 1, true), err)
  ok, err = pcall(template.fill, t, { x = "1", y = "2", z = "3" })
  check(not ok and err:find("${z} given but not used", 1, true), err)
  eq(template.fill({ name = "u", text = "$${LIT} ${v}\n" }, { v = "ok" }), "${LIT} ok")
end)

test("generated files carry the banner and the cost comment", function()
  local r = run_spec(GOOD, "files")
  local n = 0
  for _, path in ipairs(compat.sorted_keys(r.value)) do
    n = n + 1
    local text = r.value[path]
    check(text:find("DO NOT EDIT", 1, true), path .. " has no banner")
    check(text:find("Command: test", 1, true), path .. " does not name the command")
    if path:find("^kernels/.*anyshape") then
      check(text:find("where a letter is a size read", 1, true), path)
    elseif path:find("^kernels/") then
      check(text:find("Cost per matrix:", 1, true), path)
    end
  end
  eq(n, 3 + 4)  -- two kernel files and the shape-generic one, table .c and .h, files.cmake, README.md
end)


test("vocab: one row per enum value, and every derived file agrees with it", function()
  local vocab = require("vocab")
  local vocab_out = require("vocab_out")
  for _, list in ipairs({ vocab.dtypes, vocab.layouts, vocab.isas, vocab.scalars, vocab.forms, vocab.needs }) do
    local seen = {}
    for _, e in ipairs(list) do
      check(not seen[e.value], e.enum .. ": value used twice"); seen[e.value] = true
    end
  end
  local dts = {}
  for i, e in ipairs(vocab.dtypes) do dts[i] = e.enum .. " = " .. util.cint(e.value) end
  local docs = {
    ["runtime/bmm.h"] = "typedef enum { " .. table.concat(dts, ", ") .. " } bmm_dtype;",
    ["docs/howto.md"] = "a\n<!-- vocab:words -->\nstale\n<!-- /vocab:words -->\nb\n",
  }
  local files = vocab_out.files(TDIR, function(p) return docs[p] end, "test")
  local h = files["runtime/bmm_vocab.h"]
  for _, e in ipairs(vocab.forms) do check(h:find(e.enum .. " = " .. util.cint(e.value), 1, true), e.enum) end
  for _, e in ipairs(vocab.isas) do check(h:find('"' .. e.word .. '"', 1, true), e.word) end
  check(files["python/bmmgen/_vocab.py"]:find('"rows_loop"', 1, true), "Python's public form words")
  local words = {}
  for i, e in ipairs(vocab.isas) do words[i] = e.word end
  check(files["cmake/BmmVocab.cmake"]:find("set(BMM_VOCAB_ISAS " .. table.concat(words, " ") .. ")", 1, true))
  local doc = files["docs/howto.md"]
  check(doc:find("^a\n<!%-%- vocab:words %-%->\n| kind |") and doc:find("| ISA | `c99`", 1, true)
    and not doc:find("stale", 1, true) and doc:sub(-24) == "<!-- /vocab:words -->\nb\n", doc)
  -- an unknown table, an unclosed one and a bmm.h that disagrees are errors naming the file
  docs["docs/howto.md"] = "x\n<!-- vocab:nonsense -->\n<!-- /vocab:nonsense -->\n"
  local ok, err = pcall(vocab_out.files, TDIR, function(p) return docs[p] end, "test")
  check(not ok and err:find("docs/howto.md:2: error: unknown vocab table", 1, true), err)
  docs["docs/howto.md"] = "<!-- vocab:words -->\n"
  ok, err = pcall(vocab_out.files, TDIR, function(p) return docs[p] end, "test")
  check(not ok and err:find("docs/howto.md:1: error: no <!-- /vocab:words -->", 1, true), err)
  docs["runtime/bmm.h"] = "BMM_F32 = 1, BMM_F64 = 3"  -- f64's value is not 3
  ok, err = pcall(vocab_out.files, TDIR, function(p) return docs[p] end, "test")
  check(not ok and err:find("bmm_dtype lacks BMM_F64 = 2", 1, true), err)
end)

-- The CLI, as a user runs it: errors exit non-zero and write no file. (--anyshape no where the
-- shape-generic kernels add nothing to what a test checks: they are 8 MB of C a run.)
local function sh(cmd) local ok, _, code = os.execute(cmd); if type(ok) == "number" then return ok end; return ok and 0 or code end
local bmmgen = interp .. " " .. root .. "/generator/bmmgen.lua"

test("CLI: a bad spec exits non-zero, names the field, writes nothing", function()
  local p = tmp .. ".bad.lua"
  write(p, 'return {\n  shapes = { "4x4x4" },\n  dtypes = { "f32", "bf16" },\n}\n')
  local out = tmp .. ".out"
  local rc = sh(bmmgen .. " --spec " .. p .. " --out " .. out .. " 2> " .. tmp .. ".err")
  local f = io.open(tmp .. ".err"); local err = f:read("*a"); f:close()
  os.remove(p); os.remove(tmp .. ".err")
  check(rc ~= 0, "exit code 0")
  check(err:find(p .. ":3: error: dtypes[2]: unknown value \"bf16\"", 1, true), err)
  check(not exists(out .. "/files.cmake"), "files written despite the error")
end)

test("CLI: generates, then writes nothing when nothing changed", function()
  local p, out = tmp .. ".good.lua", tmp .. ".gen"
  write(p, GOOD)
  eq(sh(bmmgen .. " --spec " .. p .. " --anyshape no --out " .. out .. " 2>/dev/null"), 0)
  check(exists(out .. "/kernels/bmm_f32_2x3x4.c"))
  eq(sh(bmmgen .. " --spec " .. p .. " --anyshape no --out " .. out .. " 2> " .. tmp .. ".log"), 0)
  local f = io.open(tmp .. ".log"); local log = f:read("*a"); f:close()
  check(log:find("0 file%(s%) written"), log)
  -- drop a shape: its kernel file goes too
  eq(sh(bmmgen .. " --shapes 5x5x5 --dtypes f32 --anyshape no --out " .. out .. " 2>/dev/null"), 0)
  check(not exists(out .. "/kernels/bmm_f32_2x3x4.c"), "stale kernel file kept")
  sh("rm -rf '" .. out .. "'"); os.remove(p); os.remove(tmp .. ".log")
end)

test("CLI: adding a shape rewrites only its kernel file, the table, the file list and the README", function()
  local p, out = tmp .. ".grow.lua", tmp .. ".grow"
  write(p, GOOD)
  eq(sh(bmmgen .. " --spec " .. p .. " --anyshape no --out " .. out .. " 2>/dev/null"), 0)
  local before = slurp(out .. "/kernels/bmm_f32_2x3x4.c")
  write(p, (GOOD:gsub('"5x5x5"', '"5x5x5", "3x3x3"')))
  eq(sh(bmmgen .. " --spec " .. p .. " --anyshape no --out " .. out .. " 2> " .. tmp .. ".log"), 0)
  local log = slurp(tmp .. ".log")
  check(log:find("5 file%(s%) written"), log)  -- bmm_f32_3x3x3.c, table .c and .h, files.cmake, README.md
  eq(slurp(out .. "/kernels/bmm_f32_2x3x4.c"), before)
  check(exists(out .. "/kernels/bmm_f32_3x3x3.c"))
  sh("rm -rf '" .. out .. "'"); os.remove(p); os.remove(tmp .. ".log")
end)

test("CLI: a run that fails after writing some files leaves the folder as it was", function()
  local out, tdir = tmp .. ".half", tmp .. ".tpl"
  local cmd = bmmgen .. " --shapes 2x3x4 --dtypes f32 --anyshape no --out " .. out
  eq(sh(cmd .. " 2>/dev/null"), 0)
  local before = slurp(out .. "/kernels/bmm_f32_2x3x4.c")
  -- a table template that needs a variable nobody gives: the kernel files are complete
  -- (and put) before the table fails
  eq(sh("cp -r '" .. TDIR .. "' '" .. tdir .. "' && echo '${nonsense}' >> '" .. tdir .. "/table.c.in'"), 0)
  check(sh(cmd .. " --name other --templates " .. tdir .. " 2>/dev/null") ~= 0, "exit code 0")
  eq(slurp(out .. "/kernels/bmm_f32_2x3x4.c"), before)
  check(sh("find '" .. out .. "' -name '*.tmp' | grep -q .") ~= 0, "a .tmp file was left")
  check(not exists(out .. "/bmm_table_other.c"), "wrote the table despite the error")
  sh("rm -rf '" .. out .. "' '" .. tdir .. "'")
end)

test("CLI: --stop-after and --dump print a stage", function()
  local rc = sh(bmmgen .. " --shapes 2x2x2 --dtypes f32 --stop-after problems --dump > " .. tmp .. ".dump")
  local f = io.open(tmp .. ".dump"); local text = f:read("*a"); f:close(); os.remove(tmp .. ".dump")
  eq(rc, 0)
  local v = compat.load("return " .. text, "dump", {})()
  eq(#v, 2); eq(v[1].layout, "bf"); eq(v[2].layout, "sf")
  check(sh(bmmgen .. " --shapes 2x2x2 --stop-after nonsense 2>/dev/null") ~= 0)
  check(sh(bmmgen .. " --bogus 2>/dev/null") ~= 0)
end)

test("CLI: output is deterministic across processes (table order may differ in each)", function()
  local out = tmp .. ".det"
  local cmd = bmmgen .. " --shapes 2x3x4,5x5x5 --dtypes f32,f64 --name det"
  eq(sh(cmd .. " --out " .. out .. "1/gen 2>/dev/null"), 0)
  eq(sh(cmd .. " --out " .. out .. "2/gen 2>/dev/null"), 0)
  eq(sh("diff -r '" .. out .. "1' '" .. out .. "2' >/dev/null"), 0)
  sh("rm -rf '" .. out .. "1' '" .. out .. "2'")
end)

test("CLI: --list-files names exactly the files a run writes", function()
  local out = tmp .. ".list"
  local cmd = bmmgen .. " --shapes 2x3x4,5x5x5 --dtypes f32,f64 --name listed"
  eq(sh(cmd .. " --list-files > " .. tmp .. ".files"), 0)
  eq(sh(cmd .. " --out " .. out .. " 2>/dev/null"), 0)
  eq(sh("cd '" .. out .. "' && find . -type f | sed 's|^./||' | LC_ALL=C sort > " .. tmp .. ".found"), 0)
  local listed, found = slurp(tmp .. ".files"), slurp(tmp .. ".found")
  check(listed:find("kernels/bmm_f64_5x5x5.c", 1, true) and listed:find("bmm_table_listed.h", 1, true), listed)
  eq(listed, found)
  sh("rm -rf '" .. out .. "'"); os.remove(tmp .. ".files"); os.remove(tmp .. ".found")
end)

test("CLI: --vendor writes one self-contained pair, or nothing for a bad name", function()
  local out = tmp .. ".vendor"
  eq(sh(bmmgen .. " --vendor vk --shapes 2x3x4 --dtypes f32 --out " .. out .. " 2>/dev/null"), 0)
  local c, h = slurp(out .. "/vk.c"), slurp(out .. "/vk.h")
  check(c and h, "vk.c or vk.h missing")
  check(c:find("DO NOT EDIT", 1, true) and h:find("--vendor vk", 1, true), "banner")
  check(c:find("SPDX-License-Identifier", 1, true) and h:find("SPDX-License-Identifier", 1, true), "license line")
  local includes = {}
  for inc in c:gmatch('#include "([^"]+)"') do includes[#includes + 1] = inc end
  eq(table.concat(includes, ","), "vk.h")  -- nothing from the runtime or generated/
  check(c:find("bmm_f32_2x3x4_bf_c99_a1b0", 1, true) and c:find("bmm__rule_score", 1, true), "kernels and rule")
  check(h:find("int vk_sgemm_strided(", 1, true) and h:find("VK_EOVERLAP", 1, true), "API")
  check(not exists(out .. "/files.cmake"), "a vendored pair has no file list")
  check(sh(bmmgen .. " --vendor 9lives --shapes 2x3x4 --out " .. out .. ".bad 2>/dev/null") ~= 0)
  check(not exists(out .. ".bad"), "wrote output for a bad name")
  sh("rm -rf '" .. out .. "'")
end)

io.write(string.format("%d passed, %d failed\n", passed, failed))
os.exit(failed == 0 and 0 or 1)
