#!/bin/sh
# test.sh: every test. Installs what is missing, builds with -Wall -Wextra -Werror, runs CTest
# (cmocka suites, one test per generated kernel, the runtime's layering checks, the Lua
# generator tests under Lua 5.4 and LuaJIT, the generated/ drift check, the benchmark
# harness's own test, and the consumer examples: find_package against a temporary install,
# add_subdirectory, a vendored pair).
# --sanitize does the same in an ASan+UBSan build (without the benchmark; of the kernel tests,
# the _ab kernels only, and of shapes past 32^3 the batch-first ones: the plain build runs
# every kernel; not the pure-Lua generator tests).
# --tsan builds the runtime and tests with ThreadSanitizer (Clang) and runs the suites that
# use threads or shared state (the 8-thread stress test among them).
set -eu
cd "$(dirname "$0")/.."
py="python3-numpy python3-pytest python3-torch python3-venv python3-setuptools python3-wheel"
py="$py python3-dev libtorch-dev pybind11-dev"  # the package's compiled call paths (C, C++)
man="go-md2man groff-base man-db"  # the manual pages, rendered and read as installed
BMM_EXTRA_PACKAGES="g++ clang libbenchmark-dev $man $py" sh scripts/deps.sh
dir=build
flags="-DCMAKE_BUILD_TYPE=Release -DBMM_BUILD_BENCH=ON"
only=""
skip="^$"
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags="-DCMAKE_BUILD_TYPE=Debug -DBMM_SANITIZE=ON -DBMM_BUILD_BENCH=OFF -DBMM_KERNEL_TESTS=sample"
  skip="generator"  # pure Lua: the plain build runs them
elif [ "${1:-}" = "--tsan" ]; then
  BMM_EXTRA_PACKAGES="clang libclang-rt-dev" sh scripts/deps.sh
  dir=build-tsan
  flags="-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBMM_TSAN=ON -DBMM_BUILD_BENCH=OFF"
  only="^(test_threads|test_batch_threads|test_wisdom|test_wisdom_env|test_plan|test_layers|test_register|test_generate)$"
fi
cmake -S . -B "$dir" $flags -DBMM_WERROR=ON >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
cd "$dir"
if [ -n "$only" ]; then
  TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" ctest -j "$(nproc)" --output-on-failure -R "$only"
else
  ctest -j "$(nproc)" --output-on-failure -LE "$skip"
fi
