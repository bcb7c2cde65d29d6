"""Lowest levels of sparse generators (``_spectral/_eigen.py``) and the neighbourhood
reading's null level, against dense solves of the same matrices.

What is guarded: shift-invert finds the levels of wells whose barriers are so high that the
levels are 1e-10 of the diagonal (the shift sits below that scale); the null level read from
the top of the normalised adjacency is the first level of the random-walk Laplacian.
Tolerances: the solves agree with dense ``eigh`` to 1e-12 relative and to its round-off
(3e-16) for the tiny levels; 1e-8 and 1e-14 leave room for other BLAS builds. The chain's
ones are its null vector: a start along them alone lost the next level.
"""

import numpy as np
import pytest
from scipy import linalg, sparse

from perturbvae._spectral import _eigen
from perturbvae._spectral import _neighbourhoods as _nb


def chain_of_wells(n_per_well=500, n_wells=3, barrier=1e-8):
    """Generator of a walk on a path whose ``n_wells`` segments are linked by edges of
    weight ``barrier``: the first ``n_wells`` levels are of the order of ``barrier``."""
    n = n_per_well * n_wells
    w = np.ones(n - 1)
    w[n_per_well - 1::n_per_well] = barrier
    W = sparse.diags([w, w], [-1, 1], shape=(n, n))
    return (sparse.diags(np.asarray(W.sum(axis=1)).ravel()) - W).tocsc()


def test_levels_of_deep_wells_are_resolved():
    S = chain_of_wells()
    E, V = _eigen.lowest(S, 5)
    exact = linalg.eigh(S.toarray(), eigvals_only=True, subset_by_index=[0, 4])
    assert 0 < exact[1] < 1e-9 * S.diagonal().max()
    # the dense solve is itself exact only to round-off of the matrix (norm 4): 3e-16 here
    np.testing.assert_allclose(E[1:], exact[1:], rtol=1e-8, atol=1e-14)
    assert abs(E[0]) < 1e-14
    np.testing.assert_allclose(np.linalg.norm(S @ V - V * E, axis=0), 0, atol=1e-8)


@pytest.mark.parametrize("dim", [4, 8])
def test_null_level_is_the_first_level_of_the_walk(dim):
    G = np.random.default_rng(dim).standard_normal((800, dim))
    W, kept, _ = _nb.knn_graph(G, _nb.N_NEIGHBORS)
    W = W[kept][:, kept]
    E, _ = _nb._random_walk_levels(W, 3)
    assert E[1] > 0
    np.testing.assert_allclose(_nb._first_level(W), E[1], rtol=1e-8)
