-- vocab.lua: every word of the kernel space, once, with its facts: dtypes, layout classes,
-- ISAs, forms, alpha/beta forms, needs, regimes and thread classes. Pure data. The generator
-- reads it (options.lua, isa.lua, variants.lua), and vocab_out.lua derives from it what the
-- rest of the project reads: runtime/bmm_vocab.h, python/bmmgen/_vocab.py,
-- cmake/BmmVocab.cmake and the tables between "vocab:" markers in the docs
-- (`bmmgen.lua --vocab --out .` writes them; CI fails when they drift).
-- Each list is in enum order; `value` is the C enum's value, fixed once published (wisdom
-- files and descriptors carry them).
local M = {}

-- Element types. bmm.h's public bmm_dtype spells the same values (checked by vocab_out).
-- `acc`: the type kernels accumulate and scale in (alpha and beta are rounded to it); `eps`:
-- the elements' machine epsilon (tolerances of tests and of tuning's check); `blas`: the letter
-- of its one-shot entry points (bmm_<blas>gemm_strided, and the vendored pair's).
-- `numpy`, `torch`: the dtype's name there (nil where there is none: NumPy has no bfloat16).
M.dtypes = {
  { word = "f32", enum = "BMM_F32", value = 1, ctype = "float", acc = "float", size = 4,
    eps = 2^-23, blas = "s", numpy = "float32", torch = "float32", doc = "IEEE binary32" },
  { word = "f64", enum = "BMM_F64", value = 2, ctype = "double", acc = "double", size = 8,
    eps = 2^-52, blas = "d", numpy = "float64", torch = "float64", doc = "IEEE binary64" },
  -- 16-bit: stored as their bits (`ctype`), accumulated in f32; `mant` and `exp`: bits of the
  -- format's significand (stored part) and exponent. No ISA has widths for them yet: a spec may
  -- not ask for them, and the generic path serves them.
  { word = "bf16", enum = "BMM_BF16", value = 3, ctype = "uint16_t", acc = "float", size = 2,
    eps = 2^-7, blas = "bf16", numpy = nil, torch = "bfloat16", mant = 7, exp = 8,
    doc = "bfloat16 (the top half of a binary32)" },
  { word = "f16", enum = "BMM_F16", value = 4, ctype = "uint16_t", acc = "float", size = 2,
    eps = 2^-10, blas = "h", numpy = "float16", torch = "float16", mant = 10, exp = 5,
    doc = "IEEE binary16" },
}

-- Layout classes of kernels (all three operands alike). `spec`: a spec may ask for it (the
-- others only shape-generic kernels have). `generic`: the name part of shape-generic kernels
-- of the class, which say what they require of the strides ("rm": row-major operands, any
-- row strides), not a layout they do not require.
M.layouts = {
  { word = "bf", enum = "BMM_LAYOUT_BF", value = 1, spec = true,
    doc = "row strides compiled in (rows packed: row stride == cols), unit column stride" },
  { word = "sf", enum = "BMM_LAYOUT_SF", value = 2, spec = true, generic = "rm",
    doc = "row strides at run time (seq-first, batch-first, padded rows), unit column stride" },
  { word = "any", enum = "BMM_LAYOUT_ANY", value = 3, spec = false,
    doc = "row and column strides at run time (transposed views, negative strides too)" },
}

-- Instruction sets, lowest first. `target`: the GCC/Clang target attribute of its kernels
-- (none: plain C); `cpu`: what the CPU and OS must have; `width`: lanes per vector register.
M.isas = {
  { word = "c99", enum = "BMM_ISA_C99", value = 1, width = { f32 = 1, f64 = 1 },
    cpu = "nothing: portable C99, always admitted" },
  { word = "avx2", enum = "BMM_ISA_AVX2", value = 2, width = { f32 = 8, f64 = 4 },
    target = "avx2,fma", cpu = "AVX2 and FMA (cpuid), YMM state saved by the OS (xgetbv)" },
  { word = "avx512", enum = "BMM_ISA_AVX512", value = 3, width = { f32 = 16, f64 = 8 },
    target = "avx512f,avx512vl,avx2,fma",
    cpu = "AVX-512F and VL (masked YMM for short tails) as well, ZMM and mask state saved by the OS" },
}

-- Alpha/beta forms: the values each folds into its kernels. A form that does not fix beta
-- reads C, so it serves only beta != 0. `order`: the spec's default order.
M.scalars = {
  { word = "ab", enum = "BMM_SCALARS_AB", value = 0, fixes = {},
    doc = "alpha*A*B + beta*C (beta != 0)" },
  { word = "b0", enum = "BMM_SCALARS_B0", value = 1, fixes = { beta = 0 },
    doc = "alpha*A*B (beta = 0: C is not read)" },
  { word = "a1b0", enum = "BMM_SCALARS_A1B0", value = 2, fixes = { alpha = 1, beta = 0 },
    doc = "A*B (alpha = 1, beta = 0: C is not read)" },
  { word = "a1b1", enum = "BMM_SCALARS_A1B1", value = 3, fixes = { alpha = 1, beta = 1 },
    doc = "A*B + C (alpha = 1, beta = 1: accumulate, torch.baddbmm's default)" },
}
M.scalars_order = { "a1b0", "a1b1", "b0", "ab" }

-- What a kernel needs of a call beyond its layout class (bit flags).
M.needs = {
  { word = "adjacent_items", enum = "BMM_NEEDS_ADJACENT_ITEMS", value = 1,
    doc = "batch strides exactly m, p and p: row i of consecutive items is one contiguous run (seq-first, no broadcast)" },
  { word = "packable_b", enum = "BMM_NEEDS_PACKABLE_B", value = 2,
    doc = "B is one column (p = 1), contiguous or at most BMM_PACK_MAX long (copied to the kernel's stack)" },
  { word = "packed_items", enum = "BMM_NEEDS_PACKED_ITEMS", value = 4,
    doc = "batch strides exactly n*m, m*p and n*p: consecutive items are one contiguous run (a contiguous batch-first tensor)" },
  { word = "a_transposed", enum = "BMM_NEEDS_A_TRANSPOSED", value = 8,
    doc = "A is a transposed view (unit row stride, rows of A^T column stride apart); only kernels of its order fit" },
  { word = "b_transposed", enum = "BMM_NEEDS_B_TRANSPOSED", value = 16,
    doc = "B is a transposed view (unit row stride, rows of B^T column stride apart); only kernels of its order fit" },
}

-- Operand orders: which of A and B a kernel reads as transposed views (column-major: unit row
-- stride). Such an operand's stored rows are its transpose's (A^T is m x n): batch-first, their
-- length is compiled in; seq-first and shape-generic, the kernel reads the column stride where
-- a row-major operand's row stride would be. `needs`: the needs bits that mark the order (none
-- for nn: a call fits it by its unit column strides). `tag`: the name part after the layout
-- (none for nn, so row-major kernels keep their names).
M.orders = {
  { word = "nn", needs = {}, tag = "", doc = "A and B row-major" },
  { word = "tn", needs = { "a_transposed" }, tag = "tn", doc = "A transposed, B row-major" },
  { word = "nt", needs = { "b_transposed" }, tag = "nt", doc = "A row-major, B transposed" },
  { word = "tt", needs = { "a_transposed", "b_transposed" }, tag = "tt", doc = "A and B transposed" },
}

