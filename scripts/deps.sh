#!/bin/sh
# deps.sh: installs, with apt-get, whatever of the build and test dependencies is missing.
# Run by tune.sh, test.sh and bench/report.sh (which adds BMM_EXTRA_PACKAGES); safe to run
# again (installs nothing when all is there).
set -eu
BMM_PACKAGES="cmake make gcc pkg-config lua5.4 luajit liblua5.4-dev libcmocka-dev ${BMM_EXTRA_PACKAGES:-}"
missing=""
for pkg in $BMM_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "bmmgen: installing:$missing" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
