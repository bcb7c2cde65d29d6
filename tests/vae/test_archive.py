"""Safe archives (perturbvae._archive) and PerturbedVAE's save/load (issue 11, item 8)."""

import json
import os
import stat

import numpy as np
import pytest
import torch

from perturbvae import KLWarmup, PerturbedVAE, PerturbvaeWarning
from perturbvae._archive import FORMAT, FORMAT_VERSION, read_archive, write_archive
from perturbvae.potentials import Potential, Wells

KW = dict(n_components=2, hidden_layer_sizes=(3,), max_epochs=1, batch_size=32,
          random_state=0)


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).randn(60, 3)


@pytest.fixture(scope="module")
def vae(X):
    return PerturbedVAE(**KW).fit(X)


@pytest.fixture
def umask():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


# ------------------------------------------------------------ generic part --
def test_archive_round_trip(tmp_path):
    arrays = {"a": np.arange(6.0).reshape(2, 3), "i": np.arange(4), "b": np.array([True])}
    write_archive(tmp_path / "x.pt", arrays, {"k": [1, "two"]})
    got, meta = read_archive(tmp_path / "x.pt")
    assert meta == {"k": [1, "two"]}
    assert set(got) == set(arrays)
    for k in arrays:
        np.testing.assert_array_equal(got[k], arrays[k])
        assert got[k].dtype == arrays[k].dtype


def test_archive_refuses_nonfinite_unless_allowed(tmp_path):
    arrays = {"w": np.array([1.0, np.nan]), "ok": np.array([np.inf])}
    with pytest.raises(ValueError, match=r"x\.pt.*'w'.*NaN"):
        write_archive(tmp_path / "x.pt", arrays, {}, allow_nonfinite=["ok"])
    write_archive(tmp_path / "x.pt", arrays, {}, allow_nonfinite=["w", "ok"])
    with pytest.raises(ValueError, match=r"x\.pt.*'w'.*NaN"):
        read_archive(tmp_path / "x.pt", allow_nonfinite=["ok"])
    got, _ = read_archive(tmp_path / "x.pt", allow_nonfinite=["w", "ok"])
    assert np.isnan(got["w"][1])


def test_archive_refuses_non_json_meta(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        write_archive(tmp_path / "x.pt", {}, {"x": float("nan")})
    assert not (tmp_path / "x.pt").exists()


def test_new_file_mode_follows_umask(tmp_path, umask):
    write_archive(tmp_path / "x.pt", {}, {})
    # mkstemp alone gives 0600 whatever the umask
    assert stat.S_IMODE(os.stat(tmp_path / "x.pt").st_mode) == 0o666 & ~umask


def test_overwrite_keeps_the_mode(tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    write_archive(path, {}, {})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_read_only_file_is_not_replaced(tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(b"keep me")
    os.chmod(path, 0o444)
    with pytest.raises(PermissionError, match=r"x\.pt.*read-only"):
        write_archive(path, {}, {})
    assert path.read_bytes() == b"keep me"


def test_save_errors_name_the_users_path(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"nowhere.*x\.pt"):
        write_archive(tmp_path / "nowhere" / "x.pt", {}, {})

    def full_disk(obj, f, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=r"Cannot save to .*x\.pt.*No space") as err:
        write_archive(tmp_path / "x.pt", {}, {})
    assert ".tmp" not in str(err.value)
    assert os.listdir(tmp_path) == []  # no temporary file left behind


def test_single_bit_flips_give_value_error_or_the_same_content(tmp_path):
    """Every flip of one bit: a ValueError naming the file, or the same arrays and meta.

    400 flips over a whole small archive run in about 2 s here; before the fix some
    gave NotImplementedError, RuntimeError or BadZipFile.
    """
    arrays = {"w": np.linspace(-1, 1, 40).reshape(8, 5), "n": np.arange(3)}
    good = tmp_path / "good.pt"
    write_archive(good, arrays, {"name": "x", "v": [1, 2.5]})
    data = good.read_bytes()
    bad = tmp_path / "flipped.pt"
    rng = np.random.RandomState(0)
    positions = rng.randint(0, len(data) * 8, size=400)
    escaped, refused = {}, 0
    for pos in positions:
        b = bytearray(data)
        b[pos // 8] ^= 1 << (pos % 8)
        bad.write_bytes(bytes(b))
        try:
            got, meta = read_archive(bad)
        except ValueError as exc:
            assert "flipped.pt" in str(exc)
            refused += 1
            continue
        except Exception as exc:  # noqa: BLE001 - collecting what escapes
            escaped.setdefault(type(exc).__name__, int(pos))
            continue
        assert meta == {"name": "x", "v": [1, 2.5]}
        for k in arrays:
            np.testing.assert_array_equal(got[k], arrays[k])
    assert not escaped, escaped
    assert refused > 200  # most bits matter (CRCs, headers, data)


def test_newer_version_and_foreign_files(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION + 1, "meta": "{}",
                "arrays": {}}, path)
    with pytest.raises(ValueError, match=r"future\.pt.*[Uu]pgrade"):
        read_archive(path)
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, "meta": "{\"a\": NaN}",
                "arrays": {}}, path)
    with pytest.raises(ValueError, match=r"future\.pt.*corrupted"):
        read_archive(path)
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, "meta": "{}",
                "arrays": {"x": "not a tensor"}}, path)
    with pytest.raises(ValueError, match=r"future\.pt.*corrupted"):
        read_archive(path)


