"""The density simulate's walkers follow (perturbvae._spectral._walk): the grid's density in
its plane, the wells' mixture's conditional across it.

References: a Gaussian mixture in closed form. Given the mixture's own marginal as the grid's
density, the walk's density is the mixture itself; the score is checked against central
differences of the log-density.
"""

import numpy as np
import pytest
from test_finite_volumes import mixture

from perturbvae._spectral._walk import GridWalkDensity


def _mix3():
    """Two anisotropic Gaussians in 3-d, apart along a turned axis (a closed form)."""
    covs = [np.diag([1.0, 0.5, 2.0]), [[1.0, 0.3, 0.0], [0.3, 0.8, 0.2], [0.0, 0.2, 1.5]]]
    return mixture([[-2.0, 0.5, 0.0], [2.0, -0.5, 1.0]], covs, [0.6, 0.4], [0, 1])


def _walk(mix, basis, cells=241, exact=False, shift=None):
    """The walk whose grid holds the mixture's marginal on ``basis`` (plus ``shift(U)``)."""
    origin = np.array([0.1, -0.2, 0.3])[:basis.shape[0]]
    m = basis.shape[1]
    lo, hi = np.full(m, -7.0), np.full(m, 7.0)
    axes = [np.linspace(-7.0, 7.0, cells)] * m
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, m)
    log_p = mix.marginal(origin, basis).log_density(nodes)
    if shift is not None:
        log_p = log_p + shift(nodes)
    return GridWalkDensity(mix, origin, basis, lo, hi, log_p.reshape((cells,) * m), exact)


@pytest.mark.parametrize("m", [1, 2])
def test_the_mixtures_own_marginal_gives_back_the_mixture(m):
    # p_grid = p_mix,u: p = p_mix, so the walk's score is the mixture's. Measured: largest
    # difference 2.5e-3 (plane of 2, 241 nodes an axis: the interpolation of the nodes'
    # central differences) and 1.3e-3 (line), against scores of order 1-5
    mix = _mix3()
    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((3, m)))[0]
    walk = _walk(mix, basis)
    Z = np.random.default_rng(1).standard_normal((200, 3)) * 1.5
    np.testing.assert_allclose(walk.grad_log_density(Z), mix.grad_log_density(Z), atol=1e-2)
    diff = walk.log_density(Z) - mix.log_density(Z)  # up to the grid's interpolation
    assert np.ptp(diff) < 1e-2


def test_the_plane_carries_the_grids_density_and_across_it_the_mixtures():
    # a tilt a . u added to the grid's log-density: the score moves by B a, exactly in the
    # plane, and across it not at all (the mixture's conditional); points off the box get
    # the mixture's marginal, untilted
    mix = _mix3()
    basis = np.linalg.qr(np.random.default_rng(2).standard_normal((3, 2)))[0]
    a = np.array([0.7, -0.4])
    tilted = _walk(mix, basis, shift=lambda U: U @ a)
    plain = _walk(mix, basis)
    Z = np.random.default_rng(3).standard_normal((100, 3))
    np.testing.assert_allclose(tilted.grad_log_density(Z) - plain.grad_log_density(Z),
                               np.tile(basis @ a, (100, 1)), atol=1e-9)
    far = plain.origin + 20.0 * basis[:, 0]
    np.testing.assert_allclose(tilted.grad_log_density(far[None]),
                               mix.grad_log_density(far[None]), rtol=1e-9)


def test_score_is_the_gradient_of_the_log_density():
    # central differences of log_density (h = 1e-4) against grad_log_density, off the nodes:
    # log_density is multilinear between the nodes, its slope there a one-sided difference,
    # the score the interpolated central ones: they differ to first order in the node
    # spacing (0.058). Measured: 0.038 at most (plane of 2, 241 nodes an axis); leaving out
    # the mixture's conditional across the plane moves the score by 0.5-3
    mix = _mix3()
    basis = np.linalg.qr(np.random.default_rng(4).standard_normal((3, 2)))[0]
    walk = _walk(mix, basis, shift=lambda U: 0.3 * np.sin(U[:, 0]) * U[:, 1])
    Z = np.random.default_rng(5).standard_normal((50, 3))
    h = 1e-4
    fd = np.stack([(walk.log_density(Z + h * e) - walk.log_density(Z - h * e)) / (2 * h)
                   for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(walk.grad_log_density(Z), fd, atol=0.08)


def test_exact_walk_is_the_grids_density_alone():
    # where the plane holds the data (2-d data, its basis square) the mixture is not
    # consulted: p = p_grid, whatever the mixture says across (nothing is across)
    mix = mixture([[-2.0, 0.0], [2.0, 0.5]], [np.eye(2), np.eye(2) * 0.5], [0.5, 0.5], [0, 1])
    basis = np.linalg.qr(np.random.default_rng(6).standard_normal((2, 2)))[0]
    bump = lambda U: np.exp(-np.sum(U**2, axis=1))  # noqa: E731
    walk = _walk(mix, basis, exact=True, shift=bump)
    Z = np.random.default_rng(7).standard_normal((80, 2))
    U = (Z - walk.origin) @ basis
    expected = mix.log_density(Z) + bump(U)  # the mixture is its own marginal here
    diff = walk.log_density(Z) - expected
    assert np.ptp(diff) < 1e-2
