#!/usr/bin/env python3
"""report.py RAW_JSON OUT_DIR [MORE_JSON...]: Google Benchmark's JSON of bmm-bench (and of
contenders timed elsewhere on the same cases: bench/torch_bench.py's torch.bmm and bmmgen from
Python) -> OUT_DIR/report.md (a table per regime: GFLOP/s per contender, bmmgen's speedup over
the best one-core peer and its % of the roofline bound, with group summaries) and
OUT_DIR/report.svg (gnuplot: per regime, GFLOP/s per case for every contender with the bound
marked, then bmmgen's speedup over the best library peer per case)."""
import json
import math
import os
import subprocess
import sys

PEERS = ["openblas", "blis", "libxsmm", "libxsmm-pf", "eigen", "torch-1t"]  # one core each
TORCH, TORCH_MT, PY = "torch-1t", "torch-mt", "bmmgen-py"
BMM = "bmm-measure"
SPECIALIZED, GENERIC, GENERATE = "bmm-specialized", "bmm-generic", "bmm-generate"
GROUPS = [  # the groups of generator/specs/default.lua (the unseen shapes are a group of their own)
    ("tiny", lambda n, m, p: max(n, m, p) <= 8 and n == m == p),
    ("odd", lambda n, m, p: (n, m, p) in [(5, 7, 3), (3, 5, 7), (12, 20, 3)]),
    ("blocks 13-32", lambda n, m, p: n == m == p and 13 <= n <= 32),
    ("attention", lambda n, m, p: p == 1 or n == 1),
    ("64x64x64", lambda n, m, p: (n, m, p) == (64, 64, 64)),
]


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def short_error(msg):
    if msg.startswith("WRONG"):
        return "WRONG"
    if "too slow" in msg:
        return "slow"
    if "crashed" in msg or "exited" in msg:
        return "CRASH"
    return "n/a"


def ratio(c, a, b):
    x, y = c["gf"].get(a), c["gf"].get(b)
    return x / y if isinstance(x, float) and isinstance(y, float) and y else None


def unseen_summary(ks, cases, speed):
    """The unseen shapes (no specialized kernel in the default table): bmmgen against the best
    peer and the compiler's loops, and its shape-generic kernels against the specialized
    kernels of the same shape and against the old scalar generic path."""
    if not ks:
        return []
    def stat(xs):
        xs = [x for x in xs if x]
        return (geomean(xs), min(xs)) if xs else (float("nan"), float("nan"))
    peer, loops = stat([speed[k][0] for k in ks]), stat([speed[k][1] for k in ks])
    spec = stat([ratio(cases[k], BMM, SPECIALIZED) for k in ks])
    gen = stat([ratio(cases[k], BMM, GENERIC) for k in ks])
    out = ["- unseen shapes (shape-generic kernels; geomean, lowest): over the best peer "
           "%.2fx, %.2fx; over the compiler's loops %.2fx, %.2fx; of the specialized kernel "
           "(`%s`) %.2fx, %.2fx; over the scalar generic path %.2fx, %.2fx" % (
               peer + loops + (SPECIALIZED,) + spec + gen)]
    made = [k for k in ks if isinstance(cases[k]["gf"].get(GENERATE), float)]
    if made:
        of_spec = stat([ratio(cases[k], GENERATE, SPECIALIZED) for k in made])
        over_any = stat([ratio(cases[k], GENERATE, BMM) for k in made])
        out.append("- unseen shapes generated on demand (`%s`, %d cases; geomean, lowest): of "
                   "the same shape's kernels built with the program (`%s`) %.2fx, %.2fx (target "
                   ">= 0.9x); over the shape-generic kernels (`%s`) %.2fx, %.2fx (target >= 1.2x)"
                   % ((GENERATE, len(made), SPECIALIZED) + of_spec + (BMM,) + over_any))
    return out


def torch_summary(keys, cases):
    """bmmgen against torch.bmm on one thread: from C (`bmm-measure`) and from Python
    (`bmmgen-py`, the package's whole call), and torch on all cores for scale."""
    out = []
    for who, what in ((PY, "bmmgen from Python"), (BMM, "bmmgen from C")):
        rs = [(ratio(cases[k], who, TORCH), k) for k in keys]
        rs = [(r, k) for r, k in rs if r]
        if rs:
            low = min(rs)
            out.append("- %s (`%s`) over torch.bmm on one thread (`%s`): geomean %.2fx, lowest "
                       "%.2fx (%s %s %s), slower on %d of %d cases" % (
                           what, who, TORCH, geomean([r for r, _ in rs]), low[0], low[1][1],
                           low[1][2], low[1][3], sum(r < 1 for r, _ in rs), len(rs)))
    rs = [r for r in (ratio(cases[k], PY, TORCH_MT) for k in keys) if r]
    if rs:
        out.append("- bmmgen from Python (one core) over torch.bmm on every core (`%s`): geomean "
                   "%.2fx, lowest %.2fx" % (TORCH_MT, geomean(rs), min(rs)))
    return out


