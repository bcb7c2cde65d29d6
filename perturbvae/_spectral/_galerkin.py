"""Galerkin (Rayleigh-Ritz) estimate of the spectrum with a Hermite polynomial basis.

The Dirichlet form of the Langevin generator, ``E_p[grad f . grad g]``, and the Gram matrix
``E_p[f g]`` are replaced by sample means. With the probabilists' Hermite polynomials in
PCA-whitened coordinates ``y = diag(lam)^(-1/2) U^T (z - mean)`` the derivative of a basis function
is again a basis function, ``d/dy_j phi_a = sqrt(a_j) phi_(a - e_j)``, and the whitening map has
orthogonal rows, so the stiffness matrix follows from the Gram matrix alone::

    A[a, b] = sum_j  sqrt(a_j b_j) / lam_j  *  B[a - e_j, b - e_j]

(gradients taken in the ORIGINAL coordinates of ``z``). One pass over the data, in chunks of rows,
accumulates the Gram matrix: time ``O(n m^2)`` and memory ``O(chunk m + m^2)``.
"""

from itertools import combinations_with_replacement, islice
from math import comb, sqrt

import numpy as np
from scipy import linalg

from .._ladder import lowest_states, oscillator_levels
from . import _samples as _rows

_CHUNK = 32768


def multi_indices(d, degree):
    """All multi-indices of total degree <= ``degree`` in ``d`` variables, sorted by degree."""
    out = []
    for deg in range(degree + 1):
        block = []
        for combo in combinations_with_replacement(range(d), deg):
            a = [0] * d
            for j in combo:
                a[j] += 1
            block.append(tuple(a))
        out.extend(sorted(block, reverse=True))
    return np.array(out, dtype=np.intp).reshape(-1, d)


def n_basis(d, degree):
    return comb(d + degree, degree)


def _gaussian_states(inv_var):
    """States ``(energy, a)`` of the moment-matched Gaussian, ascending (see ``_ladder``)."""
    inv_var = np.asarray(inv_var, float)
    return lowest_states(lambda j, n: n * inv_var[j], inv_var.size)


def adaptive_indices(inv_var, n_levels, max_functions):
    """Multi-indices of the adaptive basis and the sizes of its nested energy shells.

    ``He_a`` of the whitened coordinates is the exact eigenfunction of energy ``sum a_j / lam_j``
    of the moment-matched Gaussian, so the states below a cut hold every level of that Gaussian
    up to it: the basis follows the shape of the data (many powers along a wide axis, few along
    a narrow one) instead of a total degree that caps every axis alike. The first cut is the
    energy of the ``n_levels``-th Gaussian level, each next one adds one quantum of the widest
    axis (or an eighth of the first cut) up to twice the first. Returns the indices below the
    largest cut within ``max_functions`` (the lowest ``max_functions`` states if even the first
    cut is beyond: a prefix of the walk, so still closed downwards) and the sizes of the cuts
    that fit, for the convergence check.
    """
    inv_var = np.asarray(inv_var, float)
    e0 = float(oscillator_levels(inv_var, n_levels)[-1])
    states = list(islice(_gaussian_states(inv_var), max_functions + 1))
    energies = np.array([e for e, _ in states])
    step = max(inv_var.min(), e0 / 8.0)
    sizes = []
    # a relative margin: an absolute one made 3.5e9 cuts (26 GiB) when 1 / var was 3e-22
    for cut in np.arange(e0, 2.0 * e0 * (1 + 1e-12), step):
        m = int(np.searchsorted(energies, cut * (1 + 1e-12), side="right"))
        if m > max_functions:
            break
        sizes.append(m)
    m = sizes[-1] if sizes else max_functions
    alphas = np.array([a for _, a in states[:m]], dtype=np.intp).reshape(-1, inv_var.size)
    return alphas, sizes


def _hermite_1d(y, degree):
    """Normalised probabilists' Hermite He_n(y) / sqrt(n!) for n = 0..degree: (n, d, degree+1)."""
    H = np.empty(y.shape + (degree + 1,), dtype=np.float64)
    H[..., 0] = 1.0
    if degree >= 1:
        H[..., 1] = y
    for k in range(1, degree):
        # He_{k+1} = y He_k - k He_{k-1}, in the normalised form h_k = He_k / sqrt(k!)
        H[..., k + 1] = (y * H[..., k] - sqrt(k) * H[..., k - 1]) / sqrt(k + 1)
    return H


