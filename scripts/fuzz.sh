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
  pids="$pids $t:$!"
done
failed=""
for tp in $pids; do wait "${tp#*:}" || failed="$failed ${tp%%:*}"; done
for t in wisdom execute generator; do
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build-fuzz/fuzz_$t.log)
  echo "fuzz_$t: ${runs:-?} executions in ${secs} s"
done
if [ -n "$failed" ]; then
  # What a CI log needs to reproduce it: the target's report and the input, in hex.
  for t in $failed; do
    echo "== fuzz_$t failed; the end of build-fuzz/fuzz_$t.log:"
    grep -v '^#[0-9]' build-fuzz/fuzz_$t.log | tail -n 60
    for f in build-fuzz/crash-$t/*; do
      [ -f "$f" ] || continue
      echo "== $f ($(wc -c <"$f") bytes; run it: build-fuzz/tests/fuzz/fuzz_$t $f)"
      od -A d -c "$f" | head -n 40
    done
  done
  echo "fuzz.sh: failed:$failed; inputs in build-fuzz/crash-*" >&2
  exit 1
fi
