"""Compare gradsweep's loss and gradients with PyTorch autograd.

Reads the blocks tests/torch_dump writes (weights, a batch, loss, every
gradient, ||dL/dh_l|| per hidden layer), rebuilds each network in PyTorch
in float64 with identical weights, and prints TAP: per config the loss,
every parameter gradient and every grad_pre_norm, each with relative error
below 1e-10 (both sides compute in double; the differences are rounding).
"""
import sys

import torch
import torch.nn.functional as F

TOL = 1e-10


def act_fn(name, a):
    return {
        "identity": lambda x: x,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=a),
        "elu": lambda x: F.elu(x, alpha=a),
        "selu": F.selu,
        "gelu": F.gelu,
        "silu": F.silu,
        # threshold well above any input here: the exact log(1 + e^x)
        "softplus": lambda x: F.softplus(x, beta=1.0, threshold=1000.0),
    }[name]


def parse(path):
    blocks, cur = [], None
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "recurrent":
                cur = {"cell": w[1], "act": w[2], "dims": list(map(int, w[3:9])),
                       "tensors": {}, "grads": {}}
                blocks.append(cur)
            elif w[0] == "time":
                cur["time"] = list(map(float, w[1:]))
            elif w[0] == "time_grad":
                cur["time_grad"] = list(map(float, w[1:]))
            elif w[0] == "config":
                cur = {"act": w[1], "a": float(w[2]), "norm": w[3], "res": int(w[4]),
                       "dims": list(map(int, w[5:10])), "tensors": {}, "grads": {}}
                blocks.append(cur)
            elif w[0] == "tensor":
                r, c = int(w[2]), int(w[3])
                t = torch.tensor(list(map(float, w[4:])), dtype=torch.float64)
                cur["tensors"][w[1]] = t.reshape(r, c) if r > 1 else t
            elif w[0] == "x":
                cur["x"] = torch.tensor(list(map(float, w[1:])), dtype=torch.float64)
            elif w[0] == "y":
                cur["y"] = torch.tensor(list(map(int, w[1:])), dtype=torch.long)
            elif w[0] == "loss":
                cur["loss"] = float(w[1])
            elif w[0] == "grad":
                cur["grads"][w[1]] = torch.tensor(list(map(float, w[2:])), dtype=torch.float64)
            elif w[0] == "grad_pre_norm":
                cur["gpn"] = list(map(float, w[1:]))
            elif w[0] == "stats":
                cur.setdefault("stats", []).append(list(map(float, w[2:])))
    return blocks


def rel(a, b):
    # Gradients here are 1e-3..1. A bias followed by batch norm has a zero
    # gradient in exact arithmetic and ~1e-17 of rounding on both sides:
    # the floor 1e-5 makes that an absolute check (error below 1e-15).
    den = max(float(a.norm()), float(b.norm()), 1e-5)
    return float((a - b).norm()) / den


def check_recurrent(b, check):
    """PyTorch's own cells with gradsweep's weights (Wx, Wh, bx, bh are
    weight_ih, weight_hh, bias_ih, bias_hh): nn.RNN / nn.LSTM / nn.GRU for
    the lower layers, the matching nn.*Cell unrolled for the top layer so
    that each h_t's total gradient dL/dh_t can be read."""
    D, H, depth, T, out, batch = b["dims"]
    cell = b["cell"]
    t = b["tensors"]

    def load(m, l, suffix):
        with torch.no_grad():
            getattr(m, "weight_ih" + suffix).copy_(t[f"Wx{l + 1}"])
            getattr(m, "weight_hh" + suffix).copy_(t[f"Wh{l + 1}"])
            getattr(m, "bias_ih" + suffix).copy_(t[f"bx{l + 1}"])
            getattr(m, "bias_hh" + suffix).copy_(t[f"bh{l + 1}"])
        return m

    params = {}
    x = b["x"].reshape(batch, T, D)
    inp = x
    for l in range(depth - 1):
        d_in = D if l == 0 else H
        m = {"rnn": lambda: torch.nn.RNN(d_in, H, 1, nonlinearity=b["act"], batch_first=True),
             "lstm": lambda: torch.nn.LSTM(d_in, H, 1, batch_first=True),
             "gru": lambda: torch.nn.GRU(d_in, H, 1, batch_first=True)}[cell]().double()
        load(m, l, "_l0")
        params[l] = m
        inp, _ = m(inp)
    l = depth - 1
    d_in = D if l == 0 else H
    c = {"rnn": lambda: torch.nn.RNNCell(d_in, H, nonlinearity=b["act"]),
         "lstm": lambda: torch.nn.LSTMCell(d_in, H),
         "gru": lambda: torch.nn.GRUCell(d_in, H)}[cell]().double()
    load(c, l, "")
    params[l] = c
    h = torch.zeros(batch, H, dtype=torch.float64)
    cs = torch.zeros(batch, H, dtype=torch.float64)
    hs = []
    for s in range(T):
        if cell == "lstm":
            h, cs = c(inp[:, s, :], (h, cs))
        else:
            h = c(inp[:, s, :], h)
        h.retain_grad()
        hs.append(h)
    W = t["W_out"].clone().requires_grad_(True)
    bo = t["b_out"].clone().requires_grad_(True)
    loss = F.cross_entropy(h @ W.T + bo, b["y"])
    loss.backward()
    name = f"{cell}({b['act']}) depth={depth} T={T}"
    check(abs(float(loss) - b["loss"]) < TOL * abs(b["loss"]),
          f"{name}: loss {b['loss']:.12g} vs torch {float(loss):.12g}")
    got = {"W_out": W.grad, "b_out": bo.grad}
    for l, m in params.items():
        suffix = "" if l == depth - 1 else "_l0"
        got[f"Wx{l + 1}"] = getattr(m, "weight_ih" + suffix).grad
        got[f"Wh{l + 1}"] = getattr(m, "weight_hh" + suffix).grad
        got[f"bx{l + 1}"] = getattr(m, "bias_ih" + suffix).grad
        got[f"bh{l + 1}"] = getattr(m, "bias_hh" + suffix).grad
    worst, wname = 0.0, ""
    for k, g in b["grads"].items():
        e = rel(g, got[k].reshape(-1))
        if e > worst or not e == e:
            worst, wname = e, k
    check(worst < TOL, f"{name}: all {len(b['grads'])} gradient tensors through time "
                       f"(worst {wname or '-'} relative error {worst:.1e})")
    tg = torch.tensor([float(hh.grad.norm()) for hh in hs], dtype=torch.float64)
    check(rel(torch.tensor(b["time_grad"], dtype=torch.float64), tg) < TOL,
          f"{name}: grad_hidden_norm ||dL/dh_t|| (top layer, all paths) for every t")
    hn = torch.tensor([float(hh.detach().norm(dim=1).mean()) for hh in hs], dtype=torch.float64)
    check(rel(torch.tensor(b["time"], dtype=torch.float64), hn) < TOL,
          f"{name}: hidden_norm mean ||h_t|| for every t")


