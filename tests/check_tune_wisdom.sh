#!/bin/sh
# check_tune_wisdom.sh BMM_TUNE WORKDIR: bmm-tune keeps wisdom it cannot import. It merges new
# entries into a compatible file (also with --retune), keeps entries naming kernels it does not
# have (another program's), refuses to replace a file signed for
# another CPU (exit 1, file unchanged) unless --force, and refuses bad sizes without crashing.
# Runs writing one file at the same time each keep the others' entries.
set -eu
tune=$1
dir=$2
mkdir -p "$dir"
w="$dir/bmm.wisdom"
rm -f "$w" "$dir/other.wisdom"
fail() { echo "check_tune_wisdom: $*" >&2; exit 1; }
entries() { grep -c '^entry ' "$1"; }
run() { "$tune" --wisdom "$w" --budget 1 --batch 64 --dtype f32 --layout bf "$@" >/dev/null 2>"$dir/err"; }

run 2x2x2 || fail "first run failed"
[ "$(entries "$w")" = 1 ] || fail "want 1 entry, got $(entries "$w")"
run 3x3x3 || fail "second run failed"
[ "$(entries "$w")" = 2 ] || fail "a second shape must merge: $(entries "$w") entries"
run --retune 4x4x4 || fail "--retune failed"
[ "$(entries "$w")" = 3 ] || fail "--retune must keep other entries: $(entries "$w")"

# an entry of another program's kernel: passed over on import, kept in the file
sed 's/^end 3$/entry f32 9 9 9 bf bf bf cache one a1b0 bmm_f32_9x9x9_of_another_program\nend 4/' \
  "$w" > "$w.other" && mv "$w.other" "$w"
run 6x6x6 || fail "a run on a file with another program's entry failed"
grep -q "entries name kernels this run does not have" "$dir/err" || fail "not said: $(cat "$dir/err")"
grep -q " bmm_f32_9x9x9_of_another_program$" "$w" || fail "another program's entry was lost"
[ "$(entries "$w")" = 5 ] || fail "want 5 entries, got $(entries "$w")"

sed 's/^cpu .*/cpu OtherVendor-1-2-3-avx2/' "$w" > "$w.other" && mv "$w.other" "$w"
cp "$w" "$dir/before"
if run 5x5x5; then fail "replaced a file made on another CPU"; fi
grep -q "not replacing" "$dir/err" || fail "no reason given: $(cat "$dir/err")"
cmp -s "$w" "$dir/before" || fail "the refused file changed"
run --force 5x5x5 || fail "--force failed"
[ "$(entries "$w")" = 1 ] || fail "--force must write the new wisdom"

# three runs at once into one new file: each locks it, merges what the one before wrote
rm -f "$w"
for s in 2x2x2 3x3x3 4x4x4; do run "$s" & done
wait
[ "$(entries "$w")" = 3 ] || fail "runs at the same time lost entries: $(entries "$w") of 3"
ls "$dir" | grep -q 'bmm-tune-' && fail "a merge file was left behind"

# sizes whose element counts wrap: a message and exit 1, never a crash
for args in "--batch 1152921504606846976 2x2x2" "4294967296x4294967296x4294967296"; do
  set +e
  "$tune" --wisdom "$dir/other.wisdom" --budget 1 --dtype f32 --layout bf $args >/dev/null 2>"$dir/err"
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "bmm-tune $args: exit $rc, want 1"
  grep -q "spans more than the address space" "$dir/err" || fail "bmm-tune $args: $(cat "$dir/err")"
done
for args in "--batch 1e3 2x2x2" "2x2" "2x2x2x" "0x2x2" "--batch -1 2x2x2"; do
  set +e
  "$tune" --wisdom "$dir/other.wisdom" $args >/dev/null 2>&1
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "bmm-tune $args: exit $rc, want 2 (usage)"
done
echo "check_tune_wisdom: merge, --retune, refusal, --force and bad sizes as expected"
