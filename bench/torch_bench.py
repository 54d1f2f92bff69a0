#!/usr/bin/env python3
"""torch_bench.py RAW_JSON OUT_JSON [--threads one|default] [--min-time S]: torch.bmm on the
benchmark's own cases, as contenders for bench/report.py.
torch_bench.py --overhead: the cost of one call on a 2x2x2 batch-1 problem (nothing to
compute), bmmgen's Python entry points next to torch's and NumPy's, as a Markdown table.

The cases are those bmm-bench ran (the names in RAW_JSON: regime/dtype/layout/NxMxP), with the
same batch (operands of about 256 KiB in cache, 256 MiB streaming) and the same layouts, as
torch tensors: batch-first (batch, rows, cols) contiguous, seq-first (rows, batch, cols)
storage seen through .transpose(0, 1), and the operand orders nt, tn, tt (B, A or both stored
as the transpose, batch-first, seen through .transpose(1, 2)). Every contender writes a preallocated C, as the C
contenders do: torch.bmm(a, b, out=c) and bmmgen.bmm(a, b, out=c) (the Python package on the
same tensors: bmmgen's whole Python call, overhead included, after a measure=True plan for the
case has put the measured kernel into wisdom, as it is for the C contenders).

--threads one (run pinned to one core): `torch-1t` (torch.set_num_threads(1)) and `bmmgen-py`,
timed back to back in alternating rounds, medians. --threads all: `torch-mt` with one thread
per CPU this process may run on (torch's own default can be lower: Debian's torch picks 1 on
the 2-core VM), not a one-core peer. Results are checked against a float64 torch.bmm of the
first 256 items. Writes Google Benchmark-shaped
JSON (name, GFLOP/s) that report.py merges."""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bmmgen  # noqa: E402

TARGET = {"cache": 256 << 10, "stream": 256 << 20, "small": 16 << 10}  # as bench/cases.c


def cases_of(raw):
    seen, out = set(), []
    for b in raw["benchmarks"]:
        parts = b["name"].split("/")
        if parts[0] == "limits" or len(parts) < 5:
            continue
        key = tuple(parts[:4])
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def operands(regime, dtype, layout, shape):
    n, m, p = map(int, shape.split("x"))
    dt = {"f32": torch.float32, "f64": torch.float64, "bf16": torch.bfloat16}[dtype]
    es = {"f32": 4, "f64": 8, "bf16": 2}[dtype]
    per = (n * m + m * p + n * p) * es
    batch = (TARGET[regime] + per - 1) // per
    g = torch.Generator().manual_seed(n * 10000 + m * 100 + p)

    draw = torch.float32 if dt == torch.bfloat16 else dt  # (bf16: drawn in float, rounded)

    def make(rows, cols, transposed=False):
        if transposed:  # the operand orders: stored as the transpose, batch-first
            x = (torch.rand(batch, cols, rows, generator=g, dtype=draw) - 0.5).transpose(1, 2)
        elif layout != "sf":
            x = torch.rand(batch, rows, cols, generator=g, dtype=draw) - 0.5
        else:
            x = (torch.rand(rows, batch, cols, generator=g, dtype=draw) - 0.5).transpose(0, 1)
        return x.to(dt) if draw != dt else x

    return (make(n, m, layout in ("tn", "tt")), make(m, p, layout in ("nt", "tt")), make(n, p),
            2.0 * n * m * p * batch)


def time_rounds(fns, min_time):
    """Median seconds per call of each function, timed in alternating rounds (one machine
    state for all): calls per round chosen so a round takes about min_time / 10."""
    for fn in fns:
        fn()
    t0 = time.perf_counter()
    fns[0]()
    one = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(min_time / 10 / one))
    times = [[] for _ in fns]
    for _ in range(10):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            times[i].append((time.perf_counter() - t0) / reps)
    return [statistics.median(t) for t in times]


def close(x, want, dt):
    tol = {torch.float32: 1e-3, torch.float64: 1e-10, torch.bfloat16: 2e-2}[dt]
    return torch.allclose(x.double(), want, rtol=tol, atol=tol)


