#!/bin/sh
# tune.sh: the main job. Installs what is missing, builds, and runs bmm-tune on the default
# spec: every shape planned with BMM_MEASURE, the table of choices printed, wisdom written to
# build/bmm.wisdom. Extra arguments go to bmm-tune (e.g. 7x7x5 --dtype f32).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBMM_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
exec ./build/bmm-tune --wisdom build/bmm.wisdom "$@"
