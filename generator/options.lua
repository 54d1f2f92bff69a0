-- options.lua: every knob of the generator in one place (style.md #8).
return {
  version = "0.1.0",

  -- Vocabulary the spec may use.
  dtypes = { f32 = { ctype = "float", size = 4 }, f64 = { ctype = "double", size = 8 } },
  dtype_order = { "f32", "f64" },
  layouts = { bf = true, sf = true },
  layout_order = { "bf", "sf" },
  -- c99: portable scalar C; avx2 (AVX2+FMA) and avx512 (AVX-512F): intrinsics, each kernel
  -- compiled for its ISA by a function attribute and called only where the CPU has it.
  isas = { c99 = true, avx2 = true, avx512 = true },
  isa_order = { "c99", "avx2", "avx512" },
  -- alpha/beta specializations: general (beta != 0), beta = 0, alpha = 1 and beta = 0.
  scalars = { ab = true, b0 = true, a1b0 = true },
  scalars_order = { "a1b0", "b0", "ab" },

  -- Defaults a spec may override.
  defaults = {
    name = "default",
    dtypes = { "f32", "f64" },
    layouts = { "bf", "sf" },
    isas = { "c99", "avx2", "avx512" },
    scalars = { "a1b0", "b0", "ab" },
    -- Multiply-adds per matrix (n*m*p) up to which a kernel is fully unrolled; past it,
    -- an unrolled register tile runs inside loops.
    unroll_budget = 4096,
    -- Register tile (rows x cols of C) for the looped form.
    tile = { rows = 4, cols = 8 },
  },

  max_dim = 4096,

  -- Seq-first products of at least this many multiply-adds also get "_pf" twins of their
  -- rows and rl<R> forms, which prefetch the next batch item's rows of A and B: they lie
  -- batch*cols apart, more streams than the hardware prefetchers follow.
  prefetch_min_madds = 512,
}
