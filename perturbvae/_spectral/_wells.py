"""Wells as clusters and the slow dynamics between them, for a fitted spectrum.

:class:`WellsMixin`, inherited by :class:`~perturbvae.SpectralDegeneracy`, gives it
``labels_``, ``predict``, rates, passage times and ``simulate`` from PCCA+
(:mod:`._pcca`), the coarse generator (:mod:`._rates`) and Langevin dynamics
(:mod:`._langevin`).
"""

import warnings

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._finite_volumes import RESOLUTION
from ._langevin import langevin
from ._pcca import memberships, pcca
from ._rates import (
    ROUND_OFF,
    coarse_rate_matrix,
    format_wells,
    mean_first_passage_times,
    relaxation_rates,
    reversible_rate_matrix,
)
from ._samples import is_dask

# Relative miss of the ground-multiplet spectrum above which rate_matrix_ comes with a warning
# (the benchmark's target for rates against exact references).
_SPECTRUM_RTOL = 0.3


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
        return langevin(self._grad_log_density, Z0, int(n_steps), float(dt),
                        random_state=random_state, stride=int(stride), bounds=bounds)

    def format_wells(self, precision=3):
        """The well weights and ``rate_matrix_`` as a plain-text table (command line)."""
        check_is_fitted(self, "rate_matrix_")
        return format_wells(self.stationary_distribution_, self.rate_matrix_, precision)
