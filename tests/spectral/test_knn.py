"""The count's neighbour query: a brute-force search from 6 dimensions, whose distances are
recomputed from the rows, so the graphs read exactly what a k-d tree gives."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from perturbvae._spectral._knn import BRUTE_MIN_DIM, neighbours


@pytest.mark.parametrize("d", [2, BRUTE_MIN_DIM, 10])
def test_neighbours_are_the_trees_to_the_last_bit(d):
    # measured: the brute-force query's own distances (|x|^2 + |y|^2 - 2 x.y) were 2e-14 to
    # 1e-12 off the tree's; recomputed from the differences they are equal, bit for bit
    rng = np.random.default_rng(d)
    Y = rng.standard_normal((700, d)) * rng.uniform(0.1, 10.0, d) + 1e3
    dist, ind = neighbours(Y, 12)
    d_ref, i_ref = NearestNeighbors(n_neighbors=12, algorithm="kd_tree").fit(Y).kneighbors()
    np.testing.assert_array_equal(ind, i_ref)
    np.testing.assert_array_equal(dist, d_ref)
    assert np.all(np.diff(dist, axis=1) >= 0)
    np.testing.assert_array_equal(neighbours(Y, 12, return_distance=False), i_ref)
