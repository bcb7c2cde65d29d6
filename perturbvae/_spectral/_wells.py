"""Wells as clusters and the rates between them, from a fitted spectrum.

The ``k`` lowest eigenfunctions of a ``k``-well density give PCCA+ memberships
(:mod:`._pcca`); their projection of the generator is the rate matrix (:mod:`._rates`).
The ground multiplet's levels (the rates) come from the density near the barriers, solved
by finite volumes: the samples' own density where they reach (:mod:`._kde_levels`), the
wells' fitted mixture where they do not (:mod:`._finite_volumes`).
"""

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components

from .._warn import RatesWarning, warn_user
from . import _density as _land
from ._finite_volumes import RESOLUTION, landscape_levels
from ._kde_levels import kde_ground_levels
from ._multiplets import shows_gap
from ._pcca import memberships, orthonormalize, pcca
from ._rates import (
    ROUND_OFF,
    coarse_rate_matrix,
    mean_first_passage_times,
    relaxation_rates,
    reversible_rate_matrix,
)

# Relative miss of the ground-multiplet spectrum above which the rates come with a warning
# (the benchmark's target for rates against exact references).
SPECTRUM_RTOL = 0.3
# Measured error bound of the rates above which they come with a warning (the benchmark's
# target for rates against exact references).
BOUND_RTOL = 0.3
# Wells whose spreads across the marginal's plane differ more than this many times are said:
# the plane's levels are upper bounds (spreads 0.5 and 1 in 5-d: ratio 2.0, levels 1.18-1.37x
# exact; 0.6 and 1: 1.65, 1.07-1.17x; 0.7 and 1: 1.4, 1.00-1.07x; wells alike 1.00-1.03)
ACROSS_RATIO = 1.5
# Samples on a barrier (in both wells at 20 % or more) below which it counts as unvisited: its
# rates are the landscape's extrapolation of the wells' tails. Measured: 0-2 on quartic wells
# p ~ exp(-(x^2 - 4)^2 / 2) (rates 1e-7 to 1e-3 of exact) and unit Gaussians 8 apart; 14 at 6
# apart, 31-33 on the 2-d and 5-d double wells, 264 on the triple well; Old Faithful 3.
MIN_CROSSING_SAMPLES = 5
# Largest difference between the rate model's well weights and the samples' shares (mean
# memberships) that passes without a warning. Measured: at most 0.026 on the 2-d and 5-d double
# wells, the triple well (where the landscape's 0.042 is the closer to the exact 0.041, the
# fuzzy memberships giving 0.068), unequal Gaussian wells, Old Faithful and 6-d blobs;
# 0.19-0.23 on equal wells of widths 0.1 and 3 (weights 0.27-0.31 for 0.5), 0.04 for widths
# 0.5 and 2.
WEIGHT_GAP = 0.1
# Share of the memberships' variance that the eigenfunctions of levels 1..k-1 must hold for
# those levels to be the wells' hops. Measured: 0.96-1.0 on blobs, double and triple wells
# (2-d, 5-d), Old Faithful and t-SNE of digits; 0.0 on two wells stretched 10 and 30 times
# along their barrier, whose slowest levels are motions inside the wells.
HOP_SHARE = 0.5
# Smallest singular value of the memberships' coordinates ``A`` in the eigenfunctions
# (relative to the largest) for those eigenfunctions to separate every well: the rates solve
# with ``A^T A``, whose condition is the square of ``A``'s. Measured: 0.18 of the largest on
# the PCA-2 of MASS's biopsy (5 wells, four of them atoms of repeated rows); 1e-13 and 3e-19
# with its first column scaled by 100, whose graph's 3 lowest levels are separate components
# that hold 3 of the 5 wells (numpy's solve raised "Singular matrix").
SPAN_RTOL = 1e-6


@dataclass
class WellMap:
    """Memberships at any points from their eigenfunction values: ``chi = F1 @ matrix``
    (``F1`` the first ``k`` eigenfunctions with column 0 set to 1)."""

    matrix: np.ndarray

    @property
    def n_wells(self):
        return self.matrix.shape[0]

    def memberships(self, F):
        return memberships(F[:, :self.n_wells], self.matrix)


