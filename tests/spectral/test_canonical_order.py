"""The canonical row order: it depends on the set of rows only, ties included."""

import numpy as np
import pytest

from perturbvae._spectral import _samples


def _canonical_order(Z):
    """The estimator's row order and repeat flags (``_samples.index_samples``)."""
    samples = _samples.index_samples(Z)
    # a position repeats the row before it unless it holds the first of its distinct rows
    return samples.order, ~np.isin(samples.order, samples.distinct)


def _tied_data():
    """A square lattice centred on its mean: every radius is shared by 4 or 8 rows."""
    g = np.arange(-3.0, 4.0)
    Z = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    # and exact duplicates of some rows, ties in both radius and coordinates
    return np.vstack([Z, Z[:10]])


@pytest.mark.parametrize("seed", range(4))
def test_tied_radii_give_the_same_rows_in_the_same_order_after_a_permutation(seed):
    Z = _tied_data()
    order, repeats = _canonical_order(Z)
    perm = np.random.RandomState(seed).permutation(len(Z))
    order_p, repeats_p = _canonical_order(Z[perm])
    np.testing.assert_array_equal(Z[perm][order_p], Z[order])
    np.testing.assert_array_equal(repeats_p, repeats)


def test_ties_are_sorted_by_coordinates_and_repeats_flag_duplicates():
    Z = _tied_data()
    order, repeats = _canonical_order(Z)
    # sorted by Mahalanobis distance to the mean (to round-off: a plain formula here)
    C = Z - Z.mean(axis=0)
    exact = np.einsum("ij,ij->i", C, np.linalg.solve(np.cov(C.T, bias=True), C.T).T)[order]
    assert np.all(np.diff(exact) >= -1e-12 * exact.max())
    r = _samples._mahalanobis_radius(Z)(Z)[order]  # the package's own values for ties
    np.testing.assert_allclose(r, exact, rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(r) >= 0)
    rows = Z[order]
    for i in np.flatnonzero(r[1:] == r[:-1]):
        assert tuple(rows[i]) <= tuple(rows[i + 1])  # lexicographic within a tie
    # each distinct row exactly once among the rows that are not repeats
    assert len(np.unique(rows[~repeats], axis=0)) == (~repeats).sum() == 49


def test_custom_radius_and_coordinates_are_used_for_ties():
    rng = np.random.RandomState(0)
    Z = rng.randint(0, 3, size=(60, 2)).astype(float)  # many ties of every kind
    radius = lambda X: np.abs(X[:, 0] - 1.0)  # noqa: E731
    coords = lambda X: X[:, ::-1]  # noqa: E731 - ties by the second column first
    order = _samples.canonical_order(Z, radius, coords)
    perm = rng.permutation(len(Z))
    order_p = _samples.canonical_order(Z[perm], radius, coords)
    np.testing.assert_array_equal(Z[perm][order_p], Z[order])
    keys = np.c_[radius(Z), Z[:, 1], Z[:, 0]][order]
    assert all(tuple(a) <= tuple(b) for a, b in zip(keys[:-1], keys[1:]))
