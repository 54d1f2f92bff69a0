#!/usr/bin/env python3
"""half_bench.py [--min-time S]: the 16-bit dtypes against torch.bmm, one core (run it pinned:
taskset -c 0). On issue 31's shapes (batch x n x m x p, operands in cache): torch.bmm in
float32 and bfloat16 (oneDNN; float16 has no CPU kernel in torch 1.13), and bmmgen's plans in
float32, bfloat16 and float16 on the same tensors, each writing a preallocated C, timed back to
back in alternating rounds; medians, GFLOP/s, as a Markdown table with bmmgen bf16's ratios over
torch bf16 and over bmmgen f32. bmmgen's calls go through bmmgen.Plan (the Python call's ~1-3 us
included: a few percent of the smallest case here). Results are checked against float64."""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bmmgen  # noqa: E402

SHAPES = [(4096, 8, 8, 8), (1024, 16, 16, 16), (256, 32, 32, 32), (64, 64, 64, 64),
          (64, 37, 256, 1), (64, 1, 37, 256), (1024, 4, 4, 4), (512, 13, 13, 13)]


def timed(fn, min_time):
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        t = time.perf_counter() - t0
        if t >= min_time:
            return t / reps


def main():
    args = sys.argv[1:]
    min_time = float(args[args.index("--min-time") + 1]) if "--min-time" in args else 0.05
    torch.set_num_threads(1)
    names = ["torch f32", "torch bf16", "bmmgen f32", "bmmgen bf16", "bmmgen f16"]
    print("| batch x shape | " + " | ".join(names) + " | bf16 / torch bf16 | bf16 / bmmgen f32 |")
    print("| --- |" + " --: |" * (len(names) + 2))
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
        print("| %d x %dx%dx%d | %s | %.2fx | %.2fx |" % (
            batch, n, m, p, " | ".join("%.1f" % gf[name] for name in names),
            gf["bmmgen bf16"] / gf["torch bf16"], gf["bmmgen bf16"] / gf["bmmgen f32"]))


if __name__ == "__main__":
    main()
