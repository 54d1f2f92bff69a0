"""bmmgen on NumPy arrays: every view NumPy makes (broadcast, transposed, seq-first, sliced,
reversed, unsqueezed with an odd stride, empty) goes to the library as it is, and the result
equals np.matmul's exactly (small integers); nothing of out's buffer outside the view changes.
Then the errors: wrong ranks, sizes, dtypes, read-only or overlapping out, nothing written."""
import numpy as np
import pytest

import bmmgen

DTYPES = [np.float32, np.float64, np.float16]


def ints(shape, dt, seed):
    return np.random.default_rng(seed).integers(-3, 4, size=shape).astype(dt)


def addresses(view, base):
    """Which elements of base belong to view (by address)."""
    offs = (view.ctypes.data - base.ctypes.data) // base.itemsize
    for d in range(view.ndim):
        offs = offs + np.indices(view.shape)[d] * (view.strides[d] // base.itemsize)
    mask = np.zeros(base.size, bool)
    mask[np.ravel(offs)] = True
    return mask.reshape(base.shape)


def check(a, b, out, base, alpha=1.0, beta=0.0):
    """bmmgen into out (a view of base) against NumPy; base outside out untouched."""
    before = base.copy()
    want = alpha * np.matmul(a, b) + (beta * out if beta != 0 else 0)
    if alpha == 1 and beta == 0:
        got = bmmgen.bmm(a, b, out=out)
    else:
        got = bmmgen.baddbmm(out, a, b, alpha=alpha, beta=beta, out=out)
    assert got is out
    np.testing.assert_array_equal(out, want)
    outside = ~addresses(out, base)
    np.testing.assert_array_equal(base[outside], before[outside])


@pytest.mark.parametrize("dt", DTYPES)
def test_views(dt):
    B, S, H = 6, 9, 5
    enc, dec = ints((B, S, H), dt, 1), ints((B, 1, H), dt, 2)
    out = np.zeros((B, S, 1), dt)
    check(enc, dec.transpose(0, 2, 1), out, out)                      # transposed
    v = np.broadcast_to(ints((1, H, 1), dt, 3), (B, H, 1))           # broadcast: strides 0
    check(enc, v, out, out)
    seq = ints((S, B, H), dt, 4).transpose(1, 0, 2)                   # seq-first
    w = ints((B, H, 4), dt, 5)
    big = np.full((B, S, 4), 7, dt)
    check(seq, w, big, big, 2.0, 0.5)
    a = ints((B, 2 * S, 2 * H), dt, 6)[:, ::2, ::2]                   # sliced, into a slice
    cbuf = np.full((B, S, 8), 9, dt)
    check(a, w, cbuf[:, :, ::2], cbuf, 1.0, 1.0)
    a = ints((B, S, H), dt, 7)[::-1, :, ::-1]                          # negative strides
    b = ints((B, H, 4), dt, 8)[:, ::-1, :]
    cbuf = np.full((B, S, 4), 3, dt)
    check(a, b, cbuf[:, ::-1, ::-1], cbuf, -1.0, 2.0)
    row = ints((H,), dt, 9)                                             # unsqueezed, odd stride
    a = np.lib.stride_tricks.as_strided(row, shape=(B, 1, H),
                                        strides=(0, 12345 * row.itemsize, row.itemsize))
    o1 = np.zeros((B, 1, 4), dt)
    check(a, w, o1, o1)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4, 4), (8, 8, 8), (13, 13, 13), (10, 256, 1), (1, 10, 256),
                                   (5, 7, 3), (7, 9, 5), (3, 1, 6), (1, 1, 1), (40, 3, 2)])
