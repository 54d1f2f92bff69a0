#!/usr/bin/env python3
"""scaling.py THREADS_JSON [TORCH_MT_JSON]: the scaling run of bmm-bench (BENCH_THREADS=N: each
contender that runs threads on one thread and on N, back to back, names ending in @1 and @N)
-> a Markdown section on stdout: per case GFLOP/s on 1 and N threads and the speedup, for
bmmgen (`bmm-measure`, `bmm-oneshot`), the compiler's loops under `omp parallel for` and
OpenBLAS on its threads (torch.bmm on its default threads from the main run, for scale), then
the issue's targets: compute-bound cases with at least 64 matrices per thread at 0.9 x N,
streaming at 90% of the all-core DRAM bound, small batches (below the threads threshold) at
0.98x or better."""
import json
import math
import sys

SHOWN = ["bmm-measure", "bmm-oneshot", "compiler-loops", "openblas"]


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    ctx = data.get("context", {})
    nt = int(ctx.get("threads", "1"))
    torch_mt = {}
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            for b in json.load(f)["benchmarks"]:
                if not b.get("error_occurred"):
                    torch_mt[tuple(b["name"].split("/")[:4])] = b["GFLOP/s"]
    limits, cases = {}, {}
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
    shown = [w for w in SHOWN if any((w, nt) in c["gf"] for c in cases.values())]

    out = ["Machine: %s, %d threads (one per core), run %s. Every contender on one thread and on "
           "%d, back to back; bound = min(%d cores' FMA peak, all-core triad bandwidth x "
           "intensity): all-core triad %.0f GB/s in L2, %.1f GB/s from DRAM. In cache: each "
           "thread's share ~256 KiB; small: ~16 KiB of operands in all." % (
               ctx.get("cpu_model", "?"), nt, ctx.get("date", "?"), nt, nt,
               limits.get("triad/l2", 0), limits.get("triad/dram", 0)), ""]
    head = ["case", "batch"]
    for w in shown:
        head += ["%s 1t" % w, "%s %dt" % (w, nt), "x"]
    head += ["torch.bmm %dt" % nt, "bmm %dt %% of bound" % nt]
    targets = {"compute": [], "stream": [], "small": []}
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
            t = torch_mt.get(k)
            cells.append("%.1f" % t if t else "")
            ours, one = c["gf"].get(("bmm-measure", nt)), c["gf"].get(("bmm-measure", 1))
            cells.append("%.0f%%" % (100 * ours / c["bound"]) if ours and c["bound"] else "")
            out.append("| " + " | ".join(cells) + " |")
            if ours and one:
                if regime == "cache" and c["batch"] and c["batch"] >= 64 * nt:
                    targets["compute"].append((ours / one, k))
                elif regime == "stream" and c["bound"]:
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
            " ".join(low[1][1:]), sum(x >= goal for x, _ in xs), len(xs), fmt(goal)))

    line("in cache, at least 64 matrices per thread: speedup", targets["compute"], 0.9 * nt,
         lambda x: "%.2fx" % x)
    line("streaming: share of the all-core bound", targets["stream"], 0.9,
         lambda x: "%.0f%%" % (100 * x))
    line("small batches: speedup (no slowdown: 0.98x)", targets["small"], 0.98,
         lambda x: "%.2fx" % x)
    print("\n".join(out))


if __name__ == "__main__":
    main()
