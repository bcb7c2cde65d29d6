"""Agreement between embeddings, and the stability of an estimator across seeds.

A VAE's loss is unchanged when its latent axes are permuted, flipped or rotated:
two runs can learn the same latent *subspace* but different *axes*. The two
metrics below separate these cases:

- :func:`axis_agreement` compares axes with the same index, as they are;
- :func:`subspace_agreement` first applies the best linear alignment.

Their difference, measured by :func:`seed_stability` over independently
trained models, is the degeneracy that the perturbation of
:class:`perturbvae.PerturbedVAE` is meant to remove.
"""

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import Bunch, _safe_indexing, check_array, check_random_state
from sklearn.utils.random import sample_without_replacement

from ._threads import limit_threads

__all__ = ["axis_agreement", "subspace_agreement", "seed_stability"]


def _check_pair(Za, Zb):
    """Validate two embeddings of the same samples: 2-D, finite, same shape."""
    Za = check_array(Za, dtype=np.float64, ensure_min_samples=2, input_name="Za")
    Zb = check_array(Zb, dtype=np.float64, ensure_min_samples=2, input_name="Zb")
    if Za.shape != Zb.shape:
        raise ValueError(
            f"Za and Zb must have the same shape (the same samples embedded in the "
            f"same number of dimensions); got Za.shape={Za.shape} and Zb.shape={Zb.shape}."
        )
    return Za, Zb


# A column whose values spread less than this fraction of its largest magnitude is constant
# up to rounding (the fit's own rule for constant columns, ``_span.constant_columns``): 0.3
# with rounding errors of a few ulps, scaled to unit norm, had correlated its rounding
# pattern like a signal (two such columns: axis agreement 0.69 where constant ones read 0.5).
_CONSTANT_SPREAD = 1e-12


def _centre_and_scale(Z):
    """Centre each column and scale it to unit Euclidean norm.

    Subtracting the first row before the mean makes a constant column exactly
    zero (c - c == 0); a column that varies by less than :data:`_CONSTANT_SPREAD`
    of its largest magnitude (rounding) is constant too. Dividing by the maximum
    before taking the norm avoids overflow and underflow. Constant columns are
    returned as zeros.
    """
    magnitude = np.abs(Z).max(axis=0)
    Z = Z - Z[:1]
    Z -= Z.mean(axis=0)
    peak = np.abs(Z).max(axis=0)
    nonzero = peak > _CONSTANT_SPREAD * magnitude
    Z[:, nonzero] /= peak[nonzero]
    norm = np.linalg.norm(Z, axis=0)
    nonzero &= norm > 0
    Z[:, nonzero] /= norm[nonzero]
    Z[:, ~nonzero] = 0.0
    return Z


def axis_agreement(Za, Zb):
    """Mean absolute correlation of same-index axes of two embeddings.

    Axis ``i`` of ``Za`` is compared with axis ``i`` of ``Zb`` and nothing
    else: no permutation, rotation or rescaling of the axes is allowed. Only
    the sign of each axis and affine rescaling are ignored (through ``|r|``).

    Parameters
    ----------
    Za : array-like of shape (n_samples, n_components)
        First embedding of the samples.
    Zb : array-like of shape (n_samples, n_components)
        Second embedding of the same samples, in the same order.

    Returns
    -------
    agreement : float
        ``mean_i |r(Za[:, i], Zb[:, i])|``, in ``[0, 1]``. It is 1 when every
        axis of ``Zb`` is an affine function of the same axis of ``Za`` (sign
        flips included) and no axis is constant, and near 0 (about ``sqrt(2 / (pi * n_samples))``)
        for independent embeddings.

    Notes
    -----
    ``r`` is Pearson's correlation coefficient. An axis that is constant in
    ``Za`` or in ``Zb`` (up to rounding: spread below ``1e-12`` of its largest
    magnitude) carries no information; its correlation is taken as 0
    (not NaN), so it lowers the mean. The metric is symmetric in ``Za`` and
    ``Zb``.

    For embeddings that differ by a rotation of angle ``theta`` in a plane of
    two uncorrelated axes with equal variance, both axes have ``|r| =
    |cos(theta)|``: 45 degrees gives ``1 / sqrt(2)``. A permutation of
    uncorrelated axes gives 0 for the permuted ones.

    See Also
    --------
    subspace_agreement : Agreement after the best linear alignment.
    seed_stability : Both agreements between models trained with different seeds.

    Examples
    --------
    >>> import numpy as np
    >>> from perturbvae.metrics import axis_agreement
    >>> rng = np.random.RandomState(0)
    >>> Z = rng.normal(size=(500, 2))
    >>> round(axis_agreement(Z, -3 * Z + 1), 6)  # sign flips, affine maps ignored
    1.0
    >>> round(axis_agreement(Z, Z[:, ::-1]), 2)  # swapped axes do not agree
    0.01
    """
    Za, Zb = _check_pair(Za, Zb)
    A, B = _centre_and_scale(Za), _centre_and_scale(Zb)
    r = np.clip(np.abs(np.einsum("ij,ij->j", A, B)), 0.0, 1.0)
    return float(r.mean())


