"""Wells and dynamics of SpectralDegeneracy against exact references.

Double wells (two unit Gaussians ``sep`` apart, 1-d, 2-d and 5-d, equal and unequal weights): the
exact relaxation rate ``E1`` solves ``-(p f')' = E p f`` with no-flux boundaries, by finite volumes
on a fine grid (solver below; the mixtures separated along x are ``p1(x) N(y)``, whose lowest
non-zero level is the 1-d one since it is < 1). The rates of ``rate_matrix_`` are compared with it
(target: within 30 %) and with the estimator's own ``energies_[1]`` (which they reproduce by
construction, so a miss against the exact rate is the estimator's). Rates counted from long
simulated trajectories (``simulate``) are compared with ``rate_matrix_`` and with the exact rate of
the density the simulation follows (solved by the solver below); in 2-d and 5-d (the double well
below) with ``energies_[1]`` and the exact level, beside walkers on the wells' Gaussian mixture
alone. Three wells
in a row (1-d, exact rates from PCCA+ on the finite-volume eigenfunctions) and in a triangle (2-d).
Potentials in 2-d and above (``potential_rates``): the 2-d double well ``V = (x^2 - 1)^2 + y^2`` and
deeptime's triple well (two deep mirror wells and a shallow third, 3.6 % of the mass; also read as 2
wells, whose exact reduction is PCCA+ with k = 2 on the exact eigenfunctions), ``p = exp(-V / D)``
at deeptime's D, and the double well with 3 more Gaussian axes, turned at random (5-d), at 5,000 and
20,000 exact samples: levels, coarse rates, weights and MFPTs against finite volumes, with the
measured ``rates_error_bound_`` (also eight wells at the corners of a cube, off any plane, in
3-d and 5-d, against the product of 1-d finite volumes), and the triple well with the default
count (wells read, their resampled counts, weights, rates); beside, a deeptime MSM from
trajectories (if installed).
Clustering: ARI of ``predict`` on separated blobs and on the digits embedding (PCA of scikit-learn's
digits, classes 0, 1, 6 which PCA separates) next to HDBSCAN and k-means.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/dynamics_validation.py [--quick] [--only PARTS]
"""

import argparse
import time

import numpy as np
from scipy import sparse
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import eigsh
from scipy.special import logsumexp

from perturbvae import SpectralDegeneracy
from perturbvae._spectral._pcca import pcca
from perturbvae._spectral._rates import coarse_rate_matrix, relaxation_rates


# --------------------------------------------------------------------- exact references
def mixture_logpdf(z, centres, weights, std=1.0):
    z = np.atleast_2d(z)
    c = np.atleast_2d(centres)
    d = z.shape[1]
    sq = ((z[:, None, :] - c[None]) ** 2).sum(-1)
    return logsumexp(-sq / (2 * std**2) + np.log(weights)[None], axis=1) \
        - 0.5 * d * np.log(2 * np.pi * std**2)


def fd_levels_1d(logp, lo, hi, n_grid=4000, n_levels=4, vectors=False):
    """Lowest levels of ``-(p f')' = E p f`` on [lo, hi], no flux, finite volumes.

    Symmetric form ``g = sqrt(p) f``: off-diagonal ``-p_face / (h^2 sqrt(p_i p_j))``, diagonal
    ``sum p_face / (h^2 p_i)``, all formed from ``log p`` so deep barriers keep precision.
    """
    x = np.linspace(lo, hi, n_grid)
    h = x[1] - x[0]
    lp = logp(x[:, None])
    lf = logp(0.5 * (x[1:] + x[:-1])[:, None])
    diag = np.zeros(n_grid)
    diag[:-1] += np.exp(lf - lp[:-1])
    diag[1:] += np.exp(lf - lp[1:])
    off = -np.exp(lf - 0.5 * (lp[:-1] + lp[1:]))
    E, G = eigh_tridiagonal(diag / h**2, off / h**2, select="i", select_range=(0, n_levels - 1))
    E[0] = max(E[0], 0.0)
    if not vectors:
        return E
    f = G / np.exp(0.5 * lp)[:, None]
    return E, x, f / np.sqrt(np.sum(f**2 * np.exp(lp)[:, None] * h, axis=0))


