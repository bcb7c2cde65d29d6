"""Evidence for the headline claim: the perturbed VAE lifts the latent degeneracy.

Three claims of design.md (sections 2 and 4), each on synthetic data with a known
latent structure, small networks and few epochs so the file runs in about a
minute on one thread:

(a) default PerturbedVAEs from different seeds agree axis by axis as well as
    after the best linear alignment; plain VAEs do not; PCA is the
    non-degenerate reference;
(b) the spectrum of a plain VAE's embedding has a d-fold first excited level;
    the ladder splits it in the order of the stiffnesses, at the exact
    frequencies ``1 + lam c_i / beta`` of the perturbed prior;
(c) ``perturbation="wells"`` counts k well-separated clusters and separates them
    in the latent space at least as well as a plain VAE.

Every tolerance below was measured on this machine (torch 2.13 CPU, one
thread) with the seeds used here; each comment says what was measured.
"""

import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from perturbvae import PerturbedVAE, SpectralDegeneracy
from perturbvae.metrics import seed_stability

SMALL = dict(hidden_layer_sizes=(32,), device="cpu")


def _tanh_map(S, n_features, rng, noise):
    """A random 2-layer tanh network (fixed by ``rng``) applied to S, plus noise."""
    d = S.shape[1]
    W1 = rng.normal(size=(d, 64)) / np.sqrt(d) * 1.5
    b1 = rng.normal(size=64) * 0.5
    W2 = rng.normal(size=(64, n_features)) / np.sqrt(64)
    X = np.tanh(S / S.std(axis=0).mean() @ W1 + b1) @ W2
    return X + noise * X.std() * rng.normal(size=X.shape)


def make_factors(n_samples=1000, n_features=40, scales=(3.0, 2.0, 1.3, 0.8), seed=0):
    """Independent Gaussian factors of different scales, mapped non-linearly to 40-d."""
    rng = np.random.RandomState(seed)
    S = rng.normal(size=(n_samples, len(scales))) * np.asarray(scales)
    return StandardScaler().fit_transform(_tanh_map(S, n_features, rng, 0.05))


def make_isotropic(n_samples=1000, n_components=3, n_features=30, seed=0):
    """Isotropic N(0, I_d) factors: an orthonormal linear map plus a bounded non-linearity.

    The data themselves have no preferred latent axes, so any split of the
    first excited level of an embedding comes from the model, not from the data.
    """
    rng = np.random.RandomState(seed)
    S = rng.normal(size=(n_samples, n_components))
    Q, _ = np.linalg.qr(rng.normal(size=(n_features, n_components)))
    X = S @ Q.T * np.sqrt(n_features / n_components)
    X += 0.5 * np.tanh(S @ rng.normal(size=(n_components, n_features)))
    return X + 0.05 * rng.normal(size=X.shape)


def make_clusters(n_samples=2000, n_features=30, n_clusters=5, latent_dim=8, seed=0):
    """k well-separated Gaussian clusters in an 8-d latent space, mapped non-linearly."""
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(n_clusters, latent_dim)) * 14.0 / np.sqrt(2 * latent_dim)
    y = np.arange(n_samples) % n_clusters
    S = centres[y] + rng.normal(size=(n_samples, latent_dim))
    return StandardScaler().fit_transform(_tanh_map(S, n_features, rng, 0.05)), y


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


