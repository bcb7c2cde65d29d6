"""PCCA+: memberships of metastable sets from the slow eigenfunctions.

For the Langevin diffusion ``dz = grad log p dt + sqrt(2) dW`` (generator ``L = -H``, see
:doc:`/theory`), the ``k`` lowest eigenfunctions ``f_0 = 1, f_1..f_{k-1}`` of a ``k``-well
density are, up to exponentially small terms, linear combinations of the wells' indicator
functions. PCCA+ (Deuflhard & Weber 2005; Roeblitz & Weber 2013) finds the combination
``chi = F A`` that is a partition of unity (``chi >= 0``, rows summing to 1) and as crisp as
possible: ``chi_j`` is the membership of well ``j``.
"""

import numpy as np
from scipy.optimize import minimize

# BFGS with the exact gradient climbs the crispness; where it stops on a kink (an extreme row
# of the shift changes there), a short Nelder-Mead of this many evaluations per free row of A
# steps off it and BFGS climbs again, up to _POLISH_ROUNDS times or until the gain is below
# _TOL (deeptime's and msmtools' Nelder-Mead tolerance: 1e-4 in a crispness that runs to k).
_POLISH_EVALUATIONS = 200
_POLISH_ROUNDS = 3
_TOL = 1e-4
# A polish round that moves no membership by more than this ends the polish: on the 10 wells
# of a t-SNE embedding of digits each round gained 1e-4 to 3e-4 of the crispness and moved
# the memberships by 3e-4 at most (its labels not at all), and three rounds took 0.23 s; on
# overlapping blobs the first round moved them by 0.011-0.017, the second by 6e-4 at most.
_MOVE_TOL = 1e-3
# The feasibility shift of A depends only on the rows of F at the corners of their convex
# hull: the optimiser reads the rows extreme along this many random directions (and any row
# that a result then finds more extreme), not all of them. On a 10-well grid of 40,000 cells
# each evaluation read every cell: 79 % of a 21 s fit.
_SUPPORT_DIRECTIONS = 512
_SUPPORT_ROUNDS = 10


def orthonormalize(F, weights=None):
    """Columns of ``F`` made orthonormal under the empirical measure (or the row
    ``weights``, summing to 1), column 0 the constant 1.

    Returns ``(F_orth, T)`` with ``F_orth = F1 @ T`` where ``F1`` is ``F`` with column 0
    replaced by ones, ``mean(F_orth[:, i] * F_orth[:, j]) = delta_ij`` (weighted mean).
    """
    F1 = np.array(F, dtype=float, copy=True)
    F1[:, 0] = 1.0
    n = F1.shape[0]
    root = np.full(n, 1.0 / np.sqrt(n)) if weights is None else np.sqrt(weights)
    _, R = np.linalg.qr(root[:, None] * F1)
    R = R * np.sign(np.diag(R))[:, None]  # positive diagonal: column 0 stays +1
    T = np.linalg.inv(R)
    return F1 @ T, T


def inner_simplex(F):
    """Indices of ``k`` rows of ``F`` spanning the largest simplex (PCCA+ starting guess).

    The first vertex is the row farthest from the mean; each next one the row farthest from
    the affine span of the vertices found so far (Gram-Schmidt on the differences).
    """
    X = np.asarray(F, dtype=float)[:, 1:]
    k = X.shape[1] + 1
    if k == 1:
        return np.array([0])
    idx = [int(np.argmax(np.sum((X - X.mean(0)) ** 2, axis=1)))]
    R = X - X[idx[0]]
    for _ in range(1, k):
        j = int(np.argmax(np.sum(R * R, axis=1)))
        idx.append(j)
        u = R[j] / np.linalg.norm(R[j])
        R = R - np.outer(R @ u, u)
    return np.array(idx)


def _fill(block, F):
    """Complete the free block ``A[1:, 1:]`` into a feasible PCCA+ transformation ``A``.

    Column 0 makes the rows 1..k-1 sum to 0 (so ``chi`` rows sum to ``sum A[0]``); row 0 is the
    smallest shift that makes every ``chi = F A`` entry >= 0; the scale makes rows sum to 1.
    """
    k = F.shape[1]
    A = np.empty((k, k))
    A[1:] = _block_columns(block)
    A[0] = np.max(-F[:, 1:] @ A[1:], axis=0)
    return A / A[0].sum()


def _crispness(A):
    # sum_j <chi_j, chi_j>_p / <chi_j, 1>_p for orthonormal F: k when the memberships are crisp
    return float(np.sum(np.sum(A * A, axis=0) / A[0]))


