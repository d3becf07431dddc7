"""gradsweep's transformer against PyTorch (float64) on shared weights.

Reads the blocks tests/transformer_dump writes (weights, tokens, targets,
loss, every gradient, the per-block statistics) and for each:

- rebuilds the stack by hand from torch operations (F.layer_norm, F.gelu,
  softmax, matmul; the residual schemes as nn/transformer.h states them)
  and compares the loss and every parameter gradient, relative error
  below 1e-10 (both sides compute in double: the differences are
  rounding);
- where PyTorch has the layer itself (ln = post or pre, no residual
  scale, skip and MLP on: nn.TransformerEncoderLayer with norm_first False
  or True, its in_proj_weight = [Wq; Wk; Wv], a float -inf mask for the
  causal case), runs that too and compares loss and gradients the same way;
- recomputes the block statistics from the hand-written model's
  tensors: grad_x_norm (autograd's gradient of the stream entering the
  block), rms, the mean cosine over token pairs (from the full cosine
  matrix), Dong's ||X - 1 xbar^T|| / ||X||, the smallest per-head mean
  attention entropy and the largest scaled logit: relative error below
  1e-10 (absolute below 1e-12 where the value is near 0).

With dropout (the header's 14th field, > 0) the dump holds every mask the
forward applied (attention probabilities, the attention output, the MLP's
activation, its output: inverted, 0 or 1/(1-p)); the hand-written model
multiplies by them where nn/transformer.h says, and
nn.TransformerEncoderLayer runs with that dropout in train mode, its
F.dropout calls (MultiheadAttention's and the layer's three) replaced by
gradsweep's masks in the order the layer makes them - the same 1e-10.

With qk_norm (its 15th, 1) the hand-written model puts each head's q and
k through F.layer_norm over d_head with qn_g, qn_b and kn_g, kn_b (timm's
q_norm and k_norm, shared by the heads); no nn.TransformerEncoderLayer.

Prints TAP; exits 1 on any failure.
"""
import math
import sys

import torch
import torch.nn.functional as F

TOL = 1e-10
EPS = 1e-5


def parse(path):
    blocks, cur = [], None
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "transformer":
                cur = {"ln": w[1], "rs": w[2], "skip": int(w[3]), "mlp": int(w[4]),
                       "causal": int(w[5]), "act": w[6],
                       "dims": dict(zip(["V", "T", "d", "H", "ffn", "L", "n"], map(int, w[7:14]))),
                       "dropout": float(w[14]) if len(w) > 14 else 0.0,
                       "qk_norm": int(w[15]) if len(w) > 15 else 0,
                       "tensors": {}, "grads": {}, "blocks": [], "masks": {}}
                blocks.append(cur)
            elif w[0] == "tensor":
                r, c = int(w[2]), int(w[3])
                t = torch.tensor(list(map(float, w[4:])), dtype=torch.float64)
                cur["tensors"][w[1]] = t.reshape(r, c)
            elif w[0] == "mask":
                cur["masks"][(int(w[1]), int(w[2]))] = torch.tensor(list(map(float, w[3:])),
                                                                    dtype=torch.float64)
            elif w[0] == "tokens":
                cur["tokens"] = torch.tensor(list(map(int, w[1:])), dtype=torch.long)
            elif w[0] == "targets":
                cur["targets"] = torch.tensor(list(map(int, w[1:])), dtype=torch.long)
            elif w[0] == "loss":
                cur["loss"] = float(w[1])
            elif w[0] == "grad":
                cur["grads"][w[1]] = torch.tensor(list(map(float, w[2:])), dtype=torch.float64)
            elif w[0] == "block":
                cur["blocks"].append(list(map(float, w[2:])))
    return blocks


def rel(a, b, floor=1e-12):
    den = max(float(a.norm()), float(b.norm()), floor)
    return float((a - b).norm()) / den


