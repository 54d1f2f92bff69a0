#!/bin/sh
# check_generated.sh LUA SRCDIR: regenerates the default spec with LUA into a temporary folder
# and fails on any difference from the checked-in generated/.
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
echo "generated/ matches the $lua output: 1 passed, 0 failed"
