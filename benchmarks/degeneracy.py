"""Degeneracy benchmark: do independently trained models agree axis by axis?

For every data set and every method, fits

- 5 models that differ only in ``random_state`` (each on the full data), and
- 5 models on 5 random 80 % subsamples (each with its own seed too),

embeds the *full* data with each, and reports the mean over pairs of
:func:`perturbvae.metrics.axis_agreement` (same-index axes, no alignment) and
:func:`perturbvae.metrics.subspace_agreement` (after the best linear alignment),
and their gap, the degeneracy. The subsample fits are also evaluated on the 20 %
they did not see: reconstruction MSE of ``inverse_transform(transform(X))`` and
the held-out ELBO (``score``). The 5-NN accuracy (5-fold cross-validated
``KNeighborsClassifier``) and the cluster separation are measured on the
full-data embeddings of the seed fits, where labels exist: the silhouette score
of the true labels (on a fixed subsample of at most 2,000 points) and the
adjusted Rand index of ``KMeans`` (as many clusters as classes, ``n_init=10``,
``random_state=0``) against the true labels. Fit time is the mean over all 10
fits of a row (one thread per fit).

The fits of a row run in parallel through joblib (``--n-jobs``, default 2),
each worker with one torch thread and one BLAS thread.

Usage::

    python benchmarks/degeneracy.py                      # full run
    python benchmarks/degeneracy.py --quick              # smoke run, ~1 minute
    python benchmarks/degeneracy.py --datasets digits --epochs 100 --seeds 5
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA, FastICA  # noqa: E402
from sklearn.metrics import adjusted_rand_score, silhouette_score  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from perturbvae import PerturbedVAE  # noqa: E402
from perturbvae._threads import limit_threads  # noqa: E402
from perturbvae.metrics import _pair_mean, _pairwise_agreement  # noqa: E402

torch.set_num_threads(1)


# --------------------------------------------------------------------------- data --
def _random_tanh_map(S, n_features, n_hidden, rng, noise):
    """A random 2-layer tanh network applied to latent codes S, plus Gaussian noise."""
    d = S.shape[1]
    W1 = rng.normal(size=(d, n_hidden)) / np.sqrt(d) * 1.5
    b1 = rng.normal(size=n_hidden) * 0.5
    W2 = rng.normal(size=(n_hidden, n_features)) / np.sqrt(n_hidden)
    S = S / S.std(axis=0).mean()  # the tanh sees O(1) inputs whatever the scales
    X = np.tanh(S @ W1 + b1) @ W2
    X += noise * X.std() * rng.normal(size=X.shape)
    return X


def make_factors(n_samples=2000, n_features=40, scales=(3.0, 2.0, 1.3, 0.8), random_state=0,
                 noise=0.05):
    """Independent Gaussian latent factors of different scales, mapped non-linearly."""
    rng = np.random.RandomState(random_state)
    S = rng.normal(size=(n_samples, len(scales))) * np.asarray(scales)
    X = _random_tanh_map(S, n_features, 64, rng, noise)
    return StandardScaler().fit_transform(X), None, S


def make_clusters(n_samples=2000, n_features=30, n_clusters=5, latent_dim=8, separation=14.0,
                  random_state=0, noise=0.05):
    """Well-separated Gaussian clusters in a latent space, mapped non-linearly; with labels."""
    rng = np.random.RandomState(random_state)
    centres = rng.normal(size=(n_clusters, latent_dim))
    centres *= separation / np.sqrt(2 * latent_dim)  # expected centre distance ~ separation
    y = np.arange(n_samples) % n_clusters
    S = centres[y] + rng.normal(size=(n_samples, latent_dim))
    X = _random_tanh_map(S, n_features, 64, rng, noise)
    return StandardScaler().fit_transform(X), y, S


def make_digits():
    data = load_digits()
    return StandardScaler().fit_transform(data.data), data.target, None


DATASETS = {
    # name: (loader, n_components)
    "digits": (make_digits, 8),
    "factors": (make_factors, 4),
    "clusters": (make_clusters, 4),
}


# ---------------------------------------------------------------------- methods --
def make_methods(d, epochs, hidden, strengths=(1.0, 4.0)):
    kw = dict(n_components=d, max_epochs=epochs, hidden_layer_sizes=hidden, device="cpu")
    ladders = [
        (f"pca start + ladder lam={lam:g}" + (" (defaults)" if lam == 1.0 else ""),
         PerturbedVAE(init="pca", perturbation="ladder", perturbation_strength=lam, **kw))
        for lam in strengths
    ]
    return [
        ("PCA", PCA(n_components=d)),
        ("FastICA", FastICA(n_components=d, max_iter=1000, whiten="unit-variance")),
        ("plain VAE (random start, no potential)",
         PerturbedVAE(init="random", perturbation=None, **kw)),
        ("ladder alone (random start, lam=1)",
         PerturbedVAE(init="random", perturbation="ladder", perturbation_strength=1.0, **kw)),
        ("pca start alone (no potential)",
         PerturbedVAE(init="pca", perturbation=None, **kw)),
        *ladders,
        ("pca start + wells",
         PerturbedVAE(init="pca", perturbation="wells", **kw)),
    ]


# ------------------------------------------------------------------------- fits --
def _fit_one(estimator, X, seed, fit_idx, held_idx):
    """Fit one clone; return the full-data embedding and held-out figures."""
    with limit_threads(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clone(estimator).set_params(random_state=seed)
        X_fit = X if fit_idx is None else X[fit_idx]
        t0 = time.perf_counter()
        model.fit(X_fit)
        fit_time = time.perf_counter() - t0
        Z = np.asarray(model.transform(X), dtype=np.float64)
        out = {"Z": Z, "time": fit_time, "mse": np.nan, "elbo": np.nan, "n_wells": None}
        if held_idx is not None:
            Xh = X[held_idx]
            out["mse"] = float(np.mean((model.inverse_transform(model.transform(Xh)) - Xh) ** 2))
            if isinstance(model, (PerturbedVAE, PCA)):
                out["elbo"] = model.score(Xh)  # PCA: exact pPCA log-likelihood, for reference
        pot = getattr(model, "potential_", None)
        if pot is not None and hasattr(pot, "n_wells_"):
            out["n_wells"] = int(pot.n_wells_)
    return out


def _pairs(Zs):
    axis, subspace = _pairwise_agreement(Zs)
    return _pair_mean(axis), _pair_mean(subspace)


def _knn(Z, y):
    with threadpool_limits(limits=1):
        return float(cross_val_score(KNeighborsClassifier(5), Z, y, cv=5).mean())


def _separation(Z, y, max_samples=2000):
    """Silhouette of the true labels, and ARI of k-means (k = number of classes) against them."""
    with threadpool_limits(limits=1):
        sil = silhouette_score(Z, y, sample_size=min(max_samples, len(y)), random_state=0)
        km = KMeans(len(np.unique(y)), n_init=10, random_state=0).fit_predict(Z)
    return float(sil), float(adjusted_rand_score(y, km))


def run_row(estimator, X, y, n_seeds, fraction, n_jobs, subsample_seed=10_000):
    n = X.shape[0]
    n_fit = int(round(fraction * n))
    tasks = [(s, None, None) for s in range(n_seeds)]
    for k in range(n_seeds):
        rng = np.random.RandomState(subsample_seed + k)
        perm = rng.permutation(n)
        tasks.append((500 + k, np.sort(perm[:n_fit]), np.sort(perm[n_fit:])))
    res = Parallel(n_jobs=n_jobs)(
        delayed(_fit_one)(estimator, X, seed, fi, hi) for seed, fi, hi in tasks)
    seed_res, sub_res = res[:n_seeds], res[n_seeds:]
    row = {}
    row["seed_axis"], row["seed_sub"] = _pairs([r["Z"] for r in seed_res])
    row["sub_axis"], row["sub_sub"] = _pairs([r["Z"] for r in sub_res])
    row["mse"] = float(np.mean([r["mse"] for r in sub_res]))
    row["elbo"] = float(np.mean([r["elbo"] for r in sub_res]))
    row["knn"] = np.nan if y is None else float(np.mean([_knn(r["Z"], y) for r in seed_res]))
    sep = [(np.nan, np.nan)] if y is None else [_separation(r["Z"], y) for r in seed_res]
    row["sil"], row["ari"] = (float(v) for v in np.mean(sep, axis=0))
    row["time"] = float(np.mean([r["time"] for r in res]))
    wells = [r["n_wells"] for r in res if r["n_wells"] is not None]
    row["n_wells"] = wells
    return row


def _f(v, fmt="{:.3f}"):
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else fmt.format(v)


def format_table(rows):
    head = ("| data (d) | method | axis (seeds) | subspace (seeds) | gap (seeds) "
            "| axis (80 %) | subspace (80 %) | gap (80 %) | held-out MSE | held-out ELBO "
            "| 5-NN acc | silhouette | k-means ARI | fit s |")
    sep = "|" + "---|" * 14
    lines = [head, sep]
    for r in rows:
        elbo = _f(r["elbo"], "{:.1f}")
        if r["method"] == "PCA" and elbo != "n/a":
            elbo += "*"
        lines.append(
            f"| {r['data']} | {r['method']} | {_f(r['seed_axis'])} | {_f(r['seed_sub'])} "
            f"| {_f(r['seed_sub'] - r['seed_axis'])} | {_f(r['sub_axis'])} | {_f(r['sub_sub'])} "
            f"| {_f(r['sub_sub'] - r['sub_axis'])} | {_f(r['mse'])} | {elbo} | {_f(r['knn'])} "
            f"| {_f(r['sil'])} | {_f(r['ari'])} | {_f(r['time'], '{:.1f}')} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--epochs", type=int, default=100, help="epochs for digits (default 100)")
    p.add_argument("--synthetic-epochs", type=int, default=None,
                   help="epochs for the synthetic sets (default: same as --epochs)")
    p.add_argument("--seeds", type=int, default=5, help="fits per setting (default 5)")
    p.add_argument("--fraction", type=float, default=0.8, help="subsample fraction (0.8)")
    p.add_argument("--n-jobs", type=int, default=2, help="parallel fits (default 2)")
    p.add_argument("--strengths", nargs="+", type=float, default=[1.0, 4.0],
                   help="ladder strengths of the 'pca start + ladder' rows (default 1 4)")
    p.add_argument("--subsample-seed", type=int, default=10_000,
                   help="subsample k is drawn with RandomState(subsample_seed + k)")
    p.add_argument("--methods", nargs="*", default=None,
                   help="only the methods whose name contains one of these strings "
                        "(case-insensitive; '=NAME' matches the whole name, e.g. '=PCA')")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3 seeds, 5 epochs, small hidden layers, 600 samples")
    args = p.parse_args(argv)

    epochs, syn_epochs = args.epochs, args.synthetic_epochs or args.epochs
    n_seeds, hidden = args.seeds, (256, 128)
    if args.quick:
        epochs = syn_epochs = 5
        n_seeds, hidden = 3, (32,)

    print(f"# command: python benchmarks/degeneracy.py {' '.join(argv or sys.argv[1:])}")
    print(f"# epochs: digits {epochs}, synthetic {syn_epochs}; seeds {n_seeds}; "
          f"subsample {args.fraction} (draws from seed {args.subsample_seed}); "
          f"hidden {hidden}; n_jobs {args.n_jobs}; torch {torch.__version__}", flush=True)
    rows = []
    for name in args.datasets:
        loader, d = DATASETS[name]
        X, y, _ = loader()
        if args.quick:
            X = X[:600]
            y = None if y is None else y[:600]
        ep = epochs if name == "digits" else syn_epochs
        for label, est in make_methods(d, ep, hidden, args.strengths):
            low = label.lower()
            if args.methods and not any(m[1:].lower() == low if m.startswith("=")
                                        else m.lower() in low for m in args.methods):
                continue
            t0 = time.perf_counter()
            row = run_row(est, X, y, n_seeds, args.fraction, args.n_jobs, args.subsample_seed)
            row.update(data=f"{name} ({d})", method=label)
            rows.append(row)
            extra = f", wells found {row['n_wells']}" if row["n_wells"] else ""
            print(f"# {name} / {label}: done in {time.perf_counter() - t0:.0f} s "
                  f"(seed axis {row['seed_axis']:.3f}, subspace {row['seed_sub']:.3f}; "
                  f"80% axis {row['sub_axis']:.3f}, subspace {row['sub_sub']:.3f}){extra}",
                  flush=True)
    print()
    print(format_table(rows))
    print()
    print("Agreements are means over the 10 pairs of 5 fits (seeds: full data, different "
          "random_state; 80 %: different random subsamples and seeds), computed on the full data. "
          "gap = subspace - axis (the degeneracy). Held-out MSE and ELBO: subsample fits on "
          "the 20 % they did not see. * PCA: exact probabilistic-PCA log-likelihood, for "
          "reference. 5-NN: 5-fold CV accuracy on the seed fits' embeddings. silhouette: of "
          "the true labels; k-means ARI: KMeans(number of classes, n_init=10, random_state=0) "
          "against the true labels; both on the seed fits' embeddings, mean over the seeds.")
    for r in rows:
        if r["n_wells"]:
            print(f"Wells found ({r['data']} / {r['method']}, n_wells_ per fit, seeds then 80 %): "
                  f"{r['n_wells']}")
    return rows


if __name__ == "__main__":
    main()
