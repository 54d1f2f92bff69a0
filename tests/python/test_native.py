"""The compiled call paths (bmmgen/_native_torch.cpp for tensors, _native_buffer.c for NumPy
arrays): found where the build made them, the same products as torch.bmm and np.matmul on
every plain call they take, and every other call left to the Python path (None), which checks
and raises as before, nothing written."""
import copy
import os
import threading

import numpy as np
import pytest
import torch

import bmmgen
from bmmgen import _native

native = _native.torch_bmm
needs_native = pytest.mark.skipif(native is None, reason="no compiled call path in this build")


def _ab(batch=4, n=3, m=5, p=2, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, n, m, generator=g, dtype=dtype),
            torch.randn(batch, m, p, generator=g, dtype=dtype))


def test_found_where_built():
    """CMake sets BMM_EXPECT_NATIVE=1 where it built the module: then the package must load it,
    next to the libbmm.so it loaded, and bmmgen.bmm must go through it."""
    if os.environ.get("BMM_EXPECT_NATIVE") != "1":
        pytest.skip("this build has no compiled call path")
    assert native is not None and _native.buffer_bmm is not None
    assert os.path.dirname(_native.torch_path) in (os.path.dirname(os.path.realpath(bmmgen.library_path)),
                                             os.path.dirname(bmmgen.__file__))


def _views(dtype):
    """Plain calls in the layouts torch hands over: contiguous, transposed, seq-first, expanded,
    sliced, and a C with rows apart."""
    a, b = _ab(5, 7, 9, 4, dtype)
    sf = torch.randn(7, 5, 9, dtype=dtype).transpose(0, 1)
    bt = torch.randn(5, 4, 9, dtype=dtype).transpose(1, 2)
    return [(a, b), (sf, b), (a, bt), (a[:1].expand(5, 7, 9), b), (a[:, 1:6], b[:, :, :3]),
            (a.transpose(1, 2).contiguous().transpose(1, 2), b)]


DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
# relative and absolute: float32's accumulation; the 16-bit ones' one rounding of C
TOL = {torch.float32: 1e-5, torch.float64: 1e-12, torch.bfloat16: 2.0 ** -7,
       torch.float16: 2.0 ** -10}


def _close(got, a, b):
    """got is a @ b (computed in float64: torch 1.13 has no CPU bmm of float16)."""
    assert got.dtype == a.dtype
    want = torch.bmm(a.double(), b.double())
    torch.testing.assert_close(got.double(), want, rtol=TOL[a.dtype], atol=TOL[a.dtype])


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
def test_plain_calls(dtype):
    for a, b in _views(dtype):
        got = native(a, b, None)
        assert got is not None and got.shape == (a.shape[0], a.shape[1], b.shape[2])
        _close(got, a, b)
        out = torch.full((a.shape[0], a.shape[1] + 2, b.shape[2]), 7.0, dtype=dtype)[:, 1:-1]
        assert native(a, b, out) is out  # out= returns out itself, its rows apart
        _close(out, a, b)
        _close(bmmgen.bmm(a, b), a, b)


@needs_native
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_float32_out(dtype):
    """A float32 out of 16-bit inputs on the compiled path too (bmm_sbgemm_strided,
    bmm_shgemm_strided): rounded once, to float32."""
    for a, b in _views(dtype):
        out = torch.full((a.shape[0], a.shape[1] + 2, b.shape[2]), 7.0)[:, 1:-1]
        assert native(a, b, out) is out
        torch.testing.assert_close(out.double(), torch.bmm(a.double(), b.double()), rtol=1e-6,
                                   atol=1e-6)
    assert native(a.float(), b.float(), out.to(dtype)) is None  # not the other way round
    plan = bmmgen.Plan(a, b, out)  # a Plan's float32 out: its compiled call too
    assert plan._fast is not None
    out.fill_(7.0)
    assert plan._fast(a, b, out) is out
    torch.testing.assert_close(out.double(), torch.bmm(a.double(), b.double()), rtol=1e-6,
                               atol=1e-6)
    other = torch.full((a.shape[0], a.shape[1] + 2, b.shape[2]), 7.0, dtype=dtype)[:, 1:-1]
    assert plan._fast(a, b, other) is None  # out's strides as planned, not its dtype