@dataclass
class LumpedWells:
    """Memberships of a given number of wells, fewer than the density's own: the density's
    wells (``fine``, a map from points to their memberships) lumped by ``lumping`` (row
    ``i``: fine well ``i``'s memberships in the given ones; :func:`lumped_rates`)."""

    fine: object
    lumping: np.ndarray

    @property
    def n_wells(self):
        return self.lumping.shape[1]

    def memberships(self, values):
        return self.fine.memberships(values) @ self.lumping


def fit_memberships(F):
    """PCCA+ on the first ``k`` eigenfunctions ``F`` at the training points: returns the
    memberships, PCCA+'s ``A`` (for the rates) and the :class:`WellMap`."""
    chi, A, T = pcca(F)
    return chi, A, WellMap(T @ A)


@dataclass
class Rates:
    """The rate matrix between the wells, its stationary law and passage times."""

    rate_matrix: np.ndarray
    stationary_distribution: np.ndarray
    mean_first_passage_times: np.ndarray
    misfit: float = np.nan  # relative miss of the ground multiplet's levels (said above 0.3)


def fit_rates(A, energies):
    """Rates between the ``k = len(A)`` wells from memberships ``chi = F A`` and the levels;
    warns when no rate matrix in detailed balance reproduces the ground multiplet."""
    k = A.shape[0]
    pi = A[0].copy()
    next_level = energies[k] if k < len(energies) else 0.0
    Q = reversible_rate_matrix(coarse_rate_matrix(A, energies[:k]), pi,
                               floor=RESOLUTION * next_level)
    err = np.nan
    if k > 1:
        E = energies[1:k]
        # relative misses of round-off levels (disconnected wells) do not matter
        tol = ROUND_OFF * next_level or 1e-300
        err = float(np.max(np.abs(relaxation_rates(Q) - E) / np.maximum(E, tol)))
        if err > SPECTRUM_RTOL:
            # a round-off level (1e-300) made "10628745454...%", 200 digits long
            miss = f"{err:.0%}" if err < 10 else f"{err:.2g} times their size"
            warn_user(
                f"The {k} wells are not well separated: the rate matrix between them "
                f"(non-negative rates in detailed balance) misses the energies of the "
                f"ground multiplet by up to {miss}; read its rates as rough.", RatesWarning)
    return Rates(Q, pi, mean_first_passage_times(Q), err)


def lumped_rates(Q, pi, k, energies):
    """The ``k``-state reduction of the rates ``Q`` between wells (in detailed balance with
    their weights ``pi``), as PCCA+ reduces a Markov state model: PCCA+ on the ``k`` slowest
    eigenvectors of ``Q`` (weighted by ``pi``), and the generator projected onto those
    memberships with the density's levels ``energies`` (:func:`fit_rates`), whose relaxation
    rates are then its ``k - 1`` slowest levels. (With ``Q``'s own eigenvalues, three
    Gaussian wells in a row told 2 read 1.17-1.20 times the slowest level: the rates
    between more than two wells are made non-negative, which moves them.)

    Returns the lumping (each well's memberships in the ``k`` states, rows summing to 1)
    and the reduction's :class:`Rates`.
    """
    w = np.clip(np.asarray(pi, dtype=float), np.finfo(float).tiny, None)
    w = w / w.sum()
    root = np.sqrt(w)
    S = root[:, None] * Q / root[None, :]  # symmetric for a generator in detailed balance
    values, U = np.linalg.eigh(0.5 * (S + S.T))
    slow = np.argsort(-values, kind="stable")[:k]
    lumping, A, _ = pcca(U[:, slow] / root[:, None], weights=w)
    return lumping, fit_rates(A, energies)