# The key bias's gradient is zero in exact arithmetic (it adds q_i . bk to
# every logit of row i, which softmax removes): both sides hold rounding
# noise, ~1e-17 per unit of the gradients it is made from. Compared with
# the floor 1e-5 (an absolute error below 1e-15), and both checked below
# 1e-14 - each bound times max(1, ||dL/dWq||) of the same block: the noise
# grows with the logits' gradient dS that dL/dWq carries too (2.6e-15 where
# ||dL/dWq1|| is 8.9: ln = none with dropout 0.3, scaled logits up to ~90).
# With QK-norm it is the keys' shift kn_b's instead (q_i . kn_b on every
# logit of row i; bk then goes through the norm and is general).
ZERO_IN_THEORY = "bk"
ZERO_FLOOR = 1e-5


def params_of(b):
    return {k: v.clone().requires_grad_(True) for k, v in b["tensors"].items()}


def embed(P, b):
    D = b["dims"]
    tok = b["tokens"].reshape(D["n"], D["T"])
    return P["wte"][tok] + P["wpe"][: D["T"]]


def hand_model(b, P):
    """Loss, the stream entering each block (retained), each block's
    output, its attention probabilities and scaled logits."""
    z, ins, outs, probs, logits = hand_forward(b, P)
    D = b["dims"]
    loss = F.cross_entropy(z.reshape(D["n"] * D["T"], -1), b["targets"])
    return loss, ins, outs, probs, logits


def hand_forward(b, P):
    """The logits (n, T, V) and what hand_model returns beside the loss."""
    D = b["dims"]
    n, T, d, H, L = D["n"], D["T"], D["d"], D["H"], D["L"]
    dh = d // H
    alpha = (2.0 * L) ** 0.25 if b["rs"] == "deepnorm" else 1.0
    a = alpha if b["skip"] else 0.0
    act = F.gelu if b["act"] == "gelu" else F.relu
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    x = embed(P, b)
    ins, outs, probs, logits = [], [], [], []
    M = b["masks"]

    def drop(v, l, site):
        """v times gradsweep's mask of block l at site (none: v)"""
        return v * M[(l, site)].reshape(v.shape) if (l, site) in M else v

    def norm(v, g, bb):
        return F.layer_norm(v, (d,), P[g].reshape(d), P[bb].reshape(d), EPS)

    for l in range(1, L + 1):
        if x.requires_grad:
            x.retain_grad()
        ins.append(x)

        def attention(v):
            q = v @ P[f"Wq{l}"].T + P[f"bq{l}"].reshape(d)
            k = v @ P[f"Wk{l}"].T + P[f"bk{l}"].reshape(d)
            val = v @ P[f"Wv{l}"].T + P[f"bv{l}"].reshape(d)
            q, k, val = (t.reshape(n, T, H, dh).transpose(1, 2) for t in (q, k, val))
            if b["qk_norm"]:   # timm's q_norm, k_norm = nn.LayerNorm(head_dim)
                q = F.layer_norm(q, (dh,), P[f"qn_g{l}"].reshape(dh), P[f"qn_b{l}"].reshape(dh), EPS)
                k = F.layer_norm(k, (dh,), P[f"kn_g{l}"].reshape(dh), P[f"kn_b{l}"].reshape(dh), EPS)
            s = q @ k.transpose(-1, -2) / math.sqrt(dh)
            if b["causal"]:
                s = s.masked_fill(mask, float("-inf"))
            p = torch.softmax(s, dim=-1)
            probs.append(p)
            logits.append(s)
            y = (drop(p, l, 0) @ val).transpose(1, 2).reshape(n, T, d)
            return drop(y @ P[f"Wo{l}"].T + P[f"bo{l}"].reshape(d), l, 1)

        def mlp(v):
            h = drop(act(v @ P[f"Wfc{l}"].T + P[f"bfc{l}"].reshape(-1)), l, 2)
            return drop(h @ P[f"Wproj{l}"].T + P[f"bproj{l}"].reshape(d), l, 3)

        subs = [(attention, "ln1")] + ([(mlp, "ln2")] if b["mlp"] else [])
        for k, (fn, nm) in enumerate(subs):
            s_k = P[f"rezero{l}"].reshape(-1)[k] if b["rs"] == "rezero" else 1.0
            if b["ln"] == "pre":
                x = a * x + s_k * fn(norm(x, f"{nm}_g{l}", f"{nm}_b{l}"))
            elif b["ln"] == "post":
                x = norm(a * x + s_k * fn(x), f"{nm}_g{l}", f"{nm}_b{l}")
            else:
                x = a * x + s_k * fn(x)
        outs.append(x)
    if b["ln"] == "pre":
        x = norm(x, "gamma_out", "beta_out")
    z = x @ P["W_out"].T + P["b_out"].reshape(-1)
    return z, ins, outs, probs, logits


