#!/usr/bin/python3
"""Issue 21's Post-LN gradient ratio in PyTorch, with and without dropout.

  /usr/bin/python3 tests/reference/torch_postln_dropout.py [SEEDS [ACTIVATION]]

A stack of nn.TransformerEncoderLayer (d_model 128, 4 heads, FFN 512,
ReLU - or ACTIVATION, e.g. gelu - T = 32, batch 16, 64 symbols; float64; every matrix but the
embedding Xavier-normal), cross-entropy on random targets at every
position, in train mode: prints ||dL/dW2|| of the last layer's FFN over
the first layer's for Post-LN and Pre-LN at L = 6, 12, 24, with dropout 0
and 0.1 (PyTorch's default; gradsweep's key dropout). Measured: with ReLU
Post-LN's ratio at L = 24 is 0.97, 1.40, 1.15 without dropout and 1.85,
2.10, 2.05 with it; with GELU 0.67, 1.16, 0.66 and 0.80, 1.01, 0.71. A measurement to compare with, not a test: configs/
transformer.ini's [profile] comment quotes it.
"""
import sys

import torch


def ratio(L, seed, dropout, norm_first, act="relu", d=128, H=4, F=512, T=32, B=16, V=64):
    torch.manual_seed(seed)
    layer = torch.nn.TransformerEncoderLayer(d, H, F, dropout=dropout, activation=act,
                                             norm_first=norm_first, batch_first=True)
    enc = torch.nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
    emb, head = torch.nn.Embedding(V, d), torch.nn.Linear(d, V)
    mods = torch.nn.ModuleList([enc, emb, head]).double()
    for name, p in mods.named_parameters():
        if p.dim() == 2 and not name.startswith("1."):   # not the embedding
            torch.nn.init.xavier_normal_(p)
    mods.train()
    tok, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    loss = torch.nn.functional.cross_entropy(head(enc(emb(tok))).reshape(-1, V), y.reshape(-1))
    loss.backward()
    g = [enc.layers[l].linear2.weight.grad.norm().item() for l in range(L)]
    return g[-1] / g[0]


def main():
    torch.set_num_threads(1)
    seeds = range(1, int(sys.argv[1]) + 1) if len(sys.argv) > 1 else range(1, 4)
    act = sys.argv[2] if len(sys.argv) > 2 else "relu"
    for dropout in (0.0, 0.1):
        for L in (6, 12, 24):
            post = " ".join(f"{ratio(L, s, dropout, False, act):.2f}" for s in seeds)
            pre = " ".join(f"{ratio(L, s, dropout, True, act):.2f}" for s in seeds)
            print(f"{act} dropout={dropout} L={L} post: {post}  pre: {pre}", flush=True)


if __name__ == "__main__":
    main()
