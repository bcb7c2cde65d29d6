"""Euler-Maruyama simulation of the Langevin diffusion on a fitted density."""

import numpy as np
from sklearn.utils import check_random_state


def langevin(grad_log_density, Z0, n_steps, dt, random_state=None, stride=1, bounds=None,
             projector=None):
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
    projector : ndarray of shape (d, d), default=None
        Orthogonal projector onto the directions the walk moves in (the span of the data,
        whose density is a point mass across it); None: every direction.

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
            move = dt * grad_log_density(z) + noise * rng.standard_normal((n, d))
            z = z + (move if projector is None else move @ projector)
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
