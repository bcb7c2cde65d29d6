"""Rates between wells: the coarse generator, its stationary law and passage times.

Since ``L F = F diag(-E)`` for the eigenfunctions ``F``, the Galerkin projection of ``L``
onto PCCA+ memberships ``chi = F A`` is the ``k x k`` generator
``Q = (A^T A)^-1 A^T diag(-E) A = A^-1 diag(-E) A`` (Kube & Weber 2007): its eigenvalues are
exactly ``-E_0..-E_{k-1}``, its rows sum to 0 and its stationary law is the first row of
``A`` (the mean memberships, i.e. the well weights). Rates are per unit time of the
diffusion ``dz = grad log p dt + sqrt(2) dW``.
"""

import numpy as np
from scipy.sparse.csgraph import connected_components

# Levels below this fraction of the first level above the wells are round-off of disconnected
# wells: their relative misses do not count.
ROUND_OFF = 1e-9


def coarse_rate_matrix(A, energies):
    """Generator between wells ``Q = (A^T A)^-1 A^T diag(-E) A`` for memberships ``chi = F A``.

    ``A^T A`` is the Gram matrix of the memberships and ``A^T diag(-E) A`` the projection of
    the generator onto them (``F`` orthonormal eigenfunctions with energies ``E``), so the
    eigenvalues of ``Q`` are ``-E`` and ``Q 1 = 0`` (``E[0]`` is taken as exactly 0).
    """
    E = np.asarray(energies, dtype=float).copy()
    E[0] = 0.0
    return np.linalg.solve(A.T @ A, A.T @ (-E[:, None] * A))


def reversible_rate_matrix(Q, pi, floor=0.0):
    """The rate matrix in detailed balance with ``pi`` nearest ``Q``: fluxes symmetrised, >= 0.

    The fluxes ``pi_i Q_ij`` are replaced by their symmetric part, negative ones by 0, and the
    diagonal set so that rows sum to 0. A pair of wells whose rates both ways are below
    ``floor`` (round-off of disconnected wells) gets 0 both ways, so detailed balance holds.
    A two-well ``Q`` of :func:`coarse_rate_matrix` is
    unchanged (it is reversible and its rates are >= 0). With more wells, estimated or fuzzy
    memberships (wells only a few widths apart) give small negative rates between wells that
    are not neighbours, and PCCA+ on the *exact* eigenfunctions of three unit Gaussians 5
    apart in a row does too (-0.0017 next to 0.026): no rate matrix then has both the
    symmetry of the data and the exact spectrum, and this keeps the symmetry, so the
    relaxation rates move (16 % for the slowest in that example; see
    benchmarks/dynamics_validation.py).
    """
    pi = np.asarray(pi, dtype=float)
    flux = pi[:, None] * Q
    flux = np.clip(0.5 * (flux + flux.T), 0.0, None)
    flux[flux < floor * np.minimum.outer(pi, pi)] = 0.0
    np.fill_diagonal(flux, 0.0)
    # 0.0 - x, not -x: a well with no rates out gets 0.0, not -0.0 (one well's matrix and
    # summary.json read [[-0.0]])
    np.fill_diagonal(flux, 0.0 - flux.sum(axis=1))
    return flux / pi[:, None]


def stationary_distribution(Q):
    """Stationary law ``pi`` of a generator: ``pi Q = 0``, ``sum(pi) = 1``."""
    k = Q.shape[0]
    M = np.vstack([Q.T, np.ones((1, k))])
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    return np.linalg.lstsq(M, rhs, rcond=None)[0]


def rate_groups(Q):
    """``(n, group)``: the groups of wells that rates of ``Q`` join (either way), and each
    well's group."""
    return connected_components(Q > 0, directed=False)


