"""SpectralDegeneracy's save/load (issue 11): a loaded model is the saved one, bit for bit.

Each fit below takes 0.2-0.3 s here (one thread); saving and loading one takes ~10 ms.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

import perturbvae
from perturbvae import PerturbedVAE, SpectralDegeneracy
from perturbvae._archive import read_archive, write_archive

CONFIGS = {
    "hermite": dict(method="galerkin", basis="hermite"),
    "hermite+rbf": dict(method="galerkin", basis="hermite+rbf"),
    "graph": dict(method="graph"),
    # landmark subsample: the graph's NearestNeighbors holds only part of Z
    "graph-subsample": dict(method="graph", max_samples=300),
    # fewer wells than the density's: its wells lumped (the map and the lumping stored)
    "lumped": dict(n_wells=2),
}


def gaussian():
    return np.random.default_rng(0).standard_normal((800, 2)) * [1.0, 0.6]


def blobs():
    return make_blobs(900, n_features=2, centers=3, cluster_std=0.5, random_state=0)[0]


DATA = {"one-well": gaussian, "three-wells": blobs}


@pytest.fixture(scope="module", params=list(DATA))
def data(request):
    return request.param, DATA[request.param]()


@pytest.fixture(scope="module", params=list(CONFIGS))
def fitted(request, data, tmp_path_factory):
    """(data, fitted estimator, the estimator loaded from its archive)."""
    name, Z = data
    est = SpectralDegeneracy(n_levels=6, random_state=0, **CONFIGS[request.param])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the polynomial basis does not converge on blobs
        est.fit(Z)
    path = tmp_path_factory.mktemp("sd") / f"{name}-{request.param}.pt"
    est.save(path)
    return Z, est, SpectralDegeneracy.load(path)


def _points(Z):
    """Training rows and new points around and beyond the data."""
    new = np.random.default_rng(1).standard_normal((60, Z.shape[1])) * 3 + Z.mean(axis=0)
    return np.vstack([Z[:60], new])


def test_wells_as_expected(fitted, data):
    _, est, _ = fitted
    if est.n_wells != "auto":
        assert est.n_ground_states_ == est.n_wells
    else:
        assert est.n_ground_states_ == (1 if data[0] == "one-well" else 3)


def test_lumped_wells_are_checked_on_loading(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the blobs' barriers are unvisited
        est = SpectralDegeneracy(n_levels=6, n_wells=2, random_state=0).fit(blobs())
    est.save(tmp_path / "m.pt")
    arrays, _ = read_archive(tmp_path / "m.pt")
    assert arrays["wells.lumping"].shape == (3, 2)  # three wells lumped into two
    bad = tmp_path / "edited.pt"
    _edit(tmp_path / "m.pt", bad, lambda a, m: a.update({"wells.lumping": np.eye(2)}))
    with pytest.raises(ValueError, match="lumping") as err:
        SpectralDegeneracy.load(bad)
    assert "edited.pt" in str(err.value)


def test_outputs_are_bit_for_bit(fitted):
    Z, est, loaded = fitted
    X = _points(Z)
    np.testing.assert_array_equal(loaded.energies_, est.energies_)
    np.testing.assert_array_equal(loaded.rate_matrix_, est.rate_matrix_)
    np.testing.assert_array_equal(loaded.mean_first_passage_times_,
                                  est.mean_first_passage_times_)
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.potential(X), est.potential(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.score(X) == est.score(X)
    np.testing.assert_array_equal(loaded.simulate(X[:5], 20, 1e-3, random_state=0),
                                  est.simulate(X[:5], 20, 1e-3, random_state=0))


def test_a_walk_within_the_datas_span_is_restored(tmp_path):
    # a constant column: the walk's projector onto the span travels with the model
    Z = np.c_[blobs()[:300], np.full(300, 2.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the constant column is said
        est = SpectralDegeneracy(n_levels=5, random_state=0).fit(Z)
    est.save(tmp_path / "m.pt")
    loaded = SpectralDegeneracy.load(tmp_path / "m.pt")
    traj = loaded.simulate(Z[:3], 50, 1e-3, random_state=0)
    np.testing.assert_array_equal(traj, est.simulate(Z[:3], 50, 1e-3, random_state=0))
    assert np.all(traj[..., 2] == 2.0)


def _assert_same(a, b, where):
    """Recursive equality of fitted state: arrays exactly, objects by their attributes."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        assert type(a) is type(b), where
        if hasattr(a, "_fit_X"):  # a fitted NearestNeighbors: same points and settings
            _assert_same(a.get_params(), b.get_params(), where)
            _assert_same(a._fit_X, b._fit_X, where)
            return
        _assert_same(vars(a), vars(b), where)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    elif isinstance(a, (float, np.floating)):  # a float64 scalar may load as a float
        assert isinstance(b, (float, np.floating)) and a == b, (where, a, b)
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


def test_every_fitted_attribute_is_restored(fitted):
    _, est, loaded = fitted
    _assert_same(vars(est), vars(loaded), "est")


