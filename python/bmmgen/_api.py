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
    torch tensor out (CPU; float32, float64, bfloat16 or float16; autograd works). `out`, when
    given, receives the result (same shape and dtype, writable, not overlapping a or b) and is
    returned; for bfloat16 and float16 inputs it may be float32 (the sum rounded once, to
    float32, as autocast's products: no autograd then, as for any out)."""
    if type(a) is np.ndarray:  # the common cases first: every Python call costs ~0.1 us
        return _ops.bmm_checked("numpy", a, b, out)
    if type(a) is _ops._TENSOR:
        if _ops._NATIVE_BMM is not None:  # the compiled path takes the plain calls
            res = _ops._NATIVE_BMM(a, b, out)
            if res is not None:
                return res
        if _ops._torch._C._get_tracing_state():
            return _traced("bmm", out, a, b)
        if _ops._torch.is_grad_enabled() and (a.requires_grad or getattr(b, "requires_grad", False)):
            return _torch_ops().bmm(a, b, out)
        try:
            return _ops.bmm_checked("torch", a, b, out)
        except RuntimeError as e:
            return _unwrapped(e, "bmm", out, a, b)
    if _ops._kind(a) == "torch":
        return _torch_ops().bmm(a, b, out)
    return _ops.bmm_checked("numpy", a, b, out)


def _traced(op, out, *args, **kw):
    """Under torch.jit.trace: the operator, which the trace records (a direct call would
    record only what it allocates, and replay garbage)."""
    if out is not None:
        raise RuntimeError("bmmgen.%s: out= cannot be traced by torch.jit.trace; call it "
                           "without out" % op)
    _torch_ops()
    return getattr(_ops._torch.ops.bmmgen, op)(*args, **kw)


def _unwrapped(e, op, out, *args, **kw):
    """Tensors without storage (functorch's vmap and grad wrappers): through the operator,
    which functorch runs one matrix batch at a time; anything else is raised as it was."""
    if "storage" not in str(e) or str(e).startswith("bmmgen") or out is not None:
        raise e
    _torch_ops()
    return getattr(_ops._torch.ops.bmmgen, op)(*args, **kw)


def baddbmm(c, a, b, *, beta=1, alpha=1, out=None):
    """beta c + alpha a @ b, torch.baddbmm's semantics: c broadcasts to (batch, n, p) and is not
    modified (pass out=c to update it in place); beta == 0 ignores c's values, NaN and Inf
    included (its shape must still broadcast); alpha == 0 still lets NaN and Inf of a @ b
    through, as torch does (the C library, as BLAS, reads neither a nor b then). A float32 c
    (and out) of bfloat16 or float16 a and b gives a float32 result, accumulated in float32
    (autocast's mixed product; without autograd)."""
    kind = _ops._kind(a)
    alpha, beta = _ops._scalar(alpha, "alpha"), _ops._scalar(beta, "beta")
    if kind == "torch":
        if not isinstance(c, _ops._torch.Tensor):
            raise TypeError("bmmgen: c is %s; with torch inputs every operand must be a torch "
                            "tensor" % type(c).__name__)
        mixed = _c_dtype(c, a, _ops._TORCH_DTYPES)
        if mixed and _ops._torch.is_grad_enabled() and any(
                getattr(x, "requires_grad", False) for x in (a, b, c)):
            raise RuntimeError("bmmgen.baddbmm: a float32 c of %s a and b has no autograd "
                               "(torch.no_grad(), or c of a's dtype)" % a.dtype)
        if _ops._torch._C._get_tracing_state():
            return _traced("baddbmm", out, c, a, b, beta=beta, alpha=alpha)
        if out is None and not mixed:
            try:
                return _torch_ops().baddbmm(c, a, b, beta, alpha)
            except RuntimeError as e:
                return _unwrapped(e, "baddbmm", out, c, a, b, beta=beta, alpha=alpha)
    elif not isinstance(c, np.ndarray):
        raise TypeError("bmmgen: c is %s; with NumPy inputs every operand must be a NumPy "
                        "array" % type(c).__name__)
    else:
        _c_dtype(c, a, _ops._NP_DTYPES)
    return _ops._gemm(kind, a, b, c, out, alpha, beta, ("a", "b"))


def _c_dtype(c, a, codes):
    """Whether c is a float32 of 16-bit a (the result is float32 then), by _ops.c_flags' rule
    (codes: the kind's dtype -> bmm_dtype); a TypeError unless that or c has a's dtype."""
    if c.dtype == a.dtype:
        return False
    return _ops.c_flags(codes.get(a.dtype), codes.get(c.dtype), "bmmgen", "c") != 0
