#!/bin/sh
# report.sh [--quick] [--out DIR] [--filter REGEX] [--cpu N]: builds the benchmark, runs it
# pinned to one core (N, default 0: pick a quiet one on a shared machine), saves Google Benchmark's JSON as DIR/raw.json and turns it into DIR/report.md and
# DIR/report.svg (default DIR: bench-results/), with the attention step on torch tensors
# (bench/attention.py: torch.bmm against bmmgen) and the 16-bit dtypes against torch.bmm
# (bench/half_bench.py) appended, and on a machine of several cores
# the scaling table (every core against one, bench/scaling.py). --quick: a few shapes in
# cache, under 3 minutes; the full run (every shape, dtype, layout, both regimes, the default
# spec's shapes and bench/unseen.lua's, and in cache the transposed operand orders nt, tn, tt)
# takes about 35.
# The filter is a regex over regime/dtype/layout/NxMxP/contender, e.g. 'cache/f32/sf/'.
set -eu
cd "$(dirname "$0")/.."
out=bench-results quick=0 filter="" cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --filter) filter=$2; shift ;;
    --cpu) cpu=$2; shift ;;
    *) echo "usage: bench/report.sh [--quick] [--out DIR] [--filter REGEX] [--cpu N]" >&2; exit 2 ;;
  esac
  shift
done
case "$cpu" in
  ''|*[!0-9]*) echo "bench/report.sh: --cpu takes a CPU number, got '$cpu'" >&2; exit 2 ;;
esac
[ "$cpu" -lt "$(nproc)" ] || { echo "bench/report.sh: no CPU $cpu here ($(nproc) online)" >&2; exit 2; }
BMM_EXTRA_PACKAGES="g++ libbenchmark-dev libopenblas-dev libblis-dev libblis-serial-dev libxsmm-dev libeigen3-dev gnuplot-nox python3 python3-torch" \
  sh scripts/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBMM_BUILD_BENCH=ON -DBMM_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench -j "$(nproc)" --target bmm-bench bmm-thread-sweep bmm_shared >/dev/null

# Fair peers: OpenBLAS picks its own kernels for this CPU (an environment may preset AVX2 ones),
# and BLIS 0.9.0, which does not know Zen 5 and would fall back to generic C, gets zen3's (6).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS
if grep -q AuthenticAMD /proc/cpuinfo && grep -qE '^cpu family\s*: (25|26)$' /proc/cpuinfo; then
  export BLIS_ARCH_TYPE="${BLIS_ARCH_TYPE:-6}"
fi

mintime=0.1
if [ "$quick" = 1 ]; then
  mintime=0.05
  [ -n "$filter" ] || filter='cache/f32/(bf|sf|nt|tn|tt)/(3x3x3|4x4x4|8x8x8|5x7x3|13x13x13|32x32x32|10x256x1|1x64x128|64x64x64|37x256x1|1x37x256|9x9x9|40x40x40)/'
fi
[ -n "$filter" ] || filter='.'
mkdir -p "$out"
# bmm-generate's kernels: generated and compiled on its first run (about a second per class,
# pinned), loaded from this cache after
export BMM_CACHE_DIR="${BMM_CACHE_DIR:-$PWD/build-bench/generate-cache}"
taskset -c "$cpu" build-bench/bench/bmm-bench --benchmark_filter="^(limits/|.*${filter})" \
  --benchmark_min_time="$mintime" --benchmark_out="$out/raw.json" --benchmark_out_format=json \
  --benchmark_format=console >"$out/console.txt"
# torch.bmm, where Debian's torch is there (python3 on PATH may be another install)
more=""
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  export BMM_LIBRARY="$PWD/build-bench/libbmm.so"
  taskset -c "$cpu" /usr/bin/python3 bench/torch_bench.py "$out/raw.json" "$out/torch-1t.json" \
    --threads one --min-time "$mintime" 2>"$out/torch-1t.log"
  /usr/bin/python3 bench/torch_bench.py "$out/raw.json" "$out/torch-mt.json" \
    --threads all --min-time "$mintime" 2>"$out/torch-mt.log"
  more="$out/torch-1t.json $out/torch-mt.json"
fi
python3 bench/report.py "$out/raw.json" "$out" $more
if [ -n "$more" ]; then
  quick_flag=""
  [ "$quick" = 1 ] && quick_flag=--quick
  # glibc keeps freed blocks instead of returning them to the kernel: otherwise each step's
  # fresh outputs fault their pages in again (28 ms of a 29 ms product on this VM, both
  # contenders alike), and the training step's timings swing 7x from run to run
  MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 \
    taskset -c "$cpu" /usr/bin/python3 bench/attention.py $quick_flag >"$out/attention.md"
  printf '\n## Attention on torch tensors (inference and training steps), one thread\n\n' >>"$out/report.md"
  cat "$out/attention.md" >>"$out/report.md"
  taskset -c "$cpu" /usr/bin/python3 bench/torch_bench.py --overhead >"$out/overhead.md"
  printf '\n## One Python call, nothing to compute\n\n' >>"$out/report.md"
  cat "$out/overhead.md" >>"$out/report.md"
  taskset -c "$cpu" /usr/bin/python3 bench/half_bench.py --min-time "$mintime" \
    --limits "$out/raw.json" >"$out/half.md"
  printf '\n## 16-bit dtypes against torch.bmm, one core\n\n' >>"$out/report.md"
  cat "$out/half.md" >>"$out/report.md"
else
  echo "bench/report.sh: no torch for /usr/bin/python3: torch.bmm and the attention step are left out" >&2
fi
# The scaling run, on every core: each contender that runs threads (bmmgen, the compiler's loops
# under omp parallel for, OpenBLAS) on one thread and on all, back to back, in cache (each
# thread's share ~256 KiB), streaming and small batches; bench/scaling.py makes the table.
ncpu=$(nproc)
if [ "$ncpu" -gt 1 ]; then
  shapes='4x4x4|8x8x8|16x16x16|32x32x32|64x64x64|10x256x1|1x37x256'
  sfilter="(cache|stream|small)/(f32|f64)/(bf|sf)/($shapes)/"
  [ "$quick" = 1 ] && sfilter='(cache|small)/f32/(bf|sf)/(4x4x4|16x16x16|64x64x64)/'
  BENCH_THREADS=$ncpu taskset -c "0-$((ncpu - 1))" build-bench/bench/bmm-bench \
    --benchmark_filter="^(limits/|$sfilter)" --benchmark_min_time="$mintime" \
    --benchmark_out="$out/threads.json" --benchmark_out_format=json \
    --benchmark_format=console >"$out/threads-console.txt"
  torch=""
  if [ -n "$more" ]; then  # torch.bmm on the same cases, one thread and its default (every core)
    for t in one all; do
      /usr/bin/python3 bench/torch_bench.py "$out/threads.json" "$out/threads-torch-$t.json" \
        --threads $t --scaling "$ncpu" --min-time "$mintime" 2>>"$out/threads-torch.log"
      torch="$torch $out/threads-torch-$t.json"
    done
  fi
  printf '\n## Threads: %s cores against one\n\n' "$ncpu" >>"$out/report.md"
  python3 bench/scaling.py "$out/threads.json" $torch >>"$out/report.md"
fi
echo "bench/report.sh: $out/report.md, $out/report.svg, $out/raw.json" >&2
