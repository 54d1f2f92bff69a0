#!/bin/sh
# test.sh: every test. Installs what is missing, builds with -Wall -Wextra -Werror, runs CTest
# (cmocka suites, one test per generated kernel, the runtime's layering checks, the Lua
# generator tests under Lua 5.4 and LuaJIT, the generated/ drift check, the benchmark
# harness's own test, and the consumer examples: find_package against a temporary install,
# add_subdirectory, a vendored pair).
# --sanitize does the same in an ASan+UBSan build (without the benchmark).
set -eu
cd "$(dirname "$0")/.."
BMM_EXTRA_PACKAGES="g++ clang libbenchmark-dev" sh scripts/deps.sh
dir=build
flags="-DCMAKE_BUILD_TYPE=Release -DBMM_BUILD_BENCH=ON"
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags="-DCMAKE_BUILD_TYPE=Debug -DBMM_SANITIZE=ON -DBMM_BUILD_BENCH=OFF"
fi
cmake -S . -B "$dir" $flags -DBMM_WERROR=ON >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
cd "$dir"
ctest -j "$(nproc)" --output-on-failure
