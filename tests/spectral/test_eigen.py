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


def lattice_laplacian(shape):
    """Laplacian of the grid graph ``shape`` (a Kronecker sum of paths) and its exact levels,
    ``sum_axes 2 - 2 cos(pi j / n)``, sorted."""
    def path(n):
        W = sparse.diags([np.ones(n - 1)] * 2, [-1, 1], shape=(n, n))
        return sparse.diags(np.asarray(W.sum(axis=1)).ravel()) - W

    L = sparse.csr_matrix((np.prod(shape),) * 2)
    for axis, n in enumerate(shape):
        factors = [sparse.identity(m) for m in shape]
        factors[axis] = path(n)
        term = factors[0]
        for f in factors[1:]:
            term = sparse.kron(term, f)
        L = L + term
    axes = [2 - 2 * np.cos(np.pi * np.arange(n) / n) for n in shape]
    exact = np.sort(np.add.outer(np.add.outer(axes[0], axes[1]), axes[2]).ravel())
    return L.tocsr(), exact


def test_unfactored_levels_of_a_lattice_are_exact():
    # a 10 x 12 x 14 grid: 1,680 nodes, no degenerate levels among the lowest 16. Measured:
    # levels within 4.3e-13 of exact, E0 8.5e-14, residuals 2.6e-10 (bounds leave room for
    # other BLAS builds)
    L, exact = lattice_laplacian((10, 12, 14))
    E, V = _eigen.lowest_unfactored(L, 16)
    np.testing.assert_allclose(E[1:], exact[1:16], rtol=1e-9)
    assert abs(E[0]) < 1e-9
    np.testing.assert_allclose(np.linalg.norm(L @ V - V * E, axis=0), 0, atol=1e-8)


def test_deep_wells_are_left_to_the_shift():
    # two 8 x 9 x 10 grids joined by one edge of weight 1e-9: the first level, 2.8e-12, is
    # below what Lanczos resolves without the shift (it read 2.72e-12: 6e-14 low); the
    # unfactored solve declines, and the graph's solver then finds it to the dense solve's
    # round-off (2e-16; atol 1e-14 as above)
    from perturbvae._spectral import _graph

    L, _ = lattice_laplacian((8, 9, 10))
    n, w = L.shape[0], 1e-9
    S = sparse.block_diag([L, L]).tolil()
    S[0, n] = S[n, 0] = -w
    S[0, 0] += w
    S[n, n] += w
    S = S.tocsr()
    assert _eigen.lowest_unfactored(S, 6) is None
    E, _ = _graph._lowest(S, 6, dim=3)
    exact = linalg.eigh(S.toarray(), eigvals_only=True, subset_by_index=[0, 5])
    assert 0 < exact[1] < 1e-11
    np.testing.assert_allclose(E[1:], exact[1:], rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("dim", [3, 6])
def test_graph_levels_with_and_without_the_factorisation_agree(dim, monkeypatch):
    # the count's graph in 3+ dimensions is solved by Lanczos without a factorisation; forced
    # back to shift-invert, the same wells and levels: two Gaussians 5 apart, one connected
    # graph of 1,500 points (measured agreement 1.7e-12 relative)
    from perturbvae._spectral import _graph

    Z = np.random.default_rng(dim).standard_normal((1500, dim))
    Z[:750, 0] += 5.0
    unfactored = _graph.fit_graph(Z, 12)
    monkeypatch.setattr(_graph, "_UNFACTORED_MIN_DIM", 99)
    factored = _graph.fit_graph(Z, 12)
    assert unfactored.n_components == 1 and unfactored.n_wells == factored.n_wells == 2
    np.testing.assert_allclose(unfactored.energies[1:], factored.energies[1:], rtol=1e-8)
