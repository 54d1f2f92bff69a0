#!/bin/sh
# check_generated.sh LUA SRCDIR: regenerates, with LUA, the default spec into a temporary folder
# and what is derived from generator/vocab.lua into a copy of the files it writes, and fails on
# any difference from the checked-in generated/, runtime/bmm_vocab.h, python/bmmgen/_vocab.py,
# cmake/BmmVocab.cmake and the docs' vocab tables.
set -eu
lua=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
"$lua" generator/bmmgen.lua --spec generator/specs/default.lua --out "$tmp/generated" 2>/dev/null
if ! diff -r generated "$tmp/generated" > "$tmp/diff"; then
  head -40 "$tmp/diff"
  echo "generated/ differs from what $lua makes from generator/specs/default.lua;"
  echo "run: $lua generator/bmmgen.lua --spec generator/specs/default.lua --out generated"
  exit 1
fi
vocab="runtime/bmm_vocab.h python/bmmgen/_vocab.py cmake/BmmVocab.cmake runtime/bmm.h docs/kernel-abi.md docs/howto.md"
for f in $vocab; do
  mkdir -p "$tmp/root/$(dirname "$f")"
  cp "$f" "$tmp/root/$f"
done
"$lua" generator/bmmgen.lua --vocab --out "$tmp/root" 2>/dev/null
for f in $vocab; do
  if ! diff "$f" "$tmp/root/$f" > "$tmp/diff"; then
    head -40 "$tmp/diff"
    echo "$f differs from what $lua derives from generator/vocab.lua;"
    echo "run: $lua generator/bmmgen.lua --vocab --out ."
    exit 1
  fi
done
echo "generated/ and the vocabulary's files match the $lua output: 1 passed, 0 failed"
