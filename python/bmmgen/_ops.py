"""_ops.py: the products over NumPy arrays and torch tensors (bmm_checked, _gemm, plans).

An operand goes to libbmm as it is: its data pointer and its strides in elements, whatever
they are (transposed, seq-first, expanded, sliced, reversed). Only what the library cannot
address is copied first: a NumPy array whose strides are not whole elements or whose data is
not aligned to its element size (views made through np.ndarray(buffer=..., offset=...) or
structured dtypes), or that is not in the machine's byte order. An `out` is never copied: one
the library cannot address is an error."""
import ctypes
import sys

import numpy as np

from . import _lib, _native
from ._vocab import DTYPES

_NP_DTYPES = {np.dtype(v[2]): code for code, v in DTYPES.items() if v[2]}
_SIZES = {code: v[1] for code, v in DTYPES.items()}
_torch = None          # the torch module, once a tensor has been seen
_TENSOR = None         # torch.Tensor, then
_STORAGE = None        # a tensor's untyped storage (torch 2: untyped_storage; 1.13: _storage)
_TORCH_DTYPES = {}     # torch.float32 -> F32, torch.float64 -> F64, ...
_NATIVE_BMM = None     # _native.torch_bmm, then (None: no compiled path)
_NAMES = ", ".join(v[2] for v in DTYPES.values() if v[2])  # supported, as messages say
_F32 = next(code for code, v in DTYPES.items() if v[0] == "f32")
_HALF = tuple(code for code, v in DTYPES.items() if v[1] == 2)  # bf16, f16


def _torch_module():
    global _torch, _TENSOR, _STORAGE, _NATIVE_BMM
    if _torch is None:
        import torch
        _native.load_torch()
        _NATIVE_BMM = _native.torch_bmm
        _TORCH_DTYPES.update({getattr(torch, v[3]): code for code, v in DTYPES.items() if v[3]})
        _STORAGE = getattr(torch.Tensor, "untyped_storage", None) or torch.Tensor._storage
        _torch, _TENSOR = torch, torch.Tensor
    return _torch


# An operand ready for the library is a plain tuple (this is on every call's path):
OBJ, DT, SHAPE, STRIDES, PTR = range(5)  # the object (kept alive), dtype code, shape,
                                         # element strides, data pointer


class _CachedPlan:
    """A plan kept for calls of one problem class, valid while the library's configuration
    generation is the one it was made under (no kernels registered, no wisdom imported,
    recorded or forgotten since). Dropped from the cache, it lives on while a call holds it."""
    __slots__ = ("handle", "gen", "out_shape")

    def __init__(self, key):
        dt, cdt, sa, sb, sc, batch, n, m, p, alpha, beta = key
        self.handle = None
        self.gen = _lib.generation()  # before choosing: a change meanwhile makes it stale
        self.out_shape = (batch, n, p)
        handle = ctypes.c_void_p()
        _lib.check(_lib.plan_create(ctypes.byref(handle), dt, batch, n, m, p, _lib.Stride(*sa),
                                    _lib.Stride(*sb), _lib.Stride(*sc), alpha, beta,
                                    c_flags(dt, cdt, "bmmgen")))
        self.handle = handle.value

    def __del__(self):
        if self.handle and _lib is not None:
            _lib.plan_destroy(self.handle)


_PLANS = {}  # problem class -> _CachedPlan; a ctypes call with 4 arguments instead of 12


def _plan_for(key):
    plan = _PLANS.get(key)
    if plan is None or plan.gen != _lib.generation():
        plan = _CachedPlan(key)
        if len(_PLANS) >= 1024:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def c_flags(dt, cdt, who, name="out"):
    """The plan flag of out's (or baddbmm's c's: name) dtype cdt with inputs of dtype dt: 0 (the
    same), C_F32 (float32 out of bfloat16 or float16 inputs: summed in float32 and rounded once,
    to float32); a TypeError naming who for any other pair (None: a dtype the library lacks)."""
    if cdt == dt and dt is not None:
        return 0
    if cdt == _F32 and dt in _HALF:
        return _lib.C_F32
    raise TypeError("%s: %s's dtype differs from the inputs' (it is theirs, or float32 for "
                    "bfloat16 and float16 inputs)" % (who, name))


def _kind(x):
    if isinstance(x, np.ndarray):
        return "numpy"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        _torch_module()
        return "torch"
    raise TypeError("bmmgen: operands must be NumPy arrays or torch tensors, not %s"
                    % type(x).__name__)


