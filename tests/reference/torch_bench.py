"""PyTorch doing gradsweep's work, for pipeline/bench's engine section (not
run by make check).

    /usr/bin/python3 tests/reference/torch_bench.py CASE [KEY=VALUE...] [--threads N]
                                                    [--blas-threads M]
    /usr/bin/python3 tests/reference/torch_bench.py info

CASE and what it times (float64 throughout, the same shapes, data sizes,
losses and optimizers as gradsweep; everything after `import torch`):

  mlp      training steps of `gradsweep train` on dataset=gaussian: depth
           Linear layers (input_dim -> width, then width -> width), each
           followed by ReLU, a Linear readout to 10 classes, He (kaiming
           normal, fan_in) weights and zero biases, cross-entropy on random
           labels, SGD. Keys: depth width batch input_dim (0: the width)
           lr steps warmup.
  probe    `gradsweep probe` on dataset=gaussian: data, the network with
           its He init, one forward and one backward; the same for
           base_depth (default 1); reports both and their difference, plus
           the forward and backward alone. Keys: depth width batch
           input_dim base_depth.
  rnn, lstm, gru
           training steps on the adding problem: nn.RNN (tanh) / nn.LSTM /
           nn.GRU, input_size 2 (value, marker), batch_first, a
           Linear(width, 1) readout of the last hidden state, MSE, Adam,
           global-norm clipping. Keys: seq_len depth width batch lr clip
           steps warmup.
  digits   the README's first example end to end: load data/digits.csv.gz,
           80/20 split (a random one: the same sizes, not gradsweep's
           rows), standardize with the training part's mean and standard
           deviation, train (ReLU, He, Adam), loss and accuracy on both
           parts. Keys: depth width batch lr steps.

Training steps are timed as a loop of `steps` steps after `warmup` steps
(gradsweep's fixed costs are cancelled by the bench instead, by
differencing two step counts). Every step does what gradsweep's does:
gather a batch from the training set (new random order each epoch),
forward, loss (read as a number, as gradsweep checks it is finite),
zero the gradients, backward, the global gradient norm (gradsweep logs it
every step; clip_grad_norm_ when clipping), the optimizer step.

--threads N sets torch.set_num_threads(N) and, before torch loads,
OMP_NUM_THREADS; --blas-threads M (default N) sets OPENBLAS_NUM_THREADS
before torch loads (PyTorch's BLAS on Debian is OpenBLAS, which by itself
starts one thread per core: torch.set_num_threads(1) alone leaves the
matrix products on every core).

Output, one line: case=CASE threads=N blas_threads=M KEY=VALUE... (times
in ms, or s for digits; rates as gflops). `info` prints `torch=VERSION blas=LIBRARIES`
(the BLAS libraries torch has loaded).
"""
import os
import sys
import time


def parse(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if argv else 2)
    case, keys, threads, blas = argv[0], {}, 1, None
    rest = argv[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--threads", "--blas-threads") and i + 1 < len(rest):
            try:
                n = int(rest[i + 1])
            except ValueError:
                n = 0
            if n < 1:
                sys.exit("torch_bench.py: %s needs a number of threads, at least 1" % a)
            if a == "--threads":
                threads = n
            else:
                blas = n
            i += 2
            continue
        if "=" in a:
            k, v = a.split("=", 1)
            keys[k] = v
        else:
            sys.exit("torch_bench.py: unexpected argument %r (see --help)" % a)
        i += 1
    if case not in ("mlp", "probe", "rnn", "lstm", "gru", "digits", "info"):
        sys.exit("torch_bench.py: unknown case %r: mlp, probe, rnn, lstm, gru, digits or info"
                 % case)
    return case, keys, threads, blas or threads


CASE, KEYS, THREADS, BLAS_THREADS = parse(sys.argv[1:])
os.environ["OMP_NUM_THREADS"] = str(THREADS)
os.environ["OPENBLAS_NUM_THREADS"] = str(BLAS_THREADS)
import torch  # noqa: E402  (after the thread variables, on purpose)
import torch.nn.functional as F  # noqa: E402

T_START = time.perf_counter()   # what the digits case reports: after the import
torch.set_num_threads(THREADS)
torch.set_default_dtype(torch.float64)
GAUSSIAN_MIN_ROWS = 2000          # src/experiment/experiment.c
ADDING_MAX_ROWS = 20000
TRAIN_FRAC = 0.8
N_CLASSES = 10
USED = set()


def key(name, default, conv=int):
    USED.add(name)
    return conv(KEYS.get(name, default))


def now():
    return time.perf_counter()


def keys_read():
    """Refuse, before any work, keys the case does not know."""
    unused = set(KEYS) - USED
    if unused:
        sys.exit("torch_bench.py: case %s does not take %s" % (CASE, " ".join(sorted(unused))))


def report(**kv):
    fields = ["case=%s" % CASE, "threads=%d" % THREADS, "blas_threads=%d" % BLAS_THREADS]
    for k, v in kv.items():
        fields.append("%s=%.6g" % (k, v) if isinstance(v, float) else "%s=%s" % (k, v))
    print(" ".join(fields), flush=True)


def he_mlp(in_dim, width, depth, n_out):
    """depth hidden Linear+ReLU layers and a Linear readout, He weights, zero biases."""
    layers, fan = [], in_dim
    for _ in range(depth):
        layers += [torch.nn.Linear(fan, width), torch.nn.ReLU()]
        fan = width
    layers.append(torch.nn.Linear(fan, n_out))
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                m.bias.zero_()
    return net


def split(n):
    """Training rows of an 80/20 split of n rows, as gradsweep rounds it."""
    return int(round(TRAIN_FRAC * n))


class Batches:
    """Batches of a training set in a random order, a new order each epoch."""

    def __init__(self, n, batch):
        self.n, self.batch = n, batch
        self.order, self.cursor = torch.randperm(n), 0

    def next(self):
        if self.cursor + self.batch > self.n:
            self.order, self.cursor = torch.randperm(self.n), 0
        idx = self.order[self.cursor:self.cursor + self.batch]
        self.cursor += self.batch
        return idx


def grad_norm(params):
    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(p.grad) for p in params])).item()