def _column_space(Z):
    """Orthonormal basis of the column space of a centred, column-scaled ``Z``."""
    U, s, _ = np.linalg.svd(Z, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return U[:, :0]
    # Same rank threshold as numpy.linalg.matrix_rank.
    rank = int(np.sum(s > s[0] * max(Z.shape) * np.finfo(Z.dtype).eps))
    return U[:, :rank]


def subspace_agreement(Za, Zb):
    """Mean canonical correlation of two embeddings: agreement up to a linear map.

    The embeddings are first aligned by the best linear maps (canonical
    correlation analysis), so any rotation, permutation, sign flip or
    invertible rescaling of the axes of either embedding is forgiven. What
    remains is whether the two embeddings span the same subspace of functions
    of the samples.

    Parameters
    ----------
    Za : array-like of shape (n_samples, n_components)
        First embedding of the samples.
    Zb : array-like of shape (n_samples, n_components)
        Second embedding of the same samples, in the same order.

    Returns
    -------
    agreement : float
        ``sum_k rho_k / n_components`` where ``rho_k`` are the canonical
        correlations of the centred embeddings, in ``[0, 1]``. It is 1 when
        each embedding is an invertible affine function of the other and both
        have full rank (no constant axis, no axis a combination of the others).

    Notes
    -----
    The canonical correlations are the singular values of ``Ua.T @ Ub``, where
    ``Ua`` and ``Ub`` are orthonormal bases (from an SVD) of the column spaces
    of the centred embeddings. Using orthonormal bases instead of inverting
    covariance matrices keeps the computation stable. A rank-deficient
    embedding (a constant axis, or an axis that is a linear combination of the
    others) has fewer canonical correlations; the missing ones count as 0, so
    that, as in :func:`axis_agreement`, a constant axis lowers the mean. The
    value is invariant to any invertible linear (or affine) map of either
    embedding, up to rounding, and symmetric in ``Za`` and ``Zb``.

    ``subspace_agreement(Za, Zb) >= axis_agreement(Za, Zb)`` holds whenever the
    axes *within* each embedding are uncorrelated (PCA scores, whitened codes):
    the same-index correlations are then the diagonal of ``Ua.T @ Ub`` in a
    suitable basis, and the sum of the absolute diagonal entries of a matrix is
    at most the sum of its singular values (von Neumann's trace inequality). It
    does *not* hold in general: two embeddings whose axes are strongly
    correlated among themselves can agree axis by axis while spanning different
    subspaces (``[x, x + 0.01 y]`` against ``[x, x + 0.01 w]``: axis agreement
    near 1, subspace agreement near 0.5).

    Canonical correlations of independent embeddings are biased upwards by
    chance: their root mean square is about ``sqrt(n_components / n_samples)``
    (their mean is somewhat lower: 0.084 for 10 components of 1,000 samples,
    0.19 for 5 of 100). With
    ``n_samples <= n_components`` every embedding spans the whole centred
    sample space and the value is meaningless.

    See Also
    --------
    axis_agreement : Agreement of same-index axes, without any alignment.
    seed_stability : Both agreements between models trained with different seeds.

    Examples
    --------
    >>> import numpy as np
    >>> from perturbvae.metrics import axis_agreement, subspace_agreement
    >>> rng = np.random.RandomState(0)
    >>> Z = rng.normal(size=(500, 2))
    >>> c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    >>> Z_rot = Z @ np.array([[c, -s], [s, c]])
    >>> round(subspace_agreement(Z, Z_rot), 6)  # a rotation is forgiven
    1.0
    >>> round(axis_agreement(Z, Z_rot), 2)  # but not axis by axis: ~cos(45 deg)
    0.71
    """
    Za, Zb = _check_pair(Za, Zb)
    Ua = _column_space(_centre_and_scale(Za))
    Ub = _column_space(_centre_and_scale(Zb))
    if Ua.shape[1] == 0 or Ub.shape[1] == 0:
        return 0.0
    rho = np.clip(np.linalg.svd(Ua.T @ Ub, compute_uv=False), 0.0, 1.0)
    return float(rho.sum() / Za.shape[1])


def _fit_transform_one(estimator, X, seed, fit_indices):
    """Fit a clone with ``random_state=seed`` and embed the full ``X``.

    Runs with one BLAS/OpenMP thread and one torch thread, restored afterwards:
    parallel workers that each start a thread per core oversubscribe the
    machine (10x slower or worse on a small one).
    """
    # limit_threads touches torch only when it is imported: an estimator that
    # uses torch has imported it by now (unpickling its class imports its
    # module), and importing it for a numpy estimator would cost seconds.
    with limit_threads(1):
        model = clone(estimator)
        model.set_params(**dict.fromkeys(_seed_parameters(model), seed))
        X_fit = X if fit_indices is None else _safe_indexing(X, fit_indices)
        model.fit(X_fit)
        Z = np.asarray(model.transform(X), dtype=np.float64)
    return Z


def _seed_parameters(estimator):
    """The names of the ``random_state`` parameters of ``estimator`` and of the estimators
    in it (a Pipeline's steps: ``pca__random_state``); each fit gives them all its seed.
    Seeds under other names (``seed``, ``rng``) are not found."""
    return [name for name in estimator.get_params(deep=True)
            if name == "random_state" or name.endswith("__random_state")]


def _pairwise_agreement(embeddings):
    """Symmetric (axis, subspace) agreement matrices of a list of embeddings, each with
    itself on the diagonal (1 but for constant or dependent axes)."""
    n = len(embeddings)
    axis, subspace = np.empty((n, n)), np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            axis[i, j] = axis[j, i] = axis_agreement(embeddings[i], embeddings[j])
            subspace[i, j] = subspace[j, i] = subspace_agreement(embeddings[i], embeddings[j])
    return axis, subspace


def _check_same_shape(embeddings, seeds):
    """Embeddings of different shapes cannot be compared: say which fits differ."""
    dims = [Z.shape[1] for Z in embeddings]
    if len(set(dims)) > 1:
        found = ", ".join(f"seed {int(s)}: {d}" for s, d in zip(seeds, dims))
        raise ValueError(
            f"The fits embedded X in different numbers of dimensions ({found}): the "
            "estimator chose its number of components on each fit (as PCA does with a "
            "fraction of variance for n_components). The agreements compare embeddings of "
            "one shape; set a fixed number of components.")


def _pair_mean(M):
    """Mean of the strictly upper triangle of a square matrix (pairs i < j)."""
    i, j = np.triu_indices(M.shape[0], k=1)
    return float(M[i, j].mean())


def seed_stability(
    estimator, X, n_seeds=5, n_jobs=None, *, subsample=None, random_state=None
):
    """Agreement between copies of an estimator fitted with different seeds.

    Fits ``n_seeds`` clones of ``estimator`` that differ only in their
    ``random_state`` (and, with ``subsample``, in the subsample they see),
    embeds the full ``X`` with each, and compares every pair of embeddings
    with :func:`axis_agreement` and :func:`subspace_agreement`.

    Parameters
    ----------
    estimator : estimator object
        An unfitted transformer with a ``random_state`` parameter and
        ``fit``/``transform`` methods (e.g. ``PerturbedVAE``, ``PCA``,
        ``FastICA``), or one holding such estimators (a ``Pipeline``: every
        ``random_state`` in it gets each fit's seed, the same for every step;
        seeds under other names are left as they are). It is cloned, never
        fitted itself.
    X : array-like of shape (n_samples, n_features)
        Data to fit and embed. Passed to the estimator as is (a DataFrame stays
        a DataFrame).
    n_seeds : int, default=5
        Number of fits, at least 2.
    n_jobs : int, default=None
        Number of fits run in parallel by :class:`joblib.Parallel`. ``None``
        means 1 unless in a :func:`joblib.parallel_config` context (e.g.
        ``backend="dask"`` to run the fits on a Dask cluster); ``-1`` uses all
        processors. Each fit runs with one BLAS thread and one torch thread.
    subsample : float or int, default=None
        If given, each clone is fitted on its own random subsample of ``X``
        without replacement: a fraction of the samples for a float in
        ``(0, 1]``, a number of samples for an int. All clones still embed the
        full ``X``, so that the embeddings are compared on the same samples.
        This measures stability to the data as well as to the seed.
    random_state : int, RandomState instance or None, default=None
        Draws the seeds passed to the clones and the subsamples. Pass an int
        for reproducible results.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        axis : ndarray of shape (n_seeds, n_seeds)
            ``axis[i, j]`` is :func:`axis_agreement` of the embeddings of fits
            ``i`` and ``j``; symmetric. The diagonal is each embedding's
            agreement with itself: 1, but less where it has constant axes.
        subspace : ndarray of shape (n_seeds, n_seeds)
            ``subspace[i, j]`` is :func:`subspace_agreement` of fits ``i`` and
            ``j``; symmetric. The diagonal is 1, but less where an embedding has
            constant axes or axes that combine others.
        axis_mean : float
            Mean of ``axis`` over the pairs ``i < j``: how well two runs agree
            axis by axis, as their users would read them.
        subspace_mean : float
            Mean of ``subspace`` over the pairs ``i < j``: how well two runs
            agree on *what* they represent, whatever the axes.
        degeneracy : float
            ``subspace_mean - axis_mean``.
        embeddings : list of ndarray of shape (n_samples, n_components)
            The embedding of the full ``X`` by each fit.
        seeds : ndarray of shape (n_seeds,)
            The ``random_state`` given to each fit.

    Notes
    -----
    Why the difference measures the degeneracy: if the loss of a model is
    unchanged by a rotation, permutation or sign flip of its axes, two runs
    end up at arbitrary, different points of that set of equivalent
    solutions. They represent the same information (high subspace agreement)
    on different axes (lower axis agreement). Sign flips are not counted,
    since both metrics use absolute correlations. A non-degenerate method
    (PCA with distinct variances, whose signs are fixed by ``svd_flip``) has
    ``axis_mean`` close to ``subspace_mean`` and ``degeneracy`` near 0; a
    plain VAE has a large ``degeneracy``. A low ``subspace_mean`` means
    something else: the runs disagree on the information itself (a bad
    optimum, too little data), which no choice of axes would fix.

    ``degeneracy`` can be slightly negative when the axes within an embedding
    are correlated with each other (see :func:`subspace_agreement`).

    See Also
    --------
    axis_agreement : Agreement of same-index axes.
    subspace_agreement : Agreement after the best linear alignment.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from perturbvae.metrics import seed_stability
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 5)) * [5.0, 3.0, 1.0, 0.5, 0.2]
    >>> pca = PCA(n_components=2, svd_solver="randomized")
    >>> result = seed_stability(pca, X, n_seeds=3, subsample=0.8, random_state=0)
    >>> result.axis.shape
    (3, 3)
    >>> round(result.axis_mean, 2), round(result.subspace_mean, 2)
    (1.0, 1.0)
    >>> abs(result.degeneracy) < 0.01
    True
    """
    if not isinstance(n_seeds, (int, np.integer)) or isinstance(n_seeds, bool):
        raise ValueError(f"n_seeds must be an integer >= 2; got {n_seeds!r}.")
    if n_seeds < 2:
        raise ValueError(f"n_seeds must be >= 2 to form pairs; got {n_seeds}.")
    if not (hasattr(estimator, "fit") and hasattr(estimator, "transform")):
        raise ValueError(
            f"estimator must be a transformer with fit and transform methods; "
            f"got {type(estimator).__name__}."
        )
    if not _seed_parameters(estimator):
        raise ValueError(
            f"estimator {type(estimator).__name__} has no random_state parameter (nor "
            "does any estimator in it), so its seeds cannot be varied."
        )
    if not hasattr(X, "shape") or len(X.shape) != 2:
        X = check_array(X, dtype=None, ensure_all_finite=False, input_name="X")
    n_samples = X.shape[0]

    rng = check_random_state(random_state)
    seeds = sample_without_replacement(
        np.iinfo(np.int32).max, n_seeds, random_state=rng
    ).astype(np.int64)

    fit_indices = [None] * n_seeds
    if subsample is not None:
        if isinstance(subsample, (float, np.floating)):
            if not 0.0 < subsample <= 1.0:
                raise ValueError(
                    f"subsample as a fraction must be in (0, 1]; got {subsample}."
                )
            n_fit = max(int(round(subsample * n_samples)), 2)
        elif isinstance(subsample, (int, np.integer)) and not isinstance(subsample, bool):
            if not 2 <= subsample <= n_samples:
                raise ValueError(
                    f"subsample as a number of samples must be in [2, {n_samples}]; "
                    f"got {subsample}."
                )
            n_fit = int(subsample)
        else:
            raise ValueError(
                f"subsample must be a float in (0, 1], an int or None; got {subsample!r}."
            )
        # Sorted indices keep the original sample order within each subsample.
        fit_indices = [
            np.sort(rng.choice(n_samples, size=n_fit, replace=False))
            for _ in range(n_seeds)
        ]

    embeddings = Parallel(n_jobs=n_jobs)(
        delayed(_fit_transform_one)(estimator, X, int(seed), idx)
        for seed, idx in zip(seeds, fit_indices)
    )

    _check_same_shape(embeddings, seeds)
    axis, subspace = _pairwise_agreement(embeddings)
    axis_mean, subspace_mean = _pair_mean(axis), _pair_mean(subspace)
    return Bunch(
        axis=axis,
        subspace=subspace,
        axis_mean=axis_mean,
        subspace_mean=subspace_mean,
        degeneracy=subspace_mean - axis_mean,
        embeddings=embeddings,
        seeds=seeds,
    )