def _np_operand(x, name, writable):
    dt = _NP_DTYPES.get(x.dtype)
    if dt is None:
        native = x.dtype.newbyteorder("=") if x.dtype.byteorder not in "=|" else None
        if native in _NP_DTYPES and not writable:
            return _np_operand(x.astype(native), name, writable)  # byte-swapped: a copy
        raise TypeError("bmmgen: %s has dtype %s; supported: %s (native byte "
                        "order)" % (name, x.dtype, _NAMES))
    if x.ndim != 3:
        raise ValueError("bmmgen: %s must be 3-D (batch, rows, cols), has shape %s"
                         % (name, x.shape))
    if writable and not x.flags.writeable:
        raise ValueError("bmmgen: %s is read-only" % name)
    size = x.itemsize
    strides = x.strides
    ptr = x.ctypes.data if x.size else 0
    if (strides[0] % size or strides[1] % size or strides[2] % size or ptr % size):
        if writable:
            raise ValueError("bmmgen: %s's strides %s or address are not whole elements of "
                             "%d bytes; the library cannot write it in place" % (name, strides, size))
        return _np_operand(np.array(x, order="C"), name, writable)  # unaligned: a copy
    return (x, dt, x.shape, (strides[0] // size, strides[1] // size, strides[2] // size), ptr)


def _torch_operand(x, name, writable):
    dt = _TORCH_DTYPES.get(x.dtype)
    if dt is None:
        raise TypeError("bmmgen: %s has dtype %s; supported: %s"
                        % (name, x.dtype, ", ".join("torch." + v[3] for v in DTYPES.values()
                                                     if v[3])))
    if not x.is_cpu or x.layout is not _torch.strided:
        raise TypeError("bmmgen: %s is a %s tensor on %s; supported: strided tensors on the CPU"
                        % (name, x.layout, x.device))
    if x.dim() != 3:
        raise ValueError("bmmgen: %s must be 3-D (batch, rows, cols), has shape %s"
                         % (name, tuple(x.shape)))
    if writable and x.requires_grad and _torch.is_grad_enabled():
        raise RuntimeError("bmmgen: %s requires grad; an out= argument does not support "
                           "automatic differentiation (as in torch)" % name)
    if x.is_neg():  # a lazily negated view (z.conj().imag): its memory holds -x
        if writable:
            raise ValueError("bmmgen: %s is a negated view (its neg bit is set, as z.conj().imag "
                             "gives); write to a plain tensor and copy" % name)
        x = x.resolve_neg()
    _within_storage(x, name)
    return (x, dt, tuple(x.shape), x.stride(), x.data_ptr())


def _within_storage(x, name):
    """Raises unless every element of tensor x lies in its storage (a storage resized under
    a view, as FSDP does, would have the library read or write freed memory)."""
    shape, strides = x.shape, x.stride()
    if 0 in shape:
        return
    lo = hi = x.storage_offset()
    for extent, stride in zip(shape, strides):
        reach = (extent - 1) * stride
        lo, hi = (lo + reach, hi) if reach < 0 else (lo, hi + reach)
    size = x.element_size()
    have = _STORAGE(x).nbytes()
    if lo < 0 or (hi + 1) * size > have:
        raise RuntimeError("bmmgen: %s (shape %s, strides %s, storage offset %d) reaches "
                           "elements %d..%d of a storage of %d bytes: out of bounds"
                           % (name, tuple(shape), tuple(strides), x.storage_offset(), lo, hi,
                              have))


def _operand(x, kind, name, writable=False):
    if kind == "numpy":
        if not isinstance(x, np.ndarray):
            raise TypeError("bmmgen: %s is %s; with NumPy inputs every operand must be a NumPy "
                            "array" % (name, type(x).__name__))
        return _np_operand(x, name, writable)
    if not isinstance(x, _torch.Tensor):
        raise TypeError("bmmgen: %s is %s; with torch inputs every operand must be a torch "
                        "tensor" % (name, type(x).__name__))
    return _torch_operand(x, name, writable)


def _sizes(a, b, names=("a", "b")):
    """(batch, n, m, p) of a (batch, n, m) times b (batch, m, p), torch.bmm's rules."""
    batch, n, m = a[SHAPE]
    bb, bm, p = b[SHAPE]
    if bb != batch:
        raise ValueError("bmmgen: %s and %s must hold the same number of matrices: %d and %d"
                         % (names[0], names[1], batch, bb))
    if bm != m:
        raise ValueError("bmmgen: %s's columns (%d) must equal %s's rows (%d): %s %s times %s %s"
                         % (names[0], m, names[1], bm, names[0], tuple(a[SHAPE]), names[1],
                            tuple(b[SHAPE])))
    if a[DT] != b[DT]:
        raise TypeError("bmmgen: %s and %s must have the same dtype" % names)
    return batch, n, m, p


def _empty(kind, shape, dtype):
    """A new C-contiguous result of a NumPy or torch dtype."""
    return np.empty(shape, dtype) if kind == "numpy" else _torch.empty(shape, dtype=dtype)


def _span(op):
    """[lo, hi) bytes an operand covers (any sign of stride)."""
    lo = hi = op[PTR]
    size = _SIZES[op[DT]]
    for extent, stride in zip(op[SHAPE], op[STRIDES]):
        if extent == 0:
            return op[PTR], op[PTR]
        reach = (extent - 1) * stride * size
        lo, hi = (lo + reach, hi) if reach < 0 else (lo, hi + reach)
    return lo, hi + size


def _check_out(out, inputs):
    """Before out is written by anything (the copy of baddbmm's input), the library's rules for
    C: no two of its elements at one address, no overlap with an input."""
    shape, strides = out[SHAPE], out[STRIDES]
    if shape[0] * shape[1] * shape[2] == 0:
        return
    lo, hi = _span(out)
    for name, op in inputs:
        a_lo, a_hi = _span(op)
        if a_lo < hi and lo < a_hi:
            raise ValueError("bmmgen: out overlaps %s; write to separate memory" % name)
    reach = 1
    for stride, extent in sorted((abs(s), e) for e, s in zip(shape, strides) if e > 1):
        if stride < reach:
            raise ValueError("bmmgen: out's strides %s map two of its elements to one address"
                             % (tuple(strides),))
        reach = stride * extent


def _run(a, b, c, batch, n, m, p, alpha, beta):
    """C = alpha A B + beta C on prepared operands (n, m, p >= 1 here); returns the plan."""
    plan = _plan_for((a[DT], c[DT], a[STRIDES], b[STRIDES], c[STRIDES], batch, n, m, p, alpha,
                      beta))
    _lib.check(_lib.execute(plan.handle, a[PTR], b[PTR], c[PTR]))
    return plan


def _scale(out, beta):
    """out = beta out (m == 0: no product to add); beta 0 writes zeros, whatever out held."""
    if beta == 0:
        out[...] = 0
    elif beta != 1:
        out *= beta


def _gemm(kind, a, b, c_in, out, alpha, beta, names):
    """The body of bmm and baddbmm: out (a new array when None) = alpha a b + beta c_in."""
    return _gemm_plan(kind, a, b, c_in, out, alpha, beta, names)[0]


def _gemm_plan(kind, a0, b0, c_in, out, alpha, beta, names):
    """_gemm, the plan it ran (None when nothing was computed), and whether an input had to
    be copied first."""
    a = _operand(a0, kind, names[0])
    b = _operand(b0, kind, names[1])
    batch, n, m, p = _sizes(a, b, names[:2])
    shape = (batch, n, p)
    if out is None:  # of c_in's dtype: a float32 c of 16-bit a and b gives a float32 result
        out = _empty(kind, shape, a[OBJ].dtype if c_in is None else c_in.dtype)
        c = _operand(out, kind, "out", True)
    else:
        c = _operand(out, kind, "out", True)
        if tuple(c[SHAPE]) != shape:
            raise ValueError("bmmgen: out has shape %s, the product has %s"
                             % (tuple(c[SHAPE]), shape))
    c_flags(a[DT], c[DT], "bmmgen")
    if c_in is not None and beta == 0:  # ignored, but it must still broadcast (as in torch)
        _broadcasts(kind, c_in, shape)
    if c_in is None or beta == 0:
        beta = 0.0
    elif c_in is not out:  # out = c_in first; the library checks the rest, before writing
        _check_out(c, ((names[0], a), (names[1], b)))
        _copy_input(kind, out, c_in)
    plan = None
    if batch and n and p:
        if m == 0:
            _scale(out, beta)
        elif alpha == 0:  # torch's: alpha * (a @ b) is still computed, so NaN and Inf in it
            _scale(out, beta)  # reach the result (the library, as BLAS, reads neither)
            with np.errstate(invalid="ignore"):  # 0 * inf: NaN is the point
                out += 0 * _run_new(kind, a, b, batch, n, m, p)
        else:
            plan = _run(a, b, c, batch, n, m, p, alpha, beta)
    return out, plan, a[OBJ] is not a0 or b[OBJ] is not b0


def _run_new(kind, a, b, batch, n, m, p):
    """a @ b into a new array."""
    res = _empty(kind, (batch, n, p), a[OBJ].dtype)
    _run(a, b, _operand(res, kind, "out", True), batch, n, m, p, 1.0, 0.0)
    return res


def _broadcasts(kind, c_in, shape):
    try:
        to = (np.broadcast_shapes(c_in.shape, shape) if kind == "numpy"
              else tuple(_torch.broadcast_shapes(c_in.shape, shape)))
    except (ValueError, RuntimeError) as e:
        to = e
    if to != shape:
        raise ValueError("bmmgen: input of shape %s does not broadcast to the product's %s"
                         % (tuple(c_in.shape), shape))


def _copy_input(kind, res, c_in):
    try:
        if kind == "numpy":
            np.copyto(res, c_in)
        else:
            res.copy_(c_in)
    except (ValueError, RuntimeError) as e:
        raise ValueError("bmmgen: input of shape %s does not broadcast to the product's %s (%s)"
                         % (tuple(c_in.shape), tuple(res.shape), e)) from None


def _scalar(x, name):
    try:
        return float(x)
    except (TypeError, ValueError):
        raise TypeError("bmmgen: %s must be a real number, not %r" % (name, x)) from None


_SEEN = {}  # a bmm call's signature -> the plan that ran it, after every check passed


def _signature(kind, a, b, out):
    """What decides a bmm call's checks and plan (dtypes, shapes, strides; out's writability),
    or None when something about it needs the full checks."""
    try:
        if kind == "numpy":
            if type(b) is not np.ndarray:
                return None
            o = None if out is None else (out.dtype, out.shape, out.strides, out.flags.writeable)
            return (a.dtype, b.dtype, a.shape, b.shape, a.strides, b.strides, o)
        if out is not None and out.requires_grad:  # allowed or not by the grad mode: check
            return None
        st = _STORAGE  # where each operand lies in its storage, and how big that is now
        o = None if out is None else (out.dtype, out.shape, out.stride(), out.is_cpu,
                                      out.storage_offset(), st(out).nbytes(), out.is_neg())
        return (a.dtype, b.dtype, a.shape, b.shape, a.stride(), b.stride(), a.is_cpu, b.is_cpu, o,
                a.storage_offset(), st(a).nbytes(), a.is_neg(), b.storage_offset(),
                st(b).nbytes(), b.is_neg())
    except (AttributeError, RuntimeError, TypeError):  # not dense arrays or tensors
        return None


def _run_seen(kind, plan, a, b, out):
    """A call like one checked before: execute its plan (a _CachedPlan or a Plan: .handle and
    .out_shape, (batch, n, p)). None when the library refuses (an address not aligned, an out
    overlapping an input): the full path then says why, or copies."""
    if out is None:
        out = _empty(kind, plan.out_shape, a.dtype)
    if kind == "numpy":
        pa, pb, pc = a.ctypes.data, b.ctypes.data, out.ctypes.data
    else:
        pa, pb, pc = a.data_ptr(), b.data_ptr(), out.data_ptr()
    return out if _lib.execute(plan.handle, pa, pb, pc) == 0 else None


def bmm_checked(kind, a, b, out, names=("a", "b")):
    """bmm without autograd: the plan of a call seen before, else every check."""
    if kind == "numpy" and _native.buffer_bmm is not None:  # the compiled path's plain calls
        res = _native.buffer_bmm(a, b, out)
        if res is not None:
            return res
    sig = _signature(kind, a, b, out)
    plan = _SEEN.get(sig) if sig is not None else None
    if plan is not None and plan.gen == _lib.generation():
        res = _run_seen(kind, plan, a, b, out)
        if res is not None:
            return res
    res, plan, copied = _gemm_plan(kind, a, b, None, out, 1.0, 0.0, names)
    if plan is not None and sig is not None and not copied:
        if len(_SEEN) >= 1024:
            _SEEN.clear()
        _SEEN[sig] = plan
    return res


def torch_bmm(a, b, out, names=("a", "b")):
    """bmm_checked on tensors, through the compiled path where it takes the call (a plain one:
    _native.py)."""
    if _NATIVE_BMM is not None:
        res = _NATIVE_BMM(a, b, out)
        if res is not None:
            return res
    return bmm_checked("torch", a, b, out, names)
