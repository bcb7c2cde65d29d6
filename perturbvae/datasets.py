"""Exact reference spectra and samplers, independent of the estimators.

The operator is the one of docs/theory.rst: for a density ``p``, ``H`` conjugated by
``sqrt(p)`` is ``-L`` with ``L f = (1/p) div(p grad f)``, so the levels solve

    -div(p grad f) = E p f      (no flux through the boundary of the domain).

Every function here computes these levels without the package's estimators: closed forms
(Gaussians, the thin ring, uniform intervals and rectangles) or finite volumes on a grid
(``fd_spectrum_1d``, ``fd_spectrum_2d``, ``ring_levels`` with radial noise). The samplers draw
from exactly the densities whose levels these functions return, so a benchmark can put a
truth next to an estimate.

Finite volumes work in the symmetric (Schroedinger) form ``g = sqrt(p) f``: the matrix
``S = M^-1/2 K M^-1/2`` has off-diagonal entries ``-p_face / (h^2 sqrt(p_i p_j))`` and diagonal
``sum p_face / (h^2 p_i)``, ratios that are formed from ``log p`` directly. A double well whose
barrier has ``p ~ e^-8`` or ``e^-300`` relative to the wells therefore keeps full precision in
the matrix (nothing underflows), and ``S`` annihilates ``sqrt(p_i)`` exactly (the discrete ground
state is 0 to rounding). The levels themselves are accurate to about ``eps`` times the matrix's
largest entries (``~ 4 / h^2``): a tunnelling splitting below that is not resolved (unit
Gaussians 16 apart, ``E1 = 5e-14``, read negative on 1,000-16,000 cells), and the solvers warn
where a level lies within :data:`_RESOLVED` times it.
"""

import warnings
from itertools import islice
from math import pi
from numbers import Integral

import numpy as np
from scipy import sparse
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import eigsh
from scipy.special import logsumexp

from ._ladder import lowest_states, oscillator_levels
from ._spectral._multiplets import group_levels

# Levels below this many times the solvers' resolution (eps times the matrix's largest row
# sum) are said as unresolved: unit Gaussians 14 apart (E1 = 7.9e-11) read 0.997, 0.99 and
# 1.28 times it on 1,000, 4,000 and 16,000 cells, 103, 6.4 and 0.5 times the resolution.
_RESOLVED = 1e3

__all__ = [
    "gaussian_levels",
    "multiplicities",
    "fd_spectrum_1d",
    "fd_spectrum_2d",
    "ring_levels",
    "interval_levels",
    "box_levels",
    "mixture_logpdf",
    "double_well_splitting_capacity",
    "sample_gaussian",
    "sample_mixture",
    "sample_ring",
    "sample_uniform_box",
    "random_rotation",
]


# ---------------------------------------------------------------- closed forms
def gaussian_levels(variances, n_levels):
    """Lowest levels of ``N(mu, Sigma)``: ``E = sum_i n_i / s_i^2`` over ``n_i = 0, 1, ...``.

    Parameters
    ----------
    variances : array-like of shape (d,)
        Eigenvalues ``s_i^2`` of the covariance (the levels do not depend on its rotation).
    n_levels : int
        Number of levels to return, each repeated by its exact multiplicity.

    Returns
    -------
    levels : ndarray of shape (n_levels,)
        Ascending. Ties (degenerate levels) are exact: equal sums of the same ``1 / s_i^2``.

    Examples
    --------
    >>> gaussian_levels([1.0, 1.0], 6).tolist()
    [0.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    >>> gaussian_levels([4.0, 1.0], 4).tolist()
    [0.0, 0.25, 0.5, 0.75]
    """
    return oscillator_levels(1.0 / _positive(variances, "variances"), _count(n_levels))


def _count(value, name="n_levels"):
    """``value`` as an integer >= 0, or the error that says it is not (-1 returned no level
    from one function and islice's message from another; 2.5 the same)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _positive(values, name):
    """``values`` as a non-empty 1-d float array of finite positive numbers, or the error
    that says they are not (a length of 0 gave levels nan and inf, a negative one the levels
    of its absolute value)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(
            f"{name} must be a non-empty 1-d array of positive numbers, got {values}")
    return v