def fd_levels_2d(logp, xlim, ylim, shape=(240, 240), n_levels=4, vectors=False):
    """Lowest levels of ``-div(p grad f) = E p f`` on a rectangle, no flux (finite volumes);
    with ``vectors``, also the symmetric eigenvectors ``g = sqrt(p) f`` (orthonormal) and
    ``log p`` at the nodes (row-major, x first)."""
    nx, ny = shape
    xs, ys = np.linspace(*xlim, nx), np.linspace(*ylim, ny)
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    lp = logp(np.c_[X.ravel(), Y.ravel()]).reshape(nx, ny)
    idx = np.arange(nx * ny).reshape(nx, ny)
    rows, cols, vals = [], [], []
    diag = np.zeros(nx * ny)
    for axis, hh in ((0, hx), (1, hy)):
        a = idx[:-1, :] if axis == 0 else idx[:, :-1]
        b = idx[1:, :] if axis == 0 else idx[:, 1:]
        if axis == 0:
            mid = np.c_[(0.5 * (X[1:, :] + X[:-1, :])).ravel(), Y[1:, :].ravel()]
        else:
            mid = np.c_[X[:, 1:].ravel(), (0.5 * (Y[:, 1:] + Y[:, :-1])).ravel()]
        lf = logp(mid)
        la, lb = lp.ravel()[a.ravel()], lp.ravel()[b.ravel()]
        np.add.at(diag, a.ravel(), np.exp(lf - la) / hh**2)
        np.add.at(diag, b.ravel(), np.exp(lf - lb) / hh**2)
        w = -np.exp(lf - 0.5 * (la + lb)) / hh**2
        rows += [a.ravel(), b.ravel()]
        cols += [b.ravel(), a.ravel()]
        vals += [w, w]
    S = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(nx * ny,) * 2) + sparse.diags(diag)
    if not vectors:
        E = np.sort(eigsh(S, k=n_levels, sigma=-1e-3, which="LM", return_eigenvectors=False))
        E[0] = max(E[0], 0.0)
        return E
    E, G = eigsh(S, k=n_levels, sigma=-1e-3, which="LM")
    order = np.argsort(E)
    E, G = E[order], G[:, order]
    E[0] = 0.0
    return E, G * np.where(G.sum(axis=0) < 0, -1.0, 1.0), lp.ravel()


def exact_double_well(sep, weights):
    c = np.array([[-sep / 2], [sep / 2]])
    return fd_levels_1d(lambda z: mixture_logpdf(z, c, weights), -sep / 2 - 9, sep / 2 + 9)


def sample_mixture(centres, weights, n, rng):
    centres = np.atleast_2d(centres)
    lab = rng.choice(len(weights), n, p=weights)
    return centres[lab] + rng.standard_normal((n, centres.shape[1])), lab


