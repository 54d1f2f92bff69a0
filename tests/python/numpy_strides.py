"""numpy_strides.py LIBBMM: NumPy-made operands through ctypes, without copies.

Each operand is passed as NumPy holds it: its data pointer (element [0, 0, 0]) and its
strides in elements, whatever they are (broadcast, empty, transposed, sliced, reversed,
unsqueezed). The result must equal np.matmul's (small integers: exact), and nothing of C's
buffer outside the view may change. Run by CTest with /usr/bin/python3 (python3-numpy)."""
import ctypes
import sys

import numpy as np


class Stride(ctypes.Structure):
    _fields_ = [("batch", ctypes.c_int64), ("row", ctypes.c_int64), ("col", ctypes.c_int64)]


lib = ctypes.CDLL(sys.argv[1])
for name, ctype in (("bmm_sgemm_strided", ctypes.c_float), ("bmm_dgemm_strided", ctypes.c_double)):
    fn = getattr(lib, name)
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_int64] * 4 + [ctype, ctypes.c_void_p, Stride, ctypes.c_void_p, Stride,
                                          ctype, ctypes.c_void_p, Stride]
lib.bmm_last_error.restype = ctypes.c_char_p


def stride(x):
    return Stride(*(s // x.itemsize for s in x.strides))


def bmm(a, b, c, alpha=1.0, beta=0.0):
    fn = lib.bmm_sgemm_strided if a.dtype == np.float32 else lib.bmm_dgemm_strided
    batch, n, m = a.shape
    p = b.shape[2]
    st = fn(batch, n, m, p, alpha, a.ctypes.data, stride(a), b.ctypes.data, stride(b), beta,
            c.ctypes.data, stride(c))
    if st != 0:
        raise RuntimeError(f"status {st}: {lib.bmm_last_error().decode()}")


def ints(shape, dtype, seed):
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(dtype)


def check(name, a, b, c_view, c_base, alpha=1.0, beta=0.0):
    before = c_base.copy()
    want = alpha * np.matmul(a, b) + (beta * c_view if beta != 0 else 0)
    bmm(a, b, c_view, alpha, beta)
    assert np.array_equal(c_view, want), f"{name}: wrong result"
    mask = np.ones(c_base.shape, bool)
    flat = np.zeros(c_base.size, bool)
    # the elements of c_base that belong to c_view, by address
    start = c_base.ctypes.data
    offs = ((c_view.ctypes.data - start) // c_base.itemsize
            + sum(np.indices(c_view.shape)[d] * (c_view.strides[d] // c_base.itemsize)
                  for d in range(3)))
    flat[offs.ravel()] = True
    mask = ~flat.reshape(c_base.shape)
    assert np.array_equal(c_base[mask], before[mask]), f"{name}: wrote outside C"
    print(f"ok  {name}")


for dt in (np.float32, np.float64):
    B, S, H = 6, 9, 5
    enc = ints((B, S, H), dt, 1)
    dec = ints((B, 1, H), dt, 2)
    out = np.zeros((B, S, 1), dt)
    # attention scores with dec^T a transposed view: B x S x H times B x H x 1
    check(f"{dt.__name__} transposed dec", enc, dec.transpose(0, 2, 1), out, out)
    # broadcast B x h x 1 (broadcast_to gives stride 0 to the extent-1 and batch dimensions)
    v = np.broadcast_to(ints((1, H, 1), dt, 3), (B, H, 1))
    check(f"{dt.__name__} broadcast_to", enc, v, out, out)
    # seq-first operands (S, B, H).transpose(1, 0, 2)
    seq = ints((S, B, H), dt, 4).transpose(1, 0, 2)
    w = ints((B, H, 4), dt, 5)
    big = np.full((B, S, 4), 7, dt)
    check(f"{dt.__name__} seq-first", seq, w, big, big, 2.0, 0.5)
    # sliced: every other row and column of a bigger array, into a strided slice of C
    a = ints((B, 2 * S, 2 * H), dt, 6)[:, ::2, ::2]
    cbuf = np.full((B, S, 8), 9, dt)
    check(f"{dt.__name__} sliced", a, w, cbuf[:, :, ::2], cbuf, 1.0, 1.0)
    # reversed (negative strides) in A, B and C
    a = ints((B, S, H), dt, 7)[::-1, :, ::-1]
    b = ints((B, H, 4), dt, 8)[:, ::-1, :]
    cbuf = np.full((B, S, 4), 3, dt)
    check(f"{dt.__name__} reversed", a, b, cbuf[:, ::-1, ::-1], cbuf, -1.0, 2.0)
    # unsqueezed (an extent-1 axis with a meaningless stride) and an expanded batch
    row = ints((H,), dt, 9)
    a = np.lib.stride_tricks.as_strided(row, shape=(B, 1, H), strides=(0, 12345 * row.itemsize, row.itemsize))
    o1 = np.zeros((B, 1, 4), dt)
    check(f"{dt.__name__} unsqueezed", a, w, o1, o1)
    # empty batch: NumPy gives zero strides to an empty array; a no-op
    e = np.zeros((0, 3, 3), dt)
    bmm(e, e, np.zeros((0, 3, 3), dt))
    print(f"ok  {dt.__name__} empty")
print("numpy_strides: all passed")
