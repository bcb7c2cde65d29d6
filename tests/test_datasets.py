"""The exact references of perturbvae.datasets against closed forms and independent estimates.

Tolerances were measured on this machine (float64, scipy 1.x) and are set a few times above:
- fd_spectrum_1d, N(0, 1) on [-12, 12]: max |E_n - n|, n = 1..9: 2.0e-5, 1.3e-6, 7.9e-8, 4.9e-9 at
  500, 1000, 2000, 4000 cells (4th order: the exact face values of log p); uniform on [0, 2]:
  max relative error of levels 1..5: 8.2e-5, 2.1e-5, 5.1e-6, 1.3e-6 (2nd order).
- fd_spectrum_2d: N(0, diag(1, 4)), levels 1..9: 4.3e-5 (75 x 130 cells), 2.6e-6 (150 x 260);
  box [0, 2] x [0, 1]: 2.3e-3, 5.8e-4 (2nd order).
- two unit Gaussians 8 apart: E1 = 6.2010e-4 at 1000 to 8000 cells (changes < 3e-10 relative);
  the capacity formula gives 6.1887e-4 (0.2 % below; 3.4 % at 6 apart, 14 % at 4 apart, as an
  asymptotic formula should). The 2-d mixture is separable (x double well times an N(0, 1) in y):
  its FD levels match the 1-d ones plus the y ladder within 3.9e-4 at 160 x 100 cells.
- an unequal pair (weights 0.7/0.3, widths 1/0.8, 8 apart): capacity formula 0.04 % from FD.
- N(0, 3^2) given as grid values (faces: mean of the neighbouring densities, 2nd order):
  6.4e-5 at 3000 cells.
- noisy ring R = 2, noise 0.3: the polar ring_levels against a Cartesian fd_spectrum_2d on
  [-4, 4]^2 at 200 x 200 cells: 2.2e-4 relative (5.6e-5 at 400 x 400).
Checked to fail on broken references: a face value taken as the left cell's density (1st
order), the Jacobian r dropped from the ring sampler, the m^2 / r^2 term dropped from
ring_levels, duplicate quantum numbers allowed in gaussian_levels: each breaks >= 1 test.
"""

from itertools import product

import numpy as np
import pytest

from perturbvae.datasets import (
    box_levels,
    double_well_splitting_capacity,
    fd_spectrum_1d,
    fd_spectrum_2d,
    gaussian_levels,
    interval_levels,
    mixture_logpdf,
    multiplicities,
    ring_levels,
    sample_gaussian,
    sample_mixture,
    sample_ring,
    sample_uniform_box,
)


def brute_levels(w, k):
    # stepping along the softest axis alone gives k levels <= (k - 1) min(w): enumerate that box
    top = (k - 1) * w.min()
    axes = [range(int(top / wi) + 2) for wi in w]
    E = sorted(float(np.dot(q, w)) for q in product(*axes))
    return np.array(E[:k])


@pytest.mark.parametrize(
    "variances", [[1.0], [1.0, 1.0, 1.0], [9.0, 1.0, 0.25], [4.0, 2.0, 1.0, 1.0]])
def test_gaussian_levels_match_brute_force_enumeration(variances):
    w = 1.0 / np.asarray(variances)
    np.testing.assert_allclose(gaussian_levels(variances, 30), brute_levels(w, 30), atol=1e-12)


def test_isotropic_multiplicities_are_binomial():
    _, counts = multiplicities(gaussian_levels([1.0] * 3, 20))
    assert counts.tolist() == [1, 3, 6, 10]


def test_gaussian_levels_rejects_bad_variances():
    with pytest.raises(ValueError, match="positive"):
        gaussian_levels([1.0, 0.0], 3)


