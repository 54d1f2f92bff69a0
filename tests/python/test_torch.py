"""bmmgen on torch tensors, against torch.bmm and torch.baddbmm: shapes with and without
specialized kernels, every layout a model hands over (contiguous, seq-first x.transpose(0, 1),
transposed, expanded, sliced, empty batch, size-1 dimensions with odd strides), alpha/beta,
float32/float64; torch.ops.bmmgen with autograd (gradcheck, gradgradcheck in float64); the
errors torch users meet (dtype, device, ranks, sizes, out), nothing written."""
import pytest
import torch

import bmmgen

DTYPES = [torch.float32, torch.float64]
# default-spec shapes (specialized kernels) and shapes it has none for (shape-generic kernels)
SHAPES = [(2, 2, 2), (4, 4, 4), (8, 8, 8), (13, 13, 13), (32, 64, 1), (1, 32, 64), (5, 7, 3),
          (7, 9, 11), (23, 64, 1), (1, 23, 64), (6, 1, 3), (1, 1, 1)]


def tol(dt):
    return dict(rtol=1e-5, atol=1e-5) if dt == torch.float32 else dict(rtol=1e-12, atol=1e-12)


def make(shape, dt, layout, seed):
    """A (batch, rows, cols) tensor in one of the layouts, values from seed."""
    g = torch.Generator().manual_seed(seed)
    batch, rows, cols = shape
    if layout == "contiguous":
        return torch.randn(batch, rows, cols, generator=g, dtype=dt)
    if layout == "seq-first":       # (rows, batch, cols) storage, as an RNN returns it
        return torch.randn(rows, batch, cols, generator=g, dtype=dt).transpose(0, 1)
    if layout == "transposed":      # the other matrix order, seen through .transpose(1, 2)
        return torch.randn(batch, cols, rows, generator=g, dtype=dt).transpose(1, 2)
    if layout == "expanded":        # one matrix for the whole batch: batch stride 0
        return torch.randn(1, rows, cols, generator=g, dtype=dt).expand(batch, rows, cols)
    if layout == "sliced":          # every other row and column of a bigger tensor
        return torch.randn(batch, 2 * rows, 2 * cols + 1, generator=g, dtype=dt)[:, ::2, 1::2]
    raise ValueError(layout)


LAYOUTS = ["contiguous", "seq-first", "transposed", "expanded", "sliced"]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_bmm_every_layout(dt, shape):
    n, m, p = shape
    for i, la in enumerate(LAYOUTS):
        lb = LAYOUTS[(i + 2) % len(LAYOUTS)]
        a, b = make((5, n, m), dt, la, 1), make((5, m, p), dt, lb, 2)
        got = bmmgen.bmm(a, b)
        assert got.dtype == dt and got.shape == (5, n, p) and got.is_contiguous()
        torch.testing.assert_close(got, torch.bmm(a, b), **tol(dt))
        torch.testing.assert_close(torch.ops.bmmgen.bmm(a, b), torch.bmm(a, b), **tol(dt))


def expected(c, a, b, beta, alpha):
    """torch.baddbmm, except at beta == 0: torch 1.13's baddbmm then reads its own
    uninitialized result buffer on some paths (NaN from old memory shows up in about one call
    in three with 4x4x4 f32), where the documented result is alpha a b."""
    if beta == 0:
        return torch.bmm(a, b) * alpha
    return torch.baddbmm(c, a, b, beta=beta, alpha=alpha)


def test_beta_zero_never_reads_c():
    """What expected() works around in torch: bmmgen never reads C at beta == 0, neither a new
    result (on memory the allocator may hand back NaN-filled) nor a NaN-filled out."""
    a, b = torch.randn(6, 4, 4), torch.randn(6, 4, 4)
    for _ in range(200):
        junk = torch.full((6, 4, 4), float("nan"))
        del junk                      # the allocator hands this memory to the next tensor
        got = bmmgen.baddbmm(torch.randn(6, 4, 4), a, b, beta=0, alpha=3)
        assert not torch.isnan(got).any()
        torch.testing.assert_close(got, 3 * torch.bmm(a, b))
    out = torch.full((6, 4, 4), float("nan"))  # and deterministically: a NaN-filled out
    bmmgen.baddbmm(torch.randn(6, 4, 4), a, b, beta=0, alpha=3, out=out)
    torch.testing.assert_close(out, 3 * torch.bmm(a, b))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4, 4), (5, 7, 3), (10, 256, 1), (7, 9, 11)])
