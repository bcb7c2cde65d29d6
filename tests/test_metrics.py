"""Tests for perturbvae.metrics: exact values, invariances, seed stability, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.decomposition import PCA, FastICA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from perturbvae.metrics import axis_agreement, seed_stability, subspace_agreement


def _orthogonal_columns(n, d, seed=0):
    """Centred, mutually orthogonal columns of equal norm: sample correlations are exact."""
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(n, d))
    A -= A.mean(axis=0)
    Q, _ = np.linalg.qr(A)
    return Q * np.sqrt(n)


def _orthogonal_columns_of(Z):
    """Centred, mutually orthogonal columns spanning the same space as Z."""
    Q, _ = np.linalg.qr(Z - Z.mean(axis=0))
    return Q


def _rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


# Exact values on constructed cases. With exactly orthogonal, equal-norm columns the
# sample correlations equal their population values, so only rounding remains:
# a few ulps per operation on O(1) numbers, well below 1e-12.
EXACT = 1e-12


def test_identical_embeddings_agree_fully():
    Z = np.random.RandomState(0).normal(size=(200, 4))
    assert axis_agreement(Z, Z) == pytest.approx(1.0, abs=EXACT)
    assert subspace_agreement(Z, Z) == pytest.approx(1.0, abs=EXACT)


def test_permuted_axes():
    Z = _orthogonal_columns(300, 3)
    Zp = Z[:, [1, 2, 0]]
    # Uncorrelated axes compared with other axes: r = 0 exactly.
    assert axis_agreement(Z, Zp) == pytest.approx(0.0, abs=EXACT)
    assert subspace_agreement(Z, Zp) == pytest.approx(1.0, abs=EXACT)


def test_sign_flips_and_affine_maps_are_ignored():
    Z = np.random.RandomState(1).normal(size=(200, 3))
    Zb = Z * np.array([-1.0, 2.0, -0.5]) + np.array([3.0, -1.0, 10.0])
    assert axis_agreement(Z, Zb) == pytest.approx(1.0, abs=EXACT)
    assert subspace_agreement(Z, Zb) == pytest.approx(1.0, abs=EXACT)


@pytest.mark.parametrize("angle", [np.pi / 4, np.pi / 6, 2.0])
def test_rotation_of_two_independent_axes(angle):
    # Each rotated axis is cos(t) * own axis +- sin(t) * the other, uncorrelated one,
    # with equal variances: |r| = |cos(t)| for both axes; 45 degrees gives 1/sqrt(2).
    Z = _orthogonal_columns(500, 2)
    Zr = Z @ _rotation(angle)
    assert axis_agreement(Z, Zr) == pytest.approx(abs(np.cos(angle)), abs=EXACT)
    assert subspace_agreement(Z, Zr) == pytest.approx(1.0, abs=EXACT)


def test_rotation_of_random_gaussian_axes_is_close_to_cos():
    # Sample correlations of independent Gaussians deviate from 0 by O(1/sqrt(n)),
    # which moves |r| away from cos(45 deg) by about that much: 3/sqrt(n) bounds it.
    n = 4000
    Z = np.random.RandomState(2).normal(size=(n, 2))
    assert axis_agreement(Z, Z @ _rotation(np.pi / 4)) == pytest.approx(
        1 / np.sqrt(2), abs=3 / np.sqrt(n)
    )


@pytest.mark.parametrize("d", [1, 3, 6])
def test_independent_noise_is_near_zero(d):
    # |r| of independent samples is about |N(0, 1/n)|: below 3/sqrt(n) at 3 sigma.
    # Each canonical correlation is about sqrt(d/n) (the sum of rho^2 is d^2/n on
    # average), so the mean canonical correlation is below 3 sqrt(d/n).
    n = 2000
    rng = np.random.RandomState(d)
    Za, Zb = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    assert axis_agreement(Za, Zb) < 3 / np.sqrt(n)
    assert subspace_agreement(Za, Zb) < 3 * np.sqrt(d / n)


def test_constant_axis_counts_as_zero_not_nan():
    rng = np.random.RandomState(3)
    Z = rng.normal(size=(100, 2))
    Zc = Z.copy()
    Zc[:, 1] = 0.1  # 0.1 is not exact in binary: the mean must not leave rounding noise
    assert axis_agreement(Z, Zc) == pytest.approx(0.5, abs=EXACT)
    assert subspace_agreement(Z, Zc) == pytest.approx(0.5, abs=EXACT)
    assert axis_agreement(Zc, Zc) == pytest.approx(0.5, abs=EXACT)
    both_constant = np.full((10, 2), 7.3)
    assert axis_agreement(both_constant, both_constant) == 0.0
    assert subspace_agreement(both_constant, both_constant) == 0.0


def test_axis_constant_up_to_rounding_counts_as_constant():
    # a column equal to 0.3 but for a few ulps of rounding is constant: scaled to unit norm,
    # its rounding pattern correlated like a signal (0.69 where a constant column reads 0.5)
    rng = np.random.RandomState(4)
    Z = rng.normal(size=(200, 2))
    Zr = Z.copy()
    Zr[:, 1] = 0.3 + rng.choice([-2, -1, 0, 1, 2], 200) * np.spacing(0.3)
    assert np.ptp(Zr[:, 1]) > 0
    Zc = Z.copy()
    Zc[:, 1] = 0.3
    for metric in (axis_agreement, subspace_agreement):
        assert metric(Zr, Zr) == pytest.approx(metric(Zc, Zc), abs=EXACT)
        assert metric(Z, Zr) == pytest.approx(0.5, abs=EXACT)
    # a column of tiny units is not constant: its spread is all of its magnitude
    assert axis_agreement(Z * [1.0, 1e-300], Z) == pytest.approx(1.0, abs=EXACT)


def test_rank_deficient_embedding():
    # Second axis a multiple of the first: one canonical correlation only, counted
    # over the 2 axes, and a duplicated axis is no better than a constant one.
    Z = _orthogonal_columns(300, 2)
    Zd = np.c_[Z[:, 0], 2 * Z[:, 0]]
    assert subspace_agreement(Z, Zd) == pytest.approx(0.5, abs=1e-10)
    assert subspace_agreement(Zd, Zd) == pytest.approx(0.5, abs=1e-10)


def test_subspace_agreement_invariant_to_invertible_linear_maps():
    rng = np.random.RandomState(4)
    n, d = 400, 4
    Za = rng.normal(size=(n, d))
    # Partially related second embedding, so the value is not trivially 0 or 1.
    Zb = Za[:, :2] @ rng.normal(size=(2, d)) + rng.normal(size=(n, d))
    ref = subspace_agreement(Za, Zb)
    assert 0.3 < ref < 0.9
    for seed in range(5):
        r = np.random.RandomState(seed)
        Q, _ = np.linalg.qr(r.normal(size=(d, d)))
        S = np.diag(10.0 ** r.uniform(-2, 2, size=d))
        Ma = Q @ S  # rotation and scaling
        Mb = r.normal(size=(d, d))  # generic invertible map
        shift = r.normal(size=d) * 100
        assert subspace_agreement(Za @ Ma + shift, Zb) == pytest.approx(ref, abs=1e-10)
        assert subspace_agreement(Za, Zb @ Mb) == pytest.approx(ref, abs=1e-10)
        assert subspace_agreement(Za @ Ma, Zb @ Mb) == pytest.approx(ref, abs=1e-10)


def test_subspace_not_always_above_axis_with_correlated_axes():
    # Documented counterexample: strongly correlated axes within each embedding.
    rng = np.random.RandomState(5)
    x, y, w = rng.normal(size=(3, 2000))
    Za, Zb = np.c_[x, x + 0.01 * y], np.c_[x, x + 0.01 * w]
    assert axis_agreement(Za, Zb) > 0.99
    assert subspace_agreement(Za, Zb) == pytest.approx(0.5, abs=0.05)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 4), n=st.integers(20, 200))
def test_subspace_at_least_axis_when_axes_are_uncorrelated(seed, d, n):
    # Von Neumann's trace inequality: holds for uncorrelated axes within each side.
    rng = np.random.RandomState(seed)
    Za = _orthogonal_columns(n, d, seed)
    Zb = _orthogonal_columns(n, d, seed + 1) + rng.normal() * Za @ rng.normal(size=(d, d))
    Zb = _orthogonal_columns_of(Zb)
    assert subspace_agreement(Za, Zb) >= axis_agreement(Za, Zb) - 1e-10



finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    data=st.integers(2, 30).flatmap(
        lambda n: st.integers(1, 4).flatmap(
            lambda d: st.tuples(
                arrays(np.float64, (n, d), elements=finite),
                arrays(np.float64, (n, d), elements=finite),
            )
        )
    )
)
def test_metrics_in_unit_interval_and_symmetric(data):
    Za, Zb = data
    for metric in (axis_agreement, subspace_agreement):
        ab, ba = metric(Za, Zb), metric(Zb, Za)
        assert 0.0 <= ab <= 1.0
        assert np.isfinite(ab)
        assert ab == pytest.approx(ba, abs=1e-9)


@pytest.mark.parametrize("metric", [axis_agreement, subspace_agreement])
@pytest.mark.parametrize(
    "Za, Zb, match",
    [
        (np.ones((5, 2)), np.ones((5, 3)), "same shape"),
        (np.ones((5, 2)), np.ones((6, 2)), "same shape"),
        (np.ones(5), np.ones(5), "2D array"),
        (np.ones((1, 2)), np.ones((1, 2)), "minimum of 2"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), np.ones((2, 2)), "Za contains NaN"),
        (np.ones((2, 2)), np.array([[0.0, np.inf], [1.0, 2.0]]), "Zb contains infinity"),
    ],
)
def test_bad_inputs_raise(metric, Za, Zb, match):
    with pytest.raises(ValueError, match=match):
        metric(Za, Zb)


# seed_stability ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def anisotropic_X():
    rng = np.random.RandomState(0)
    return rng.normal(size=(300, 6)) * np.array([6.0, 4.0, 2.5, 1.0, 0.5, 0.2])


def test_seed_stability_pca_non_degenerate(anisotropic_X):
    # Distinct variances and svd_flip's sign rule: every run finds the same axes.
    pca = PCA(n_components=3, svd_solver="randomized")
    res = seed_stability(pca, anisotropic_X, n_seeds=4, subsample=0.8, random_state=0)
    assert set(res) >= {"axis", "subspace", "axis_mean", "subspace_mean",
                        "degeneracy", "embeddings", "seeds"}
    assert res.axis.shape == res.subspace.shape == (4, 4)
    np.testing.assert_allclose(np.diag(res.axis), 1.0)
    np.testing.assert_allclose(res.axis, res.axis.T)
    np.testing.assert_allclose(res.subspace, res.subspace.T)
    assert res.axis_mean > 0.98
    assert res.subspace_mean > 0.98
    assert abs(res.degeneracy) < 0.02
    assert len(res.embeddings) == 4
    assert all(Z.shape == (300, 3) for Z in res.embeddings)
    assert len(set(res.seeds.tolist())) == 4
    assert res.degeneracy == pytest.approx(res.subspace_mean - res.axis_mean)


def test_seed_stability_detects_degenerate_pca():
    # Two exactly equal leading variances: any rotation in their plane is a PCA
    # solution, so each subsample breaks the tie its own way: the same plane (subspace
    # agreement 1) with randomly rotated axes (|cos| of a random angle: 2/pi on average).
    X = _orthogonal_columns(400, 4) * np.array([3.0, 3.0, 0.3, 0.1])
    res = seed_stability(PCA(n_components=2), X, n_seeds=5, subsample=0.7,
                         random_state=0)
    assert res.subspace_mean > 0.999
    assert res.axis_mean < 0.8
    assert res.degeneracy > 0.2
    # the means are over pairs of different seeds: each seed with itself agrees exactly and
    # would pull them up (the bound above still held with those ones in: 0.76)
    pairs = ~np.eye(5, dtype=bool)
    assert res.axis_mean == pytest.approx(res.axis[pairs].mean(), rel=1e-12)
    assert res.subspace_mean == pytest.approx(res.subspace[pairs].mean(), rel=1e-12)


def test_seed_stability_fastica(anisotropic_X):
    rng = np.random.RandomState(2)
    n = 400
    S = np.c_[rng.uniform(-1, 1, n), rng.laplace(size=n), rng.exponential(size=n)]
    X = S @ rng.normal(size=(3, 8)) + 0.01 * rng.normal(size=(n, 8))
    ica = FastICA(n_components=3, max_iter=500, tol=1e-3, whiten="unit-variance")
    res = seed_stability(ica, X, n_seeds=3, random_state=0)
    for M in (res.axis, res.subspace):
        assert np.all((M >= 0) & (M <= 1 + 1e-12))
    assert 0 <= res.axis_mean <= 1 and 0 <= res.subspace_mean <= 1
    # The same 3 sources are found every time, up to permutation and sign.
    assert res.subspace_mean > 0.99


def test_seed_stability_seeds_the_steps_of_a_pipeline():
    # the README's recipe is standardise, then embed: a Pipeline has no random_state of its
    # own, and was refused ('Pipeline has no random_state parameter'); each fit must give its
    # seed to the step that draws, as fitting that step on the scaled rows does
    rng = np.random.RandomState(2)
    S = np.c_[rng.uniform(-1, 1, 300), rng.laplace(size=300), rng.exponential(size=300)]
    X = S @ rng.normal(size=(3, 6)) * [1, 10, 100, 1, 1, 1]
    ica = FastICA(n_components=3, max_iter=500, tol=1e-3, whiten="unit-variance")
    kw = dict(n_seeds=3, random_state=0)  # no subsample: the scaler sees all rows in both
    piped = seed_stability(make_pipeline(StandardScaler(), ica), X, **kw)
    alone = seed_stability(ica, StandardScaler().fit_transform(X), **kw)
    np.testing.assert_array_equal(piped.seeds, alone.seeds)
    for a, b in zip(piped.embeddings, alone.embeddings):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="nor does any estimator in it"):
        seed_stability(make_pipeline(StandardScaler(), _NoSeed()), X)


class _ConstantSecondAxis(PCA):
    """PCA whose second axis is constant: an embedding that does not agree with itself."""

    def transform(self, X):
        Z = super().transform(X)
        Z[:, 1] = 1.0
        return Z


def test_seed_stability_diagonal_is_each_fit_against_itself(anisotropic_X):
    # the diagonal is axis_agreement(E_i, E_i), not a 1 put there: a constant axis halves it
    res = seed_stability(_ConstantSecondAxis(n_components=2, svd_solver="randomized"),
                         anisotropic_X, n_seeds=3, random_state=0)
    for i, E in enumerate(res.embeddings):
        assert res.axis[i, i] == pytest.approx(axis_agreement(E, E), abs=EXACT)
        assert res.subspace[i, i] == pytest.approx(subspace_agreement(E, E), abs=EXACT)
    np.testing.assert_allclose(np.diag(res.axis), 0.5, atol=EXACT)


def test_seed_stability_embeddings_of_different_dimensions_are_named():
    # PCA with a fraction of variance keeps 3 components on some subsamples of wine and 4
    # on others: the fits are named with their numbers, not as Za and Zb
    from sklearn.datasets import load_wine

    X = StandardScaler().fit_transform(load_wine().data)
    with pytest.raises(ValueError, match=r"different numbers of dimensions \(seed \d+: [34]"):
        seed_stability(PCA(n_components=0.6653, svd_solver="full"), X, n_seeds=6,
                       subsample=0.5, random_state=0)


def test_seed_stability_reproducible_and_parallel_equals_serial(anisotropic_X):
    pca = PCA(n_components=2, svd_solver="randomized", iterated_power=1)
    kw = dict(n_seeds=3, subsample=0.5, random_state=42)
    serial = seed_stability(pca, anisotropic_X, n_jobs=1, **kw)
    parallel = seed_stability(pca, anisotropic_X, n_jobs=2, **kw)
    np.testing.assert_array_equal(serial.seeds, parallel.seeds)
    np.testing.assert_allclose(serial.axis, parallel.axis, rtol=0, atol=1e-12)
    np.testing.assert_allclose(serial.subspace, parallel.subspace, rtol=0, atol=1e-12)
    for a, b in zip(serial.embeddings, parallel.embeddings):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_seed_stability_restores_thread_settings(anisotropic_X):
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    before_torch = torch.get_num_threads()
    before = [p["num_threads"] for p in threadpool_info()]
    seed_stability(PCA(n_components=2), anisotropic_X, n_seeds=2, random_state=0)
    assert torch.get_num_threads() == before_torch
    assert [p["num_threads"] for p in threadpool_info()] == before


def test_seed_stability_integer_subsample_and_dataframe(anisotropic_X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(anisotropic_X, columns=[f"f{i}" for i in range(6)])
    res = seed_stability(PCA(n_components=2, svd_solver="randomized"), df, n_seeds=2,
                         subsample=200, random_state=0)
    assert res.embeddings[0].shape == (300, 2)


class _NoSeed:
    def get_params(self, deep=True):
        return {}

    def fit(self, X):
        return self

    def transform(self, X):
        return X


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_seeds=1), "n_seeds must be >= 2"),
        (dict(n_seeds=2.5), "n_seeds must be an integer"),
        (dict(subsample=0.0), r"fraction must be in \(0, 1\]"),
        (dict(subsample=1.5), r"fraction must be in \(0, 1\]"),
        (dict(subsample=1000), "number of samples"),
        (dict(subsample="half"), "subsample must be"),
    ],
)
def test_seed_stability_bad_parameters(anisotropic_X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        seed_stability(PCA(n_components=2), anisotropic_X, **kwargs)


def test_seed_stability_needs_random_state_and_transform(anisotropic_X):
    with pytest.raises(ValueError, match="no random_state parameter"):
        seed_stability(_NoSeed(), anisotropic_X)
    with pytest.raises(ValueError, match="transformer"):
        seed_stability(object(), anisotropic_X)