def weights_of_groups(Q, pi, share):
    """``pi`` with each group of wells that no rate joins to the others given the samples'
    ``share`` of it. A generator split into groups has a stationary law per group and no
    motion between them to weigh one against another: ToothGrowth's three dose values, a
    third of the samples each, read 0.651, 0 and 0.349, the well alone in its group at 0."""
    n_groups, group = rate_groups(Q)
    if n_groups == 1:
        return pi
    out = np.empty(len(pi))
    for g in range(n_groups):
        wells = group == g
        within = np.clip(pi[wells], 0.0, None)
        if not within.sum() > 0:
            within = stationary_distribution(Q[np.ix_(wells, wells)])
        out[wells] = within / within.sum() * share[wells].sum()
    return out / out.sum()


def mean_first_passage_times(Q):
    """``M[i, j]``: mean time to first reach well ``j`` from well ``i`` (0 on the diagonal).

    For each target ``j``, ``Q[-j, -j] m = -1`` on the other wells that can reach ``j`` (the
    backward equation); wells with no path of positive rates to ``j`` get ``inf``.
    """
    k = Q.shape[0]
    _, comp = rate_groups(Q)
    M = np.full((k, k), np.inf)
    for j in range(k):
        rest = (comp == comp[j]) & (np.arange(k) != j)
        M[j, j] = 0.0
        if rest.any():
            M[rest, j] = np.linalg.solve(Q[np.ix_(rest, rest)], -np.ones(rest.sum()))
    return M


def detailed_balance_error(Q, pi=None):
    """Largest ``|pi_i Q_ij - pi_j Q_ji|`` relative to the largest flux ``pi_i Q_ij``, i != j.

    0 for a reversible generator (every two-state generator is); 0 when there are no fluxes.
    """
    pi = stationary_distribution(Q) if pi is None else np.asarray(pi, dtype=float)
    flux = pi[:, None] * Q
    np.fill_diagonal(flux, 0.0)
    scale = np.max(np.abs(flux)) if flux.size else 0.0
    return float(np.max(np.abs(flux - flux.T)) / scale) if scale > 0 else 0.0


def relaxation_rates(Q):
    """Non-zero relaxation rates of a generator, ascending: minus its eigenvalues but the 0."""
    ev = np.sort(-np.linalg.eigvals(Q).real)
    return ev[1:]


def count_rates(labels, dt):
    """Transition rates counted along one or more discrete trajectories.

    ``labels`` of shape ``(n_walkers, n_frames)`` (the state of each frame, or -1 for "not
    yet in any core": the last core visited is carried forward, i.e. milestoning, so that
    recrossings of the barrier are not counted). Returns ``(K, counts, times)``: ``K[i, j] =
    counts[i, j] / times[i]`` (off-diagonal; rows sum to 0), ``times[i]`` the time spent
    with ``i`` as the last core visited.
    """
    labels = np.atleast_2d(np.asarray(labels))
    k = int(labels.max()) + 1
    counts = np.zeros((k, k))
    times = np.zeros(k)
    for row in labels:
        last = -1
        for s in row:
            if s >= 0 and s != last:
                if last >= 0:
                    counts[last, s] += 1
                last = s
            if last >= 0:
                times[last] += dt
    K = np.divide(counts, times[:, None], out=np.zeros_like(counts), where=times[:, None] > 0)
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(K, -K.sum(axis=1))
    return K, counts, times


def format_wells(weights, rate_matrix, precision=3):
    """The well weights and the rate matrix as a plain-text table (for the command line).

    Rates are per unit time of the diffusion ``dz = grad log p dt + sqrt(2) dW``.

    Examples
    --------
    >>> import numpy as np
    >>> print(format_wells(np.array([0.5, 0.5]), np.array([[-0.1, 0.1], [0.1, -0.1]])))
    well  weight     rate to 0   rate to 1
       0   0.500          -0.1         0.1
       1   0.500           0.1        -0.1
    """
    k = len(weights)
    head = "well  weight  " + "".join(f"{'rate to ' + str(j):>12s}" for j in range(k))
    lines = [head]
    for i in range(k):
        rates = "".join(f"{rate_matrix[i, j]:>12.{precision}g}" for j in range(k))
        lines.append(f"{i:>4d}  {weights[i]:6.{precision}f}  {rates}")
    return "\n".join(lines)
