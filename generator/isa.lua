-- isa.lua: how the generator emits for an instruction set, one table each: register file,
-- whether it has two-source lane permutes, and how its intrinsics and compile guards are
-- spelled. Its C enum, vector widths and target attribute come from vocab.lua (and are
-- copied into each table here). vector.lua, variants.lua, emit_simd.lua and outputs.lua read
-- these; nothing else names an intrinsic.
local vocab = require("vocab")

local M = {}

local function mask_bits(lanes) return string.format("0x%X", math.floor(2 ^ lanes) - 1) end
local function call(fn, ...) return fn .. "(" .. table.concat({ ... }, ", ") .. ")" end

-- Per dtype: transpose, bmm_simd.h's in-register transpose of a W x W block (an array of W
-- vectors, in place) and its shuffles; pack_bcols, its copy of W seq-first items' B columns
-- (p = 1) by that transpose; regs: the vector registers.

-- Portable C: scalar code (the compiler may vectorize it); always compiled, always admitted.
M.c99 = {}

local X86 = {
  guard = "BMM_HAVE_X86_SIMD",     -- what the kernels compile under (bmm_simd.h)
  fn = "BMM_X86_FN",               -- wraps a kernel's name in its descriptor (NULL elsewhere)
  prefetch = function(addr) return call("_mm_prefetch", addr, "_MM_HINT_T0") end,
  -- the sums of up to 8 vectors (args: 8, zeros past the rows) into the array `into`
  hsums = function(t, into, args) return call(t.hsums, into, args) end,
  -- into L2 (LIBXSMM's choice for the next item; T0 measured 1.13x slower on seq-first
  -- 32x32x32 f32 streaming, Zen 4), for writing when write (prefetchw where the CPU has it)
  prefetch_l2 = function(addr, write)
    return write and call("__builtin_prefetch", addr, "1", "2") or call("_mm_prefetch", addr, "_MM_HINT_T1")
  end,
  line_bytes = 64,
}

M.avx2 = setmetatable({
  acc = 12, vmax = 2, permute = false, regs = 16,
  -- shape-generic kernels: row-block heights of the rows form (the tuner picks), rows per
  -- block of the dot form, rows x columns of the transposed-B dot form (accumulators, the
  -- columns' vectors and one of A's in the registers)
  any = { rows = { 4, 6 }, dot = 8, nt = { 4, 2 } },
  f32 = { vt = "__m256", pre = "_mm256_", sfx = "ps", mt = "__m256i", set = "_mm256_setr_epi32",
    hsum = "bmm__hsum_avx2_f32", hsums = "bmm__hsums8_avx2_f32", lane_masks = "bmm__lane_masks32",
    transpose = "bmm__transpose_avx2_f32", shuffles = 24, pack_bcols = "bmm__pack_bcols_avx2_f32" },
  f64 = { vt = "__m256d", pre = "_mm256_", sfx = "pd", mt = "__m256i", set = "_mm256_setr_epi64x",
    hsum = "bmm__hsum_avx2_f64", hsums = "bmm__hsums8_avx2_f64", lane_masks = "bmm__lane_masks64",
    transpose = "bmm__transpose_avx2_f64", shuffles = 8, pack_bcols = "bmm__pack_bcols_avx2_f64" },
  -- lane masks are vectors of all-ones lanes
  mask = function(t, w, lanes)
    local l = {}
    for i = 1, w do l[i] = i <= lanes and "-1" or "0" end
    return call(t.set, table.concat(l, ", "))
  end,
  -- a mask of the first `count` lanes (a C expression, 1..w): a window of bmm_simd.h's table
  rmask = function(t, w, count)
    return call("_mm256_loadu_si256", "(const __m256i *)(" .. t.lane_masks .. " + " .. w
      .. " - (" .. count .. "))")
  end,
  mload = function(t, m, p) return call(t.pre .. "maskload_" .. t.sfx, p, m) end,
  mstore = function(t, m, p, v) return call(t.pre .. "maskstore_" .. t.sfx, p, m, v) end,
  hsum = function(t, v) return call(t.hsum, v) end,
}, { __index = X86 })

M.avx512 = setmetatable({
  acc = 24, vmax = 4, permute = true, regs = 32,
  -- one_region: a seq-first rows block that holds acc accumulators is compiled with one
  -- register-allocation region (emit_simd.lua; docs/generator.md: 1.1-1.25x on Zen 4, and
  -- 0.96-0.98x on AVX2's, which do not get it)
  one_region = true,
  any = { rows = { 4, 8 }, dot = 8, nt = { 4, 4 } },
  index_type = "__m512i",          -- permute index vectors
  -- shuf128: moves whole 128-bit blocks (a lane permute that stays cheap across blocks).
  -- half: the YMM registers (AVX-512VL's masked loads and stores), for a rows block's vector
  -- of at most half the lanes: on 256-bit units (Zen 4) a ZMM operation costs two, masked
  -- lanes or not; cast: a ZMM value's low half, free
  f32 = { vt = "__m512", pre = "_mm512_", sfx = "ps", mt = "__mmask16", idx = "_mm512_set_epi32",
    shuf128 = "_mm512_shuffle_f32x4", hsums = "bmm__hsums8_avx512_f32",
    transpose = "bmm__transpose_avx512_f32", shuffles = 64, pack_bcols = "bmm__pack_bcols_avx512_f32",
    half = { vt = "__m256", pre = "_mm256_", sfx = "ps", mt = "__mmask8", cast = "_mm512_castps512_ps256" } },
  f64 = { vt = "__m512d", pre = "_mm512_", sfx = "pd", mt = "__mmask8", idx = "_mm512_set_epi64",
    shuf128 = "_mm512_shuffle_f64x2", hsums = "bmm__hsums8_avx512_f64",
    transpose = "bmm__transpose_avx512_f64", shuffles = 24, pack_bcols = "bmm__pack_bcols_avx512_f64",
    half = { vt = "__m256d", pre = "_mm256_", sfx = "pd", mt = "__mmask8", cast = "_mm512_castpd512_pd256" } },
  -- lane masks are bit masks
  mask = function(t, _, lanes) return "(" .. t.mt .. ")" .. mask_bits(lanes) end,
  rmask = function(t, _, count) return "(" .. t.mt .. ")((1u << (" .. count .. ")) - 1u)" end,
  mload = function(t, m, p) return call(t.pre .. "maskz_loadu_" .. t.sfx, m, p) end,
  mstore = function(t, m, p, v) return call(t.pre .. "mask_storeu_" .. t.sfx, p, m, v) end,
  hsum = function(t, v) return call(t.pre .. "reduce_add_" .. t.sfx, v) end,
}, { __index = X86 })

M.mask_bits = mask_bits

-- The vocabulary's facts, and the order (lowest first, as the runtime's BMM_ISA_* enum). An
-- ISA of the vocabulary without a table here is an error at load: its emitter is missing.
M.order = {}
for i, v in ipairs(vocab.isas) do
  local t = M[v.word] or error("isa.lua: no emitter table for ISA " .. v.word .. " of vocab.lua", 0)
  t.enum, t.width = v.enum, v.width
  if v.target then t.target = "BMM_TARGET_" .. v.word:upper() end
  M.order[i] = v.word
end

return M