# -------------------------------------------------------------------------- experiments
def double_wells(n, seeds):
    print("\n## Double wells: relaxation rate of rate_matrix_ vs exact (finite volumes)")
    print("| d | sep | weights | exact E1 | estimator E1 (mean over seeds) | rate_matrix_ rate "
          "| rate / exact | rate / estimator E1 | weights found | bound inf (warned) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for d in (1, 2, 5):
        for sep in (4.0, 6.0, 8.0):
            for w in ((0.5, 0.5), (0.7, 0.3)):
                E1 = exact_double_well(sep, np.array(w))[1]
                ests, rates, pis, flagged = [], [], [], 0
                for s in seeds:
                    rng = np.random.default_rng(s)
                    c = np.zeros((2, d))
                    c[:, 0] = [-sep / 2, sep / 2]
                    Z, _ = sample_mixture(c, np.array(w), n, rng)
                    sd = SpectralDegeneracy(random_state=s).fit(Z)
                    if sd.n_ground_states_ != 2:
                        ests.append(np.nan), rates.append(np.nan), pis.append([np.nan] * 2)
                        continue
                    ests.append(sd.energies_[1])
                    flagged += bool(np.isinf(sd.rates_error_bound_))
                    rates.append(relaxation_rates(sd.rate_matrix_)[0])
                    pis.append(np.sort(sd.stationary_distribution_)[::-1])
                est, rate = np.nanmean(ests), np.nanmean(rates)
                pi = np.nanmean(pis, axis=0)
                nwell = int(np.sum(np.isfinite(ests)))
                rows.append((d, sep, w, E1, est, rate))
                print(f"| {d} | {sep:g} | {w[0]}/{w[1]} | {E1:.3g} | {est:.3g} "
                      f"({nwell}/{len(seeds)} with 2 wells) | {rate:.3g} | {rate / E1:.2f} "
                      f"| {rate / est:.3f} "
                      f"| {pi[0]:.3f}/{pi[1]:.3f} | {flagged}/{nwell} |")
    return rows


def implied_rate(labels, lag):
    """Relaxation rate ``-log(lambda_2) / lag`` of the 2-state transition matrix at ``lag``.

    ``labels`` (n_walkers, n_frames), frames ``lag`` apart in time units; counts symmetrised
    (reversible estimate). As the lag grows past the fast relaxation (1 / E2 ~ 1), this tends
    to the slowest rate of the dynamics, whatever the (sharp) split of space into two states.
    """
    a, b = labels[:, :-1].ravel(), labels[:, 1:].ravel()
    C = np.zeros((2, 2))
    np.add.at(C, (a, b), 1.0)
    C = C + C.T
    T = C / C.sum(axis=1, keepdims=True)
    return -np.log(np.trace(T) - 1.0) / lag


def simulated_rates(n, n_walkers, t_total, dt, lags=(1.0, 2.0, 4.0, 8.0, 16.0, 32.0), seed=0):
    """Rates from simulated trajectories vs rate_matrix_, and the exact rates of the density
    that ``simulate`` follows (this script's own solver) and of the true density."""
    print("\n## Rates from simulated trajectories (1-d double well, sep 4)")
    print(f"{n_walkers} walkers, total time {t_total:g}, dt = {dt}, {n} samples; implied rate "
          f"of the 2-state (predict) transition matrix at lags {lags}; error: bootstrap over "
          "walkers.\n")
    print("| weights | simulated rate at each lag (+- stat.) | extrapolated, 2 r(16) - r(8) "
          "| rate_matrix_ rate | exact rate of the density simulate follows "
          "| exact rate of the true density |")
    print("|---|---|---|---|---|---|---|")
    base = lags[0]
    for w in ((0.5, 0.5), (0.7, 0.3)):
        rng = np.random.default_rng(seed)
        c = np.array([[-2.0], [2.0]])
        Z, _ = sample_mixture(c, np.array(w), n, rng)
        sd = SpectralDegeneracy(random_state=seed).fit(Z)
        Z0 = Z[rng.choice(n, n_walkers)]
        stride = int(round(base / dt))
        n_steps = stride * int(t_total / n_walkers / base)
        traj = sd.simulate(Z0, n_steps, dt, random_state=seed, stride=stride)
        lab = sd.predict(traj.reshape(-1, 1)).reshape(n_walkers, -1)
        def rate_at(rows, lag):
            m = int(round(lag / base))
            L = rows.shape[1] // m
            return implied_rate(np.vstack([rows[:, o::m][:, :L] for o in range(m)]), lag)

        boots = [rng.choice(n_walkers, n_walkers) for _ in range(100)]
        cells = []
        for lag in lags:
            boot = [rate_at(lab[i], lag) for i in boots]
            cells.append(f"{rate_at(lab, lag):.4f} ({np.std(boot):.4f})")
        # a sharp 2-state split adds ~ b / lag to the implied rate: Richardson on lags 8, 16
        extra = 2 * rate_at(lab, 16.0) - rate_at(lab, 8.0)
        extra_err = np.std([2 * rate_at(lab[i], 16.0) - rate_at(lab[i], 8.0) for i in boots])
        rate = relaxation_rates(sd.rate_matrix_)[0]
        walked = sd._logp if sd._walk is None else sd._walk  # the density simulate follows
        E_fit = fd_levels_1d(walked.log_density, Z.min() - 8, Z.max() + 8, 6000)[1]
        E_true = exact_double_well(4.0, np.array(w))[1]
        print(f"| {w[0]}/{w[1]} | {'; '.join(cells)} | {extra:.4f} ({extra_err:.4f}) "
              f"| {rate:.4f} | {E_fit:.4f} | {E_true:.4f} |")


def simulated_rates_2d(n, seeds, n_walkers=100, t_walker=60.0, dt=0.004, lag=2.0):
    """Rates counted from ``simulate``'s walkers on the double well in 2-d and 5-d against
    ``energies_[1]`` (the level ``rate_matrix_`` is fitted to) and the exact level, beside
    walkers on the wells' Gaussian mixture alone (the landscape of ``potential``)."""
    import warnings

    print("\n## Rates from simulated trajectories (double well, 2-d and 5-d)")
    print(f"{n_walkers} walkers from the samples, {t_walker:g} time units each, dt = {dt}, "
          f"{n} samples, n_wells=2; implied rate of the 2-state (predict) transition matrix "
          f"at lag {lag}. 'mixture walk': the same fit's walkers on the wells' mixture.\n")
    print("| system | seed | energies_[1] / exact | walk rate / energies_[1] "
          "| mixture walk rate / energies_[1] | walk rate / exact |")
    print("|---|---|---|---|---|---|")
    stride = int(round(0.1 / dt))
    for name in ("double well 2-d", "double well 5-d"):
        V, D, box, minima, extra = POTENTIALS[name]
        ref = exact_potential(V, D, box, minima, 2)
        for s in seeds:
            rng = np.random.default_rng(1000 + s)
            Z, _ = sample_potential(V, D, box, n, extra, rng)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sd = SpectralDegeneracy(n_wells=2, random_state=s).fit(Z)
            Z0 = Z[rng.choice(n, n_walkers, replace=False)]
            ratios = []
            for walk in (sd._walk, None):
                kept, sd._walk = sd._walk, walk
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    traj = sd.simulate(Z0, int(t_walker / dt), dt, random_state=s,
                                       stride=stride)
                sd._walk = kept
                lab = sd.predict(traj.reshape(-1, Z.shape[1])).reshape(n_walkers, -1)
                m = int(round(lag / 0.1))
                L = lab.shape[1] // m
                rows = np.vstack([lab[:, o::m][:, :L] for o in range(m)])
                ratios.append(implied_rate(rows, lag) / sd.energies_[1])
            print(f"| {name} | {s} | {sd.energies_[1] / ref['levels'][1]:.3f} "
                  f"| {ratios[0]:.3f} | {ratios[1]:.3f} "
                  f"| {ratios[0] * sd.energies_[1] / ref['levels'][1]:.3f} |", flush=True)


def galerkin_q(sd, Z):
    k = sd.n_ground_states_
    _, A, _ = pcca(sd._eigenfunctions(Z)[:, :k])
    return coarse_rate_matrix(A, sd.energies_[:k])


def three_wells(n, seeds):
    print("\n## Three wells")
    print("| layout | exact rates (non-zero, ascending) | rate_matrix_ rates | estimator energies "
          "| exact Q (PCCA+ on exact eigenfunctions) | rate_matrix_ "
          "| estimator's Q before clipping |")
    print("|---|---|---|---|---|---|---|")
    # in a row (1-d): exact from finite volumes and PCCA+ on the exact eigenfunctions
    c = np.array([[-5.0], [0.0], [5.0]])
    w = np.array([1 / 3] * 3)
    logp = lambda z: mixture_logpdf(z, c, w)  # noqa: E731
    E, x, f = fd_levels_1d(logp, -14, 14, 6000, 4, vectors=True)
    rng = np.random.default_rng(0)
    Zs, _ = sample_mixture(c, w, 20000, rng)
    F = np.column_stack([np.interp(Zs[:, 0], x, f[:, i]) for i in range(3)])
    _, A, _ = pcca(F)
    Qx = coarse_rate_matrix(A, E[:3])
    for s in seeds:
        Z, _ = sample_mixture(c, w, n, np.random.default_rng(s))
        sd = SpectralDegeneracy(random_state=s).fit(Z)
        order = np.argsort(sd.predict(c))
        print(f"| row (1-d, 5 apart), seed {s} | {np.round(E[1:3], 4).tolist()} "
              f"| {np.round(relaxation_rates(sd.rate_matrix_), 4).tolist()} "
              f"| {np.round(sd.energies_[1:4], 4).tolist()} "
              f"| {np.round(Qx, 4).tolist()} "
              f"| {np.round(sd.rate_matrix_[np.ix_(order, order)], 4).tolist()} "
              f"| {np.round(galerkin_q(sd, Z)[np.ix_(order, order)], 4).tolist()} |")
    # triangle (2-d): exact levels by 2-d finite volumes
    ang = np.deg2rad([90, 210, 330])
    c2 = 5.0 / np.sqrt(3) * np.c_[np.cos(ang), np.sin(ang)]
    E2 = fd_levels_2d(lambda z: mixture_logpdf(z, c2, w), (-9, 9), (-9, 9), (240, 240), 4)
    for s in seeds:
        Z, _ = sample_mixture(c2, w, n, np.random.default_rng(s))
        sd = SpectralDegeneracy(random_state=s).fit(Z)
        print(f"| triangle (2-d, 5 apart), seed {s} | {np.round(E2[1:3], 4).tolist()} "
              f"| {np.round(relaxation_rates(sd.rate_matrix_), 4).tolist()} "
              f"| {np.round(sd.energies_[1:4], 4).tolist()} | - "
              f"| {np.round(sd.rate_matrix_, 4).tolist()} "
              f"| {np.round(galerkin_q(sd, Z), 4).tolist()} |")


def clustering(seeds):
    from sklearn.cluster import HDBSCAN, KMeans
    from sklearn.datasets import load_digits, make_blobs
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score as ari

    print("\n## Clustering (adjusted Rand index against the true labels)")
    print("| data | wells found | SpectralDegeneracy.predict | HDBSCAN | k-means (true k) |")
    print("|---|---|---|---|---|")
    for k, d in ((3, 2), (5, 2), (4, 8)):
        for s in seeds:
            rng = np.random.default_rng(s)
            centres = [rng.uniform(-15, 15, d)]
            while len(centres) < k:  # separated: centres >= 10 apart
                c = rng.uniform(-15, 15, d)
                if min(np.linalg.norm(c - x) for x in centres) >= 10:
                    centres.append(c)
            Z, y = make_blobs(200 * k, n_features=d, centers=np.array(centres),
                              cluster_std=1.0, random_state=s)
            sd = SpectralDegeneracy(random_state=s).fit(Z)
            hd = HDBSCAN(min_cluster_size=20, copy=True).fit_predict(Z)
            km = KMeans(k, n_init=10, random_state=s).fit_predict(Z)
            print(f"| blobs k={k} d={d} seed {s} | {sd.n_ground_states_} | "
                  f"{ari(y, sd.predict(Z)):.3f} | {ari(y, hd):.3f} | {ari(y, km):.3f} |")
    from sklearn.datasets import make_circles, make_moons

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, [0, 1, 6])
    rng = np.random.default_rng(0)
    needles = np.r_[rng.standard_normal((1000, 2)) * [5, 0.2],
                    rng.standard_normal((1000, 2)) * [5, 0.2] + [0, 2]]
    shapes = {  # shapes that wrap around or lie along each other (2 clusters each)
        "digits 0/1/6, PCA 2-d": (PCA(2, random_state=0).fit_transform(X[keep]), y[keep]),
        "two moons (noise 0.05)": make_moons(3000, noise=0.05, random_state=0),
        "concentric circles (factor 0.5)": make_circles(3000, factor=0.5, noise=0.05,
                                                        random_state=0),
        "parallel needles 10 widths apart": (needles, np.repeat([0, 1], 1000)),
    }
    for name, (Z, y) in shapes.items():
        sd = SpectralDegeneracy(random_state=0).fit(Z)
        hd = HDBSCAN(min_cluster_size=20, copy=True).fit_predict(Z)
        km = KMeans(len(np.unique(y)), n_init=10, random_state=0).fit_predict(Z)
        print(f"| {name} ({sd.method_}) | {sd.n_ground_states_} | {ari(y, sd.predict(Z)):.3f} "
              f"| {ari(y, hd):.3f} | {ari(y, km):.3f} |")