@pytest.mark.parametrize("scalars", [(1, 0), (1, 1), (0.5, -2), (0, 3), (2, 0)])
def test_baddbmm(dt, shape, scalars):
    beta, alpha = scalars
    n, m, p = shape
    a, b = make((6, n, m), dt, "seq-first", 3), make((6, m, p), dt, "transposed", 4)
    for c in (make((6, n, p), dt, "contiguous", 5), make((1, n, 1), dt, "contiguous", 6)):
        keep = c.clone()
        want = expected(c, a, b, beta, alpha)
        torch.testing.assert_close(bmmgen.baddbmm(c, a, b, beta=beta, alpha=alpha), want, **tol(dt))
        torch.testing.assert_close(torch.ops.bmmgen.baddbmm(c, a, b, beta=beta, alpha=alpha),
                                   want, **tol(dt))
        assert torch.equal(c, keep)
    # into a seq-first out view, in place
    c = make((6, n, p), dt, "seq-first", 7)
    want = expected(c, a, b, beta, alpha)
    assert bmmgen.baddbmm(c, a, b, beta=beta, alpha=alpha, out=c) is c
    torch.testing.assert_close(c, want, **tol(dt))


def test_empty_and_odd_strides():
    e = torch.empty(0, 3, 4)
    assert bmmgen.bmm(e, torch.empty(0, 4, 2)).shape == (0, 3, 2)
    assert torch.ops.bmmgen.bmm(torch.empty(2, 0, 4), torch.empty(2, 4, 3)).shape == (2, 0, 3)
    torch.testing.assert_close(bmmgen.bmm(torch.empty(2, 3, 0), torch.empty(2, 0, 4)),
                               torch.zeros(2, 3, 4))
    # size-1 dimensions with strides that address nothing (as unsqueeze and as_strided make)
    base = torch.randn(64, dtype=torch.float64)
    a = base.as_strided((4, 1, 8), (8, 12345, 1))
    b = base.as_strided((4, 8, 1), (0, 1, -7 % 64 + 1000))
    torch.testing.assert_close(bmmgen.bmm(a, b), torch.bmm(a, b))
    # a dot product per item: B x S x h times B x h x 1, dec a transposed 1-row view
    enc, dec = torch.randn(64, 37, 256), torch.randn(64, 1, 256)
    torch.testing.assert_close(bmmgen.bmm(enc, dec.transpose(1, 2)),
                               torch.bmm(enc, dec.transpose(1, 2)), rtol=1e-4, atol=1e-4)


def test_beta_zero_ignores_nan():
    a, b = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(3, 5, 2, dtype=torch.float64)
    c = torch.full((3, 4, 2), float("nan"), dtype=torch.float64)
    torch.testing.assert_close(bmmgen.baddbmm(c, a, b, beta=0), torch.bmm(a, b))


def test_out():
    a, b = torch.randn(3, 4, 5), torch.randn(3, 5, 2)
    out = torch.empty(3, 2, 4).transpose(1, 2)
    assert bmmgen.bmm(a, b, out=out) is out
    torch.testing.assert_close(out, torch.bmm(a, b))


@pytest.mark.parametrize("op", ["bmmgen.bmm", "torch.ops.bmmgen.bmm"])
def test_gradcheck_bmm(op):
    fn = bmmgen.bmm if op == "bmmgen.bmm" else torch.ops.bmmgen.bmm
    g = torch.Generator().manual_seed(9)
    a = torch.randn(3, 5, 4, 2, dtype=torch.float64, generator=g)[:, :, 1, :].transpose(1, 2)
    a = a.detach().requires_grad_()   # a strided (non-contiguous) leaf
    b = torch.randn(3, 5, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (a, b))
    assert torch.autograd.gradgradcheck(fn, (a, b))
    # one input needing no gradient; an expanded input (its gradient sums over the batch)
    w = torch.randn(1, 5, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: fn(a.detach(), x.expand(3, 5, 3)), (w,))


