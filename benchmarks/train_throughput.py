"""Training throughput: PerturbedVAE.fit vs a hand-written PyTorch loop vs skorch's default path.

All three train the same network (the one PerturbedVAE builds) on the same data
with the same loss (reconstruction + KL + ladder potential), Adam, batch 128.

- ``perturbvae``: ``PerturbedVAE.fit`` (skorch net slicing device tensors);
- ``hand-written``: a bare loop that slices a pre-shuffled device tensor;
- ``skorch default``: a skorch ``NeuralNet`` fed a numpy array, i.e. skorch's
  per-sample ``Dataset`` + ``DataLoader`` collation.

Runs alternate (A, B, C, A, B, C, ...) and the median over repeats is reported,
so a transient load on the machine hits all three alike.

    python benchmarks/train_throughput.py                # CPU, one thread
    python benchmarks/train_throughput.py --device cuda  # on a GPU
"""

import argparse
import copy
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNet

from perturbvae import PerturbedVAE


def build_reference(X, device, hidden):
    """A PerturbedVAE at initialisation: its module is the shared network."""
    return PerturbedVAE(n_components=8, hidden_layer_sizes=hidden, max_epochs=0,
                        device=device, random_state=0).fit(X)


def vae_loss(module, potential, x, eps):
    out, mu, logvar, z = module(x, eps)
    loss = (module.reconstruction_nll(x, out) + module.kl_standard_normal(mu, logvar)
            + potential.expected(mu, logvar, z))
    return loss.mean()


def run_perturbvae(X, device, hidden, epochs, batch_size):
    est = PerturbedVAE(n_components=8, hidden_layer_sizes=hidden, max_epochs=epochs,
                       batch_size=batch_size, device=device, random_state=0)
    t = time.perf_counter()
    est.fit(X)
    _sync(device)
    return time.perf_counter() - t


def run_handwritten(X, device, hidden, epochs, batch_size, ref):
    module = copy.deepcopy(ref.net_.module_).to(device).train()
    potential = ref.potential_
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    n = Xt.shape[0]
    for _ in range(epochs):
        Xs = Xt[torch.randperm(n, generator=gen).to(device)]
        for s in range(0, n, batch_size):
            xb = Xs[s:s + batch_size]
            eps = torch.randn(xb.shape[0], 8, device=device)
            loss = vae_loss(module, potential, xb, eps)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # the same per-step host read every training loop makes
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
    ap.add_argument("--epochs", type=int, default=None, help="epochs per run (default: 10 for "
                    "digits, 2 for the 10^5-row set)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", default="256,128")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hidden = tuple(int(h) for h in args.hidden.split(","))

    digits = StandardScaler().fit_transform(load_digits().data)
    rng = np.random.RandomState(0)
    synth = np.tanh(rng.randn(100_000, 8) @ rng.randn(8, 64)) + 0.1 * rng.randn(100_000, 64)
    datasets = [("digits 1797x64", digits, args.epochs or 10),
                ("synthetic 100000x64", synth, args.epochs or 2)]

    name = torch.cuda.get_device_name() if str(args.device).startswith("cuda") else "CPU"
    print(f"device: {args.device} ({name}), torch threads: {torch.get_num_threads()}, "
          f"hidden={hidden}, batch 128, {args.repeats} alternating repeats (median)")
    print("| data | epochs | perturbvae (samples/s) | hand-written | skorch default | "
          "perturbvae / hand-written | skorch default / hand-written |")
    print("|---|---|---|---|---|---|---|")
    for label, X, epochs in datasets:
        ref = build_reference(X, args.device, hidden)
        times = {"pv": [], "hand": [], "sk": []}
        # one untimed warm-up of each path
        run_perturbvae(X[:2000], args.device, hidden, 1, 128)
        run_handwritten(X[:2000], args.device, hidden, 1, 128, ref)
        run_skorch_default(X[:2000], args.device, hidden, 1, 128, ref)
        for _ in range(args.repeats):
            times["pv"].append(run_perturbvae(X, args.device, hidden, epochs, 128))
            times["hand"].append(run_handwritten(X, args.device, hidden, epochs, 128, ref))
            times["sk"].append(run_skorch_default(X, args.device, hidden, epochs, 128, ref))
        rate = {k: len(X) * epochs / statistics.median(v) for k, v in times.items()}
        print(f"| {label} | {epochs} | {rate['pv']:,.0f} | {rate['hand']:,.0f} | "
              f"{rate['sk']:,.0f} | {rate['pv'] / rate['hand']:.2f} | "
              f"{rate['sk'] / rate['hand']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
