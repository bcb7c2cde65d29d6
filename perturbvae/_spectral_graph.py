"""Diffusion-map (graph) estimate of the spectrum: sparse kNN Gaussian kernel, alpha = 1/2.

For a kernel ``k(z, z') = exp(-|z - z'|^2 / h)`` and the alpha = 1/2 normalisation
``K_a = D_q^(-1/2) K D_q^(-1/2)`` (``q`` the kernel degrees, a density estimate), the Markov
matrix ``P = D^(-1) K_a`` approximates ``exp(t L)`` for the Langevin generator
``L = Delta + grad log p . grad`` (Coifman & Lafon 2006). The time step ``t`` is *measured* on
the graph rather than taken from ``h``: for ``P ~ I + t L``, one step has mean squared
displacement ``E|z_1 - z_0|^2 = t L |z - z_0|^2 = 2 d t``, so
``t = sum_i pi_i sum_j P_ij |z_i - z_j|^2 / (2 d)`` with ``pi`` the stationary law, and the
energies are ``E = -log(mu) / t`` for the eigenvalues ``mu`` of ``P``. (The kNN cut truncates the
kernel, so the nominal ``t`` implied by ``h`` overestimates the step.)
"""

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh
from sklearn.neighbors import NearestNeighbors


def default_n_neighbors(n_samples, d):
    # 30 neighbours with h = 2 median(r_k^2): the smallest graph on which the tails of a 2-d
    # Gaussian (5,000 samples) stay connected (16 neighbours, or h = median r_k^2, gave spurious
    # near-zero levels there); larger graphs cost time and bias the energies of clustered data.
    return int(min(n_samples - 1, 30))


def knn_graph(Z, n_neighbors, n_jobs=None):
    nn = NearestNeighbors(n_neighbors=n_neighbors, algorithm="auto", n_jobs=n_jobs).fit(Z)
    dist, ind = nn.kneighbors()  # excludes each point itself: no self loops
    return nn, dist, ind


def fit_graph(Z, n_levels, n_neighbors, h=None, bandwidth_factor=2.0, n_jobs=None,
              random_state=None, min_component=None, tol=1e-9, maxiter=None):
    """Fit the diffusion map; returns a dict of everything transform needs."""
    n, d = Z.shape
    nn, dist, ind = knn_graph(Z, n_neighbors, n_jobs)
    d2 = dist**2
    if h is None:
        h = bandwidth_factor * float(np.median(d2[:, -1]))
        if not h > 0:
            h = float(np.mean(d2[d2 > 0])) if np.any(d2 > 0) else 1.0
    W = sparse.csr_matrix((np.exp(-d2 / h).ravel(), ind.ravel(),
                           np.arange(0, n * n_neighbors + 1, n_neighbors)), shape=(n, n))
    W = W.maximum(W.T).tocsr()
    W.eliminate_zeros()
    # small components (tail points that link only to each other) are outliers, not wells:
    # they would add spurious zero energies. They leave the eigenproblem; transform extends to
    # them like to any new point.
    if min_component is None:
        min_component = max(2 * (n_neighbors + 1), int(0.005 * n))
    n_comp, labels = connected_components(W, directed=False)
    keep = np.ones(n, bool)
    if n_comp > 1:
        sizes = np.bincount(labels)
        small = sizes < min(min_component, sizes.max())
        keep = ~small[labels]
        if not keep.all():
            idx = np.flatnonzero(keep)
            W = W[idx][:, idx].tocsr()
    idx = np.flatnonzero(keep)
    Zk = Z[idx]
    m = len(idx)
    q = np.asarray(W.sum(axis=1)).ravel()
    iq = 1.0 / np.sqrt(q)
    Ka = sparse.diags(iq) @ W @ sparse.diags(iq)
    deg = np.asarray(Ka.sum(axis=1)).ravel()
    idg = 1.0 / np.sqrt(deg)
    S = (sparse.diags(idg) @ Ka @ sparse.diags(idg)).tocsr()
    # measured time step
    Kc = Ka.tocoo()
    sq = np.sum((Zk[Kc.row] - Zk[Kc.col]) ** 2, axis=1)
    tau = float(np.sum(Kc.data * sq) / deg.sum() / (2 * d))
    k = min(n_levels, m - 1)
    # Solve each connected component on its own: a disconnected graph has an exactly degenerate
    # eigenvalue 1 (one per component), which single-vector Lanczos does not resolve reliably.
    n_comp, labels = connected_components(S, directed=False)
    rng = np.random.RandomState(random_state if isinstance(random_state, (int, np.integer)) else 0)
    mus, vecs = [], []
    for c in range(n_comp):
        members = np.flatnonzero(labels == c)
        Sc = S[members][:, members] if n_comp > 1 else S
        kc = min(k, len(members) - 1) if len(members) > 1 else 1
        if len(members) <= 1500:
            mu_c, V_c = np.linalg.eigh(Sc.toarray())
            mu_c, V_c = mu_c[::-1][:kc], V_c[:, ::-1][:, :kc]
        else:
            v0 = np.sqrt(deg[members]) + 1e-3 * rng.uniform(-1, 1, len(members))
            mu_c, V_c = eigsh(Sc, k=kc, which="LA", tol=tol, v0=v0,
                              maxiter=maxiter or 100 * len(members),
                              ncv=min(len(members), max(2 * kc + 1, 40)))
        V = np.zeros((m, len(mu_c)))
        V[members] = V_c
        mus.append(mu_c)
        vecs.append(V)
    mu = np.concatenate(mus)
    V = np.hstack(vecs)
    order = np.argsort(-mu, kind="stable")[:k]
    mu, V = mu[order], V[:, order]
    mu = np.clip(mu, np.finfo(float).tiny, 1.0)
    E = -np.log(mu) / tau
    E[0] = max(E[0], 0.0)
    psi = V * idg[:, None]
    psi *= np.sqrt(deg.sum())  # unit norm under the stationary law pi = deg / sum(deg)
    # deterministic signs: the entry of largest magnitude is positive
    big = np.argmax(np.abs(psi), axis=0)
    psi *= np.sign(psi[big, np.arange(psi.shape[1])])
    nn_keep = nn if keep.all() else NearestNeighbors(
        n_neighbors=n_neighbors, n_jobs=n_jobs).fit(Zk)
    return dict(energies=E, mu=mu, psi=psi, q=q, h=h, tau=tau, nn=nn_keep,
                n_neighbors=min(n_neighbors, m - 1), n_outliers=int(n - m), kept=idx)


def nystrom(model, Z, levels, chunk=65536):
    """Nystroem extension psi(x) = sum_j P(x, j) psi_j / mu of the fitted eigenvectors."""
    out = np.empty((Z.shape[0], len(levels)))
    psi = model["psi"][:, levels]
    mu = model["mu"][levels]
    iq = 1.0 / np.sqrt(model["q"])
    for s in range(0, Z.shape[0], chunk):
        dist, ind = model["nn"].kneighbors(Z[s:s + chunk], n_neighbors=model["n_neighbors"])
        d2 = dist**2
        # shift by the nearest distance for stability (cancels in the normalisation)
        w = np.exp(-(d2 - d2[:, :1]) / model["h"]) * iq[ind]
        w /= w.sum(axis=1, keepdims=True)
        out[s:s + chunk] = np.einsum("ik,ikl->il", w, psi[ind]) / mu
    return out
