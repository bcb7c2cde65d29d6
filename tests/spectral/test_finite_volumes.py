"""Levels of the fitted landscape by finite volumes (perturbvae._spectral._finite_volumes).

References come from outside the package: the closed-form levels of a Gaussian and the
finite-volume solver of tests/test_dynamics.py (``two_gaussians_rate``).
"""

import numpy as np
import pytest
from test_dynamics import two_gaussians_rate

from perturbvae._spectral._density import WellMixtureLogDensity
from perturbvae._spectral._finite_volumes import fv_levels_1d, fv_levels_2d, landscape_levels


def mixture(means, covs, weights, wells):
    """A WellMixtureLogDensity from its components (no fit)."""
    means = np.asarray(means, dtype=float)
    mix = WellMixtureLogDensity()
    mix._set(means, np.linalg.inv(np.asarray(covs, dtype=float)), np.log(weights))
    mix.component_wells = np.asarray(wells)
    mix.centre, mix.radius = means.mean(axis=0), 1.0
    return mix


def test_levels_of_a_rotated_anisotropic_gaussian():
    # N(m, R diag(4, 1) R^T): levels a / 4 + b, i.e. 0, 1/4, 1/2, 3/4, 1 (1 twice: b=1 and
    # a=4; the fifth level). Measured: largest relative error 3.3e-4 (4 cells per sigma).
    t = 0.3
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    mix = mixture([[1.0, 2.0]], [R @ np.diag([4.0, 1.0]) @ R.T], [1.0], [0])
    E, A, exact = landscape_levels(mix, 5)
    assert exact
    np.testing.assert_allclose(E[1:], [0.25, 0.5, 0.75, 1.0], rtol=1e-3)
    assert E[0] == 0.0


@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("sep", [4.0, 8.0, 12.0])
@pytest.mark.parametrize("w", [0.5, 0.7])
def test_two_unit_gaussians_in_any_dimension(d, sep, w):
    # Wells that differ only along one (randomly turned) axis: the density factorises, so the
    # 1-d marginal used above d = 2 is exact too. Measured at 4 cells per width: relative
    # error <= 5.0e-3 at E1 from 0.12 (4 apart) down to 1.4e-8 (12 apart) (3.8e-4 at 6).
    rng = np.random.default_rng(int(10 * d + sep))
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    c = np.zeros((2, d))
    c[:, 0] = [-sep / 2, sep / 2]
    mix = mixture(c @ Q.T + 3.0, [np.eye(d)] * 2, [w, 1 - w], [0, 1])
    E, A, exact = landscape_levels(mix, 2)
    assert exact == (d <= 2)
    assert E[1] == pytest.approx(two_gaussians_rate(sep, w, n_grid=8000), rel=1e-2)
    # A[0] holds the wells' weights, in the order of their labels
    np.testing.assert_allclose(A[0], [w, 1 - w], atol=1e-6)


def test_marginal_is_an_upper_bound():
    # Two wells in 3-d with covariances that couple x and y (no factorisation along the
    # line between them) and an independent z of unit variance. The full density's E1 is
    # that of its (x, y) part (z's levels start at 1), solved exactly in 2-d; the 3-d call
    # uses the marginal on the centres' line: min-max says it is >= the full level.
    C = np.array([[1.0, 0.8], [0.8, 1.0]])
    C2 = np.array([[1.0, -0.6], [-0.6, 1.5]])
    means2 = [[-3.0, 0.0], [3.0, 0.5]]
    full, _, exact = landscape_levels(mixture(means2, [C, C2], [0.6, 0.4], [0, 1]), 2)
    assert exact
    C3 = [np.pad(c, (0, 1)) + np.diag([0, 0, 1.0]) for c in (C, C2)]
    bound, _, exact3 = landscape_levels(
        mixture(np.c_[means2, [0.0, 0.0]], C3, [0.6, 0.4], [0, 1]), 2)
    assert not exact3
    assert bound[1] >= full[1] * (1 - 1e-6)


def test_a_fuzzy_well_still_gets_points():
    # well 2's membership is never the largest (a small, spread-out PCCA+ well): it takes its
    # 4 points of largest membership, so that its Gaussian can be fitted
    from perturbvae._spectral._density import well_labels

    rng = np.random.default_rng(0)
    chi = rng.dirichlet([5, 5, 1], size=200)
    chi[:, 2] = np.minimum(chi[:, 2], chi[:, :2].max(axis=1) - 1e-3)
    chi /= chi.sum(axis=1, keepdims=True)
    assert not np.any(np.argmax(chi, axis=1) == 2)
    labels = well_labels(chi, min_points=4)
    assert np.sum(labels == 2) == 4
    top = np.argsort(-chi[:, 2])[:4]
    assert np.all(labels[top] == 2)
    keep = np.setdiff1d(np.arange(200), top)
    np.testing.assert_array_equal(labels[keep], np.argmax(chi[keep], axis=1))


def test_too_fine_a_grid_gives_up():
    # narrow wells far apart in 2-d (1000 widths): no grid of bounded size resolves them, and
    # the caller keeps the sampled levels
    mix = mixture([[0.0, 0.0], [10.0, 5.0], [-5.0, 10.0]], [0.01**2 * np.eye(2)] * 3,
                  [0.3, 0.3, 0.4], [0, 1, 2])
    assert landscape_levels(mix, 3) == (None, None, True)


