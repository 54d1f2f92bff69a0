return { name = "small", shapes = { "3x3x3", "8x8x1" }, dtypes = { "f64" }, layouts = { "bf", "sf" }, anyshape = false }