def _left_to_python():
    a, b = _ab()
    neg = torch.complex(a, -a).conj().imag
    small = a.clone()
    small.storage().resize_(3)
    sub = a.as_subclass(type("T", (torch.Tensor,), {}))
    return {
        "requires grad": (a.clone().requires_grad_(), b, None),
        "neg bit": (neg, b, None),
        "storage smaller than the view": (small, b, None),
        "a subclass": (sub, b, None),
        "empty": (a[:, :0], b, None),
        "m = 0": (a[:, :, :0], b[:, :0], None),
        "dtypes differ": (a, b.double(), None),
        "complex": (torch.complex(a, a), torch.complex(b, b), None),
        "int": (a.int(), b.int(), None),
        "2-D": (a[0], b[0], None),
        "sizes differ": (a, b[:, 1:], None),
        "NumPy": (a.numpy(), b.numpy(), None),
        "out of another shape": (a, b, torch.full((4, 3, 3), 7.0)),
        "out of another dtype": (a, b, torch.full((4, 3, 2), 7.0, dtype=torch.float64)),
        "out not a tensor": (a, b, a.numpy()),
        "out requires grad": (a, b, torch.full((4, 3, 2), 7.0, requires_grad=True)),
        "out expanded": (a, b, torch.full((1, 3, 2), 7.0).expand(4, 3, 2)),
    }


@needs_native
@pytest.mark.parametrize("case", sorted(_left_to_python()))
def test_left_to_python(case):
    a, b, out = _left_to_python()[case]
    snapshot = out.detach().clone() if isinstance(out, torch.Tensor) else None
    assert native(a, b, out) is None
    if snapshot is not None:
        assert torch.equal(out, snapshot)


@needs_native
def test_out_overlapping_an_input_is_left_to_python():
    """The library refuses it before writing; the Python path says so."""
    a, b = _ab(4, 3, 3, 3)
    before = a.clone()
    assert native(a, b, a) is None
    assert torch.equal(a, before)
    with pytest.raises((ValueError, bmmgen.Error), match="overlap"):
        bmmgen.bmm(a, b, out=a)


@needs_native
def test_traced_and_grad_calls_are_left_to_python():
    a, b = _ab()
    traced = torch.jit.trace(lambda x, y: bmmgen.bmm(x, y), (a, b), check_trace=False)
    a2, b2 = _ab(seed=1)
    torch.testing.assert_close(traced(a2, b2), torch.bmm(a2, b2))  # the op was recorded
    x = a.clone().requires_grad_()
    bmmgen.bmm(x, b).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(4, 3, 2) @ b.transpose(1, 2))
    with torch.no_grad():  # no autograd wanted: the compiled path takes it
        assert native(x, b, None) is not None


@needs_native
def test_threads_share_the_library():
    """Python threads calling at once (the GIL released around large products) get the same
    results as one after another."""
    a, b = _ab(64, 33, 65, 31)
    want = torch.bmm(a, b)
    errors = []

    def work():
        for _ in range(20):
            if not torch.equal(bmmgen.bmm(a, b), bmmgen.bmm(a, b)):
                errors.append("results differ")
            torch.testing.assert_close(bmmgen.bmm(a, b), want, rtol=1e-5, atol=1e-5)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@needs_native
@pytest.mark.parametrize("dtype", DTYPES)
def test_plan_calls(dtype):
    """A Plan on tensors calls through the compiled path; operands not as planned go to the
    Python path, which says what differs; a closed plan raises; a copy has its own."""
    for a, b in _views(dtype):
        plan = bmmgen.Plan(a, b)
        assert plan._fast is not None
        _close(plan(a, b), a, b)
        out = torch.full((a.shape[0], a.shape[1], b.shape[2]), 7.0, dtype=dtype)
        with_out = bmmgen.Plan(a, b, out)
        assert with_out._fast(a, b, out) is out
        _close(out, a, b)
        assert plan._fast(a.contiguous() if not a.is_contiguous() else a.transpose(1, 2)
                          .contiguous().transpose(1, 2), b) is None  # other strides
        assert plan._fast(a.clone().requires_grad_(), b) is None
        assert with_out._fast(a, b) is None  # made for a given out
        copied = copy.deepcopy(plan)
        plan.close()
        assert plan._fast is None
        with pytest.raises(ValueError, match="closed"):
            plan(a, b)
        _close(copied(a, b), a, b)
    a, b = _ab(dtype=dtype)
    plan = bmmgen.Plan(a, b)
    with pytest.raises(ValueError, match="strides"):
        plan(a.transpose(1, 2).contiguous().transpose(1, 2), b)


buffer_bmm = _native.buffer_bmm
needs_buffer = pytest.mark.skipif(buffer_bmm is None, reason="no compiled NumPy path in this build")