# ---------------------------------------------------------------- (a) seeds --
def test_defaults_agree_axis_by_axis_plain_vae_does_not():
    # Measured (3 seeds, seed_stability random_state=0, 1000 samples, 40 epochs,
    # hidden (32,)): PCA axis 1.000 / subspace 1.000; defaults 0.999 / 0.9995
    # (gap 0.0007, every pair >= 0.999); plain VAE axis 0.48 / subspace 0.94
    # (gap 0.46; pairs 0.28 to 0.70). At 20 epochs: plain gap 0.34. Tolerances:
    # the 0.05 for the defaults, a plain-VAE gap of at least 0.15 (under
    # half of what was measured) and 0.01 for PCA.
    X = make_factors()
    pca = seed_stability(PCA(n_components=4), X, n_seeds=3, random_state=0)
    default = seed_stability(
        PerturbedVAE(n_components=4, max_epochs=40, **SMALL), X, n_seeds=3, random_state=0)
    plain = seed_stability(
        PerturbedVAE(n_components=4, max_epochs=40, init="random", perturbation=None, **SMALL),
        X, n_seeds=3, random_state=0)

    assert abs(pca.degeneracy) < 0.01
    assert default.subspace_mean - default.axis_mean <= 0.05
    assert default.axis.min() >= default.subspace.min() - 0.05
    assert plain.degeneracy >= 0.15
    assert plain.degeneracy >= 3 * max(default.degeneracy, 0.0) + 0.1
    # Both VAEs learn the same information (high subspace agreement): the
    # plain VAE's problem is the axes, not the subspace.
    assert plain.subspace_mean >= 0.75


# ------------------------------------------------------------- (b) spectrum --
def _axis_energies(spec, Z):
    """Energy of each latent axis's one-quantum level, read from the fitted eigenpairs.

    For an (anisotropic) Gaussian the eigenfunction of the level ``w_i`` is linear in ``z_i``.
    Levels close in energy (here ``w_2 = 6.33`` beside the overtones ``6 w_0`` and
    ``w_1 + 3 w_0``) mix under sampling noise, so no single fitted eigenfunction need be
    ``z_i`` (measured: best correlation 0.88 for the stiffest axis). Instead ``z_i`` is
    expanded in the fitted eigenfunctions ``f_j`` (least squares over the data, coefficients
    ``b_j``) and its energy in the fitted spectrum is the Rayleigh quotient
    ``sum_j b_j^2 E_j / sum_j b_j^2``. Returns those energies and the R^2 of the expansion,
    the part of ``z_i`` the fitted levels span (1 if they hold it).
    """
    F = spec.transform(Z)  # eigenfunctions of levels 1..n_components_
    F = (F - F.mean(axis=0)) / F.std(axis=0)
    Zs = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    B, *_ = np.linalg.lstsq(F, Zs, rcond=None)  # (levels, axes)
    r2 = 1.0 - np.sum((Zs - F @ B) ** 2, axis=0) / len(Z)
    E = spec.energies_[1:1 + F.shape[1]]
    return (B**2).T @ E / np.sum(B**2, axis=0), r2


def test_plain_vae_first_excited_level_is_one_d_fold_multiplet():
    # Measured (seeds 0 to 2, 1000 samples, 40 epochs, galerkin chosen by
    # "auto"): energies 0.76-0.82, 0.84-0.86, 0.90-0.95; the three first excited
    # levels form one multiplet (degeneracies_ [1, 3, 4]) in all three seeds,
    # relative spread 0.13 to 0.20 (degeneracy_tol "auto" is 4 sqrt(3/1000) =
    # 0.22). Asserted: multiplet size d, spread <= 0.25.
    d = 3
    X = make_isotropic(n_components=d)
    vae = PerturbedVAE(n_components=d, max_epochs=40, init="random", perturbation=None,
                       random_state=0, **SMALL).fit(X)
    spec = SpectralDegeneracy(n_levels=8, random_state=0).fit(vae.transform(X))
    assert spec.degeneracies_[0] == 1
    assert spec.degeneracies_[1] == d
    first = spec.energies_[1:1 + d]
    assert first.max() / first.min() - 1 <= 0.25