def _positive_number(value, name):
    """``value`` as a finite positive float, or the error that says it is not."""
    # a string reached numpy's isfinite ("ufunc 'isfinite' not supported for the input types")
    if isinstance(value, (bool, str, bytes)) or not (
            np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number)
            and np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def multiplicities(levels, rtol=1e-9):
    """Distinct values of a sorted spectrum and how often each occurs (within ``rtol`` of the
    lowest value of its multiplet).

    Parameters
    ----------
    levels : array-like of shape (n_levels,)
        Energies, ascending.
    rtol : float, default=1e-9
        Relative tolerance within which levels count as one.

    Returns
    -------
    values : ndarray of shape (n_distinct,)
        The lowest level of each multiplet.
    counts : ndarray of shape (n_distinct,)
        The size of each multiplet.

    Examples
    --------
    >>> multiplicities([0.0, 1.0, 1.0, 2.0])
    (array([0., 1., 2.]), array([1, 2, 1]))
    """
    E = np.asarray(levels, dtype=float)
    if E.ndim != 1:
        raise ValueError(f"levels must be a 1-d array of energies, got {levels!r}")
    # multiplets are read upwards: levels out of order (beyond rtol) merged wrongly
    if np.any(np.diff(E) < -rtol * np.abs(E[1:])):
        raise ValueError(f"levels must be in ascending order, got {levels!r}")
    groups = group_levels(E, 0, rtol)
    return E[[g[0] for g in groups]], np.array([len(g) for g in groups], dtype=int)


def interval_levels(length, n_levels):
    """Uniform density on ``[0, L]`` (Neumann Laplacian): ``(pi n / L)^2``, each once.

    Parameters
    ----------
    length : float
        ``L``, > 0.
    n_levels : int
        Number of lowest levels returned.

    Returns
    -------
    levels : ndarray of shape (n_levels,)

    Examples
    --------
    >>> np.round(interval_levels(pi, 3), 12).tolist()
    [0.0, 1.0, 4.0]
    """
    return (pi * np.arange(_count(n_levels)) / _positive_number(length, "length")) ** 2


def box_levels(sides, n_levels):
    """Uniform density on a box ``prod [0, a_i]``: ``sum (pi n_i / a_i)^2`` (Neumann).

    Parameters
    ----------
    sides : array-like of shape (d,)
        The side lengths ``a_i``, each > 0.
    n_levels : int
        Number of lowest levels returned (degenerate ones repeated).

    Returns
    -------
    levels : ndarray of shape (n_levels,)

    Examples
    --------
    >>> np.round(box_levels([pi, pi], 4), 12).tolist()
    [0.0, 1.0, 1.0, 2.0]
    """
    a = _positive(sides, "sides")
    states = lowest_states(lambda j, n: (pi * n / a[j]) ** 2, a.size)
    return np.array([e for e, _ in islice(states, _count(n_levels))])


# ---------------------------------------------------------------- finite volumes
def _logp_on(logp, x):
    out = np.asarray(logp(x), dtype=float)
    if out.shape != x.shape[:1] and out.shape != x.shape:
        raise ValueError(f"logp returned shape {out.shape} for {x.shape[0]} points")
    return out.reshape(x.shape[0]) if x.ndim == 2 else out


def _face_logp(logp_cells):
    # log of the arithmetic mean of the two neighbouring cell densities
    return np.logaddexp(logp_cells[:-1], logp_cells[1:]) - np.log(2.0)


