"""Lowest eigenpairs of the sparse symmetric matrices of the package (graph generators,
finite-volume operators), by shift-invert Lanczos, or by plain Lanczos where factorising
costs more than it saves.

The factorisation of ``S - sigma I`` is most of a solve; scipy's default column ordering
(COLAMD) ignores the symmetry, a minimum-degree ordering of ``S + S^T`` does not: on the
count's 2,000-point graph of a 10-d embedding it left 16 % less fill and the whole solve
took 0.21 s instead of 0.26 s (the same levels to 1e-14). The shift sits just below the
exact zero level, far enough below the diagonal's scale to tell apart the levels of wells
whose barriers are high: iris's two wells had levels 1e-11 of the grid operator's diagonal,
and a shift of 1e-6 of it took 2 s of Lanczos iterations to separate them, 1e-13 a few ms.
"""

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import ArpackError, LinearOperator, eigsh, splu

# The shift, as a fraction of the largest diagonal entry.
SHIFT = -1e-13
# ``S - sigma I`` is positive definite: pivots on the diagonal are stable, and keeping them
# there keeps the symmetric ordering (SuperLU's partial pivoting broke it): the same fill,
# 2-5x faster factorisations of the count's 2-d graphs.
_SPD_FACTOR = dict(permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                   options=dict(SymmetricMode=True))
# Plain Lanczos: levels below this fraction of the spectrum's bound are not resolved (its
# levels are accurate to about 1e-10 of the bound), and the update iterations allowed
# (about 17 products each for 16 levels: 3-d to 10-d graphs of 2,000 points took 220-580).
TINY_LEVEL = 1e-6
LANCZOS_MAXITER = 60


def lowest(S, k, v0=None, tol=1e-10, **kwargs):
    """``(E, V)``: the ``k`` lowest eigenpairs of the positive semi-definite ``S``, in
    increasing order, from a fixed start ``v0`` (default ones; ARPACK's own is random)."""
    m = S.shape[0]
    sigma = SHIFT * float(np.max(S.diagonal()))
    lu = splu((S - sigma * sparse.identity(m, format="csc")).tocsc(), **_SPD_FACTOR)
    op = LinearOperator((m, m), matvec=lu.solve, dtype=float)
    # a start along the null vector alone (the ones of a Laplacian, the root of the density
    # of a finite-volume operator) lost the levels next to it at this shift: a ramp gives it
    # a part along every level, deterministically
    v0 = (np.ones(m) if v0 is None else v0) * (1.0 + 0.5 * np.linspace(-1.0, 1.0, m))
    E, V = eigsh(S, k=k, sigma=sigma, which="LM", v0=v0, tol=tol, OPinv=op, **kwargs)
    order = np.argsort(E)
    return E[order], V[:, order]


def lowest_unfactored(S, k, v0=None, tol=1e-10):
    """``(E, V)`` as :func:`lowest`, from the top of ``b I - S`` (``b`` the Gershgorin bound
    of ``S``) without a factorisation, or None where a level above the lowest lies below
    :data:`TINY_LEVEL` of ``b`` (high barriers: their levels need the shift) or the
    iterations run out.

    On graphs of 3 or more dimensions the LU's fill grows fast (a 10-d graph of 1,800 points:
    1.3e6 entries, 0.2-0.7 s) while Lanczos converges in a few hundred products (0.04-0.09 s,
    the levels within 1e-11 of the shift-invert ones); on 2-d graphs, whose factors stay
    sparse, it is the other way round.
    """
    m = S.shape[0]
    bound = float(abs(S).sum(axis=1).max())
    v0 = (np.ones(m) if v0 is None else v0) * (1.0 + 0.5 * np.linspace(-1.0, 1.0, m))
    top = (bound * sparse.identity(m, format="csr") - S).tocsr()
    try:
        lam, V = eigsh(top, k=k, which="LA", v0=v0, tol=tol, maxiter=LANCZOS_MAXITER)
    except ArpackError:  # no convergence within the iterations, among others
        return None
    E = bound - lam
    order = np.argsort(E)
    E, V = E[order], V[:, order]
    if k > 1 and E[1] < TINY_LEVEL * bound:
        return None
    return E, V

