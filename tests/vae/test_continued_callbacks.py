"""Continued fits (warm_start, partial_fit) train with the callbacks, early stopping and
checkpoint_dir their parameters name at that call, and hold out the same rows each call."""

import os
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

from perturbvae import KLWarmup, PerturbedVAE

KW = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=2, batch_size=32,
          random_state=0)


@pytest.fixture(scope="module")
def X():
    return load_iris().data


def _continue(est, X, how):
    return est.set_params(warm_start=True).fit(X) if how == "warm_start" else est.partial_fit(X)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_early_stopping_switched_off_for_a_continued_fit(X, how):
    est = PerturbedVAE(early_stopping=True, n_iter_no_change=3, **KW).fit(X)
    _continue(est.set_params(early_stopping=False), X, how)  # was KeyError 'valid_loss'
    assert "early_stopping" not in dict(est.net_.callbacks_)
    assert "valid_loss" not in est.history_[-1]


def test_early_stopping_switched_on_for_a_continued_fit(X):
    est = PerturbedVAE(**KW).fit(X)
    est.set_params(early_stopping=True, n_iter_no_change=1, warm_start=True, max_epochs=30)
    est.fit(X)
    assert "early_stopping" in dict(est.net_.callbacks_)
    valid = np.array(est.history_[2:, "valid_loss"])
    best = int(np.argmin(valid))
    # the rule: stop n_iter_no_change (1) epochs after the best; it ran all 30 epochs
    # before, 20 of them without improving on the best
    assert len(valid) < 30 and len(valid) == best + 1 + 1


def test_continued_calls_hold_out_the_same_rows(X, monkeypatch):
    held_out = []
    original = PerturbedVAE._validation_split

    def record(self, n, *args):
        split = original(self, n, *args)
        held_out.append(sorted(split[0].tolist()))
        return split

    monkeypatch.setattr(PerturbedVAE, "_validation_split", record)
    est = PerturbedVAE(early_stopping=True, warm_start=True, **KW)
    for _ in range(3):
        est.fit(X)
    est.partial_fit(X)
    # rows held out in one call were never trained on in another (3 of 15 agreed before)
    assert held_out[0] == held_out[1] == held_out[2] == held_out[3]


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_callbacks_passed_again_after_loading_are_used(X, tmp_path, how):
    path = tmp_path / "m.zip"
    with pytest.warns(UserWarning, match="callbacks"):
        PerturbedVAE(callbacks=[KLWarmup(4)], **KW).fit(X).save(path)
    est = PerturbedVAE.load(path).set_params(callbacks=[KLWarmup(4, start=0.0)])
    _continue(est, X, how)
    # KLWarmup reads the epochs done: 3 and 4 of its 4-epoch ramp
    assert est.history_[2, "kl_weight"] == 0.5


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_checkpoint_dir_set_after_the_first_fit_is_used(X, tmp_path, how):
    cp = tmp_path / "cp"
    est = _continue(PerturbedVAE(**KW).fit(X).set_params(checkpoint_dir=cp), X, how)
    assert len(os.listdir(cp)) == 1
    # the continued model's folder is its own: a fresh fit of these settings does not
    # resume it (its fingerprint is chained to the weights it continued)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh = PerturbedVAE(checkpoint_dir=cp, **KW).fit(X)
    assert fresh.n_epochs_ == KW["max_epochs"] and len(os.listdir(cp)) == 2
    assert est.n_epochs_ > KW["max_epochs"]


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_a_callback_edited_in_place_is_used(X, how):
    # the net kept its copy of a callback whose parameter was changed after the fit (the
    # callbacks were compared by identity): KLWarmup(4) set to 100 epochs kept weight 1.0
    warmup = KLWarmup(4)
    est = PerturbedVAE(callbacks=[warmup], **KW).fit(X)
    warmup.epochs = 100
    _continue(est, X, how)
    # KLWarmup reads the epochs done: the third of its now 100-epoch ramp
    assert est.history_[2, "kl_weight"] == pytest.approx(0.02)


def test_early_stopping_during_a_kl_warmup_reads_the_full_objective():
    # The validation loss was weighted by the warm-up: it rose with the KL weight, so
    # early stopping stopped after n_iter_no_change epochs and restored the first
    # epoch's weights, trained at weight 0 (breast cancer: 4 of 25 epochs, score 10.56
    # against 12.32 for the 25 epochs).
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    kw = dict(n_components=3, hidden_layer_sizes=(32,), random_state=0, device="cpu",
              early_stopping=True, n_iter_no_change=3, max_epochs=12)
    est = PerturbedVAE(callbacks=[KLWarmup(epochs=10)], **kw).fit(X)
    h = est.history_
    assert h[-1, "kl_weight"] >= 0.5  # did not stop at the warm-up's start
    # the validation loss is that of weight 1 whatever the warm-up's weight
    valid = np.array(h[:, "valid_recon"]) + np.array(h[:, "valid_kl"]) + \
        np.array(h[:, "valid_perturbation"]) * est.net_.strength
    np.testing.assert_allclose(h[:, "valid_loss"], valid, rtol=1e-4)
