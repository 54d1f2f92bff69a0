"""bmmgen on 16-bit torch tensors (bfloat16, float16) and NumPy float16 arrays: products of the
exact 16-bit values rounded once, as torch.bmm rounds them; every layout a model hands over;
baddbmm's scalars; a float32 out (autocast's product); autograd through torch.ops.bmmgen;
float16 where torch.bmm has no CPU kernel at all (torch 1.13)."""
import numpy as np
import pytest
import torch

import bmmgen

HALF = [torch.bfloat16, torch.float16]
SHAPES = [(1, 1, 1), (4, 4, 4), (5, 7, 3), (13, 13, 13), (10, 64, 1), (1, 23, 64), (7, 9, 70)]
LAYOUTS = ["contiguous", "seq-first", "transposed", "expanded", "sliced"]


def make(shape, dt, layout, seed, ints=True):
    """A (batch, rows, cols) tensor in a layout: small integers (every sum exact in 16 bits),
    or normal values."""
    g = torch.Generator().manual_seed(seed)
    batch, rows, cols = shape
    dims = {"contiguous": (batch, rows, cols), "seq-first": (rows, batch, cols),
            "transposed": (batch, cols, rows), "expanded": (1, rows, cols),
            "sliced": (batch, 2 * rows, 2 * cols + 1)}[layout]
    x = torch.randint(-3, 4, dims, generator=g) if ints else torch.randn(*dims, generator=g)
    x = x.to(dt)
    if layout == "seq-first":
        return x.transpose(0, 1)
    if layout == "transposed":
        return x.transpose(1, 2)
    if layout == "expanded":
        return x.expand(batch, rows, cols)
    if layout == "sliced":
        return x[:, ::2, 1::2]
    return x


def rounded(a, b):
    """The product of the exact values, rounded once to the operands' dtype."""
    return torch.bmm(a.double(), b.double()).to(a.dtype)


@pytest.mark.parametrize("dt", HALF)
@pytest.mark.parametrize("shape", SHAPES)
def test_bmm_every_layout(dt, shape):
    n, m, p = shape
    for i, la in enumerate(LAYOUTS):
        lb = LAYOUTS[(i + 2) % len(LAYOUTS)]
        a, b = make((5, n, m), dt, la, 1), make((5, m, p), dt, lb, 2)
        got = bmmgen.bmm(a, b)
        assert got.dtype == dt and got.shape == (5, n, p) and got.is_contiguous()
        torch.testing.assert_close(got, rounded(a, b), rtol=0, atol=0)
        torch.testing.assert_close(torch.ops.bmmgen.bmm(a, b), rounded(a, b), rtol=0, atol=0)


@pytest.mark.parametrize("dt", HALF)
def test_rounded_once_like_torch(dt):
    """Normal values: the sum accumulated in float, rounded once (docs/semantics.md's bound:
    float's (m + 2) 2^-24 of sum |a b|, plus half an epsilon of the result); torch.bmm bfloat16
    does the same."""
    m = 70
    a, b = make((8, 9, m), dt, "contiguous", 3, False), make((8, m, 11), dt, "sliced", 4, False)
    got, exact = bmmgen.bmm(a, b), torch.bmm(a.double(), b.double())
    eps = 2.0 ** -7 if dt == torch.bfloat16 else 2.0 ** -10
    bound = exact.abs() * eps / 2 + (m + 2) * 2.0 ** -24 * torch.bmm(a.double().abs(),
                                                                      b.double().abs())
    assert bool(((got.double() - exact).abs() <= bound).all())
    if dt == torch.bfloat16:
        torch.testing.assert_close(got, torch.bmm(a, b), rtol=2 ** -7, atol=0)


@pytest.mark.parametrize("dt", HALF)
@pytest.mark.parametrize("scalars", [(1, 0), (1, 1), (0.5, -2), (0, 3), (2, 0)])
def test_baddbmm(dt, scalars):
    alpha, beta = scalars
    a, b = make((6, 5, 7), dt, "seq-first", 5), make((6, 7, 3), dt, "transposed", 6)
    c = make((6, 5, 3), dt, "contiguous", 7)
    got = bmmgen.baddbmm(c, a, b, alpha=alpha, beta=beta)
    want = (alpha * torch.bmm(a.double(), b.double()) + beta * c.double()).to(dt)
    torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("dt", HALF)