# ------------------------------------------------------------ 2-d and above (potentials)
# deeptime's simulators integrate dX = -grad V dt + sqrt(2 D) dW with D = 0.25
# (double_well_2d) and 0.594 (triple_well_2d), measured from single Euler steps: their
# stationary law is p ~ exp(-V / D) and their generator is D times the package's (the
# diffusion dz = grad log p dt + sqrt(2) dW), so a package rate r is D r per deeptime time.
def v_double_well(P):
    return (P[:, 0] ** 2 - 1) ** 2 + P[:, 1] ** 2


def v_triple_well(P):
    x, y = P[:, 0], P[:, 1]
    return (3 * np.exp(-x**2 - (y - 1 / 3) ** 2) - 3 * np.exp(-x**2 - (y - 5 / 3) ** 2)
            - 5 * np.exp(-(x - 1) ** 2 - y**2) - 5 * np.exp(-(x + 1) ** 2 - y**2)
            + 0.2 * x**4 + 0.2 * (y - 1 / 3) ** 4)


def v_quadruple_well(P):
    # deeptime's quadruple_well (its C++ source; sigma = sqrt(0.5): D = 0.25): four equal
    # wells at (+-1, +-1), a degenerate pair of hops (E1 = E2)
    return (P[:, 0] ** 2 - 1) ** 2 + (P[:, 1] ** 2 - 1) ** 2


