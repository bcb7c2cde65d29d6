"""The ground multiplet's levels from the samples' own density near the barriers.

The rates between wells are set by the density on the dividing surfaces. A Gaussian mixture
fitted well by well (:class:`~._density.WellMixtureLogDensity`) sees each well's sample cut
at that surface, and its Gaussian tails fall off faster than the data there: on the 2-d
double well ``p ~ exp(-4 ((x^2 - 1)^2 + y^2))`` its ``log p`` at the saddle was 0.8
(20,000 samples) to 1.4 (5,000) nats too low, and the rate 0.4-0.7 times the exact one.
Where the samples do visit the barrier (a rate that no sample ever crosses cannot be
measured from them), its density is read from them here:

- a Gaussian kernel density estimate, binned on a grid (linear binning and a separable
  Gaussian filter: ``O(n + cells)``), bandwidth 1.75 times Silverman's rule on the pooled
  within-well spread, with a first-order correction of the smoothing in ``log p``;
- where the kernel estimate has less than one sample's kernel peak of support, the well
  mixture (a barrier that no sample visits, Gaussian wells 8 widths apart, keeps the
  mixture's extrapolation), or, where ``potential`` took a polynomial ``log p`` over all the
  wells (1-d and 2-d), that polynomial (quartic wells' barriers, which the mixture's
  Gaussian tails put orders of magnitude too deep); inside the support, never below the
  mixture;
- ``-div(p grad f) = E p f`` (no flux) by finite volumes on that grid, in 1-d and 2-d on
  the data's principal axes (the density itself), above on the plane of the wells' centres
  (its marginal: upper bounds of the levels by the min-max principle, equal for wells that
  differ only in that plane), and where the centres are off any plane but near a 3-space
  (four or more wells), on the 3-d data's principal axes or on that 3-space;
- PCCA+ on the grid's eigenfunctions, weighted by the cells' masses, for the rates.

An error bound is measured on the same grid: the rms relative difference between the
levels of two random halves of the samples over four random splits, each half with its own
kernel estimate and its own refit of the wells' mixture (halves differ by about twice the
full sample's standard error), plus
the change between 0.7 and 1.4 times the bandwidth divided by 1.47 (the smoothing bias at
the bandwidth used, for a bias growing like ``h^2``); on a 3-d grid, whose cell budget
keeps it coarse, plus the change of the levels on a grid of half the cells along each axis
(the grid's own error, which the other parts share).
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, sparse
from scipy.ndimage import gaussian_filter
from scipy.ndimage import label as connected_pieces
from scipy.optimize import linear_sum_assignment
from scipy.sparse.linalg import ArpackNoConvergence
from scipy.special import logsumexp

from . import _eigen
from ._finite_volumes import _OFF_PLANE, RESOLUTION, _constant_first
from ._multiplets import shows_gap
from ._pcca import pcca
from ._span import affine_dimension
from ._walk import GridWalkDensity

# Bandwidth: times Silverman's rule on the within-well spread. Measured on exact samples of
# two 2-d double wells (4 seeds, 5,000 and 20,000 samples): 1.25 left the rates 0.82-0.94x
# exact, 1.75 0.90-0.99x; without the smoothing correction 1.25 made Gaussian wells 6 apart
# 1.26-1.37x too fast at 2,000 samples (smoothing lifts a Gaussian tail by h^2 x^2 / 2).
BANDWIDTH_FACTOR = 1.75
# Grid: cells per bandwidth along each axis, at most this many cells along an axis, and the
# box the data's range plus this many bandwidths.
_CELLS_PER_H = 3.0
_MAX_CELLS_AXIS = 360
_MAX_CELLS = 40_000
# In 3-d a factorisation of the grid costs far more per cell (fill grows as cells^(4/3)):
# 40,000 cells took 3.3 s a solve, five solves a fit. Eight deeptime-like quartic wells
# (the corners of a cube, 20,000 samples) read the same levels on 8,000 cells (0.88-1.07x
# exact against 0.85-0.97x on 40,000); the exact density's levels on a grid of 20 cells
# along each axis are 0.998x exact (0.91x at 10 cells).
_MAX_CELLS_3D = 8_000
# The 3-d grid's own error joins the bound: the change of the levels on a grid of this many
# times the cells along each axis (10 for 20). The other parts of the bound keep the grid,
# so they missed it: Gaussian wells 6 widths apart at the corners of a cube read 1.07-1.26x
# exact with bounds 0.18-0.22 and no warning (and 1.16-1.24x with bound 0.10 at 80,000
# samples: the grid's part does not shrink with more samples). The change on 14 cells an axis
# (0.7) still left one of three such fits under its bound (error 0.26, bound 0.25); on 10
# cells the bounds are 0.39-0.56 and cover them, and two wells of unequal widths (0.3 and
# 0.8) along each axis, 1.7-2.4x exact, read a bound of 1.30 (warned).
_GRID_CHECK = 0.5
_PAD_H = 4.0
# Cells whose density is this far below the top are left out (no flux into them).
_NEGLIGIBLE_LOG = 30.0
# Connected pieces of the grid holding less of the mass are left out: a lone sample's kernel
# linked to the rest by a sliver of density was a spurious slow level (E1 0.003x exact).
_MIN_PIECE = 0.01
# A smooth log density is used on the grid only where it falls this far below its top at every
# side of the grid (the data's range and 4 bandwidths): its mass outside is then negligible.
_SMOOTH_EDGE_LOG = 10.0
# The smoothing correction moves log p by at most this much (nats) down and up: it is a
# first-order term, and noisy where the estimate is thin.
_CORRECTION_CLIP = (-3.0, 1.0)
# Bandwidths of the smoothing-bias check, and the bias at the bandwidth used from the change
# between them for a bias growing like h^2: (1.4^2 - 0.7^2) = 1.47.
_BOUND_BANDWIDTHS = (0.7, 1.4)
_BIAS_SCALE = 1.47
# Random splits into halves whose rms difference is the sampling part of the bound. One
# split's difference is a single draw (for Gaussian errors below one standard error in 38 %
# of fits). On 144 fits of six 2-d families against finite volumes (double, triple and
# quadruple wells, three Gaussians in a row, unequal widths, Gaussians 5 apart; 2,000-20,000
# samples, 8 seeds), with 4 splits against 1: the fits with no warning and a level error
# above 0.3 went from 7 (up to 0.65) to 5 (up to 0.33), the unwarned fits whose error the
# bound covers from 77 of 109 to 84 of 105, the warned ones within 0.15 stayed 7.
_SPLITS = 4
# Lanczos steps before a grid counts as unsolved (a converging solve takes tens to hundreds).
_MAX_LANCZOS = 1000
# Grids up to this many active cells are solved densely.
_DENSE_MAX = 1000


@dataclass
class KdeLevels:
    """Levels of the ground multiplet and what the rates need, with their error bound.

    ``levels`` (k,) with ``levels[0] = 0``; ``A`` (k, k) PCCA+ transformation of the grid's
    eigenfunctions, wells in the order of the estimator's labels (None where the levels close
    the count's gap: they are not used); ``exact`` whether the grid
    holds the density itself (``d <= 2``, or 3-d wells off a plane) or its marginal on the
    wells' plane or 3-space;
    ``error_bound`` the largest relative error bound of ``levels[1:]``; ``sampling``,
    ``smoothing`` and, on a 3-d grid, ``grid`` its parts (per level); ``walk`` the density
    those levels are of, for the walkers of ``simulate`` (:mod:`._walk`); ``across`` (on a
    marginal) the largest ratio of the wells' spreads across the grid's space
    (:func:`spread_across`); ``tails`` the density where the samples do not reach:
    ``"mixture"`` (the wells' mixture) or ``"smooth"`` (the smooth ``log p`` given).
    """

    levels: np.ndarray
    A: np.ndarray
    exact: bool
    error_bound: float = np.nan
    sampling: np.ndarray = field(default_factory=lambda: np.zeros(0))
    smoothing: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grid: np.ndarray = field(default_factory=lambda: np.zeros(0))
    walk: GridWalkDensity = None
    tails: str = "mixture"
    across: float = np.nan


# ------------------------------------------------------------------------ the space
def wells_space(Z, labels, k, d):
    """Origin and orthonormal basis ``(n_features, m)``, ``m <= 3``, of the space the levels
    are solved in; ``None`` where the wells' centres are not near a plane or a 3-space.

    ``d`` is the dimension of the rows' span (constant columns and padding are not axes).
    ``d <= 2``: the data's principal axes (the grid turns with the data). Above: the span of
    the wells' centres, completed to a plane by the leading direction of the within-well
    spread orthogonal to it (a curved path between two wells leaves their line); where the
    centres are off any plane (four or more wells), their 3-space, which in 3-d is the
    data's own (the principal axes: the density itself).
    """
    if d <= 2:
        return _principal_axes(Z, d)
    centres = np.array([Z[labels == j].mean(axis=0) for j in range(k)])
    weights = np.bincount(labels, minlength=k) / len(labels)
    origin = weights @ centres
    _, s, Vt = np.linalg.svd(centres - origin, full_matrices=False)
    if len(s) > 2 and s[2] > _OFF_PLANE * s[0]:
        if len(s) > 3 and s[3] > _OFF_PLANE * s[0]:
            return None
        if d == 3:
            return _principal_axes(Z, d)
        return origin, Vt[:3].T
    # k centres span k - 1 directions at most; rounding of large coordinates (an offset of
    # 1e8 leaves 1e-8 in the centres) is not a direction: two wells' plane turned at random
    # and their level moved by 40 %
    rounding = 1e3 * np.finfo(float).eps * np.abs(Z).max()
    B = Vt[:int(min(2, k - 1, np.sum(s > max(1e-9 * s[0], rounding))))].T
    if B.shape[1] < 2:
        R = Z - centres[labels]
        R = R - (R @ B) @ B.T
        u = np.linalg.eigh(R.T @ R)[1][:, -1]
        u -= B @ (B.T @ u)
        B = np.c_[B, u / np.linalg.norm(u)]
    return origin, B


def spread_across(Z, Y, B, labels, k):
    """The largest ratio between the wells' rms spreads (per dimension) across the space of
    the orthonormal ``B`` (``Z`` centred on its origin, ``Y = Z @ B``): the marginal's levels
    are exact for wells that differ only in that space, upper bounds otherwise (the min-max
    principle). Two 5-d Gaussian wells 4 apart,
    one of spread 1, the other 0.5, 0.6, 0.7 or 0.8 (5,000 samples, seeds 0-2, exact by
    finite volumes in the axial coordinates): ratios near 2.0, 1.65, 1.4 and 1.25, levels
    1.18-1.37, 1.07-1.17, 1.00-1.07 and 0.97-1.02 times exact, under bounds of 0.08-0.18 that
    the first two exceeded; wells alike across read 1.00-1.03."""
    R = Z - Y @ B.T
    m = max(Z.shape[1] - B.shape[1], 1)
    spreads = np.array([np.sqrt(np.mean(np.sum((R[labels == j] - R[labels == j].mean(axis=0))
                                               ** 2, axis=1)) / m) for j in range(k)])
    return float(spreads.max() / spreads.min()) if spreads.min() > 0 else np.inf


def _principal_axes(Z, d):
    """The mean of ``Z`` and its ``d`` leading principal axes: the span of rows of affine
    dimension ``d``, constant columns and padding left out."""
    C = np.atleast_2d(np.cov(Z.T))
    return Z.mean(axis=0), np.linalg.eigh(C)[1][:, ::-1][:, :d]


def within_well_bandwidth(Y, labels, k, factor=BANDWIDTH_FACTOR):
    """Per-axis bandwidth: ``factor`` times Silverman's rule in ``m`` dimensions, on the
    pooled within-well standard deviation (the spread between wells would oversmooth)."""
    n, m = Y.shape
    centres = np.array([Y[labels == j].mean(axis=0) for j in range(k)])
    s = np.maximum((Y - centres[labels]).std(axis=0), np.finfo(float).tiny)
    return factor * s * (4.0 / (m + 2)) ** (1 / (m + 4)) * n ** (-1 / (m + 4))


# ------------------------------------------------------------------------- the grid
@dataclass
class _Grid:
    """A box with cells at the even nodes and faces at the odd nodes of ``shape2``."""

    lo: np.ndarray
    hi: np.ndarray
    shape2: tuple

    @property
    def step2(self):
        return (self.hi - self.lo) / (np.array(self.shape2) - 1)

    def nodes(self):
        axes = [np.linspace(self.lo[a], self.hi[a], s) for a, s in enumerate(self.shape2)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))

    @classmethod
    def around(cls, Y, h):
        lo, hi = Y.min(axis=0) - _PAD_H * h, Y.max(axis=0) + _PAD_H * h
        cells = np.minimum(np.ceil((hi - lo) / h * _CELLS_PER_H).astype(int) + 1,
                           _MAX_CELLS_AXIS)
        # a budget of cells in all: each level solve is a sparse factorisation of the grid
        # (130,000 cells of a 360 x 360 grid took seconds, five times per fit)
        budget = _MAX_CELLS if len(cells) <= 2 else _MAX_CELLS_3D
        cells = np.minimum(cells, int(round(budget ** (1.0 / len(cells)))))
        return cls(lo, hi, tuple(int(2 * c - 1) for c in cells))


def binned_counts(Y, grid):
    """Linear binning of the samples onto the grid's nodes (weights sum to ``n``)."""
    m = Y.shape[1]
    shape = np.array(grid.shape2)
    u = (Y - grid.lo) / grid.step2
    i0 = np.clip(np.floor(u).astype(int), 0, shape - 2)
    f = u - i0
    H = np.zeros(grid.shape2)
    for corner in range(2 ** m):
        bits = [(corner >> a) & 1 for a in range(m)]
        w = np.prod([f[:, a] if b else 1 - f[:, a] for a, b in enumerate(bits)], axis=0)
        np.add.at(H, tuple(i0[:, a] + b for a, b in enumerate(bits)), w)
    return H


def log_kde(H, n, grid, h):
    """``log`` of the Gaussian kernel density estimate on the grid's nodes (``-inf`` where
    it underflows), from the binned counts ``H`` of ``n`` samples."""
    step = grid.step2
    K = gaussian_filter(H, sigma=h / step, mode="constant", truncate=6.0)
    K /= n * np.prod(step)
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(K, 0.0))


