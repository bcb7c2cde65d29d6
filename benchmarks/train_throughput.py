"""Training throughput: PerturbedVAE.fit vs a hand-written PyTorch loop vs skorch's default path.

All paths train the same network (the one PerturbedVAE builds) on the same data
with the same loss (reconstruction + KL + ladder potential) and Adam:

- ``perturbvae``: ``PerturbedVAE.fit`` (skorch net slicing device tensors,
  fused Adam, no host read inside an epoch);
- ``perturbvae stream``: the same with ``data_placement="stream"`` (rows
  stay in host memory and reach the device in blocks);
- ``hand-written``: a bare loop that slices a pre-shuffled device tensor, with
  the same Adam kernel, the loss summed on the device and read once per epoch
  (no per-step sync): the best a user's own loop does;
- ``skorch default``: a skorch ``NeuralNet`` fed a numpy array, i.e. skorch's
  per-sample ``Dataset`` + ``DataLoader`` collation, torch's default Adam and a
  loss read per step.

Each size runs at batch 128 and at ``batch_size="auto"`` (on a CPU that is 128
too, so that row is skipped). Runs alternate (A, B, C, ...) and the median
over repeats is reported, so a transient load on the machine hits all alike.

    python benchmarks/train_throughput.py                # CPU, one thread
    python benchmarks/train_throughput.py --device cuda  # on a GPU, same script
"""

import argparse
import copy
import statistics
import time
from functools import partial

import numpy as np
import torch
from skorch import NeuralNet

from perturbvae import PerturbedVAE
from perturbvae._vae._steps import adam_options, resolve_batch_size, scaled_lr


def build_reference(X, device, hidden):
    """A PerturbedVAE at initialisation: its module is the shared network."""
    return PerturbedVAE(n_components=8, hidden_layer_sizes=hidden, max_epochs=0,
                        device=device, random_state=0).fit(X)


def vae_loss(module, potential, x, eps):
    out, mu, logvar, z = module(x, eps)
    loss = (module.reconstruction_nll(x, out) + module.kl_standard_normal(mu, logvar)
            + potential.expected(mu, logvar, z))
    return loss.mean()


def run_perturbvae(X, device, hidden, epochs, batch_size, placement="device"):
    est = PerturbedVAE(n_components=8, hidden_layer_sizes=hidden, max_epochs=epochs,
                       batch_size=batch_size, device=device, random_state=0,
                       data_placement=placement)
    t = time.perf_counter()
    est.fit(X)
    _sync(device)
    return time.perf_counter() - t


def compile_check(X, device, hidden, epochs, repeats):
    """Steady-state samples/s (epochs after the first, from history's ``dur``)
    of fit with and without ``compile=True``, alternating; and the first epoch."""
    rates = {False: [], True: []}
    first = {False: [], True: []}
    for _ in range(repeats):
        for comp in (False, True):
            est = PerturbedVAE(n_components=8, hidden_layer_sizes=hidden, max_epochs=epochs,
                               device=device, random_state=0, compile=comp).fit(X)
            dur = est.history_[:, "dur"]
            rates[comp].append(len(X) * (epochs - 1) / sum(dur[1:]))
            first[comp].append(dur[0])
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"compile check, {len(X):,} rows, {epochs} epochs, batch 128: steady state "
          f"{med[False]:,.0f} (compile=False) vs {med[True]:,.0f} samples/s (compile=True), "
          f"ratio {med[True] / med[False]:.2f}; first epoch "
          f"{statistics.median(first[False]):.1f} s vs {statistics.median(first[True]):.1f} s")


def run_handwritten(X, device, hidden, epochs, batch_size, ref):
    """The loop a careful user writes: no host read until the end of an epoch."""
    batch = resolve_batch_size(batch_size, len(X), device)
    module = copy.deepcopy(ref.net_.module_).to(device).train()
    potential = ref.potential_
    opts = {k: v for k, v in adam_options(device).items() if v is not None}
    opt = torch.optim.Adam(module.parameters(), lr=scaled_lr(1e-3, batch_size, batch), **opts)
    gen = torch.Generator().manual_seed(0)
    noise = torch.Generator(device=device).manual_seed(1)
    t = time.perf_counter()
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    n = Xt.shape[0]
    for _ in range(epochs):
        Xs = Xt[torch.randperm(n, generator=gen).to(device)]
        total = torch.zeros((), device=device)
        for s in range(0, n, batch):
            xb = Xs[s:s + batch]
            eps = torch.randn(xb.shape[0], 8, device=device, generator=noise)
            loss = vae_loss(module, potential, xb, eps)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach()
        float(total)  # one read per epoch, as for a log line
    _sync(device)
    return time.perf_counter() - t


class _Sampling(torch.nn.Module):
    def __init__(self, module):
        super().__init__()
        self.inner = module

    def forward(self, x):
        return self.inner(x, torch.randn(x.shape[0], 8, device=x.device))