def v_quadruple_well_asymmetric(P):
    # deeptime's quadruple_well_asymmetric (its C++ source; sigma = 0.6: D = 0.18): minima at
    # (+-1, +-1), weights 0.739 / 0.196 / 0.052 / 0.014; no sample reaches the small well's
    # barriers, whose density log p, a quartic, extrapolates
    x, y = P[:, 0], P[:, 1]
    return (x**4 - x**3 / 16 - 2 * x**2 + 3 * x / 16
            + y**4 - y**3 / 8 - 2 * y**2 + 3 * y / 8)


# name: (V, D, box, wells' minima (ordered as the exact wells), extra Gaussian axes)
POTENTIALS = {
    "double well 2-d": (v_double_well, 0.25, ((-2.2, 2.2), (-2.0, 2.0)),
                        [[-1.0, 0.0], [1.0, 0.0]], 0),
    "triple well 2-d": (v_triple_well, 0.594, ((-3.2, 3.2), (-2.6, 3.6)),
                        [[-1.05, -0.04], [0.0, 1.54], [1.05, -0.04]], 0),
    "double well 5-d": (v_double_well, 0.25, ((-2.2, 2.2), (-2.0, 2.0)),
                        [[-1.0, 0.0], [1.0, 0.0]], 3),
    "quadruple well 2-d": (v_quadruple_well, 0.25, ((-2.4, 2.4), (-2.4, 2.4)),
                           [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]], 0),
    "quadruple well 2-d (asymmetric)": (
        v_quadruple_well_asymmetric, 0.18, ((-2.4, 2.4), (-2.4, 2.4)),
        [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]], 0),
}

# systems also told 2 wells, fewer than they hold: the minima that name the exact 2-state
# reduction's states (PCCA+ on its two slowest eigenfunctions): the triple well's deep wells,
# and the asymmetric quadruple well's lower pair, split along x, its slower hop
REDUCTIONS = {"triple well 2-d": (0, 2), "quadruple well 2-d (asymmetric)": (0, 1)}


def sample_potential(V, D, box, n, extra, rng):
    """Exact samples of ``exp(-V / D)`` (rejection from the box, which cuts ``p`` below
    e^-16 of its top), times ``exp(-z^2 / D)`` on ``extra`` axes, turned by a random
    rotation (fixed for the system); returns them and the rotation."""
    lo, hi = np.array(box).T
    xs = [np.linspace(a, b, 401) for a, b in box]
    top = -V(np.stack(np.meshgrid(*xs, indexing="ij"), -1).reshape(-1, 2)).min() / D
    out, got = [], 0
    while got < n:
        P = rng.uniform(lo, hi, size=(max(4 * n, 100_000), 2))
        keep = np.log(rng.uniform(size=len(P))) < -V(P) / D - top
        out.append(P[keep])
        got += keep.sum()
    X = np.concatenate(out)[:n]
    if not extra:
        return X, np.eye(2)
    R = np.linalg.qr(np.random.default_rng(extra).standard_normal((2 + extra,) * 2))[0]
    return np.c_[X, rng.standard_normal((n, extra)) * np.sqrt(D / 2)] @ R.T, R


