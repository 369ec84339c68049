#!/usr/bin/python3
"""Scores a nanoGPT character model on the whole validation text (docs/quality.md), to set beside charrnn's
validation, which scores every symbol of the last 10% once. nanoGPT's own estimate averages random
block_size windows, where most symbols have a short context; here every symbol after the first is scored
once, with at least block_size/2 symbols of context (windows of block_size symbols, stride block_size/2,
scoring each window's second half; the first window scores all of its symbols).

    cd nanoGPT && /usr/bin/python3 PATH/bench/nanogpt_score.py out-shakespeare-char/ckpt.pt data/shakespeare_char/val.bin
"""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, ".")
from model import GPT, GPTConfig  # noqa: E402  (nanoGPT's model.py, run from its directory)

ckpt = torch.load(sys.argv[1], map_location="cpu")
model = GPT(GPTConfig(**ckpt["model_args"]))
state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
model.load_state_dict(state)
model.eval()
ids = torch.from_numpy(np.fromfile(sys.argv[2], dtype=np.uint16).astype(np.int64))
T = ckpt["model_args"]["block_size"]
half = T // 2
starts = list(range(0, len(ids) - T, half))
total, count = 0.0, 0
with torch.no_grad():
    for b in range(0, len(starts), 256):
        s = starts[b:b + 256]
        x = torch.stack([ids[i:i + T] for i in s])
        y = torch.stack([ids[i + 1:i + T + 1] for i in s])
        logits, _ = model(x, y)                     # with targets: logits for every position
        nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")
        for j, i in enumerate(s):
            keep = nll[j] if i == 0 else nll[j, half:]
            total += keep.sum().item()
            count += keep.numel()
    # the tail the last window did not reach
    last = starts[-1] + T
    if last < len(ids) - 1:
        x = ids[len(ids) - 1 - T:len(ids) - 1][None]
        y = ids[len(ids) - T:][None]
        logits, _ = model(x, y)
        nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")[0]
        n = len(ids) - 1 - last
        total += nll[-n:].sum().item()
        count += n
print(f"scored {count} of {len(ids) - 1} symbols: {total / count:.4f} nats/char "
      f"({total / count / math.log(2):.4f} bits/char)")
