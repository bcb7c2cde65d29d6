"""Slow levels of the fitted landscape: finite volumes on the mixture density of the wells.

The levels of the ground multiplet are the rates of the transitions between wells. They are
set by the density on the barriers, where the samples hardly go: 2,000 samples of two unit
Gaussians 8 apart put about one point within 1 of the midpoint, and the sample estimates of
the splitting were 1.2-6 (1-d) to 89-91 (5-d) times the exact value there. The fitted landscape
(:class:`~perturbvae._spectral_landscape.WellMixtureLogDensity`) extends each well's density
into its tails, so its own levels can be solved for: ``-div(p grad f) = E p f`` with no flux
through the boundary of a box around the data, by finite volumes (a conservative,
symmetric discretisation written in ``log p`` so that deep barriers keep their precision).

- ``d <= 2``: on the density itself, the landscape's exact levels up to the grid;
- ``d >= 3``: on its marginal on the line or plane through the wells' centres. Functions of
  a projection are a subspace of the trial functions, so by the min-max principle each
  level of the marginal is an upper bound of the same level of the full density (equality
  when the density factorises across that subspace, as for wells that differ only along it).
"""

import numpy as np
from scipy import sparse
from scipy.linalg import eigh_tridiagonal
from scipy.special import logsumexp

from . import _eigen

# Box: this many standard deviations of the widest component beyond every component mean.
_BOX_SIGMAS = 7.0
# Grid: cells per standard deviation of the narrowest component along each axis, and the
# most cells.
_CELLS_PER_SIGMA = 4.0
_MAX_CELLS_1D = 20_000
_MAX_CELLS_2D_GRID = 4_000_000  # evaluated
_MAX_CELLS_2D = 300_000  # solved (those of non-negligible density)
# Wells' centres farther than this (third singular value over the first) from a plane: no
# marginal on a plane keeps them apart.
_OFF_PLANE = 0.05
# Cells whose log density is this far below the largest are left out of the 2-d grid.
_NEGLIGIBLE_LOG = 35.0
# Relative resolution of the levels (double round-off times the grid's largest rates, ~1e-14
# of the first level above the multiplet, with a margin).
RESOLUTION = 1e-12


def fv_levels_1d(logp, lo, hi, n_cells, n_levels):
    """Lowest ``n_levels`` levels of ``-(p f')' = E p f`` on ``[lo, hi]``, no flux.

    Returns the levels, the cell centres ``(n_cells, 1)``, ``log p`` there and the symmetric
    eigenvectors ``g = sqrt(p h) f`` (orthonormal columns).
    """
    x = np.linspace(lo, hi, n_cells)
    h = x[1] - x[0]
    lp = logp(x[:, None])
    lf = logp(0.5 * (x[1:] + x[:-1])[:, None])
    diag = np.zeros(n_cells)
    diag[:-1] += np.exp(lf - lp[:-1])
    diag[1:] += np.exp(lf - lp[1:])
    off = -np.exp(lf - 0.5 * (lp[:-1] + lp[1:]))
    E, G = eigh_tridiagonal(diag / h**2, off / h**2, select="i",
                            select_range=(0, n_levels - 1))
    return np.maximum(E, 0.0), x[:, None], lp, G


