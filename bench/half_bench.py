#!/usr/bin/env python3
"""half_bench.py [--min-time S] [--limits RAW.json]: the 16-bit dtypes against torch.bmm, one core (run it pinned:
taskset -c 0). On issue 31's shapes (batch x n x m x p, operands in cache): torch.bmm in
float32 and bfloat16 (oneDNN; float16 has no CPU kernel in torch 1.13), and bmmgen's plans in
float32, bfloat16 and float16 on the same tensors, each writing a preallocated C, timed back to
back in alternating rounds; medians, GFLOP/s, as a Markdown table with bmmgen bf16's ratios over
torch bf16 and over bmmgen f32. bmmgen's calls go through bmmgen.Plan (the Python call's ~1-3 us
included: a few percent of the smallest case here). Results are checked against float64.
--limits: bmm-bench's JSON output holding limits/peak/bf16 (the bf16 dot-product peak of one
core, measured in that run: vdpbf16ps where the library uses it, else f32's FMAs), to print
bmmgen bf16's share of it; the table says how bmmgen ran bf16 (its AVX512_BF16 kernels' form,
or f32 on converted copies)."""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bmmgen  # noqa: E402

SHAPES = [(4096, 8, 8, 8), (1024, 16, 16, 16), (256, 32, 32, 32), (64, 64, 64, 64),
          (64, 37, 256, 1), (64, 1, 37, 256), (1024, 4, 4, 4), (512, 13, 13, 13),
          (1024, 6, 10, 14), (512, 20, 24, 28)]  # (the last two: not in the default spec)


def timed(fn, min_time):
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        t = time.perf_counter() - t0
        if t >= min_time:
            return t / reps


def peak_of(path):
    """limits/peak/bf16 of a bmm-bench JSON output, GFLOP/s (None: not there)."""
    with open(path) as f:
        for b in json.load(f).get("benchmarks", []):
            if b.get("name") == "limits/peak/bf16":
                return b.get("GFLOP/s")
    return None


def how(kernel):
    """How bmmgen ran bf16, from its plan's kernel."""
    if "avx512bf16" not in kernel:
        return "f32 copies"
    return "pairs, dot" if "_gnt" in kernel else "pairs, rows"


def main():
    args = sys.argv[1:]
    min_time = float(args[args.index("--min-time") + 1]) if "--min-time" in args else 0.05
    peak = peak_of(args[args.index("--limits") + 1]) if "--limits" in args else None
    torch.set_num_threads(1)
    names = ["torch f32", "torch bf16", "bmmgen f32", "bmmgen bf16", "bmmgen f16"]
    if peak:
        print("bf16 bound: one core's bf16 dot-product peak, %.0f GFLOP/s (bmm-bench's "
              "limits/peak/bf16, the same run).\n" % peak)
    print("| batch x shape | " + " | ".join(names) + " | bf16 / torch bf16 | bf16 / bmmgen f32 |"
          + (" bf16 % of peak |" if peak else "") + " bmmgen bf16 runs |")
    print("| --- |" + " --: |" * (len(names) + 2 + (1 if peak else 0)) + " --- |")
    for batch, n, m, p in SHAPES:
        g = torch.Generator().manual_seed(n * 10000 + m * 100 + p)
        a32 = torch.rand(batch, n, m, generator=g) - 0.5
        b32 = torch.rand(batch, m, p, generator=g) - 0.5
        runs = {}
        for name in names:
            dt = {"f32": torch.float32, "bf16": torch.bfloat16,
                  "f16": torch.float16}[name.split()[1]]
            a, b = a32.to(dt), b32.to(dt)
            c = torch.empty(batch, n, p, dtype=dt)
            if name.startswith("torch"):
                runs[name] = (lambda a=a, b=b, c=c: torch.bmm(a, b, out=c)), a, b, c
            else:
                plan = bmmgen.Plan(a, b, out=c)
                runs[name] = (lambda plan=plan, a=a, b=b, c=c: plan(a, b, out=c)), a, b, c
                if name == "bmmgen bf16":
                    ran = how(plan.kernel)
        times = {name: [] for name in names}
        for _ in range(7):  # alternating rounds
            for name in names:
                times[name].append(timed(runs[name][0], min_time))
        for name in names:
            fn, a, b, c = runs[name]
            fn()
            want = torch.bmm(a.double(), b.double())
            tol = 2.0 ** -6 if c.dtype == torch.bfloat16 else 2.0 ** -9
            assert torch.allclose(c.double(), want, rtol=tol, atol=tol * m), name
        flop = 2.0 * batch * n * m * p
        gf = {name: flop / statistics.median(times[name]) / 1e9 for name in names}
        print("| %d x %dx%dx%d | %s | %.2fx | %.2fx |%s %s |" % (
            batch, n, m, p, " | ".join("%.1f" % gf[name] for name in names),
            gf["bmmgen bf16"] / gf["torch bf16"], gf["bmmgen bf16"] / gf["bmmgen f32"],
            " %.0f%% |" % (100 * gf["bmmgen bf16"] / peak) if peak else "", ran))


if __name__ == "__main__":
    main()
