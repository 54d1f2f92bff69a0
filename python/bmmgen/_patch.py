"""_patch.py: bmmgen.patch_torch, which sends torch.bmm, torch.baddbmm and 3-D torch.matmul to
bmmgen where bmmgen is expected to win, and everything else to torch's own functions.

Expected to win (_wins): float16 tensors (torch 1.13 has no CPU kernel for them); bfloat16
ones on a CPU with AVX512_BF16 (bmmgen's own bf16 kernels: on one Zen 5 core 1.4-4x torch.bmm's
oneDNN bfloat16, 64^3 included), and elsewhere those whose matrices are small, at most
BF16_MADDS multiply-adds (bmmgen runs them on its f32 kernels, converted: on one Zen 4 core
4x4x4 15x torch.bmm's oneDNN bfloat16, 8x8x8 2.5x, 13x13x13 1.4x, but 16x16x16 0.89x and 64^3
0.48x, where oneDNN's bf16 dot products win); plain
CPU float32/float64 tensors whose matrices are small (at most
SMALL_MADDS multiply-adds: unrolled kernels, where torch.bmm's per-matrix GEMM calls cost most,
1.9-14x torch on one Zen 4 core) or whose rows of C fill at least 3/4 of the vectors' lanes
(larger products run the looped kernels at their lanes' rate: on one Zen 4 core, 37x256x20
f32, 20 of 32 lanes, ran 0.70x torch.bmm and 64x32x17 0.95x; 20x256x37, 32x128x24, 64^3,
100x64x100 and 128^3 1.04-1.35x, in f32 and f64); and then through the compiled path
(whose call costs no more than torch's), with autograd (bmmgen's operators), or past
WORK_MADDS multiply-adds a call (the Python path's ~3 us then small). Anything else (other
dtypes or devices, broadcast batches of matmul, sizes of 0, out= with autograd, a traced call)
is torch's, unchanged."""
from . import _api, _ops, _plan

# the Python path (baddbmm; bmm without the compiled path): from this many multiply-adds a
# call its ~3 us are small against the kernels' gain (torch.bmm on 16x16x16 batch 4, exactly
# this many: 4.2 us, one Zen 4 core)
WORK_MADDS = 1 << 14
SMALL_MADDS = 1 << 15  # a matrix product this small runs unrolled or nearly
VECTOR_BYTES = 64      # AVX-512's vectors (AVX2's halve the idle lanes: a safe side)
BF16_MADDS = 3072      # bfloat16 matrices up to this many multiply-adds (13^3 wins, 16^3 not)


def _plain(x):
    """A tensor bmmgen takes as torch does: CPU, strided, a dtype it has, 3-D, no size 0."""
    return (type(x) is _ops._TENSOR and x.dim() == 3 and x.dtype in _ops._TORCH_DTYPES
            and x.device.type == "cpu" and x.layout == _ops._torch.strided and x.numel() > 0)


def _wants_grad(*xs):
    return _ops._torch.is_grad_enabled() and any(x.requires_grad for x in xs)


