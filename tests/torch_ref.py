#!/usr/bin/env python3
"""tests/torch_ref.py — writes the PyTorch reference that the `torch-parity` library test compares with.

Development tool, not run by test.sh (CI has no PyTorch): run it after a change that is meant to change what
one training step computes, and commit the new reference with the reason.

    ./tests/test_rnn parity-dump data        # writes tests/ref/parity-{rnn,lstm,gru}.ckpt (the initial models)
    /usr/bin/python3 tests/torch_ref.py       # reads them, writes tests/ref/parity-{rnn,lstm,gru}.ref

It rebuilds each initial model in torch.nn.RNN/LSTM/GRU (LSTM: one bias per gate, bias_hh frozen at 0; the tanh
RNN's b and the GRU's r and z blocks of b: PyTorch's own two bias vectors, each half of charrnn's, which stands for
b_ih + b_hh and so steps twice as far: rnn_net.h rnn__param_twins; the GRU's bhn is its b_hn), reads the same
corpus (tests/ref/ctext.txt, split and cut into B streams exactly as rnn_train.c does), and records:
  loss0      mean loss of chunk 0 from the zero state
  grad       per-tensor gradient norms and every STRIDE-th gradient entry, in charrnn's flat layout
  loss1      after one optimizer step (global-norm clip, Adam), the loss of chunk 1 from the carried state
"""
import math, os, struct, sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT = os.path.join(HERE, "ref", "ctext.txt")
CELLS = {0: "rnn", 1: "lstm", 2: "gru"}
GATES = {0: 1, 1: 4, 2: 3}
STRIDE = 4999


def read_ckpt(path):
    b = open(path, "rb").read()
    assert b[:4] == b"CHRN"
    u32 = lambda o: struct.unpack_from("<I", b, o)[0]
    f32 = lambda o: struct.unpack_from("<f", b, o)[0]
    hdr = dict(version=u32(4), cell=u32(16), layers=u32(20), hidden=u32(24), V=u32(28), unit=u32(32),
               batch=u32(36), seq=u32(40), optim=u32(44), lr=f32(48), clip=f32(56), dropout=f32(60),
               val_frac=f32(64), nparams=struct.unpack_from("<Q", b, 80)[0], vocab_bytes=u32(120))
    hsize = u32(8)
    origin = u32(124) if hdr["version"] >= 2 else 0
    off = hsize + hdr["vocab_bytes"] + origin
    params = np.frombuffer(b, dtype="<f4", count=hdr["nparams"], offset=off).astype(np.float32)
    return hdr, params


