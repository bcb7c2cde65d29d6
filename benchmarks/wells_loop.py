"""Does ``perturbation="wells"`` keep the data's groups in the embedding?

Digits and wine (standardised), ``n_components`` 2 and 10, three seeds, 60
epochs; each model is trained on 80 % of the rows (stratified split, seed 0)
and measured on the embedding of all rows:

- ``ari``: KMeans (true number of classes) on the embedding against the classes;
- ``knn``: 10-nearest-neighbour accuracy, 5-fold cross-validated;
- ``elbo``: held-out ELBO (``score`` on the other 20 %), nats per sample;
- ``axes``: ``axis_agreement`` averaged over the three pairs of seeds;
- ``fit_s``: seconds per fit (on a shared machine: compare within one run).

Rows: ``none`` (plain VAE, pPCA start), ``ladder`` (the default), ``wells``
(``perturbation="wells"``: the count and groups of
:func:`perturbvae.potentials.well_groups` on the data), ``wells-k``
(``Wells(n_wells=k)`` with the true k, the groups still the count's) and
``wells-oracle`` (the true classes as the groups: the ceiling of the
placement). Means over seeds, with min-max; ``k`` is the number of wells used.

Run: ``python benchmarks/wells_loop.py [--epochs 60] [--seeds 0 1 2]``.
"""

import argparse
import itertools
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, load_wine
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

import perturbvae.potentials as potentials
from perturbvae import PerturbedVAE
from perturbvae.metrics import axis_agreement


def oracle_groups(labels):
    """A ``well_groups`` that returns the true classes of the training rows."""
    def groups(X, n_wells=None, max_wells=10, random_state=None):
        return len(np.unique(labels)), labels
    return groups


def run_one(X, y, Xtr, Xte, d, perturbation, seed, epochs):
    t0 = time.perf_counter()
    model = PerturbedVAE(n_components=d, perturbation=perturbation, max_epochs=epochs,
                         random_state=seed, device="cpu").fit(Xtr)
    fit_s = time.perf_counter() - t0
    Z = model.transform(X)
    k = len(np.unique(y))
    ari = adjusted_rand_score(y, KMeans(k, n_init=10, random_state=0).fit_predict(Z))
    knn = cross_val_score(KNeighborsClassifier(10), Z, y, cv=5).mean()
    pot = model.potential_
    wells = getattr(pot, "n_wells_", 0)
    return Z, dict(ari=ari, knn=knn, elbo=model.score(Xte), fit_s=fit_s, k=wells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", nargs="+", default=["digits", "wine"])
    args = parser.parse_args()
    loaders = {"digits": load_digits, "wine": load_wine}
    print(f"{'data':7} {'d':>2} {'perturbation':13} {'ari':>17} {'knn':>17} "
          f"{'elbo':>20} {'axes':>6} {'fit_s':>6} {'k':>8}")
    well_groups = potentials.well_groups
    for name, d in itertools.product(args.data, (2, 10)):
        X, y = loaders[name](return_X_y=True)
        X = StandardScaler().fit_transform(X)
        Xtr, Xte, ytr, _ = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
        k = len(np.unique(y))
        for label in ("none", "ladder", "wells", "wells-k", "wells-oracle"):
            perturbation = {"none": None, "ladder": "ladder", "wells": "wells"}.get(
                label, potentials.Wells(n_wells=k))
            potentials.well_groups = oracle_groups(ytr) if label == "wells-oracle" else well_groups
            embeddings, rows = [], []
            for seed in args.seeds:
                Z, row = run_one(X, y, Xtr, Xte, d, perturbation, seed, args.epochs)
                embeddings.append(Z)
                rows.append(row)
            potentials.well_groups = well_groups
            axes = np.mean([axis_agreement(a, b)
                            for a, b in itertools.combinations(embeddings, 2)])

            def cell(key, fmt, rows=rows):
                v = np.array([r[key] for r in rows])
                return f"{v.mean():{fmt}} ({v.min():{fmt}}-{v.max():{fmt}})"

            print(f"{name:7} {d:>2} {label:13} {cell('ari', '.3f')} {cell('knn', '.3f')} "
                  f"{cell('elbo', '.2f')} {axes:6.3f} {np.mean([r['fit_s'] for r in rows]):6.1f}"
                  f" {'/'.join(str(r['k']) for r in rows):>8}",
                  flush=True)


if __name__ == "__main__":
    main()