@pytest.mark.parametrize("op", ["bmmgen.baddbmm", "torch.ops.bmmgen.baddbmm"])
def test_gradcheck_baddbmm(op):
    fn = bmmgen.baddbmm if op == "bmmgen.baddbmm" else torch.ops.bmmgen.baddbmm
    g = torch.Generator().manual_seed(10)
    c = torch.randn(1, 4, 1, dtype=torch.float64, generator=g, requires_grad=True)
    a = torch.randn(3, 4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(3, 5, 2, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, a, b: fn(c, a, b, beta=0.5, alpha=-1.5), (c, a, b))
    assert torch.autograd.gradgradcheck(lambda c, a, b: fn(c, a, b, beta=2, alpha=3), (c, a, b))


def test_training_step_matches_torch():
    """The attention step's gradients through bmmgen equal torch's."""
    g = torch.Generator().manual_seed(11)
    enc0 = torch.randn(23, 8, 16, generator=g)            # seq-first, as an RNN returns it
    dec0 = torch.randn(1, 8, 16, generator=g)
    grads = []
    for bmm in (torch.bmm, bmmgen.bmm):
        enc = enc0.clone().requires_grad_()
        dec = dec0.clone().requires_grad_()
        e, d = enc.transpose(0, 1), dec.transpose(0, 1)
        w = torch.softmax(bmm(e, d.transpose(1, 2)), dim=1)
        ctx = bmm(w.transpose(1, 2), e)
        ctx.square().sum().backward()
        grads.append((enc.grad, dec.grad))
    for x, y in zip(*grads):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seq_first", [False, True])
def test_attention_over_steps_views(seq_first):
    """Attention over T decoder steps at once (teacher forcing, as it is trained), forward and
    backward through bmmgen.bmm, equals torch; its six products take the views torch hands
    over (a transposed B in the scores and in one backward product, a transposed A in the
    context and in another) and, where the CPU has vector kernels, none of them runs the
    portable any-stride ones (the transposed operand is read in place by kernels of its order,
    copied to row-major, or the product's transpose runs)."""
    B, S, T, h = 6, 13, 5, 24
    g = torch.Generator().manual_seed(5)
    enc0 = torch.randn(S, B, h, generator=g) if seq_first else torch.randn(B, S, h, generator=g)
    dec0 = torch.randn(B, T, h, generator=g)
    results = []
    for bmm in (torch.bmm, bmmgen.bmm):
        enc = enc0.clone().requires_grad_()
        dec = dec0.clone().requires_grad_()
        e = enc.transpose(0, 1) if seq_first else enc
        w = torch.softmax(bmm(e, dec.transpose(1, 2)), dim=1)       # B x S x T
        ctx = bmm(w.transpose(1, 2), e)                                # B x T x h
        ctx.square().sum().backward()
        results.append((ctx.detach(), enc.grad, dec.grad))
    for x, y in zip(*results):  # f32 sums of up to 24 terms, in another order than torch's
        torch.testing.assert_close(y, x, rtol=1e-4, atol=1e-4)
    e = enc0.transpose(0, 1) if seq_first else enc0
    w = torch.softmax(torch.bmm(e, dec0.transpose(1, 2)), dim=1)
    gs, gc = torch.randn(B, S, T, generator=g), torch.randn(B, T, h, generator=g)
    products = [(e, dec0.transpose(1, 2)), (w.transpose(1, 2), e),     # forward
                (gs, dec0), (e.transpose(1, 2), gs),                   # scores' gradients
                (gc, e.transpose(1, 2)), (w, gc)]                      # context's gradients
    layout = {k.name: k.layout for k in bmmgen.kernels()}
    vectors = any(k.runs_here and k.isa != "c99" for k in bmmgen.kernels())
    says = []
    for a, b in products:
        torch.testing.assert_close(bmmgen.bmm(a, b), torch.bmm(a, b), rtol=1e-4, atol=1e-4)
        plan = bmmgen.Plan(a, b)
        says.append(plan.operands)
        if vectors:
            assert layout.get(plan.kernel) not in ("any", None), (a.stride(), b.stride(),
                                                                  plan.kernel)
    # where vectors run, the scores read dec^T in place (the gnt form: dot products along
    # h = 24 cost less than copying dec^T for the rows forms) and the context w^T (kernels of
    # order tn); portable C copies both
    assert says[:3] == ["as given" if vectors else "B copied", "as given" if vectors else "A copied",
                        "as given"], says


def errors():
    f, d = torch.ones(2, 3, 4), torch.ones(2, 4, 5)
    return [
        (lambda: bmmgen.bmm(torch.ones(3, 4), d), ValueError, "3-D"),
        (lambda: bmmgen.bmm(f, torch.ones(3, 4, 5)), ValueError, "same number"),
        (lambda: bmmgen.bmm(f, torch.ones(2, 3, 5)), ValueError, "columns"),
        (lambda: bmmgen.bmm(f, d.double()), TypeError, "same dtype"),
        (lambda: bmmgen.bmm(f.short(), d.short()), TypeError,
         "torch.float32, torch.float64, torch.bfloat16, torch.float16"),
        (lambda: bmmgen.bmm(f.int(), d.int()), TypeError, "supported"),
        (lambda: bmmgen.bmm(f.to("meta"), d.to("meta")), TypeError, "on the CPU"),
        (lambda: bmmgen.bmm(f.to_sparse(), d), TypeError, "strided"),
        (lambda: bmmgen.bmm(f, d.numpy()), TypeError, "torch tensor"),
        (lambda: bmmgen.bmm(f, d, out=torch.empty(2, 3, 4)), ValueError, "shape"),
        (lambda: bmmgen.bmm(f, d, out=torch.empty(2, 3, 5, dtype=torch.float64)), TypeError,
         "dtype"),
        (lambda: bmmgen.bmm(f, d, out=torch.empty(2, 3, 5, requires_grad=True)), RuntimeError,
         "automatic differentiation"),
        (lambda: bmmgen.baddbmm(torch.ones(3, 3, 5), f, d), ValueError, "broadcast"),
        (lambda: bmmgen.baddbmm(torch.ones(2, 3, 5).double(), f, d), TypeError, "dtype"),
        (lambda: torch.ops.bmmgen.bmm(f, torch.ones(2, 3, 5)), ValueError, "columns"),
    ]


def test_operators_on_meta_tensors():
    """Where the compiled path registers the operators (in C++), their Meta kernels give the
    result's shape and check the operands' (tracing and fx run on meta tensors); the
    torch.library fallback's Python body refuses meta tensors, as bmmgen.bmm does."""
    from bmmgen import _native
    f, d = torch.ones(2, 3, 4, device="meta"), torch.ones(2, 4, 5, device="meta")
    with pytest.raises(TypeError, match="on the CPU"):
        bmmgen.bmm(f, d)
    if _native.torch_path is None:
        with pytest.raises(TypeError, match="on the CPU"):
            torch.ops.bmmgen.bmm(f, d)
        return
    r = torch.ops.bmmgen.bmm(f, d)
    assert r.device.type == "meta" and r.shape == (2, 3, 5) and r.dtype == f.dtype
    r = torch.ops.bmmgen.baddbmm(torch.ones(1, 5, device="meta"), f, d, beta=2.0)
    assert r.device.type == "meta" and r.shape == (2, 3, 5)
    with pytest.raises(RuntimeError, match="rows"):
        torch.ops.bmmgen.bmm(f, f)
    with pytest.raises(RuntimeError, match="broadcast"):
        torch.ops.bmmgen.baddbmm(torch.ones(3, 5, 5, device="meta"), f, d)


@pytest.mark.parametrize("case", range(len(errors())))
def test_errors(case):
    fn, kind, words = errors()[case]
    with pytest.raises(kind, match=words):
        fn()


def test_out_overlapping_an_input_writes_nothing():
    buf = torch.randn(2, 3, 6)
    keep = buf.clone()
    b = torch.randn(2, 3, 3)
    with pytest.raises(ValueError, match="overlaps a"):
        bmmgen.baddbmm(torch.ones(2, 3, 3), buf[:, :, :3], b, out=buf[:, :, 1:4])
    with pytest.raises(bmmgen.Error, match="C overlaps A"):
        bmmgen.bmm(buf[:, :, :3], b, out=buf[:, :, 1:4])
    with pytest.raises(bmmgen.Error, match="overlaps itself"):
        bmmgen.bmm(b, b, out=torch.zeros(1, 3, 3).expand(2, 3, 3))
    assert torch.equal(buf, keep)