def reference(cell):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    hdr, flat = read_ckpt(os.path.join(HERE, "ref", f"parity-{cell}.ckpt"))
    assert CELLS[hdr["cell"]] == cell and hdr["optim"] == 0 and hdr["dropout"] == 0, "the reference runs Adam, no dropout"
    L, H, V, B, T = hdr["layers"], hdr["hidden"], hdr["V"], hdr["batch"], hdr["seq"]
    G = GATES[hdr["cell"]]
    text = open(TEXT, "rb").read().decode("utf-8")
    codes = np.array([ord(ch) for ch in text], dtype=np.int64)
    vocab, ids = np.unique(codes, return_inverse=True)
    assert len(vocab) == V, (len(vocab), V)
    n = len(ids)
    n_train = int(n * (1.0 - float(np.float32(hdr["val_frac"]))))
    Ls = (n_train - 1) // B
    train = torch.from_numpy(ids[:n_train].astype(np.int64))
    # charrnn: stream b starts at b * Ls; chunk k covers [k T, (k+1) T) of every stream
    def chunk(k):
        x = torch.stack([train[b * Ls + k * T: b * Ls + (k + 1) * T] for b in range(B)], 1)
        y = torch.stack([train[b * Ls + k * T + 1: b * Ls + (k + 1) * T + 1] for b in range(B)], 1)
        return x, y

    lstm = {"rnn": torch.nn.RNN(V, H, L, nonlinearity="tanh"), "lstm": torch.nn.LSTM(V, H, L),
            "gru": torch.nn.GRU(V, H, L)}[cell]
    out = torch.nn.Linear(H, V)
    names, off = [], 0
    with torch.no_grad():
        def take(shape):
            nonlocal off
            cnt = int(np.prod(shape))
            a = flat[off:off + cnt].reshape(shape)
            off += cnt
            return torch.from_numpy(a.copy())
        for l in range(L):
            I = V if l == 0 else H
            getattr(lstm, f"weight_ih_l{l}").copy_(take((I, G * H)).t()); names.append(("wx", l, f"weight_ih_l{l}"))
            getattr(lstm, f"weight_hh_l{l}").copy_(take((H, G * H)).t()); names.append(("wh", l, f"weight_hh_l{l}"))
            b = take((G * H,))
            bhh = getattr(lstm, f"bias_hh_l{l}")
            bhh.zero_()
            tw = {"rnn": H, "gru": 2 * H}.get(cell, 0)   # charrnn's twins (rnn__param_twins): b_ih + b_hh in b[:tw]
            b[:tw] /= 2   # both halves trainable, with the same gradient (charrnn's b's)
            bhh[:tw].copy_(b[:tw])
            getattr(lstm, f"bias_ih_l{l}").copy_(b); names.append(("b", l, f"bias_ih_l{l}"))
            if cell == "gru":   # charrnn's bhn is PyTorch's b_hn (inside r * (h W_hn + b_hn))
                bhh[2 * H:].copy_(take((H,))); names.append(("bhn", l, f"bias_hh_l{l}"))
            elif cell == "lstm":
                bhh.requires_grad_(False)
        out.weight.copy_(take((H, V)).t()); names.append(("wy", 0, "out.weight"))
        out.bias.copy_(take((V,))); names.append(("by", 0, "out.bias"))
    assert off == flat.size
    params = dict(lstm.named_parameters())
    params.update({"out.weight": out.weight, "out.bias": out.bias})
    trainable = list(dict.fromkeys(params[t] for _, _, t in names))
    if cell == "rnn":   # the twins: in the clipping norm and the Adam step, not in charrnn's layout
        trainable += [getattr(lstm, f"bias_hh_l{l}") for l in range(L)]

    def loss_of(k, state):
        x, y = chunk(k)
        o, state = lstm(F.one_hot(x, V).float(), state)
        return F.cross_entropy(out(o).reshape(-1, V), y.reshape(-1)), state

    zero = (torch.zeros(L, B, H), torch.zeros(L, B, H)) if cell == "lstm" else torch.zeros(L, B, H)
    loss0, state = loss_of(0, zero)
    loss0.backward()
    grads = []
    for kind, l, t in names:
        g = params[t].grad.detach()
        if kind == "bhn":
            g = g[2 * H:]
        grads.append(g.t().contiguous().numpy().ravel() if g.dim() == 2 else g.numpy().ravel())
    gflat = np.concatenate(grads).astype(np.float64)
    torch.nn.utils.clip_grad_norm_(trainable, float(np.float32(hdr["clip"])))
    opt = torch.optim.Adam(trainable, lr=float(np.float32(hdr["lr"])))
    opt.step()
    with torch.no_grad():
        loss1, _ = loss_of(1, tuple(s.detach() for s in state) if cell == "lstm" else state.detach())
    OUT = os.path.join(HERE, "ref", f"parity-{cell}.ref")
    with open(OUT, "w") as f:
        f.write(f"# PyTorch {torch.__version__} reference for tests/test_model.c torch-parity; written by tests/torch_ref.py\n")
        f.write(f"config {cell} {L} {H} {V} {B} {T} {hdr['nparams']}\n")
        f.write(f"loss0 {loss0.item():.9g}\n")
        f.write(f"loss1 {loss1.item():.9g}\n")
        o = 0
        for (kind, l, t), g in zip(names, grads):
            f.write(f"norm {kind} {l} {o} {g.size} {np.linalg.norm(g.astype(np.float64)):.9g}\n")
            o += g.size
        for i in range(0, gflat.size, STRIDE):
            f.write(f"g {i} {gflat[i]:.9g}\n")
    print(f"wrote {OUT}: loss0 {loss0.item():.6f} loss1 {loss1.item():.6f}", file=sys.stderr)


if __name__ == "__main__":
    for cell in sys.argv[1:] or ["rnn", "lstm", "gru"]:
        reference(cell)