def torch_layer_model(b, P):
    """The same stack from nn.TransformerEncoderLayer (ln post/pre, plain
    residuals, skip and MLP on), with b's dropout in train mode: F.dropout
    returns its input times gradsweep's next mask, in the order the layers
    call it (per layer: MultiheadAttention's on P, dropout1, the
    activation's, dropout2)."""
    queue = [b["masks"][k] for k in sorted(b["masks"])]   # (l, site): the call order
    real = F.dropout

    def fake(v, p=0.5, training=True, inplace=False):
        if b["dropout"] == 0:   # dropout 0 (the layer still calls F.dropout)
            return real(v, p, training, inplace)
        assert training and p == b["dropout"] and queue, "an F.dropout call without a mask"
        m = queue.pop(0)
        assert m.numel() == v.numel(), f"mask of {m.numel()} for {tuple(v.shape)}"
        return v * m.reshape(v.shape)

    torch.nn.functional.dropout = fake
    try:
        loss = layer_stack_loss(b, P)
    finally:
        torch.nn.functional.dropout = real
    assert not queue, f"{len(queue)} masks unused"
    return loss


def layer_stack_loss(b, P):
    D = b["dims"]
    n, T, d, H, L = D["n"], D["T"], D["d"], D["H"], D["L"]
    x = embed(P, b)
    mask = None
    if b["causal"]:
        mask = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), diagonal=1)
    for l in range(1, L + 1):
        layer = torch.nn.TransformerEncoderLayer(d, H, D["ffn"], dropout=b["dropout"],
                                                 activation=b["act"], layer_norm_eps=EPS,
                                                 batch_first=True,
                                                 norm_first=b["ln"] == "pre").double()
        sa = layer.self_attn
        del sa.in_proj_weight, sa.in_proj_bias, sa.out_proj.weight, sa.out_proj.bias
        sa.in_proj_weight = torch.cat([P[f"Wq{l}"], P[f"Wk{l}"], P[f"Wv{l}"]])
        sa.in_proj_bias = torch.cat([P[f"bq{l}"], P[f"bk{l}"], P[f"bv{l}"]], 1).reshape(-1)
        sa.out_proj.weight, sa.out_proj.bias = P[f"Wo{l}"], P[f"bo{l}"].reshape(-1)
        for mod, w, bb in ((layer.linear1, f"Wfc{l}", f"bfc{l}"),
                           (layer.linear2, f"Wproj{l}", f"bproj{l}"),
                           (layer.norm1, f"ln1_g{l}", f"ln1_b{l}"),
                           (layer.norm2, f"ln2_g{l}", f"ln2_b{l}")):
            del mod.weight, mod.bias
            mod.weight, mod.bias = P[w].reshape(-1) if w.startswith("ln") else P[w], P[bb].reshape(-1)
        layer.train()
        x = layer(x, src_mask=mask)
    if b["ln"] == "pre":
        x = F.layer_norm(x, (d,), P["gamma_out"].reshape(d), P["beta_out"].reshape(d), EPS)
    z = x @ P["W_out"].T + P["b_out"].reshape(-1)
    return F.cross_entropy(z.reshape(n * T, -1), b["targets"])


def grads_error(b, P):
    worst, wname = 0.0, "-"
    for k, g in b["grads"].items():
        tg = P[k].grad.reshape(-1) if P[k].grad is not None else torch.zeros_like(g)
        zname = "kn_b" if b["qk_norm"] else ZERO_IN_THEORY
        zero = k.startswith(zname) and k[len(zname):].isdigit()
        scale = max(1.0, float(b["grads"]["Wq" + k[len(zname):]].norm())) if zero else 1.0
        e = rel(g, tg, ZERO_FLOOR * scale if zero else 1e-12)
        if zero and max(float(g.norm()), float(tg.norm())) > 1e-14 * scale:
            e = float("inf")
        if e > worst or e != e:
            worst, wname = e, k
    return worst, wname