def corrected_log_kde(lp2, grid, h, support):
    """First-order deconvolution of a Gaussian kernel estimate in ``log p``, where it is
    above ``support``: ``p = p_h - sum_a h_a^2 d_a^2 p_h / 2 + O(h^4)``, i.e.
    ``log p ~ log p_h - sum_a h_a^2 (d_a^2 log p_h + (d_a log p_h)^2) / 2``.

    A Gaussian tail ``x`` widths out is lifted by ``h^2 x^2 / 2`` by the smoothing; uncorrected
    that made Gaussian wells 6 apart 1.3x too fast at 2,000 samples.
    """
    ok = np.isfinite(lp2) & (lp2 > support)
    if not ok.any():
        return lp2
    L = np.where(ok, lp2, lp2[ok].min() - 50.0)
    out = lp2.copy()
    for a, step in enumerate(grid.step2):
        g = np.gradient(L, step, axis=a)
        out = out - 0.5 * h[a] ** 2 * (np.gradient(g, step, axis=a) + g * g)
    return np.where(ok, np.clip(out, lp2 + _CORRECTION_CLIP[0], lp2 + _CORRECTION_CLIP[1]),
                    lp2)


# The samples' density is floored this many of its noise widths below the mixture.
_FLOOR_NOISE = 2.0


