"""_native.py: the compiled call paths, where the build made them: next to the libbmm.so that
_lib.py loaded (a build tree, or the installed package), built for this Python. Each is bound
to that same libbmm, so the process has one library, and each is a fast path: it returns None
for a call it leaves to the Python path (_ops.py), which checks, raises and copies as before.

    buffer_bmm(a, b, out)      NumPy arrays (_native_buffer.c, the buffer protocol;
    BufferPlanned(...)(a, b, out)  a Plan's calls on arrays)
    torch_bmm(a, b, out)       torch tensors (_native_torch.cpp, against torch's headers;
    Planned(...)(a, b, out)    a Plan's calls on tensors; torch.ops.bmmgen in C++)
                               -- after load_torch()

None where the module is not there. BMMGEN_NO_NATIVE=1 leaves every call to Python."""
import ctypes
import glob
import importlib.machinery
import importlib.util
import os

import numpy as np

from . import _lib


def _module(name):
    """The extension module `name` beside libbmm.so or this package, loaded; None if absent."""
    if os.environ.get("BMMGEN_NO_NATIVE", "") not in ("", "0"):
        return None
    dirs = {os.path.dirname(os.path.abspath(__file__))}
    if os.sep in _lib.path:
        dirs.add(os.path.dirname(os.path.realpath(_lib.path)))
    found = [f for d in sorted(dirs) for s in importlib.machinery.EXTENSION_SUFFIXES
             for f in glob.glob(os.path.join(d, name + s))]
    if not found:
        return None
    full = "bmmgen." + name
    loader = importlib.machinery.ExtensionFileLoader(full, found[0])
    module = importlib.util.module_from_spec(
        importlib.util.spec_from_file_location(full, found[0], loader=loader))
    loader.exec_module(module)  # an ImportError (built for another Python or torch) propagates
    return module


def _addr(name):
    return ctypes.cast(getattr(_lib.lib, name), ctypes.c_void_p).value


_buffer = _module("_native_buffer")
if _buffer is not None:
    _buffer.bind(_addr("bmm_sgemm_strided"), _addr("bmm_dgemm_strided"),
                 _addr("bmm_hgemm_strided"), _addr("bmm_shgemm_strided"), _addr("bmm_execute"),
                 np.empty, np.ndarray)
buffer_bmm = _buffer.bmm if _buffer is not None else None
BufferPlanned = _buffer.Planned if _buffer is not None else None  # a Plan's calls on arrays

torch_module = torch_path = torch_bmm = Planned = None


def load_torch():
    """The tensor path, once torch is imported (the module links torch's libraries; loading it
    registers torch.ops.bmmgen in C++, whose Python bodies _torch_ops.py sets)."""
    global torch_module, torch_path, torch_bmm, Planned
    module = _module("_native_torch")
    if module is not None:
        module.bind(_addr("bmm_sgemm_strided"), _addr("bmm_dgemm_strided"),
                    _addr("bmm_bf16gemm_strided"), _addr("bmm_hgemm_strided"),
                    _addr("bmm_sbgemm_strided"), _addr("bmm_shgemm_strided"), _addr("bmm_execute"))
        torch_module, torch_path, torch_bmm, Planned = (module, module.__file__, module.bmm,
                                                        module.Planned)
