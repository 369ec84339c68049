#!/usr/bin/python3
"""The PyTorch reference (../shared/bench/torch_charrnn.py) with charrnn's learning-rate schedule and
averaged weights, so that the two run the same recipe side by side (docs/quality.md).

    /usr/bin/python3 bench/torch_schedule.py [--lr-schedule cosine|linear|constant] [--warmup W]
        [--lr-floor F] [--ema D] -- ARGS OF torch_charrnn.py

The schedule is charrnn's (rnn_train.c): progress p is the larger of step/--steps and training
seconds/--seconds; the rate is lr * w * shape(p), w = (step+1)/(W+1) for the first W steps, else 1, shape(p) = 1 (constant),
F + (1-F)(1+cos(pi p))/2 (cosine) or F + (1-F)(1-p) (linear). With --ema D > 0 an exponential moving
average of the weights (bias-corrected: ema / (1 - D^t)) is kept after every step and validated instead
of the raw weights. The reference script itself is not changed: its optimizer and evaluate are wrapped.
"""
import argparse
import importlib.util
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "..", "shared", "bench", "torch_charrnn.py")

ap = argparse.ArgumentParser(usage=__doc__)
ap.add_argument("--lr-schedule", choices=["constant", "cosine", "linear"], default="cosine")
ap.add_argument("--warmup", type=int, default=0)
ap.add_argument("--lr-floor", type=float, default=0.1)
ap.add_argument("--ema", type=float, default=0.0)
ap.add_argument("--ref", default=REF, help="path of torch_charrnn.py")
mine, rest = ap.parse_known_args()
if rest and rest[0] == "--":
    rest = rest[1:]
sys.argv = [mine.ref] + rest

spec = importlib.util.spec_from_file_location("torch_charrnn", mine.ref)
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)          # parses sys.argv, sets the thread counts, imports torch
torch, a = ref.torch, ref.args


def shape(p):
    p = min(max(p, 0.0), 1.0)
    if mine.lr_schedule == "cosine":
        return mine.lr_floor + (1 - mine.lr_floor) * 0.5 * (1 + math.cos(math.pi * p))
    if mine.lr_schedule == "linear":
        return mine.lr_floor + (1 - mine.lr_floor) * (1 - p)
    return 1.0


def scheduled(base):
    class Scheduled(base):
        """base's step at the scheduled rate, then the moving average."""
        def step(self, closure=None):
            n = getattr(self, "_n", 0)
            if n == 0:
                self._t0 = time.perf_counter()
            p = 0.0
            if a.steps:
                p = max(p, n / a.steps)
            if a.seconds:
                p = max(p, (time.perf_counter() - self._t0) / a.seconds)
            rate = a.lr * ((n + 1) / (mine.warmup + 1) if n < mine.warmup else 1.0) * shape(p)
            for g in self.param_groups:
                g["lr"] = rate
            out = super().step(closure)
            self._n = n + 1
            if mine.ema > 0:
                with torch.no_grad():
                    for p_, e in zip(self._params(), self._ema()):
                        e.mul_(mine.ema).add_(p_, alpha=1 - mine.ema)
            return out

        def _params(self):
            return [p for g in self.param_groups for p in g["params"]]

        def _ema(self):
            if not hasattr(self, "_avg"):
                self._avg = [torch.zeros_like(p) for p in self._params()]
                STATE["opt"] = self
            return self._avg
    return Scheduled


STATE = {}
for name in ("Adam", "Adagrad", "RMSprop"):
    setattr(torch.optim, name, scheduled(getattr(torch.optim, name)))

plain_evaluate = ref.evaluate


def evaluate(model, ids, chunk):
    """Validation on the bias-corrected average when there is one, the raw weights otherwise."""
    opt = STATE.get("opt")
    if opt is None or mine.ema <= 0:
        return plain_evaluate(model, ids, chunk)
    corr = 1 - mine.ema ** opt._n
    raw = [p.detach().clone() for p in opt._params()]
    with torch.no_grad():
        for p, e in zip(opt._params(), opt._avg):
            p.copy_(e / corr)
    try:
        return plain_evaluate(model, ids, chunk)
    finally:
        with torch.no_grad():
            for p, r in zip(opt._params(), raw):
                p.copy_(r)


ref.evaluate = evaluate
ref.main(a)
