#!/usr/bin/env python3
"""attention.py [--quick]: one seq2seq attention step on torch tensors, one thread,
torch.bmm against bmmgen.bmm (the Python package, on the tensors' own strides):

    scores  = bmm(enc, dec^T)        B x S x h  times  B x h x 1
    w       = softmax(scores, dim=1)
    context = bmm(w^T, enc)          B x 1 x S  times  B x S x h

batch-first (enc is B x S x h) and seq-first (enc is S x B x h, the RNN default, seen through
.transpose(0, 1)). Prints a Markdown table: median microseconds of the step (both products and
the softmax, which both sides share) and of the two products alone, per contender, and
bmmgen's speedup; results are checked against torch. Needs Debian's python3-torch."""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bmmgen  # noqa: E402  (the package; BMM_LIBRARY names the libbmm.so to use)


def inputs(B, S, h, seq_first):
    g = torch.Generator().manual_seed(S * 1000 + h)
    if seq_first:  # S x B x h and 1 x B x h tensors, as an RNN returns them
        enc = torch.randn(S, B, h, generator=g).transpose(0, 1)
        dec = torch.randn(1, B, h, generator=g).transpose(0, 1)
    else:
        enc = torch.randn(B, S, h, generator=g)
        dec = torch.randn(B, 1, h, generator=g)
    return enc, dec


def step_torch(enc, dec, times):
    t0 = time.perf_counter()
    scores = torch.bmm(enc, dec.transpose(1, 2))
    t1 = time.perf_counter()
    w = torch.softmax(scores, dim=1)
    t2 = time.perf_counter()
    ctx = torch.bmm(w.transpose(1, 2), enc)
    t3 = time.perf_counter()
    times.append((t3 - t0, (t1 - t0) + (t3 - t2)))
    return ctx


def step_bmm(enc, dec, scores, ctx, times):
    t0 = time.perf_counter()
    bmmgen.bmm(enc, dec.transpose(1, 2), out=scores)
    t1 = time.perf_counter()
    w = torch.softmax(scores, dim=1)
    t2 = time.perf_counter()
    bmmgen.bmm(w.transpose(1, 2), enc, out=ctx)
    t3 = time.perf_counter()
    times.append((t3 - t0, (t1 - t0) + (t3 - t2)))
    return ctx


def median_us(times, i):
    return statistics.median(t[i] for t in times) * 1e6


def main():
    quick = "--quick" in sys.argv
    torch.set_num_threads(1)
    B = 64
    seqs = [5, 37, 100] if quick else [5, 10, 23, 37, 50, 61, 77, 100]
    reps = 50 if quick else 200
    print("| layout | B, S, h | torch.bmm step (us) | bmmgen step (us) | step speedup | "
          "products only: torch / bmmgen (us) | products speedup |")
    print("|---|---|---|---|---|---|---|")
    worst = None
    for seq_first in (False, True):
        for h in (64, 256, 512):
            for S in seqs:
                enc, dec = inputs(B, S, h, seq_first)
                scores, ctx = torch.empty(B, S, 1), torch.empty(B, 1, h)
                tt, tb = [], []
                want = step_torch(enc, dec, [])
                got = step_bmm(enc, dec, scores, ctx, [])
                if not torch.allclose(got, want, rtol=1e-4, atol=1e-4):
                    raise SystemExit("bmmgen disagrees with torch.bmm at B=%d S=%d h=%d" % (B, S, h))
                for _ in range(reps):  # back to back, so both see the same machine state
                    step_torch(enc, dec, tt)
                    step_bmm(enc, dec, scores, ctx, tb)
                ts, bs = median_us(tt, 0), median_us(tb, 0)
                tp, bp = median_us(tt, 1), median_us(tb, 1)
                print("| %s | %d, %d, %d | %.1f | %.1f | %.2fx | %.1f / %.1f | %.2fx |" % (
                    "sf" if seq_first else "bf", B, S, h, ts, bs, ts / bs, tp, bp, tp / bp))
                if worst is None or ts / bs < worst[0]:
                    worst = (ts / bs, "sf" if seq_first else "bf", S, h)
    print()
    print("lowest step speedup: %.2fx (%s, S=%d, h=%d); torch %s, %d thread" % (
        worst[0], worst[1], worst[2], worst[3], torch.__version__, torch.get_num_threads()))


if __name__ == "__main__":
    main()
