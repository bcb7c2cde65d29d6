"""Uniform dequantization of rounded data (``perturbvae._spectral._dequantize``).

Truths: each value stays inside its rounding cell and covers it uniformly; the noise of a row
depends on its rank and column only; values on a grid (in any units) are told apart from
continuous ones, and integer data whose rows are mostly distinct are spread too. The
uniformity bounds are 5 standard errors of 10^5 draws (mean: 0.29 / sqrt(10^5) = 0.0009; a
decile's share: 0.0009).
"""

import numpy as np
import pytest

from perturbvae import _dequantize


def test_grid_steps_are_the_rounding_steps():
    X = np.random.RandomState(0).normal(size=(2000, 3)) * [1, 10, 0.1]
    Z = np.c_[np.round(X[:, 0], 1), np.round(X[:, 1]), np.full(2000, 4.0)]
    np.testing.assert_allclose(_dequantize.grid_steps(Z), [0.1, 1.0, 0.0], rtol=1e-9)


def test_hash_is_uniform_on_the_unit_interval():
    u = _dequantize.uniform_hash(np.arange(100_000, dtype=np.uint64), seed=7)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005
    shares = np.histogram(u, bins=10, range=(0, 1))[0] / u.size
    np.testing.assert_allclose(shares, 0.1, atol=0.005)
    # neighbouring keys (a row's columns, consecutive ranks) are uncorrelated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.02
    assert not np.array_equal(u, _dequantize.uniform_hash(np.arange(100_000), seed=8))


def test_values_fill_their_cells_and_follow_the_rank():
    rng = np.random.RandomState(0)
    Z = np.round(rng.normal(size=(50_000, 2)) * [3, 1])
    steps = np.array([1.0, 1.0])
    order = rng.permutation(len(Z))
    out = _dequantize.dequantize(Z, order, steps, seed=0)
    offset = out - Z
    assert np.all(np.abs(offset) <= 0.5)
    assert np.all(np.abs(offset.mean(axis=0)) < 0.007)  # 5 standard errors of 5 * 10^4
    # a row's noise is its rank's: the same rows in another order, with the order permuted
    perm = rng.permutation(len(Z))
    inverse = np.argsort(perm)
    np.testing.assert_array_equal(
        _dequantize.dequantize(Z[perm], inverse[order], steps, seed=0), out[perm])


def test_values_on_a_grid_are_told_apart_from_continuous_ones():
    rng = np.random.RandomState(1)
    scores = np.round(rng.normal(5, 2, (300, 3)))
    for Z in (scores, (scores - 5.0) / 2.0 * [1.0, 3.0, 0.1] + 7.0):  # any units
        assert _dequantize.on_lattice(Z, _dequantize.grid_steps(Z))
    Z = np.c_[scores[:, :2], rng.normal(size=300)]  # one continuous column
    assert not _dequantize.on_lattice(Z, _dequantize.grid_steps(Z))
    # continuous values with one value repeated: round-off on a grid of their smallest gap
    Z = np.r_[rng.normal(size=(300, 2)), np.full((50, 2), 30.0)]
    assert not _dequantize.on_lattice(Z, _dequantize.grid_steps(Z))


@pytest.mark.parametrize("seed", [0, 1])
def test_integer_data_with_most_rows_distinct_read_as_their_density(seed):
    # a 3-d Gaussian rounded to integers: 515-533 distinct rows of 800, stacks of identical
    # rows at the centre. Read as atoms they made 2 wells (resamples 2, 2, 2, 1 and
    # 2, 2, 2, 2); spread over their cells, 1 well, as the Gaussian has
    from perturbvae import SpectralDegeneracy

    Z = np.round(np.random.default_rng(seed).normal(0, 2.5, (800, 3)))
    assert 0.5 * len(Z) < len(np.unique(Z, axis=0)) < len(Z)
    with pytest.warns(UserWarning, match="rounding cell"):
        est = SpectralDegeneracy(random_state=0).fit(Z)
    assert est.n_ground_states_ == 1


