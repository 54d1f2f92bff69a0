"""bmmgen.patch_torch: torch.bmm, torch.baddbmm and 3-D torch.matmul go to bmmgen where it is
expected to win and to torch otherwise, with torch's results either way (autograd included),
and are restored on exit, by undo(), and in nested order."""
import pytest
import torch

import bmmgen
from bmmgen import _ops, _patch

ORIGINAL = {name: getattr(torch, name) for name in ("bmm", "baddbmm", "matmul")}


def _restored():
    return all(getattr(torch, name) is fn for name, fn in ORIGINAL.items())


def test_context_function_and_nesting():
    with bmmgen.patch_torch() as p:
        assert torch.bmm is not ORIGINAL["bmm"] and torch.matmul.__name__ == "matmul"
        with bmmgen.patch_torch():
            inner = torch.bmm
        assert torch.bmm is not inner and torch.bmm is p._patched["bmm"]
    assert _restored()
    q = bmmgen.patch_torch()
    assert not _restored()
    q.undo()
    q.undo()  # twice: nothing more
    assert _restored()
    with pytest.raises(KeyError):
        with bmmgen.patch_torch():
            raise KeyError("restored on the way out")
    assert _restored()


@pytest.fixture
def routed(monkeypatch):
    """Counts the calls bmmgen's bmm takes (the compiled path, else the Python one)."""
    calls = []
    if _ops._NATIVE_BMM is not None:
        real = _ops._NATIVE_BMM
        monkeypatch.setattr(_ops, "_NATIVE_BMM", lambda a, b, out: calls.append(1) or real(a, b, out))
    real_bmm, real_baddbmm = _patch._api.bmm, _patch._api.baddbmm
    monkeypatch.setattr(_patch._api, "bmm", lambda a, b: calls.append(1) or real_bmm(a, b))
    monkeypatch.setattr(_patch._api, "baddbmm",
                        lambda *args, **kw: calls.append(1) or real_baddbmm(*args, **kw))
    return calls


def _cases():
    g = torch.Generator().manual_seed(0)
    r = lambda *s, dt=torch.float32: torch.randn(*s, generator=g, dtype=dt)  # noqa: E731
    return {  # name: (a, b, bmmgen expected)
        "small f32": (r(4, 3, 5), r(4, 5, 2), True),
        "small f64, transposed b": (r(4, 3, 5, dt=torch.float64),
                                    r(4, 2, 5, dt=torch.float64).transpose(1, 2), True),
        "seq-first a": (r(3, 4, 5).transpose(0, 1), r(4, 5, 6), True),
        "lanes filled (64x64x64)": (r(2, 64, 64), r(2, 64, 64), True),
        "lanes idle (37x256x20)": (r(2, 37, 256), r(2, 256, 20), False),
        "bfloat16": (r(4, 3, 5).bfloat16(), r(4, 5, 2).bfloat16(), True),
        "bfloat16 16x16x16": (r(2, 16, 16).bfloat16(), r(2, 16, 16).bfloat16(),
                              _patch._bf16_kernels()),  # (AVX512_BF16: bmmgen's own kernels)
        "float16": (r(4, 3, 5).half(), r(4, 5, 2).half(), True),
        "int": (r(4, 3, 5).int(), r(4, 5, 2).int(), False),
        "empty": (r(4, 0, 5), r(4, 5, 2), False),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_bmm_and_matmul_routed(case, routed):
    a, b, expected = _cases()[case]
    # without the compiled path, a call small enough that the Python path's cost shows is torch's
    expected = expected and (_ops._NATIVE_BMM is not None or _patch._work(a, b) >= _patch.WORK_MADDS
                             or a.dtype == torch.float16)
    want = ORIGINAL["bmm"](a, b) if a.dtype != torch.float16 else \
        ORIGINAL["bmm"](a.double(), b.double()).half()  # torch 1.13: no CPU kernel for float16
    with bmmgen.patch_torch():
        got = torch.bmm(a, b)
        assert (len(routed) > 0) == expected, routed
        got_mm = torch.matmul(a, b)
    tol = {"rtol": 1e-5, "atol": 1e-5} if a.dtype == torch.float32 else {}
    torch.testing.assert_close(got, want, **tol)
    torch.testing.assert_close(got_mm, want, **tol)


def test_autograd_out_and_torch_only_shapes(routed):
    a, b = torch.randn(4, 3, 5), torch.randn(4, 5, 2)
    x, y = a.clone().requires_grad_(), b.clone().requires_grad_()
    with bmmgen.patch_torch():
        torch.bmm(x, y).square().sum().backward()
        assert routed  # autograd through bmmgen's operators
        out = torch.empty(4, 3, 2)
        assert torch.bmm(a, b, out=out) is out  # (the compiled path, where it is built)
        routed.clear()
        two_d = torch.matmul(a[0], b[0])                       # 2-D: torch's
        bcast = torch.matmul(a[:1], torch.randn(6, 5, 2))      # broadcast batch: torch's
        assert not routed
        with pytest.raises(RuntimeError):
            torch.bmm(a, torch.randn(4, 4, 2))  # torch's own error for torch's own call
    gx, gy = x.grad, y.grad
    x.grad = y.grad = None
    ORIGINAL["bmm"](x, y).square().sum().backward()
    torch.testing.assert_close(gx, x.grad)
    torch.testing.assert_close(gy, y.grad)
    torch.testing.assert_close(out, ORIGINAL["bmm"](a, b))
    assert two_d.shape == (3, 2) and bcast.shape == (6, 3, 2)


def test_baddbmm(routed):
    a, b = torch.randn(64, 16, 16), torch.randn(64, 16, 16)  # past WORK_MADDS
    c = torch.randn(16, 1)
    want = ORIGINAL["baddbmm"](c, a, b, beta=0.5, alpha=2.0)
    small = ORIGINAL["baddbmm"](c[:3], a[:, :3, :3], b[:, :3, :1])
    with bmmgen.patch_torch():
        torch.testing.assert_close(torch.baddbmm(c, a, b, beta=0.5, alpha=2.0), want,
                                   rtol=1e-5, atol=1e-5)
        assert routed
        routed.clear()
        torch.testing.assert_close(torch.baddbmm(c[:3], a[:, :3, :3], b[:, :3, :1]), small)
        with pytest.raises(RuntimeError):
            torch.baddbmm(torch.ones(3, 7, 7), a, b)  # does not broadcast: torch's error
    assert _restored()