def fd_spectrum_1d(logp, lo, hi, n_grid, n_levels, potential=None, return_vectors=False):
    """Lowest levels of ``-(p f')' + q p f = E p f`` on ``[lo, hi]``, no-flux boundaries.

    Finite volumes on ``n_grid`` equal cells (cell centres ``x_i``), second order in the cell
    width ``h``; a symmetric tridiagonal eigenproblem in log-space (see the module notes), solved
    by ``scipy.linalg.eigh_tridiagonal``, whose absolute error ``~ eps * 4 / h^2`` is far below
    the smallest tunnelling splittings of interest (``1e-4`` for unit Gaussians 8 apart).

    Parameters
    ----------
    logp : callable or ndarray
        ``log p`` up to a constant: a function of an array of points, evaluated at the cell
        centres and faces, or its values at the ``n_grid`` cell centres (faces then use the
        mean of the two neighbouring densities).
    lo, hi : float
        The interval; put it far enough into the tails that the truncation does not matter.
    n_grid : int
        Number of cells.
    n_levels : int
        Number of lowest levels returned.
    potential : callable, optional
        An extra potential ``q(x)`` (e.g. ``m^2 / r^2`` of an angular mode in polar form).
    return_vectors : bool, default=False
        Also return the eigenfunctions ``f`` at the cell centres (columns) and the centres.

    Returns
    -------
    levels : ndarray of shape (n_levels,)
    f, x : ndarrays, only with ``return_vectors``

    Examples
    --------
    The standard normal gives the oscillator ladder ``0, 1, 2, ...``:

    >>> E = fd_spectrum_1d(lambda x: -x**2 / 2, -12, 12, 4000, 4)
    >>> np.allclose(E, [0, 1, 2, 3], atol=1e-3)
    True
    """
    n_grid, n_levels = _count(n_grid, "n_grid"), _count(n_levels)
    if not hi > lo or n_grid < 3 or n_levels < 1 or n_levels > n_grid:
        raise ValueError(f"need lo < hi, n_grid >= 3, 1 <= n_levels <= n_grid; got "
                         f"lo={lo}, hi={hi}, n_grid={n_grid}, n_levels={n_levels}")
    h = (hi - lo) / n_grid
    x = lo + h * (np.arange(n_grid) + 0.5)
    if callable(logp):  # a value per point (a constant came back as one number)
        lc, lf = _logp_on(logp, x), _logp_on(logp, x[:-1] + h / 2)
    else:
        lc = np.asarray(logp, dtype=float)
        if lc.shape != (n_grid,):
            raise ValueError(f"logp values have shape {lc.shape}, expected ({n_grid},)")
        lf = _face_logp(lc)
    if not (np.all(np.isfinite(lc)) and np.all(np.isfinite(lf))):
        raise ValueError("log p is not finite on the grid: shrink [lo, hi] to the support")
    # coupling c = p_face / sqrt(p_i p_{i+1}) and the two diagonal shares p_face / p_i
    off = -np.exp(lf - 0.5 * (lc[:-1] + lc[1:])) / h**2
    diag = np.zeros(n_grid)
    diag[:-1] += np.exp(lf - lc[:-1]) / h**2
    diag[1:] += np.exp(lf - lc[1:]) / h**2
    if potential is not None:
        diag += np.asarray(potential(x), dtype=float)
    scale = float(np.max(np.abs(diag) + np.r_[np.abs(off), 0] + np.r_[0, np.abs(off)]))
    if return_vectors:
        E, g = eigh_tridiagonal(diag, off, select="i", select_range=(0, n_levels - 1))
    else:
        E = eigh_tridiagonal(diag, off, eigvals_only=True, select="i",
                             select_range=(0, n_levels - 1))
    _check_resolved(E, scale)
    if return_vectors:
        return E, g * np.exp(-0.5 * (lc - lc.max()))[:, None], x
    return E


def _check_resolved(E, scale):
    """Warn where a level above the ground state lies within :data:`_RESOLVED` times the
    eigensolver's resolution ``eps * scale`` (``scale`` the matrix's largest row sum)."""
    resolution = np.finfo(float).eps * scale
    unresolved = E[1:][E[1:] < _RESOLVED * resolution]
    if unresolved.size:
        warnings.warn(
            f"Levels {np.round(unresolved, 20).tolist()} lie within "
            f"{_RESOLVED:g} times the solver's resolution ({resolution:.1e}, eps times the "
            "matrix's largest entries, ~4 / h^2): they are not resolved (a tunnelling "
            "splitting below it reads wrong, even negative). Fewer cells lower the "
            "resolution; a splitting this small needs its own formula.", UserWarning,
            stacklevel=3)


