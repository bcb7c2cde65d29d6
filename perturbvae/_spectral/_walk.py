"""The density that :meth:`SpectralDegeneracy.simulate`'s walkers follow where the rates
come from the samples' own density near the barriers (:mod:`._kde_levels`).

The rates are the levels of ``-div(p grad f) = E p f`` for ``p`` on a grid: the samples'
kernel estimate where they reach, the wells' mixture beyond, on the grid's plane (or line,
or 3-space). The mixture alone, whose Gaussian tails fall off faster than the samples near
the barriers, made walkers on the 2-d and 5-d double wells hop at 0.36-0.68 of those rates
(``benchmarks/dynamics_validation.py``). Here the walk follows that grid's density in its
plane and the mixture's conditional density across it::

    p(z) = p_grid(u) p_mix(z) / p_mix,u(u),    u = B^T (z - origin)

(``p_mix,u`` the mixture's marginal on the plane), so that the plane's coordinates are
distributed as the grid's density, and where the plane holds the data (1-d, 2-d, 3-d wells
off a plane) ``p = p_grid``: the walk is the diffusion whose levels are ``energies_``.
Off the grid's box the plane's density is the mixture's marginal, as on the grid's edge.
"""

import numpy as np
from scipy.ndimage import map_coordinates


class GridWalkDensity:
    """The density ``p_grid(u) p_mix(z) / p_mix,u(u)`` (module docstring): its log and its
    score.

    Parameters
    ----------
    mix : WellMixtureLogDensity
        The wells' mixture, in the coordinates of the samples.
    origin : ndarray of shape (n_features,)
    basis : ndarray of shape (n_features, m)
        Orthonormal columns: ``u = (z - origin) @ basis``.
    lo, hi : ndarray of shape (m,)
        The grid's box, in ``u``.
    log_p : ndarray of shape ``shape2``
        ``log p_grid`` at the grid's nodes, evenly spaced from ``lo`` to ``hi``.
    exact : bool
        Whether the plane holds the data (then ``p = p_grid``: the mixture's conditional
        across it is constant, and is not evaluated).
    """

    def __init__(self, mix, origin, basis, lo, hi, log_p, exact):
        self.mix, self.origin, self.basis = mix, origin, basis
        self.lo, self.hi, self.log_p, self.exact = lo, hi, log_p, exact
        self.marginal = mix.marginal(origin, basis)
        step = (hi - lo) / (np.array(log_p.shape) - 1)
        # the score on the nodes (central differences), interpolated linearly between them;
        # one contiguous array an axis (map_coordinates copies a strided one every step)
        self._score = np.stack([np.gradient(log_p, step[a], axis=a)
                                for a in range(log_p.ndim)])
        self._step = step

    @property
    def centre(self):
        return self.mix.centre

    @property
    def radius(self):
        return self.mix.radius

    def plane_score(self, U):
        """``grad_u log p_grid`` at the plane's points ``U`` inside the box (multilinear
        interpolation of the nodes' scores), ``grad_u log p_mix,u`` outside it."""
        return self._inside_or_marginal(U, self._score, self.marginal.grad_log_density,
                                        U.shape[1])

    def _inside_or_marginal(self, U, nodes, outside, width):
        """``nodes`` (``width`` arrays of the grid's shape) interpolated multilinearly at the
        points ``U`` inside the box, ``outside(U)`` (n, width) at the others."""
        shape = np.array(self.log_p.shape)
        x = (U - self.lo) / self._step
        inside = np.all((x >= 0) & (x <= shape - 1), axis=1)
        out = np.empty((len(U), width))
        if not inside.all():
            out[~inside] = np.reshape(outside(U[~inside]), (-1, width))
        if inside.any():
            at = x[inside].T
            for j in range(width):  # order 1: multilinear between the nodes
                out[inside, j] = map_coordinates(nodes[j], at, order=1, mode="nearest")
        return out

    def plane_log_density(self, U):
        """``log p_grid`` at the plane's points ``U`` (multilinear between the nodes),
        ``log p_mix,u`` outside the box."""
        return self._inside_or_marginal(U, self.log_p[None], self.marginal.log_density,
                                        1)[:, 0]

    def log_density(self, Z):
        """``log p`` (up to a constant) at the points ``Z`` (n, n_features)."""
        U = (Z - self.origin) @ self.basis
        out = self.plane_log_density(U)
        if self.exact:
            return out
        return out + self.mix.log_density(Z) - self.marginal.log_density(U)

    def grad_log_density(self, Z):
        """``grad_z log p`` at the points ``Z`` (n, n_features)."""
        U = (Z - self.origin) @ self.basis
        along = self.plane_score(U) @ self.basis.T
        if self.exact:
            return along
        return along + self.mix.grad_log_density(Z) - (
            self.marginal.grad_log_density(U) @ self.basis.T)