def pcca(F, optimize=True, weights=None):
    """PCCA+ memberships from the values of ``k`` eigenfunctions at the training points.

    Parameters
    ----------
    F : ndarray of shape (n_samples, k)
        Eigenfunctions of the ``k`` lowest levels, column 0 the constant; they are made
        orthonormal under the empirical measure first.
    optimize : bool, default=True
        Maximise the crispness ``sum_j <chi_j, chi_j> / <chi_j, 1>`` from the inner-simplex
        start, as PCCA+ does; ``False`` keeps the feasible start.
    weights : ndarray of shape (n_samples,), default=None
        Weights of the rows (summing to 1), e.g. the masses of grid cells; ``None`` gives
        each row the same. Rows below ``1e-6`` of the largest weight do not constrain the
        simplex (a cell of negligible mass far out would set the memberships' scale).

    Returns
    -------
    chi : ndarray of shape (n_samples, k)
        Memberships, >= 0, rows summing to 1.
    A : ndarray of shape (k, k)
        ``chi = F_orth @ A``; ``A[0]`` holds the mean memberships (the well weights).
    T : ndarray of shape (k, k)
        Orthonormalisation: ``F_orth = F1 @ T`` (``F1`` is ``F`` with column 0 set to 1).
    """
    F_orth, T = orthonormalize(F, weights)
    k = F_orth.shape[1]
    if k == 1:
        return np.ones((F_orth.shape[0], 1)), np.ones((1, 1)), T
    Fc = F_orth if weights is None else F_orth[weights > 1e-6 * np.max(weights)]
    A0 = np.linalg.inv(Fc[inner_simplex(Fc)])
    A = _fill(A0[1:, 1:], Fc)
    if optimize:
        A = _most_crisp(A, Fc)
    chi = np.clip(F_orth @ A, 0.0, None)
    chi /= chi.sum(axis=1, keepdims=True)
    return chi, A, T


def _most_crisp(A, F):
    """The feasible ``A`` of greatest crispness from the start ``A``, read on the rows of ``F``
    that set the feasibility shift; each result is completed on every row and kept where it
    is crisper. BFGS with the exact gradient first, rows that its result finds more extreme
    joining each next round; then Nelder-Mead (the method of deeptime and msmtools) for a few
    hundred steps off the kink where BFGS stopped, and BFGS again, until a round gains little
    crispness or moves no membership by :data:`_MOVE_TOL`. On the 10 wells of a
    t-SNE embedding of digits this reached crispness 8.38 in 0.4 s, where 18,000 steps of
    Nelder-Mead then BFGS reached 8.25 in 1.2 s."""
    rows = _support_rows(F, A)
    best = A
    for _ in range(_SUPPORT_ROUNDS):
        best = _crisper(best, _bfgs(best, F[rows]), F)
        new = np.setdiff1d(_extreme_rows(F, best), rows)
        if new.size == 0:
            break
        rows = np.union1d(rows, new)
    for _ in range(_POLISH_ROUNDS):
        before = best
        best = _crisper(best, _nelder_mead(best, F[rows]), F)
        best = _crisper(best, _bfgs(best, F[rows]), F)
        rows = np.union1d(rows, _extreme_rows(F, best))
        if (_crispness(best) - _crispness(before) < _TOL
                or _largest_move(F, before, best) < _MOVE_TOL):
            break
    return best


def _largest_move(F, A, B):
    """The largest change of a membership on the rows of ``F`` from ``A`` to ``B`` (both
    feasible on every row, as :func:`_fill` makes them: ``F A`` is already a partition of
    unity there)."""
    return float(np.max(np.abs(F @ (B - A))))


def _bfgs(A, F):
    return minimize(_LossAndGradient(F), A[1:, 1:].ravel(), jac=True, method="BFGS").x


def _nelder_mead(A, F):
    budget = _POLISH_EVALUATIONS * (F.shape[1] - 1)
    return minimize(_Loss(F), A[1:, 1:].ravel(), method="Nelder-Mead",
                    options=dict(maxiter=budget, maxfev=budget, xatol=_TOL, fatol=_TOL)).x


def _crisper(best, x, F):
    """``_fill`` of the free block ``x`` on every row of ``F`` where it is feasible and
    crisper than ``best``; else ``best``."""
    k = F.shape[1]
    B = _fill(x.reshape(k - 1, k - 1), F)
    return B if np.all(B[0] > 0) and _crispness(B) > _crispness(best) else best


def _extreme_rows(F, A):
    """The row of ``F`` that sets the feasibility shift of each column of ``A``."""
    return np.argmax(-F[:, 1:] @ A[1:], axis=0)