def fd_spectrum_2d(logp, xlim, ylim, shape, n_levels):
    """Lowest levels of ``-div(p grad f) = E p f`` on a rectangle, no-flux boundaries.

    Five-point finite volumes on ``shape = (nx, ny)`` equal cells, symmetric sparse form in
    log-space (module notes), solved by ``eigsh`` in shift-invert mode just below 0 (exact
    sparse LU): the smallest levels, tunnelling splittings included, keep their relative
    precision down to about ``eps`` times the matrix's largest entries (``~ 4 / h^2``; unit
    Gaussians 14 apart, ``E1 = 7.9e-11``, within 1.2e-4); below that they are not resolved
    (16 apart: 1.1e-13 for 5.0e-14; 18 apart: negative), and a warning says so.

    Parameters
    ----------
    logp : callable or ndarray
        ``log p`` up to a constant: a function of an ``(m, 2)`` array of points, or its values
        on the ``(nx, ny)`` grid of cell centres.
    xlim, ylim : tuple of float
        The rectangle.
    shape : tuple of int
        Cells along x and y.
    n_levels : int
        Number of lowest levels returned.

    Returns
    -------
    levels : ndarray of shape (n_levels,)

    Examples
    --------
    ``N(0, diag(1, 4))`` gives ``n1 + n2 / 4``:

    >>> lp = lambda z: -z[:, 0]**2 / 2 - z[:, 1]**2 / 8
    >>> E = fd_spectrum_2d(lp, (-9, 9), (-16, 16), (150, 260), 4)
    >>> np.allclose(E, [0, 0.25, 0.5, 0.75], atol=1e-2)
    True
    """
    # integers, or said (10.7 cells were read as 10, n_levels=2.5 met ARPACK's SystemError)
    nx, ny = (_count(s, "shape") for s in np.broadcast_to(np.asarray(shape, dtype=object), 2))
    n_levels = _count(n_levels)
    if nx < 3 or ny < 3 or n_levels < 1 or n_levels >= nx * ny - 1:
        raise ValueError(f"need shape >= (3, 3) and 1 <= n_levels < cells; got {shape}, {n_levels}")
    for name, (lo, hi) in (("xlim", xlim), ("ylim", ylim)):
        if not lo < hi:  # also false for nan
            raise ValueError(f"need {name} = (lo, hi) with lo < hi; got {(lo, hi)}")
    hx = (xlim[1] - xlim[0]) / nx
    hy = (ylim[1] - ylim[0]) / ny
    xc = xlim[0] + hx * (np.arange(nx) + 0.5)
    yc = ylim[0] + hy * (np.arange(ny) + 0.5)
    X, Y = np.meshgrid(xc, yc, indexing="ij")
    if callable(logp):
        lc = _logp_on(logp, np.column_stack([X.ravel(), Y.ravel()])).reshape(nx, ny)
        fx = np.column_stack([(X[:-1] + hx / 2).ravel(), Y[:-1].ravel()])
        fy = np.column_stack([X[:, :-1].ravel(), (Y[:, :-1] + hy / 2).ravel()])
        lfx = _logp_on(logp, fx).reshape(nx - 1, ny)
        lfy = _logp_on(logp, fy).reshape(nx, ny - 1)
    else:
        lc = np.asarray(logp, dtype=float)
        if lc.shape != (nx, ny):
            raise ValueError(f"logp values have shape {lc.shape}, expected {(nx, ny)}")
        lfx = np.logaddexp(lc[:-1], lc[1:]) - np.log(2.0)
        lfy = np.logaddexp(lc[:, :-1], lc[:, 1:]) - np.log(2.0)
    if not all(np.all(np.isfinite(a)) for a in (lc, lfx, lfy)):
        raise ValueError("log p is not finite on the grid: shrink the rectangle to the support")
    idx = np.arange(nx * ny).reshape(nx, ny)
    diag = np.zeros((nx, ny))
    rows, cols, vals = [], [], []
    full, head, tail = slice(None), slice(None, -1), slice(1, None)
    for lf, a, b, h2 in ((lfx, (head, full), (tail, full), hx**2),
                         (lfy, (full, head), (full, tail), hy**2)):
        la, lb = lc[a], lc[b]
        c = -np.exp(lf - 0.5 * (la + lb)) / h2
        diag[a] += np.exp(lf - la) / h2
        diag[b] += np.exp(lf - lb) / h2
        rows += [idx[a].ravel(), idx[b].ravel()]
        cols += [idx[b].ravel(), idx[a].ravel()]
        vals += [c.ravel(), c.ravel()]
    rows.append(idx.ravel())
    cols.append(idx.ravel())
    vals.append(diag.ravel())
    S = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(nx * ny, nx * ny))
    # shift just below the null level: S - sigma I is positive definite
    sigma = -1e-6 * float(diag.max())
    E = np.sort(eigsh(S, k=n_levels, sigma=sigma, which="LM", return_eigenvectors=False,
                      v0=np.ones(nx * ny) / np.sqrt(nx * ny), tol=1e-12))
    _check_resolved(E, float(abs(S).sum(axis=1).max()))
    return E