def density_on_grid(H, n, grid, h, log_mix, log_tails=None):
    """``log p`` on the grid's nodes: the corrected kernel estimate where the samples
    support it, the mixture ``log_mix`` elsewhere (or ``log_tails``, where given: a smooth
    ``log p`` over all the samples).

    Supported: the connected pieces of the nodes where the estimate is at least one
    sample's kernel peak that hold at least ``_MIN_PIECE`` of the samples. A lone sample
    outside them is an island of density in the mixture's thinner tails, linked to the
    rest by a sliver (a spurious slow level: E1 0.008x exact on the 2-d double well); the
    estimate's own tails beyond the samples are the kernel's, lifted by the smoothing (the
    rate of Gaussian wells 8 apart 1.8x too fast in 5-d).
    """
    log_peak1 = -np.log(n) - 0.5 * len(h) * np.log(2 * np.pi) - np.sum(np.log(h))
    raw = log_kde(H, n, grid, h)
    above = raw >= log_peak1
    pieces, n_pieces = connected_pieces(above)
    if n_pieces > 1:
        share = np.bincount(pieces[above], weights=H[above], minlength=n_pieces + 1) / n
        above &= share[pieces] >= _MIN_PIECE
    lp2 = corrected_log_kde(raw, grid, h, log_peak1 - 2.0)
    # inside, never far below the mixture: at the edge of the samples the correction can dip
    # (1-d Gaussian wells 8 apart read 0.71x exact without this, 1.06x with the mixture).
    # Floored at the mixture itself, the estimate's noise peaks were kept and its dips cut:
    # three Gaussian wells 4.7 widths apart (10,000 samples) read their slowest level 1.17x
    # exact on average over 8 fits. Floored two noise widths below it (the estimate's
    # standard deviation in log p, from the samples under one kernel), 1.04x; a floor that
    # switched to the mixture there instead moved levels by 1e-3 under a rotation
    noise = np.sqrt(2.0 ** (-len(h) / 2) * np.exp(np.minimum(log_peak1 - raw, 50.0)))
    inside = np.maximum(lp2, log_mix - _FLOOR_NOISE * noise)
    return np.where(above, inside, log_mix if log_tails is None else log_tails)


