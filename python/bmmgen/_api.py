"""_api.py: bmmgen.bmm and bmmgen.baddbmm, the entry points. Above both _ops (the products on
NumPy arrays and tensors) and _torch_ops (autograd and the torch operators, which call _ops):
a call that needs autograd goes to _torch_ops, every other to _ops. Neither imports this."""
import numpy as np

from . import _ops


def _torch_ops():
    """The torch side (operators, autograd), imported with torch."""
    from . import _torch_ops as ops  # imports torch: only when a tensor needs it
    return ops


def bmm(a, b, out=None):
    """a @ b for a batch of matrices: a (batch, n, m), b (batch, m, p) -> (batch, n, p).

    torch.bmm's semantics and checks. NumPy arrays in, a NumPy array out; torch tensors in, a
    torch tensor out (CPU, float32 or float64; autograd works). `out`, when given, receives the
    result (same shape and dtype, writable, not overlapping a or b) and is returned."""
    if type(a) is np.ndarray:  # the common cases first: every Python call costs ~0.1 us
        kind = "numpy"
    elif type(a) is _ops._TENSOR:
        if _ops._torch.is_grad_enabled() and (a.requires_grad or getattr(b, "requires_grad", False)):
            return _torch_ops().bmm(a, b, out)
        kind = "torch"
    elif _ops._kind(a) == "torch":
        return _torch_ops().bmm(a, b, out)
    else:
        kind = "numpy"
    return _ops.bmm_checked(kind, a, b, out)


def baddbmm(c, a, b, *, beta=1, alpha=1, out=None):
    """beta c + alpha a @ b, torch.baddbmm's semantics: c broadcasts to (batch, n, p) and is not
    modified (pass out=c to update it in place); beta == 0 ignores c, NaN and Inf included."""
    kind = _ops._kind(a)
    alpha, beta = _ops._scalar(alpha, "alpha"), _ops._scalar(beta, "beta")
    if kind == "torch":
        if not isinstance(c, _ops._torch.Tensor):
            raise TypeError("bmmgen: c is %s; with torch inputs every operand must be a torch "
                            "tensor" % type(c).__name__)
        if c.dtype != a.dtype:
            raise TypeError("bmmgen: c has dtype %s, a has %s" % (c.dtype, a.dtype))
        if out is None:
            return _torch_ops().baddbmm(c, a, b, beta, alpha)
    elif not isinstance(c, np.ndarray):
        raise TypeError("bmmgen: c is %s; with NumPy inputs every operand must be a NumPy "
                        "array" % type(c).__name__)
    elif c.dtype != a.dtype:
        raise TypeError("bmmgen: c has dtype %s, a has %s" % (c.dtype, a.dtype))
    return _ops._gemm(kind, a, b, c, out, alpha, beta, ("a", "b"))
