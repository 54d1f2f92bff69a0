-- options.lua: every knob and vocabulary word of the generator in one place. ISA facts live
-- in isa.lua. The version and the kernel ABI are read from the runtime's headers, where they
-- are written once (bmm.h's BMM_VERSION, bmm_kernel.h's BMM_KERNEL_ABI).
local isa = require("isa")
local source = require("source")

-- A #define from a header of runtime/ beside this generator (installed: share/bmmgen/runtime).
local function runtime_define(file, macro, pattern)
  local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\][^/\\]*$") or "."
  local path = here .. "/../runtime/" .. file
  local text = source.read(path) or ""
  return text:match("#define " .. macro .. " " .. pattern)
    or error(path .. ":0: error: no " .. macro .. " (the generator reads it there)", 0)
end

local isas, isa_order = {}, {}
for i, name in ipairs(isa.order) do isas[name] = true; isa_order[i] = name end

return {
  version = runtime_define("bmm.h", "BMM_VERSION", '"([^"]+)"'),
  kernel_abi = tonumber(runtime_define("bmm_kernel.h", "BMM_KERNEL_ABI", "(%d+)")),

  -- Vocabulary the spec may use.
  dtypes = { f32 = { ctype = "float", size = 4, enum = "BMM_F32" },
             f64 = { ctype = "double", size = 8, enum = "BMM_F64" } },
  dtype_order = { "f32", "f64" },
  layouts = { bf = { enum = "BMM_LAYOUT_BF" }, sf = { enum = "BMM_LAYOUT_SF" } },
  layout_order = { "bf", "sf" },
  -- Layouts of kernels: the spec's, and "any" (row and column strides at run time), which
  -- only shape-generic portable C kernels have.
  kernel_layouts = { bf = "BMM_LAYOUT_BF", sf = "BMM_LAYOUT_SF", any = "BMM_LAYOUT_ANY" },
  isas = isas,
  isa_order = isa_order,
  -- Alpha/beta forms: the values each folds into its kernels (the runtime's
  -- bmm__scalar_forms says the same for its BMM_SCALARS_* enum). A form that does not fix
  -- beta reads C, so it serves only beta != 0.
  scalars = {
    ab = { enum = "BMM_SCALARS_AB", fixes = {}, doc = "alpha*A*B + beta*C (beta != 0)" },
    b0 = { enum = "BMM_SCALARS_B0", fixes = { beta = 0 }, doc = "alpha*A*B (beta = 0: C is not read)" },
    a1b0 = { enum = "BMM_SCALARS_A1B0", fixes = { alpha = 1, beta = 0 },
      doc = "A*B (alpha = 1, beta = 0: C is not read)" },
    a1b1 = { enum = "BMM_SCALARS_A1B1", fixes = { alpha = 1, beta = 1 },
      doc = "A*B + C (alpha = 1, beta = 1: accumulate, torch.baddbmm's default)" },
  },
  scalars_order = { "a1b0", "a1b1", "b0", "ab" },

  -- Defaults a spec may override.
  defaults = {
    name = "default",
    dtypes = { "f32", "f64" },
    layouts = { "bf", "sf" },
    isas = isa_order,
    scalars = { "a1b0", "a1b1", "b0", "ab" },
    -- Multiply-adds per matrix (n*m*p) up to which a kernel is fully unrolled; past it,
    -- an unrolled register tile runs inside loops.
    unroll_budget = 4096,
    -- Register tile (rows x cols of C) for the looped form.
    tile = { rows = 4, cols = 8 },
    -- Also the shape-generic kernels (n, m, p at run time): every other shape is served.
    anyshape = true,
    -- Also the "_pf" twins (prefetch_min_madds below); generation on demand leaves them out
    -- for a plan whose batch fits in cache, where they never win and double the compile.
    prefetch = true,
  },

  -- Limits of a spec's values.
  max_dim = 4096,
  max_tile = 32,

  -- Seq-first products of at least this many multiply-adds also get "_pf" twins of their
  -- rows and rl<R> forms, which prefetch the next batch item's rows of A and B: they lie
  -- batch*cols apart, more streams than the hardware prefetchers follow.
  prefetch_min_madds = 512,
  -- The across-batch form: seq-first, and B and C small enough to deinterleave cheaply.
  xb_max = { m = 8, p = 8, mp = 40 },
}