# ---------------------------------------------------------- PerturbedVAE --
def _rewrite(src, dst, edit):
    """Load an archive, let ``edit(arrays, meta)`` change it, write it back."""
    arrays, meta = read_archive(src, allow_nonfinite=list(read_archive(src)[0]))
    edit(arrays, meta)
    write_archive(dst, arrays, meta, allow_nonfinite=list(arrays))


@pytest.fixture
def saved(vae, tmp_path):
    path = tmp_path / "model.pt"
    vae.save(path)
    return path


@pytest.mark.parametrize("edit, match", [
    (lambda a, m: m["params"].update(color="blue"), "unknown parameter"),
    (lambda a, m: m["params"].update(n_components="two"), "n_components"),
    (lambda a, m: m["params"].update(hidden_layer_sizes=[-3]), "hidden_layer_sizes"),
    (lambda a, m: m["params"].update(hidden_layer_sizes="abc"), "hidden_layer_sizes"),
    (lambda a, m: m["params"].update(beta=-1.0), "beta"),
    (lambda a, m: m["state"].update(n_features_in_="3"), "n_features_in_"),
    (lambda a, m: m["state"].pop("seed_values"), "seed_values"),
    (lambda a, m: m.update(params=[1, 2]), "parameters"),
    (lambda a, m: m["params"].update(perturbation={"__potential__": {"name": "nope"}}),
     "invalid"),
    (lambda a, m: a.update({"module.enc_weight": np.zeros((7, 7), np.float32)}), "invalid"),
    (lambda a, m: a["module.enc_weight"].__setitem__((0, 0), np.nan), "NaN"),
    (lambda a, m: a["x_scale"].__setitem__(0, np.inf), "NaN or infinite"),
    # torch's first line ("Error(s) in loading state_dict") named no cause
    (lambda a, m: m["params"].update(n_components=m["params"]["n_components"] + 1),
     r"weights do not fit a network of .*n_components=3.*size mismatch"),
    # it said the standardisation did not match n_features_in_, whose shape it does
    (lambda a, m: a["x_scale"].__setitem__(0, -a["x_scale"][0]), "not positive"),
], ids=["unknown", "n_components", "negative-width", "text-widths", "beta", "n_features",
        "no-seeds", "params-list", "potential", "shape", "nan-weight", "inf-scale",
        "more-components", "negative-scale"])
def test_hand_edited_models_give_value_error_naming_the_file(saved, tmp_path, edit, match):
    bad = tmp_path / "edited.pt"
    _rewrite(saved, bad, edit)
    with pytest.raises(ValueError, match=match) as err:
        PerturbedVAE.load(bad)
    assert "edited.pt" in str(err.value)


