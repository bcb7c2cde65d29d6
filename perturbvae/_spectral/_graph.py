"""Graph estimate of the spectrum: a variable-bandwidth diffusion map (Berry & Harlim 2016).

A kernel of fixed width disconnects the tails of a density: far from the mode the nearest
neighbours are many widths away, their weights underflow, and every such point becomes a spurious
near-zero level (a "well" of one point). Here the width follows the local spacing of the data:

    K(x, y) = exp(-|x - y|^2 / (eps rho(x) rho(y))),   rho = rms distance to the k_scale nearest
                                                        neighbours  (~ q^(-1/d), q the density)

With ``rho ~ q^beta`` (beta = -1/d), the normalisation ``K_a = q^-a K q^-a`` with
``a = 1/2 + beta (d + 2) / 2 = -1/d`` and the local time step ``tau(x) = c rho(x)^2``, the chain
``P = D^-1 K_a`` satisfies ``(P - I) / tau -> L = Lap + grad log p . grad``, the Langevin generator
(Berry & Harlim, "Variable bandwidth diffusion kernels", ACHA 40 (2016) 68-96). So the energies
solve the symmetric generalised problem ``(D - K_a) f = E (D tau) f``. The constant ``c`` is
measured, not taken from ``eps``: one step has mean squared displacement ``2 d tau`` (kNN
truncation and the finite width bias the nominal value), averaged under the stationary law ``D``.

Each connected component of the graph is solved on its own: the exact zero level of each separated
component is then exact, and the quasi-degenerate levels inside a component are resolved by a dense
or shift-inverted solver rather than by single-vector Lanczos.
"""

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors

from . import _eigen
from ._galerkin import fix_signs
from ._knn import neighbours
from ._multiplets import ground_multiplet
from ._pcca import pcca
from ._span import affine_dimension

# Measured on 22 shapes x 3 seeds (Gaussians d = 1-8, anisotropic 10:1, ring, uniform interval,
# square and disk, moons, circles, swiss roll, S-curve, blobs, double wells, t-SNE of digits):
# (n_neighbors, k_scale, eps) = (48, 16, 2) counted 59 of 66 right, (32, 8, 1) 54: a smaller scale
# neighbourhood makes rho noisy and splits uniform densities; a narrower kernel disconnects tails.
N_NEIGHBORS = 48
K_SCALE = 16
EPS = 2.0
# Components solved densely up to this size, by Lanczos above.
_DENSE_MAX = 600
# Solves without the points of tiny states: one more finds the outliers the first hid.
_MAX_ROUNDS = 3
# Graphs of this many dimensions or more are solved without a factorisation (_eigen).
_UNFACTORED_MIN_DIM = 3
# A point linked by less than this fraction of the median point's kernel weight is not
# linked: its nearest neighbour lies ~28 of the neighbours' own widths away (exp(-27.6)).
_LINK_FLOOR = 1e-12


@dataclass
class GraphModel:
    """A fitted variable-bandwidth graph: its spectrum and what :func:`nystrom` needs.

    ``points`` (the centred, scaled samples kept in the eigenproblem) are what ``nn`` was
    fitted on, so a saved model rebuilds ``nn`` exactly; ``outliers`` masks the input rows of
    components (or metastable states) too small to be wells.
    """

    energies: np.ndarray
    psi: np.ndarray
    kept: np.ndarray
    nn: NearestNeighbors
    points: np.ndarray
    centre: np.ndarray
    scale: float
    rho: np.ndarray
    qa: np.ndarray
    eps: float
    k_scale: int
    n_wells: int
    gap: float
    n_components: int
    outliers: np.ndarray


def _kernel(Z, n_neighbors, k_scale, eps, n_jobs):
    n = Z.shape[0]
    k = min(n_neighbors, n - 1)
    nn = NearestNeighbors(n_neighbors=k, n_jobs=n_jobs).fit(Z)  # for new points (nystrom)
    dist, ind = neighbours(Z, k, n_jobs=n_jobs)  # each point's own row excluded: no self loops
    rho = np.sqrt(np.mean(dist[:, :min(k_scale, k)] ** 2, axis=1))
    pos = rho[rho > 0]
    rho = np.maximum(rho, 1e-6 * (np.median(pos) if pos.size else 1.0))
    rows = np.repeat(np.arange(n), k)
    w = np.exp(-dist.ravel() ** 2 / (eps * rho[rows] * rho[ind.ravel()]))
    W = sparse.csr_matrix((w, (rows, ind.ravel())), shape=(n, n))
    W = W.maximum(W.T).tocsr()
    W.data[W.data < 1e-200] = 0.0
    W = _unlink_stragglers(W)
    W.eliminate_zeros()
    return nn, W, rho, k, (dist, ind)