# ---------------------------------------------------------------- densities with known levels
def mixture_logpdf(z, centres, stds, weights):
    """log density of an isotropic Gaussian mixture at the rows of ``z`` (1-d: a vector).

    Exact, in log-space (no underflow far from the centres).

    Parameters
    ----------
    z : array-like of shape (n_points, d) or (n_points,)
        Points (a vector: points on a line, ``d = 1``).
    centres : array-like of shape (k, d)
        The components' means.
    stds : float or array-like of shape (k,)
        The components' standard deviations, each > 0.
    weights : array-like of shape (k,)
        The components' weights, >= 0, not all 0 (normalised here).

    Returns
    -------
    logp : ndarray of shape (n_points,)
    """
    z = np.asarray(z, dtype=float)
    one_d = z.ndim == 1
    Z = z[:, None] if one_d else z
    C, s, w = _mixture(centres, stds, weights)
    d = C.shape[1]
    if Z.shape[1] != d:
        raise ValueError(f"z has {Z.shape[1]} columns; the centres have {d}")
    sq = ((Z[:, None, :] - C[None]) ** 2).sum(-1)
    with np.errstate(divide="ignore"):  # a weight of 0 is allowed: its component is -inf
        log_w = np.log(w)
    comp = log_w - d * np.log(s) - 0.5 * d * np.log(2 * pi) - sq / (2 * s**2)
    return logsumexp(comp, axis=1)


def _ring(radius, noise):
    """The radius of a ring with radial ``noise``, or the error that says they define none."""
    R = _positive_number(radius, "radius")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    return R