class HermiteBasis:
    """Hermite polynomial basis in PCA-whitened coordinates: a downward-closed index set.

    ``alphas`` (default: total degree <= ``degree``) must contain ``a - e_j`` with every ``a``,
    as the sets of ``multi_indices`` and ``adaptive_indices`` do: the stiffness matrix and the
    score-matching system are computed from the Gram matrix through these shifts.
    """

    def __init__(self, mean, components, variances, degree=None, alphas=None):
        self.mean = mean  # (D,)
        self.components = components  # (d, D): rows are principal axes kept
        self.variances = variances  # (d,)
        if alphas is None:
            alphas = multi_indices(components.shape[0], int(degree))
        self.alphas = np.asarray(alphas, dtype=np.intp)
        self.degree = int(self.alphas.sum(axis=1).max())  # total degree
        self.max_power = int(self.alphas.max())
        # for each basis function, its non-zero (axis, power) factors
        self._factors = [
            [(j, int(a[j])) for j in np.flatnonzero(a)] for a in self.alphas
        ]
        index = {tuple(a): i for i, a in enumerate(self.alphas)}
        # shift tables for the stiffness matrix: (axis j, basis a) -> index of a - e_j
        d = components.shape[0]
        self._shift = []
        for j in range(d):
            rows, src, w = [], [], []
            for i, a in enumerate(self.alphas):
                if a[j] > 0:
                    b = list(a)
                    b[j] -= 1
                    rows.append(i)
                    src.append(index[tuple(b)])
                    w.append(sqrt(a[j]))
            self._shift.append((np.array(rows, np.intp), np.array(src, np.intp), np.array(w)))

    @property
    def n_functions(self):
        return len(self.alphas)

    @property
    def low(self):
        """Indices of the functions of total degree <= 2 (moments up to the 4th in B)."""
        return np.flatnonzero(self.alphas.sum(axis=1) <= 2)

    def whiten(self, Z):
        return ((Z - self.mean) @ self.components.T) / np.sqrt(self.variances)

    def evaluate(self, Z):
        """Basis functions at the rows of Z: (n, m)."""
        Y = self.whiten(Z)
        H = _hermite_1d(Y, self.max_power)
        Phi = np.empty((Z.shape[0], self.n_functions))
        for i, fac in enumerate(self._factors):
            if not fac:
                Phi[:, i] = 1.0
                continue
            j, p = fac[0]
            col = H[:, j, p].copy()
            for j, p in fac[1:]:
                col *= H[:, j, p]
            Phi[:, i] = col
        return Phi

    def gram(self, Z, chunk=_CHUNK):
        """Sample mean of phi phi^T (chunks of rows) and the mean of ``|phi_low|^4``.

        ``phi_low`` are the functions of total degree <= 2 (``self.low``); the second output
        gives the Ledoit-Wolf estimate of the sampling noise of their block of the mean (see
        ``shrinkage``).
        """
        low = self.low

        def sums(X):
            P = self.evaluate(X)
            Pl = P[:, low]
            return P.T @ P, float(np.sum(np.einsum("ij,ij->i", Pl, Pl) ** 2))

        B, q4 = _rows.sum_rows(sums, Z, chunk)
        return B / Z.shape[0], q4 / Z.shape[0]

    def stiffness(self, B, inv_variances):
        """Stiffness matrix from the Gram matrix, gradients weighted by ``inv_variances``."""
        m = self.n_functions
        A = np.zeros((m, m))
        for j, (rows, src, w) in enumerate(self._shift):
            if rows.size == 0:
                continue
            sub = B[np.ix_(src, src)] * np.outer(w, w) * inv_variances[j]
            A[np.ix_(rows, rows)] += sub
        return A


def whitening(Z, rtol=1e-10, chunk=_CHUNK):
    """Mean, principal axes and variances of Z (sample covariance), dropping null directions.

    Returns mean (D,), components (d, D), variances (d,), and the number of dropped directions.
    """
    mean = _rows.mean(Z)
    C = _rows.sum_rows(lambda X: (X - mean).T @ (X - mean), Z, chunk) / Z.shape[0]
    lam, U = linalg.eigh(C)
    lam, U = lam[::-1], U[:, ::-1]
    scale = max(lam[0], np.finfo(float).tiny)
    keep = lam > rtol * scale
    return mean, U[:, keep].T.copy(), lam[keep].copy(), int((~keep).sum())