def test_archive_records_estimator_and_version(fitted, tmp_path):
    _, est, _ = fitted
    est.save(tmp_path / "m.pt")
    _, meta = read_archive(tmp_path / "m.pt")
    assert meta["estimator"] == "SpectralDegeneracy"
    assert meta["version"] == perturbvae.__version__


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small fitted model and its archive, for the error cases."""
    Z = blobs()[:300]
    est = SpectralDegeneracy(n_levels=5, method="graph", random_state=0).fit(Z)
    path = tmp_path_factory.mktemp("small") / "model.pt"
    est.save(path)
    return Z, est, path


def test_unfitted_estimator_is_not_saved(tmp_path):
    with pytest.raises(NotFittedError):
        SpectralDegeneracy().save(tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("cut", [0, 10, 0.5, -1])
def test_truncated_file_gives_value_error_naming_it(small, tmp_path, cut):
    data = small[2].read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[:cut if isinstance(cut, int) else int(cut * len(data))])
    with pytest.raises(ValueError, match=r"truncated\.pt"):
        SpectralDegeneracy.load(bad)


def test_single_bit_flips_give_value_error_or_the_same_model(small, tmp_path):
    """200 random single-bit flips over a saved model: a ValueError naming the file, or a
    model with the same outputs (a flip in zip padding changes nothing)."""
    Z, est, path = small
    data = path.read_bytes()
    bad = tmp_path / "flipped.pt"
    escaped, refused = {}, 0
    for pos in np.random.RandomState(0).randint(0, len(data) * 8, size=200):
        b = bytearray(data)
        b[pos // 8] ^= 1 << (pos % 8)
        bad.write_bytes(bytes(b))
        try:
            loaded = SpectralDegeneracy.load(bad)
        except ValueError as exc:
            assert "flipped.pt" in str(exc)
            refused += 1
            continue
        except Exception as exc:  # noqa: BLE001 - collecting what escapes
            escaped.setdefault(type(exc).__name__, int(pos))
            continue
        np.testing.assert_array_equal(loaded.transform(Z), est.transform(Z))
    assert not escaped, escaped
    assert refused > 100


def test_archive_of_another_estimator_is_refused(small, tmp_path):
    X = np.random.RandomState(0).randn(40, 3)
    vae_path = tmp_path / "vae.pt"
    PerturbedVAE(n_components=2, hidden_layer_sizes=(3,), max_epochs=1, batch_size=32,
                 random_state=0).fit(X).save(vae_path)
    with pytest.raises(ValueError, match=r"vae\.pt.*SpectralDegeneracy.*'PerturbedVAE'"):
        SpectralDegeneracy.load(vae_path)
    with pytest.raises(ValueError, match=r"model\.pt.*'SpectralDegeneracy'.*not a PerturbedVAE"):
        PerturbedVAE.load(small[2])


def _edit(src, dst, edit):
    arrays, meta = read_archive(src)
    edit(arrays, meta)
    write_archive(dst, arrays, meta)


@pytest.mark.parametrize("edit, match", [
    (lambda a, m: m["params"].update(colour="blue"), "parameters"),
    (lambda a, m: m["params"].update(n_levels=1), "n_levels"),
    (lambda a, m: m["state"].update(method_="magic"), "method_"),
    (lambda a, m: m["state"].update(ground_gap_="huge"), "huge"),
    (lambda a, m: m["state"].pop("graph.nn_neighbors"), "nn_neighbors"),
    (lambda a, m: a.pop("graph.points"), "points"),
    (lambda a, m: a.update(energies_=a["energies_"][:3]), "energies_"),
    (lambda a, m: a.update(well_map=np.eye(7)), "wells"),
], ids=["unknown-param", "bad-param", "method", "gap", "no-nn", "no-points", "levels",
        "wells"])
def test_hand_edited_archive_gives_value_error_naming_the_file(small, tmp_path, edit, match):
    bad = tmp_path / "edited.pt"
    _edit(small[2], bad, edit)
    with pytest.raises(ValueError, match=match) as err:
        SpectralDegeneracy.load(bad)
    assert "edited.pt" in str(err.value)


def test_feature_names_and_params_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    Z = pd.DataFrame(gaussian()[:300], columns=["a", "b"])
    est = SpectralDegeneracy(n_levels=4, bandwidth=0.5, random_state=3).fit(Z)
    est.save(tmp_path / "m.pt")
    loaded = SpectralDegeneracy.load(tmp_path / "m.pt")
    assert loaded.get_params() == est.get_params()
    assert list(loaded.feature_names_in_) == ["a", "b"]
    np.testing.assert_array_equal(loaded.transform(Z), est.transform(Z))


def test_random_state_instance_is_not_stored(tmp_path):
    est = SpectralDegeneracy(n_levels=4, random_state=np.random.RandomState(0))
    est.fit(gaussian()[:300])
    with pytest.warns(UserWarning, match="random_state"):
        est.save(tmp_path / "m.pt")
    loaded = SpectralDegeneracy.load(tmp_path / "m.pt")
    assert loaded.random_state is None
    np.testing.assert_array_equal(loaded.energies_, est.energies_)


def test_save_says_it_does_not_store_set_output(tmp_path):
    # a model set to pandas output loaded back returning arrays, and save said nothing
    # (PerturbedVAE.save says so); the loaded model's arrays are the saved one's frame's
    pd = pytest.importorskip("pandas")
    Z = gaussian()[:300]
    est = SpectralDegeneracy(n_levels=4, random_state=0).set_output(transform="pandas")
    est.fit(Z)
    with pytest.warns(UserWarning, match=r"set_output\(transform='pandas'\)") as said:
        est.save(tmp_path / "m.pt")
    assert said[0].filename == __file__  # the user's call of save, not the package's
    loaded = SpectralDegeneracy.load(tmp_path / "m.pt")
    assert isinstance(est.transform(Z), pd.DataFrame)
    np.testing.assert_array_equal(loaded.transform(Z), est.transform(Z).to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # default output: nothing to say
        loaded.save(tmp_path / "m2.pt")
