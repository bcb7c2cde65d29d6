"""The Galerkin method's matrices against the definitions they discretise.

The stiffness matrix is ``A_ij = mean_n grad phi_i . grad phi_j`` and the Gram matrix
``B_ij = mean_n phi_i phi_j``, gradients in the data's own coordinates. They are checked
here against central differences of the basis functions themselves (``evaluate``), which
know nothing of the whitening the matrices are assembled in.
"""

import numpy as np
import pytest

from perturbvae._spectral import _galerkin as gal


def _finite_difference_stiffness(basis, Z, step=1e-5):
    """``mean_n sum_a d phi_i / d z_a  d phi_j / d z_a`` by central differences along the
    data's own axes ``a``."""
    A = np.zeros((basis.n_functions, basis.n_functions))
    for a in range(Z.shape[1]):
        e = np.zeros(Z.shape[1])
        e[a] = step
        G = (basis.evaluate(Z + e) - basis.evaluate(Z - e)) / (2 * step)
        A += G.T @ G
    return A / len(Z)


@pytest.mark.parametrize("seed", [0, 1])
def test_bump_basis_matrices_are_the_mean_products_of_its_functions_and_gradients(seed):
    # two anisotropic wells, stretched 5:1 and rotated: the whitened variances differ 25-fold,
    # so a stiffness that left them out is off by about that factor along one axis
    rs = np.random.RandomState(seed)
    Y = np.vstack([rs.randn(150, 2) * [1.0, 0.2] + [-3.0, 0.0],
                   rs.randn(150, 2) * [1.0, 0.2] + [3.0, 0.0]])
    theta = 0.6
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    Z = Y @ (5.0 * R) + [10.0, -4.0]
    mean, comp, var, _ = gal.whitening(Z)
    assert var.max() / var.min() > 10
    poly = gal.HermiteBasis(mean, comp, var, degree=3)
    centres, widths = gal.rbf_centres(poly.whiten(Z), 6, seed)
    basis = gal.HermiteRBFBasis(poly, centres, widths)
    A, B = basis.matrices(Z, chunk=97)  # several chunks
    F = basis.evaluate(Z)
    np.testing.assert_allclose(B, F.T @ F / len(Z), rtol=1e-12, atol=1e-14)
    # central differences at step 1e-5: measured largest difference 7e-11 and 9e-11 of A's
    # largest entry (seeds 0, 1); leaving out the whitened variances moves it by order one
    A_fd = _finite_difference_stiffness(basis, Z)
    np.testing.assert_allclose(A, A_fd, rtol=0, atol=1e-7 * np.abs(A_fd).max())


def test_polynomial_stiffness_is_the_mean_product_of_gradients():
    rs = np.random.RandomState(3)
    Z = rs.randn(400, 3) @ np.array([[4.0, 0.0, 0.0], [1.0, 0.5, 0.0], [0.0, 2.0, 0.5]])
    mean, comp, var, _ = gal.whitening(Z)
    poly = gal.HermiteBasis(mean, comp, var, degree=3)
    B, _ = poly.gram(Z)
    A = poly.stiffness(B, 1.0 / var)
    A_fd = _finite_difference_stiffness(poly, Z)
    # measured largest difference 1e-9 of A's largest entry (the cubics' truncation error
    # along the narrowest axis, standard deviation 0.12)
    np.testing.assert_allclose(A, A_fd, rtol=0, atol=1e-7 * np.abs(A_fd).max())
