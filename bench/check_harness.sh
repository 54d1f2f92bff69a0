#!/bin/sh
# check_harness.sh BMM_BENCH: the benchmark harness itself. A wrong contender must be reported
# wrong and a crashing one crashed, the run must go on, and a right one must be timed; an
# unseen shape runs shape-generic kernels, and its specialized reference is checked and timed;
# on transposed operands (the operand orders) bmmgen is timed and no contender is wrong; so in
# the 16-bit group (bf16, m odd: LIBXSMM's pairs closed by a zero).
set -u
out=$(BENCH_WITH_WRONG=1 "$1" --benchmark_filter='^cache/f32/(sf/(5x7x3/(wrong|crash|bmm-measure)|9x9x9/bmm-(estimate|specialized))|(nt|tn|tt)/16x16x16/(bmm-measure|openblas|blis|libxsmm|libxsmm-pf))/|^cache/bf16/bf/(13x13x13|6x10x14)/' \
  --benchmark_min_time=0.01 2>&1)
echo "$out"
fail=0
echo "$out" | grep -q 'sf/5x7x3/wrong.*WRONG: wrong result' || { echo "FAIL: wrong contender not reported wrong"; fail=1; }
echo "$out" | grep -q 'sf/5x7x3/crash.*crashed (signal' || { echo "FAIL: crashing contender not reported crashed"; fail=1; }
echo "$out" | grep -q 'sf/5x7x3/bmm-measure.*GFLOP/s=' || { echo "FAIL: bmm-measure was not timed"; fail=1; }
for who in bmm-estimate bmm-specialized; do
  echo "$out" | grep -q "sf/9x9x9/$who.*GFLOP/s=" || { echo "FAIL: $who on an unseen shape was not timed"; fail=1; }
done
# the operand orders: every contender that takes a transposed view gets it right
for order in nt tn tt; do
  echo "$out" | grep -q "$order/16x16x16/bmm-measure.*GFLOP/s=" || { echo "FAIL: bmm-measure on $order not timed"; fail=1; }
done
if echo "$out" | grep -E '/(nt|tn|tt)/' | grep -q 'WRONG'; then echo "FAIL: a contender is wrong on transposed operands"; fail=1; fi
for shape in 13x13x13 6x10x14; do
  echo "$out" | grep -q "bf16/bf/$shape/bmm-measure.*GFLOP/s=" || { echo "FAIL: bmm-measure on bf16 $shape not timed"; fail=1; }
done
if echo "$out" | grep '/bf16/' | grep -qE 'WRONG|FAILED|crashed'; then echo "FAIL: a contender is wrong in the 16-bit group"; fail=1; fi
if echo "$out" | grep '/bf16/' | grep -qE '/(openblas|blis|eigen|compiler-loops|wrong|crash)/'; then
  echo "FAIL: a contender without bf16 was given the 16-bit group"; fail=1
fi
exit $fail
