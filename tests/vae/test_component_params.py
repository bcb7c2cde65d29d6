"""Parameters of perturbvae's potential and callback objects (Wells, KLWarmup) are
checked before any work, with scikit-learn's error naming the parameter."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError

from perturbvae import KLWarmup, PerturbedVAE
from perturbvae._vae import _estimator
from perturbvae.potentials import Wells

KW = dict(n_components=2, hidden_layer_sizes=(4,), max_epochs=2, batch_size=32,
          random_state=0)
NAN, INF = float("nan"), float("inf")

BAD = {
    "width=0": ("width", dict(perturbation=Wells(width=0.0))),
    "width=-1": ("width", dict(perturbation=Wells(width=-1.0))),
    "width=nan": ("width", dict(perturbation=Wells(width=NAN))),
    "width=inf": ("width", dict(perturbation=Wells(width=INF))),
    "n_wells=0": ("n_wells", dict(perturbation=Wells(n_wells=0))),
    "n_wells=2.5": ("n_wells", dict(perturbation=Wells(n_wells=2.5))),
    "max_wells=0": ("max_wells", dict(perturbation=Wells(max_wells=0))),
    "warmup_fraction=1": ("warmup_fraction", dict(perturbation=Wells(warmup_fraction=1.0))),
    "warmup_fraction=-1": ("warmup_fraction", dict(perturbation=Wells(warmup_fraction=-1.0))),
    "KLWarmup epochs=-3": ("epochs", dict(callbacks=[KLWarmup(epochs=-3)])),
    "KLWarmup epochs=2.5": ("epochs", dict(callbacks=[KLWarmup(epochs=2.5)])),
    "KLWarmup start=-1": ("start", dict(callbacks=[("kl", KLWarmup(start=-1.0))])),
    "KLWarmup start=nan": ("start", dict(callbacks=[KLWarmup(start=NAN)])),
    "KLWarmup start=1.5": ("start", dict(callbacks=[KLWarmup(start=1.5)])),
}


@pytest.fixture(scope="module")
def X():
    return make_blobs(60, n_features=3, centers=2, random_state=0)[0]


@pytest.fixture(scope="module")
def fitted(X):
    return PerturbedVAE(**KW).fit(X)


@pytest.mark.parametrize("name, params", BAD.values(), ids=BAD.keys())
def test_bad_component_parameter_is_named_before_any_work(X, name, params, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(_estimator.PerturbedVAE, "_initialize", no_work)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of"):
        PerturbedVAE(**KW, **params).fit(X)


def test_more_wells_than_rows_is_refused_and_keeps_the_fitted_model(X, fitted):
    before, epochs = fitted.transform(X), fitted.n_epochs_
    with pytest.raises(ValueError, match="'n_wells' parameter of Wells must be less than"):
        fitted.set_params(perturbation=Wells(n_wells=len(X))).fit(X)
    fitted.set_params(perturbation="ladder")
    assert fitted.n_epochs_ == epochs
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_good_component_parameters_pass(X):
    est = PerturbedVAE(**KW, perturbation=Wells(n_wells=2, width=0.5, max_wells=1,
                                                warmup_fraction=0.5),
                       callbacks=[KLWarmup(epochs=0, start=1.0)]).fit(X)
    assert est.potential_.n_wells_ == 2


def test_klwarmup_of_zero_epochs_has_no_warmup(X):
    # "epochs over which the weight rises to 1": none, so full weight from the first epoch
    got = PerturbedVAE(**KW, callbacks=[KLWarmup(epochs=0)]).fit(X).history_[:, "kl_weight"]
    assert got == [1.0, 1.0]