# ----------------------------------------------------------------- finite volumes
def _faces(m, axis):
    """Slices of the cells on both sides of the faces along ``axis`` and of those faces."""
    a, b = [slice(None)] * m, [slice(None)] * m
    a[axis], b[axis] = slice(None, -1), slice(1, None)
    f = [slice(0, None, 2)] * m
    f[axis] = slice(1, None, 2)
    return tuple(a), tuple(b), tuple(f)


def _active_cells(cells):
    """Cells of non-negligible density, less the connected pieces of little mass."""
    top = np.nanmax(cells)
    active = cells > top - _NEGLIGIBLE_LOG
    pieces, n_pieces = connected_pieces(active)
    if n_pieces > 1:
        mass = np.bincount(pieces[active], weights=np.exp(cells[active] - top),
                           minlength=n_pieces + 1)
        active &= mass[pieces] >= _MIN_PIECE * mass.sum()
    return active


def grid_levels(lp2, grid, n_levels):
    """Lowest ``n_levels`` levels of ``-div(p grad f) = E p f`` (no flux) from ``log p`` on
    the grid's nodes (cells at even, faces at odd indices).

    Returns the levels (round-off ones set to 0), the eigenfunctions ``F`` at the active
    cells (orthonormal under the cells' masses, column 0 the constant), those masses and the
    mask of active cells.
    None where Lanczos does not converge within its step budget.
    """
    m = lp2.ndim
    cells = lp2[tuple(slice(0, None, 2) for _ in range(m))]
    active = _active_cells(cells)
    n = int(active.sum())
    idx = np.full(cells.shape, -1)
    idx[active] = np.arange(n)
    lp = cells[active]
    diag = np.zeros(n)
    rows, cols, vals = [], [], []
    for axis, step in enumerate(2 * grid.step2):
        sa, sb, sf = _faces(m, axis)
        faces = lp2[sf]
        both = active[sa] & active[sb] & np.isfinite(faces)
        a, b, lf = idx[sa][both], idx[sb][both], faces[both]
        np.add.at(diag, a, np.exp(lf - lp[a]) / step ** 2)
        np.add.at(diag, b, np.exp(lf - lp[b]) / step ** 2)
        w = -np.exp(lf - 0.5 * (lp[a] + lp[b])) / step ** 2
        rows += [a, b]
        cols += [b, a]
        vals += [w, w]
    S = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n)) + sparse.diags(diag)
    # shift-invert just below 0 (_eigen); a fixed start vector keeps the null space of
    # disconnected wells in the same basis from call to call
    if n <= _DENSE_MAX:  # small grids: a dense solve is quicker than factorising
        E, G = linalg.eigh(S.toarray(), subset_by_index=[0, n_levels - 1])
    else:
        try:  # a null space of several disconnected pieces can stall Lanczos: bounded
            E, G = _eigen.lowest(S, n_levels,
                                 v0=np.exp(0.5 * (lp - lp.max())), tol=1e-9,
                                 ncv=min(n, max(20, 2 * n_levels + 1)), maxiter=_MAX_LANCZOS)
        except ArpackNoConvergence:
            return None
    order = np.argsort(E)
    E, G = np.maximum(E[order], 0.0), G[:, order]
    E = np.where(E < RESOLUTION * E[-1], 0.0, E)
    E[0] = 0.0
    log_mass = lp - logsumexp(lp)
    root = np.exp(0.5 * log_mass)
    G = _constant_first(G, E, root)
    return E, G / root[:, None], np.exp(log_mass), active