class _Loss:
    """Minus the crispness of ``_fill(block, F)`` for Nelder-Mead; inf where infeasible, or
    above ``k`` (memberships that only the fewer rows allow: unbounded there). The same
    arithmetic as ``_crispness(_fill(...))`` (bit for bit) with the negated rows and the matrix
    kept between calls and the arrays' own methods: the search makes thousands of calls, and
    allocations and numpy's function wrappers were three quarters of each (59 to 30 us)."""

    def __init__(self, F):
        self.k = F.shape[1]
        self.negF = -F[:, 1:]
        self.A = np.empty((self.k, self.k))

    def __call__(self, x):
        k, A = self.k, self.A
        _fill_free_rows(A, x)
        A[0] = (self.negF @ A[1:]).max(axis=0)
        A_ = A / A[0].sum()
        if not (A_[0] > 0).all():
            return np.inf
        c = float(((A_ * A_).sum(axis=0) / A_[0]).sum())  # _crispness(A_), method calls
        return -c if c <= k else np.inf


def _loss_and_gradient(x, F):
    """One call of :class:`_LossAndGradient` (for a single evaluation)."""
    return _LossAndGradient(F)(x)


class _LossAndGradient:
    """Minus the crispness of ``_fill(block, F)`` and its gradient in the free block ``x``
    (flattened), where the extreme row of each column does not change; ``(k, 0)`` where the
    result is not feasible (the line search backs off).

    An object, so that BFGS's ~1,500 calls on the 10 wells of a t-SNE embedding of digits
    reuse the negated rows, the matrix and the column indices, and fill the block in place
    (:func:`_fill_free_rows`): numpy's function wrappers and the stacking were half of each
    call."""

    def __init__(self, F):
        self.k = F.shape[1]
        self.F1 = F[:, 1:]
        self.negF = -self.F1
        self.cols = np.arange(self.k)
        self.B = np.empty((self.k, self.k))

    def __call__(self, x):
        k, B = self.k, self.B
        _fill_free_rows(B, x)
        shift = self.negF @ B[1:]
        extreme = shift.argmax(axis=0)
        f = self.F1[extreme]  # (k, k-1): row j is the extreme row of column j
        B[0] = shift[extreme, self.cols]
        if not (B[0] > 0).all():
            return float(k), np.zeros_like(x)
        s = B[0].sum()
        Q = (B * B).sum(axis=0)
        C = (Q / B[0]).sum()
        if C / s > k:  # unbounded on these rows (see _most_crisp)
            return float(k), np.zeros_like(x)
        # crispness C / s, with B[0] and B[:, 0] following the other entries
        G = 2.0 * B / (B[0] * s)
        G[0] = (2.0 - Q / B[0] ** 2) / s - C / s**2
        H = G[1:] - G[0] * f.T  # through B[0, j] = -f_j . B[1:, j]
        grad = H[:, 1:] - H[:, :1]  # through B[r, 0] = -sum_c block[r, c]
        return -C / s, -grad.ravel()


def _fill_free_rows(A, x):
    """Rows ``1..k-1`` of ``A``, in place, from the flattened free block ``x`` (as
    :func:`_block_columns`, without the allocations of a call made thousands of times)."""
    k = A.shape[0]
    block = x.reshape(k - 1, k - 1)
    A[1:, 0] = -block.sum(axis=1)
    A[1:, 1:] = block


def _block_columns(block):
    """Rows ``1..k-1`` of ``A`` from its free block (column 0 makes each row sum to 0)."""
    return np.hstack([-block.sum(axis=1, keepdims=True), block])


def _support_rows(F, A):
    """Rows of ``F`` extreme along random directions of its non-constant columns, along
    each column's two signs, and those that set the shift of ``A``: a subset of the corners
    of the rows' convex hull (a fixed seed: the same rows on every call)."""
    X = F[:, 1:]
    U = np.random.RandomState(0).standard_normal((X.shape[1], _SUPPORT_DIRECTIONS))
    U = np.hstack([U, np.eye(X.shape[1]), -np.eye(X.shape[1]), -A[1:]])
    return np.unique(np.argmax(X @ U, axis=0))


def memberships(F, M):
    """Memberships at points from their eigenfunction values ``F`` and ``M = T @ A`` of fit.

    Points outside the training data can give small negative entries: they are clipped to 0
    and the rows renormalised; where all are clipped (far from the data) or overflow, the
    point goes wholly to the well of largest raw membership.
    """
    F1 = np.array(F, dtype=float, copy=True)
    F1[:, 0] = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        raw = F1 @ M
    chi = np.clip(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
    s = chi.sum(axis=1)
    bad = ~(np.isfinite(raw).all(axis=1) & (s > 0))
    if bad.any():
        best = np.argmax(np.nan_to_num(raw[bad], nan=-np.inf), axis=1)
        chi[bad] = 0.0
        chi[np.flatnonzero(bad), best] = 1.0
        s[bad] = 1.0
    return chi / s[:, None]