def test_wells_off_a_plane_are_not_projected():
    # four wells at the corners of a tetrahedron: every plane puts two of them on top of each
    # other, so there is no marginal to bound their levels with
    C = 6.0 * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    mix = mixture(C, [np.eye(3)] * 4, [0.25] * 4, [0, 1, 2, 3])
    assert landscape_levels(mix, 4) == (None, None, False)
    # the same wells flattened onto a plane (third coordinate 0): bounded
    E, A, exact = landscape_levels(mixture(C * [1, 1, 0], [np.eye(3)] * 4, [0.25] * 4,
                                           [0, 1, 2, 3]), 4)
    assert not exact and E[1] > 0 and np.linalg.cond(A) < 1e3


def test_sampled_levels_kept_where_the_landscape_cannot_be_solved():
    # five wells at the corners of a simplex in 4-d, off any 3-space: the fit keeps the
    # sampled levels and says so
    from perturbvae import SpectralDegeneracy

    rng = np.random.default_rng(0)
    C = 8.0 * np.r_[np.eye(4), np.full((1, 4), (1 - np.sqrt(5)) / 4)]
    Z = np.concatenate([rng.standard_normal((300, 4)) + c for c in C])
    with pytest.warns(UserWarning, match="read from the samples alone"):
        sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 5
    assert sd.ground_levels_source_ == "samples"
    np.testing.assert_array_equal(sd.energies_, sd.energies_sampled_)


def test_four_wells_off_a_plane_are_solved_on_a_grid_of_their_space():
    # the corners of a tetrahedron in 3-d: no plane holds them (the sampled levels were kept
    # before), their 3-space does: the density itself, every well on the grid
    from perturbvae import SpectralDegeneracy

    rng = np.random.default_rng(0)
    C = 2.0 * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    Z = np.concatenate([rng.standard_normal((300, 3)) + c for c in C])
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 4
    assert sd.ground_levels_source_ == "landscape"
    assert np.all(sd.energies_[1:4] > 0) and np.all(np.isfinite(sd.rate_matrix_))


# ----------------------------------------------------------- the solvers on their own
@pytest.mark.parametrize("n_cells", [500, 2000])
def test_1d_uniform_interval_has_the_no_flux_levels(n_cells):
    # -f'' = E f on [0, L] with f' = 0 at both ends: E_n = (pi n / L)^2, n = 0, 1, ...
    # The cell-centred grid spans L (n_cells / (n_cells - 1)): levels low by 2 / n_cells
    # (measured 1.99 / n_cells for the first five), so rtol 2.5 / n_cells.
    L = 3.0
    E = fv_levels_1d(lambda x: np.zeros(len(x)), 0.0, L, n_cells, 6)[0]
    exact = (np.pi * np.arange(6) / L) ** 2
    assert abs(E[0]) <= 1e-9 * E[1]  # the constant function: no flux out, level 0
    np.testing.assert_allclose(E[1:], exact[1:], rtol=2.5 / n_cells)


def test_1d_harmonic_well_has_the_oscillator_levels():
    # p ~ exp(-x^2 / (2 s^2)): -(p f')' = E p f is the Ornstein-Uhlenbeck generator, whose
    # levels are n / s^2 (Hermite polynomials). Box +-10 s, 2000 cells: measured 1e-8 off.
    s = 0.7
    E, x, lp, G = fv_levels_1d(lambda x: -0.5 * (x[:, 0] / s) ** 2, -10 * s, 10 * s, 2000, 6)
    np.testing.assert_allclose(E, np.arange(6) / s**2, rtol=1e-6, atol=1e-9)
    # the eigenvectors are orthonormal and the ground one is sqrt(p h) (f constant)
    np.testing.assert_allclose(G.T @ G, np.eye(6), atol=1e-9)
    g0 = np.exp(0.5 * lp)
    assert abs(G[:, 0] @ g0) / np.linalg.norm(g0) == pytest.approx(1.0, abs=1e-9)


def test_2d_anisotropic_gaussian_has_the_oscillator_levels():
    # sds (1, 2): levels n1 + n2 / 4 -> 0, 1/4, 1/2, 3/4, 1, 1 (measured 8e-6 relative off)
    E = fv_levels_2d(lambda P: -0.5 * (P[:, 0] ** 2 + (P[:, 1] / 2) ** 2),
                     (-8.0, -16.0), (8.0, 16.0), (161, 161), 6)[0]
    np.testing.assert_allclose(E, [0, 0.25, 0.5, 0.75, 1.0, 1.0], rtol=1e-4, atol=1e-9)


def test_2d_uniform_rectangle_has_the_no_flux_levels():
    # On a Gaussian the edges carry no density and no boundary condition shows; on a uniform
    # [0, 2] x [0, 1] the levels pi^2 (n1^2 / 4 + n2^2) need no flux through every edge.
    # Each side spans its length (n / (n - 1)): levels low by 2 / n (1 % with n = 101).
    shape = (201, 101)
    E = fv_levels_2d(lambda P: np.zeros(len(P)), (0.0, 0.0), (2.0, 1.0), shape, 6)[0]
    exact = np.pi**2 * np.array([0.0, 0.25, 1.0, 1.0, 1.25, 2.0])  # (n1, n2) = (2, 1) last
    assert abs(E[0]) <= 1e-9 * E[1]
    np.testing.assert_allclose(E[1:], exact[1:], rtol=2.5 / min(shape))
