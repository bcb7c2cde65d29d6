"""Wells as clusters and the slow dynamics between them, from the ground multiplet.

For the Langevin diffusion ``dz = grad log p dt + sqrt(2) dW`` (generator ``L = -H``, design
section 1), the ``k`` lowest eigenfunctions ``f_0 = 1, f_1..f_{k-1}`` of a ``k``-well density
are, up to exponentially small terms, linear combinations of the wells' indicator functions.
PCCA+ (Deuflhard & Weber 2005; Roeblitz & Weber 2013) finds the combination ``chi = F A`` that
is a partition of unity (``chi >= 0``, rows summing to 1) and as crisp as possible: ``chi_j``
is the membership of well ``j``. Since ``L F = F diag(-E)``, the Galerkin projection of ``L``
onto the memberships is the ``k x k`` generator ``Q = (A^T A)^-1 A^T diag(-E) A = A^-1 diag(-E) A``
(Kube & Weber 2007): its eigenvalues are exactly ``-E_0..-E_{k-1}``, its rows sum to 0 and its
stationary law is the first row of ``A`` (the mean memberships, i.e. the well weights).

Everything here is a pure function of arrays, plus :class:`WellsMixin`, which an estimator with
``energies_``, ``n_ground_states_``, ``_eigenfunctions(Z)`` and ``_grad_log_density(Z)``
inherits to gain ``labels_``, ``predict``, rates, passage times and ``simulate``.
"""

import warnings

import numpy as np
from scipy.optimize import minimize
from scipy.sparse.csgraph import connected_components
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._finite_volumes import RESOLUTION
from ._samples import is_dask

# PCCA+ optimisation: Nelder-Mead on the (k-1)^2 free entries of A, as deeptime/msmtools do.
_PCCA_MAXITER = 2000
# Relative miss of the ground-multiplet spectrum above which rate_matrix_ comes with a warning
# (the benchmark's target for rates against exact references).
_SPECTRUM_RTOL = 0.3
# Levels below this fraction of the first level above the wells are round-off of disconnected
# wells: their relative misses do not count.
ROUND_OFF = 1e-9


# ------------------------------------------------------------------------------- PCCA+
def orthonormalize(F):
    """Columns of ``F`` made orthonormal under the empirical measure, column 0 the constant 1.

    Returns ``(F_orth, T)`` with ``F_orth = F1 @ T`` where ``F1`` is ``F`` with column 0
    replaced by ones, ``mean(F_orth[:, i] * F_orth[:, j]) = delta_ij``.
    """
    F1 = np.array(F, dtype=float, copy=True)
    F1[:, 0] = 1.0
    n = F1.shape[0]
    _, R = np.linalg.qr(F1 / np.sqrt(n))
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
    A[1:, 1:] = block
    A[1:, 0] = -block.sum(axis=1)
    A[0] = np.max(-F[:, 1:] @ A[1:], axis=0)
    return A / A[0].sum()


def _crispness(A):
    # sum_j <chi_j, chi_j>_p / <chi_j, 1>_p for orthonormal F: k when the memberships are crisp
    return float(np.sum(np.sum(A * A, axis=0) / A[0]))


def pcca(F, optimize=True):
    """PCCA+ memberships from the values of ``k`` eigenfunctions at the training points.

    Parameters
    ----------
    F : ndarray of shape (n_samples, k)
        Eigenfunctions of the ``k`` lowest levels, column 0 the constant; they are made
        orthonormal under the empirical measure first.
    optimize : bool, default=True
        Maximise the crispness ``sum_j <chi_j, chi_j> / <chi_j, 1>`` from the inner-simplex
        start (Nelder-Mead), as PCCA+ does; ``False`` keeps the feasible start.

    Returns
    -------
    chi : ndarray of shape (n_samples, k)
        Memberships, >= 0, rows summing to 1.
    A : ndarray of shape (k, k)
        ``chi = F_orth @ A``; ``A[0]`` holds the mean memberships (the well weights).
    T : ndarray of shape (k, k)
        Orthonormalisation: ``F_orth = F1 @ T`` (``F1`` is ``F`` with column 0 set to 1).
    """
    F_orth, T = orthonormalize(F)
    k = F_orth.shape[1]
    if k == 1:
        return np.ones((F_orth.shape[0], 1)), np.ones((1, 1)), T
    A0 = np.linalg.inv(F_orth[inner_simplex(F_orth)])
    A = _fill(A0[1:, 1:], F_orth)
    if optimize:
        def loss(x):
            A_ = _fill(x.reshape(k - 1, k - 1), F_orth)
            return -_crispness(A_) if np.all(A_[0] > 0) else np.inf

        res = minimize(loss, A[1:, 1:].ravel(), method="Nelder-Mead",
                       options=dict(maxiter=_PCCA_MAXITER * (k - 1), xatol=1e-8, fatol=1e-10))
        if np.isfinite(res.fun) and res.fun <= -_crispness(A):
            A = _fill(res.x.reshape(k - 1, k - 1), F_orth)
    chi = np.clip(F_orth @ A, 0.0, None)
    chi /= chi.sum(axis=1, keepdims=True)
    return chi, A, T


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