ORDERS = [("nt", "B transposed (Q K^T)"), ("tn", "A transposed (w^T V)"),
          ("tt", "both transposed")]


def order_summary(keys, cases, speed):
    """The operand orders: bmmgen on transposed views against itself on row-major operands
    of the same shape (batch-first), and against the best peer's own transposed path."""
    out = []
    for word, what in ORDERS:
        ks = [k for k in keys if k[2] == word]
        rows = []
        for k in ks:
            row_major = (k[0], k[1], "bf", k[3])
            t = cases[k]["gf"].get(BMM)
            n = cases[row_major]["gf"].get(BMM) if row_major in cases else None
            if isinstance(t, float) and isinstance(n, float) and n:
                rows.append((t / n, k))
        peer = [speed[k][0] for k in ks if speed[k][0]]
        if rows:
            low = min(rows)
            out.append("- %s (`%s`): of the same shape row-major, geomean %.2fx, lowest %.2fx "
                       "(%s %s); over the best peer's own transposed path, geomean %.2fx, lowest "
                       "%.2fx" % (what, word, geomean([r for r, _ in rows]), low[0], low[1][1],
                                  low[1][3], geomean(peer) if peer else float("nan"),
                                  min(peer) if peer else float("nan")))
    return out


def half_summary(keys, cases, speed):
    """The 16-bit group: bmmgen's bf16 against the best peer (LIBXSMM's bf16 JIT, torch.bmm in
    bf16), against its own f32 on the same shape where the f32 table has it (the bf16 dot
    product does twice the work an FMA does), and against its bound (the bf16 peak)."""
    out = []
    sps = [(speed[k][0], k[3]) for k in keys if speed[k][0]]
    if sps:
        out.append("- bf16 over the best peer: geomean %.2fx, lowest %.2fx (%s)"
                   % ((geomean([r for r, _ in sps]),) + min(sps)))
    rs = []
    for k in keys:
        f32 = cases.get(("cache", "f32", "bf", k[3]), {"gf": {}})["gf"].get(BMM)
        ours = cases[k]["gf"].get(BMM)
        if isinstance(ours, float) and isinstance(f32, float) and f32:
            rs.append((ours / f32, k[3]))
    if rs:
        out.append("- bf16 over bmmgen's f32 on the same shape (`%s`, cache f32 bf): geomean "
                   "%.2fx, lowest %.2fx (%s), %d shapes" % ((BMM, geomean([r for r, _ in rs]))
                                                            + min(rs) + (len(rs),)))
    pct = sorted(speed[k][2] for k in keys if speed[k][2])
    if pct:
        out.append("- bf16 %% of the bf16 bound: median %.0f%%, lowest %.0f%%"
                   % (pct[len(pct) // 2], pct[0]))
    return out + torch_summary(keys, cases)


def kind_is(i, panels, kind):
    return panels[i][4] == kind


def main():
    raw, out = sys.argv[1], sys.argv[2]
    with open(raw) as f:
        data = json.load(f)
    ctx = data.get("context", {})
    for more in sys.argv[3:]:  # contenders timed by other programs on the same cases
        with open(more) as f:
            extra = json.load(f)
        ctx.update(extra.get("context", {}))
        data["benchmarks"] += extra["benchmarks"]
    unseen = set(x for x in ctx.get("unseen_shapes", "").split(",") if x)
    limits, cases, contenders, notes = {}, {}, [], []
    for b in data["benchmarks"]:
        parts = b["name"].split("/")
        if parts[0] == "limits":
            limits["/".join(parts[1:3])] = b.get("GFLOP/s", b.get("GB/s"))
            continue
        regime, dtype, layout, shape, who = parts[:5]
        if who not in contenders:
            contenders.append(who)
        key = (regime, dtype, layout, shape)
        c = cases.setdefault(key, {"bound": None, "gf": {}, "pct": {}})
        if b.get("error_occurred"):
            c["gf"][who] = short_error(b.get("error_message", ""))
            if not b.get("error_message", "").startswith("skipped"):
                notes.append("%s: %s" % (b["name"].rsplit("/", 1)[0], b.get("error_message")))
        else:
            c["gf"][who] = b["GFLOP/s"]
            if "pct_bound" in b:
                c["pct"][who] = b["pct_bound"]
                c["bound"] = b["bound_GFLOP/s"]

    peers = [p for p in PEERS if p in contenders]
    lines = ["# bmmgen benchmark", ""]
    lines.append("Machine: %s (host %s, %d CPUs at %s MHz); run %s, pinned to one core. Google "
                 "Benchmark library build: %s (the label Debian's package gets "
                 "from being built without NDEBUG)." % (ctx.get("cpu_model", "?"), ctx.get("host_name", "?"),
                                  ctx.get("num_cpus", 0), ctx.get("mhz_per_cpu", "?"),
                                  ctx.get("date", "?"), ctx.get("library_build_type", "?")))
    lines.append("")
    lines.append("Limits measured in the same run: FMA peak %.0f GFLOP/s f32, %.0f f64, bf16 "
                 "dot products %.0f; triad bandwidth %.0f GB/s in L2, %.1f GB/s from DRAM. Bound "
                 "of a case = min(peak, bandwidth x 2nmp / (elem_size (nm + mp + np))), L2 "
                 "bandwidth in cache, DRAM streaming." % (
                     limits.get("peak/f32", 0), limits.get("peak/f64", 0),
                     limits.get("peak/bf16", 0), limits.get("triad/l2", 0),
                     limits.get("triad/dram", 0)))
    lines.append("")
    lines.append("Contenders and the kernels they ran with:")
    lines.append("")
    for who in contenders:
        lines.append("- `%s`: %s" % (who, ctx.get("contender:" + who, "?")))
    lines.append("")

    plot_sets = []
    sections = [("cache", "In cache (~256 KiB of operands)",
                 lambda k: k[0] == "cache" and k[1] != "bf16"),
                ("bf16", "16-bit group: bf16 A, B and C, float sums, in cache (~256 KiB of "
                 "operands)", lambda k: k[1] == "bf16"),
                ("stream", "Streaming (~256 MiB of operands)", lambda k: k[0] == "stream")]
    for regime, title, test in sections:
        keys = [k for k in cases if test(k)]
        if not keys:
            continue
        lines += ["## " + title, ""]
        head = ["case"] + contenders + ["bmm / best peer", "bmm / loops", "bmm % of bound"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        speed = {}
        for k in keys:
            c = cases[k]
            cells = ["%s %s %s" % (k[1], k[2], k[3])]
            for who in contenders:
                v = c["gf"].get(who, "")
                cells.append("%.1f" % v if isinstance(v, float) else v)
            best_peer = max([c["gf"][p] for p in peers if isinstance(c["gf"].get(p), float)] or [0])
            ours = c["gf"].get(BMM)
            loops = c["gf"].get("compiler-loops")
            sp = ours / best_peer if isinstance(ours, float) and best_peer else None
            sl = ours / loops if isinstance(ours, float) and isinstance(loops, float) else None
            speed[k] = (sp, sl, c["pct"].get(BMM))
            cells.append("%.2fx" % sp if sp else "")
            cells.append("%.2fx" % sl if sl else "")
            cells.append("%.0f%%" % c["pct"][BMM] if BMM in c["pct"] else "")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        if regime == "bf16":
            lines += half_summary(keys, cases, speed) + [""]
            plot_sets.append((regime, title, keys, speed))
            continue
        lines.append("Geometric means of bmmgen (`%s`) over the best peer / over the compiler's "
                     "loops, by group:" % BMM)
        lines.append("")
        for gname, test in GROUPS:
            ks = [k for k in keys if k[3] not in unseen and k[2] in ("bf", "sf")
                  and test(*map(int, k[3].split("x")))]
            if ks:
                sps = [speed[k][0] for k in ks]
                lines.append("- %s: %.2fx / %.2fx (lowest over the best peer %.2fx, %s)" % (
                    gname, geomean(sps), geomean([speed[k][1] for k in ks]),
                    min(s for s in sps if s) if any(sps) else float("nan"),
                    min(ks, key=lambda k: speed[k][0] or 1e9)[3]))
        lines += unseen_summary([k for k in keys if k[3] in unseen and k[2] in ("bf", "sf")],
                                cases, speed)
        sf = [cases[k]["gf"].get(BMM) / cases[(k[0], k[1], "bf", k[3])]["gf"].get(BMM)
              for k in keys if k[2] == "sf" and (k[0], k[1], "bf", k[3]) in cases
              and isinstance(cases[k]["gf"].get(BMM), float)
              and isinstance(cases[(k[0], k[1], "bf", k[3])]["gf"].get(BMM), float)]
        if sf:
            lines.append("- seq-first / batch-first, same shape: geomean %.2f, lowest %.2f" % (geomean(sf), min(sf)))
        lines += order_summary(keys, cases, speed)
        lines += torch_summary(keys, cases)
        lines.append("")
        plot_sets.append((regime, title, keys, speed))

    if notes:
        lines += ["## Contenders reported wrong, crashed or failed", ""]
        lines += ["- " + n for n in notes]
        lines.append("")
    lines.append("In the tables: `n/a` the contender has no kernel for the case (LIBXSMM declines some "
                 "shapes); `slow` not run streaming, since at its in-cache rate one call would take "
                 "over a second; `WRONG`/`CRASH` see above. Bounds use a triad's bandwidth, a third "
                 "of it writes; a read-mostly case can pass its bound.")
    lines.append("")
    lines.append("Made by `bench/report.sh`; raw numbers in `raw.json`; plot in `report.svg`.")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    # plot: per regime a panel of GFLOP/s (log) per contender with the bound as a line, then a
    # panel of bmmgen's speedup over the best peer per case (bars, 1x marked). Each panel has
    # its own origin and margins, so that no title or rotated case label runs into another.
    panels = [(r, t, k, sp, kind) for r, t, k, sp in plot_sets for kind in ("gflops", "speedup")]
    height = 620
    script = ["set terminal svg size 2600,%d dynamic noenhanced font 'sans,13'" % (height * len(panels)),
              "set output '%s'" % os.path.join(out, "report.svg"),
              "set multiplot", "set grid ytics", "set xtics rotate by -90 font ',10' nomirror",
              "set lmargin 12", "set rmargin 24", "set tmargin 3", "set bmargin 11",
              "set title font ',16'"]
    for i, (regime, title, keys, speed, _) in enumerate(panels):
        dat = os.path.join(out, "plot-%s.dat" % regime)
        if kind_is(i, panels, "gflops"):
            with open(dat, "w") as f:
                f.write("# case bound speedup " + " ".join(contenders) + "\n")
                for j, k in enumerate(keys):
                    c = cases[k]
                    vals = [("%.4g" % c["gf"][w]) if isinstance(c["gf"].get(w), float) else "NaN"
                            for w in contenders]
                    sp = speed[k][0]
                    f.write("%d %s_%s_%s %s %s %s\n" % (j, k[1], k[2], k[3], c["bound"] or "NaN",
                                                       "%.4g" % sp if sp else "NaN", " ".join(vals)))
        script += ["set size 1,%.6f" % (1.0 / len(panels)),
                   "set origin 0,%.6f" % (1.0 - (i + 1.0) / len(panels)),
                   "set xrange [-1:%d]" % len(keys), "set logscale y"]
        if kind_is(i, panels, "gflops"):
            plots = ["'%s' using 1:3:xtic(2) with lines lw 2 lc rgb 'black' title 'roofline bound'" % dat]
            for j, w in enumerate(contenders):
                style = "linespoints lw 2 pt 7 ps 0.8" if w == BMM else "points pt %d ps 0.8" % (j + 1)
                plots.append("'' using 1:%d with %s title '%s'" % (j + 5, style, w))
            script += ["set title '%s: GFLOP/s per case, one core'" % title, "set ylabel 'GFLOP/s'",
                       "set key outside right top", "unset arrow", "set yrange [0.3:*]",
                       "plot " + ", ".join(plots)]
        else:
            script += ["set title '%s: bmmgen (%s) over the best library peer, per case'" % (title, BMM),
                       "set ylabel 'speedup (x)'", "unset key", "set style fill solid 0.6", "set yrange [*:*]",
                       "set boxwidth 0.7",
                       "set arrow 1 from -1,1 to %d,1 nohead lw 2 lc rgb 'black'" % len(keys),
                       "plot '%s' using 1:4:xtic(2) with boxes lc rgb '#2a6fb0' notitle" % dat]
    script.append("unset multiplot")
    try:
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report.py: no plot: %s" % e, file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
