"""setup.py: the part of `pip install .` that pyproject.toml cannot say: libbmm is built by
CMake (Release, the default spec's kernels, no tests or benchmark, -j the CPUs) in the build's
temporary folder and copied into the package as bmmgen/libbmm.so, where bmmgen/_lib.py looks
for it, so the installed package and its wheel need nothing else from the source tree. The
compiled call paths (bmmgen/_native_buffer*.so where the installing Python's headers are,
python3-dev; bmmgen/_native_torch*.so where it has torch and torch's C++ headers,
libtorch-dev and pybind11-dev) are built for that Python and go beside it.

BMMGEN_CMAKE_ARGS: more CMake arguments, split on spaces (e.g. -DBMM_OPENMP=OFF).
BMMGEN_LIBRARY=PATH: package that libbmm.so instead of building one (a build tree's, as the
test suite does to check the packaging without a second build), and the compiled call paths
beside it, if there are any."""
import glob
import importlib.machinery
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        lib = os.environ.get("BMMGEN_LIBRARY") or self._cmake_build()
        dest = os.path.join(self.build_lib, "bmmgen", "libbmm.so")
        shutil.copyfile(os.path.realpath(lib), dest)  # the file, not the soname's symlink
        os.chmod(dest, 0o755)
        for suffix in importlib.machinery.EXTENSION_SUFFIXES[:1]:  # this Python's own
            for native in glob.glob(os.path.join(os.path.dirname(lib), "_native_*" + suffix)):
                shutil.copy(native, os.path.join(self.build_lib, "bmmgen"))

    def _cmake_build(self):
        tmp = os.path.abspath(os.path.join(self.get_finalized_command("build").build_temp,
                                           "cmake"))
        configure = ["cmake", "-S", ROOT, "-B", tmp, "-DCMAKE_BUILD_TYPE=Release",
                     "-DBMM_BUILD_TESTS=OFF", "-DBMM_BUILD_BENCH=OFF", "-DBMM_WERROR=OFF",
                     "-DBMM_PYTHON3=" + sys.executable]
        configure += os.environ.get("BMMGEN_CMAKE_ARGS", "").split()
        said = subprocess.run(configure, check=True, stdout=subprocess.PIPE, text=True).stdout
        print(said)
        targets = ["bmm_shared"]  # and the compiled call paths python/CMakeLists.txt made
        for word, target in (("NumPy", "bmm_native_buffer"), ("torch", "bmm_native_torch")):
            if "compiled Python call path for %s (" % word in said:
                targets.append(target)
        subprocess.check_call(["cmake", "--build", tmp, "--target"] + targets
                              + ["-j", str(os.cpu_count() or 1)])
        return os.path.join(tmp, "libbmm.so")


class BinaryDistribution(Distribution):
    """The wheel holds a compiled library: tagged for this Python and platform."""
    def has_ext_modules(self):
        return True


# build-pip/, not setuptools' build/: that is the CMake build tree of README's commands
os.makedirs("build-pip", exist_ok=True)
setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution,
      options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}})
