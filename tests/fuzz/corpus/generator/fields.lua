-- every spec field once, small enough that one run takes milliseconds
return {
  name = "fields",
  dtypes = { "f32", "f64" },
  layouts = { "bf", "sf" },
  isas = { "c99", "avx2", "avx512" },
  scalars = { "a1b0", "a1b1", "b0", "ab" },
  shapes = { "2x2x2", "5x7x3", "8x8x1", "1x8x16" },
  unroll_budget = 64,
  tile = { rows = 2, cols = 8 },
  anyshape = false,
}