# ------------------------------------------------------------------------ coarse dynamics
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
    ``floor`` (round-off of disconnected wells) gets 0 both ways, so detailed balance holds. A two-well ``Q`` of :func:`coarse_rate_matrix` is
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
    np.fill_diagonal(flux, -flux.sum(axis=1))
    return flux / pi[:, None]


def stationary_distribution(Q):
    """Stationary law ``pi`` of a generator: ``pi Q = 0``, ``sum(pi) = 1``."""
    k = Q.shape[0]
    M = np.vstack([Q.T, np.ones((1, k))])
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    return np.linalg.lstsq(M, rhs, rcond=None)[0]


def mean_first_passage_times(Q):
    """``M[i, j]``: mean time to first reach well ``j`` from well ``i`` (0 on the diagonal).

    For each target ``j``, ``Q[-j, -j] m = -1`` on the other wells that can reach ``j`` (the
    backward equation); wells with no path of positive rates to ``j`` get ``inf``.
    """
    k = Q.shape[0]
    linked = (Q > 0) | (Q.T > 0)
    _, comp = connected_components(linked, directed=False)
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


# ----------------------------------------------------------------------------- simulation
def langevin(grad_log_density, Z0, n_steps, dt, random_state=None, stride=1, bounds=None):
    """Euler-Maruyama trajectories of ``dz = grad log p(z) dt + sqrt(2) dW``.

    Parameters
    ----------
    grad_log_density : callable
        Maps an ``(n, d)`` array to the score ``grad log p`` at those points.
    Z0 : ndarray of shape (n_walkers, d)
        Starting points.
    n_steps : int
        Number of time steps.
    dt : float
        Time step, > 0.
    random_state : int, RandomState instance or None
        Seeds the Gaussian increments.
    stride : int, default=1
        Keep every ``stride``-th position.
    bounds : (centre, radius), default=None
        A walker farther than ``radius`` from ``centre`` counts as diverged: an unstable Euler
        step (``dt`` times the curvature above 2) grows geometrically and may stay finite for
        many steps, far from any data.

    Returns
    -------
    traj : ndarray of shape (n_walkers, n_steps // stride + 1, d)
        ``traj[i]`` is walker ``i``'s trajectory, ``traj[:, 0]`` the starting points.
    """
    rng = check_random_state(random_state)
    z = np.array(Z0, dtype=float, copy=True)
    n, d = z.shape
    out = np.empty((n, n_steps // stride + 1, d))
    out[:, 0] = z
    noise = np.sqrt(2.0 * dt)
    for step in range(1, n_steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked below
            z = z + dt * grad_log_density(z) + noise * rng.standard_normal((n, d))
        if step % stride == 0:
            far = bounds is not None and np.any(
                np.sum((z - bounds[0]) ** 2, axis=1) > bounds[1] ** 2)
            if far or not np.all(np.isfinite(z)):
                raise ValueError(
                    f"the Langevin simulation diverged at step {step} (dt={dt}): the time step "
                    "is too large for the curvature of the fitted landscape; use a smaller dt."
                )
            out[:, step // stride] = z
    return out


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


# -------------------------------------------------------------------------------- text
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


# ---------------------------------------------------------------------------------- mixin
class WellsMixin:
    """Wells as clusters, rates and simulation for a fitted spectrum (see module docstring).

    The host estimator provides ``energies_``, ``n_ground_states_``, ``_eigenfunctions(Z)``
    and ``_grad_log_density(Z)``, and calls ``A = self._fit_wells(Z)`` (memberships, labels),
    then ``self._fit_rates(A)`` once ``energies_`` holds its final ground multiplet.
    """

    def _fit_wells(self, Z):
        """Memberships and labels of the training points (PCCA+); returns PCCA+'s ``A``."""
        k = int(self.n_ground_states_)
        F = self._eigenfunctions(Z)[:, :k]
        chi, A, T = pcca(F)
        self._well_map = T @ A
        self.memberships_ = chi
        self.labels_ = np.argmax(chi, axis=1)
        return A

    def _fit_rates(self, A):
        """Rate matrix between the wells, from memberships ``chi = F A`` and the multiplet."""
        k = A.shape[0]
        pi = A[0].copy()
        E_all = self.energies_
        next_level = E_all[k] if k < len(E_all) else 0.0
        Q = reversible_rate_matrix(coarse_rate_matrix(A, E_all[:k]), pi,
                                   floor=RESOLUTION * next_level)
        if k > 1:
            E = E_all[1:k]
            # relative misses of round-off levels (disconnected wells) do not matter
            tol = ROUND_OFF * next_level or 1e-300
            err = float(np.max(np.abs(relaxation_rates(Q) - E) / np.maximum(E, tol)))
            if err > _SPECTRUM_RTOL:
                # a round-off level (1e-300) made "10628745454...%", 200 digits long
                miss = f"{err:.0%}" if err < 10 else f"{err:.2g} times their size"
                warnings.warn(
                    f"The {k} wells are not well separated: the rate matrix between them "
                    f"(non-negative rates in detailed balance) misses the energies of the "
                    f"ground multiplet by up to {miss}; read its rates as rough.",
                    UserWarning,
                )
        self.rate_matrix_ = Q
        self.stationary_distribution_ = pi
        self.mean_first_passage_times_ = mean_first_passage_times(Q)
        return self

    def _well_memberships(self, Z):
        k = self._well_map.shape[0]
        return memberships(self._eigenfunctions(Z)[:, :k], self._well_map)

    def predict_proba(self, Z):
        """Soft memberships of the points ``Z`` in each well (PCCA+), rows summing to 1.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Points, training or new.

        Returns
        -------
        chi : ndarray of shape (n_samples, n_ground_states_)
            Membership of each point in each well (a lazy dask array for a dask array ``Z``).
        """
        check_is_fitted(self, "rate_matrix_")
        if is_dask(Z):  # block by block, when asked for
            return self._lazy(self.predict_proba, Z, self.n_ground_states_)
        Z = validate_data(self, Z, dtype=np.float64, reset=False)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # far from the data the eigenfunctions overflow; the memberships stay in [0, 1]
            return self._well_memberships(Z)

    def predict(self, Z):
        """The well each point belongs to (largest PCCA+ membership).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Points, training or new.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Well index in ``0..n_ground_states_ - 1`` (a lazy dask array for a dask array
            ``Z``).
        """
        if is_dask(Z):
            check_is_fitted(self, "rate_matrix_")
            return self._lazy(self.predict, Z, dtype=np.intp)
        return np.argmax(self.predict_proba(Z), axis=1)

    def fit_predict(self, Z, y=None):
        """Fit and return ``labels_``, the well of each training point.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Samples.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Well index of each sample.
        """
        return self.fit(Z).labels_

    def simulate(self, Z0, n_steps, dt, random_state=None, stride=1):
        """Run the Langevin diffusion ``dz = grad log p dt + sqrt(2) dW`` on the fitted density.

        Euler-Maruyama with the fitted score ``grad log p``; the time unit is that of
        ``rate_matrix_``. ``dt`` must be small compared with the squared length over which the
        score changes (divergence raises an error); count hops with ``predict`` on the
        trajectory.

        Parameters
        ----------
        Z0 : array-like of shape (n_walkers, n_features)
            Starting points (one row per independent walker).
        n_steps : int
            Number of time steps, >= 1.
        dt : float
            Time step, > 0.
        random_state : int, RandomState instance or None, default=None
            Seeds the noise: the same value gives the same trajectories.
        stride : int, default=1
            Keep every ``stride``-th position.

        Returns
        -------
        traj : ndarray of shape (n_walkers, n_steps // stride + 1, n_features)
            ``traj[i, 0]`` is ``Z0[i]``; ``traj[i, t]`` the position at time ``t * stride * dt``.
        """
        check_is_fitted(self, "rate_matrix_")
        if not (isinstance(dt, (int, float, np.integer, np.floating)) and np.isfinite(dt)
                and dt > 0):
            raise ValueError(f"dt must be a positive finite number; got {dt!r}.")
        for name, v in (("n_steps", n_steps), ("stride", stride)):
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1; got {v!r}.")
        Z0 = check_array(Z0, dtype=np.float64, input_name="Z0")
        if Z0.shape[1] != self.n_features_in_:
            raise ValueError(
                f"Z0 has {Z0.shape[1]} columns but the model was fitted on "
                f"{self.n_features_in_} features: starting points must live in the same space."
            )
        # 1e3 standard deviations: no Langevin path of the fitted density gets there
        bounds = (self._logp.centre, 1e3 * self._logp.radius)
        r = np.abs(Z0 - bounds[0]) / bounds[1]  # in units of the bound, squared below 1 only
        far = (r.max(axis=1) > 1) | (np.sum(np.minimum(r, 1) ** 2, axis=1) > 1)
        if np.any(far):
            raise ValueError(
                f"Z0 row {int(np.argmax(far))} lies more than {bounds[1]:.3g} (1000 standard "
                "deviations of the data) from the fitted density: the walk is only defined "
                "near the data. Start the walkers at or near training points.")
        return langevin(self._grad_log_density, Z0, int(n_steps), float(dt),
                        random_state=random_state, stride=int(stride), bounds=bounds)

    def format_wells(self, precision=3):
        """The well weights and ``rate_matrix_`` as a plain-text table (command line)."""
        check_is_fitted(self, "rate_matrix_")
        if not (isinstance(precision, (int, np.integer)) and not isinstance(precision, bool)
                and 0 <= precision <= 17):
            raise ValueError(f"precision must be an integer from 0 to 17 (significant digits); "
                             f"got {precision!r}.")
        return format_wells(self.stationary_distribution_, self.rate_matrix_, precision)
