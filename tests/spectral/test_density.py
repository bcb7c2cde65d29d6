"""Density estimates of the spectral half: ``score_samples`` is a normalised log-density."""

import numpy as np
import pytest

from perturbvae import SpectralDegeneracy


@pytest.mark.parametrize("seed", [0, 1])
def test_score_samples_integrates_to_one(seed):
    # exp(score_samples) on a fine grid far into the tails (trapezoid rule, measured error
    # below 1e-6): a kernel whose width or constant is off gives another total
    Z = np.random.RandomState(seed).normal(size=(300, 1)) * [2.0]
    sd = SpectralDegeneracy(n_levels=4, random_state=seed).fit(Z)
    x = np.linspace(-20, 20, 8001)[:, None]
    total = np.trapezoid(np.exp(sd.score_samples(x)), x[:, 0])
    assert total == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("d", [1, 2])
def test_the_default_bandwidth_predicts_new_points_as_the_exact_density(d):
    # 2,000 draws of N(0, I_d), 2,000 new ones: the held-out mean log-density of the default
    # kernel width against the exact one. Measured over seeds 0-5: 0.000-0.005 (d = 1) and
    # 0.007-0.021 (d = 2) below; the 10th-neighbour width used before (0.006 in 1-d, 50
    # times too narrow) was 0.21 below
    from scipy import stats

    Z = np.random.default_rng(0).normal(size=(2000, d))
    new = np.random.default_rng(100).normal(size=(2000, d))
    sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    exact = stats.multivariate_normal(np.zeros(d)).logpdf(new).mean()
    assert sd.score(new) == pytest.approx(exact, abs=0.03)


@pytest.mark.parametrize("table", ["wine", "iris"])
def test_the_default_bandwidth_is_what_a_grid_search_picks(table):
    # wine (standardised) and iris (raw, rounded to 0.1, which the fit spreads over their
    # cells): the held-out score of the default width beside scikit-learn's KernelDensity
    # tuned by GridSearchCV (5 folds, 40 widths): measured 0.03 and 0.02 nats apart; the
    # 10th-neighbour width was 8.6 and 1.0 below
    from sklearn import datasets
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.neighbors import KernelDensity
    from sklearn.preprocessing import StandardScaler

    X = getattr(datasets, f"load_{table}")().data
    X = StandardScaler().fit_transform(X) if table == "wine" else X
    A, B = train_test_split(X, test_size=0.3, random_state=0)
    sd = SpectralDegeneracy(random_state=0).fit(A)
    grid = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-2, 1, 40)}, cv=5).fit(A)
    assert sd.score(B) == pytest.approx(grid.best_estimator_.score(B) / len(B), abs=0.2)


def test_well_mixture_equals_a_fresh_fit_on_its_final_wells():
    # the fit reassigns points to the well of highest density and refits; a well whose
    # points did not move keeps its mixture. The result must be a fresh fit on the final
    # wells, component by component. Three 5-d Gaussians, wells 0 and 1 3.5 apart with a
    # quarter of the labels near their barrier swapped, well 2 far off (its points never
    # move): 37, then 2, then 0 points move, so the third fit is the final one.
    from perturbvae._spectral._density import WellMixtureLogDensity

    rng = np.random.default_rng(0)
    shifts = np.array([[0, 0, 0, 0, 0], [3.5, 0, 0, 0, 0], [0, 12, 0, 0, 0]])
    Z = np.concatenate([rng.standard_normal((400, 5)) + s for s in shifts])
    labels = np.repeat([0, 1, 2], 400)
    labels[:800] = Z[:800, 0] > 1.75
    near = np.flatnonzero(np.abs(Z[:800, 0] - 1.75) < 0.8)
    labels[near[::4]] ^= 1
    mix = WellMixtureLogDensity(random_state=0).fit(Z, labels)
    final = np.argmax(mix.well_log_densities(Z), axis=1)
    assert not np.array_equal(final, labels)  # the relabelling did act
    fresh = WellMixtureLogDensity(random_state=0)._fit_once(Z, final)
    np.testing.assert_array_equal(np.argmax(fresh.well_log_densities(Z), axis=1), final)
    np.testing.assert_array_equal(mix.means, fresh.means)
    np.testing.assert_array_equal(mix.precisions, fresh.precisions)
    np.testing.assert_array_equal(mix._log_norm, fresh._log_norm)