-- How a kernel computes one product. `kind`: the generator's word; `tag`: its part of kernel
-- names; `isas`: "c99" or "vector" (every vector ISA) or "permute" (vector ISAs with
-- two-source lane permutes); `anyshape`: shape-generic (sizes at run time); `grain`: items
-- computed together ("lanes", "tile"; none: 1), the rest handed to a `fallback` kernel; the
-- public word is the enum's suffix in lower case (Python's Kernel.form).
M.forms = {
  { kind = "unroll", enum = "BMM_FORM_UNROLL", value = 1, tag = "(none)", isas = "c99",
    doc = "fully unrolled scalar C", detail = "portable C, fully unrolled" },
  { kind = "tile", enum = "BMM_FORM_TILE", value = 2, tag = "t<R>x<C>", isas = "c99",
    doc = "a scalar register tile in loops",
    detail = "portable C, an unrolled register tile in loops (past the unroll budget)" },
  { kind = "rows", enum = "BMM_FORM_ROWS", value = 3, tag = "rows", isas = "vector",
    doc = "rows of C in vectors, A broadcast",
    detail = "vectors along p, A broadcast, R rows x V vectors of C per block, fully unrolled" },
  { kind = "rl", enum = "BMM_FORM_ROWS_LOOP", value = 4, tag = "rl<R>", isas = "vector",
    doc = "R rows of that in loops", detail = "the same block in loops, `tile` rows high" },
  { kind = "flat", enum = "BMM_FORM_FLAT", value = 5, tag = "flat", isas = "permute",
    doc = "the whole C in registers, built with lane permutes",
    detail = "the whole small C in registers, A and B lanes built with permutes (batch-first)" },
  { kind = "dot", enum = "BMM_FORM_DOT", value = 6, tag = "dot", isas = "vector",
    doc = "p = 1: dot products along m", detail = "p = 1: dot products along m, several rows at once" },
  { kind = "xb", enum = "BMM_FORM_XB", value = 7, tag = "xb", isas = "permute",
    needs = { "adjacent_items" }, grain = "lanes", fallback = true,
    doc = "lanes are consecutive seq-first batch items, deinterleaved by permutes",
    detail = "lanes are consecutive seq-first batch items; the last batch % lanes items go to the ISA's first form" },
  { kind = "gtile", enum = "BMM_FORM_GTILE", value = 8, tag = "g<R>x<C>", isas = "c99", anyshape = true,
    doc = "shape-generic portable C: an R x C scalar register tile in loops, any strides",
    detail = "shape-generic portable C (`g4x4`, and `g8x1` for p = 1): a scalar register tile in loops, single rows and columns after it, any strides" },
  { kind = "grows", enum = "BMM_FORM_GROWS", value = 9, tag = "g<R>", isas = "vector", anyshape = true,
    doc = "shape-generic: blocks of R rows x up to V vectors of C, A broadcast, masked tails",
    detail = "shape-generic vectors (`g<R>`): blocks of `tile` rows x up to `vectors` vectors of C, A broadcast; then one block of the remaining rows; the last 1..V vectors of a block row masked at run time; each block a function of its own, run on a chunk of items (about 16 KiB of operands) before the next block" },
  { kind = "gvec", enum = "BMM_FORM_GVEC", value = 10, tag = "gvec", isas = "vector", anyshape = true,
    doc = "shape-generic, n = 1: a row vector times B, V vectors at a time, masked tail",
    detail = "shape-generic, n = 1 (`gvec`): the same with one row, twice as wide" },
  { kind = "gdot", enum = "BMM_FORM_GDOT", value = 11, tag = "gdot", isas = "vector", anyshape = true,
    needs = { "packable_b" },
    doc = "shape-generic, p = 1: R dot products along m at once, masked tail",
    detail = "shape-generic, p = 1 (`gdot`): `tile` dot products along m at once, the tail masked; a strided B column is copied to a stack buffer (`BMM_PACK_BYTES`; the columns of a vector's width of adjacent seq-first items at once)" },
  { kind = "pk", enum = "BMM_FORM_PACKED", value = 12, tag = "pk<G>", isas = "permute",
    needs = { "packed_items" }, grain = "tile", fallback = true,
    doc = "several whole matrices per vector (contiguous batch-first), built with lane permutes",
    detail = "`tile` whole batch-first matrices per vector, their A and B in at most two vectors each, lanes built with in-register permutes; the last batch % tile items go to the ISA's first form" },
  { kind = "gnt", enum = "BMM_FORM_GNT", value = 13, tag = "gnt<R>x<C>", isas = "vector", anyshape = true,
    doc = "shape-generic, B transposed: R x C dot products along m at once (rows of A times rows of B^T), masked tail",
    detail = "shape-generic, B a transposed view (`gnt<R>x<C>`, order `nt`): `tile` rows of A times `tile_cols` of B's columns, which are contiguous, as dot products along m (Q K^T), the tail masked, the sums eight at a time; then the remaining rows and columns in one narrower block each" },
}

-- The largest n, m or p a spec may ask for (generation on demand refuses larger classes).
M.max_dim = 4096

-- Batch regimes (wisdom keys): operands in cache, or streaming past BMM__STREAM_BYTES.
M.regimes = { "cache", "stream" }
-- Thread classes (wisdom keys): one thread, or several.
M.thread_classes = { "one", "many" }

-- word -> entry, for the lists the generator looks words up in
local function index(list, key)
  local by = {}
  for _, e in ipairs(list) do by[e[key]] = e end
  return by
end
M.layout = index(M.layouts, "word")
M.need = index(M.needs, "word")
M.order = index(M.orders, "word")
M.form = index(M.forms, "kind")

return M