def exact_potential(V, D, box, minima, k, shape=(300, 300)):
    """Exact levels, coarse rate matrix (PCCA+ on the exact eigenfunctions, weighted by the
    cells' masses), weights and mean first-passage times of ``exp(-V / D)``, by finite
    volumes (this script's solver, with eigenvectors); wells in the order of ``minima``."""
    from perturbvae._spectral._rates import (
        mean_first_passage_times,
        reversible_rate_matrix,
    )

    xs, ys = (np.linspace(*box[i], shape[i]) for i in range(2))
    P = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    E, G, lp = fd_levels_2d(lambda z: -V(z) / D, box[0], box[1], shape, k + 2,
                            vectors=True)
    w = np.exp(lp - logsumexp(lp))
    F = G / np.sqrt(w)[:, None]
    chi, A, _ = pcca(F[:, :k], weights=w)
    near = [int(np.argmax(chi[np.argmin(((P - m) ** 2).sum(1))])) for m in minima]
    A = A[:, near]
    Q = reversible_rate_matrix(coarse_rate_matrix(A, E[:k]), A[0])
    return {"levels": E, "Q": Q, "weights": A[0], "mfpt": mean_first_passage_times(Q)}


def _match_potential_wells(sd, Z, R, minima):
    """Estimated well of each exact minimum (nearest well centre, unrotated plane)."""
    from scipy.optimize import linear_sum_assignment

    X = (Z @ R)[:, :2]
    k = sd.n_ground_states_
    cen = np.array([X[sd.labels_ == j].mean(0) for j in range(k)])
    r, c = linear_sum_assignment(((np.asarray(minima)[:, None] - cen[None]) ** 2).sum(-1))
    return c[np.argsort(r)]


def _ratio_range(x):
    x = np.asarray(x, float).ravel()
    return f"{np.nanmin(x):.2f}-{np.nanmax(x):.2f}" if x.size else "-"


