"""Tests of PerturbedVAE: sklearn API, physics of the prior, round trips, bad input."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from perturbvae import PerturbedVAE
from perturbvae.potentials import Ladder, Potential, oscillator_levels

FAST = dict(hidden_layer_sizes=(16,), max_epochs=3, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return PerturbedVAE(n_components=4, hidden_layer_sizes=(32,), max_epochs=8,
                        random_state=0).fit(X[:600])


@parametrize_with_checks([PerturbedVAE(**FAST), PerturbedVAE(init="random", perturbation=None,
                                                               **FAST)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------- usefulness --
def test_pipeline_accuracy_close_to_pca(digits):
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    clf = LogisticRegression(max_iter=2000)
    vae = make_pipeline(StandardScaler(), PerturbedVAE(n_components=8, max_epochs=40,
                                                       random_state=0), clf)
    pca = make_pipeline(StandardScaler(), PCA(n_components=8, random_state=0), clone(clf))
    acc_vae = vae.fit(Xtr, ytr).score(Xte, yte)
    acc_pca = pca.fit(Xtr, ytr).score(Xte, yte)
    # Measured on this split: PCA 0.857; PerturbedVAE 0.885, 0.887, 0.889 (seeds 0-2, 40 epochs).
    assert acc_vae >= acc_pca - 0.02, (acc_vae, acc_pca)


def test_grid_search_parallel_equals_serial(digits):
    X, _ = digits
    X = X[:300]
    grid = {"n_components": [2, 3], "beta": [1.0, 2.0], "perturbation_strength": [0.5]}
    base = PerturbedVAE(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    s1 = GridSearchCV(base, grid, cv=2, n_jobs=1).fit(X)
    s2 = GridSearchCV(base, grid, cv=2, n_jobs=2).fit(X)
    np.testing.assert_allclose(s1.cv_results_["mean_test_score"],
                               s2.cv_results_["mean_test_score"], rtol=1e-6)
    assert np.all(np.isfinite(s1.cv_results_["mean_test_score"]))
    assert s1.best_params_ == s2.best_params_


# ------------------------------------------------------------------ physics --
@pytest.mark.parametrize("d,lam,beta", [(2, 1.0, 1.0), (4, 2.0, 0.5), (5, 0.0, 1.0)])
def test_prior_energies_closed_form(d, lam, beta):
    X = np.random.RandomState(0).randn(50, 6)
    vae = PerturbedVAE(n_components=d, perturbation_strength=lam, beta=beta,
                       **{**FAST, "max_epochs": 0}).fit(X)
    w = 1 + lam * np.arange(d) / d / beta
    # brute force over occupation numbers up to 4 per axis
    grids = np.stack(np.meshgrid(*[np.arange(5)] * d, indexing="ij"), -1).reshape(-1, d)
    brute = np.sort(grids @ w)[: len(vae.prior_energies_)]
    np.testing.assert_allclose(vae.prior_energies_, brute, atol=1e-12)
    assert len(vae.prior_energies_) == 1 + d + d * (d + 1) // 2


def test_unperturbed_prior_is_degenerate_oscillator():
    X = np.random.RandomState(0).randn(40, 5)
    vae = PerturbedVAE(n_components=3, perturbation=None, **{**FAST, "max_epochs": 0}).fit(X)
    # levels 0, 1 (3 times), 2 (6 times)
    np.testing.assert_array_equal(vae.prior_energies_, [0] + [1] * 3 + [2] * 6)


def test_oscillator_levels_multiplicities():
    from scipy.special import comb

    for d in (1, 2, 3, 6):
        levels = oscillator_levels(np.ones(d), 60)
        for n in range(3):
            if (levels == n).sum() + (levels < n).sum() <= 60:
                assert (levels == n).sum() == comb(n + d - 1, d - 1, exact=True)


def test_latent_variance_follows_ladder(digits):
    X, _ = digits
    vae = PerturbedVAE(n_components=4, perturbation_strength=4.0, hidden_layer_sizes=(32,),
                       max_epochs=15, random_state=0).fit(X)
    var = vae.transform(X).var(axis=0)
    # softest axis (c_0 = 0) widest; stiffer axes narrower, in ladder order
    assert np.all(np.diff(var) < 0), var


def test_custom_potential_and_callable(digits):
    X, _ = digits
    X = X[:200]

    class Quartic(Potential):
        def energy(self, z):
            return (z**4).sum(dim=1)

    for pert in (Quartic(), lambda z: (z**2).sum(dim=1), Ladder([0.0, 0.5, 2.0])):
        vae = PerturbedVAE(n_components=3, perturbation=pert, **FAST).fit(X)
        assert np.all(np.isfinite(vae.transform(X)))
        assert np.isfinite(vae.history_[-1, "train_perturbation"])
    assert vae.prior_energies_[1] == 1.0 and vae.prior_energies_[2] == 1.5


def test_bad_callable_potential(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="tensor of energies"):
        PerturbedVAE(n_components=2, perturbation=lambda z: z, **FAST).fit(X[:100])


@pytest.mark.parametrize("energy", [lambda z: z, lambda z: (z**2).sum(), lambda z: z[:, :1]])
def test_bad_potential_subclass_is_named_and_leaves_the_model(digits, energy):
    # a Potential subclass's energy of the wrong shape failed inside the loss with torch's
    # "size of tensor a (32) must match ..." or "stack expects each tensor to be equal size"
    X, _ = digits
    X = X[:100]

    class Wrong(Potential):
        def energy(self, z):
            return energy(z)

    vae = PerturbedVAE(n_components=2, **FAST).fit(X)
    before = vae.transform(X)
    with pytest.raises(ValueError, match=r"Wrong.*\(batch,\) tensor of energies"):
        vae.set_params(perturbation=Wrong()).fit(X)
    np.testing.assert_array_equal(vae.transform(X), before)


# -------------------------------------------------------------------- score --
def test_score_is_elbo_and_improves(digits):
    X, _ = digits
    X = X[:500]
    init = PerturbedVAE(n_components=4, hidden_layer_sizes=(32,), max_epochs=0, init="random",
                        random_state=0).fit(X)
    trained = clone(init).set_params(max_epochs=10).fit(X)
    s0, s1 = init.score(X), trained.score(X)
    assert np.isfinite(s0) and np.isfinite(s1)
    assert s1 > s0
    assert trained.score(X) == pytest.approx(trained.score_samples(X).mean())
    # deterministic
    np.testing.assert_array_equal(trained.score_samples(X), trained.score_samples(X))


def test_score_excludes_perturbation(digits):
    X, _ = digits
    vae = PerturbedVAE(n_components=3, perturbation_strength=5.0, **FAST).fit(X[:200])
    s = vae.score(X[:200])
    # changing the strength of a fitted model leaves its ELBO unchanged
    vae.perturbation_strength = 50.0
    assert vae.score(X[:200]) == s


def test_history_logs_terms(fitted):
    row = fitted.history_[-1]
    for key in ("train_loss", "train_recon", "train_kl", "train_perturbation"):
        assert np.isfinite(row[key])
    # loss = recon + beta KL + lam V (per-sample means)
    assert row["train_loss"] == pytest.approx(
        row["train_recon"] + row["train_kl"] + row["train_perturbation"], rel=1e-4)


def test_early_stopping_and_validation(digits):
    X, _ = digits
    vae = PerturbedVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=200, lr=1e-2,
                       early_stopping=True, n_iter_no_change=3, random_state=0).fit(X)
    assert vae.n_epochs_ < 200
    assert "valid_loss" in vae.history_[-1]


def test_warm_start_and_partial_fit(digits):
    X, _ = digits
    vae = PerturbedVAE(n_components=2, warm_start=True, **FAST).fit(X[:300])
    vae.fit(X[:300])
    assert vae.n_epochs_ == 6
    pf = PerturbedVAE(n_components=2, **FAST)
    for chunk in np.array_split(X, 3):
        pf.partial_fit(chunk)
    assert pf.n_epochs_ == 3
    assert pf.transform(X).shape == (len(X), 2)


# ------------------------------------------------------------ determinism --
def test_same_random_state_same_transform(digits):
    X, _ = digits
    a = PerturbedVAE(n_components=3, init="random", **FAST).fit(X[:300]).transform(X)
    torch.manual_seed(123)  # the global seed must not matter
    b = PerturbedVAE(n_components=3, init="random", **FAST).fit(X[:300]).transform(X)
    np.testing.assert_array_equal(a, b)
    c = PerturbedVAE(n_components=3, init="random", **{**FAST, "random_state": 1}).fit(
        X[:300]).transform(X)
    assert not np.allclose(a, c)


def test_pca_start_is_seed_independent(digits):
    X, _ = digits
    za = PerturbedVAE(n_components=3, **{**FAST, "max_epochs": 0}).fit(X).transform(X)
    zb = PerturbedVAE(n_components=3, **{**FAST, "max_epochs": 0, "random_state": 7}).fit(
        X).transform(X)
    np.testing.assert_allclose(za, zb, atol=1e-5)
    # and it is the (shrunken) whitened PCA projection, axis by axis
    zp = PCA(n_components=3).fit_transform(X)
    for j in range(3):
        assert abs(np.corrcoef(za[:, j], zp[:, j])[0, 1]) > 0.999


@pytest.mark.parametrize("d, perturbation", [(3, "ladder"), (5, "ladder"), (3, None)])
def test_pca_start_codes_are_the_closed_form(d, perturbation):
    # The user guide's formula: whitened principal components of the standardised data
    # times s_i sqrt(1 - beta sigma^2 / lambda_i), s_i the prior's standard deviation
    # (1 / sqrt(1 + lam c_i / beta) for the ladder), variances divided by n. Measured on
    # wine: equal within 4e-7 (float32) for codes up to 3.3; without s_i, 0.15 apart.
    X = load_wine().data
    vae = PerturbedVAE(n_components=d, max_epochs=0, perturbation=perturbation,
                       random_state=0).fit(X)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    pca = PCA(n_components=d).fit(Xs)
    ml = (len(X) - 1) / len(X)
    lam, sigma2 = pca.explained_variance_ * ml, pca.noise_variance_ * ml
    freq = 1 + (vae.perturbation_strength * np.arange(d) / d / vae.beta if perturbation else 0)
    expected = (pca.transform(Xs) / np.sqrt(lam)
                * np.sqrt((1 - vae.beta * sigma2 / lam) / freq))
    Z = vae.transform(X)
    expected *= np.sign(np.sum(Z * expected, axis=0))  # axis signs are the package's own
    np.testing.assert_allclose(Z, expected, atol=1e-5)


def test_sign_rule_orients_the_axes_as_the_closed_form_start(digits):
    from perturbvae._vae import _signs

    X, _ = digits
    vae = PerturbedVAE(n_components=3, **FAST).fit(X[:400])
    module = vae.net_.module_
    start = _signs.axis_responses(module, module.decode_start)
    np.testing.assert_array_equal(module.latent_sign.cpu().numpy(),
                                  _signs.most_moved_sign(start).cpu().numpy())
    # and, output axis by output axis, the trained decoder moves the features as the start
    # (measured: cosines 0.9999 after these 3 epochs)
    resp = _signs.axis_responses(module, module.decode) * module.latent_sign[:, None]
    cos = torch.nn.functional.cosine_similarity(resp, start * module.latent_sign[:, None])
    assert torch.all(cos > 0.5)


def test_transform_is_deterministic_and_batched(fitted, digits):
    X, _ = digits
    z1 = fitted.transform(X)
    z2 = np.concatenate([fitted.transform(X[i:i + 7]) for i in range(0, len(X), 7)])
    np.testing.assert_allclose(z1, z2, atol=1e-5)


def test_dtypes(fitted, digits):
    X, _ = digits
    assert fitted.transform(X.astype(np.float32)).dtype == np.float32
    assert fitted.transform(X).dtype == np.float64
    assert fitted.inverse_transform(fitted.transform(X)).shape == X.shape


def test_reconstruction_beats_mean(fitted, digits):
    X, _ = digits
    Xr = fitted.inverse_transform(fitted.transform(X))
    assert np.mean((X - Xr) ** 2) < 0.8 * np.mean((X - X.mean(0)) ** 2)


def test_bernoulli_likelihood(digits):
    X = load_digits().data / 16.0
    vae = PerturbedVAE(n_components=2, likelihood="bernoulli", **FAST).fit(X)
    Xr = vae.inverse_transform(vae.transform(X))
    assert Xr.min() >= 0 and Xr.max() <= 1
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.transform(X * 16)
    # just above 1: the range shown was "[0, 1]", the same as the one asked for
    with pytest.raises(ValueError, match=r"got values in \[0, 1.0000001\]"):
        vae.transform(np.where(X == 1.0, 1.0000001, X))


def test_sample(fitted):
    Xs, Zs = fitted.sample(50, random_state=0)
    assert Xs.shape == (50, fitted.n_features_in_) and Zs.shape == (50, 4)
    Xs2, _ = fitted.sample(50, random_state=0)
    np.testing.assert_array_equal(Xs, Xs2)
    # ladder prior: variance of axis i is 1 / (1 + lam c_i / beta)
    _, Zb = fitted.sample(20000, random_state=1)
    np.testing.assert_allclose(Zb.var(0), 1 / (1 + np.arange(4) / 4), rtol=0.05)


def test_sample_with_noise_draws_from_the_start_density():
    # At the closed-form start (no perturbation) the model is probabilistic PCA of the
    # standardised data: draws with noise have its covariance W W^T + sigma^2 (variances
    # divided by n). Measured on wine, 50,000 draws, seeds 0-19: largest entry error 0.021
    # (standardised units, entries up to 1); the means alone have 0.40-0.64 of the
    # variances. A constant column (left out of the start) stays at its value.
    X = load_wine().data
    vae = PerturbedVAE(n_components=3, max_epochs=0, perturbation=None, random_state=0)
    vae.fit(np.c_[X, np.full(len(X), 5.0)])
    sd = X.std(axis=0)
    Xs = (X - X.mean(axis=0)) / sd
    expected = PCA(n_components=3).fit(Xs).get_covariance() * (len(X) - 1) / len(X)
    S, Z = vae.sample(50000, random_state=0, noise=True)
    np.testing.assert_array_equal(S[:, -1], 5.0)
    S = S[:, :-1]
    np.testing.assert_allclose(np.cov((S / sd).T), expected, atol=0.04)
    means, Z0 = vae.sample(50000, random_state=0)
    np.testing.assert_array_equal(Z, Z0)  # the same latent draws
    assert np.all(np.var(means[:, :-1] / sd, axis=0) < 0.7 * np.diag(expected))


def test_sample_with_noise_is_binary_for_a_bernoulli_likelihood(digits):
    X, _ = digits
    Xb = (X > np.median(X)).astype(float)
    vae = PerturbedVAE(n_components=2, likelihood="bernoulli", **FAST).fit(Xb[:300])
    B, _ = vae.sample(4000, random_state=0, noise=True)
    P, _ = vae.sample(4000, random_state=0)
    assert set(np.unique(B)) <= {0.0, 1.0}
    # 0/1 draws around the probabilities: their means within 4 standard errors
    np.testing.assert_allclose(B.mean(axis=0), P.mean(axis=0), atol=4 * 0.5 / np.sqrt(4000))


@pytest.mark.parametrize("n", [0, -1, 2.0, True, "3"])
def test_sample_names_a_bad_n_samples(fitted, n):
    # True is an Integral: it reached torch.randn, whose TypeError named none of it
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(n)


# -------------------------------------------------------------- round trips --
def test_pickle_round_trip(fitted, digits):
    X, _ = digits
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    again.partial_fit(X[:100])  # training continues after unpickling


def test_save_load_round_trip(fitted, digits, tmp_path):
    X, _ = digits
    path = tmp_path / "model.pt"
    fitted.save(path)
    loaded = PerturbedVAE.load(path)
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    np.testing.assert_array_equal(loaded.prior_energies_, fitted.prior_energies_)
    assert loaded.get_params() == fitted.get_params()
    assert len(loaded.history_) == len(fitted.history_)


def test_load_refuses_malicious_file(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "perturbvae", "format_version": 1, "params": Evil()}, path)
    with pytest.raises(ValueError, match="Refused to load"):
        PerturbedVAE.load(path)
    assert not marker.exists()


def test_load_rejects_truncated_and_foreign(fitted, tmp_path):
    good = tmp_path / "m.pt"
    fitted.save(good)
    data = good.read_bytes()
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        PerturbedVAE.load(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="not a perturbvae model"):
        PerturbedVAE.load(foreign)


def test_set_output_pandas(fitted, digits):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    est = clone(fitted).set_params(max_epochs=1).set_output(transform="pandas")
    df = pd.DataFrame(X[:200], columns=[f"px{i}" for i in range(64)])
    out = est.fit_transform(df)
    assert list(out.columns) == ["perturbedvae0", "perturbedvae1", "perturbedvae2",
                                 "perturbedvae3"]
    assert list(est.get_feature_names_out()) == list(out.columns)
    assert list(est.feature_names_in_) == list(df.columns)


def test_clone_keeps_configuration():
    est = PerturbedVAE(n_components=5, perturbation=Ladder([0, 1, 2, 3, 4]), beta=2.0)
    c = clone(est)
    assert c.get_params()["n_components"] == 5 and c.perturbation is not est.perturbation
    assert c.perturbation.stiffnesses == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- bad input --
@pytest.mark.parametrize(
    "bad,match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0], [0.0, 1.0]]), "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0], [0.0, 1.0]]), "infinity"),
        (sparse.csr_matrix(np.eye(3)), "[Ss]parse"),
        (np.arange(5.0), "2D array"),
        (np.empty((0, 3)), "0 sample"),
        (np.ones((1, 3)), "1 sample"),
        (np.array([["a", "b"], ["c", "d"]]), "[Ss]tring|could not convert|dtype"),
    ],
)
def test_bad_input_fit(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PerturbedVAE(**FAST).fit(bad)


def test_bad_input_leaves_fitted_model_intact(fitted, digits):
    X, _ = digits
    before = fitted.transform(X)
    for bad in (X[:, :10], np.full_like(X[:5], np.nan), sparse.csr_matrix(X[:5])):
        with pytest.raises((ValueError, TypeError)):
            fitted.transform(bad)
    with pytest.raises(ValueError, match="64 features"):
        fitted.transform(X[:, :10])
    with pytest.raises(ValueError, match="n_components"):
        fitted.inverse_transform(np.zeros((3, 7)))
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_divergence_raises_and_leaves_unfitted():
    X = np.random.RandomState(0).randn(100, 5)
    from perturbvae._vae._net import TrainingDivergedError

    def exploding(z):
        return z.new_full((z.shape[0],), float("nan"))

    est = PerturbedVAE(n_components=2, perturbation=exploding, **FAST)
    with pytest.raises(TrainingDivergedError, match="epoch 1, batch 1"):
        est.fit(X)
    assert not hasattr(est, "net_")


# ------------------------------------------------------------- properties --
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 40), p=st.integers(1, 8), d=st.integers(1, 5),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 1000))
def test_shapes_dtypes_finiteness(n, p, d, dtype, seed):
    # n_components above the features or the rows is refused (test_fit_safety.py:
    # test_n_components_above_features_is_refused, test_more_latent_axes_than_rows_are_refused)
    d = min(d, p, n)
    X = np.random.RandomState(seed).randn(n, p).astype(dtype)
    vae = PerturbedVAE(n_components=d, hidden_layer_sizes=(8,), max_epochs=1,
                       random_state=seed).fit(X)
    Z = vae.transform(X)
    assert Z.shape == (n, d) and Z.dtype == dtype and np.all(np.isfinite(Z))
    Xr = vae.inverse_transform(Z)
    assert Xr.shape == (n, p) and np.all(np.isfinite(Xr))
    Xs, Zs = vae.sample(3, random_state=seed)
    assert Xs.shape == (3, p) and Zs.shape == (3, d) and np.all(np.isfinite(Xs))
    assert np.all(np.isfinite(vae.score_samples(X)))


def test_kl_warmup_callback(digits):
    from perturbvae import KLWarmup

    X, _ = digits
    vae = PerturbedVAE(n_components=2, callbacks=[KLWarmup(epochs=4)],
                       **{**FAST, "max_epochs": 6}).fit(X[:300])
    weights = [row["kl_weight"] for row in vae.history_]
    np.testing.assert_allclose(weights, [0, 0.25, 0.5, 0.75, 1, 1])
    row = vae.history_[1]  # loss = recon + w * beta * KL + lam * V
    assert row["train_loss"] == pytest.approx(
        row["train_recon"] + 0.25 * row["train_kl"] + row["train_perturbation"], rel=1e-4)
    assert vae.net_.kl_weight == 1.0  # restored for later training


def test_verbose_prints_loss_terms(digits, capsys):
    X, _ = digits
    PerturbedVAE(n_components=2, verbose=1, **FAST).fit(X[:200])
    out = capsys.readouterr().out
    for col in ("train_loss", "train_recon", "train_kl", "train_perturbation"):
        assert col in out
    PerturbedVAE(n_components=2, verbose=0, **FAST).fit(X[:200])
    assert capsys.readouterr().out == ""


def test_n_epochs_is_a_fitted_attribute():
    # scikit-learn's convention: fitted attributes exist only after fit (it was 0)
    assert not hasattr(PerturbedVAE(), "n_epochs_")