@pytest.mark.parametrize("call, name", [
    (lambda: interval_levels(0.0, 3), "length"),  # levels nan and inf
    (lambda: interval_levels(-2.0, 3), "length"),  # the levels of length 2
    (lambda: interval_levels("2", 3), "length"),  # numpy's "ufunc 'isfinite' not supported"
    (lambda: interval_levels(True, 3), "length"),  # the levels of length 1
    (lambda: fd_spectrum_1d(lambda x: 0.0, -1, 1, 100, 3), "logp returned"),  # IndexError
    (lambda: box_levels([1.0, -2.0], 3), "sides"),  # the levels of sides 1 and 2
    (lambda: ring_levels(0.0, 3), "radius"),  # levels nan and inf
    (lambda: ring_levels(1.0, 3, noise=-0.1), "noise"),  # the levels of noise 0.1
    (lambda: multiplicities(2.0), "levels"),  # IndexError
    (lambda: fd_spectrum_2d(lambda z: -0.5 * (z**2).sum(-1), (6, -6), (-6, 6), (20, 20), 3),
     "xlim"),  # solved as if (-6, 6)
    (lambda: mixture_logpdf(np.zeros((1, 1)), [0.0, 3.0], [-1.0, 1.0], [0.5, 0.5]),
     "stds"),  # nan
    (lambda: mixture_logpdf(np.zeros((1, 1)), [0.0, 3.0], [1.0, 1.0], [1.5, -0.5]),
     "weights"),  # nan
    (lambda: mixture_logpdf(np.zeros((1, 3)), [[0.0, 0], [3, 0]], 1.0, [0.5, 0.5]),
     "columns"),  # numpy's broadcast error
    (lambda: sample_mixture(5, [0.0, 3.0], [-1.0, 1.0], [0.5, 0.5]), "stds"),
    (lambda: double_well_splitting_capacity(-6.0), "separation"),  # E1 < 0
    (lambda: double_well_splitting_capacity(6.0, weights=(-1, -1)), "weights"),  # as (1, 1)
    (lambda: double_well_splitting_capacity(6.0, weights=(1, 0)), "weights"),  # inf
    (lambda: sample_gaussian(5, [0.0, 1.0]), "stds"),  # a flat Gaussian
    (lambda: sample_ring(5, radius=0.0), "radius"),
    (lambda: sample_ring(5, noise=-0.1), "noise"),
    (lambda: sample_uniform_box(5, [1.0, -1.0]), "sides"),
    # islice's message about its stop argument; an empty array without a word
    (lambda: gaussian_levels([1.0], -1), "n_levels"),
    (lambda: gaussian_levels([1.0], 2.5), "n_levels"),
    (lambda: box_levels([1.0, 1.0], -1), "n_levels"),
    (lambda: interval_levels(1.0, -1), "n_levels"),
    (lambda: ring_levels(1.0, -1), "n_levels"),
    (lambda: ring_levels(1.0, True), "n_levels"),
    # numpy's broadcast error; levels out of order merged into wrong multiplets
    (lambda: sample_mixture(10, [[0.0, 0.0]], [1.0, 1.0], [1.0]), "stds"),
    (lambda: sample_mixture(10, [[0.0, 0.0]], 1.0, [0.5, 0.5]), "centres"),
    (lambda: multiplicities([1.0, 0.0, 1.0, 2.0]), "ascending"),
    # four numbers and two weights were read as two 2-d centres; an (n, 1) shift moved each
    # row its own way, and nan gave nan samples
    (lambda: sample_mixture(10, [0.0, 1.0, 2.0, 3.0], 1.0, [0.5, 0.5]), "centres"),
    (lambda: sample_gaussian(5, [1.0, 1.0], shift=np.zeros((5, 1))), "shift"),
    (lambda: sample_gaussian(5, [1.0, 1.0], shift=np.nan), "shift"),
    # numpy's "negative dimensions are not allowed"
    (lambda: sample_gaussian(-1, [1.0]), "n must be an integer"),
    (lambda: sample_ring(-1), "n must be an integer"),
])
def test_references_and_samplers_name_a_size_that_has_no_density(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_fd_1d_gaussian_ladder_and_fourth_order_convergence():
    errs = []
    for n in (500, 1000, 2000):
        E = fd_spectrum_1d(lambda x: -(x**2) / 2, -12, 12, n, 10)
        errs.append(np.abs(E - np.arange(10)).max())
    assert errs[-1] < 5e-7
    assert errs[0] / errs[1] > 10 and errs[1] / errs[2] > 10  # measured 16, 16


def test_fd_1d_scaled_gaussian_and_grid_values():
    # N(0, 3^2): levels n / 9; density given as values on the grid instead of a function
    n, lo, hi = 3000, -36, 36
    x = lo + (hi - lo) / n * (np.arange(n) + 0.5)
    E = fd_spectrum_1d(-(x**2) / 18, lo, hi, n, 6)
    np.testing.assert_allclose(E[1:], np.arange(1, 6) / 9, rtol=2e-4)  # measured 6.4e-5


def test_fd_1d_interval_second_order():
    errs = []
    for n in (500, 1000, 2000):
        E = fd_spectrum_1d(lambda x: 0 * x, 0, 2, n, 6)
        errs.append(np.abs(E[1:] / interval_levels(2, 6)[1:] - 1).max())
    assert errs[-1] < 2e-5
    assert 3.5 < errs[0] / errs[1] < 4.5 and 3.5 < errs[1] / errs[2] < 4.5


def test_fd_2d_gaussian_and_box():
    lp = lambda z: -z[:, 0] ** 2 / 2 - z[:, 1] ** 2 / 8  # noqa: E731
    E = fd_spectrum_2d(lp, (-9, 9), (-16, 16), (150, 260), 10)
    T = gaussian_levels([1, 4], 10)
    np.testing.assert_allclose(E[1:], T[1:], rtol=2e-5)
    assert abs(E[0]) < 1e-9
    E = fd_spectrum_2d(lambda z: 0 * z[:, 0], (0, 2), (0, 1), (150, 260), 10)
    np.testing.assert_allclose(E[1:], box_levels([2, 1], 10)[1:], rtol=2e-3)


def test_double_well_splitting_converged_and_matches_capacity_formula():
    sep = 8.0
    lp = lambda x: mixture_logpdf(x, [-sep / 2, sep / 2], [1, 1], [0.5, 0.5])  # noqa: E731
    E1 = [fd_spectrum_1d(lp, -14, 14, n, 3)[1] for n in (1000, 4000)]
    assert abs(E1[0] / E1[1] - 1) < 2e-6  # measured 2.6e-7: converged
    cap = double_well_splitting_capacity(sep)
    assert abs(cap / E1[1] - 1) < 0.01  # measured 0.2 %
    assert 5e-4 < E1[1] < 7e-4  # e^-8-scale: nothing lost to underflow at the barrier



@pytest.mark.parametrize("solve", ["1d", "2d"])
def test_a_splitting_below_the_solvers_resolution_is_said(solve):
    # unit Gaussians 16 apart: E1 = 5.0e-14 (the capacity formula, exact to 1e-12 this far
    # apart), below eps times the matrices' largest entries; the 1-d solver read -7e-14 to
    # -7e-11 on 1,000-16,000 cells, the 2-d one 1.1e-13, with no warning
    sep = 16.0
    assert double_well_splitting_capacity(sep) == pytest.approx(5.04e-14, rel=0.01)
    with pytest.warns(UserWarning, match="not resolved"):
        if solve == "1d":
            lp = lambda x: mixture_logpdf(x, [-sep / 2, sep / 2], [1, 1], [0.5, 0.5])  # noqa: E731
            fd_spectrum_1d(lp, -sep / 2 - 10, sep / 2 + 10, 4000, 2)
        else:
            lp = lambda z: mixture_logpdf(z, [[-sep / 2, 0], [sep / 2, 0]], [1, 1],  # noqa: E731
                                          [0.5, 0.5])
            fd_spectrum_2d(lp, (-sep / 2 - 8, sep / 2 + 8), (-8, 8), (200, 60), 2)


def test_resolved_splittings_and_ladders_say_nothing():
    # the validated references stay silent: a splitting of 6e-4 and the oscillator ladder
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lp = lambda x: mixture_logpdf(x, [-4, 4], [1, 1], [0.5, 0.5])  # noqa: E731
        fd_spectrum_1d(lp, -14, 14, 4000, 3)
        fd_spectrum_2d(lambda z: -0.5 * np.sum(z**2, axis=1), (-9, 9), (-9, 9), (120, 120), 4)

def test_unequal_double_well_matches_capacity_formula():
    sep, w, s = 8.0, (0.7, 0.3), (1.0, 0.8)
    lp = lambda x: mixture_logpdf(x, [-sep / 2, sep / 2], s, w)  # noqa: E731
    E1 = fd_spectrum_1d(lp, -14, 14, 4000, 3)[1]
    assert abs(double_well_splitting_capacity(sep, w, s) / E1 - 1) < 0.01  # measured 0.04 %


def test_fd_2d_separable_double_well_is_1d_plus_ladder():
    sep = 6.0
    centres = [[-sep / 2, 0], [sep / 2, 0]]
    lp2 = lambda z: mixture_logpdf(z, centres, [1, 1], [0.5, 0.5])  # noqa: E731
    E2 = fd_spectrum_2d(lp2, (-sep / 2 - 8, sep / 2 + 8), (-8, 8), (160, 100), 6)
    lp1 = lambda x: mixture_logpdf(x, [-sep / 2, sep / 2], [1, 1], [0.5, 0.5])  # noqa: E731
    E1 = fd_spectrum_1d(lp1, -sep / 2 - 8, sep / 2 + 8, 4000, 6)
    T = np.sort((E1[:, None] + np.arange(4)[None]).ravel())[:6]
    np.testing.assert_allclose(E2[1:], T[1:], rtol=1.5e-3)  # measured 3.9e-4


def test_ring_levels_polar_against_cartesian_fd():
    R, s = 2.0, 0.3
    lr = lambda z: -((np.hypot(z[:, 0], z[:, 1]) - R) ** 2) / (2 * s**2)  # noqa: E731
    E = fd_spectrum_2d(lr, (-4, 4), (-4, 4), (200, 200), 7)
    T = ring_levels(R, 7, noise=s)
    np.testing.assert_allclose(E[1:], T[1:], rtol=1e-3)
    # and the thin-ring limit m^2 / R^2, each twice
    np.testing.assert_allclose(ring_levels(R, 7, noise=0.01)[1:], ring_levels(R, 7)[1:], rtol=1e-3)


def test_samplers_draw_the_reference_densities():
    Z = sample_gaussian(200_000, [3.0, 1.0, 0.5], random_state=0)
    ev = np.sort(np.linalg.eigvalsh(np.cov(Z.T)))[::-1]
    np.testing.assert_allclose(ev, [9.0, 1.0, 0.25], rtol=0.02)
    Zr = sample_ring(200_000, radius=2.0, noise=0.3, random_state=0)
    r = np.hypot(Zr[:, 0], Zr[:, 1])
    # mean of r under r N(R, s): R + s^2 / R
    assert abs(r.mean() - (2.0 + 0.09 / 2.0)) < 3e-3
    Zm, lab = sample_mixture(100_000, [[-4, 0], [4, 0]], [1.0, 0.5], [0.7, 0.3], random_state=0)
    assert abs(lab.mean() - 0.3) < 0.01
    assert abs(Zm[lab == 1, 1].std() - 0.5) < 0.01
    Zu = sample_uniform_box(50_000, [2.0, 1.0], random_state=0)
    assert Zu.min() >= 0 and Zu[:, 0].max() <= 2 and Zu[:, 1].max() <= 1


def test_fd_rejects_bad_grid():
    with pytest.raises(ValueError, match="lo < hi"):
        fd_spectrum_1d(lambda x: 0 * x, 1, 0, 100, 3)
    with pytest.raises(ValueError, match="not finite"):
        fd_spectrum_1d(lambda x: np.where(x > 0, 0.0, -np.inf), -1, 1, 100, 3)
    # counts that are not integers are said, not truncated (10.7 cells read as 10) nor
    # passed on (n_levels=2.5 met ARPACK's SystemError)
    gauss = lambda z: -0.5 * np.sum(z**2, axis=1)  # noqa: E731
    with pytest.raises(ValueError, match="shape must be an integer"):
        fd_spectrum_2d(gauss, (-6, 6), (-6, 6), (10.7, 10), 2)
    with pytest.raises(ValueError, match="n_levels must be an integer"):
        fd_spectrum_2d(gauss, (-6, 6), (-6, 6), (10, 10), 2.5)
    with pytest.raises(ValueError, match="n_grid must be an integer"):
        fd_spectrum_1d(lambda x: -x**2 / 2, -8, 8, 100.5, 2)


def test_a_mixture_component_of_weight_zero_is_silent():
    # documented as allowed: its log weight is -inf, without numpy's divide warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lp = mixture_logpdf(np.zeros((2, 1)), [[-1.0], [1.0]], [1, 1], [1.0, 0.0])
    np.testing.assert_allclose(lp, -0.5 - 0.5 * np.log(2 * np.pi))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_mixture_logpdf_is_the_normalised_gaussian_mixture(d):
    # against scipy's multivariate normal, component by component, in any dimension
    from scipy.stats import multivariate_normal

    rng = np.random.RandomState(d)
    C, s, w = rng.normal(size=(3, d)), np.array([0.5, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    z = rng.normal(size=(20, d))
    want = np.log(sum(wk / w.sum() * multivariate_normal(c, sk**2 * np.eye(d)).pdf(z)
                      for c, sk, wk in zip(C, s, w)))
    np.testing.assert_allclose(mixture_logpdf(z, C, s, w), want, rtol=1e-10)