def potential_rates(sizes, seeds, n_wells_list=None):
    """Rates, weights and MFPTs of SpectralDegeneracy (well count given) against the exact
    references of the potentials, one row per system, size and count."""
    import warnings

    print("\n## Rates in 2-d and above: potentials exp(-V / D) vs exact finite volumes")
    print("Well count given (n_wells); ratios estimate / exact over seeds "
          f"{list(seeds)}; rates in the package's units (per unit time of dz = grad log p dt "
          "+ sqrt(2) dW; deeptime's time is this times 1 / D).\n")
    print("| system | n | n_wells | exact E1 | E1 / exact | coarse rates / exact "
          "| MFPT / exact | weights (max error) | rates_error_bound_ | warned | time s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (V, D, box, minima, extra) in POTENTIALS.items():
        k_true = len(minima)
        for k in [k_true] + ([2] if name in REDUCTIONS else []):
            mins = minima if k == k_true else [minima[i] for i in REDUCTIONS[name]]
            ref = exact_potential(V, D, box, mins, k)
            for n in sizes:
                e1, rates, mfpt, werr, bounds, warned, times = [], [], [], [], [], 0, []
                for s in seeds:
                    Z, R = sample_potential(V, D, box, n, extra, np.random.default_rng(1000 + s))
                    t0 = time.time()
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        sd = SpectralDegeneracy(n_wells=k, random_state=s).fit(Z)
                    times.append(time.time() - t0)
                    warned += any("rates between" in str(c.message)
                                  or "hardly reach" in str(c.message) for c in caught)
                    perm = _match_potential_wells(sd, Z, R, mins)
                    Q = sd.rate_matrix_[np.ix_(perm, perm)]
                    # pairs the exact generator links (diagonal corners of a quadruple well
                    # exchange at 1e-5 of the others: no sample resolves them)
                    off = ~np.eye(k, dtype=bool) & (ref["Q"] > 1e-3 * ref["Q"].max())
                    e1.append(sd.energies_[1] / ref["levels"][1])
                    rates.append(Q[off] / ref["Q"][off])
                    mfpt.append(sd.mean_first_passage_times_[np.ix_(perm, perm)][off]
                                / ref["mfpt"][off])
                    werr.append(np.abs(sd.stationary_distribution_[perm] - ref["weights"]).max())
                    bounds.append(sd.rates_error_bound_)
                print(f"| {name} | {n} | {k} | {ref['levels'][1]:.4g} | {_ratio_range(e1)} "
                      f"| {_ratio_range(rates)} | {_ratio_range(mfpt)} "
                      f"| {np.round(ref['weights'], 3).tolist()} ({max(werr):.3f}) "
                      f"| {_ratio_range(bounds)} | {warned}/{len(seeds)} "
                      f"| {np.mean(times):.1f} |", flush=True)
    default_count_triple_well(sizes, seeds)


def default_count_triple_well(sizes, seeds):
    """The triple well with the default count (``n_wells="auto"``): wells read, their
    uncertainty and reading, weights, and coarse rates against the exact reduction to the
    number of wells read (3: PCCA+ k = 3; 2: k = 2, the deep wells)."""
    import warnings

    V, D, box, minima, extra = POTENTIALS["triple well 2-d"]
    refs = {3: (minima, exact_potential(V, D, box, minima, 3)),
            2: ([minima[0], minima[2]], exact_potential(V, D, box, [minima[0], minima[2]], 2))}
    print("\n### Triple well 2-d with the default count (n_wells=\"auto\")")
    print("Weights in the order of the exact wells (left deep, shallow top, right deep); "
          f"exact {np.round(refs[3][1]['weights'], 3).tolist()}; coarse rates compared with "
          "the exact reduction to the count read.\n")
    print("| n | seed | n_ground_states_ | resampled | count_reading_ | ground_gap_ "
          "| weights | coarse rates / exact | MFPT / exact | rates_error_bound_ | warned "
          "| time s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for s in seeds:
            Z, R = sample_potential(V, D, box, n, extra, np.random.default_rng(1000 + s))
            t0 = time.time()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sd = SpectralDegeneracy(random_state=s).fit(Z)
            took = time.time() - t0
            warned = "; ".join(sorted({" ".join(str(c.message).split())[:60].replace("|", "/")
                                      for c in caught})) or "-"
            k = sd.n_ground_states_
            rates = mfpt = "-"
            w = np.round(np.sort(sd.stationary_distribution_), 3).tolist()
            if k in refs:
                mins, ref = refs[k]
                perm = _match_potential_wells(sd, Z, R, mins)
                off = ~np.eye(k, dtype=bool)
                rates = _ratio_range(sd.rate_matrix_[np.ix_(perm, perm)][off] / ref["Q"][off])
                mfpt = _ratio_range(sd.mean_first_passage_times_[np.ix_(perm, perm)][off]
                                    / ref["mfpt"][off])
                w = np.round(sd.stationary_distribution_[perm], 3).tolist()
            print(f"| {n} | {s} | {k} | {sd.n_ground_states_resampled_.tolist()} "
                  f"| {sd.count_reading_} | {sd.ground_gap_:.3g} | {w} | {rates} | {mfpt} "
                  f"| {sd.rates_error_bound_:.2f} | {warned} | {took:.1f} |", flush=True)


def cube_rates(sizes, seeds, extras=(0, 2)):
    """Eight wells at the corners of a cube, whose centres no plane holds: ``p ~ exp(-4 sum_i
    (x_i^2 - 1)^2)`` in 3-d (deeptime's quartic double well along each axis at D = 0.25),
    turned at random, and with ``extra`` Gaussian axes (standard deviation 0.5) turned in.
    A product density: its levels are the sums of the 1-d level ``e1`` (finite volumes), the
    rate between corners one flip apart is ``e1 / 2``, 0 between others, and the mean
    first-passage times are those of that rate matrix (solved here)."""
    import itertools
    import warnings

    e1 = fd_levels_1d(lambda z: -4.0 * (z[:, 0] ** 2 - 1) ** 2, -2.5, 2.5, 4000, 2)[1]
    corners = np.array(list(itertools.product([-1, 1], repeat=3)), dtype=float)
    flips = np.abs(corners[:, None] - corners[None]).sum(axis=2) / 2
    Q = np.where(flips == 1, e1 / 2, 0.0)
    Q -= np.diag(Q.sum(axis=1))
    mfpt = np.zeros((8, 8))
    for j in range(8):  # hitting times of corner j: -Q_{-j,-j} t = 1
        rest = np.delete(np.arange(8), j)
        mfpt[rest, j] = np.linalg.solve(-Q[np.ix_(rest, rest)], np.ones(7))
    exact = e1 * np.sort(flips[0])[1:]
    print("\n## Eight wells off any plane (cube corners) vs exact (product of 1-d finite volumes)")
    print(f"e1 = {e1:.5f}; levels e1 x (1, 1, 1, 2, 2, 2, 3); rate between neighbours e1 / 2; "
          f"seeds {list(seeds)}.\n")
    print("| d | n | source | levels / exact | neighbour rates / exact | other rates / (e1 / 2) "
          "| MFPT / exact | rates_error_bound_ | warned | time s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for extra in extras:
        for n in sizes:
            lev, near, far, mf, bounds, sources, warned, times = [], [], [], [], [], set(), 0, []
            for s in seeds:
                rng = np.random.default_rng(3000 + s)
                X = np.stack([_quartic_1d(n, rng) for _ in range(3)], axis=1)
                Y = np.c_[X, 0.5 * rng.standard_normal((n, extra))]
                turn = np.linalg.qr(rng.standard_normal((3 + extra,) * 2))[0]
                t0 = time.time()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    sd = SpectralDegeneracy(random_state=s).fit(Y @ turn.T)
                times.append(time.time() - t0)
                warned += any("rates between" in str(c.message) for c in caught)
                if sd.n_ground_states_ != 8:
                    sources.add(f"{sd.n_ground_states_} wells")
                    continue
                sources.add(sd.ground_levels_source_)
                # each well's corner from the signs of its centre in the unturned coordinates
                sign = np.array([np.sign(X[sd.labels_ == j].mean(axis=0)) for j in range(8)])
                perm = [int(np.flatnonzero((sign == c).all(axis=1))[0]) if (sign == c).all(
                    axis=1).any() else -1 for c in corners]
                if min(perm) < 0:
                    sources.add("corners unmatched")
                    continue
                R = sd.rate_matrix_[np.ix_(perm, perm)]
                lev.append(sd.energies_[1:8] / exact)
                near.append(R[flips == 1] / (e1 / 2))
                far.append(R[flips > 1] / (e1 / 2))
                off = ~np.eye(8, dtype=bool)
                mf.append(sd.mean_first_passage_times_[np.ix_(perm, perm)][off] / mfpt[off])
                bounds.append(sd.rates_error_bound_)
            print(f"| {3 + extra} | {n} | {', '.join(sorted(sources))} | {_ratio_range(lev)} "
                  f"| {_ratio_range(near)} | {_ratio_range(far)} | {_ratio_range(mf)} "
                  f"| {_ratio_range(bounds)} | {warned}/{len(seeds)} | {np.mean(times):.1f} |",
                  flush=True)


def _quartic_1d(n, rng):
    """Exact samples of ``exp(-4 (x^2 - 1)^2)`` by rejection from [-2.5, 2.5]."""
    out, got = [], 0
    while got < n:
        x = rng.uniform(-2.5, 2.5, 8 * n)
        keep = np.log(rng.uniform(size=x.size)) < -4.0 * (x**2 - 1) ** 2
        out.append(x[keep])
        got += keep.sum()
    return np.concatenate(out)[:n]


def deeptime_msm(seeds, n_frames=60000):
    """Relaxation rates of a reversible Markov state model that deeptime estimates from
    trajectories of its own simulators (100 k-means states, told the number of wells),
    in the package's units, against the exact ones."""
    try:
        import deeptime as dt
        from deeptime.clustering import KMeans
        from deeptime.markov import TransitionCountEstimator
        from deeptime.markov.msm import MaximumLikelihoodMSM
    except ImportError:
        print("\n(deeptime not installed: pip install perturbvae[benchmarks])")
        return
    print("\n## deeptime MSM from trajectories of the same systems (told the number of wells)")
    print("| system | seed | trajectory (deeptime time) | lag | rates / exact |")
    print("|---|---|---|---|---|")
    systems = (("double well 2-d", dt.data.double_well_2d(h=1e-3, n_steps=100), 0.1, 2),
               ("triple well 2-d", dt.data.triple_well_2d(h=1e-3, n_steps=50), 0.05, 3))
    for name, model, frame, k in systems:
        V, D, box, minima, _ = POTENTIALS[name]
        exact = exact_potential(V, D, box, minima, k)["levels"][1:k]
        for s in seeds:
            traj = model.trajectory(np.array([[-1.0, 0.0]]), n_frames, seed=s, n_jobs=1)
            km = KMeans(n_clusters=100, max_iter=50, fixed_seed=s, n_jobs=1).fit(
                traj[::5]).fetch_model()
            dtraj = km.transform(traj)
            for lag in (10, 20):
                counts = TransitionCountEstimator(lag, "sliding").fit(
                    dtraj).fetch_model().submodel_largest()
                msm = MaximumLikelihoodMSM(reversible=True).fit(counts).fetch_model()
                rates = 1.0 / (msm.timescales(k - 1) * frame * D)
                print(f"| {name} | {s} | {n_frames * frame:g} | {lag * frame:g} "
                      f"| {np.round(rates / exact, 3).tolist()} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer seeds and a shorter simulation")
    ap.add_argument("--only", default="",
                    help="comma list of: double, sim, three, cluster, potentials, cube, msm")
    args = ap.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    t0 = time.time()
    parts = (args.only.split(",") if args.only
             else ["double", "sim", "three", "cluster", "potentials", "cube", "msm"])
    if "double" in parts:
        double_wells(2000, seeds)
    if "sim" in parts:
        # dt = 0.005: at 0.01 Euler-Maruyama's bias was ~7 % of the rate (measured)
        simulated_rates(500, 200, 2e4 if args.quick else 1.2e5, 0.005)
        simulated_rates_2d(5000, seeds)
    if "three" in parts:
        three_wells(3000, seeds)
    if "cluster" in parts:
        clustering(seeds)
    if "potentials" in parts:
        potential_rates((5000,) if args.quick else (5000, 20000), seeds)
    if "cube" in parts:
        cube_rates((5000,) if args.quick else (5000, 20000), seeds)
    if "msm" in parts and not args.quick:
        deeptime_msm([0, 1])
    print(f"\n(total {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