def flops_mlp(in_dim, width, depth, n_out, batch):
    """3 x 2 x batch x sum(in x out): forward once, backward twice."""
    macs = in_dim * width + (depth - 1) * width * width + width * n_out
    return 6.0 * batch * macs


def time_loop(step, steps, warmup):
    for _ in range(warmup):
        step()
    t0 = now()
    for _ in range(steps):
        step()
    return (now() - t0) / steps


def case_mlp():
    depth, width, batch = key("depth", 50), key("width", 256), key("batch", 128)
    in_dim = key("input_dim", 0) or width
    lr, steps, warmup = key("lr", 0.01, float), key("steps", 50), key("warmup", 3)
    keys_read()
    torch.manual_seed(1)
    rows = max(GAUSSIAN_MIN_ROWS, -(-batch * 5 // 4) + 1)
    n_train = split(rows)
    x = torch.randn(n_train, in_dim)
    y = torch.randint(0, N_CLASSES, (n_train,))
    net = he_mlp(in_dim, width, depth, N_CLASSES)
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=lr)
    batches = Batches(n_train, batch)

    def step():
        idx = batches.next()
        xb, yb = x[idx], y[idx]
        loss = F.cross_entropy(net(xb), yb)
        loss.item()
        opt.zero_grad()
        loss.backward()
        grad_norm(params)
        opt.step()

    s = time_loop(step, steps, warmup)
    report(depth=depth, width=width, batch=batch, timing="loop_after_warmup", steps=steps,
           ms_per_step=1e3 * s, gflops=flops_mlp(in_dim, width, depth, N_CLASSES, batch) / s * 1e-9)


def one_probe(depth, width, batch, in_dim):
    """What `gradsweep probe` computes: data, network, one forward and backward.
    Returns (seconds of it all, seconds of the forward and backward)."""
    t0 = now()
    rows = max(GAUSSIAN_MIN_ROWS, -(-batch * 5 // 4) + 1)
    x = torch.randn(split(rows), in_dim)
    y = torch.randint(0, N_CLASSES, (x.shape[0],))
    net = he_mlp(in_dim, width, depth, N_CLASSES)
    t1 = now()
    loss = F.cross_entropy(net(x[:batch]), y[:batch])
    net.zero_grad()
    loss.backward()
    grad_norm(list(net.parameters()))
    t2 = now()
    return t2 - t0, t2 - t1


def case_probe():
    depth, width, batch = key("depth", 100), key("width", 1024), key("batch", 256)
    in_dim = key("input_dim", 0) or width
    base = key("base_depth", 1)
    keys_read()
    torch.manual_seed(1)
    one_probe(base, width, batch, in_dim)          # warm-up: thread pool, allocator
    s_base, _ = one_probe(base, width, batch, in_dim)
    s_full, s_fb = one_probe(depth, width, batch, in_dim)
    f_full = flops_mlp(in_dim, width, depth, N_CLASSES, batch)
    f_diff = f_full - flops_mlp(in_dim, width, base, N_CLASSES, batch)
    report(depth=depth, width=width, batch=batch, base_depth=base, ms=1e3 * s_full,
           ms_base=1e3 * s_base, ms_diff=1e3 * (s_full - s_base),
           gflops_diff=f_diff / (s_full - s_base) * 1e-9, ms_fwd_bwd=1e3 * s_fb,
           gflops_fwd_bwd=f_full / s_fb * 1e-9)


def adding(n, T):
    """n sequences of the adding problem (value, marker) and their targets."""
    x = torch.zeros(n, T, 2)
    x[:, :, 0] = torch.rand(n, T)
    a = torch.randint(0, T // 2, (n,))
    b = torch.randint(T // 2, T, (n,))
    r = torch.arange(n)
    x[r, a, 1] = 1.0
    x[r, b, 1] = 1.0
    return x, x[r, a, 0] + x[r, b, 0]


def case_recurrent():
    T, depth, width = key("seq_len", 50), key("depth", 1), key("width", 64)
    batch, lr, clip = key("batch", 64), key("lr", 3e-3, float), key("clip", 1.0, float)
    steps, warmup = key("steps", 100), key("warmup", 2)
    keys_read()
    torch.manual_seed(1)
    cap = 4000000 // (2 * T)
    base = min(ADDING_MAX_ROWS, max(cap, GAUSSIAN_MIN_ROWS))
    rows = max(base, -(-batch * 5 // 4) + 1)
    n_train = split(rows)
    x, y = adding(n_train, T)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[CASE]
    m = cls(2, width, num_layers=depth, batch_first=True)
    head = torch.nn.Linear(width, 1)
    params = list(m.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    batches = Batches(n_train, batch)

    def step():
        idx = batches.next()
        xb, yb = x[idx], y[idx]
        out, _ = m(xb)
        loss = ((head(out[:, -1, :]).squeeze(1) - yb) ** 2).mean()
        loss.item()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()

    s = time_loop(step, steps, warmup)
    report(seq_len=T, depth=depth, width=width, batch=batch, timing="loop_after_warmup",
           steps=steps, ms_per_step=1e3 * s)


def load_digits(path):
    """data/digits.csv.gz as src/data/digits.c reads it: 64 pixels, a label."""
    import gzip
    rows = []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.strip():
                rows.append([int(v) for v in line.split(",")])
    t = torch.tensor(rows, dtype=torch.float64)
    return t[:, :64].contiguous(), t[:, 64].long()


def case_digits():
    depth, width, batch = key("depth", 2), key("width", 100), key("batch", 32)
    lr, steps = key("lr", 1e-3, float), key("steps", 3000)
    keys_read()
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "data", "digits.csv.gz")
    torch.manual_seed(1)
    x, y = load_digits(path)
    perm = torch.randperm(x.shape[0])
    n_train = split(x.shape[0])
    xtr, ytr = x[perm[:n_train]], y[perm[:n_train]]
    xte, yte = x[perm[n_train:]], y[perm[n_train:]]
    mean, sd = xtr.mean(0), xtr.std(0, unbiased=False)
    sd[sd == 0] = 1.0
    xtr, xte = (xtr - mean) / sd, (xte - mean) / sd
    net = he_mlp(64, width, depth, N_CLASSES)
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    batches = Batches(n_train, batch)
    for _ in range(steps):
        idx = batches.next()
        loss = F.cross_entropy(net(xtr[idx]), ytr[idx])
        loss.item()
        opt.zero_grad()
        loss.backward()
        grad_norm(params)
        opt.step()
    with torch.no_grad():
        train_loss = F.cross_entropy(net(xtr), ytr).item()
        logits = net(xte)
        test_loss = F.cross_entropy(logits, yte).item()
        test_acc = (logits.argmax(1) == yte).double().mean().item()
    report(depth=depth, width=width, batch=batch, steps=steps, timing="whole_after_import",
           s=now() - T_START, train_loss=train_loss, test_loss=test_loss, test_acc=test_acc)


def case_info():
    keys_read()
    # the BLAS libraries torch has loaded (libblas.so.3 may be any alternative)
    with open("/proc/self/maps") as maps:
        libs = sorted({os.path.realpath(ln.split()[-1]) for ln in maps
                       if "blas" in ln and ln.split()[-1].startswith("/")})
    print("torch=%s blas=%s" % (torch.__version__, ",".join(libs) or "unknown"), flush=True)


{"mlp": case_mlp, "probe": case_probe, "rnn": case_recurrent, "lstm": case_recurrent,
 "gru": case_recurrent, "digits": case_digits, "info": case_info}[CASE]()
