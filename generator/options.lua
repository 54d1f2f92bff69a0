-- options.lua: every knob of the generator in one place, and the vocabulary (vocab.lua) in the
-- shapes the stages look it up by. ISA facts live in isa.lua. The version and the kernel ABI
-- are read from the runtime's headers, where they are written once (bmm.h's BMM_VERSION,
-- bmm_kernel.h's BMM_KERNEL_ABI).
local vocab = require("vocab")
local source = require("source")

-- A #define from a header of runtime/ beside this generator (installed: share/bmmgen/runtime).
local function runtime_define(file, macro, pattern)
  local here = debug.getinfo(1, "S").source:match("^@(.*)[/\\][^/\\]*$") or "."
  local path = here .. "/../runtime/" .. file
  local text = source.read(path) or ""
  return text:match("#define " .. macro .. " " .. pattern)
    or error(path .. ":0: error: no " .. macro .. " (the generator reads it there)", 0)
end

-- word -> entry, and the words in enum order, of a vocabulary list (`keep`: which entries)
local function words(list, keep)
  local by, order = {}, {}
  for _, e in ipairs(list) do
    if not keep or keep(e) then by[e.word] = e; order[#order + 1] = e.word end
  end
  return by, order
end
-- a dtype a spec may ask for: every ISA has a vector width for it (a dtype the vocabulary
-- names before its kernels exist is refused as unknown)
local dtypes, dtype_order = words(vocab.dtypes, function(e)
  for _, i in ipairs(vocab.isas) do if not i.width[e.word] then return false end end
  return true
end)
local layouts, layout_order = words(vocab.layouts, function(e) return e.spec end)
local isas, isa_order = words(vocab.isas)
local scalars = words(vocab.scalars)
local orders, order_order = words(vocab.orders)
local kernel_layouts = {}
for _, e in ipairs(vocab.layouts) do kernel_layouts[e.word] = e.enum end

return {
  version = runtime_define("bmm.h", "BMM_VERSION", '"([^"]+)"'),
  kernel_abi = tonumber(runtime_define("bmm_kernel.h", "BMM_KERNEL_ABI", "(%d+)")),

  -- Vocabulary the spec may use (vocab.lua): word -> entry, and the words in order.
  dtypes = dtypes,
  dtype_order = dtype_order,
  layouts = layouts,
  layout_order = layout_order,
  -- Layouts of kernels: the spec's, and "any" (row and column strides at run time), which
  -- only shape-generic portable C kernels have: word -> C enum.
  kernel_layouts = kernel_layouts,
  isas = isas,
  isa_order = isa_order,
  scalars = scalars,
  scalars_order = vocab.scalars_order,
  orders = orders,
  order_order = order_order,

  -- Defaults a spec may override.
  defaults = {
    name = "default",
    dtypes = { "f32", "f64" },
    layouts = { "bf", "sf" },
    isas = isa_order,
    scalars = vocab.scalars_order,
    -- Operand orders of the specialized kernels (vocab.lua's orders): row-major operands
    -- only, unless a spec asks for transposed ones too.
    orders = { "nn" },
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
  max_dim = vocab.max_dim,
  max_tile = 32,

  -- Seq-first products of at least this many multiply-adds also get "_pf" twins of their
  -- rows and rl<R> forms, which prefetch the next batch item's rows of A and B: they lie
  -- batch*cols apart, more streams than the hardware prefetchers follow.
  prefetch_min_madds = 512,
  -- The across-batch form: seq-first, and B and C small enough to deinterleave cheaply.
  xb_max = { m = 8, p = 8, mp = 40 },
}