def test_a_mixture_refitted_on_rows_is_their_own_gaussians():
    # refitted is one M-step: on all the rows of wells far apart (responsibilities one-hot to
    # round-off) it gives back the fit (maximum likelihood: the wells' means and covariances,
    # plus the same floor); on a subset, that subset's own means, covariances and shares. A
    # component with fewer than d + 2 of the rows keeps its mean and covariance. Measured
    # differences: 7e-15 in the means, 4e-16 relative in the precisions and covariances,
    # 2e-16 in the log weights (round-off); the tolerances leave three or more decades
    from perturbvae._spectral._density import WellMixtureLogDensity

    rng = np.random.default_rng(3)
    shifts = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 40.0]])
    Z = np.concatenate([rng.standard_normal((n, 2)) * [1.0, 0.3] + s
                        for n, s in zip((300, 200, 100), shifts)])
    labels = np.repeat([0, 1, 2], [300, 200, 100])
    mix = WellMixtureLogDensity(random_state=0).fit(Z, labels)
    assert len(mix.means) == 3  # one Gaussian a well
    resp = mix.responsibilities(Z)
    back = mix.refitted(Z, np.arange(len(Z)), resp)
    np.testing.assert_allclose(back.means, mix.means, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back.precisions, mix.precisions, rtol=1e-9)
    np.testing.assert_allclose(back.log_weights, mix.log_weights, rtol=0, atol=1e-12)
    rows = np.concatenate([np.arange(0, 300, 2), np.arange(300, 350), np.arange(500, 503)])
    half = mix.refitted(Z, rows, resp)
    floor = 1e-6 * Z.var(axis=0).mean()  # the fit's covariance floor
    for c, (lo, hi) in enumerate([(0, 300), (300, 500)]):
        part = Z[rows[(rows >= lo) & (rows < hi)]]
        np.testing.assert_allclose(half.means[c], part.mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(half.covariances[c],
                                   np.cov(part.T, bias=True) + floor * np.eye(2), rtol=1e-10)
    np.testing.assert_allclose(np.exp(half.log_weights), [150 / 203, 50 / 203, 3 / 203])
    # 3 rows < d + 2: the component as fitted
    np.testing.assert_allclose(half.means[2], mix.means[2], rtol=0, atol=0)
    np.testing.assert_allclose(half.covariances[2], mix.covariances[2], rtol=1e-12)

@pytest.mark.parametrize("n, d", [(50, 6), (60, 2), (120, 10)])
def test_a_landscape_from_few_samples_is_the_gaussian_of_their_moments(n, d):
    # below 3 basis functions a dimension (n <= 60 d) the landscape had degree 1, whose
    # score-matched log p is constant: V was 0 everywhere (50 rows of crabs in 6-d) and
    # simulate a free Brownian motion. A quadratic log p is fitted from the second moments
    # alone, so it is the data's own Gaussian: V = z' S^-2 z / 4 - tr(S^-1) / 2 for the
    # sample covariance S. Measured: 1.2-1.4e-6 of V's range (the ridge), at these sizes
    Z = np.random.RandomState(1).normal(size=(n, d)) @ np.diag(np.linspace(1, 3, d)) + 5.0
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 1
    P = np.linalg.inv(np.cov(Z.T, bias=True))
    Zc = Z - Z.mean(axis=0)
    exact = np.einsum("ni,ij,jk,nk->n", Zc, P, P, Zc) / 4 - np.trace(P) / 2
    V = sd.potential(Z)
    assert np.max(np.abs(V - exact)) <= 1e-5 * np.ptp(exact)


def test_a_landscape_from_few_samples_in_many_dimensions_is_linear_in_d():
    # the few-samples Gaussian was fitted from every quadratic term, (d + 1)(d + 2) / 2
    # functions with gradients of n x that x d floats: 300 rows in 80-d ran for over 400 s
    # (0.7 s with the old linear basis), 387 x 211 (crohn) would hold 15 GB. The squares of the
    # whitened axes alone, 2 d + 1 functions, give the same Gaussian
    n, d = 100, 30
    Z = np.random.RandomState(2).normal(size=(n, d)) @ np.diag(np.linspace(1, 3, d)) - 2.0
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 1
    assert sd._logp.basis.n_functions == 2 * d + 1
    P = np.linalg.inv(np.cov(Z.T, bias=True))
    Zc = Z - Z.mean(axis=0)
    exact = np.einsum("ni,ij,jk,nk->n", Zc, P, P, Zc) / 4 - np.trace(P) / 2
    assert np.max(np.abs(sd.potential(Z) - exact)) <= 1e-5 * np.ptp(exact)
