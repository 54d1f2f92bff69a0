#!/bin/sh
# check_install.sh SRC LIB: the package as pip installs it. In a fresh venv (Debian's PEP 668
# way: --system-site-packages, for NumPy, torch and pytest), `pip install .` offline, then
# every pytest suite run against the installed copy from outside the source tree (no
# PYTHONPATH, no BMM_LIBRARY: the library is found inside the package, and the compiled call
# path beside it where the build made one); `pip show`, a wheel holding the library and
# tagged for this platform, `pip uninstall`. LIB is packaged instead
# of building another (setup.py's BMMGEN_LIBRARY); README times the build from scratch.
set -eu
src=$1
lib=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
py=$tmp/venv/bin/python
pip() { BMMGEN_LIBRARY=$lib "$py" -m pip --disable-pip-version-check "$@"; }
pip install -q --no-build-isolation --no-deps --no-index "$src"
cd "$tmp"
unset BMM_LIBRARY PYTHONPATH
"$py" -c 'import bmmgen, sys
assert bmmgen.library_path.startswith(sys.prefix + "/"), bmmgen.library_path
assert bmmgen.__file__.startswith(sys.prefix + "/"), bmmgen.__file__'
pip show bmmgen | grep -qx 'Version: 0.1.0'
# the compiled call path for tensors, where the build made one: installed and loaded
native=$(ls "$(dirname "$lib")"/_native_torch*.so 2>/dev/null || true)
if [ -n "$native" ]; then
  "$py" -c 'import sys, torch, bmmgen
from bmmgen import _native
assert _native.torch_path and _native.torch_path.startswith(sys.prefix + "/"), _native.torch_path
assert _native.buffer_bmm is not None'
fi
"$py" -m pytest -q -p no:cacheprovider "$src"/tests/python
pip wheel -q --no-build-isolation --no-deps --no-index -w "$tmp/wheel" "$src"
"$py" - "$tmp"/wheel/*.whl "$native" <<'PY'
import os, sys, sysconfig, zipfile
whl, native = sys.argv[1:3]
tag = sysconfig.get_platform().replace("-", "_").replace(".", "_")
assert whl.endswith(tag + ".whl"), (whl, tag)  # a platform wheel, not py3-none-any
names = zipfile.ZipFile(whl).namelist()
assert "bmmgen/libbmm.so" in names, whl
assert not native or "bmmgen/" + os.path.basename(native) in names, (whl, native)
PY
pip uninstall -y -q bmmgen
if pip show bmmgen >/dev/null 2>&1; then echo "check_install: still installed"; exit 1; fi
echo "check_install: installed, tested, wheeled and uninstalled"
