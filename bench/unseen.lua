-- unseen.lua: the benchmark's shapes that are not in generator/specs/default.lua, so the
-- default table serves them with its shape-generic kernels only. The benchmark also generates
-- this spec into a table of its own (never registered with the runtime) whose specialized
-- kernels are the "bmm-specialized" contender: how close the shape-generic kernels come.
return {
  name = "unseen",
  dtypes = { "f32", "f64" },
  layouts = { "bf", "sf" },
  anyshape = false,
  shapes = {
    -- attention scores, B x S x h times B x h x 1, at sequence lengths not in the spec
    "23x64x1", "37x256x1", "61x512x1",
    -- attention context, B x 1 x S times B x S x h
    "1x23x64", "1x37x256", "1x61x512",
    -- odd cubes and a non-square odd shape
    "7x9x11", "9x9x9", "11x11x11", "17x17x17",
    -- larger than the spec's blocks
    "40x40x40",
  },
}