@needs_buffer
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_numpy_plain_calls(dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 7, 9)).astype(dtype)
    b = rng.standard_normal((5, 9, 4)).astype(dtype)
    views = [(a, b), (a.transpose(1, 0, 2).copy().transpose(1, 0, 2), b),
             (a, b.transpose(0, 2, 1).copy().transpose(0, 2, 1)), (a[:, ::-1], b),
             (np.broadcast_to(a[:1], a.shape), b), (a[:, 1:6, ::2], b[:, :5])]
    for x, y in views:
        want = np.matmul(x.astype(np.float64), y.astype(np.float64))
        tol = 1e-2 if dtype == np.float16 else 1e-4  # (float16: C rounded to 11 bits)
        got = buffer_bmm(x, y, None)
        assert type(got) is np.ndarray and got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        out = np.full((x.shape[0], x.shape[1] + 1, y.shape[2]), 7.0, dtype)[:, 1:]
        assert buffer_bmm(x, y, out) is out
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
        if dtype == np.float16:  # a float32 out: rounded once, to float32
            out = np.full((x.shape[0], x.shape[1] + 1, y.shape[2]), 7.0, np.float32)[:, 1:]
            assert buffer_bmm(x, y, out) is out
            np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)


def _numpy_left_to_python():
    a = np.ones((4, 3, 5), np.float32)
    b = np.ones((4, 5, 2), np.float32)
    raw = np.zeros(a.nbytes + 1, np.uint8)
    odd = np.ndarray(a.shape, np.float32, buffer=raw, offset=1)
    ro = np.full((4, 3, 2), 7.0, np.float32)
    ro.flags.writeable = False
    sub = a.view(type("S", (np.ndarray,), {}))
    return {
        "float16 and float32": (a.astype(np.float16), b, None),
        "int": (a.astype(np.int32), b.astype(np.int32), None),
        "byte-swapped": (a.astype(a.dtype.newbyteorder()), b.astype(b.dtype.newbyteorder()), None),
        "misaligned": (odd, b, None),
        "a subclass": (sub, b, None),
        "a list": (a.tolist(), b, None),
        "empty": (a[:, :0], b, None),
        "dtypes differ": (a, b.astype(np.float64), None),
        "sizes differ": (a, b[:, 1:], None),
        "2-D": (a[0], b[0], None),
        "out read-only": (a, b, ro),
        "out of another shape": (a, b, np.full((4, 3, 3), 7.0, np.float32)),
        "out of another dtype": (a, b, np.full((4, 3, 2), 7.0)),
        "out overlapping itself": (a, b, np.lib.stride_tricks.as_strided(
            np.full(6, 7.0, np.float32), shape=(4, 3, 2), strides=(0, 8, 4))),
        "out overlapping a": (np.zeros((4, 3, 3), np.float32), np.ones((4, 3, 3), np.float32), None),
    }


@needs_buffer
@pytest.mark.parametrize("case", sorted(_numpy_left_to_python()))
def test_numpy_left_to_python(case):
    a, b, out = _numpy_left_to_python()[case]
    if case == "out overlapping a":
        out = a
    snapshot = np.array(out, copy=True) if isinstance(out, np.ndarray) else None
    assert buffer_bmm(a, b, out) is None
    if snapshot is not None:
        np.testing.assert_array_equal(out, snapshot)


@needs_buffer
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_numpy_plan_calls(dtype):
    """A Plan on NumPy arrays calls through the compiled path; arrays not as planned go to the
    Python path, which says what differs; a closed plan raises."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 5, 7)).astype(dtype)
    b = rng.standard_normal((6, 7, 3)).astype(dtype).transpose(0, 2, 1).copy().transpose(0, 2, 1)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    tol = {"rtol": 1e-2, "atol": 1e-2} if dtype == np.float16 else {"rtol": 1e-5, "atol": 1e-6}
    plan = bmmgen.Plan(a, b)
    assert plan._fast is not None
    np.testing.assert_allclose(plan._fast(a, b), want, **tol)
    np.testing.assert_allclose(plan(a, b), want, **tol)
    out = np.full((6, 5, 3), 7.0, dtype)
    with_out = bmmgen.Plan(a, b, out)
    assert with_out._fast(a, b, out) is out
    np.testing.assert_allclose(out, want, **tol)
    assert with_out._fast(a, b) is None                         # made for a given out
    assert plan._fast(a, np.ascontiguousarray(b)) is None       # other strides
    other = np.float32 if dtype == np.float16 else np.float16
    assert plan._fast(a.astype(other), b.astype(other)) is None  # another dtype
    assert plan._fast(a.tolist(), b) is None                    # not an array
    ro = np.full((6, 5, 3), 7.0, dtype)
    ro.flags.writeable = False
    assert with_out._fast(a, b, ro) is None                     # read-only out
    assert with_out._fast(a, b, a[:, :, :3]) is None            # out not as planned
    with pytest.raises(ValueError, match="strides"):
        plan(a, np.ascontiguousarray(b))
    plan.close()
    assert plan._fast is None
    with pytest.raises(ValueError, match="closed"):
        plan(a, b)
