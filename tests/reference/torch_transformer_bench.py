"""PyTorch's side of src/bench/transformer_probe: the same measurements
and the same step, for a side-by-side comparison.

  torch_transformer_bench.py table SEEDS [L...]
      issue 21's table at init with torch's own random weights (float64,
      nn.Embedding's N(0, 1) embeddings, Xavier-normal matrices, zero
      biases, GELU; the stack of tests/reference/torch_transformer.py's
      hand-written model, which equals gradsweep's to 1e-10): lines in
      transformer_probe's format.
  torch_transformer_bench.py time L D HEADS FFN T BATCH VOCAB THREADS REPS
      ms of one float64 training step (forward, cross-entropy at every
      position, backward, an SGD update) of nn.TransformerEncoderLayer
      stacks (norm_first=True, GELU, causal mask, no dropout) plus the
      embeddings, final norm and head: the median of REPS after a warm-up.
"""
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_transformer import hand_forward, hand_model  # noqa: E402

SCHEMES = [("post", "post", "none"), ("pre", "pre", "none"), ("pre+gpt2", "pre", "gpt2"),
           ("deepnorm", "post", "deepnorm")]


def make_params(ln, rs, L, d=128, H=4, ffn=512, T=32, V=64, gen=None):
    def xavier(r, c, gain=1.0):
        return torch.randn(r, c, dtype=torch.float64, generator=gen) * gain * (2.0 / (r + c)) ** 0.5

    beta = (8.0 * L) ** -0.25 if rs == "deepnorm" else 1.0
    out = (2.0 * L) ** -0.5 if rs == "gpt2" else 1.0
    P = {"wte": torch.randn(V, d, dtype=torch.float64, generator=gen),
         "wpe": torch.randn(T, d, dtype=torch.float64, generator=gen)}
    zeros = lambda n: torch.zeros(1, n, dtype=torch.float64)  # noqa: E731
    ones = lambda n: torch.ones(1, n, dtype=torch.float64)  # noqa: E731
    for l in range(1, L + 1):
        P[f"Wq{l}"], P[f"Wk{l}"] = xavier(d, d), xavier(d, d)
        P[f"Wv{l}"], P[f"Wo{l}"] = xavier(d, d, beta), xavier(d, d, beta * out)
        P[f"Wfc{l}"], P[f"Wproj{l}"] = xavier(ffn, d, beta), xavier(d, ffn, beta * out)
        for k in ("bq", "bk", "bv", "bo", "bproj"):
            P[f"{k}{l}"] = zeros(d)
        P[f"bfc{l}"] = zeros(ffn)
        for nm in ("ln1", "ln2"):
            P[f"{nm}_g{l}"], P[f"{nm}_b{l}"] = ones(d), zeros(d)
    if ln == "pre":
        P["gamma_out"], P["beta_out"] = ones(d), zeros(d)
    P["W_out"], P["b_out"] = xavier(V, d), torch.zeros(1, V, dtype=torch.float64)
    return P


def table(seeds, depths):
    d, H, ffn, T, V, n = 128, 4, 512, 32, 64, 16
    for L in depths:
        for name, ln, rs in SCHEMES:
            for seed in range(1, seeds + 1):
                gen = torch.Generator().manual_seed(seed)
                P = {k: v.requires_grad_(True) for k, v in make_params(ln, rs, L, gen=gen).items()}
                b = {"ln": ln, "rs": rs, "skip": 1, "mlp": 1, "causal": 0, "act": "gelu",
                     "dims": {"V": V, "T": T, "d": d, "H": H, "ffn": ffn, "L": L, "n": n},
                     "tokens": torch.randint(V, (n * T,), generator=gen),
                     "targets": torch.randint(V, (n * T,), generator=gen)}
                loss, ins, outs, probs, logits = hand_model(b, P)
                loss.backward()
                ratio = float(P[f"Wproj{L}"].grad.norm() / P["Wproj1"].grad.norm())
                X = outs[-1].detach()
                U = X / X.norm(dim=-1, keepdim=True)
                C = U @ U.transpose(-1, -2)
                cos = float(((C.sum((-1, -2)) - T) / (T * (T - 1))).mean())
                with torch.no_grad():
                    z0 = hand_logits(b, P)
                    for p in P.values():
                        p -= 1e-4 * torch.sign(p.grad)
                    z1 = hand_logits(b, P)
                print(f"scheme={name} L={L} seed={seed} w2_ratio={ratio:.4f} cos_top={cos:.4f} "
                      f"out_change={float((z1 - z0).norm() / z0.norm()):.4g}", flush=True)


def hand_logits(b, P):
    return hand_forward(b, P)[0]


class Stack(torch.nn.Module):
    def __init__(self, L, d, H, ffn, T, V):
        super().__init__()
        self.wte = torch.nn.Embedding(V, d)
        self.wpe = torch.nn.Parameter(torch.randn(T, d))
        self.blocks = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(d, H, ffn, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True)
            for _ in range(L))
        self.norm = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, V)
        self.register_buffer("mask", torch.triu(torch.full((T, T), float("-inf")), 1))

    def forward(self, tok):
        x = self.wte(tok) + self.wpe
        for blk in self.blocks:
            x = blk(x, src_mask=self.mask)
        return self.head(self.norm(x))


def timing(L, d, H, ffn, T, B, V, threads, reps):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    m = Stack(L, d, H, ffn, T, V).double()
    tok = torch.randint(V, (B, T))
    y = torch.randint(V, (B * T,))
    opt = torch.optim.SGD(m.parameters(), lr=1e-4)
    ms = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(m(tok).reshape(B * T, V), y)
        loss.backward()
        opt.step()
        if i:
            ms.append(1000.0 * (time.perf_counter() - t0))
    print(f"transformer ms_per_step={statistics.median(ms):.3f} threads={threads} reps={reps}")


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "table":
        return table(int(a[1]), [int(x) for x in a[2:]] or [6, 12, 24])
    if len(a) == 10 and a[0] == "time":
        return timing(*map(int, a[1:]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main() or 0)