def landscape_ground_levels(logp, energies, k, graph, Z, labels, seed=0, *, visited,
                            smooth=None, bound=True):
    """The ground multiplet's levels from the density near the barriers, by finite volumes.

    The density is the samples' own (a kernel estimate, see :mod:`._kde_levels`) where they
    reach, the wells' mixture ``logp`` (or ``smooth``) where they do not; the mixture alone
    where the wells' centres are off a 3-space (5 or more wells in 4-d or more), and in 1-d
    where no barrier is ``visited`` (:mod:`._finite_volumes`).

    Parameters
    ----------
    logp : WellMixtureLogDensity or other
        The fitted landscape; anything else (one well) keeps the sampled levels.
    energies : ndarray
        The sampled levels.
    k : int
        Number of wells.
    graph : bool
        Whether the levels come from the graph (whose separated components have levels 0).
    Z : ndarray of shape (n_samples, n_features)
        The samples (in memory).
    labels : ndarray of shape (n_samples,)
        Well of each sample, ``0..k-1``.
    seed : int, default=0
        Seeds the halves of the error bound.
    visited : bool
        Whether samples lie on some barrier (:func:`unvisited_barriers`).
    smooth : ScoreMatchedLogDensity or None
        A smooth ``log p`` over all the wells (``potential``'s, where its held-out score beats
        the mixture's): in 1-d and 2-d, the density where the samples do not reach.
    bound : bool, default=True
        Measure the error bound (ten more grid solves); the caller passes False where the
        rates are extrapolations whose bound is inf whatever the solves say (barriers that
        no sample visits).

    Returns
    -------
    levels : ndarray of shape (k,) or None
        The new first ``k`` levels, or ``None`` where the sampled levels stay: one well; the
        graph's separated components (levels 0 already); or, with a warning, a density
        that cannot be solved, whose multiplet would close the gap above the wells, or whose
        eigenfunctions do not span the wells' memberships.
    A : ndarray of shape (k, k) or None
        The wells' memberships in the eigenfunctions of that density (for the rates).
    source : str
        ``"landscape"`` (1-d, 2-d, and 3-d wells off a plane: the density itself),
        ``"landscape marginal"`` (above: its marginal on the wells' plane or 3-space, upper
        bounds), ``"graph components"`` or
        ``"samples"``.
    bound : float
        Measured relative error bound of the levels (``nan`` where not measured); the
        caller says where it exceeds :data:`BOUND_RTOL` (:func:`._flags.uncertain_rates`).
    walk : GridWalkDensity or None
        The density whose levels these are, where it is the samples' (:mod:`._walk`); None
        where the levels are the mixture's (``logp`` itself) or not used.
    tails : str
        The density where the samples do not reach: ``"mixture"`` or ``"smooth"``.
    """
    if k < 2 or not isinstance(logp, _land.WellMixtureLogDensity):
        return None, None, "samples", np.nan, None, "mixture"
    E = energies
    if graph and np.all(E[1:k] <= ROUND_OFF * E[k:k + 1].max(initial=0.0)):
        return None, None, "graph components", np.nan, None, "mixture"  # rates are 0
    # in 1-d the samples' density where they lie on the barriers: the mixture's Gaussians
    # model quartic wells' barriers 0.65 nats too deep (rates 0.75-0.82 of exact at 20,000
    # samples; 0.89-1.06 from the samples, Gaussian wells 4 and 6 apart 0.92-1.13; four
    # quartic wells 0.5-0.7 and 0.88-0.99); where no sample lies on any barrier, the
    # mixture's Gaussian tails (8 apart: 0.88-1.02, the samples' 1.1-2.2)
    # (with a smooth log p, its barriers instead: the mixture's are the Gaussian tails')
    solved = None if Z.shape[1] == 1 and not visited and smooth is None else kde_ground_levels(
        Z, labels, k, logp, seed=seed, bound=bound,
        next_level=E[k] if k < len(E) else np.inf, smooth=smooth)
    if solved is not None:
        levels, A, exact, bound = solved.levels, solved.A, solved.exact, solved.error_bound
        walk, tails = solved.walk, solved.tails
    else:
        (levels, A, exact), bound, walk, tails = landscape_levels(logp, k), np.nan, None, "mixture"
    # kept only if the multiplet stays below the next level by the count's own gap rule,
    # E[k] / mean(E[1:k]) (on a marginal, interlocking rings read E1/E2 = 0.88: no wells
    # left; the exact triple well has E3 / E2 = 5.2 but E3 / mean(E1, E2) = 9.5), and A is
    # not singular (a well's membership outside the span of the eigenfunctions)
    if (levels is None or (k < len(E) and not shows_gap(levels, E[k]))
            or np.linalg.cond(A) > 1e10):
        if levels is None or np.any(E[1:k] > 0):
            warn_user(
                f"The rates between the {k} wells are read from the samples alone "
                "(the fitted landscape could not be solved for them, or its levels would "
                "close the gap above them; ground_levels_source_='samples'): such rates "
                "were from 0.45 times (wells stretched along their barrier) to 91 times "
                "(Gaussian wells far apart, whose barriers the samples hardly visit) the "
                "exact ones.", RatesWarning)
        return None, None, "samples", np.nan, None, "mixture"
    # (where no sample visits a barrier, the rates are extrapolations, said as such instead)
    if solved is not None and visited and solved.across > ACROSS_RATIO:
        warn_user(
            f"The rates between the {k} wells are solved on the density's marginal on the "
            f"plane (or 3-space) of the wells, and the wells' spreads across it differ up to "
            f"{solved.across:.2f} times: the marginal's levels are then upper bounds, and the "
            "rates can be too fast by more than rates_error_bound_ says (two 5-d Gaussian "
            "wells of spreads 0.5 and 1 read 1.18-1.37 times the exact rate, under bounds "
            "of 0.12-0.18).", RatesWarning)
    return levels, A, "landscape" if exact else "landscape marginal", bound, walk, tails