def generalized_eigh(A, B, n_eig, rtol=1e-10):
    """Lowest eigenpairs of A c = E B c, function 0 being the constant (energy exactly 0).

    The excited levels are solved on the centred functions ``phi_a - E[phi_a]`` (covariance
    ``B_c``, same gradients), so the constant stays an exact eigenfunction with ``E = 0`` even when
    the samples make ``B`` singular (discrete values: ``y^2`` is then a combination of ``1, y``),
    and near-null directions of ``B_c`` are dropped.
    """
    m = B.shape[0]
    mean = B[1:, 0] / B[0, 0]
    Bc = B[1:, 1:] - np.outer(mean, B[0, 1:])
    Bc = (Bc + Bc.T) / 2
    s, V = linalg.eigh(Bc)
    keep = s > rtol * max(s.max(), np.finfo(float).tiny)
    T = V[:, keep] / np.sqrt(s[keep])  # T^T Bc T = I
    M = T.T @ A[1:, 1:] @ T
    M = (M + M.T) / 2
    k = min(n_eig - 1, M.shape[0])
    E, W = linalg.eigh(M, subset_by_index=[0, k - 1]) if k > 0 else (np.zeros(0), None)
    C = np.zeros((m, k + 1))
    C[0, 0] = 1.0 / np.sqrt(B[0, 0])
    if k > 0:
        C[1:, 1:] = T @ W
        C[0, 1:] = -mean @ C[1:, 1:]
    return np.concatenate([[0.0], np.maximum(E, 0.0)]), C


def fix_signs(C):
    """Columns of ``C`` with a sign that does not depend on round-off: the sign of each column's
    projection on a fixed generic vector is made positive.

    The sign of the largest entry, used before, flipped a column when two entries of opposite
    signs tied in magnitude (a dask fit in 400-row blocks gave ``embedding_`` 2.9 away from the
    in-memory fit, column 2 negated); a projection on a generic vector is 0 only by accident.
    """
    u = np.random.RandomState(12345).standard_normal(C.shape[0])
    s = np.sign(u @ C)
    s[0] = np.sign(C[np.argmax(np.abs(C[:, 0])), 0])  # the constant stays positive
    s[s == 0] = 1.0
    return C * s


def degree_for(d, n_samples, max_functions=300, max_degree=6, samples_per_function=20):
    """Largest total degree whose basis stays within the budget (at least 1)."""
    budget = min(max_functions, n_samples / samples_per_function)
    degree = 1
    while degree < max_degree and n_basis(d, degree + 1) <= budget:
        degree += 1
    return degree


# Ledoit-Wolf intensities below this are dropped (see shrinkage); measured: uniform, ring and
# skewed data gave 0.0002-0.002, Gaussians 0.96-1.0, nothing in between in the validation.
MIN_SHRINKAGE = 0.05


def shrinkage(B, q4, n_samples, low=None):
    """Ledoit-Wolf intensity for shrinking the Gram matrix towards the identity.

    The identity is the Gram matrix of the Gaussian with the sample mean and covariance in this
    basis, so shrinking B shrinks the Galerkin problem towards that Gaussian's exact spectrum
    ``sum_j n_j / lam_j`` (the stiffness matrix is linear in B and maps I to the Gaussian's).
    ``pi`` estimates the summed sampling variance of the entries of B, ``delta`` their squared
    distance from the target: gaussian data give ``gamma`` near 1, data far from a Gaussian near 0.

    Both are read on the block ``low`` of B (the functions of total degree <= 2, ``q4`` the mean
    of their ``|phi|^4``), whose noise the samples can estimate: the entries of degree-9 to -18
    products are means of heavy-tailed variables whose 4th moments the samples underestimate,
    and on the whole matrix ``gamma`` was 0.09 on 20,000 Gaussian samples in 1-d (level 6 off by
    9 %) where the block gives 1.0 (all levels within 1.2 %). Uniform, ring and skewed data
    still give 0 (their 4th moments are far from a Gaussian's). Data that match a Gaussian up
    to the 4th moments and differ beyond are read as that Gaussian.
    """
    if low is not None:
        B = B[np.ix_(low, low)]
    pi = max(q4 - float(np.sum(B * B)), 0.0) / n_samples
    delta = float(np.sum((B - np.eye(B.shape[0])) ** 2))
    if delta <= 0.0:
        return 1.0
    gamma = float(np.clip(pi / delta, 0.0, 1.0))
    # A small intensity removes little noise but gives the directions the data hardly see
    # (polynomials nearly constant on a bounded support) the Gaussian's energies: on a uniform
    # interval gamma = 0.0007 put two spurious levels at 47 (the Gaussian's 4th level) between
    # the true 39.5 and 88.8, and 1e-5 did too; none is kept below MIN_SHRINKAGE.
    return gamma if gamma >= MIN_SHRINKAGE else 0.0


