"""_torch_ops.py: the torch side. Registers torch.ops.bmmgen.bmm and torch.ops.bmmgen.baddbmm
with torch.library (torch 1.13 and later), and their autograd rule: for C = alpha A B + beta C0,

    dA = alpha dC B^T,   dB = alpha A^T dC,   dC0 = beta dC (summed over what C0 broadcast),

two batched products on transposed views, computed by bmmgen too (so double backward works).
Imported by bmmgen when torch is there, or at the first tensor it sees."""
import torch

from . import _native, _ops

_ops._torch_module()

_NAMES_BMM = ("self", "mat2")
_NAMES_BADDBMM = ("batch1", "batch2")


def _bmm_nograd(a, b):
    return _ops.torch_bmm(a, b, None, _NAMES_BMM)


def _baddbmm_nograd(c, a, b, beta, alpha):
    return _ops._gemm("torch", a, b, c, None, float(alpha), float(beta), _NAMES_BADDBMM)


def _product_grads(ctx, g, a, b, alpha):
    ga = gb = None
    if ctx.needs_input_grad[-2]:
        ga = _scaled(g, b.transpose(1, 2), alpha)
    if ctx.needs_input_grad[-1]:
        gb = _scaled(a.transpose(1, 2), g, alpha)
    return ga, gb


def _scaled(x, y, alpha):
    if alpha == 1:
        return bmm(x, y)
    return baddbmm(x.new_zeros(()), x, y, 0.0, alpha)


class _Bmm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _bmm_nograd(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _product_grads(ctx, g, a, b, 1.0)


class _Baddbmm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c, a, b, beta, alpha):
        ctx.save_for_backward(a, b)
        ctx.beta, ctx.alpha, ctx.c_shape = beta, alpha, c.shape
        return _baddbmm_nograd(c, a, b, beta, alpha)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gc = None
        if ctx.needs_input_grad[0]:
            gc = (g * ctx.beta).sum_to_size(ctx.c_shape)
        ga, gb = _product_grads(_NeedsAB(ctx), g, a, b, ctx.alpha)
        return gc, ga, gb, None, None


class _NeedsAB:
    """ctx.needs_input_grad of (c, a, b, beta, alpha) seen as (..., a, b)."""
    def __init__(self, ctx):
        self.needs_input_grad = ctx.needs_input_grad[1:3]


def _wants_grad(*xs):
    return torch.is_grad_enabled() and any(getattr(x, "requires_grad", False) for x in xs)


def bmm(a, b, out=None):
    if _wants_grad(a, b):
        if out is not None:
            raise RuntimeError("bmmgen: bmm with out= does not support automatic "
                               "differentiation, and an input requires grad (as in torch)")
        return _Bmm.apply(a, b)
    return _ops.torch_bmm(a, b, out, _NAMES_BMM)


def baddbmm(c, a, b, beta, alpha):
    beta, alpha = float(beta), float(alpha)
    if _wants_grad(c, a, b):
        return _Baddbmm.apply(c, a, b, beta, alpha)
    return _baddbmm_nograd(c, a, b, beta, alpha)


def _register():
    """The operators, with torch.library where the compiled path (_native_torch.cpp, which
    registers them in C++ with a Meta kernel) is not there. CompositeExplicitAutograd: every
    backend reaches the Python body, which names what is supported (CPU strided float32,
    float64, bfloat16, float16) instead of the dispatcher's "no kernel"."""
    if _native.torch_path is not None:
        _native.torch_module.set_python(_bmm_nograd, _baddbmm_nograd)
        return None
    library = torch.library.Library("bmmgen", "DEF")
    library.define("bmm(Tensor self, Tensor mat2) -> Tensor")
    library.define("baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, "
                   "Scalar alpha=1) -> Tensor")
    library.impl("bmm", _bmm_nograd, "CompositeExplicitAutograd")
    library.impl("baddbmm", lambda c, a, b, beta=1, alpha=1: _baddbmm_nograd(c, a, b, beta, alpha),
                 "CompositeExplicitAutograd")
    library.impl("bmm", lambda a, b: _Bmm.apply(a, b), "Autograd")
    library.impl("baddbmm", lambda c, a, b, beta=1, alpha=1: _Baddbmm.apply(
        c, a, b, float(beta), float(alpha)), "Autograd")
    return library


_library = _register()  # kept: the registrations last as long as it does
