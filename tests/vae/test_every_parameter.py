"""Every parameter of PerturbedVAE, at once: saved and loaded, and in the checkpoint
fingerprint. A new parameter fails these tests until it is listed here."""

import os

import numpy as np
import pytest

from perturbvae import KLWarmup, PerturbedVAE
from perturbvae._vae._checkpoint import fingerprint
from perturbvae.potentials import Ladder, Potential

# A value away from the default for every parameter that save stores. compile is set on
# the fitted model (compiling the training step costs tens of seconds on a CPU).
NON_DEFAULT = dict(
    n_components=3, hidden_layer_sizes=(5, 4), beta=0.7, init="random",
    perturbation=Ladder(stiffnesses=[0.2, 0.5, 1.0]), perturbation_strength=1.5,
    likelihood="bernoulli", max_epochs=2, batch_size=16, lr=2e-3, early_stopping=True,
    validation_fraction=0.25, n_iter_no_change=3, device="cpu", random_state=3, verbose=1,
    warm_start=True, max_grad_norm=5.0, data_placement="stream",
)
SET_AFTER_FIT = dict(compile=True)
# Code or live objects, and where a fit writes: documented as not saved (save warns),
# loaded as None (a file never decides where a later fit writes its checkpoints).
NOT_SAVED = {"callbacks", "accelerator", "checkpoint_dir"}

# Parameters that do not change the model made from given data and seeds (random_state
# enters through the seeds it draws): out of the fingerprint. max_epochs is in it: a run of
# another length is another model (a shorter fit never gets a longer run's checkpoint).
RESULT_NEUTRAL = {"verbose", "checkpoint_dir", "device", "accelerator", "warm_start",
                  "random_state"}


class _Accelerator:
    """Stands in for an accelerate.Accelerator in the parameters (never used to fit)."""

    def prepare(self, *args):
        return args

    def unwrap_model(self, model, **kwargs):
        return model


def _changed_values(tmp_path):
    """A non-default value for every constructor parameter."""
    return {**NON_DEFAULT, **SET_AFTER_FIT, "callbacks": [("warmup", KLWarmup(2))],
            "accelerator": _Accelerator(), "checkpoint_dir": os.fspath(tmp_path / "cp")}


def test_the_lists_cover_every_parameter(tmp_path):
    params = PerturbedVAE().get_params()
    assert set(_changed_values(tmp_path)) == set(params)
    for name, value in _changed_values(tmp_path).items():
        assert repr(value) != repr(params[name]), name


def _comparable(params):
    """Parameters with potentials compared by class and configuration."""
    return {k: (type(v).__name__, v.get_config()) if isinstance(v, Potential) else v
            for k, v in params.items()}


@pytest.fixture(scope="module")
def unit_data():
    # values in [0, 1]: the Bernoulli likelihood reads them as probabilities
    rng = np.random.RandomState(0)
    return 1.0 / (1.0 + np.exp(-rng.normal(size=(120, 6)) @ rng.normal(size=(6, 6))))


def test_save_round_trip_with_every_parameter_changed(unit_data, tmp_path, capsys):
    X = unit_data
    est = PerturbedVAE(**NON_DEFAULT, checkpoint_dir=os.fspath(tmp_path / "cp")).fit(X)
    est.set_params(**SET_AFTER_FIT)
    est.save(tmp_path / "m.pt")
    loaded = PerturbedVAE.load(tmp_path / "m.pt")
    want = _comparable(est.get_params())
    assert want["checkpoint_dir"] is not None  # set here: its absence after load is tested
    want["checkpoint_dir"] = None
    assert not NOT_SAVED & {k for k, v in want.items() if v is not None}  # unset here too
    assert _comparable(loaded.get_params()) == want
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(loaded.inverse_transform(est.transform(X)),
                                  est.inverse_transform(est.transform(X)))
    np.testing.assert_array_equal(loaded.sample(5, random_state=0)[0],
                                  est.sample(5, random_state=0)[0])
    np.testing.assert_array_equal(loaded.prior_energies_, est.prior_energies_)


def _fingerprint(X, **params):
    est = PerturbedVAE(**{"random_state": 0, **params})  # fixed seeds unless changed
    est._seed_values = est._seeds()
    return fingerprint(est, X)


@pytest.mark.parametrize("name", sorted(PerturbedVAE().get_params()))
def test_fingerprint_changes_with_every_parameter_that_changes_the_result(name, tmp_path):
    X = np.random.RandomState(0).normal(size=(30, 4))
    base = _fingerprint(X)
    changed = _fingerprint(X, **{name: _changed_values(tmp_path)[name]})
    if name == "random_state":  # not itself, but the seeds it draws
        assert changed != base
        assert _fingerprint(X, random_state=np.random.RandomState(0)) == base
    elif name in RESULT_NEUTRAL:
        assert changed == base
    else:
        assert changed != base