class _DefaultSkorchVAE(NeuralNet):
    def __init__(self, *args, potential=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.potential = potential

    def get_loss(self, y_pred, y_true, X=None, training=False):
        inner = self.module_.inner
        out, mu, logvar, z = y_pred
        x = X.to(self.device)
        return (inner.reconstruction_nll(x, out) + inner.kl_standard_normal(mu, logvar)
                + self.potential.expected(mu, logvar, z)).mean()


def run_skorch_default(X, device, hidden, epochs, batch_size, ref):
    net = _DefaultSkorchVAE(
        _Sampling(copy.deepcopy(ref.net_.module_)), criterion=torch.nn.Identity,
        potential=ref.potential_, optimizer=torch.optim.Adam, lr=1e-3,
        batch_size=batch_size, max_epochs=epochs, train_split=None,
        iterator_train__shuffle=True, device=device, verbose=0)
    t = time.perf_counter()
    net.fit(X.astype(np.float32), np.zeros(len(X), dtype=np.float32))
    _sync(device)
    return time.perf_counter() - t


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--epochs", type=int, nargs="+", default=None,
                    help="epochs per run for each size "
                         "(default: 2 and 1 on a CPU, 5 and 3 on a GPU)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--paths", nargs="+", default=["pv", "stream", "hand", "sk"],
                    help="pv stream hand sk")
    ap.add_argument("--compile-check", type=int, default=0, metavar="ROWS",
                    help="only measure compile=True against compile=False on ROWS rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    cuda = str(args.device).startswith("cuda")
    epochs = args.epochs or ([5, 3] if cuda else [2, 1])

    if args.compile_check:
        rng = np.random.RandomState(0)
        n = args.compile_check
        X = np.tanh(rng.randn(n, 8) @ rng.randn(8, 64)) + 0.1 * rng.randn(n, 64)
        compile_check(X, args.device, hidden, max(epochs[0], 3), args.repeats)
        return
    name = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"device: {args.device} ({name}), torch {torch.__version__}, torch threads: "
          f"{torch.get_num_threads()}, hidden={hidden}, {args.repeats} alternating repeats "
          "(median), samples/s")
    labels = {"pv": "perturbvae", "stream": "perturbvae stream", "hand": "hand-written",
              "sk": "skorch default"}
    cols = [p for p in args.paths if p != "hand"]
    print("| rows x 64 | batch | epochs | " + " | ".join(labels[p] for p in args.paths)
          + " | " + " | ".join(f"{labels[p]} / hand-written" for p in cols) + " |")
    print("|---" * (3 + len(args.paths) + len(cols)) + "|")
    rng = np.random.RandomState(0)
    W = rng.randn(8, 64)
    for i, n in enumerate(args.sizes):
        X = np.tanh(rng.randn(n, 8) @ W) + 0.1 * rng.randn(n, 64)
        n_epochs = epochs[min(i, len(epochs) - 1)]
        ref = build_reference(X[:10_000], args.device, hidden)
        seen = set()
        for bs in (128, "auto"):
            batch = resolve_batch_size(bs, n, args.device)
            if batch in seen:
                print(f"| {n:,} | auto = {batch} | (the same as above) |")
                continue
            seen.add(batch)
            run = {
                "pv": partial(run_perturbvae, X, args.device, hidden, n_epochs, bs),
                "stream": partial(run_perturbvae, X, args.device, hidden, n_epochs, bs, "stream"),
                "hand": partial(run_handwritten, X, args.device, hidden, n_epochs, bs, ref),
                "sk": partial(run_skorch_default, X, args.device, hidden, n_epochs, batch, ref),
            }
            small = X[:20_000]
            warm_up = {  # one untimed warm-up of each path
                "pv": partial(run_perturbvae, small, args.device, hidden, 1, bs),
                "stream": partial(run_perturbvae, small, args.device, hidden, 1, bs, "stream"),
                "hand": partial(run_handwritten, small, args.device, hidden, 1, bs, ref),
                "sk": partial(run_skorch_default, small, args.device, hidden, 1, batch, ref),
            }
            for p in args.paths:
                warm_up[p]()
            times = {p: [] for p in args.paths}
            for _ in range(args.repeats):
                for p in args.paths:
                    times[p].append(run[p]())
            rate = {p: n * n_epochs / statistics.median(v) for p, v in times.items()}
            label = f"auto = {batch}" if bs == "auto" else str(batch)
            ratios = " | ".join(f"{rate[p] / rate['hand']:.2f}" if "hand" in rate else "-"
                                for p in cols)
            print(f"| {n:,} | {label} | {n_epochs} | "
                  + " | ".join(f"{rate[p]:,.0f}" for p in args.paths) + f" | {ratios} |",
                  flush=True)


if __name__ == "__main__":
    main()