@pytest.mark.parametrize("shape", [(4, 4, 4), (13, 13, 13), (37, 256, 1), (7, 9, 70)])
def test_float32_out(dt, shape):
    """A float32 out of 16-bit a and b (autocast's product): the sum in float, rounded once to
    float32 (within float's (m + 2) 2^-24 of sum |a b|: a 16-bit rounding anywhere is 2^8 times
    that), through bmm's out=, baddbmm's float32 c (strided, and updated in place) and a
    Plan's out, whose calls stay float32."""
    n, m, p = shape
    a, b = make((6, n, m), dt, "seq-first", 11, False), make((6, m, p), dt, "transposed", 12, False)
    exact = torch.bmm(a.double(), b.double())
    bound = (m + 2) * 2.0 ** -24 * torch.bmm(a.double().abs(), b.double().abs()) + 1e-30

    def close(got, want):
        assert got.dtype == torch.float32
        assert bool(((got.double() - want).abs() <= bound + want.abs() * 2.0 ** -24).all())

    out = torch.full((6, n, p), float("nan"))
    assert bmmgen.bmm(a, b, out=out) is out
    close(out, exact)
    c = make((6, n, p), torch.float32, "sliced", 13, False)
    close(bmmgen.baddbmm(c, a, b, beta=0.5, alpha=-2), 0.5 * c.double() - 2 * exact)
    c0 = c.clone()
    bmmgen.baddbmm(c, a, b, beta=0.25, out=c)
    close(c, 0.25 * c0.double() + exact)
    plan = bmmgen.Plan(a, b, torch.empty(6, n, p))
    for _ in range(2):  # (the second call: the path of a call seen before)
        out = torch.full((6, n, p), float("nan"))
        assert plan(a, b, out) is out
        close(out, exact)
    with pytest.raises(ValueError, match="float32"):
        plan(a, b, torch.empty(6, n, p, dtype=dt))
    nothing = torch.full((6, n, p), 5.0)
    with pytest.raises(TypeError, match="out's dtype"):
        bmmgen.bmm(a, b, out=nothing.double())
    with pytest.raises(TypeError, match="float32"):
        bmmgen.baddbmm(nothing.double(), a, b)
    with pytest.raises(RuntimeError, match="autograd"):
        bmmgen.baddbmm(nothing, a.clone().requires_grad_(), b)
    with pytest.raises(TypeError, match="out's dtype"):
        bmmgen.bmm(a.float(), b.float(), out=torch.empty(6, n, p, dtype=dt))  # not the reverse


def test_numpy_float16_float32_out():
    rng = np.random.default_rng(14)
    a = rng.standard_normal((5, 9, 70)).astype(np.float16)
    b = rng.standard_normal((5, 3, 70)).astype(np.float16).transpose(0, 2, 1)
    exact = np.matmul(a.astype(np.float64), b.astype(np.float64))
    bound = 72 * 2.0 ** -24 * np.matmul(abs(a.astype(np.float64)), abs(b.astype(np.float64)))
    for _ in range(2):
        out = np.full((5, 9, 3), np.nan, np.float32)
        assert bmmgen.bmm(a, b, out=out) is out
        assert (abs(out - exact) <= bound + abs(exact) * 2.0 ** -24).all()
    got = bmmgen.baddbmm(np.ones((9, 3), np.float32), a, b, beta=2)
    assert got.dtype == np.float32 and (abs(got - (exact + 2)) <= bound + 2.0 ** -20).all()
    out = np.full((5, 9, 3), np.nan, np.float32)
    assert bmmgen.Plan(a, b, out)(a, b, out) is out
    assert (abs(out - exact) <= bound + abs(exact) * 2.0 ** -24).all()


@pytest.mark.parametrize("dt", HALF)
def test_autograd(dt):
    """Gradients through torch.ops.bmmgen equal the exact ones rounded (small integers)."""
    a0, b0 = make((4, 6, 5), dt, "contiguous", 8), make((4, 5, 3), dt, "seq-first", 9)
    c0 = make((4, 6, 3), dt, "contiguous", 10)
    grads = []
    for x_dt in (dt, torch.float64):
        a, b, c = (x.detach().to(x_dt).clone().requires_grad_() for x in (a0, b0, c0))
        fn = bmmgen.baddbmm if x_dt == dt else torch.baddbmm
        (fn(c, a, b, beta=0.5, alpha=2) * c0.to(x_dt)).sum().backward()
        grads.append([t.grad for t in (a, b, c)])
    for got, want in zip(*grads):
        assert got.dtype == dt
        torch.testing.assert_close(got, want.to(dt), rtol=0, atol=0)


def test_float16_where_torch_has_no_kernel():
    a, b = make((3, 4, 5), torch.float16, "contiguous", 11), make((3, 5, 2), torch.float16,
                                                                  "contiguous", 12)
    with pytest.raises(RuntimeError):
        torch.bmm(a, b)  # torch 1.13: "addmm_impl_cpu_" not implemented for 'Half'
    with bmmgen.patch_torch():
        got = torch.bmm(a, b)
    torch.testing.assert_close(got, rounded(a, b), rtol=0, atol=0)


def test_numpy_float16_special_values():
    """NaN and infinity in A reach C as IEEE says; an overflow is infinity; beta = 0 never
    reads C; the products of subnormals are rounded once."""
    a = np.array([[[np.nan, 1.0], [np.inf, 1.0], [60000.0, 60000.0], [2.0 ** -24, 2.0 ** -24]]],
                 np.float16)
    b = np.array([[[1.0], [1.0]]], np.float16)
    out = np.full((1, 4, 1), np.nan, np.float16)
    got = bmmgen.bmm(a, b, out=out)[0, :, 0]
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == np.inf and got[3] == 2.0 ** -23
    half = np.array([[[0.5]]], np.float16)
    tiny = np.array([[[2.0 ** -24], [3 * 2.0 ** -24]]], np.float16)
    got = bmmgen.bmm(tiny, half)[0, :, 0]  # ties of one rounding: to even
    assert got[0] == 0.0 and got[1] == 2.0 ** -23
