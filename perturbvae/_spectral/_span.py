"""The affine span of the samples: how many dimensions the data occupy, whatever the number
of columns (constant columns, zero padding, a rotation into more columns)."""

import numpy as np
from scipy import linalg

# Directions of the span with singular values below this fraction of the largest are null
# (the count's whitening, :func:`._neighbourhoods.whitening`, applies it to unit-variance
# columns; the graph and the landscape, which work in the units of ``Z``, to ``Z``).
NULL_RATIO = 1e-8
# Rows read for the span of a walk (:func:`span_projector`).
_SPAN_ROWS = 4000


def constant_columns(var, scale):
    """Mask of the columns whose variance ``var`` is nil to float64's digits: a spread below
    ``1e-12`` of ``scale``, the data's largest magnitude (the fit drops such columns, and the
    wells' landscape leaves them out)."""
    return var <= (1e-12 * max(float(scale), np.finfo(float).tiny)) ** 2


def affine_dimension(X):
    """The dimension of the span of the centred rows ``X``: singular values above
    :data:`NULL_RATIO` of the largest (at least 1).

    Where the number of columns stood for it, the graph's density (``rho^d``) and time scale
    (``2 d tau``) multiplied every energy by ``columns / d`` (1.33 for N(0, I_3) with a
    constant column, 5 for a ring padded to 10 columns), and the landscape's plane of a 2-d
    data set padded to 3 columns turned within the plane.
    """
    if X.shape[0] < 2 or X.shape[1] == 0:
        return max(X.shape[1], 1)
    s = linalg.svdvals(X)
    return max(int(np.sum(s > NULL_RATIO * s[0])), 1) if s[0] > 0 else 1


def span_projector(X):
    """The orthogonal projector onto the span of the centred rows ``X`` (``n_features`` x
    ``n_features``; directions as in :func:`affine_dimension`), or None where the rows span
    every direction. The walk of ``simulate`` moves only within it: across, the density is
    a point mass (infinite energies), and a walker that diffused there left the data (a
    tilted line of samples in 2-d: 21 units off it in 20 time units)."""
    if X.shape[0] < 2:
        return None
    # rows enough to span what all of them span (a fit's 50,000 rows in 64 columns took
    # 0.28 s by a full SVD): every k-th row, at least twice as many as there are columns
    step = max(1, X.shape[0] // max(_SPAN_ROWS, 2 * X.shape[1]))
    X = X[::step]
    _, s, Vt = linalg.svd(X - X.mean(axis=0), full_matrices=False)
    keep = s > NULL_RATIO * s[0] if s[0] > 0 else np.zeros(len(s), dtype=bool)
    if keep.sum() >= X.shape[1]:
        return None
    B = Vt[keep].T
    return B @ B.T
