#!/usr/bin/env python3
"""attention.py [--quick]: seq2seq attention on torch tensors, one thread, torch.bmm against
bmmgen.bmm (the Python package, on the tensors' own strides):

    scores  = bmm(enc, dec^T)        B x S x h  times  B x h x T
    w       = softmax(scores, dim=1)
    context = bmm(w^T, enc)          B x T x S  times  B x S x h

batch-first (enc is B x S x h) and seq-first (enc is S x B x h, the RNN default, seen through
.transpose(0, 1)). First the inference step (T = 1): a Markdown table of the median
microseconds of the step (both products and the softmax, which both sides share) and of the
two products alone, per contender, and bmmgen's speedup. Then the training step: T decoder
steps at once (teacher forcing), forward and backward through autograd, whose products take
transposed views (dec^T and w^T forward, three of the four backward products): median
microseconds per step and bmmgen's speedup. Results and gradients are checked against torch.
Needs Debian's python3-torch. bench/report.sh runs it with glibc's MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ raised: freed outputs stay in the heap instead of faulting their pages
in again at every step, which otherwise swamps the products (both contenders alike)."""
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


def train_step(bmm, enc, dec, seq_first):
    """Forward and backward of attention over T decoder steps; returns the gradients."""
    enc.grad = dec.grad = None
    e = enc.transpose(0, 1) if seq_first else enc
    w = torch.softmax(bmm(e, dec.transpose(1, 2)), dim=1)
    bmm(w.transpose(1, 2), e).square().sum().backward()
    return enc.grad, dec.grad


def train_table(quick):
    """The training step, torch.bmm against bmmgen.bmm (autograd through both)."""
    B = 64
    cases = [(10, 1, 64), (37, 20, 256), (100, 20, 512)] if quick else [
        (S, T, h) for h in (64, 256, 512) for S, T in ((10, 1), (10, 20), (37, 1), (37, 20),
                                                        (100, 5), (100, 20))]
    reps = 10 if quick else 30
    print("| layout | B, S, T, h | torch.bmm train step (us) | bmmgen train step (us) | speedup |")
    print("|---|---|---|---|---|")
    worst = None
    for seq_first in (False, True):
        for S, T, h in cases:
            g = torch.Generator().manual_seed(S * 1000 + h + T)
            shape = (S, B, h) if seq_first else (B, S, h)
            enc = torch.randn(*shape, generator=g).requires_grad_()
            dec = torch.randn(B, T, h, generator=g).requires_grad_()
            want = [x.clone() for x in train_step(torch.bmm, enc, dec, seq_first)]
            got = train_step(bmmgen.bmm, enc, dec, seq_first)
            for x, y in zip(want, got):  # f32 sums in another order: relative to the largest
                if (x - y).abs().max() > 1e-4 * x.abs().max():
                    raise SystemExit("bmmgen's gradients disagree with torch's at S=%d T=%d h=%d"
                                     % (S, T, h))
            tt, tb = [], []
            for _ in range(reps):  # back to back, so both see the same machine state
                t0 = time.perf_counter()
                train_step(torch.bmm, enc, dec, seq_first)
                t1 = time.perf_counter()
                train_step(bmmgen.bmm, enc, dec, seq_first)
                t2 = time.perf_counter()
                tt.append(t1 - t0)
                tb.append(t2 - t1)
            ts, bs = statistics.median(tt) * 1e6, statistics.median(tb) * 1e6
            lay = "sf" if seq_first else "bf"
            print("| %s | %d, %d, %d, %d | %.1f | %.1f | %.2fx |" % (lay, B, S, T, h, ts, bs,
                                                                      ts / bs))
            if worst is None or ts / bs < worst[0]:
                worst = (ts / bs, lay, S, T, h)
    print()
    print("lowest training step speedup: %.2fx (%s, S=%d, T=%d, h=%d)" % worst)


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
    print()
    train_table(quick)


if __name__ == "__main__":
    main()