class HermiteRBFBasis:
    """Hermite polynomials plus Gaussian bumps, all in the whitened coordinates of a HermiteBasis.

    The bumps ``exp(-|y - c|^2 / (2 w_c^2))`` sit on k-means centres ``c`` with a width ``w_c``
    proportional to the distance from ``c`` to its nearest other centre, so they adapt to the
    local spacing of the data: steep where wells are close, wide in sparse regions. They let
    the basis represent functions that are flat on each well and switch between wells, which a
    low-degree polynomial cannot (the tunnelling levels of multimodal densities).
    """

    def __init__(self, poly, centres, widths):
        self.poly = poly
        self.centres = centres  # (K, d) in whitened coordinates
        self.widths = widths  # (K,)

    @property
    def n_functions(self):
        return self.poly.n_functions + self.centres.shape[0]

    def _rbf(self, Y):
        D = (np.sum(Y * Y, 1)[:, None] - 2 * Y @ self.centres.T
             + np.sum(self.centres**2, 1)[None, :])
        return np.exp(-np.maximum(D, 0) / (2 * self.widths**2))

    def evaluate(self, Z):
        Y = self.poly.whiten(Z)
        return np.hstack([self.poly.evaluate(Z), self._rbf(Y)])

    def matrices(self, Z, chunk=8192):
        """Gram matrix B and stiffness matrix A (gradients in the original coordinates)."""
        m = self.n_functions
        mp = self.poly.n_functions
        inv_var = 1.0 / self.poly.variances
        A = np.zeros((m, m))
        B = np.zeros((m, m))
        for s in range(0, Z.shape[0], chunk):
            Zc = Z[s:s + chunk]
            Y = self.poly.whiten(Zc)
            P = self.poly.evaluate(Zc)
            R = self._rbf(Y)
            F = np.hstack([P, R])
            B += F.T @ F
            G = np.zeros_like(F)
            for j, (rows, src, w) in enumerate(self.poly._shift):
                G[:] = 0.0
                if rows.size:
                    G[:, rows] = P[:, src] * w
                G[:, mp:] = -R * (Y[:, j:j + 1] - self.centres[None, :, j]) / self.widths**2
                A += inv_var[j] * (G.T @ G)
        return A / Z.shape[0], B / Z.shape[0]


def rbf_centres(Y, n_centres, random_state, width_factor=0.5):
    """K-means centres of whitened samples and widths from nearest-centre distances."""
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=n_centres, random_state=random_state, n_init=3,
                         batch_size=2048).fit(Y)
    C = km.cluster_centers_
    D = np.sqrt(np.maximum(np.sum((C[:, None] - C[None]) ** 2, -1), 0))
    np.fill_diagonal(D, np.inf)
    w = width_factor * D.min(axis=1)
    w = np.maximum(w, 1e-3 * np.median(w))
    return C, w


def hermite_derivatives(basis, Z):
    """Values, whitened-coordinate gradients and weighted Laplacian of a HermiteBasis at ``Z``.

    Returns ``Phi (n, m)``, ``dPhi (n, m, d)`` with ``dPhi[..., j] = d phi / d y_j`` and
    ``lap (n, m) = sum_j (d^2 phi / d y_j^2) / lam_j``: the Laplacian in the original
    coordinates, since the whitening map has orthogonal rows scaled by ``lam_j^-1/2``.
    Uses ``h_k' = sqrt(k) h_(k-1)`` for the normalised Hermite functions.
    """
    Y = basis.whiten(Z)
    p = basis.max_power
    H = _hermite_1d(Y, p)
    k = np.arange(p + 1)
    H1 = np.zeros_like(H)
    H1[..., 1:] = H[..., :-1] * np.sqrt(k[1:])
    H2 = np.zeros_like(H)
    H2[..., 2:] = H[..., :-2] * np.sqrt(k[2:] * (k[2:] - 1))
    n, d = Y.shape
    m = basis.n_functions
    Phi = np.ones((n, m))
    dPhi = np.ones((n, m, d))
    lap = np.zeros((n, m))
    for i, a in enumerate(basis.alphas):
        for j in range(d):
            Phi[:, i] *= H[:, j, a[j]]
        for j in range(d):
            g = H1[:, j, a[j]].copy()
            s = H2[:, j, a[j]].copy()
            for jj in np.flatnonzero(a):
                if jj != j:
                    g *= H[:, jj, a[jj]]
                    s *= H[:, jj, a[jj]]
            dPhi[:, i, j] = g
            lap[:, i] += s / basis.variances[j]
    return Phi, dPhi, lap


def rbf_derivatives(basis, Z):
    """As ``hermite_derivatives`` for a HermiteRBFBasis (polynomials, then bumps)."""
    P, dP, lapP = hermite_derivatives(basis.poly, Z)
    Y = basis.poly.whiten(Z)
    R = basis._rbf(Y)  # (n, K)
    diff = Y[:, None, :] - basis.centres[None]  # (n, K, d)
    w2 = basis.widths[None, :, None] ** 2
    dR = -R[..., None] * diff / w2
    lapR = R * np.sum((diff**2 / w2**2 - 1.0 / w2) / basis.poly.variances, axis=2)
    return np.hstack([P, R]), np.concatenate([dP, dR], axis=1), np.hstack([lapP, lapR])