# ------------------------------------------------------------------ wells and levels
def _match_wells(chi, cell_of_sample, labels, k):
    """Permutation ``perm[j]``: the grid's well that holds most of the samples of label ``j``."""
    ok = cell_of_sample >= 0
    votes = np.zeros((k, k))
    for j in range(k):
        sel = ok & (labels == j)
        votes[j] = chi[cell_of_sample[sel]].sum(axis=0)
    r, c = linear_sum_assignment(-votes)
    return c[np.argsort(r)]


def _cell_of_samples(Y, grid, active):
    """Index among the active cells of each sample's nearest cell (-1 if not active)."""
    shape = np.array(active.shape)
    ix = np.clip(np.round((Y - grid.lo) / (2 * grid.step2)).astype(int), 0, shape - 1)
    flat = np.full(active.shape, -1)
    flat[active] = np.arange(int(active.sum()))
    return flat[tuple(ix.T)]


def _levels_only(Y, grid, h, log_mix, k, log_tails=None):
    solved = grid_levels(density_on_grid(binned_counts(Y, grid), len(Y), grid, h, log_mix,
                                         log_tails), grid, k + 1)
    return np.full(k + 1, np.nan) if solved is None else solved[0]


def _relative_changes(E, a, b, k):
    """``|a - b| / E`` for the levels ``1..k-1`` (0 where both are round-off zeros)."""
    scale = np.maximum(E[1:k], RESOLUTION * E[k])
    return np.where(scale > 0, np.abs(a[1:k] - b[1:k]) / np.where(scale > 0, scale, 1.0), 0.0)