def fv_levels_2d(logp, lo, hi, shape, n_levels, max_cells=None):
    """Lowest ``n_levels`` levels of ``-div(p grad f) = E p f`` on a rectangle, no flux.

    Cells where ``p`` is below ``exp(-_NEGLIGIBLE_LOG)`` of its largest value are left out
    (no flux into them): they change no level above the resolution, and empty space between
    compact clusters (a t-SNE map) is most of the rectangle. Returns what
    :func:`fv_levels_1d` does, for the cells kept; ``None`` if more than ``max_cells`` are kept.
    """
    xs, ys = (np.linspace(lo[i], hi[i], shape[i]) for i in range(2))
    h = (xs[1] - xs[0], ys[1] - ys[0])
    if max_cells is not None:  # estimate the cells kept on every 4th line first (cheap)
        coarse = logp(np.stack(np.meshgrid(xs[::4], ys[::4], indexing="ij"), -1).reshape(-1, 2))
        if np.mean(coarse > coarse.max() - _NEGLIGIBLE_LOG) * np.prod(shape) > 1.2 * max_cells:
            return None
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    P = np.c_[X.ravel(), Y.ravel()]
    lp_all = logp(P).reshape(shape)
    active = lp_all > lp_all.max() - _NEGLIGIBLE_LOG
    n = int(active.sum())
    if max_cells is not None and n > max_cells:
        return None
    idx = np.full(shape, -1)
    idx[active] = np.arange(n)
    lp = lp_all[active]
    diag = np.zeros(n)
    rows, cols, vals = [], [], []
    flat = np.arange(X.size).reshape(shape)
    for axis in (0, 1):
        sl_a = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        sl_b = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        both = active[sl_a] & active[sl_b]
        a, b = idx[sl_a][both], idx[sl_b][both]
        mid = 0.5 * (P[flat[sl_a][both]] + P[flat[sl_b][both]])
        lf, la, lb = logp(mid), lp[a], lp[b]
        np.add.at(diag, a, np.exp(lf - la) / h[axis] ** 2)
        np.add.at(diag, b, np.exp(lf - lb) / h[axis] ** 2)
        w = -np.exp(lf - 0.5 * (la + lb)) / h[axis] ** 2
        rows += [a, b]
        cols += [b, a]
        vals += [w, w]
    S = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n)) + sparse.diags(diag)
    # shift-invert just below 0 (_eigen); a fixed start vector: ARPACK's default is random,
    # and the null space of disconnected wells would come back in another basis at every call
    E, G = _eigen.lowest(S, n_levels, v0=np.exp(0.5 * (lp - lp.max())), tol=0)
    return np.maximum(E, 0.0), P[active.ravel()], lp, G


def _grid(mix, n_cells_max):
    """Box and cell counts for a mixture in 1 or 2 dimensions (``None`` if too fine)."""
    sd = np.sqrt(np.diagonal(mix.covariances, axis1=1, axis2=2))  # (K, m)
    lo = np.min(mix.means, axis=0) - _BOX_SIGMAS * sd.max(axis=0)
    hi = np.max(mix.means, axis=0) + _BOX_SIGMAS * sd.max(axis=0)
    # the narrowest width of a component along an axis: its precision's diagonal bounds it
    narrow = 1.0 / np.sqrt(np.max(np.diagonal(mix.precisions, axis1=1, axis2=2), axis=0))
    cells = np.ceil((hi - lo) / narrow * _CELLS_PER_SIGMA).astype(int) + 1
    if np.prod(cells) > n_cells_max:
        return None
    return lo, hi, np.maximum(cells, 50)


def _subspace(means, weights, d):
    """Origin and orthonormal basis (d x m, m <= 2) of the span of the wells' centres, or
    ``None`` when they do not lie near a plane (then the marginal would merge wells)."""
    origin = weights @ means
    _, s, Vt = np.linalg.svd(means - origin, full_matrices=False)
    if len(s) > 2 and s[2] > _OFF_PLANE * s[0]:
        return None
    m = int(min(2, np.sum(s > 1e-9 * max(s[0], np.finfo(float).tiny)), d))
    return origin, Vt[:max(m, 1)].T