def test_ladder_splits_first_excited_level_in_stiffness_order():
    # Ladder c_i = i / d, lam = 8, beta = 1: exact frequencies w = 1, 3.67, 6.33.
    # Here the posterior variances are tiny (noise 0.05 against unit factors):
    # posterior means then have nearly the prior's variance 1 / w_i, so the
    # embedding's spectrum is that of the perturbed prior (measured 1 / Var(z_i)
    # = 0.99, 3.66, 6.35 over seeds 0 to 2). In general posterior means have
    # *less* variance than the prior (Var(mu) = prior var - E[posterior var]),
    # which raises every energy; that is why the test checks orders and
    # ratios, not absolute values. Measured (seeds 0 to 2, HEAD after the issue-10
    # rewrite): degeneracies_ [1, 1, 1, 2]; axis levels (Rayleigh quotients in the fitted
    # eigenbasis, see _axis_energies) 0.98-0.995, 3.62-3.63, 6.16-6.18, R^2 of each axis in
    # the fitted levels >= 0.974, ratios to the softest within 2 % of w_i / w_0. The
    # overtones 2 w_0 and 3 w_0 of the softest axis fall in between, as in prior_energies_;
    # the lowest five excited levels match its ratios within 15.5 %: the softest axis is not
    # Gaussian (excess kurtosis -0.38; the finite-difference spectrum of its KDE marginal,
    # perturbvae.datasets.fd_spectrum_1d, puts 2 w_0 at 2.37 E_1, this estimator in 1-d at
    # 2.39). Asserted: R^2 > 0.9, 5 % on the axis ratios, 20 % on the spectrum (a level
    # missing or out of order is off by > 40 %).
    d, lam = 3, 8.0
    X = make_isotropic(n_components=d)
    vae = PerturbedVAE(n_components=d, max_epochs=40, perturbation="ladder",
                       perturbation_strength=lam, random_state=0, **SMALL).fit(X)
    w = vae.potential_.frequencies(d, lam, 1.0)
    np.testing.assert_allclose(w, [1.0, 1 + lam / 3, 1 + 2 * lam / 3])
    Z = vae.transform(X)
    spec = SpectralDegeneracy(n_levels=16, n_components=15, random_state=0).fit(Z)
    # The d-fold level is gone: no multiplet of size > 1 among the lowest levels.
    assert spec.degeneracies_[1] == 1
    E_axis, match = _axis_energies(spec, Z)
    assert np.all(match > 0.9)  # each axis lies in the span of the fitted levels
    assert np.all(np.diff(E_axis) > 0)  # energies increase with the stiffness
    np.testing.assert_allclose(E_axis / E_axis[0], w / w[0], rtol=0.05)
    # The spectrum's order matches the exact one of the perturbed prior.
    k = 6
    np.testing.assert_allclose(spec.energies_[1:k] / spec.energies_[1],
                               vae.prior_energies_[1:k] / vae.prior_energies_[1], rtol=0.20)


# ---------------------------------------------------------------- (c) wells --
def test_wells_count_clusters_and_separate_them():
    # Measured (2000 samples, 5 clusters, hidden (64,), 30 epochs, seeds 0 to 2):
    # wells found 5 in every seed (width_ 0.38 to 0.41); silhouette with the true
    # labels 0.677 to 0.684 with wells (pca start, the default) against 0.607 to
    # 0.613 for the plain VAE; training-set ELBO -13.1 against -29.5. The test
    # asserts the worst wells seed is at least the best plain seed.
    k = 5
    X, y = make_clusters(n_clusters=k)
    kw = dict(n_components=4, hidden_layer_sizes=(64,), max_epochs=30, device="cpu")
    sil_wells, sil_plain = [], []
    for seed in (0, 1):
        wells = PerturbedVAE(perturbation="wells", random_state=seed, **kw).fit(X)
        assert wells.potential_.n_wells_ == k
        assert wells.prior_energies_ is None  # no closed-form spectrum
        # the wells are counted on the data, so the potential acts from the first epoch
        assert all(bool(row["perturbation_on"]) for row in wells.history_)
        sil_wells.append(silhouette_score(wells.transform(X), y))
        plain = PerturbedVAE(init="random", perturbation=None, random_state=seed, **kw).fit(X)
        sil_plain.append(silhouette_score(plain.transform(X), y))
    assert min(sil_wells) >= max(sil_plain)
