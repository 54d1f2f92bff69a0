"""_plan.py: plans (choose a kernel once, run it many times), wisdom and the kernel listing."""
import collections
import ctypes
import os

from . import _lib, _native, _ops
from ._vocab import DTYPES, FORMS, ISAS, LAYOUTS, ORDERS, SCALARS

_ORDER_BITS = max(ORDERS)  # every needs bit an order sets


def _free_strides(shape, strides):
    """Strides with those of extent-1 dimensions blanked: they address nothing, so a plan made
    for one such view serves any other."""
    return tuple(s if e != 1 else None for e, s in zip(shape, strides))


class Plan:
    """A plan for products shaped, typed and strided like a (batch, n, m), b (batch, m, p) and
    out (batch, n, p) (None: a new contiguous array per call), with alpha and beta fixed.

    measure=True times the candidate kernels on this machine first (BMM_MEASURE) and records
    the winner in wisdom; wisdom_only=True fails (bmmgen.Error, BMM_EUNSUPPORTED) without
    wisdom for the problem; generic_only=True always runs the scalar reference path.
    generate=True makes specialized kernels for a shape that has none (BMM_GENERATE: generated,
    compiled by the machine's C compiler and cached in BMM_CACHE_DIR, ~/.cache/bmmgen by
    default; a failure leaves the shape-generic kernels), waiting for the compiler;
    generate="async" (BMM_GENERATE_ASYNC) returns at once on the shape-generic kernels and
    generates in a background thread: a later call switches to the specialized kernels once
    they are loaded and verified (plan.kernel names the one in use now). The operands' data
    are not read or written while planning.

    plan(a, b, out=None) computes out = alpha a b + beta out and returns out; the operands must
    have the planned shapes, dtype and strides (ValueError otherwise). beta != 0 needs out. For
    bfloat16 and float16 a and b, out may be float32 (BMM_C_F32: rounded once, to float32).
    plan.kernel names the chosen kernel ("generic" for the reference path); plan.operands says
    how it reads the operands: "as given", "transposed" (it runs C^T = B^T A^T, row-major),
    "A copied", "B copied" or "A and B copied" (to row-major, for the vector kernels; after
    "transposed, " when both); for 16-bit dtypes "A, B and C converted to f32" (the f32 kernels
    on converted copies), or for bf16's and f16's own kernels what they pair, widen or copy
    ("B paired along k (AVX512_BF16)", "as given (AVX512_BF16 pairs)", "A widened (AVX-512
    f16)" and the like). No autograd: use bmmgen.bmm for that. A plan may be called from
    several threads at once. threads=N runs it on at most N threads over the batch (default:
    bmmgen.get_num_threads() when planned); plan.threads says how many it gets (fewer where the
    work is small; results are the same bits on any number). copy.copy, copy.deepcopy and
    pickle give a plan of its own, planned again for the same request (modules holding plans
    survive deepcopy and torch.save/load)."""

    def __init__(self, a, b, out=None, *, alpha=1.0, beta=0.0, measure=False, wisdom_only=False,
                 generic_only=False, threads=None, generate=False):
        self._handle = None
        self._kind = _ops._kind(a)
        A = _ops._operand(a, self._kind, "a")
        B = _ops._operand(b, self._kind, "b")
        batch, n, m, p = _ops._sizes(A, B)
        self._alpha, self._beta = _ops._scalar(alpha, "alpha"), _ops._scalar(beta, "beta")
        shape = (batch, n, p)
        c_flag = 0  # _lib.C_F32: a float32 out of 16-bit inputs
        if out is None:
            if self._beta != 0:
                raise ValueError("bmmgen.Plan: beta != 0 reads C: give out")
            sc = (n * p, p, 1)
        else:
            C = _ops._operand(out, self._kind, "out", True)
            if C[_ops.SHAPE] != shape:
                raise ValueError("bmmgen.Plan: out has shape %s, the product has %s"
                                 % (tuple(C[_ops.SHAPE]), shape))
            c_flag = _ops.c_flags(A[_ops.DT], C[_ops.DT], "bmmgen.Plan")
            sc = C[_ops.STRIDES]
        if not (batch and n and p and m):
            raise ValueError("bmmgen.Plan: every size must be at least 1, got batch %d, n %d, "
                             "m %d, p %d (bmmgen.bmm takes empty operands)" % (batch, n, m, p))
        self._dt, self._out_dtype = A[_ops.DT], A[_ops.OBJ].dtype  # not a: a plan keeps no array
        self._cdt = C[_ops.DT] if out is not None else self._dt
        self._want = [(tuple(A[_ops.SHAPE]), _free_strides(A[_ops.SHAPE], A[_ops.STRIDES])),
                      (tuple(B[_ops.SHAPE]), _free_strides(B[_ops.SHAPE], B[_ops.STRIDES])),
                      (shape, _free_strides(shape, sc))]
        self._fresh_out = out is None
        self._shape = self.out_shape = shape
        self._seen = set()  # signatures (ops._signature) of calls that passed every check
        if generate not in (False, True, "sync", "async"):
            raise ValueError('bmmgen.Plan: generate must be False, True, "sync" or "async", '
                             'got %r' % (generate,))
        flags = (c_flag | (_lib.MEASURE if measure else 0) | (_lib.WISDOM_ONLY if wisdom_only else 0)
                 | (_lib.GENERIC_ONLY if generic_only else 0)
                 | (_lib.GENERATE_ASYNC if generate == "async" else _lib.GENERATE if generate
                    else 0))
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) \
                    or not 1 <= threads <= _lib.THREADS_MAX:
                raise ValueError("bmmgen.Plan: threads must be an int in [1, %d], got %r"
                                 % (_lib.THREADS_MAX, threads))
            flags |= threads << _lib.THREADS_SHIFT
        self.shape = (batch, n, m, p)
        self._made = (A[_ops.DT], batch, n, m, p, tuple(A[_ops.STRIDES]), tuple(B[_ops.STRIDES]),
                      tuple(sc), self._alpha, self._beta, flags)
        self._create()

    def _create(self):
        """The native plan of self._made (what the library was asked for)."""
        dt, batch, n, m, p, sa, sb, sc, alpha, beta, flags = self._made
        handle = ctypes.c_void_p()
        _lib.check(_lib.plan_create(ctypes.byref(handle), dt, batch, n, m, p, _lib.Stride(*sa),
                                    _lib.Stride(*sb), _lib.Stride(*sc), alpha, beta, flags))
        self._handle = handle.value
        self.operands = _lib.plan_operands(self._handle).decode()
        self.threads = _lib.plan_threads(self._handle)
        self._fast = None  # the compiled call, where there is one
        shapes = [w[0] for w in self._want]
        strides = [tuple(0 if s is None else s for s in w[1]) for w in self._want]
        if self._kind == "torch" and _native.Planned is not None:  # (loaded with torch)
            self._fast = _native.Planned(self._handle, dt, shapes, strides, self._fresh_out,
                                         self._cdt)
        elif self._kind == "numpy" and _native.BufferPlanned is not None and DTYPES[dt][0] in (
                "f32", "f64", "f16") and self._cdt == dt:  # (a float32 out: the Python way)
            self._fast = _native.BufferPlanned(self._handle, dt, shapes[0], strides[0], shapes[1],
                                               strides[1], shapes[2], strides[2], self._fresh_out)

    # Copies and pickles never share the native plan (each would free it): a copy, or a plan
    # unpickled (in this process or another), is planned again from the same request; wisdom
    # answers a measured one at once where this process or its wisdom file has it.
    def __getstate__(self):
        if self._handle is None:
            raise ValueError("bmmgen.Plan: the plan was closed")
        return {k: v for k, v in self.__dict__.items() if k not in ("_handle", "_seen", "_fast")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_cdt", self._dt)  # (pickled before out could be float32)
        self._handle, self._seen = None, set()
        self._create()

    def __copy__(self):
        new = object.__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new

    def __deepcopy__(self, memo):
        return self.__copy__()

    def _matches(self, op, i, name):
        shape, strides = self._want[i]
        dt = self._cdt if i == 2 else self._dt
        if op[_ops.DT] != dt or tuple(op[_ops.SHAPE]) != shape \
                or _free_strides(op[_ops.SHAPE], op[_ops.STRIDES]) != strides:
            raise ValueError("bmmgen.Plan: %s is %s %s with strides %s; the plan is for %s %s "
                             "with strides %s" % (name, _dtype_name(op[_ops.DT]),
                                                  tuple(op[_ops.SHAPE]), tuple(op[_ops.STRIDES]),
                                                  _dtype_name(dt), shape, strides))
        return op[_ops.PTR]

    def __call__(self, a, b, out=None):
        fast = self._fast
        if fast is not None:  # None: closed, or no compiled path for these operands
            res = fast(a, b, out)
            if res is not None:
                return res
        if self._handle is None:
            raise ValueError("bmmgen.Plan: the plan was closed")
        kind = self._kind
        sig = _ops._signature(kind, a, b, out)
        if sig is not None and sig in self._seen:  # operands like ones checked before
            res = _ops._run_seen(kind, self, a, b, out)
            if res is not None:
                return res
        A = _ops._operand(a, kind, "a")
        B = _ops._operand(b, kind, "b")
        if out is None:
            if not self._fresh_out:
                raise ValueError("bmmgen.Plan: this plan was made for a given out; pass one")
            out = _ops._empty(kind, self._shape, self._out_dtype)
        C = _ops._operand(out, kind, "out", True)
        pa, pb, pc = self._matches(A, 0, "a"), self._matches(B, 1, "b"), self._matches(C, 2, "out")
        _lib.check(_lib.execute(self._handle, pa, pb, pc))
        if sig is not None and len(self._seen) < 64 and A[_ops.OBJ] is a and B[_ops.OBJ] is b:
            self._seen.add(sig)
        return out

    @property
    def kernel(self):
        """The kernel in use now ("generic": the reference path); with generate="async" it
        changes once the class's own kernels are loaded."""
        if self._handle is None:
            raise ValueError("bmmgen.Plan: the plan was closed")
        return _lib.plan_kernel(self._handle).decode()

    @property
    def handle(self):  # what _ops._run_seen executes
        return self._handle

    def close(self):
        """Frees the plan now (else when the object goes). Not while another thread is inside a
        call of this plan: that call would run a freed plan."""
        handle, self._handle, self._fast = self._handle, None, None
        if handle:
            _lib.plan_destroy(handle)

    def __del__(self):
        if _lib is not None and getattr(self, "_handle", None):
            self.close()

    def __repr__(self):
        return "bmmgen.Plan(%s, batch=%d, n=%d, m=%d, p=%d, kernel=%r)" % (
            (_dtype_name(self._dt),) + self.shape
            + (self.kernel if self._handle is not None else "(closed)",))


def _dtype_name(dt):
    return DTYPES[dt][2] or DTYPES[dt][3] or DTYPES[dt][0]  # NumPy name, else torch's, else the word


def _path(path):
    return os.fsencode(os.fspath(path))


def import_wisdom(path):
    """Adds the wisdom in a file (bmm-tune's or export_wisdom's); returns (imported, skipped):
    the entries taken, and those passed over because they name kernels this process does not
    have (another program's own). A file made on another CPU, corrupt or truncated is refused
    whole (bmmgen.Error, BMM_EFORMAT, saying why) and the wisdom in memory is kept."""
    imported, skipped = ctypes.c_int64(0), ctypes.c_int64(0)
    _lib.check(_lib.wisdom_import(_path(path), ctypes.byref(imported),
                                  ctypes.byref(skipped)))
    return imported.value, skipped.value


def import_system_wisdom():
    """Imports the machine's wisdom file again ($BMM_SYSTEM_WISDOM, else
    <sysconfdir>/bmmgen/wisdom; the library imports it at its first call). bmmgen.Error
    (BMM_EIO) when there is none."""
    _lib.check(_lib.wisdom_import_system())


def export_wisdom(path):
    """Writes all wisdom to a file, atomically (a reader sees the old file or the new, whole)."""
    _lib.check(_lib.wisdom_export(_path(path)))


def set_num_threads(n):
    """Threads over the batch for calls and plans made from now on (0: back to BMM_NUM_THREADS,
    else OpenMP's default). One thread where libbmm was built without OpenMP."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("bmmgen.set_num_threads: n must be an int, got %r" % (n,))
    _lib.check(_lib.set_num_threads(n))


def get_num_threads():
    """The threads a call asks for now (bmmgen.set_num_threads, BMM_NUM_THREADS, OpenMP)."""
    return _lib.get_num_threads()


def forget_wisdom():
    """Forgets all wisdom and every cached choice of the one-shot calls."""
    _lib.wisdom_forget()


def clear_cache():
    """Deletes every kernel generated on demand (Plan(generate=True)) from the cache directory;
    kernels already loaded stay loaded."""
    _lib.check(_lib.cache_clear())


Kernel = collections.namedtuple(
    "Kernel", "name dtype n m p layout isa form scalars runs_here order")
Kernel.__doc__ = """A kernel of the table: n, m, p are None where read at run time
(shape-generic); layout, isa, form, scalars and order ("nn", or "tn", "nt", "tt": A, B or both
read in place as transposed views) are words of _vocab.py; runs_here: this CPU (and
BMM_ARCH) admit its ISA."""



def kernels():
    """Every kernel libbmm holds (the built-in table, then registered ones), as Kernel tuples."""
    out, i = [], 0
    while True:
        k = _lib.kernel_at(i)
        if not k:
            return out
        d = k.contents
        out.append(Kernel(d.name.decode(), _dtype_name(d.dtype), d.n or None, d.m or None,
                          d.p or None, LAYOUTS.get(d.layout, str(d.layout)),
                          ISAS.get(d.isa, str(d.isa)), FORMS.get(d.form, str(d.form)),
                          SCALARS.get(d.scalars, str(d.scalars)), bool(_lib.kernel_runs_here(k)),
                          ORDERS[d.needs & _ORDER_BITS]))
        i += 1