def kde_ground_levels(Z, labels, k, mix, seed=0, bound=True, next_level=np.inf, smooth=None):
    """Levels of the ground multiplet of ``k`` wells from the samples' density, by finite
    volumes on a grid, and PCCA+ ``A`` for the rates (see the module docstring).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        The samples.
    labels : ndarray of shape (n_samples,)
        Well of each sample, ``0..k-1``: sets the within-well spread (the bandwidth), the
        wells' space (:func:`wells_space`), and the order of the wells in ``A``.
    k : int
        Number of wells.
    mix : WellMixtureLogDensity
        The wells' mixture: the density where the samples do not reach.
    seed : int
        Seeds the split into halves of the error bound.
    bound : bool
        Measure the error bound (4 more solves on the same grid), where the levels stay
        below ``next_level`` by the count's gap (levels that close it are not used).
    next_level : float
        The first level above the ground multiplet.
    smooth : ScoreMatchedLogDensity or None
        A smooth ``log p`` of all the samples (unnormalised): the density where the samples
        do not reach instead of the mixture, where the grid holds the density itself and
        that ``log p`` falls off to every side of the grid (:func:`_smooth_on_grid`).

    Returns
    -------
    KdeLevels or None
        ``None`` where the wells' centres lie near neither a plane nor a 3-space.
    """
    d = affine_dimension(Z - Z.mean(axis=0))
    space = wells_space(Z, labels, k, d)
    if space is None:
        return None
    origin, B = space
    Y = (Z - origin) @ B
    exact = B.shape[1] >= d  # the grid's space holds the data
    h = within_well_bandwidth(Y, labels, k)
    grid = _Grid.around(Y, h)
    marginal = mix.marginal(origin, B)
    log_mix = marginal.log_density(grid.nodes()).reshape(grid.shape2)
    # where the samples do not reach: a smooth log p fitted over all of them where one is
    # given (it extrapolates a barrier as a polynomial log p does; the wells' Gaussian tails
    # put the barriers of quartic wells orders of magnitude too deep); where they do, the
    # mixture stays the floor (the smooth fit's sampling noise tilted a double well's
    # halves: weights 0.047 off, against 0.013)
    log_tails = _smooth_on_grid(smooth, origin, B, grid) if exact and smooth is not None \
        else None
    tails = "mixture" if log_tails is None else "smooth"
    log_p = density_on_grid(binned_counts(Y, grid), len(Y), grid, h, log_mix, log_tails)
    solved = grid_levels(log_p, grid, k + 1)
    if solved is None:
        return None  # the grid could not be solved: the wells' mixture instead
    E, F, mass, active = solved
    if not shows_gap(E[:k], next_level):
        # levels that close the count's gap are not used: no memberships (PCCA+ of ten wells
        # on a t-SNE map's grid took a second) and no bound for them
        return KdeLevels(E[:k], None, exact, tails=tails)
    chi, A, _ = pcca(F[:, :k], weights=mass)
    A = A[:, _match_wells(chi, _cell_of_samples(Y, grid, active), labels, k)]
    walk = GridWalkDensity(mix, origin, B, grid.lo, grid.hi, log_p, exact)
    out = KdeLevels(E[:k], A, exact, walk=walk, tails=tails,
                    across=np.nan if exact else spread_across(Z - origin, Y, B, labels, k))
    if bound and k > 1:
        _measure_bound(out, E, Y, grid, h, log_mix, marginal, k, seed, log_tails)
    return out