class patch_torch:
    """Sends torch.bmm, torch.baddbmm and torch.matmul of two 3-D tensors to bmmgen where it is
    expected to win (see _patch.py), else to torch. Applied when made; undone by .undo() or
    at the end of a `with` block (patches nest: each restores what it replaced).

        with bmmgen.patch_torch():
            model(x)              # its torch.bmm calls run bmmgen's kernels

        patch = bmmgen.patch_torch()
        ...
        patch.undo()
    """

    def __init__(self):
        torch = _ops._torch_module()
        self._torch = torch
        self._saved = {name: getattr(torch, name) for name in ("bmm", "baddbmm", "matmul")}
        bmm, baddbmm, matmul = (self._saved[n] for n in ("bmm", "baddbmm", "matmul"))

        def patched_bmm(input, mat2, *, out=None):
            res = _bmm(input, mat2, out)
            return res if res is not None else bmm(input, mat2, out=out)

        def patched_baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
            if out is None and _takes(batch1, batch2) and _work(batch1, batch2) >= WORK_MADDS \
                    and _wins(batch1, batch2) and _adds(input, batch1, batch2):
                return _api.baddbmm(input, batch1, batch2, beta=beta, alpha=alpha)
            return baddbmm(input, batch1, batch2, beta=beta, alpha=alpha, out=out)

        def patched_matmul(input, other, *, out=None):
            if getattr(input, "ndim", 0) == 3 and getattr(other, "ndim", 0) == 3 \
                    and input.shape[0] == other.shape[0]:  # (broadcast batches: torch's)
                res = _bmm(input, other, out)
                if res is not None:
                    return res
            return matmul(input, other, out=out)

        self._patched = {"bmm": patched_bmm, "baddbmm": patched_baddbmm, "matmul": patched_matmul}
        for name, fn in self._patched.items():
            fn.__name__, fn.__doc__ = name, self._saved[name].__doc__
            setattr(torch, name, fn)

    def undo(self):
        """Restores what this patch replaced (where nothing has replaced it since)."""
        for name, fn in self._patched.items():
            if getattr(self._torch, name) is fn:
                setattr(self._torch, name, self._saved[name])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.undo()
        return False


def _takes(a, b):
    """Plain operands of one product (bmmgen computes it as torch would), not under tracing."""
    return _plain(a) and _plain(b) and a.dtype == b.dtype and a.shape[0] == b.shape[0] \
        and a.shape[2] == b.shape[1] and not _ops._torch._C._get_tracing_state()


def _work(a, b):
    return a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]


_BF16_KERNELS = []  # [whether libbmm has bf16 kernels here], once asked


def _bf16_kernels():
    """libbmm runs bfloat16 on kernels of its own here (AVX512_BF16): a plan's kernel says."""
    if not _BF16_KERNELS:
        t = _ops._torch.empty((1, 64, 64), dtype=_ops._torch.bfloat16)
        _BF16_KERNELS.append("avx512bf16" in _plan.Plan(t, t).kernel)
    return _BF16_KERNELS[0]


def _wins(a, b):
    """bmmgen's kernels are expected to beat torch's on this product (the module's rule)."""
    n, m, p = a.shape[1], a.shape[2], b.shape[2]
    if a.element_size() == 2:  # float16: torch has no CPU kernel; bfloat16: see above
        return a.dtype == _ops._torch.float16 or n * m * p <= BF16_MADDS or _bf16_kernels()
    if n * m * p <= SMALL_MADDS:
        return True
    w = VECTOR_BYTES // a.element_size()
    return 4 * p >= 3 * (-(-p // w) * w)


def _adds(c, a, b):
    """baddbmm's input: a CPU tensor of the operands' dtype that broadcasts to the product."""
    if type(c) is not _ops._TENSOR or c.dtype != a.dtype or c.device.type != "cpu" \
            or c.layout != _ops._torch.strided or c.dim() > 3:
        return False
    shape = (a.shape[0], a.shape[1], b.shape[2])
    return all(x in (1, y) for x, y in zip(reversed(c.shape), reversed(shape)))


def _bmm(a, b, out):
    """bmmgen's bmm where it is expected to win, else None."""
    if not _takes(a, b) or not _wins(a, b):
        return None
    if _ops._NATIVE_BMM is not None:
        res = _ops._NATIVE_BMM(a, b, out)
        if res is not None:
            return res
        slow = False  # left to Python by the compiled path: autograd, or an odd tensor
    else:
        slow = True   # the Python path's ~3 us a call
    if out is None and (_wants_grad(a, b) or slow and _work(a, b) >= WORK_MADDS
                        or a.dtype == _ops._torch.float16):
        return _api.bmm(a, b)  # (with autograd: through bmmgen's operators)
    return None