def test_model_file_single_bit_flips(vae, saved, X, tmp_path):
    """300 random single-bit flips over a whole saved model: ValueError or the same model."""
    data = saved.read_bytes()
    bad = tmp_path / "flipped.pt"
    Z = vae.transform(X)
    escaped = {}
    for pos in np.random.RandomState(1).randint(0, len(data) * 8, size=300):
        b = bytearray(data)
        b[pos // 8] ^= 1 << (pos % 8)
        bad.write_bytes(bytes(b))
        try:
            loaded = PerturbedVAE.load(bad)
        except ValueError as exc:
            assert "flipped.pt" in str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - collecting what escapes
            escaped.setdefault(type(exc).__name__, int(pos))
            continue
        np.testing.assert_array_equal(loaded.transform(X), Z)
    assert not escaped, escaped


def test_save_warns_about_what_it_does_not_store(X, tmp_path):
    est = PerturbedVAE(callbacks=[KLWarmup(1)],
                       **dict(KW, random_state=np.random.RandomState(0))).fit(X)
    with pytest.warns(UserWarning, match=r"callbacks.*random_state") as rec:
        est.save(tmp_path / "m.pt")
    assert len(rec) == 1
    loaded = PerturbedVAE.load(tmp_path / "m.pt")
    assert loaded.callbacks is None and loaded.random_state is None
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_save_says_it_does_not_store_set_output(vae, tmp_path):
    # a model set to pandas output loaded back returning arrays, and save said nothing
    pytest.importorskip("pandas")
    vae.set_output(transform="pandas")
    try:
        with pytest.warns(UserWarning, match=r"set_output\(transform='pandas'\)") as said:
            vae.save(tmp_path / "m.pt")
        assert said[0].filename == __file__  # the user's call of save, not the package's
        assert said[0].category is PerturbvaeWarning  # filtered as the others are
    finally:
        vae.set_output(transform="default")


def test_save_refuses_a_read_only_file(vae, tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"precious")
    os.chmod(path, 0o400)
    with pytest.raises(PermissionError, match=r"m\.pt.*read-only"):
        vae.save(path)
    assert path.read_bytes() == b"precious"


def test_saved_model_mode_follows_umask(vae, tmp_path, umask):
    vae.save(tmp_path / "m.pt")
    assert stat.S_IMODE(os.stat(tmp_path / "m.pt").st_mode) == 0o666 & ~umask


def test_round_trip_keeps_the_float64_standardisation(tmp_path):
    # offsets near 1e9 only survive because the mean is stored in float64
    Y = np.random.RandomState(0).randn(60, 3) + 1.7e9
    est = PerturbedVAE(**KW).fit(Y)
    est.save(tmp_path / "m.pt")
    loaded = PerturbedVAE.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(loaded.transform(Y), est.transform(Y))
    np.testing.assert_array_equal(loaded.inverse_transform(est.transform(Y)),
                                  est.inverse_transform(est.transform(Y)))


def test_version_1_model_files_still_load(vae, X, tmp_path):
    """A file in the format of perturbvae 0.1.0 (before the outer standardisation)."""
    est = PerturbedVAE(**dict(KW, hidden_layer_sizes=(3,)))
    est.fit(X)
    # A v1 model standardises inside the network: move the outer map into it.
    module = est.net_.module_
    state = {k: v.clone() for k, v in module.state_dict().items()}
    state["x_loc"] = torch.as_tensor(est._x_mean, dtype=torch.float32)
    state["x_scale"] = torch.as_tensor(est._x_scale, dtype=torch.float32)
    scale = torch.as_tensor(est._x_scale, dtype=torch.float32)
    state["dec_bias"] = state["dec_bias"] * scale + state["x_loc"]
    state["var_floor"] = state["var_floor"] * scale ** 2
    arrays, meta = read_archive(_save(est, tmp_path / "v2.pt"))
    path = tmp_path / "v1.pt"
    torch.save({"format": FORMAT, "format_version": 1, "params": json.dumps(meta["params"]),
                "state": json.dumps(meta["state"]), "module": state}, path)
    loaded = PerturbedVAE.load(path)
    np.testing.assert_allclose(loaded.transform(X), est.transform(X), atol=1e-5)


def _save(est, path):
    est.save(path)
    return path


# ---------------------------------------------------- custom potentials --
class _Quartic(Potential):
    def __init__(self, scale=1.0):
        self.scale = scale

    def energy(self, z):
        return self.scale * (z ** 4).sum(dim=1) / 4

    def get_config(self):
        return {"name": "quartic", "scale": self.scale}


class _MyWells(Wells):
    """Inherits Wells.get_config: its file would load as a plain Wells."""


@pytest.mark.parametrize("pot", [_Quartic(2.0), _MyWells(n_wells=2), lambda z: z.sum(1)],
                         ids=["own config", "inherited config", "callable"])
def test_save_refuses_a_potential_load_cannot_rebuild(X, tmp_path, pot):
    est = PerturbedVAE(perturbation=pot, **KW).fit(X)
    path = tmp_path / "m.zip"
    with pytest.raises(TypeError, match="pickle"):
        est.save(path)
    assert not os.listdir(tmp_path)  # nothing written, not even a temporary file


@pytest.mark.parametrize("device", ["bogus", "cuda:99"])
def test_load_names_a_bad_device_argument_not_the_file(vae, tmp_path, device):
    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    path = tmp_path / "m.zip"
    vae.save(path)
    # it said "Cannot load ...: the stored model is invalid"
    with pytest.raises(ValueError, match=rf"^device='{device}'"):
        PerturbedVAE.load(path, device=device)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_fit_continued_after_load_is_the_same_continuation(X, tmp_path, how):
    # Adam's moments and the generators restarted after load: one partial_fit on digits
    # moved the weights 0.0066-0.0069 away from the same continuation in memory
    est = PerturbedVAE(**KW).fit(X)
    path = tmp_path / "m.pt"
    est.save(path)
    loaded = PerturbedVAE.load(path)
    for model in (est, loaded):
        if how == "partial_fit":
            model.partial_fit(X)
        else:
            model.set_params(warm_start=True, max_epochs=2).fit(X)
    for key, value in est.net_.module_.state_dict().items():
        np.testing.assert_array_equal(loaded.net_.module_.state_dict()[key].numpy(),
                                      value.numpy())
    assert loaded.n_epochs_ == est.n_epochs_