def _unlink_stragglers(W):
    """Cut the links of points whose kernel weights sum to less than :data:`_LINK_FLOOR` of
    the median point's: one point far from the rest (a wrong entry in raw units, 1e4 where
    the column holds 0-100) kept weights of 1e-117 to its neighbours, 1 / sqrt(degree) then
    scaled its eigenfunction values by 1e56, and PCCA+ on them raised "Singular matrix".
    Unlinked, the point is a component of its own: an outlier."""
    deg = np.asarray(W.sum(axis=1)).ravel()
    weak = deg < _LINK_FLOOR * np.median(deg)
    if not weak.any():
        return W
    keep = sparse.diags((~weak).astype(float))
    return (keep @ W @ keep).tocsr()


def fit_graph(Z, n_levels, n_neighbors=None, *, k_scale=K_SCALE, eps=EPS, min_component=None,
              n_jobs=None, return_neighbours=False, rows=None):
    """Variable-bandwidth diffusion map of ``Z``, as a :class:`GraphModel`.

    Energies are in the units of ``Z`` (docs/theory.rst). ``n_wells`` sums, over the connected
    components of the graph, the ground-multiplet size of each component's own spectrum;
    components smaller than ``min_component`` (default ``max(k_scale, 1 %)``) are outliers: they
    leave the eigenproblem and are reached by ``nystrom`` like new points. So do the points of
    metastable states that hold fewer points than that: the graph is solved again without them
    (a far outlier in the data's component has the slowest mode of all, and left in, the wells'
    eigenfunctions split it off instead of the wells). ``outliers`` masks both.

    With ``return_neighbours``, also the distances and indices of each row's nearest other
    rows of ``Z`` (sorted), the graph's own, or None where rows left the eigenproblem.
    With ``rows``, the graph of those rows of ``Z`` alone; the others are neither in it
    (``kept``) nor outliers, and reach it through ``nystrom`` as new points do.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n = Z.shape[0]
    given = np.arange(n) if rows is None else np.asarray(rows)
    if min_component is None:
        min_component = max(k_scale, int(0.01 * given.size))
    rows = given
    for _ in range(_MAX_ROUNDS):
        model, tiny, knn = _solve(Z[rows], n_levels, n_neighbors or N_NEIGHBORS, k_scale,
                                  eps, min_component, n_jobs)
        if not tiny.any():
            break
        rows = rows[~tiny]
    outliers = np.zeros(n, dtype=bool)
    outliers[given] = True  # given rows that left the eigenproblem
    outliers[rows] = model.outliers
    model.kept, model.outliers = rows[model.kept], outliers
    if not return_neighbours:
        return model
    return model, (knn if model.kept.size == n else None)


def _solve(Z, n_levels, n_neighbors, k_scale, eps, min_component, n_jobs):
    """The graph of ``Z`` and its spectrum, a mask of the points of its tiny states, and the
    points' neighbours (in the units of ``Z``)."""
    n = Z.shape[0]
    centre = Z.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((Z - centre) ** 2, axis=1)))) or 1.0
    X = (Z - centre) / scale  # unit rms radius: energies scale back by 1 / scale^2
    g = _generator(X, n_neighbors, k_scale, eps, n_jobs)
    comps, labels = _components(g.S, min_component)
    kept = np.sort(np.concatenate([np.flatnonzero(labels == c_) for c_ in comps]))
    outliers = np.ones(n, dtype=bool)  # points of components too small to be wells
    outliers[kept] = False
    E, F, n_wells, gaps, tiny = _component_spectra(g, comps, labels, kept, n_levels,
                                                   min_component)
    # unit norm under the stationary law pi ~ D tau (the sample weights of the generator)
    pi = (g.D * g.tau)[kept]
    pi /= pi.sum()
    F /= np.sqrt(np.sum(pi[:, None] * F**2, axis=0))
    F = fix_signs(F)
    # ``points``: what ``nn`` was fitted on, so that a saved model can rebuild it
    points = X if kept.size == n else X[kept]
    nn_kept = g.nn if kept.size == n else NearestNeighbors(
        n_neighbors=min(g.k, kept.size - 1), n_jobs=n_jobs).fit(points)
    model = GraphModel(energies=E / scale**2, psi=F, kept=kept, nn=nn_kept, points=points,
                       centre=centre, scale=scale, rho=g.rho[kept], qa=g.qa[kept], eps=eps,
                       k_scale=k_scale, n_wells=int(n_wells), gap=_combine_gaps(gaps),
                       n_components=len(comps), outliers=outliers | tiny)
    return model, tiny, (g.knn[0] * scale, g.knn[1])


