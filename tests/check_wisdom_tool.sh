#!/bin/sh
# check_wisdom_tool.sh BMM_TUNE BMM_WISDOM WORKDIR: bmm-wisdom on files bmm-tune made. list and
# explain say which entries this program can use; check exits 0 for a file this machine imports,
# 1 for one it rejects (another CPU, a kernel that cannot serve its entry, a damaged file) and,
# with --strict, for entries passed over; merge keeps every entry, the newest file winning a
# class, refuses files of two CPUs and leaves no temporary file; prune drops what is not here.
set -eu
tune=$1 tool=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
fail() { echo "check_wisdom_tool: $*" >&2; exit 1; }
entries() { grep -c '^entry ' "$1"; }
expect() {  # expect RC ARGS...: bmm-wisdom ARGS exits RC
  want=$1; shift
  set +e
  "$tool" "$@" >out 2>err
  rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "bmm-wisdom $*: exit $rc, want $want: $(cat out err)"
}

"$tune" --wisdom a --budget 1 --batch 64 --dtype f32 --layout bf 2x2x2 3x3x3 >/dev/null 2>&1
"$tune" --wisdom b --budget 1 --batch 64 --dtype f64 --layout sf 4x4x4 >/dev/null 2>&1
expect 0 check a b
grep -q "a: imports here: 2 of 2 entries" out || fail "check a: $(cat out)"
expect 0 list a
[ "$(grep -c ' here ' out)" = 2 ] || fail "list a: $(cat out)"
expect 0 explain b
grep -q "f64 C (4 x 4) = A (4 x 4) B (4 x 4): A seq-first" out || fail "explain b: $(cat out)"
grep -q "the same CPU" out || fail "explain b: $(cat out)"

# another program's kernel: passed over (check 0, --strict 1), listed absent, pruned
sed 's/^end 2$/entry f32 9 9 9 bf bf bf cache one a1b0 bmm_f32_9x9x9_of_another_program\nend 3/' \
  a > c
expect 0 check c
grep -q "c:6: bmm_f32_9x9x9_of_another_program is not in this program" out || fail "$(cat out)"
expect 1 check --strict c
expect 0 list c
grep -q "absent  bmm_f32_9x9x9_of_another_program" out || fail "list c: $(cat out)"

# merge: every entry, the newer file winning a class (a's 2x2x2 made generic in d, newer)
sed 's/^\(entry f32 2 2 2 .*\) [^ ]*$/\1 generic/' a > d
touch -d '2001-01-01' a && touch -d '2002-01-01' c
expect 0 merge -o m a b c d
[ "$(entries m)" = 4 ] || fail "merge: $(entries m) entries, want 4: $(cat m)"
grep -q "^entry f32 2 2 2 .* generic$" m || fail "merge: the newer file did not win: $(cat m)"
grep -q "bmm_f32_9x9x9_of_another_program$" m || fail "merge lost an absent kernel's entry"
expect 0 merge -o m a  # OUT's own entries stay (newer than a)
grep -q "^entry f32 2 2 2 .* generic$" m || fail "merge into m: OUT's newer entry lost"
ls | grep -q '^m\.' && fail "merge left a temporary file"

# rejected: another CPU, a kernel of another shape, damage; merge refuses two CPUs
sed 's/^cpu .*/cpu OtherVendor-1-2-avx2/' a > x
expect 1 check x
grep -q "made on CPU OtherVendor-1-2-avx2" out || fail "check x: $(cat out)"
expect 1 merge -o m2 a x
grep -q "made on CPU" err || fail "merge of two CPUs: $(cat err)"
k3=$(grep '^entry f32 3 3 3' a | sed 's/.* //')
sed "s/^\(entry f32 2 2 2 .*\) [^ ]*$/\1 $k3/" a > y
[ "$k3" = generic ] || { expect 1 check y; grep -q "cannot serve" out || fail "check y: $(cat out)"; }
head -c 40 a > z
expect 1 check z
grep -q "z:2: incomplete line" err || fail "check z: $(cat err)"
expect 1 list z

# prune: in place (locked) and to -o
cp c p
expect 0 prune p
[ "$(entries p)" = 2 ] || fail "prune: $(entries p) entries, want 2"
expect 0 prune c -o q
[ "$(entries q)" = 2 ] && [ "$(entries c)" = 3 ] || fail "prune -o changed the input"
expect 1 prune missing
[ -e missing ] && fail "prune made a missing file"

# usage
expect 2 frobnicate a
expect 2 merge a
expect 2 prune a b
expect 2 list --bogus a
expect 1 check --kernels nowhere.so a
expect 1 check --kernels ./nowhere.so a
echo "check_wisdom_tool: list, check, explain, merge and prune as expected"
