"""_lib.py: finds libbmm, declares its C functions to ctypes, and turns a status into an
exception.

The library is looked for, in order: the path in $BMM_LIBRARY; the one `cmake --install`
put beside this package (its place relative to the package is written into _install.py);
libbmm.so inside the package directory; a build tree of the source checkout the package sits
in (build*/libbmm.so); the system's linker path. Calls through ctypes.CDLL release the GIL."""
import ctypes
import ctypes.util
import glob
import os

_HERE = os.path.dirname(os.path.abspath(__file__))

ESTIMATE, MEASURE, WISDOM_ONLY, GENERIC_ONLY, GENERATE, GENERATE_ASYNC = 0, 1, 2, 4, 8, 16  # plan flags
C_F32 = 32  # BMM_C_F32: a float32 C of 16-bit A and B
THREADS_SHIFT, THREADS_MAX = 16, 1024  # BMM_THREADS(n) = n << 16
STATUS_NAMES = ("BMM_OK", "BMM_EINVAL", "BMM_EOVERLAP", "BMM_ENOMEM", "BMM_EUNSUPPORTED",
                "BMM_EIO", "BMM_EFORMAT")


class Error(RuntimeError):
    """A call into libbmm failed. status: the bmm_status value; status_name: its name
    ("BMM_EINVAL", ...); message: bmm_last_error(), which names the argument and the rule."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        self.message = message
        super().__init__("%s: %s" % (self.status_name, message))


class Stride(ctypes.Structure):
    _fields_ = [("batch", ctypes.c_int64), ("row", ctypes.c_int64), ("col", ctypes.c_int64)]


class KernelDesc(ctypes.Structure):
    """bmm_kernel.h's bmm_kernel_desc, up to the fields a listing reads."""
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("n", ctypes.c_int32),
                ("m", ctypes.c_int32), ("p", ctypes.c_int32), ("layout", ctypes.c_int),
                ("isa", ctypes.c_int), ("scalars", ctypes.c_int), ("form", ctypes.c_int),
                ("tile", ctypes.c_int32), ("vectors", ctypes.c_int32), ("lanes", ctypes.c_int32),
                ("prefetch", ctypes.c_int), ("needs", ctypes.c_uint)]


def _candidates():
    env = os.environ.get("BMM_LIBRARY")
    if env:
        return [env]  # named explicitly: that one or an error, never a silent other
    found = []
    try:
        from . import _install  # written by cmake --install
        found.append(os.path.normpath(os.path.join(_HERE, _install.LIBRARY)))
    except ImportError:
        pass
    found.append(os.path.join(_HERE, "libbmm.so"))
    root = os.path.dirname(os.path.dirname(_HERE))  # the checkout: python/bmmgen/..
    trees = sorted(glob.glob(os.path.join(root, "build*", "libbmm.so")),
                   key=lambda p: (os.path.basename(os.path.dirname(p)) != "build", p))
    found.extend(trees)
    system = ctypes.util.find_library("bmm")
    if system:
        found.append(system)
    return found


def _load():
    tried = []
    for path in _candidates():
        if not os.path.exists(path) and os.sep in path:
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("bmmgen: libbmm.so not found; set BMM_LIBRARY to its path, or build it "
                      "(cmake -S . -B build && cmake --build build). Tried: " + "; ".join(tried))


lib, path = _load()

_i64, _vp, _int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int


def _declare(name, restype, argtypes):
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = restype, argtypes
    return fn


plan_create = _declare("bmm_plan_create", _int,
                       [ctypes.POINTER(_vp), _int] + [_i64] * 4
                       + [Stride] * 3 + [ctypes.c_double, ctypes.c_double, ctypes.c_uint])
execute = _declare("bmm_execute", _int, [_vp, _vp, _vp, _vp])
plan_kernel = _declare("bmm_plan_kernel", ctypes.c_char_p, [_vp])
plan_operands = _declare("bmm_plan_operands", ctypes.c_char_p, [_vp])
plan_destroy = _declare("bmm_plan_destroy", None, [_vp])
last_error = _declare("bmm_last_error", ctypes.c_char_p, [])
wisdom_import = _declare("bmm_wisdom_import_file_counted", _int,
                         [ctypes.c_char_p, ctypes.POINTER(_i64), ctypes.POINTER(_i64)])
wisdom_import_system = _declare("bmm_import_system_wisdom", _int, [])
wisdom_export = _declare("bmm_wisdom_export_file", _int, [ctypes.c_char_p])
wisdom_forget = _declare("bmm_wisdom_forget", None, [])
cache_clear = _declare("bmm_cache_clear", _int, [])
generation = _declare("bmm_config_generation", ctypes.c_uint, [])
set_num_threads = _declare("bmm_set_num_threads", _int, [_int])
get_num_threads = _declare("bmm_get_num_threads", _int, [])
plan_threads = _declare("bmm_plan_threads", _int, [_vp])
kernel_at = _declare("bmm_kernel_at", ctypes.POINTER(KernelDesc), [_i64])
kernel_runs_here = _declare("bmm_kernel_runs_here", _int, [ctypes.POINTER(KernelDesc)])


def check(status):
    """Raises Error for a failing status, with bmm_last_error() of this thread."""
    if status:
        raise Error(status, last_error().decode("utf-8", "replace"))
