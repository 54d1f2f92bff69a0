#!/bin/sh
# run.sh MODE SOURCE_DIR BUILD_DIR WORK_DIR: builds and runs one consumer example, as a user
# would. find_package: install BUILD_DIR into a temporary prefix, then a CMake project that
# finds it and generates its own shapes (its wisdom read by another program, its kernels tuned
# by the installed bmm-tune), a C++-only one, a mixed C and C++ one (and a pkg-config build,
# the installed manual pages and Python package). subdir: a CMake project
# that adds bmmgen's source with add_subdirectory. vendor: a vendored pair compiled with plain
# cc commands: split in files by gcc as C99 (also with -fopenmp, run on 1, 2, 3 and 8
# threads), in one file by clang as C99 and by g++ as C++. Any failure exits non-zero.
set -eu
mode=$1 src=$2 build=$3 work=$4
here=$src/tests/consumers
rm -rf "$work"
mkdir -p "$work"
quiet() { "$@" >"$work/log" 2>&1 || { cat "$work/log"; echo "run.sh: failed: $*" >&2; exit 1; }; }

case $mode in
find_package)
  quiet cmake --install "$build" --prefix "$work/prefix"
  # the manual pages and documentation, installed (and clean to groff where it is there)
  for f in share/man/man1/bmm-tune.1 share/man/man1/bmm-wisdom.1 share/man/man3/bmm.3 \
      share/man/man7/bmm.7 share/doc/bmmgen/README.md \
      share/doc/bmmgen/docs/runtime.md; do
    [ -f "$work/prefix/$f" ] || { echo "run.sh: $f not installed" >&2; exit 1; }
  done
  for f in "$work"/prefix/share/man/man*/*; do
    w=$(LC_ALL=C.UTF-8 groff -man -ww -z "$f" 2>&1)
    [ -z "$w" ] || { echo "run.sh: $f: $w" >&2; exit 1; }
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$f" 2>&1 >/dev/null)
    [ -z "$w" ] || { echo "run.sh: man -l $f: $w" >&2; exit 1; }
  done
  for page in bmm-tune bmm-wisdom "3 bmm" "7 bmm"; do  # as a user looks them up
    MANPATH="$work/prefix/share/man" man $page 2>&1 | grep -q "^NAME" \
      || { echo "run.sh: man $page: not found after cmake --install" >&2; exit 1; }
  done
  quiet cmake -S "$here/find_package" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DCMAKE_BUILD_TYPE=Release
  quiet cmake --build "$work/build" -j 2
  "$work/build/consumer"
  # the installed libbmm has the shape-generic kernels: the program's table goes without them
  ! ls "$work"/build/bmmgen/consumer/kernels/*anyshape* 2>/dev/null \
    || { echo "run.sh: bmm_generate_kernels copied libbmm's shape-generic kernels" >&2; exit 1; }
  mkdir -p "$work/bad"
  printf '%s\n' 'cmake_minimum_required(VERSION 3.18)' 'project(bad LANGUAGES C)' \
    'find_package(bmmgen 0.1 REQUIRED)' "add_executable(app $here/runtime_main.c)" \
    'bmm_generate_kernels(app SHAPES 7x7x5 DTYPES f32 LAYOUTS bf ANYSHAPE maybe)' \
    >"$work/bad/CMakeLists.txt"
  ! cmake -S "$work/bad" -B "$work/bad/build" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/log" 2>&1 \
    && grep -q "ANYSHAPE is yes or no, not 'maybe'" "$work/log" \
    || { cat "$work/log"; echo "run.sh: ANYSHAPE maybe was not refused by name" >&2; exit 1; }
  # a program's own kernels tuned by the installed bmm-tune (--kernels), its wisdom checked by
  # bmm-wisdom, and read by another program that has kernels of its own
  bin=$work/prefix/bin
  (cd "$work" && quiet "$bin/bmm-tune" -v --wisdom travel.wisdom --budget 2 --dtype f32 \
    --layout bf --kernels "$work/build/libblocks.so" 11x6x3 4x4x4)
  grep -q "bmm_f32_11x6x3_bf_" "$work/log" || { cat "$work/log"; echo "run.sh: bmm-tune --kernels \
did not time the library's kernels" >&2; exit 1; }
  quiet "$bin/bmm-wisdom" check --strict --kernels "$work/build/libblocks.so" "$work/travel.wisdom"
  quiet "$bin/bmm-wisdom" explain "$work/travel.wisdom"
  "$work/build/consumer" "$work/travel.wisdom" | grep "^wisdom"
  # a C++-only project (C never enabled): both targets link and run
  quiet cmake -S "$here/find_package_cxx" -B "$work/build-cxx" -DCMAKE_PREFIX_PATH="$work/prefix"
  quiet cmake --build "$work/build-cxx" -j 2
  "$work/build-cxx/consumer_cxx"
  "$work/build-cxx/consumer_cxx_static"
  # a mixed C and C++ project with kernels of its own
  quiet cmake -S "$here/find_package_mixed" -B "$work/build-mixed" -DCMAKE_PREFIX_PATH="$work/prefix"
  quiet cmake --build "$work/build-mixed" -j 2
  "$work/build-mixed/consumer_mixed"
  pc=$(dirname "$(find "$work/prefix" -name bmm.pc)")
  flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs bmm)
  libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir bmm)
  quiet cc -std=c99 -Wall -Wextra -Werror -o "$work/pc" "$here/pkgconfig_main.c" $flags -lm \
    -Wl,-rpath,"$libdir"
  "$work/pc"  # README's line: it starts without LD_LIBRARY_PATH
  # the Python package, as installed: it finds the installed libbmm, nothing else
  pkg=$(dirname "$(dirname "$(find "$work/prefix" -path '*bmmgen/__init__.py')")")
  (cd / && env -u BMM_LIBRARY PYTHONPATH="$pkg" BMMGEN_NO_TORCH=1 /usr/bin/python3 -c "
import bmmgen, numpy as np
assert bmmgen.library_path.startswith('$work/prefix/'), bmmgen.library_path
a = np.arange(24.0).reshape(2, 3, 4)
assert (bmmgen.bmm(a, a.transpose(0, 2, 1)) == a @ a.transpose(0, 2, 1)).all()
print('python consumer: bmmgen from', bmmgen.library_path, ': ok')")
  ;;
subdir)
  quiet cmake -S "$here/subdir" -B "$work/build" -DBMMGEN_SOURCE_DIR="$src" \
    -DCMAKE_BUILD_TYPE=Release
  quiet cmake --build "$work/build" -j 2
  "$work/build/consumer"
  # libbmm built without its default kernels: the program's table brings the shape-generic ones
  ls "$work"/build/bmmgen/consumer/kernels/bmm_f64_anyshape.c >/dev/null \
    || { echo "run.sh: no shape-generic kernels beside a libbmm without them" >&2; exit 1; }
  ;;
vendor)
  lua=$(command -v luajit || command -v lua5.4)
  quiet "$lua" "$src/generator/bmmgen.lua" --vendor vbmm --shapes 7x7x5,9x3x4 --out "$work"
  # --split 3: the kernels in three files beside the dispatcher, each compiled on its own (gcc
  # -O2, once): linked with the dispatcher, and with the dispatcher built with OpenMP
  quiet "$lua" "$src/generator/bmmgen.lua" --vendor vbmm --split 3 --shapes 7x7x5,9x3x4 \
    --out "$work/split"
  c99="-std=c99 -pedantic -Wall -Wextra -Werror -O2"
  for f in "$work"/split/vbmm_*.c; do
    quiet gcc $c99 -I"$work/split" -c "$f" -o "$f.o"
  done
  quiet gcc $c99 -I"$work/split" -o "$work/main-gcc" "$here/vendor/main.c" \
    "$work/split/vbmm.c" "$work"/split/vbmm_*.c.o -lm
  echo "== gcc -std=c99 (--split 3: vbmm.c, vbmm_impl.h, vbmm_1.c ... vbmm_3.c compiled apart)"
  "$work/main-gcc" >"$work/main-gcc.out" || { cat "$work/main-gcc.out"; exit 1; }
  cat "$work/main-gcc.out"
  # with OpenMP: the batch split over threads, the same bits for any thread count
  quiet gcc $c99 -fopenmp -I"$work/split" -o "$work/main-omp" "$here/vendor/main.c" \
    "$work/split/vbmm.c" "$work"/split/vbmm_*.c.o -lm
  OMP_NUM_THREADS=1 "$work/main-omp" >"$work/omp-1"
  for t in 2 3 8; do
    OMP_NUM_THREADS=$t "$work/main-omp" >"$work/omp-$t" || { cat "$work/omp-$t"; exit 1; }
    diff "$work/omp-1" "$work/omp-$t" || { echo "run.sh: results differ with $t threads" >&2; exit 1; }
  done
  grep -v "forked" "$work/omp-1" | diff - "$work/main-gcc.out" \
    || { echo "run.sh: -fopenmp changed the results" >&2; exit 1; }
  echo "== gcc -fopenmp: the same output with OMP_NUM_THREADS=1, 2, 3 and 8"
  # the single file: clang as C99, g++ as C++, the same results (-O0: they check the language
  # and the single file; gcc's -O2 above checks the optimizer, as clang's does in the TSan and
  # fuzz builds of the same kernels, and -O2 on the 9.7 MB file takes a minute, 3x -O0's)
  for cc in "clang -std=c99" "g++ -x c++ -std=c++11"; do
    quiet $cc -pedantic -Wall -Wextra -Werror -O0 -I"$work" -o "$work/main-1" \
      "$here/vendor/main.c" "$work/vbmm.c" -lm
    "$work/main-1" | diff - "$work/main-gcc.out" \
      || { echo "run.sh: $cc: the single file computes otherwise than the split one" >&2; exit 1; }
    echo "== $cc (one file): the same output"
  done
  ;;
*)
  echo "usage: run.sh find_package|subdir|vendor SOURCE_DIR BUILD_DIR WORK_DIR" >&2
  exit 2
  ;;
esac
