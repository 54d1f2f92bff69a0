#!/bin/sh
# check_layers.sh OBJDIR...: the runtime's files call only files of a lower layer (see
# runtime/bmm_internal.h), never one above or beside them. Reads the symbols each object file
# defines and needs (one nm per object and kind) and fails naming any call that goes the
# wrong way.
set -eu
ranks="error=0 stride=0 env=0 cpu=1 generic=1 pack=1 convert=1 pairs=2 fma16=2 problem=2 luagen=1 spawn=1 cache=1 registry=2 run=2
gen_class=2 threads=3 verify=3 gen_build=3 wisdom_file=3 wisdom=4 tune=4 gen_store=5 ondemand=6 plan=7 cblas=8"
objs=$(find "$@" -name '*.c.o' -path '*runtime*' ! -path '*tools*')
[ -n "$objs" ] || { echo "check_layers: no runtime objects in $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in $objs; do
  f=$(basename "$o" .c.o)
  nm --defined-only "$o" | awk -v f="$f" '$3 ~ /^bmm/ {print "D", $3, f}' >> "$tmp/syms"
  nm -u "$o" | awk -v f="$f" '$2 ~ /^bmm/ {print "U", $2, f}' >> "$tmp/syms"
done
# definitions first, then each use judged by the ranks of the two files
sort -k1,1 "$tmp/syms" | awk -v ranks="$ranks" '
  BEGIN { n = split(ranks, r, /[ \n]+/); for (i = 1; i <= n; i++) { split(r[i], kv, "="); rank[kv[1]] = kv[2] } }
  function layer(f) { if (!(f in rank)) { print "check_layers: no layer for " f; missing = 1; return 99 } return rank[f] }
  $1 == "D" { def[$2] = $3; next }
  $1 == "U" && ($2 in def) && def[$2] != $3 {
    checked++
    if (layer(def[$2]) >= layer($3)) { print "check_layers: " $3 ".c calls " $2 " in " def[$2] ".c, a layer not below it"; bad++ }
  }
  END {
    if (checked == 0) { print "check_layers: no calls between runtime files found"; exit 1 }
    printf "%d calls between runtime files, all downward: %d passed, %d failed\n", checked, checked - bad, bad
    exit (bad > 0 || missing) ? 1 : 0
  }'
