#!/bin/sh
# fuzz.sh [SECONDS]: builds the libFuzzer targets of tests/fuzz (Clang; ASan and UBSan on the
# runtime) and runs the three at once, each for SECONDS (default 60) from its seed corpus in
# tests/fuzz/corpus plus what earlier runs found (build-fuzz/corpus-*). Prints each target's
# executions; fails, showing the crash, if any target found one.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
BMM_EXTRA_PACKAGES="clang libclang-rt-dev liblua5.4-dev" sh scripts/deps.sh
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBMM_FUZZ=ON -DBMM_BUILD_TESTS=OFF -DBMM_WERROR=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_wisdom fuzz_execute fuzz_generator >/dev/null
pids=""
for t in wisdom execute generator; do
  mkdir -p build-fuzz/corpus-$t build-fuzz/crash-$t
  build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$secs" -timeout=30 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/crash-$t/ build-fuzz/corpus-$t tests/fuzz/corpus/$t \
    >build-fuzz/fuzz_$t.log 2>&1 &
  pids="$pids $!"
done
failed=0
for pid in $pids; do wait "$pid" || failed=1; done
for t in wisdom execute generator; do
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build-fuzz/fuzz_$t.log)
  echo "fuzz_$t: ${runs:-?} executions in ${secs} s"
done
if [ "$failed" != 0 ]; then
  for t in wisdom execute generator; do
    grep -q "^stat::number_of_executed_units" build-fuzz/fuzz_$t.log || tail -n 40 build-fuzz/fuzz_$t.log
  done
  echo "fuzz.sh: a target failed; its input is in build-fuzz/crash-*" >&2
  exit 1
fi