def main():
    blocks = parse(sys.argv[1])
    n = 0
    failed = 0

    def check(cond, msg):
        nonlocal n, failed
        n += 1
        if not cond:
            failed += 1
        print(("ok" if cond else "not ok") + f" {n} - {msg}")

    for b in blocks:
        if "cell" in b:
            check_recurrent(b, check)
            continue
        inp, width, depth, out, batch = b["dims"]
        P = {k: v.clone().requires_grad_(True) for k, v in b["tensors"].items()}
        f = act_fn(b["act"], b["a"])
        x = b["x"].reshape(batch, inp)
        hs, acts, outs = [], [], []
        for l in range(1, depth + 1):
            h = x @ P[f"W{l}"].T + P[f"b{l}"]
            h.retain_grad()
            hs.append(h)
            if b["norm"] == "batch":
                a = F.batch_norm(h, None, None, P[f"gamma{l}"], P[f"beta{l}"],
                                 training=True, eps=1e-5)
            elif b["norm"] == "layer":
                a = F.layer_norm(h, (width,), P[f"gamma{l}"], P[f"beta{l}"], eps=1e-5)
            else:
                a = h
            a.retain_grad()
            acts.append(a)
            y = f(a)
            x = x + y if (b["res"] and l > 1) else y
            outs.append(x)
        logits = x @ P["W_out"].T + P["b_out"]
        loss = F.cross_entropy(logits, b["y"])
        loss.backward()
        name = f"{b['act']}({b['a']:g}) norm={b['norm']} residual={'yes' if b['res'] else 'no'}"
        lt = torch.tensor([float(loss)], dtype=torch.float64)
        check(rel(lt, torch.tensor([b["loss"]], dtype=torch.float64)) < TOL,
              f"{name}: loss {b['loss']:.12g} vs torch {float(loss):.12g}")
        worst, wname = 0.0, ""
        for k, g in b["grads"].items():
            e = rel(g, P[k].grad.reshape(-1))
            if e > worst or not e == e:
                worst, wname = e, k
        check(worst < TOL, f"{name}: all {len(b['grads'])} gradient tensors "
                           f"(worst {wname or '-'} relative error {worst:.1e})")
        gpn = torch.tensor(b["gpn"], dtype=torch.float64)
        tn = torch.tensor([float(h.grad.norm()) for h in hs], dtype=torch.float64)
        check(rel(gpn, tn) < TOL, f"{name}: grad_pre_norm ||dL/dh_l|| per layer")
        # the other per-layer measurements, computed independently here;
        # phi' by autograd of phi at the activation's input
        amax = {"sigmoid": 0.25, "selu": 1.0507009873554805 * 1.6732632423543772,
                "gelu": 1.128904145185155, "silu": 1.099839320128867}.get(b["act"], 1.0)
        if b["act"] in ("leaky_relu", "elu"):
            amax = max(1.0, b["a"])
        worst = 0.0
        for l in range(depth):
            av = acts[l].detach().clone().requires_grad_(True)
            f(av).sum().backward()
            d = av.grad.abs()
            o = outs[l].detach()
            want = [float(o.mean()), float(o.std(unbiased=False)),
                    float((d < 0.05 * amax).double().mean()), float((d == 0).double().mean()),
                    float(P[f"W{l + 1}"].grad.norm()), float(P[f"W{l + 1}"].detach().norm())]
            got = b["stats"][l]
            for g, w_ in zip(got, want):
                worst = max(worst, abs(g - w_) / max(abs(w_), 1e-12))
        check(worst < TOL, f"{name}: act_mean, act_std, saturated_frac, dead_frac, "
                           f"grad_w_norm, w_norm per layer (worst relative error {worst:.1e})")
    print(f"1..{n}")
    return 1 if failed or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