def _constant_first(G, E, root):
    """Eigenvectors with column 0 the constant function (``root = sqrt(mass)``).

    Disconnected wells (levels set to 0 below the resolution) share the null space, in which
    the solver returns any orthonormal basis: it is rotated so that its first vector is the
    constant and the others are orthogonal to it. Other columns only get their sign fixed.
    """
    G = G.copy()
    zero = np.flatnonzero(E == 0.0)
    B = G[:, zero]
    first = B @ (B.T @ root)
    first /= np.linalg.norm(first)
    rest = B - np.outer(first, first @ B)
    U = np.linalg.svd(rest, full_matrices=False)[0][:, :len(zero) - 1]
    G[:, zero] = np.column_stack([first, U])
    return G * np.where(G.T @ root < 0, -1.0, 1.0)[None, :]


def landscape_levels(mix, n_levels):
    """The ``n_levels`` lowest levels of a fitted well mixture, and the wells' coordinates.

    Parameters
    ----------
    mix : WellMixtureLogDensity
        The fitted landscape; ``mix.component_wells`` holds the well of each component.
    n_levels : int
        Levels wanted: the number of wells.

    Returns
    -------
    levels : ndarray of shape (n_levels,) or None
        ``levels[0] = 0``; levels below ``1e-12`` times the next level (round-off) are 0.
        ``None`` where the grid would be too fine (a narrow well far from the others) or,
        above 2-d, where the wells' centres do not lie near a plane.
    A : ndarray of shape (n_levels, n_levels) or None
        The wells' memberships (the mixture's posterior probability of each well) projected
        onto the eigenfunctions, ``chi ~ F A`` in ``L2(p)``, wells in the order of their
        labels: :func:`~perturbvae._spectral._rates.coarse_rate_matrix` turns it into the
        rate matrix.
    exact : bool
        ``True`` for the levels of the density itself (``d <= 2``), ``False`` for upper
        bounds from its marginal on the span of the wells' centres.
    """
    d = mix.means.shape[1]
    exact = d <= 2
    if exact:  # the density itself, in its principal axes (so the grid turns with the data)
        w = np.exp(mix.log_weights)
        origin = w @ mix.means
        dev = mix.means - origin
        total = np.einsum("k,kij->ij", w, mix.covariances) + (w[:, None] * dev).T @ dev
        proj = mix.marginal(origin, np.linalg.eigh(total)[1])
    else:
        wells, w = mix.component_wells, np.exp(mix.log_weights)
        ks = np.unique(wells)
        centres = np.array([np.average(mix.means[wells == k], axis=0, weights=w[wells == k])
                            for k in ks])
        span = _subspace(centres, np.array([w[wells == k].sum() for k in ks]), d)
        if span is None:
            return None, None, exact
        proj = mix.marginal(*span)
    m = proj.means.shape[1]
    grid = _grid(proj, _MAX_CELLS_1D if m == 1 else _MAX_CELLS_2D_GRID)
    if grid is None:
        return None, None, exact
    lo, hi, cells = grid
    if m == 1:
        E, X, lp, G = fv_levels_1d(proj.log_density, lo[0], hi[0], int(cells[0]), n_levels + 1)
    else:
        solved = fv_levels_2d(proj.log_density, lo, hi, tuple(int(c) for c in cells),
                              n_levels + 1, max_cells=_MAX_CELLS_2D)
        if solved is None:
            return None, None, exact
        E, X, lp, G = solved
    # levels below the solver's round-off (~1e-14 of the first level above the wells') are 0:
    # wells 16 or more widths apart (true rates < 1e-15) are disconnected at this precision
    E = np.where(E < RESOLUTION * E[-1], 0.0, E)[:n_levels]
    G = G[:, :n_levels]
    E[0] = 0.0
    # with g = sqrt(mass) f orthonormal, <chi_j, f_i>_p = sum_cells g_i sqrt(mass) chi_j
    log_mass = lp - logsumexp(lp)
    root = np.exp(0.5 * log_mass)  # g of the constant f_0 = 1
    G = _constant_first(G, E, root)
    lw = proj.well_log_densities(X)
    chi = np.exp(lw - logsumexp(lw, axis=1, keepdims=True))
    A = G.T @ (root[:, None] * chi)
    return E, A, exact
