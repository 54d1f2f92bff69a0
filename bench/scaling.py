#!/usr/bin/env python3
"""scaling.py THREADS_JSON [TORCH_JSON...]: the scaling run of bmm-bench (BENCH_THREADS=N: each
contender that runs threads on one thread and on N, back to back, names ending in @1 and @N)
-> a Markdown section on stdout: per case GFLOP/s on 1 and N threads and the speedup, for
bmmgen (`bmm-measure`, `bmm-oneshot`), the compiler's loops under `omp parallel for` and
OpenBLAS on its threads, torch.bmm on one thread and its default (torch_bench.py --scaling), then
the issue's targets: compute-bound cases (the roofline bound is the N cores' FMA peak) with at
least 64 matrices per thread at 0.9 x N,
streaming at 90% of the all-core DRAM bound, small batches (below the threads threshold) at
0.98x or better."""
import json
import sys

from report import geomean  # bench/report.py, beside this file

SHOWN = ["bmm-measure", "bmm-oneshot", "compiler-loops", "openblas"]


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    ctx = data.get("context", {})
    nt = int(ctx.get("threads", "1"))
    limits, cases = {}, {}
    torch = {}  # torch_bench.py's: torch-1t and torch-mt, on the same cases
    for path in sys.argv[2:]:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                parts = b["name"].split("/")
                if not b.get("error_occurred") and parts[4] in ("torch-1t", "torch-mt"):
                    torch[tuple(parts[:4]), parts[4]] = b["GFLOP/s"]
    for b in data["benchmarks"]:
        parts = b["name"].split("/")
        if parts[0] == "limits":
            limits["/".join(parts[1:3])] = b.get("GFLOP/s", b.get("GB/s"))
            continue
        who, _, threads = parts[4].partition("@")
        c = cases.setdefault(tuple(parts[:4]), {"gf": {}, "bound": None, "batch": None})
        if b.get("error_occurred"):
            continue
        c["gf"][(who, int(threads))] = b["GFLOP/s"]
        c["bound"], c["batch"] = b["bound_GFLOP/s"], b["batch"]
    peak = {"f32": nt * limits.get("peak/f32", 0), "f64": nt * limits.get("peak/f64", 0)}
    shown = [w for w in SHOWN if any((w, nt) in c["gf"] for c in cases.values())]

    out = ["Machine: %s, %d threads (one per core), run %s. Every contender on one thread and on "
           "%d, back to back; bound = min(%d cores' FMA peak, all-core triad bandwidth x "
           "intensity): one core's peak %.0f GFLOP/s f32, %.0f f64; all-core triad %.0f GB/s in "
           "L2, %.1f GB/s from DRAM. In cache: each thread's share ~256 KiB; small: ~16 KiB of "
           "operands in all." % (
               ctx.get("cpu_model", "?"), nt, ctx.get("date", "?"), nt, nt,
               limits.get("peak/f32", 0), limits.get("peak/f64", 0),
               limits.get("triad/l2", 0), limits.get("triad/dram", 0)), ""]
    head = ["case", "batch"]
    for w in shown:
        head += ["%s 1t" % w, "%s %dt" % (w, nt), "x"]
    if torch:
        head += ["torch.bmm 1t", "torch.bmm %dt" % nt, "x"]
    head += ["bmm %dt %% of bound" % nt]
    targets = {"compute": [], "memory": [], "stream": [], "small": []}
    for regime in ["cache", "stream", "small"]:
        keys = [k for k in cases if k[0] == regime]
        if not keys:
            continue
        out += ["### %s" % {"cache": "In cache", "stream": "Streaming (~256 MiB)",
                            "small": "Small batches (below the threads threshold)"}[regime], ""]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for k in keys:
            c = cases[k]
            cells = ["%s %s %s" % k[1:], "%d" % c["batch"] if c["batch"] else ""]
            for w in shown:
                one, many = c["gf"].get((w, 1)), c["gf"].get((w, nt))
                cells += ["%.1f" % one if one else "", "%.1f" % many if many else "",
                          "%.2fx" % (many / one) if one and many else ""]
            if torch:
                one_t, many_t = torch.get((k, "torch-1t")), torch.get((k, "torch-mt"))
                cells += ["%.1f" % one_t if one_t else "", "%.1f" % many_t if many_t else "",
                          "%.2fx" % (many_t / one_t) if one_t and many_t else ""]
            ours, one = c["gf"].get(("bmm-measure", nt)), c["gf"].get(("bmm-measure", 1))
            cells.append("%.0f%%" % (100 * ours / c["bound"]) if ours and c["bound"] else "")
            out.append("| " + " | ".join(cells) + " |")
            if ours and one:
                compute = c["bound"] and c["bound"] >= 0.999 * peak[k[1]]
                if regime != "small" and compute and c["batch"] >= 64 * nt:
                    targets["compute"].append((ours / one, k))
                elif regime == "cache" and c["batch"] >= 64 * nt:
                    targets["memory"].append((ours / one, k))
                if regime == "stream" and not compute:
                    targets["stream"].append((ours / c["bound"], k))
                elif regime == "small":
                    targets["small"].append((ours / one, k))
        out.append("")
    out += ["Targets (bmmgen `bmm-measure`, %d threads against 1):" % nt, ""]

    def line(name, xs, goal, fmt):
        if not xs:
            return
        low = min(xs)
        xs_sorted = sorted(x for x, _ in xs)
        out.append("- %s: geomean %s, median %s, lowest %s (%s), %d of %d at the target %s" % (
            name, fmt(geomean([x for x, _ in xs])), fmt(xs_sorted[len(xs) // 2]), fmt(low[0]),
            " ".join(low[1]), sum(x >= goal for x, _ in xs), len(xs), fmt(goal)))

    line("compute-bound (bound: %d cores' FMA peak), at least 64 matrices per thread: speedup"
         % nt, targets["compute"], 0.9 * nt, lambda x: "%.2fx" % x)
    line("(not a target) in cache, bandwidth-bound, at least 64 matrices per thread: speedup",
         targets["memory"], 0.9 * nt, lambda x: "%.2fx" % x)
    line("streaming, bandwidth-bound: share of the all-core bound", targets["stream"], 0.9,
         lambda x: "%.0f%%" % (100 * x))
    line("small batches: speedup (no slowdown: 0.98x)", targets["small"], 0.98,
         lambda x: "%.2fx" % x)
    print("\n".join(out))


if __name__ == "__main__":
    main()
