#!/bin/sh
# check_layers.sh OBJDIR...: the runtime's files call only files of a lower layer (see
# runtime/bmm_internal.h), never one above or beside them. Reads the symbols each object file
# defines and needs (nm) and fails naming any call that goes the wrong way.
set -eu
rank() {
  case $1 in
    error|stride) echo 0 ;; cpu|generic|problem|luagen|spawn|cache) echo 1 ;; registry) echo 2 ;;
    threads) echo 3 ;; wisdom|tune) echo 4 ;; ondemand) echo 5 ;; plan) echo 6 ;; cblas) echo 7 ;; *) echo "check_layers: no layer for $1" >&2; exit 2 ;;
  esac
}
objs=$(find "$@" -name '*.c.o' -path '*runtime*' ! -path '*tools*')
bad=0
checked=0
for o in $objs; do
  from=$(basename "$o" .c.o)
  for sym in $(nm -u "$o" | awk '$2 ~ /^bmm/ {print $2}'); do
    for d in $objs; do
      to=$(basename "$d" .c.o)
      [ "$to" = "$from" ] && continue
      if nm --defined-only "$d" | awk '{print $3}' | grep -qx "$sym"; then
        checked=$((checked + 1))
        if [ "$(rank "$to")" -ge "$(rank "$from")" ]; then
          echo "check_layers: $from.c calls $sym in $to.c, a layer not below it"
          bad=$((bad + 1))
        fi
      fi
    done
  done
done
[ "$checked" -gt 0 ] || { echo "check_layers: no calls between runtime files found in $*"; exit 1; }
echo "$checked calls between runtime files, all downward: $((checked - bad)) passed, $bad failed"
[ "$bad" = 0 ]
