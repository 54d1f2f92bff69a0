"""What a Python user may do to bmmgen's objects and tensors without crashing the interpreter,
reading outside a tensor's storage or getting a silently wrong result: copies and pickles of
plans, resized storages, negated views, torch's beta/alpha rules, tracing, scripting, vmap."""
import copy
import io
import pickle
import warnings

import numpy as np
import pytest
import torch

import bmmgen


def _ab(dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(4, 3, 5, generator=g, dtype=dtype),
            torch.randn(4, 5, 2, generator=g, dtype=dtype))


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_plan_copies_are_their_own(how, kind):
    a, b = _ab()
    if kind == "numpy":
        a, b = a.numpy(), b.numpy()
    plan = bmmgen.Plan(a, b, threads=1)
    other = {"copy": copy.copy, "deepcopy": copy.deepcopy,
             "pickle": lambda p: pickle.loads(pickle.dumps(p))}[how](plan)
    assert other.handle != plan.handle and other.kernel == plan.kernel
    assert other.shape == plan.shape and other.threads == plan.threads
    want = np.matmul(np.asarray(a), np.asarray(b))
    plan.close()  # the copy's native plan is not the closed one
    np.testing.assert_allclose(np.asarray(other(a, b)), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="closed"):
        copy.copy(plan)
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(plan)


class _Holder(torch.nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.plan = bmmgen.Plan(a, b)
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, a, b):
        return self.plan(a, b) * self.w


def test_module_holding_a_plan_survives_deepcopy_and_save():
    a, b = _ab()
    m = _Holder(a, b)
    ema = copy.deepcopy(m)
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    loaded = torch.load(buf)
    del m
    for x in (ema, loaded):
        torch.testing.assert_close(x(a, b), torch.bmm(a, b) * 1.0)


@pytest.mark.parametrize("which", ["a", "b", "out"])
def test_storage_smaller_than_the_view_raises_and_writes_nothing(which):
    a, b = _ab()
    out = torch.full((4, 3, 2), 7.0)
    victim = {"a": a, "b": b, "out": out}[which]
    victim.storage().resize_(3)  # as FSDP frees a parameter's storage under its views
    with pytest.raises(RuntimeError, match="out of bounds"):
        bmmgen.bmm(a, b, out=out if which == "out" else None)
    if which != "out":
        assert torch.equal(out, torch.full((4, 3, 2), 7.0))
        with pytest.raises(RuntimeError, match="out of bounds"):
            bmmgen.bmm(a, b, out=out)  # the seen-call path checks it too
        with pytest.raises(RuntimeError, match="out of bounds"):
            bmmgen.baddbmm(torch.zeros(4, 3, 2), a, b)


def test_storage_resized_after_a_call_is_seen():
    a, b = _ab()
    bmmgen.bmm(a, b)  # cached as a seen call
    a.storage().resize_(6)
    with pytest.raises(RuntimeError, match="out of bounds"):
        bmmgen.bmm(a, b)


def test_negated_views():
    a, b = _ab()
    z = torch.complex(a, -a)
    neg = z.conj().imag  # neg bit set: its memory holds -a
    assert neg.is_neg()
    torch.testing.assert_close(bmmgen.bmm(neg, b), torch.bmm(a, b))
    torch.testing.assert_close(bmmgen.baddbmm(torch.zeros(4, 3, 2), neg, b, alpha=2.0),
                               2 * torch.bmm(a, b))
    oz = torch.zeros(4, 3, 2, dtype=torch.complex64)
    with pytest.raises(ValueError, match="negated view"):
        bmmgen.bmm(a, b, out=oz.conj().imag)
    assert torch.equal(oz, torch.zeros_like(oz))


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_beta_zero_still_checks_c_shape(kind):
    a, b = _ab()
    c = torch.full((7, 7, 7), float("nan"))
    if kind == "numpy":
        a, b, c = a.numpy(), b.numpy(), c.numpy()
    with pytest.raises(ValueError, match="does not broadcast"):
        bmmgen.baddbmm(c, a, b, beta=0)
    with pytest.raises(RuntimeError):
        torch.baddbmm(torch.as_tensor(c), torch.as_tensor(a), torch.as_tensor(b), beta=0)
    ok = c[:1, :1, :1]  # broadcasts: ignored, NaN and all
    np.testing.assert_allclose(np.asarray(bmmgen.baddbmm(ok, a, b, beta=0)),
                               np.matmul(np.asarray(a), np.asarray(b)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.filterwarnings("error")  # no RuntimeWarning from NumPy's 0 * inf either
def test_alpha_zero_propagates_nan_as_torch(kind):
    a, b = _ab()
    a[1, 2, 3] = float("nan")
    b[2, 0, 1] = float("inf")
    c = torch.ones(4, 3, 2)
    want = torch.baddbmm(c, a, b, alpha=0, beta=0.5)
    if kind == "numpy":
        a, b, c = a.numpy(), b.numpy(), c.numpy()
    got = torch.as_tensor(bmmgen.baddbmm(c, a, b, alpha=0, beta=0.5))
    assert torch.equal(got.isnan(), want.isnan()) and got.isnan().any()
    torch.testing.assert_close(got, want, equal_nan=True)


def test_jit_trace_records_the_operator():
    a, b = _ab()
    c = torch.zeros(4, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = torch.jit.trace(lambda x, y: bmmgen.bmm(x, y), (a, b))
        g = torch.jit.trace(lambda x, y: bmmgen.baddbmm(c, x, y, alpha=2.0), (a, b))
    assert "bmmgen::bmm" in str(f.graph) and "bmmgen::baddbmm" in str(g.graph)
    a2, b2 = _ab(seed=1)
    torch.testing.assert_close(f(a2, b2), torch.bmm(a2, b2))
    torch.testing.assert_close(g(a2, b2), 2 * torch.bmm(a2, b2))
    buf = io.BytesIO()
    torch.jit.save(f, buf)
    buf.seek(0)
    torch.testing.assert_close(torch.jit.load(buf)(a2, b2), torch.bmm(a2, b2))
    with pytest.raises(RuntimeError, match="cannot be traced"):
        torch.jit.trace(lambda x, y: bmmgen.bmm(x, y, out=torch.empty(4, 3, 2)), (a, b))


def _scripted(x, y):
    return torch.ops.bmmgen.bmm(x, y)


def test_jit_script_and_vmap():
    a, b = _ab()
    torch.testing.assert_close(torch.jit.script(_scripted)(a, b), torch.bmm(a, b))
    from functorch import vmap
    x, y = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 5, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.testing.assert_close(vmap(bmmgen.bmm)(x, y), torch.matmul(x, y))