@dataclass
class _Generator:
    """The symmetrised generator ``S = M (D - K_a) M`` of points ``X`` (``M = (D tau)^-1/2``,
    ``mi`` its diagonal) and what its eigenvectors and a later :func:`nystrom` need."""

    S: sparse.csr_matrix
    mi: np.ndarray
    D: np.ndarray
    tau: np.ndarray
    qa: np.ndarray
    rho: np.ndarray
    nn: NearestNeighbors
    k: int
    knn: tuple
    dim: int


def _generator(X, n_neighbors, k_scale, eps, n_jobs):
    """The :class:`_Generator` of ``X`` (unit rms radius)."""
    n = X.shape[0]
    d = affine_dimension(X)
    nn, W, rho, k, knn = _kernel(X, n_neighbors, k_scale, eps, n_jobs)
    # q^-a with a = -1/d for q = (degree + 1) / rho^d; where rho^d under- or overflows (many
    # dimensions: 211 columns of crohn, one an id in the hundreds, rho ~ 0.01, rho^211 = 0,
    # and the solver met inf) the d-th root is taken first. Elsewhere q's own digits: an atom
    # of 41 copies is a separate component by a margin of round-off (its zero level read
    # 0.0015 from the root taken first, 1e-15 apart)
    deg = np.asarray(W.sum(axis=1)).ravel() + 1.0
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        q = deg / rho**d
    normal = np.all(np.isfinite(q) & (q >= np.finfo(float).tiny))
    qa = q ** (1.0 / d) if normal else deg ** (1.0 / d) / rho
    Wa = (sparse.diags(qa) @ W @ sparse.diags(qa)).tocsr()
    D = np.asarray(Wa.sum(axis=1)).ravel()
    # a point whose kernel weights all underflow is a component of its own (an outlier):
    # 0 / 0 there made every time scale NaN (one row 100 times further out than the rest)
    linked = D > 0
    C = Wa.tocoo()
    msd = np.divide(np.bincount(C.row, C.data * np.sum((X[C.row] - X[C.col]) ** 2, axis=1), n),
                    D, out=np.zeros(n), where=linked)
    c = float(np.sum(D * msd) / (2 * d * np.sum(D * rho**2)))
    tau = c * rho**2
    mi = np.divide(1.0, np.sqrt(D * tau), out=np.zeros(n), where=linked)
    S = (sparse.diags(mi) @ (sparse.diags(D) - Wa) @ sparse.diags(mi)).tocsr()
    return _Generator(S, mi, D, tau, qa, rho, nn, k, knn, d)


def _components(S, min_component):
    """The connected components of the graph of ``S`` large enough to be wells (all of the
    largest size where none is), largest first, and each point's component label."""
    n_comp, labels = connected_components(S, directed=False)
    sizes = np.bincount(labels, minlength=n_comp)
    comps = [c_ for c_ in np.argsort(-sizes, kind="stable")
             if sizes[c_] >= min(min_component, sizes.max())]
    return comps, labels