def _smooth_on_grid(smooth, origin, B, grid):
    """``log`` of the smooth density ``smooth`` (unnormalised) on the grid's nodes, normalised
    over the grid; None where it does not fall off by :data:`_SMOOTH_EDGE_LOG` from its top to
    every side of the grid (a density not confined to the grid)."""
    nodes = grid.nodes()
    log_q = smooth.log_density(origin + nodes @ B.T).reshape(grid.shape2)
    top = log_q.max()
    edges = [np.take(log_q, i, axis=a) for a in range(log_q.ndim) for i in (0, -1)]
    if not np.isfinite(top) or max(e.max() for e in edges) > top - _SMOOTH_EDGE_LOG:
        return None
    return log_q - logsumexp(log_q) - np.sum(np.log(grid.step2))


def _grid_change(E, Y, grid, h, marginal, k):
    """Relative change of the levels ``1..k-1`` on a grid of :data:`_GRID_CHECK` times as
    many cells along each axis: the grid's own error, where its budget keeps it coarse."""
    cells = (np.array(grid.shape2) + 1) // 2
    coarse = _Grid(grid.lo, grid.hi, tuple(int(2 * max(3, round(_GRID_CHECK * c)) - 1)
                                           for c in cells))
    log_mix = marginal.log_density(coarse.nodes()).reshape(coarse.shape2)
    return _relative_changes(E, E, _levels_only(Y, coarse, h, log_mix, k), k)


def _half_floor(marginal, Y, rows, resp, nodes, grid):
    """``log`` of the wells' mixture refitted on the rows ``rows`` of ``Y``, on the grid.

    Where the kernel estimate thins out near a barrier, the mixture is the density's floor;
    halves that shared the whole sample's mixture did not see its sampling error. Two
    Student-t(5) wells read 0.01-0.03 of the exact rate (5,000 and 20,000 samples) under
    bounds of 0.01-0.02, their floor a Gaussian fitted to heavy tails; with the floor refitted
    on each half the bounds were 0.68-2.16 (warned), and those of the 2-d double and triple
    wells and of Gaussian wells 6 apart moved by -0.01 to +0.04 (18 fits, levels the same).
    """
    half = marginal.refitted(Y, rows, resp)
    return half.log_density(nodes).reshape(grid.shape2)


def _measure_bound(out, E, Y, grid, h, log_mix, marginal, k, seed, log_tails=None):
    """Fill the error bound of ``out``: sampling (the rms over :data:`_SPLITS` random
    splits into halves, each at the rule's bandwidth for ``n / 2`` and with the wells'
    mixture refitted on it, :func:`_half_floor`) and smoothing (0.7 and 1.4 times the
    bandwidth), on the same grid; on a 3-d grid also the grid's own error
    (:func:`_grid_change`)."""
    m = Y.shape[1]
    rs = np.random.RandomState(seed)
    h_half = h * 2.0 ** (1.0 / (m + 4))
    resp, nodes = marginal.responsibilities(Y), grid.nodes()
    changes = []
    for _ in range(_SPLITS):
        perm = rs.permutation(len(Y))
        Ea, Eb = (_levels_only(Y[s], grid, h_half, _half_floor(marginal, Y, s, resp, nodes,
                                                                grid), k, log_tails)
                  for s in (perm[:len(Y) // 2], perm[len(Y) // 2:]))
        changes.append(_relative_changes(E, Ea, Eb, k))
    lo, hi = (_levels_only(Y, grid, f * h, log_mix, k, log_tails) for f in _BOUND_BANDWIDTHS)
    # halves differ by sqrt(2) x a half's error = 2 x the full sample's: twice that error
    out.sampling = np.sqrt(np.mean(np.square(changes), axis=0))
    out.smoothing = _relative_changes(E, lo, hi, k) / _BIAS_SCALE
    if m == 3:
        out.grid = _grid_change(E, Y, grid, h, marginal, k)
    out.error_bound = float(np.max(out.sampling + out.smoothing
                                   + (out.grid if out.grid.size else 0.0)))
