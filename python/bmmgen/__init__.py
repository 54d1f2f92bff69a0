"""bmmgen: batched small matrix products, C_i = alpha A_i B_i + beta C_i, on NumPy arrays and
torch tensors, through libbmm's generated kernels (ctypes; no compile step).

    bmmgen.bmm(a, b, out=None)                       torch.bmm
    bmmgen.baddbmm(c, a, b, *, beta=1, alpha=1, out=None)   torch.baddbmm
    bmmgen.Plan(a, b, out=None, *, alpha, beta, measure, threads, generate)   plan once, call many times
    bmmgen.import_wisdom(path), export_wisdom(path), forget_wisdom(), import_system_wisdom()
    bmmgen.clear_cache()                             kernels generated on demand (generate=True)
    bmmgen.kernels()                                 the kernel table
    torch.ops.bmmgen.bmm, torch.ops.bmmgen.baddbmm   torch operators, with autograd
    bmmgen.patch_torch()                             torch.bmm/baddbmm/matmul to bmmgen where it wins

Operands keep their strides (transposed, seq-first, expanded, sliced views are not copied).
Errors are exceptions: TypeError and ValueError for what Python checks, bmmgen.Error (with
.status and the library's message) for what libbmm refuses."""
import importlib.util
import os
import sys

from ._lib import Error, path as library_path
from ._api import baddbmm, bmm
from ._patch import patch_torch
from ._plan import (Plan, clear_cache, export_wisdom, forget_wisdom, get_num_threads,
                    import_system_wisdom, import_wisdom, kernels, set_num_threads)

__version__ = "0.1.0"
__all__ = ["bmm", "baddbmm", "patch_torch", "Plan", "Error", "import_wisdom", "import_system_wisdom", "export_wisdom", "forget_wisdom",
           "kernels", "library_path", "set_num_threads", "get_num_threads", "clear_cache"]

# torch.ops.bmmgen exists once bmmgen is imported wherever torch is installed (importing torch
# takes about a second; BMMGEN_NO_TORCH=1 skips it until a tensor is passed).
if "torch" in sys.modules or (os.environ.get("BMMGEN_NO_TORCH", "") in ("", "0")
                              and importlib.util.find_spec("torch") is not None):
    from . import _torch_ops  # noqa: F401  (registers the operators)