def overhead():
    torch.set_num_threads(1)
    a, b, c = torch.rand(1, 2, 2), torch.rand(1, 2, 2), torch.empty(1, 2, 2)
    na, nb, nc = a.numpy(), b.numpy(), c.numpy()
    plan = bmmgen.Plan(a, b, c)
    nplan = bmmgen.Plan(na, nb, nc)
    import numpy as np
    rows = [("torch.bmm(a, b)", lambda: torch.bmm(a, b)),
            ("bmmgen.bmm(a, b)", lambda: bmmgen.bmm(a, b)),
            ("torch.ops.aten.bmm(a, b) (torch's own operator path)",
             lambda: torch.ops.aten.bmm(a, b)),
            ("torch.ops.bmmgen.bmm(a, b)", lambda: torch.ops.bmmgen.bmm(a, b)),
            ("torch.bmm(a, b, out=c)", lambda: torch.bmm(a, b, out=c)),
            ("bmmgen.bmm(a, b, out=c)", lambda: bmmgen.bmm(a, b, out=c)),
            ("bmmgen.Plan: plan(a, b, c)", lambda: plan(a, b, c)),
            ("np.matmul(a, b) (NumPy)", lambda: np.matmul(na, nb)),
            ("bmmgen.bmm(a, b) (NumPy)", lambda: bmmgen.bmm(na, nb)),
            ("bmmgen.bmm(a, b, out=c) (NumPy)", lambda: bmmgen.bmm(na, nb, out=nc)),
            ("bmmgen.Plan: plan(a, b, c) (NumPy)", lambda: nplan(na, nb, nc))]
    secs = time_rounds([f for _, f in rows], 2.0)
    print("| call (torch tensors unless NumPy) | microseconds, median |")
    print("|---|---|")
    for (what, _), s in zip(rows, secs):
        print("| `%s` | %.2f |" % (what, s * 1e6))
    print()
    print("2x2x2, batch 1, float32, one thread; torch %s, NumPy %s" % (torch.__version__,
                                                                      np.__version__))


def main():
    if "--overhead" in sys.argv:
        return overhead()
    raw_path, out_path = sys.argv[1], sys.argv[2]
    threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "one"
    default_threads = torch.get_num_threads()
    min_time = float(sys.argv[sys.argv.index("--min-time") + 1]) if "--min-time" in sys.argv else 0.2
    if "--scaling" in sys.argv:  # the cases of bmm-bench's scaling run: cache per thread
        TARGET["cache"] *= int(sys.argv[sys.argv.index("--scaling") + 1])
    with open(raw_path) as f:
        raw = json.load(f)
    if threads == "one":
        torch.set_num_threads(1)
        names = ["torch-1t", "bmmgen-py"]
    else:
        torch.set_num_threads(len(os.sched_getaffinity(0)))
        names = ["torch-mt"]
    nthreads = torch.get_num_threads()
    results = []
    for regime, dtype, layout, shape in cases_of(raw):
        a, b, c, flops = operands(regime, dtype, layout, shape)
        # float64 reference of the first items (all of them in cache; a streaming case's whole
        # float64 copy would cost more than its timing)
        k = min(a.shape[0], 256)
        want = torch.bmm(a[:k].double(), b[:k].double())
        fns = [lambda: torch.bmm(a, b, out=c)]
        if threads == "one":
            c2 = c.clone()
            # tuned first, as the C contenders are (their wisdom) and as tune.sh's wisdom
            # file makes it for an application: bmmgen.bmm then runs the measured kernel
            bmmgen.Plan(a, b, c2, measure=True)
            fns.append(lambda: bmmgen.bmm(a, b, out=c2))
        secs = time_rounds(fns, min_time)
        name = "/".join((regime, dtype, layout, shape))
        for who, s, out in zip(names, secs, [c, c2] if threads == "one" else [c]):
            right = close(out[:k], want, a.dtype)
            entry = {"name": name + "/" + who, "run_type": "iteration"}
            if right and s > 0:
                entry["GFLOP/s"] = flops / s / 1e9
            else:
                entry.update(error_occurred=True, error_message="WRONG: differs from torch.bmm")
            results.append(entry)
        print("%-32s %s" % (name, "  ".join("%s %.2f GFLOP/s" % (w, flops / s / 1e9)
                                             for w, s in zip(names, secs))), file=sys.stderr)
        del a, b, c, want, fns
    info = "torch %s torch.bmm(a, b, out=c), %d thread%s (torch's default here: %d)" % (
        torch.__version__, nthreads, "" if nthreads == 1 else "s", default_threads)
    context = {"contender:" + names[0]: info}
    if threads == "one":
        from bmmgen import _native
        path = "its compiled call path" if _native.torch_bmm else "ctypes"
        context["contender:bmmgen-py"] = ("bmmgen.bmm(a, b, out=c) from Python (the package over "
                                          "%s, %s; the call's whole overhead included; the case "
                                          "tuned first)" % (os.path.basename(bmmgen.library_path),
                                                            path))
    with open(out_path, "w") as f:
        json.dump({"context": context, "benchmarks": results}, f, indent=1)


if __name__ == "__main__":
    main()