def stats_of(b, ins, outs, probs, logits):
    D = b["dims"]
    n, T = D["n"], D["T"]
    rows = []
    for l in range(D["L"]):
        X = outs[l].detach()
        gx = float(ins[l].grad.norm())
        rms = float(X.pow(2).mean().sqrt())
        U = X / X.norm(dim=-1, keepdim=True)
        C = U @ U.transpose(-1, -2)
        cos = float(((C.sum((-1, -2)) - C.diagonal(dim1=-2, dim2=-1).sum(-1))
                     / (T * (T - 1))).mean()) if T > 1 else float("nan")
        resid = float(((X - X.mean(1, keepdim=True)).flatten(1).norm(dim=1)
                       / X.flatten(1).norm(dim=1)).mean())
        p = probs[l].detach()
        ent = -(torch.where(p > 0, p * p.log(), torch.zeros_like(p))).sum(-1)   # (n, H, T)
        ent_min = float(ent.mean((0, 2)).min())
        s = logits[l].detach()
        lmax = float(s[torch.isfinite(s)].max())
        rows.append([gx, rms, cos, resid, ent_min, lmax])
    return rows


def main():
    blocks = parse(sys.argv[1])
    n, failed = 0, False

    def check(cond, msg):
        nonlocal n, failed
        n += 1
        print(("ok" if cond else "not ok") + f" {n} - {msg}")
        failed |= not cond

    names = ["grad_x_norm", "rms", "token_cosine", "rank_residual", "attn_entropy_min",
             "attn_logit_max"]
    for b in blocks:
        D = b["dims"]
        name = (f"ln={b['ln']} residual_scale={b['rs']} skip={b['skip']} mlp={b['mlp']} "
                f"causal={b['causal']} {b['act']} d={D['d']} heads={D['H']} T={D['T']} "
                f"L={D['L']} n={D['n']}" + (f" dropout={b['dropout']}" if b["dropout"] else "")
                + (" qk_norm" if b["qk_norm"] else ""))
        P = params_of(b)
        loss, ins, outs, probs, logits = hand_model(b, P)
        loss.backward()
        check(abs(float(loss) - b["loss"]) < TOL * abs(b["loss"]),
              f"{name}: loss {b['loss']:.15g} vs torch {float(loss):.15g}")
        worst, wname = grads_error(b, P)
        check(worst < TOL, f"{name}: all {len(b['grads'])} gradient tensors "
                           f"(worst {wname} relative error {worst:.1e})")
        want = stats_of(b, ins, outs, probs, logits)
        bad = []
        for l, (got, w) in enumerate(zip(b["blocks"], want)):
            for k, (g, w_) in enumerate(zip(got, w)):
                same_nan = math.isnan(g) and math.isnan(w_)
                if not same_nan and not abs(g - w_) <= max(TOL * abs(w_), 1e-12):
                    bad.append(f"block {l + 1} {names[k]} {g!r} vs {w_!r}")
        check(not bad and len(b["blocks"]) == D["L"],
              f"{name}: block statistics ({', '.join(bad) if bad else 'all within 1e-10'})")
        if (b["ln"] in ("post", "pre") and b["rs"] == "none" and b["skip"] and b["mlp"]
                and not b["qk_norm"]):   # (nn.TransformerEncoderLayer has no QK-norm)
            P2 = params_of(b)
            loss2 = torch_layer_model(b, P2)
            loss2.backward()
            worst, wname = grads_error(b, P2)
            check(abs(float(loss2) - b["loss"]) < TOL * abs(b["loss"]) and worst < TOL,
                  f"{name}: nn.TransformerEncoderLayer(norm_first={b['ln'] == 'pre'}): loss "
                  f"{float(loss2):.15g}, gradients worst {wname} {worst:.1e}")
    print(f"1..{n}")
    return 1 if failed or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