def test_shapes_new_output(dt, shape):
    n, m, p = shape
    a, b = ints((7, n, m), dt, 10), ints((7, m, p), dt, 11)
    got = bmmgen.bmm(a, b)
    assert isinstance(got, np.ndarray) and got.dtype == dt and got.shape == (7, n, p)
    np.testing.assert_array_equal(got, np.matmul(a, b))
    c = ints((1, n, 1), dt, 12)                                         # broadcast input
    got = bmmgen.baddbmm(c, a, b, beta=0.5, alpha=-2)
    np.testing.assert_array_equal(got, 0.5 * c + -2 * np.matmul(a, b))
    np.testing.assert_array_equal(c, ints((1, n, 1), dt, 12))          # c not modified


@pytest.mark.parametrize("dt", DTYPES)
def test_empty_and_degenerate(dt):
    e = np.zeros((0, 3, 3), dt)
    assert bmmgen.bmm(e, e).shape == (0, 3, 3)
    assert bmmgen.bmm(np.zeros((2, 0, 3), dt), np.zeros((2, 3, 4), dt)).shape == (2, 0, 4)
    # inner size 0: a product of nothing is 0; baddbmm gives beta c
    z = bmmgen.bmm(np.zeros((2, 3, 0), dt), np.zeros((2, 0, 4), dt))
    np.testing.assert_array_equal(z, np.zeros((2, 3, 4), dt))
    c = np.ones((2, 3, 4), dt)
    np.testing.assert_array_equal(
        bmmgen.baddbmm(c, np.zeros((2, 3, 0), dt), np.zeros((2, 0, 4), dt), beta=3), 3 * c)


def test_beta_zero_ignores_nan():
    a, b = ints((3, 4, 4), np.float64, 1), ints((3, 4, 4), np.float64, 2)
    c = np.full((3, 4, 4), np.nan)
    np.testing.assert_array_equal(bmmgen.baddbmm(c, a, b, beta=0), np.matmul(a, b))
    out = np.full((3, 4, 4), np.nan)
    bmmgen.baddbmm(out, a, b, beta=0, out=out)
    np.testing.assert_array_equal(out, np.matmul(a, b))


def test_copies_only_what_the_library_cannot_address():
    # float32 at an odd byte offset: not aligned, so a copy of a is made, and the result holds
    raw = np.zeros(4 * 3 * 3 * 4 + 1, np.uint8)
    a = np.ndarray((4, 3, 3), np.float32, buffer=raw, offset=1)
    a[...] = ints((4, 3, 3), np.float32, 3)
    b = ints((4, 3, 3), np.float32, 4)
    np.testing.assert_array_equal(bmmgen.bmm(a, b), np.matmul(a, b))
    # byte-swapped input: a copy in native order
    np.testing.assert_array_equal(bmmgen.bmm(a.astype(">f4"), b), np.matmul(a, b))
    # an out the library cannot address is an error, not a silent copy
    out = np.ndarray((4, 3, 3), np.float32, buffer=np.zeros(4 * 9 * 4 + 1, np.uint8), offset=1)
    with pytest.raises(ValueError, match="out"):
        bmmgen.bmm(b, b, out=out)


def errors():
    f, d = np.ones((2, 3, 4), np.float32), np.ones((2, 4, 5), np.float32)
    return [
        (lambda: bmmgen.bmm(np.ones((3, 4), np.float32), d), ValueError, "3-D"),
        (lambda: bmmgen.bmm(f, np.ones((3, 4, 5), np.float32)), ValueError, "same number"),
        (lambda: bmmgen.bmm(f, np.ones((2, 3, 5), np.float32)), ValueError, "columns"),
        (lambda: bmmgen.bmm(f, d.astype(np.float64)), TypeError, "same dtype"),
        (lambda: bmmgen.bmm(f.astype(np.int32), d.astype(np.int32)), TypeError, "float32"),
        (lambda: bmmgen.bmm(f.astype(np.complex64), d.astype(np.complex64)), TypeError,
         "float32, float64, float16"),
        (lambda: bmmgen.bmm(f, [[[1.0]]]), TypeError, "NumPy"),
        (lambda: bmmgen.bmm([[[1.0]]], d), TypeError, "NumPy arrays or torch"),
        (lambda: bmmgen.bmm(f, d, out=np.ones((2, 3, 4), np.float32)), ValueError, "shape"),
        (lambda: bmmgen.bmm(f, d, out=np.ones((2, 3, 5), np.float64)), TypeError, "dtype"),
        (lambda: bmmgen.baddbmm(np.ones((3, 3, 5), np.float32), f, d), ValueError, "broadcast"),
        (lambda: bmmgen.baddbmm(f, f, d, alpha="x"), TypeError, "alpha"),
    ]