def unvisited_barriers(chi, min_samples=MIN_CROSSING_SAMPLES):
    """Groups of wells that no barrier the samples visit joins (a list of index arrays; one
    group where the visited barriers link every well).

    A barrier between wells ``i`` and ``j`` is visited when at least ``min_samples`` samples
    belong to both at 20 % or more: the samples on it, from which its density is read.
    """
    both = (chi >= 0.2).astype(float)
    visited = (both.T @ both) >= min_samples
    n, labels = connected_components(visited, directed=False)
    return [np.flatnonzero(labels == g) for g in range(n)]


def hop_share(F, chi):
    """Share of the variance of the memberships ``chi`` about their means that the
    eigenfunctions ``F[:, 1:]`` span (least squares over the samples)."""
    G = np.c_[np.ones(len(F)), F[:, 1:]]
    centred = chi - chi.mean(axis=0)
    residual = chi - G @ np.linalg.lstsq(G, chi, rcond=None)[0]
    return 1.0 - float(np.sum(residual**2) / max(np.sum(centred**2), np.finfo(float).tiny))


def separates_wells(A):
    """Whether the eigenfunctions ``F`` behind memberships ``chi = F A`` tell every well
    apart: ``A`` of full rank (``SPAN_RTOL``). Where they do not, no generator between the
    wells follows from those eigenfunctions alone (``A^T A`` is singular)."""
    s = np.linalg.svd(np.atleast_2d(A), compute_uv=False)
    return bool(s.size and s[0] > 0 and s[-1] > SPAN_RTOL * s[0])


def projected_rates(F, chi, energies):
    """Rates of the generator projected onto memberships ``chi`` through all the computed
    eigenfunctions ``F`` (levels ``energies``), for wells whose hops are not the lowest
    levels: ``Q = (B^T B)^-1 B^T diag(-E) B`` with ``F B`` the projection of ``chi``. Where
    even all of them do not tell the wells apart (``B`` rank-deficient), ``Q`` is the
    least-squares (minimum-norm) solution: rough, as the caller says."""
    B = projected_memberships(F, chi)
    pi = B[0] / B[0].sum()
    E = np.asarray(energies, dtype=float)[:B.shape[0]]
    if separates_wells(B):
        Q = coarse_rate_matrix(B, E)
    else:
        E = E.copy()
        E[0] = 0.0
        Q = np.linalg.lstsq(B.T @ B, B.T @ (-E[:, None] * B), rcond=None)[0]
    Q = reversible_rate_matrix(Q, pi)
    return Rates(Q, pi, mean_first_passage_times(Q))


def projected_memberships(F, chi):
    """``A`` with ``F A`` the least-squares projection of memberships ``chi`` onto the
    orthonormalised eigenfunctions ``F``: the Galerkin projection of the generator onto
    memberships that PCCA+ did not make (exact where ``chi`` lies in their span)."""
    F_orth, _ = orthonormalize(F)
    A, *_ = np.linalg.lstsq(F_orth, chi, rcond=None)
    return A