def test_scores_stored_in_float32_are_still_on_their_grid():
    # two groups of integer scores 1-10 (379 distinct rows of 600), standardised: in float32
    # the values lie 3e-6 of a cell off the grid, and at a tolerance of 1e-6 cells the
    # stacked rows were read as atoms, wells of their own (ARI -0.02 against the groups,
    # 0.95 in float64)
    import warnings

    from sklearn.metrics import adjusted_rand_score

    from perturbvae import SpectralDegeneracy

    rng = np.random.default_rng(0)
    y = rng.random(600) < 0.6
    X = np.where(y[:, None], rng.poisson(0.4, (600, 6)) + 1, rng.integers(1, 11, (600, 6)))
    X = (X - X.mean(0)) / X.std(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est64 = SpectralDegeneracy(random_state=0).fit(X)
        est32 = SpectralDegeneracy(random_state=0).fit(X.astype(np.float32))
    assert est32.n_ground_states_ == est64.n_ground_states_
    assert adjusted_rand_score(est64.labels_, est32.labels_) == 1.0
    assert adjusted_rand_score(y, est32.labels_) > 0.9


def test_a_constant_column_leaves_the_other_columns_noise_and_the_wells_alone():
    # the noise was keyed by the column's index among all columns: a constant column added
    # (which the fit drops) moved every other column's noise, and 2 of biopsy's 683 labels
    from perturbvae import SpectralDegeneracy

    rng = np.random.RandomState(0)
    Z = np.round(np.r_[rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 4] * 2)
    order = rng.permutation(len(Z))
    steps = _dequantize.grid_steps(Z)
    out = _dequantize.dequantize(Z, order, steps, seed=3)
    for at in (0, 1, 2):
        Zc = np.insert(Z, at, 7.0, axis=1)
        outc = _dequantize.dequantize(Zc, order, _dequantize.grid_steps(Zc), seed=3)
        np.testing.assert_array_equal(np.delete(outc, at, axis=1), out)
        assert np.all(outc[:, at] == 7.0)
    with pytest.warns(UserWarning):  # rounded values spread; a constant column dropped
        a = SpectralDegeneracy(random_state=0).fit(Z)
        b = SpectralDegeneracy(random_state=0).fit(np.c_[np.full(len(Z), -2.0), Z])
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.energies_, b.energies_, rtol=1e-10)


def test_a_grid_of_tens_with_a_few_finer_values_has_cells_of_ten():
    # scores in tens but for 4 % of the rows (sat.act's SAT scores): cells of 1 (the
    # smallest gap) left stacks of tens 9 cells apart; the rounding step is 10
    rng = np.random.RandomState(0)
    tens = np.round(rng.normal(600, 100, 700) / 10) * 10
    finer = rng.rand(700) < 0.04
    scores = np.where(finer, tens + rng.randint(1, 10, 700), tens)
    ints = np.round(rng.normal(20, 4, 700))
    Z = np.c_[scores, ints, rng.normal(size=700)]
    steps = _dequantize.grid_steps(Z)
    np.testing.assert_allclose(steps[:2], [10.0, 1.0], rtol=1e-9)
    assert _dequantize.on_lattice(Z[:, :2], steps[:2])
    assert not _dequantize.on_lattice(Z, steps)  # the continuous column is on no grid
    # with a fifth of the rows off the tens, 1 is the step
    finer = rng.rand(700) < 0.2
    mixed = np.where(finer, tens + rng.randint(1, 10, 700), tens)
    assert _dequantize.grid_steps(mixed[:, None])[0] == 1.0


def test_each_resample_of_rounded_data_is_counted_on_its_own_draw():
    # the rows' spread over their cells is a random draw; resamples read on the fit's own
    # draw shared its noise (sat.act: 2 wells on every resample of a draw, while other
    # draws read 1, 2 or 3). Here the i-th draw has 1, 2, 3, 1 blobs (10 apart): the
    # resamples read what their own draws hold, whatever the fit's draw reads (2 blobs)
    from perturbvae._spectral import _count
    from perturbvae._spectral import _samples as _rows

    rng = np.random.RandomState(0)
    noise = rng.normal(size=(600, 2))
    label = np.arange(600) % 6

    def blobs(k):
        return noise + 10.0 * np.c_[label % k, np.zeros(600)]

    Z = blobs(2)
    count = _count.count_wells(Z, _rows.index_samples(Z), 16, seed=0,
                               redraw=lambda i, rows: blobs((1, 2, 3, 1)[i])[rows])
    assert count.n_wells == 2
    np.testing.assert_array_equal(count.resampled, [1, 2, 3, 1])


def test_the_fit_redraws_rounded_rows_within_their_cells():
    from perturbvae import SpectralDegeneracy

    rng = np.random.RandomState(0)
    Z = np.round(rng.normal(size=(400, 2)) * [3, 1])  # integer rows, on their grid
    est = SpectralDegeneracy(random_state=0)
    with pytest.warns(UserWarning, match="rounding cell"):
        drawn, _, redraw = est._read_samples(Z, seed=5)
    rows = np.arange(len(Z))
    others = [redraw(i, rows) for i in range(2)]
    for other in others:
        assert np.all(np.abs(other - Z) <= 0.5) and not np.array_equal(other, drawn)
    # a row's draw is its own, whichever rows are drawn with it
    np.testing.assert_array_equal(redraw(0, rows[::3]), others[0][::3])
    assert not np.array_equal(others[0], others[1])
    # continuous rows are not drawn: nothing to redraw
    assert est._read_samples(rng.normal(size=(400, 2)), seed=5)[2] is None
