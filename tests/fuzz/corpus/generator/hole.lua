return { name = "hole", shapes = { "3x3x3" }, dtypes = { path, "f32" }, anyshape = false }
