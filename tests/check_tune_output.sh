#!/bin/sh
# check_tune_output.sh BMM_TUNE WORKDIR: what bmm-tune prints can be trusted in a log: no bar
# (stderr is not a terminal here), no "nan" where a figure was not timed (the portable C
# kernels left untimed by a tiny budget are timed for the table, or the cell says "-"), each
# candidate of -v with a speed or "untimed", and the hint for a shape without specialized
# kernels names bmm-tune's own --generate with the shapes as it takes them.
set -eu
tune=$1
dir=$2
mkdir -p "$dir"
rm -f "$dir/w"  # (a phase under another BMM_ARCH ran here before)
fail() { echo "check_tune_output: $*" >&2; cat "$dir/out" "$dir/err" >&2; exit 1; }
"$tune" --wisdom "$dir/w" --budget 1 -v --dtype f64 --layout sf 64x64x64 13x4x5 3x4x5 \
  >"$dir/out" 2>"$dir/err" || fail "bmm-tune failed"
! grep -qi "nan" "$dir/out" "$dir/err" || fail "a nan figure"
! grep -q "$(printf '\r')" "$dir/err" || fail "a progress bar in a log"
grep -q "bmm-tune --generate 13x4x5 3x4x5 " "$dir/out" || fail "the hint does not name --generate"
bad=$(grep -E '^    bmm_f64_' "$dir/err" | grep -vE 'GFLOP/s|untimed' || true)
[ -z "$bad" ] || fail "a candidate without a figure: $bad"
echo "check_tune_output: ok"
