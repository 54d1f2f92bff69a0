#!/bin/sh
# check_tune_output.sh BMM_TUNE WORKDIR: what bmm-tune prints can be trusted in a log: no bar
# (stderr is not a terminal here), no "nan" where a figure was not timed (the portable C
# kernels left untimed by a tiny budget are timed for the table, or the cell says "-"), each
# candidate of -v with a speed or "untimed", and the hint for a shape without specialized
# kernels names bmm-tune's own --generate with the shapes as it takes them. --json is one JSON
# document (null, never nan, where a figure is missing) and --csv rows of the header's width.
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
rm -f "$dir/w"
"$tune" --json --wisdom "$dir/w" --budget 1 --dtype f64 --layout sf 64x64x64 13x4x5 \
  >"$dir/out" 2>"$dir/err" || fail "bmm-tune --json failed"
! grep -qi "nan" "$dir/out" || fail "a nan figure in JSON"
grep -q "bmm-tune --generate 13x4x5" "$dir/err" || fail "--json: the hint is not on stderr"
if command -v python3 >/dev/null; then
  python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d['cases']) == 2 and d['summary']['cases'] == 2, d
assert {c['kernel'][:8] for c in d['cases']} <= {'bmm_f64_', 'generic'}, d
assert all(c['gflops'] > 0 and c['chosen_by'] in ('measured', 'wisdom') for c in d['cases']), d
" "$dir/out" || fail "--json is not the document it should be"
fi
"$tune" --csv --wisdom "$dir/w" --budget 1 --dtype f64 --layout sf 64x64x64 13x4x5 \
  >"$dir/out" 2>"$dir/err" || fail "bmm-tune --csv failed"
widths=$(awk -F, '{ print NF }' "$dir/out" | sort -u)
[ "$widths" = 17 ] && [ "$(wc -l <"$dir/out")" = 3 ] || fail "--csv: rows of widths $widths"
grep -q ",wisdom," "$dir/out" || fail "--csv: the second run did not plan from wisdom"
echo "check_tune_output: ok"