@pytest.mark.parametrize("case", range(len(errors())))
def test_errors(case):
    fn, kind, words = errors()[case]
    with pytest.raises(kind, match=words):
        fn()


def test_out_rules_write_nothing():
    a, b = ints((2, 3, 3), np.float64, 5), ints((2, 3, 3), np.float64, 6)
    ro = np.zeros((2, 3, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        bmmgen.bmm(a, b, out=ro)
    # out overlapping an input: refused before baddbmm copies c into it
    buf = ints((2, 3, 6), np.float64, 7)
    keep = buf.copy()
    with pytest.raises(ValueError, match="overlaps a"):
        bmmgen.baddbmm(np.ones((2, 3, 3)), buf[:, :, :3], b, out=buf[:, :, 1:4])
    np.testing.assert_array_equal(buf, keep)
    # out with two elements at one address: checked in Python before the copy, else by the
    # library (bmmgen.Error carrying BMM_EOVERLAP and its message)
    bad = np.lib.stride_tricks.as_strided(np.zeros(9), shape=(2, 3, 3), strides=(0, 24, 8))
    with pytest.raises(ValueError, match="one address"):
        bmmgen.baddbmm(np.ones((2, 3, 3)), a, b, out=bad)
    with pytest.raises(bmmgen.Error, match="BMM_EOVERLAP: C overlaps itself") as e:
        bmmgen.bmm(a, b, out=bad)
    assert e.value.status == 2 and "overlaps itself" in e.value.message
    # bmm into an out that is an input, nothing written
    c = a.copy()
    with pytest.raises(bmmgen.Error, match="C overlaps A"):
        bmmgen.bmm(c, b, out=c)
    np.testing.assert_array_equal(c, a)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_call_like_one_seen_is_still_checked(compiled, monkeypatch):
    """Calls with the dtypes, shapes and strides of one that passed skip the Python checks, not
    the library's: an out that overlaps an input, or a misaligned input, is still caught (or
    copied), and a change of wisdom makes the plan be chosen again. On the compiled path
    (_native_buffer.c) and on the Python path's cache of seen calls."""
    from bmmgen import _lib, _native, _ops
    if not compiled:
        monkeypatch.setattr(_native, "buffer_bmm", None)
    a, b = ints((3, 4, 4), np.float32, 1), ints((3, 4, 4), np.float32, 2)
    out = np.zeros((3, 4, 4), np.float32)
    bmmgen.bmm(a, b, out=out)
    keep = out.copy()
    with pytest.raises(bmmgen.Error, match="C overlaps A"):
        bmmgen.bmm(out, b, out=out)                    # same signature, now overlapping
    np.testing.assert_array_equal(out, keep)
    raw = np.zeros(a.nbytes + 1, np.uint8)
    odd = np.ndarray(a.shape, np.float32, buffer=raw, offset=1)
    odd[...] = a                                       # same signature, misaligned: copied
    np.testing.assert_array_equal(bmmgen.bmm(odd, b, out=out), np.matmul(a, b))
    before = _lib.generation()
    bmmgen.forget_wisdom()
    assert _lib.generation() != before
    np.testing.assert_array_equal(bmmgen.bmm(a, b, out=out), np.matmul(a, b))
    if not compiled:
        assert any(p.gen == _lib.generation() for p in _ops._SEEN.values())