def _mixture(centres, stds, weights):
    """Centres ``(k, d)``, standard deviations ``(k,)`` and weights summing to 1 of an
    isotropic Gaussian mixture, or the error that says what does not fit (a negative
    standard deviation gave log densities nan, and samples as if it were positive)."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) \
            or not w.sum() > 0:
        raise ValueError(f"weights must be a 1-d array of numbers >= 0, not all 0; got "
                         f"{weights}")
    s = _positive(np.atleast_1d(stds), "stds")
    C = np.asarray(centres, dtype=float)
    if C.ndim == 1 and C.size == w.size:  # 1-d centres, one number a weight (4 numbers
        C = C.reshape(w.size, 1)           # and 2 weights were read as two 2-d centres)
    if s.size not in (1, w.size) or C.ndim != 2 or C.shape[0] != w.size:
        raise ValueError(
            f"centres must be ({w.size}, d), one row per weight, and stds one number or "
            f"{w.size}; got centres of shape {C.shape}, {s.size} stds and {w.size} weights")
    return C, np.broadcast_to(s, w.shape), w / w.sum()


def double_well_splitting_capacity(separation, weights=(0.5, 0.5), stds=(1.0, 1.0)):
    """Independent estimate of the tunnelling level ``E1`` of a 1-d two-Gaussian mixture.

    The capacity (mean-first-passage) formula of a 1-d diffusion with invariant density ``p``:
    ``E1 ~ (1 / w_L + 1 / w_R) / integral_{m_L}^{m_R} dx / p(x)`` between the two modes, with
    the wells' masses ``w``. It is asymptotically exact as the barrier grows (relative
    corrections shrink like ``E1`` times a well's relaxation time); a quadrature, no grid.

    Parameters
    ----------
    separation : float
        Distance between the two centres, > 0.
    weights : tuple of float, default=(0.5, 0.5)
        The wells' masses, each > 0 (normalised here).
    stds : tuple of float, default=(1.0, 1.0)
        The wells' standard deviations.

    Returns
    -------
    E1 : float
        The first excited level, in the package's units (:doc:`/theory`).
    """
    from scipy.integrate import quad

    m = _positive_number(separation, "separation") / 2.0
    centres = np.array([-m, m])
    # both wells need mass: (-1, -1) read as (1, 1), (1, 0) gave inf with a RuntimeWarning
    w = _positive(weights, "weights")
    if w.size != 2:
        raise ValueError(f"weights must be the two wells' masses; got {weights}")
    w = w / w.sum()
    def lp(x):
        return float(mixture_logpdf(np.array([x]), centres, np.asarray(stds), w)[0])

    # integrate exp(-log p + log p(0)) to keep it O(1) around the barrier
    ref = lp(0.0)
    integ, _ = quad(lambda x: np.exp(ref - lp(x)), -m, m, limit=200, epsabs=0, epsrel=1e-10)
    return (1.0 / w[0] + 1.0 / w[1]) * np.exp(ref) / integ


def ring_levels(radius, n_levels, noise=0.0, n_grid=4000):
    """Levels of a ring of radius ``R`` in the plane.

    ``noise=0``: the thin ring (the circle), ``m^2 / R^2`` with ``m = 0, 1, 1, 2, 2, ...`` (each
    ``m >= 1`` twice). ``noise > 0``: the density ``p(z) ~ exp(-(|z| - R)^2 / (2 noise^2))``
    (``sample_ring``), solved exactly in polar form: for each angular number ``m`` the radial
    problem ``-(r p g')' / (r p) + m^2 / r^2 g = E g`` (weight ``r p(r)``, ``fd_spectrum_1d``
    with ``potential=m^2 / r^2``); the levels are the union over ``m`` (``m >= 1`` twice).

    Parameters
    ----------
    radius : float
        ``R``, > 0.
    n_levels : int
        Number of lowest levels returned.
    noise : float, default=0.0
        Radial standard deviation, >= 0.
    n_grid : int, default=4000
        Cells of each radial finite-volume problem (``noise > 0``).

    Returns
    -------
    levels : ndarray of shape (n_levels,)

    Examples
    --------
    >>> ring_levels(1.0, 5).tolist()
    [0.0, 1.0, 1.0, 4.0, 4.0]
    """
    R = _ring(radius, noise)
    n_levels = _count(n_levels)
    if noise == 0:
        m = (np.arange(n_levels) + 1) // 2
        return m**2 / R**2
    lo = max(R - 10 * noise, R * 1e-3)
    hi = R + 10 * noise
    logw = lambda r: np.log(r) - (r - R) ** 2 / (2 * noise**2)  # noqa: E731
    out = []
    for m in range(n_levels):
        pot = (lambda r, m=m: m**2 / r**2) if m else None
        E = fd_spectrum_1d(logw, lo, hi, n_grid, min(n_levels, n_grid), potential=pot)
        out += list(E) * (2 if m else 1)
        if m and m**2 / hi**2 > max(out):  # higher m cannot enter the lowest n_levels
            break
    return np.sort(out)[:n_levels]


# ---------------------------------------------------------------- samplers
def random_rotation(d, random_state=None):
    """A Haar-random orthogonal ``d x d`` matrix (QR of a Gaussian matrix, signs fixed).

    Parameters
    ----------
    d : int
        Dimension.
    random_state : int, numpy Generator or None, default=None
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    Q : ndarray of shape (d, d)
    """
    rng = np.random.default_rng(random_state)
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def sample_gaussian(n, stds, rotate=True, shift=0.0, random_state=None):
    """``n`` samples of ``N(shift, Q diag(stds^2) Q^T)`` with a random rotation ``Q``.

    Its levels are ``gaussian_levels(stds**2, k)``.

    Parameters
    ----------
    n : int
        Number of samples.
    stds : float or array-like of shape (d,)
        Standard deviations along the principal axes, each > 0.
    rotate : bool, default=True
        Turn the principal axes by a random rotation (``d >= 2``).
    shift : float or array-like of shape (d,), default=0.0
        The mean.
    random_state : int, numpy Generator or None, default=None
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    Z : ndarray of shape (n, d)
    """
    n = _count(n, "n")  # -1 met numpy's "negative dimensions are not allowed"
    rng = np.random.default_rng(random_state)
    s = _positive(np.atleast_1d(stds), "stds")
    mean = np.asarray(shift, dtype=float)
    # one number or one a dimension (an (n, 1) shift moved each row its own way, nan
    # returned nan samples)
    if mean.shape not in ((), (s.size,)) or not np.all(np.isfinite(mean)):
        raise ValueError(f"shift must be a finite number or {s.size} finite numbers, one a "
                         f"dimension; got {shift!r}")
    Z = rng.standard_normal((n, s.size)) * s
    if rotate and s.size > 1:
        Z = Z @ random_rotation(s.size, rng).T
    return Z + mean


def sample_mixture(n, centres, stds, weights, random_state=None):
    """``n`` samples of the isotropic Gaussian mixture of ``mixture_logpdf``.

    Component counts are multinomial.

    Parameters
    ----------
    n : int
        Number of samples.
    centres, stds, weights
        As in :func:`mixture_logpdf`.
    random_state : int, numpy Generator or None, default=None
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    Z : ndarray of shape (n, d)
    labels : ndarray of shape (n,)
        The component of each sample.
    """
    n = _count(n, "n")  # -1 met numpy's "negative dimensions are not allowed"
    rng = np.random.default_rng(random_state)
    C, s, w = _mixture(centres, stds, weights)
    lab = rng.choice(len(w), size=n, p=w)
    s = s[lab]
    Z = C[lab] + rng.standard_normal((n, C.shape[1])) * s[:, None]
    return Z, lab


def sample_ring(n, radius=1.0, noise=0.1, random_state=None):
    """``n`` samples of ``p(z) ~ exp(-(|z| - R)^2 / (2 noise^2))`` in the plane.

    The radius has density ``~ r exp(-(r - R)^2 / (2 noise^2))`` on ``r > 0`` (the Jacobian),
    drawn by rejection; the angle is uniform. Its levels are ``ring_levels(R, k, noise)``.

    Parameters
    ----------
    n : int
        Number of samples.
    radius : float, default=1.0
        ``R``, > 0.
    noise : float, default=0.1
        Radial standard deviation, >= 0.
    random_state : int, numpy Generator or None, default=None
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    Z : ndarray of shape (n, 2)
    """
    _ring(radius, noise)  # the density ring_levels solves, or none
    n = _count(n, "n")  # -1 met numpy's "negative dimensions are not allowed"
    rng = np.random.default_rng(random_state)
    top = radius + 10 * noise
    r = np.empty(0)
    while r.size < n:
        c = radius + noise * rng.standard_normal(2 * n)
        keep = (c > 0) & (rng.uniform(0, top, c.size) < c)
        r = np.concatenate([r, c[keep]])
    r = r[:n]
    t = rng.uniform(0, 2 * pi, n)
    return np.column_stack([r * np.cos(t), r * np.sin(t)])


def sample_uniform_box(n, sides, rotate=False, random_state=None):
    """``n`` uniform samples of the box ``prod [0, a_i]``; levels ``box_levels(sides, k)``.

    Parameters
    ----------
    n : int
        Number of samples.
    sides : array-like of shape (d,)
        The side lengths, each > 0.
    rotate : bool, default=False
        Turn the box by a random rotation (``d >= 2``).
    random_state : int, numpy Generator or None, default=None
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    Z : ndarray of shape (n, d)
    """
    n = _count(n, "n")  # -1 met numpy's "negative dimensions are not allowed"
    rng = np.random.default_rng(random_state)
    a = _positive(sides, "sides")
    Z = rng.uniform(0, 1, (n, a.size)) * a
    if rotate and a.size > 1:
        Z = Z @ random_rotation(a.size, rng).T
    return Z
