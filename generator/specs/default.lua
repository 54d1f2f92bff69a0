-- default.lua: the default spec: every shape the benchmarks report on (they read the list
-- from here, so this is the one place it is written down; docs/benchmarks.md says why each).
return {
  name = "default",
  dtypes = { "f32", "f64" },
  layouts = { "bf", "sf" },   -- batch-first and seq-first, all three operands alike
  -- operand orders (t: A or B a transposed view, read in place), batch-first: tn in the rows
  -- forms, every order in the tiny shapes' permute forms (nt and tt have no other form: the
  -- runtime copies a transposed B elsewhere). Seq-first transposed views of A run the
  -- shape-generic tn kernels: kernels of every order in both layouts would add 40% to the
  -- build for views torch rarely makes.
  orders = { bf = { "nn", "tn", "nt", "tt" }, sf = { "nn" } },
  -- isas and scalars: every one the vocabulary has (generator/vocab.lua)
  shapes = {
    -- tiny squares: transforms, small blocks; call overhead dominates elsewhere
    "2x2x2", "3x3x3", "4x4x4", "5x5x5", "6x6x6", "7x7x7", "8x8x8",
    -- block sizes: block-sparse chemistry (CP2K/DBCSR), small dense blocks
    "13x13x13", "16x16x16", "23x23x23", "26x26x26", "32x32x32",
    -- odd: non-square, not a multiple of any vector width
    "5x7x3", "3x5x7", "12x20x3",
    -- attention, scores: bmm(enc, dec^T), B x S x h times B x h x 1
    "10x256x1", "32x64x1", "64x128x1",
    -- attention, context: bmm(w^T, enc), B x 1 x S times B x S x h
    "1x10x256", "1x32x64", "1x64x128",
    -- larger: where unrolling gives way to register tiles in loops
    "64x64x64",
  },
  unroll_budget = 4096,
  tile = { rows = 4, cols = 8 },
}