def _component_spectra(g, comps, labels, kept, n_levels, min_component):
    """The ``n_levels`` lowest levels of the components ``comps`` of the generator ``g``
    together (each solved on its own) and their eigenfunctions on the ``kept`` points; the
    wells each component holds, summed, with each component's gap; and a mask of the points
    of metastable states too small to be wells."""
    n = g.S.shape[0]
    pos = np.full(n, -1)
    pos[kept] = np.arange(kept.size)
    tiny = np.zeros(n, dtype=bool)
    energies, vectors, n_wells, gaps = [], [], 0, []
    for c_ in comps:
        members = np.flatnonzero(labels == c_)
        E_c, V_c = _lowest(g.S[members][:, members], min(n_levels, members.size), g.dim)
        n_g, gap = ground_multiplet(E_c)
        if n_g > 1:
            n_g, small = _wells_with_mass(V_c[:, :n_g] * g.mi[members, None], min_component)
            tiny[members[small]] = True
        n_wells += n_g
        gaps.append((n_g, gap))
        F = np.zeros((kept.size, E_c.size))
        F[pos[members]] = V_c * g.mi[members, None]
        energies.append(E_c)
        vectors.append(F)
    E = np.concatenate(energies)
    F = np.hstack(vectors)
    order = np.argsort(E, kind="stable")[:n_levels]
    E, F = np.maximum(E[order], 0.0), F[:, order]
    E[0] = 0.0
    return E, F, n_wells, gaps, tiny


def _lowest(S, k, dim):
    """Lowest ``k`` eigenpairs of a symmetric positive semi-definite sparse matrix, the
    generator of a graph in ``dim`` dimensions."""
    m = S.shape[0]
    if m <= _DENSE_MAX:
        return linalg.eigh(S.toarray(), subset_by_index=[0, k - 1])
    if dim >= _UNFACTORED_MIN_DIM:
        found = _eigen.lowest_unfactored(S, k, v0=np.ones(m), tol=1e-10)
        if found is not None:
            return found
    # shift-invert just below 0 (_eigen); a fixed start vector: ARPACK's default is random
    # (same random_state, 5e-14 apart)
    return _eigen.lowest(S, k, v0=np.ones(m), tol=1e-10)


def _wells_with_mass(F, min_size):
    """How many of the ``k`` metastable states of eigenfunctions ``F`` hold ``min_size`` points,
    and a mask of the points of the states that do not.

    A few isolated points far from the data are each a state of their own (tiny levels, like
    wells), and a gap above them counts them: 3 blobs and 15 scattered outliers read 16. The
    same rule as for small components applies: a state that PCCA+ gives fewer than
    ``min_size`` points (1 %) is an outlier, not a well.
    """
    labels = np.argmax(pcca(F, optimize=False)[0], axis=1)
    big = np.bincount(labels, minlength=F.shape[1]) >= min_size
    if not big.any():
        return 1, np.zeros(F.shape[0], dtype=bool)
    return int(big.sum()), ~big[labels]


def _combine_gaps(gaps):
    """The gap that decided the count: the weakest split inside a component (the one to doubt
    first); infinite when only separated components made the count; for a single well, the
    largest ratio seen (how close it came to a split)."""
    if len(gaps) == 1 and gaps[0][0] == 1:
        return gaps[0][1]
    split = [r for g, r in gaps if g >= 2]
    return float(min(split)) if split else np.inf


def nystrom(model, Z, levels, chunk=65536):
    """Eigenfunctions at new points: one step of the chain from ``z`` averages the fitted ones.

    ``f(z) = sum_j P(z, j) f_j`` (the exact extension divides by ``1 - tau(z) E``, close to 1 for
    the slow levels and unbounded far from the data, so it is left out: values stay within the
    range of the fitted eigenfunctions).
    """
    X = (np.asarray(Z, float) - model.centre) / model.scale
    psi = model.psi[:, levels]
    rho_fit, qa = model.rho, model.qa
    n_nb = model.nn.n_neighbors
    ks = min(model.k_scale, n_nb)
    out = np.empty((X.shape[0], len(levels)))
    for s in range(0, X.shape[0], chunk):
        dist, ind = model.nn.kneighbors(X[s:s + chunk], n_neighbors=n_nb)
        rho = np.sqrt(np.mean(dist[:, :ks] ** 2, axis=1))
        rho = np.maximum(rho, 1e-6 * np.median(rho_fit))
        logw = -dist**2 / (model.eps * rho[:, None] * rho_fit[ind]) + np.log(qa[ind])
        logw -= logw.max(axis=1, keepdims=True)
        w = np.exp(logw)
        w /= w.sum(axis=1, keepdims=True)
        out[s:s + chunk] = np.einsum("ik,ikl->il", w, psi[ind])
    return out
