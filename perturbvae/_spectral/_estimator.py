"""Hamiltonian spectrum, multiplets and energy landscape of an embedding."""

# The maths is in docs/theory.rst: the density p of an embedding is the ground state
# psi0 = sqrt(p) of H = -Lap + V with V = Lap psi0 / psi0; conjugated by psi0, H is minus the
# generator L = Lap + grad log p . grad of the Langevin diffusion, estimated here from samples.

import dataclasses
import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _get_feature_names,
    check_array,
    check_is_fitted,
)

from .._fit_state import fitted_state_kept_on_error
from .._numeric import validate_numbers
from .._warn import RatesWarning, warn_user
from . import _count, _dequantize, _flags, _graph, _spectrum, _wells
from . import _density as _land
from . import _neighbourhoods as _nb
from . import _samples as _rows
from ._finite_volumes import landscape_levels
from ._langevin import langevin
from ._multiplets import ground_multiplet, group_levels, shows_gap
from ._rates import format_wells, weights_of_groups
from ._span import constant_columns, span_projector

# Points of the kernel density estimate behind ``score``.
_KDE_LANDMARKS = 2000
# method="auto" reads the graph where removing the galerkin basis's outermost shell moves the
# levels by more than this
_AUTO_MAX_CHANGE = 0.25
# outliers (isolated groups the count finds) are left out of the fit up to this fraction;
# more are part of the data's shape and stay
_OUTLIER_MAX_FRACTION = 0.05
# draws of as many other rows dropped before copies are said to change the count
_COPY_CONTROLS = 3
# Largest |Z| accepted by fit: squared distances and covariances of larger values overflow.
_MAX_ABS = 1e150
# ... and below this they underflow (1e-160 crashed inside the basis; 1e-170 read as identical)
_MIN_ABS = 1e-150


# A well narrower than this share of the data's mean variance along a direction is a sheet
# for simulate's message (the covariance floor of the wells' Gaussians is 1e-6 of it).
_SHEET_VARIANCE = 1e-4


class SpectralDegeneracy(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    r"""Energy spectrum, wells and the dynamics between them, of an embedding's density.

    Reads the density ``p`` of the samples ``Z`` as the ground state ``psi0 = sqrt(p)`` of the
    Hamiltonian ``H = -Lap + V`` with ``V = Lap psi0 / psi0`` (so ``H psi0 = 0``) and estimates
    its lowest eigenvalues (see :doc:`/theory`). Degenerate multiplets reveal symmetries; the
    wells (metastable states) of the data are counted and labelled, and the rates of the
    Langevin diffusion between them read off. ``transform`` returns the eigenfunction
    coordinates of the excited levels, for new points too.

    Parameters
    ----------
    n_levels : int, default=10
        Number of lowest energy levels to estimate, the ground state included; at least one
        more than the wells (counted or given) are estimated, so that each well has its
        level. Fewer are found where the samples support fewer (``len(energies_)``). The
        well count reads the same levels, so it can change with them where its gaps are
        close (a 3-d UMAP of biopsy read 7 wells at 10 and 20 levels, 6 at 40).

    n_components : int, default=None
        Number of output coordinates of ``transform``: the eigenfunctions of levels
        ``1..n_components`` (the constant ground state is left out). ``None`` takes
        ``min(n_features, n_levels_found - 1)``.

    method : {"auto", "galerkin", "graph"}, default="auto"
        Estimator of the spectrum.

        - ``"galerkin"``: Rayleigh-Ritz in a basis of Hermite polynomials of the whitened
          coordinates (plus Gaussian bumps when there are several wells); linear in the
          number of samples, exact for Gaussians up to sampling noise.
        - ``"graph"``: variable-bandwidth diffusion map on a k-nearest-neighbour graph,
          normalised to the Langevin generator and extended to new points by one step of the
          chain; any shape of density, at least 50 distinct samples.
        - ``"auto"``: ``"galerkin"``, unless its basis is clearly too small (its outermost
          shell still moves the levels by more than 25 %; between 5 % and 25 %
          ``levels_converged_`` is False) or its levels do not show wells that the
          density reading of the count found (no gap of ratio >= 6 above them: wells that
          wrap around or lie along each other, such as two moons); then ``"graph"``.

        The method used is in ``method_``. The well count does not depend on it.

    n_wells : int or "auto", default="auto"
        Number of wells. ``"auto"`` counts them (see ``n_ground_states_``); a user who knows
        the number of states gives it, as ``n_clusters`` of k-means or ``m`` of PCCA+:
        labels, memberships and rates then have that many wells. Fewer than the density
        reads lump its wells by PCCA+ on their rate matrix; more than its levels back are
        finer states whose rates are rough (said). Either way its levels and landscape stay
        the density's (see the user guide). ``score`` does not depend on it, so
        ``GridSearchCV`` cannot choose it.

    bandwidth : float or "auto", default="auto"
        Length ``s`` of the Gaussian kernel density estimate behind ``score`` (tune it with
        ``GridSearchCV``); ``"auto"`` is the width of largest leave-one-out likelihood on
        (up to 500 of) the distinct landmarks, scaled to all of them by the estimate's rate
        ``m^(-1 / (d + 4))``: within 0.04 nats per point of scikit-learn's
        ``KernelDensity`` tuned by ``GridSearchCV`` on held-out rows of iris, wine, digits'
        PCA-2 and Gaussian data, 0.15-0.36 on digits' PCA-10 and breast cancer. Nothing
        else depends on it.

    n_neighbors : int, default=None
        Neighbours per point of the graph method, at least 16 (each point's bandwidth is
        read from its 16 nearest; with 1 to 3 the graph fell apart into zero levels) and
        fewer than ``n_samples``. ``None`` gives 48.

    degeneracy_tol : float or "auto", default="auto"
        Relative tolerance to group levels into one multiplet: a level joins the multiplet of
        the lowest level ``E0`` above the ground multiplet while ``E <= (1 + tol) E0``.
        ``"auto"`` is ``max(0.1, 4 * sqrt(d / n))``, the spread of sample-covariance
        eigenvalues (Marchenko-Pastur) that splits the oscillator's degenerate levels.

    max_samples : int, default=None
        Landmark subsample of the graph method (the other points are reached by the
        Nystroem extension) and of the bump basis, at least 50 (the graph's minimum).
        ``None`` uses up to 10,000 points for the graph, 50,000 for the bumps, and all points
        for the polynomial basis.

    degree : int, default=None
        Total degree of the galerkin polynomial basis. ``None`` adapts it to the data: the
        Hermite functions whose moment-matched Gaussian energy is at most twice that of the
        ``n_levels``-th Gaussian level, within ``min(300, n_samples / 20)`` functions.

    basis : {"auto", "hermite", "hermite+rbf"}, default="auto"
        Galerkin basis: Hermite polynomials, or polynomials of degree <= 2 (``degree`` if
        given) plus Gaussian bumps on k-means centres. ``"auto"`` adds the bumps when the
        count finds several wells.

    random_state : int, RandomState instance or None, default=None
        Seeds the subsamples (pilot graph, landmarks), k-means and the eigensolver start.

    n_jobs : int, default=None
        Parallel jobs of the nearest-neighbour searches.

    Attributes
    ----------
    energies_ : ndarray of shape (n_levels_found,)
        Lowest energies, ascending; ``energies_[0]`` is 0. ``n_levels_found`` is
        ``max(n_levels, n_ground_states_ + 1)``, or fewer where the basis functions the
        samples support are fewer (small samples with ``method="galerkin"``).
        ``N(0, s^2 I)`` gives ``n / s^2``; scaling ``Z`` by ``c`` scales them by
        ``1 / c^2``. With several wells, the levels of the ground multiplet (the rates between
        wells) are solved by finite volumes on the density near the barriers, which the
        spectrum of the samples cannot resolve: a binned kernel density estimate of the
        samples where they reach, the wells' fitted Gaussian mixture where no sample does (see
        ``ground_levels_source_``, ``rates_error_bound_``).

    energies_sampled_ : ndarray of shape (n_levels_found,)
        The levels as read from the samples alone.

    ground_levels_source_ : str
        One of "landscape", "landscape marginal", "graph components", "samples",
        "neighbourhoods": where ``energies_[1:n_ground_states_]`` and ``rate_matrix_``
        come from: the density near the barriers solved by finite volumes (1-d, 2-d, and
        3-d where the wells' centres are off a plane), its marginal on the wells' plane or,
        for centres off a plane, their 3-space (upper bounds, above), the graph's separated
        components (zero rates), the
        samples (one well; or, with a warning, when the landscape could not be used), or,
        for wells that only the neighbourhoods separate (no valley of ``p``, so no gap in its
        spectrum backs them), the generator projected onto their memberships: read such
        rates as which wells touch, not as waiting times (``rates_error_bound_`` is inf).
        Where no sample reaches a barrier, the mixture extrapolates each well's tails as
        Gaussian: wells with heavier tails then get rates that are too slow.

    rates_error_bound_ : float
        Measured relative error bound of ``energies_[1:n_ground_states_]`` (and so of the
        rates): the rms relative difference between the levels of two random halves of the
        samples over four random splits, each half with its own refit of the wells' mixture
        (about twice the full sample's standard error) plus
        the relative change between 0.7 and 1.4 times the kernel bandwidth over 1.47 (a
        smoothing bias growing like the bandwidth squared), plus, on a 3-d grid,
        the change on a grid of half the cells an axis, the largest over the
        levels, and at least the relative miss of those levels by ``rate_matrix_``'s
        relaxation rates. Above 0.3 the fit warns. ``nan`` where not measured (one well, source
        "samples", wells off a 3-space). ``inf`` where the rates have no measured bound: for
        wells that only the neighbourhoods separate (source "neighbourhoods", which says
        so; no warning), and, with a warning, where the rates are zero because no sample
        links the wells (source "graph components"), for wells whose hops are not the
        lowest excited levels (motions inside them are slower, e.g. wells stretched along
        their barrier), and across barriers no sample visits (an extrapolation). A rate
        matrix with no rate between some groups of wells (mean first passage times inf)
        warns too. It does not hold the error of a marginal (source "landscape marginal")
        whose wells differ across its plane, whose levels are upper bounds: where their
        spreads across differ more than 1.5 times, the fit says so. It is a measurement, not
        a guarantee (``benchmarks/dynamics_validation.py``): a barrier narrower than the
        kernel is smoothed at 0.7 and 1.4 times the bandwidth alike (one of width 0.15
        between quartic wells read twice the exact rate with a bound of 0.16 at 20,000
        samples).

    multiplets_ : list of ndarray of int
        Indices of the levels grouped as degenerate; the first is the ground multiplet.

    degeneracies_ : ndarray of int
        Sizes of ``multiplets_``.

    n_ground_states_ : int
        The number of wells. Read on a pilot subsample of at most 2,000 points in whitened
        coordinates (so that units, rotations and shifts of ``Z`` change neither the count
        nor the labels), by two readings (``count_reading_``):

        - ``"density"``: the variable-bandwidth graph of the density: each connected
          component is a well at least, and inside a component the wells are the levels
          below the last relative gap ``E[k] / mean(E[s:k])`` above 6, i.e. states whose
          mutual rates are six times slower than any motion inside them (a single Gaussian
          gives at most 2, separated wells orders of magnitude more). Groups of fewer than
          16 points or 1 % of them (whichever is more) are outliers, not wells.
        - ``"neighbourhoods"``, where the density reads one well and the data's local
          dimension is at least 4: the slow modes of a random walk on the 10-nearest-
          neighbour graph that lie below half the slowest mode of one Gaussian cloud of the
          same dimension and size: groups that neighbourhoods keep apart though the density
          between them does not vanish (the classes of a VAE embedding).

        ``"given"`` when ``n_wells`` is set; ``"levels"`` below 50 samples, where the gap rule
        reads the spectrum's own levels.

    count_reading_ : {"density", "neighbourhoods", "given", "levels"}
        Which reading decided ``n_ground_states_`` (see above).

    ground_gap_ : float
        The separation that decided the count: for the density reading, the weakest relative
        gap inside a graph component (``inf`` when separated components alone made the count;
        for one well, the largest ratio seen); for the neighbourhood reading, how far the
        highest counted level lies below the null (a ratio > 2).

    n_ground_states_resampled_ : ndarray of int
        The count on 4 random 80 % subsamples of the pilot: its uncertainty (rounded
        values, spread over their cells by a random draw, are drawn again for each). Where
        they differ from ``n_ground_states_`` a warning names the alternatives. Where nothing is
        resampled (``n_wells`` given, or fewer than 63 samples: 80 % of them must reach
        the 50 the count needs) it holds the count alone.

    n_ground_states_agreement_ : float
        Fraction of ``n_ground_states_resampled_`` equal to ``n_ground_states_``.

    levels_converged_ : bool or None
        Whether the galerkin levels moved by less than 5 % when the outermost shell of the
        adaptive basis was removed (for the basis with bumps of several wells,
        ``basis_ == "hermite+rbf"``: its polynomials of the highest degree); ``None`` where
        not checked and after a graph fit. The bump basis is made for the ground multiplet; its
        excited levels rarely converge and then read False (two uniform cubes 6 apart:
        2.43-3.02 for the six-fold 2.47; two Gaussians of widths 1 and 0.5: 1.01, 1.23,
        2.22, 2.69 for 1, 1, 4, 4).

    method_ : str
        The method used (``"galerkin"`` or ``"graph"``).

    basis_, degree_, shrinkage_ : str, int, float
        Galerkin basis, its polynomial degree, and the Ledoit-Wolf shrinkage of its Gram
        matrix towards the moment-matched Gaussian; ``None`` after a graph fit.

    degeneracy_tol_ : float
        Relative tolerance used to group ``multiplets_``.

    bandwidth_ : float
        Length of the kernel density estimate used by ``score``.

    n_components_ : int
        Number of output coordinates of ``transform``.

    embedding_ : ndarray of shape (n_samples, n_components_)
        Fitted eigenfunctions at the training points.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``Z`` has string column names.

    labels_ : ndarray of shape (n_samples,)
        Well of each training point (largest membership; all 0 for one well).

    memberships_ : ndarray of shape (n_samples, n_ground_states_)
        Soft memberships of the training points in the wells, rows summing to 1: PCCA+ on the
        slow eigenvectors of the graph that counted them (density reading), or the states of
        the neighbourhood graph (neighbourhood reading, or ``n_wells`` given).

    rate_matrix_ : ndarray of shape (n_ground_states_, n_ground_states_)
        Generator of the hops between wells: ``rate_matrix_[i, j]`` (``i != j``) is the rate
        from well ``i`` to ``j``, rows sum to 0, detailed balance holds. Rates are per unit
        time of ``dz = grad log p dt + sqrt(2) dW`` in the coordinates of ``Z`` (a rate ``r``
        is a mean waiting time ``1 / r``; scaling ``Z`` by ``c`` scales rates by ``1 / c^2``).
        A warning says when its relaxation rates miss the ground multiplet by more than 30 %.

    stationary_distribution_ : ndarray of shape (n_ground_states_,)
        Weight of each well (the stationary law of ``rate_matrix_``; groups of wells that no
        rate joins weigh the samples' shares of them).

    mean_first_passage_times_ : ndarray of shape (n_ground_states_, n_ground_states_)
        Mean time to first reach well ``j`` from well ``i``, same time unit.

    See Also
    --------
    sklearn.manifold.SpectralEmbedding : Laplacian eigenmaps, without out-of-sample transform
        or physical units.
    sklearn.cluster.HDBSCAN : density-based clusters, without rates or a spectrum.
    perturbvae.PerturbedVAE : embeddings whose spectrum this estimator reads.

    Notes
    -----
    **Galerkin.** For ``f = phi / psi0``, ``<phi, H phi> = E_p[|grad f|^2]``, so for a basis
    ``phi_1..phi_m`` the Ritz values of ``A c = E B c`` with
    ``A_ij = mean_k grad phi_i(z_k) . grad phi_j(z_k)`` and
    ``B_ij = mean_k phi_i(z_k) phi_j(z_k)`` are the energies themselves. One pass over the
    samples gives ``B`` (``A`` follows from it exactly for Hermite functions): time
    ``O(n m^2)``, memory ``O(m^2)``. ``B`` is shrunk towards the identity (the exact ``B`` of
    the moment-matched Gaussian) with the Ledoit-Wolf intensity read on its degree <= 2 block.

    **Graph.** With kernel degrees ``q``, ``K_a = q^-a K q^-a`` and ``P = D^-1 K_a``,
    ``P ~ exp(t L)`` (Coifman & Lafon; Berry & Harlim for the variable bandwidth); the step
    ``t`` is measured from the chain's mean squared displacement ``2 d t``, so ``E = -log(mu)
    / t`` needs no bandwidth constant. Each connected component is solved on its own.

    **Landscape.** ``potential`` is ``V = Lap log p / 2 + |grad log p|^2 / 4`` of a smooth
    ``log p``: score-matched in a Hermite basis with one well (exact for a Gaussian), a
    Gaussian mixture fitted well by well with several; in 1-d and 2-d, a polynomial ``log p``
    (quartic in 2-d, of degree ``2 k`` for ``k`` wells in 1-d)
    score-matched over all the wells instead where its held-out Hyvaerinen score (twice the
    mean ``V`` on rows it was not fitted on) is the lower, as for wells that are not
    Gaussian. The rates and ``simulate`` read the samples' own density where they reach,
    and that polynomial (else the mixture) across barriers no sample reaches.

    **Repeated rows.** A data set repeated k times has the same density, so the same answer.
    Rounded or discrete values (fewer than half the rows distinct, unevenly repeated, or any
    repeated rows where every column lies on a grid of its own step, such as integer scores)
    are spread uniformly over their rounding cells first. Both cases warn.

    Measured accuracy (levels against closed forms, counts against known topologies and
    labelled real data beside HDBSCAN, k-means and Gaussian mixtures) is in the user guide
    (the sections on the spectrum, the well count, the landscape, the rates, and the walk
    through the digits) and ``benchmarks/README.md``.

    References
    ----------
    .. [1] R. R. Coifman and S. Lafon, "Diffusion maps", Applied and Computational Harmonic
       Analysis 21 (2006) 5-30.
    .. [2] T. Berry and J. Harlim, "Variable bandwidth diffusion kernels", Applied and
       Computational Harmonic Analysis 40 (2016) 68-96.
    .. [3] S. Roeblitz and M. Weber, "Fuzzy spectral clustering by PCCA+", Advances in Data
       Analysis and Classification 7 (2013) 147-179.
    .. [4] E. Levina and P. Bickel, "Maximum likelihood estimation of intrinsic dimension",
       NIPS 2004.
    .. [5] H. Andrés-Terré and P. Lió, "Perturbation theory approach to study the latent
       space degeneracy of Variational Autoencoders" (2019), arXiv:1907.05267.

    Examples
    --------
    >>> import numpy as np
    >>> from perturbvae import SpectralDegeneracy
    >>> Z = np.random.default_rng(0).normal(size=(2000, 2))
    >>> sd = SpectralDegeneracy(n_levels=6, random_state=0).fit(Z)
    >>> sd.method_, sd.n_ground_states_
    ('galerkin', 1)
    >>> np.round(sd.energies_).tolist()
    [0.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    >>> sd.degeneracies_.tolist()
    [1, 2, 3]
    >>> sd.transform(Z[:3]).shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        "n_levels": [Interval(Integral, 2, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "n_wells": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "method": [StrOptions({"auto", "galerkin", "graph"})],
        "bandwidth": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "n_neighbors": [Interval(Integral, _graph.K_SCALE, None, closed="left"), None],
        "degeneracy_tol": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "max_samples": [Interval(Integral, _count.MIN_SAMPLES, None, closed="left"), None],
        "degree": [Interval(Integral, 1, None, closed="left"), None],
        "basis": [StrOptions({"auto", "hermite", "hermite+rbf"})],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_levels=10,
        *,
        n_components=None,
        method="auto",
        n_wells="auto",
        bandwidth="auto",
        n_neighbors=None,
        degeneracy_tol="auto",
        max_samples=None,
        degree=None,
        basis="auto",
        random_state=None,
        n_jobs=None,
    ):
        self.n_levels = n_levels
        self.n_components = n_components
        self.method = method
        self.n_wells = n_wells
        self.bandwidth = bandwidth
        self.n_neighbors = n_neighbors
        self.degeneracy_tol = degeneracy_tol
        self.max_samples = max_samples
        self.degree = degree
        self.basis = basis
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, Z, y=None):
        """Estimate the spectrum of the density of ``Z``, its wells and their rates.

        Parameters
        ----------
        Z : array-like or dask array of shape (n_samples, n_features)
            Samples (latent codes). A dask array is read block by block (its row blocks, on
            the active scheduler): the sums behind the levels (mean, covariance, Gram
            matrix) and per-row values are computed there, subsamples (pilot graph, landscape,
            landmarks) are gathered; ``embedding_`` and ``memberships_`` are numpy arrays.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        # a fit that fails part way (a well too small for its landscape), or is interrupted,
        # leaves the fitted model as it was, not half replaced
        with fitted_state_kept_on_error(self, errors=BaseException):
            return self._fit(Z)

    def _fit(self, Z):
        Z = self._validate_fit_input(Z)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        Z_all = Z
        Z, samples, redraw = self._read_samples(Z, seed)
        count = self._count_wells(Z, samples, seed, redraw)
        Z, samples = self._drop_outliers(Z, samples, count.outliers)
        fine = _count.fine_count(count)  # the density's wells first, whatever is given
        spectrum = self._fit_spectrum(Z, samples, fine, seed)
        self._set_ground_multiplet(fine, Z.shape[1], samples.n_eff)
        self._fit_kde(Z, samples, seed)
        self._fit_wells(Z, Z_all, samples, fine, seed)
        if fine is not count and count.n_wells < fine.n_wells:
            self._lump_wells(count, Z.shape[1], samples.n_eff)
        elif fine is not count:
            self._split_wells(count, Z, Z_all, seed, samples.n_eff)
        _flags.empty_wells(self.labels_, self.memberships_)
        _flags.discrete_columns(Z_all, self.labels_,
                                getattr(self, "feature_names_in_", range(Z_all.shape[1])))
        if self.ground_levels_source_ != "graph components":  # said there already
            _flags.split_rates(self.rate_matrix_, self.ground_levels_source_)
        self._coordinate_scale = None
        F = self._transform(Z_all)
        if self.method_ == "graph":
            # the graph's eigenvectors are normalised under its own measure, and their
            # one-step extension smooths them: unit mean square at the training points, as
            # transform says (a 2-d Gaussian's two coordinates read 0.06 and 0.50)
            self._coordinate_scale = np.maximum(np.sqrt(np.mean(F**2, axis=0)),
                                                np.finfo(float).tiny)
            F = F / self._coordinate_scale
        self.embedding_ = F
        del spectrum
        return self

    def _validate_fit_input(self, Z):
        """``Z`` as float64 (numpy, or a dask array read block by block), checked before any
        work: sample count, magnitudes that over- or underflow, constant columns."""
        if _rows.is_dask(Z):  # read block by block, never loaded whole
            Z = _rows.check_dask(Z)
            _check_feature_names(self, Z, reset=True)
            _check_n_features(self, Z, reset=True)
        else:
            Z = validate_numbers(self, Z, "Z", dtype=np.float64, ensure_min_samples=1)
        n, d = Z.shape
        if self.n_wells != "auto" and self.n_wells > n // 2:
            raise ValueError(
                f"n_wells={self.n_wells} asks for more wells than n_samples={n} can hold: "
                f"each well needs at least 2 samples (n_wells <= {n // 2}).")
        # (below the graph's minimum of samples, that is the error: _read_samples)
        if self.n_neighbors is not None and self.n_neighbors >= n >= _count.MIN_SAMPLES:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} asks for more neighbours than the other "
                f"{n - 1} samples (n_neighbors < n_samples={n}).")
        if n < d + 2:
            raise ValueError(
                f"n_samples={n} is too few for SpectralDegeneracy in {d} dimension(s): at least "
                f"{d + 2} samples are needed (a linear basis has {d + 1} functions)."
            )
        scale = max(float(abs(Z).max()), np.finfo(float).tiny)
        if scale > _MAX_ABS:
            raise ValueError(
                f"Z has values up to {scale:.3g} in magnitude: their squares overflow float64 "
                f"(the limit is {_MAX_ABS:.0e}). Rescale Z (e.g. StandardScaler)."
            )
        if scale < _MIN_ABS:
            raise ValueError(
                f"Z has values no larger than {scale:.3g} in magnitude: their squares underflow "
                f"float64 (the limit is {_MIN_ABS:.0e}). Rescale Z (e.g. StandardScaler); the "
                "energies scale as 1 / c^2 when Z is scaled by c."
            )
        var = _rows.variance(Z)
        const = constant_columns(var, scale)
        if const.all():
            raise ValueError(
                "Z has zero variance in every column (all samples are identical): "
                "there is no density to read a spectrum from."
            )
        if self.degree is not None and self.method != "graph":
            d_var = int(d - const.sum())
            m = math.comb(self.degree + d_var, d_var)
            if n < m + 1:
                raise ValueError(
                    f"n_samples={n} is too few for method='galerkin' with degree="
                    f"{self.degree}: its basis of {m} functions in {d_var} dimensions needs "
                    f"at least {m + 1} samples; lower degree, or use method='graph'.")
        if const.any():
            warn_user(
                f"Z has {int(const.sum())} constant column(s) {np.flatnonzero(const).tolist()} "
                "(collapsed latent axes, or features with one value). Their energies are "
                "infinite; they are dropped.")
        return Z

    def _read_samples(self, Z, seed):
        """``(Z, samples, redraw)``: the rows' :class:`~._samples.SampleIndex`; rounded or
        discrete values (atoms: fewer than half the rows distinct, or repeated rows whose
        every column lies on a grid) spread over their rounding cells first (both with a
        warning), and then ``redraw(i, rows)``, those rows spread by the ``i``-th other draw
        (else None)."""
        redraw = None
        samples = _rows.index_samples(Z)
        steps = None
        if samples.atoms or len(samples.distinct) < samples.n_eff:
            distinct = _rows.take(Z, samples.distinct)
            steps = _dequantize.grid_steps(distinct)
            if not samples.atoms and _dequantize.on_lattice(distinct, steps):
                samples = dataclasses.replace(samples, atoms=True)
        _flags.repeats(samples, Z.shape[0], steps)
        if samples.atoms:
            def redraw(i, rows, Z=Z, rank=samples.noise_rank):
                # each row's noise is keyed by its own rank: the rows alone, drawn again
                return _dequantize.dequantize(_rows.take(Z, rows), None, steps, seed + 1 + i,
                                              rank[rows])

            Z = _dequantize.dequantize(Z, samples.order, steps, seed, samples.noise_rank)
            samples = _rows.index_samples(Z)
        n_graph = len(samples.sample_order)  # the graph reads distinct rows
        if self.method == "graph" and n_graph < _count.MIN_SAMPLES:
            raise ValueError(
                f"n_samples={n_graph} is too few for method='graph': it needs at least "
                f"{_count.MIN_SAMPLES} distinct samples (each point's density is read from its "
                f"{_graph.K_SCALE} nearest neighbours). Use method='galerkin'.")
        return Z, samples, redraw

    def _count_wells(self, Z, samples, seed, redraw=None):
        count = _count.count_wells(Z, samples, self.n_levels, seed, n_wells=self.n_wells,
                                   n_jobs=self.n_jobs, redraw=redraw)
        if count.resampled is not None:
            _flags.uncertain_count(count.n_wells, count.resampled)
        self._check_copies_change_the_count(Z, samples, count, seed)
        return count

    def _check_copies_change_the_count(self, Z, samples, count, seed):
        """Where some rows repeat (fewer than an atom's worth each: those are said already),
        the count is read again on the distinct rows and a difference said, unless dropping
        as many other rows reads the same: copies weigh as density (50 rows of breast
        cancer's 569 repeated 4 times read 2 or 3 wells, 1 without, 2 with 150 others
        dropped)."""
        n_copies = Z.shape[0] - len(samples.distinct)
        if (self.n_wells != "auto" or count.n_wells is None or samples.atoms
                or samples.tiled or samples.largest_repeat > _graph.K_SCALE
                or n_copies < _copies_worth_a_count(Z.shape[0])):
            return
        Zd = _rows.take(Z, np.sort(samples.distinct))
        distinct = _rows.index_samples(Zd)
        if len(distinct.sample_order) < _count.MIN_SAMPLES:
            return
        k = self._count_alone(Zd, distinct, seed)
        if k == count.n_wells:
            return
        # as many other rows dropped instead, the copies kept: a count that reads the distinct
        # rows' there too changes with the number of rows, not with the copies (ToothGrowth:
        # 3 wells, 2 on its 51 distinct rows, and 2 on 6 of 6 draws of 9 other rows dropped)
        rs = np.random.RandomState(seed)
        for _ in range(_COPY_CONTROLS):
            others = rs.choice(np.sort(samples.distinct), n_copies, replace=False)
            Zc = _rows.take(Z, np.setdiff1d(np.arange(Z.shape[0]), others))
            if self._count_alone(Zc, _rows.index_samples(Zc), seed) == k:
                return
        _flags.copies_change_the_count(count.n_wells, k, samples)

    def _count_alone(self, Z, samples, seed):
        """The well count of ``Z``, not resampled."""
        return _count.count_wells(Z, samples, self.n_levels, seed, n_jobs=self.n_jobs,
                                  n_resamples=0).n_wells

    def _drop_outliers(self, Z, samples, outliers):
        """Isolated groups the count found, left out of the fit up to a small fraction (more
        are part of the data's shape and stay)."""
        n = Z.shape[0]
        if outliers is None or not outliers.any():
            return Z, samples
        if outliers.sum() > _OUTLIER_MAX_FRACTION * n:
            # 7 points 12 apart from 72 stayed unsaid: 1 well, a slow level on them
            warn_user(
                f"{int(outliers.sum())} of {n} points of Z lie in isolated groups of fewer "
                f"than {_graph.K_SCALE} points or 1 % of them (whichever is more), too small "
                "for the count to read as wells and too many (over "
                f"{_OUTLIER_MAX_FRACTION:.0%}) to leave out as outliers: they stay in the "
                "fit, not counted as wells, and their slow modes stay in energies_. n_wells "
                "need not make them wells of their own: the number given is cut in the "
                "density of the other points, and these points join wells near them.")
            return Z, samples
        warn_user(
            f"{int(outliers.sum())} of {n} points of Z are outliers: isolated groups of "
            f"fewer than {_graph.K_SCALE} points or 1 % of them (whichever is more), which "
            "the sample measure would make wells of their own. They are left out of the "
            "spectrum and the landscape; transform, predict and potential still cover "
            "them.")
        Z = Z[~outliers]
        return Z, _rows.index_samples(Z)

    def _fit_spectrum(self, Z, samples, count, seed):
        """The galerkin or graph spectrum (``method="auto"``: galerkin, unless its levels do
        not show the counted wells or have not converged, then graph)."""
        method = "galerkin" if self.method == "auto" else self.method
        n_levels = max(self.n_levels, (count.n_wells or 0) + 1)  # a level for each well
        # the basis's attributes, None unless a galerkin spectrum is kept (a refit must not
        # keep an earlier fit's)
        self.basis_ = self.degree_ = self.shrinkage_ = self.levels_converged_ = None
        if method == "galerkin":
            basis = self.basis
            if basis == "auto":
                basis = "hermite+rbf" if (count.n_wells or 1) > 1 else "hermite"
            spectrum, info = _spectrum.fit_galerkin(
                Z, samples, n_levels, basis, degree=self.degree,
                max_samples=self.max_samples, seed=seed)
            # wells that only the neighbourhoods see have no gap in any spectrum of p; a
            # given number is held to the gap the density's levels back it with (given
            # the number the count reads, the fit is the same as without it)
            # a basis whose outermost shell still moves the levels by a quarter is the wrong
            # tool (137 % on a VAE embedding); below that the levels stay, with
            # levels_converged_ saying they moved by more than 5 %
            # (the bump basis of several wells is kept: its excited levels rarely converge,
            # the graph's are no better, and its ground multiplet is what it is for)
            ratio = _count.density_ratio(count)
            usable = ((ratio is None or self._galerkin_sees_wells(
                          spectrum.energies, count.n_wells, ratio))
                      and not (info.basis_kind == "hermite"
                               and info.change > _AUTO_MAX_CHANGE))
            if self.method == "auto" and not usable and len(samples.sample_order) >= (
                    _count.MIN_SAMPLES):
                method = "graph"
            else:
                if info.converged is False and self.method != "auto":
                    warn_user(self._unconverged_message(info))
                self.basis_, self.degree_ = info.basis_kind, info.degree
                self.shrinkage_, self.levels_converged_ = info.shrinkage, info.converged
        if method == "graph":
            spectrum = _spectrum.fit_graph(
                Z, samples, n_levels, n_neighbors=self.n_neighbors,
                max_samples=self.max_samples, seed=seed, n_jobs=self.n_jobs)
        self.method_ = method
        self.energies_ = spectrum.energies
        self._spectrum = spectrum
        return spectrum

    @staticmethod
    def _unconverged_message(info):
        """What a galerkin fit whose levels moved says (the bump basis's own words: the
        graph's excited levels are no better there)."""
        if info.basis_kind == "hermite":
            return (f"The galerkin levels have not converged: removing the outermost shell of "
                    f"the basis changes them by up to {info.change:.0%}. The density is far "
                    "from a Gaussian (or the sample too small for a larger basis); "
                    "method='graph' reads such shapes without a basis.")
        return (f"The galerkin levels have not converged: removing the basis's polynomials of "
                f"the highest degree changes them by up to {info.change:.0%}. The bumps "
                "resolve the wells' ground multiplet; the excited levels and their multiplets "
                "are not reliable.")

    @staticmethod
    def _galerkin_sees_wells(E, k, ratio):
        """Whether galerkin levels show the ``k`` wells the count found: a gap above the first
        ``k`` levels as large as the density's levels showed (``ratio``: the count's rule's
        6, or half of it for a given number backed at half the gap).

        A basis of polynomials and bumps resolves compact wells, not wells that wrap around
        or lie along each other: on two moons, two concentric circles and two parallel
        needles the graph counted 2 wells but the galerkin levels had no gap there (ratios
        1.05 to 3.1) and PCCA+ on them split the data across the shapes (adjusted Rand index
        0.0 to 0.37; the graph's 0.99-1.0).
        """
        if k is None or k < 2 or k >= len(E):
            return True
        return shows_gap(E[:k], E[k], ratio)

    def _set_ground_multiplet(self, count, d, n_eff):
        """The well count, its uncertainty and the multiplets (the gap rule on the levels
        where the count had too few samples)."""
        E = self.energies_
        k, gap, resampled = count.n_wells, count.gap, count.resampled
        self.count_reading_ = count.reading
        if k is None:
            k, gap = ground_multiplet(E)
            resampled = np.array([k])
            self.count_reading_ = "levels"
            warn_user(
                f"With {n_eff} samples (fewer than the {_count.MIN_SAMPLES} the well count "
                f"needs) the wells are read from the {len(E)} levels that the {self.method_} "
                f"spectrum resolves: at most {len(E) - 1} can show, and well-separated groups "
                "can read as one. Pass n_wells if you know how many.")
        if k > len(E):
            told = "n_wells gives" if count.reading == "given" else "The well count reads"
            warn_user(
                f"{told} {k} wells, but the {self.method_} spectrum resolves only {len(E)} "
                f"levels from these {n_eff} samples: the ground multiplet is cut at {len(E)} "
                "wells, so some wells are merged. More samples resolve more levels"
                + self._graph_hint(n_eff))
            k = len(E)
        self.n_ground_states_ = int(k)
        self.ground_gap_ = float(gap)
        self.n_ground_states_resampled_ = np.asarray(resampled, dtype=int)
        self.n_ground_states_agreement_ = float(np.mean(resampled == self.n_ground_states_))
        tol = (max(0.1, 4.0 * np.sqrt(d / n_eff)) if self.degeneracy_tol == "auto"
               else float(self.degeneracy_tol))
        self.degeneracy_tol_ = tol
        self.multiplets_ = group_levels(E, self.n_ground_states_, tol)
        self.degeneracies_ = np.array([len(g) for g in self.multiplets_], dtype=int)
        n_avail = len(E) - 1
        if self.n_components is None:
            self.n_components_ = max(1, min(d, n_avail))
        elif self.n_components > n_avail:
            # raising n_levels finds no more levels where the samples are what limits them
            # (15 rows of women: 2 excited levels at n_levels=10, 20 or 40)
            fix = ("raise n_levels." if len(E) >= self.n_levels else
                   f"the spectrum resolves only {len(E)} levels from these {n_eff} samples, "
                   "whatever n_levels: lower n_components or pass more samples"
                   + self._graph_hint(n_eff))
            raise ValueError(
                f"n_components={self.n_components} exceeds the {n_avail} excited levels "
                f"found (n_levels={self.n_levels}, method={self.method_!r}); {fix}")
        else:
            self.n_components_ = int(self.n_components)

    def _graph_hint(self, n_eff):
        """The end of a sentence on too few levels: the graph resolves more than a galerkin
        basis cut to the samples, where it can be used at all."""
        if self.method_ == "galerkin" and n_eff >= _count.MIN_SAMPLES:
            return ", and so does method='graph'."
        return "."

    def _fit_kde(self, Z, samples, seed):
        """Kernel density estimate behind ``score`` (normalised, so bandwidths compare)."""
        self._landmarks = _rows.take(
            Z, samples.subsample(_KDE_LANDMARKS, np.random.RandomState(seed)))
        self.bandwidth_ = (_land.auto_bandwidth(self._landmarks) if self.bandwidth == "auto"
                           else float(self.bandwidth))

    def _fit_wells(self, Z, Z_all, samples, count, seed):
        """Memberships and labels, the landscape, the ground multiplet's levels from it, and
        the rates between the wells.

        The memberships come from the graph whose reading counted the wells (in the count's
        whitened metric: units do not change them); their projection onto the spectrum's
        eigenfunctions gives the rates where the landscape cannot. Below the count's sample
        size they are PCCA+ on the spectrum's eigenfunctions.
        """
        k = self.n_ground_states_
        F_all = self._eigenfunctions(Z)
        F = F_all[:, :k]
        if k == 1 or count.pilot is None:
            chi, A, self._well_map = _wells.fit_memberships(F)
        else:
            self._well_map, chi = _count.well_memberships(count, k, seed, Z)
            A = _wells.projected_memberships(F, chi)
        # the landscape and the rates read the same rows (chi of Z: before the outliers')
        Zs, labels = _land.landscape_samples(Z, samples, chi, seed)
        self._logp = _land.fit_landscape(Zs, labels, samples.n_eff,
                                         getattr(self._spectrum, "basis", None), seed)
        # potential's own where the wells' mixture misreads V; it also fills the barriers that
        # no sample reaches for the rates (the mixture's Gaussian tails put a quartic well's
        # barriers orders of magnitude too deep)
        self._potential_logp = (
            _land.potential_landscape(Zs, labels, self._logp, seed)
            if isinstance(self._logp, _land.WellMixtureLogDensity) else None)
        self._span = span_projector(Zs)  # the walk moves within the data's span
        # chi stays at the rows of Z, where the eigenfunctions F are; outliers get
        # memberships like new points
        chi_all = chi if Z_all is Z else self._memberships(Z_all)
        self.memberships_, self.labels_ = chi_all, np.argmax(chi_all, axis=1)
        self.energies_sampled_ = self.energies_.copy()
        self._walk = None  # simulate follows the landscape, or the density of the levels
        if isinstance(self._well_map, _nb.NeighbourhoodWells):
            self._set_neighbourhood_rates(F_all, chi, A)
            return
        joined = _wells.unvisited_barriers(chi)  # groups of wells visited barriers join
        (levels, A_land, self.ground_levels_source_, self.rates_error_bound_, self._walk,
         tails) = (
            _wells.landscape_ground_levels(
                self._logp, self.energies_, k, self.method_ == "graph", Zs, labels, seed,
                visited=len(joined) < k, smooth=self._potential_logp,
                # wells that no visited barrier joins get an infinite bound below: the
                # bound's solves would be thrown away (8 Gaussian blobs: 4.7 s of a fit)
                bound=len(joined) == 1))
        if levels is not None:
            self.energies_ = np.concatenate([levels, self.energies_[k:]])
            A = A_land
        elif self.ground_levels_source_ == "samples" and k > 1:
            share = _wells.hop_share(F, chi)
            # eigenfunctions that leave some wells untold apart have no generator between
            # them (a singular solve): rows in other units made the graph's lowest levels
            # separate components holding 3 of 5 wells
            separates = _wells.separates_wells(A)
            if share < _wells.HOP_SHARE or not separates:
                self._set_hop_free_rates(F_all, chi, share, separates)
                return
        rates = _wells.fit_rates(A, self.energies_)
        self._set_rates(rates, chi)
        if self.ground_levels_source_ == "graph components":
            _flags.separate_components(k, samples.largest_repeat > _graph.K_SCALE)
            self.rates_error_bound_ = np.inf
        elif _flags.unvisited_barriers(joined, self.ground_levels_source_, tails):
            self.rates_error_bound_ = np.inf
        elif not rates.misfit > _wells.SPECTRUM_RTOL:  # (a larger miss is said already)
            _flags.uncertain_rates(k, self.rates_error_bound_)
        self._bound_the_misfit(rates)
        _flags.weights_off_the_samples(self.stationary_distribution_, chi)

    def _bound_the_misfit(self, rates):
        """Rates that miss the levels they were fitted to are off by that much at least: a
        bound of 0.026 stood beside a 66 % miss (a column of xclara in other units). An
        unmeasured bound (nan) stays unmeasured (two wells' one rate misses nothing: 0.0)."""
        if not np.isnan(self.rates_error_bound_):
            self.rates_error_bound_ = float(max(self.rates_error_bound_, rates.misfit))

    def _set_neighbourhood_rates(self, F_all, chi, A):
        """Rates of wells that no valley of ``p`` backs (so no gap of the spectrum): the
        generator projected onto their memberships ``chi``, which wells touch (documented;
        ``F_all``: the eigenfunctions at the samples; ``A``: the memberships' projection
        onto the first ones, :func:`~._wells.projected_memberships`)."""
        self.ground_levels_source_, self.rates_error_bound_ = "neighbourhoods", np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self._set_rates(_wells.fit_rates(A, self.energies_) if _wells.separates_wells(A)
                            else _wells.projected_rates(F_all, chi, self.energies_), chi)

    def _split_wells(self, count, Z, Z_all, seed, n_eff):
        """A given number of wells above the density's that its levels do not back, after
        the density's own were fitted: the count's finer states (the neighbourhood graph's,
        or cuts inside the density's wells), their rates projected (rough: said); the levels
        and the landscape stay the density's."""
        shown = self.n_ground_states_
        self._set_ground_multiplet(count, Z.shape[1], n_eff)
        k = self.n_ground_states_  # (cut at the levels resolved, said there)
        self._well_map, chi = _count.well_memberships(count, k, seed, Z)
        chi_all = chi if Z_all is Z else self._memberships(Z_all)
        self.memberships_, self.labels_ = chi_all, np.argmax(chi_all, axis=1)
        self._walk = None  # the density's walk hops between its own wells
        F_all = self._eigenfunctions(Z)
        self._set_neighbourhood_rates(F_all, chi,
                                      _wells.projected_memberships(F_all[:, :k], chi))
        warn_user(
            f"n_wells={count.n_wells} is more wells than the density shows ({shown}), and "
            f"its levels do not back them: the {k} wells are states of the neighbourhood "
            "graph (or cuts inside the density's wells), and rate_matrix_ is the generator "
            "projected onto them, which no gap of the spectrum separates "
            "(rates_error_bound_=inf): read it as rough. energies_ and the landscape are the "
            "density's.", RatesWarning)

    def _lump_wells(self, count, d, n_eff):
        """The given number of wells as the reduction of the density's wells, fitted first:
        PCCA+ on their rate matrix (:func:`~._wells.lumped_rates`); memberships, labels,
        rates and the ground multiplet follow it, the levels and the landscape stay the
        density's."""
        lumping, rates = _wells.lumped_rates(self.rate_matrix_, self.stationary_distribution_,
                                             count.n_wells, self.energies_)
        self._well_map = _wells.LumpedWells(self._well_map, lumping)
        self.memberships_ = self.memberships_ @ lumping
        self.labels_ = np.argmax(self.memberships_, axis=1)
        self._set_rates(rates, self.memberships_)
        self._bound_the_misfit(rates)
        self._set_ground_multiplet(count, d, n_eff)
        _flags.uncertain_lumping(count.n_wells, self.energies_, self.rates_error_bound_)

    def _set_hop_free_rates(self, F_all, chi, share, separates=True):
        """Rates for wells whose hops are not the lowest excited levels (the slowest motions
        are inside the wells, e.g. wells stretched along their barrier): the generator
        projected onto the memberships through every level solved (``F_all``, at the
        samples), flagged as rough. ``separates``: whether the lowest levels' eigenfunctions
        tell every well apart (said where they do not)."""
        k = self.n_ground_states_
        untold = ("" if separates else
                  " and do not tell every well apart (some wells are the same combination "
                  "of them)")
        warn_user(
            f"The {k} wells' hops are not the lowest levels: the eigenfunctions of "
            f"energies_[1:{k}] hold {share:.0%} of the wells' memberships{untold}, so they are "
            "motions inside the wells, slower than the hops (wells stretched along their "
            "barriers). rate_matrix_ is the generator projected "
            "onto the memberships through the levels solved (rates_error_bound_=inf): read "
            "it as rough.", RatesWarning)
        self.rates_error_bound_ = np.inf
        self._set_rates(_wells.projected_rates(F_all, chi, self.energies_), chi)

    def _set_rates(self, rates, chi):
        """The fitted rates; groups of wells no rate joins weigh the samples' shares of them
        (``chi``: the memberships)."""
        self.rate_matrix_ = rates.rate_matrix
        self.stationary_distribution_ = weights_of_groups(
            rates.rate_matrix, rates.stationary_distribution, chi.mean(axis=0))
        self.mean_first_passage_times_ = rates.mean_first_passage_times

    # ------------------------------------------------------------ transform
    def _transform(self, Z):
        F = self._eigenfunctions(Z, np.arange(1, self.n_components_ + 1))
        scale = getattr(self, "_coordinate_scale", None)
        return F if scale is None else F / scale

    def transform(self, Z):
        """Eigenfunction coordinates of levels ``1..n_components_`` at the points ``Z``.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Points, training or new.

        Returns
        -------
        Z_new : ndarray of shape (n_samples, n_components_)
            Values of the eigenfunctions ``f = phi / psi0`` (unit norm under ``p``: mean
            square 1 over the training points). With ``method="graph"`` they are the graph's
            eigenvectors extended by one step of its chain, each scaled to that norm; they
            are orthogonal under the graph's own measure, not exactly under the samples'
            (on a 2-d Gaussian their mean product read 0.4). A dask array for a dask array
            ``Z``, computed block by block when asked for.
        """
        check_is_fitted(self)
        if _rows.is_dask(Z):
            return self._lazy(self.transform, Z, self.n_components_)
        Z = validate_numbers(self, Z, "Z", dtype=np.float64, reset=False)
        with np.errstate(over="ignore", invalid="ignore"):
            return _finite_rows(self._transform(Z), "The eigenfunctions overflow")

    def potential(self, Z):
        """Energy landscape ``V = Lap psi0 / psi0`` of the fitted smooth density at ``Z``.

        The density is score-matched in a Hermite basis with one well, and a Gaussian
        mixture fitted well by well with several (see the Notes of the class). In 1-d and
        2-d, a polynomial ``log p`` (quartic in 2-d, of degree ``2 k`` for ``k`` wells in
        1-d) score-matched over all the wells replaces the mixture
        where it predicts held-out rows better by the Hyvaerinen score (twice the mean of
        ``V`` over them): wells that are not Gaussian, such as ``exp(-(x^2 - 1)^2 / D)``'s,
        whose mixture's components put false minima inside them. The rates and
        ``simulate`` read it (else the mixture) only across barriers that no sample
        reaches; elsewhere, the samples' own density.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Points.

        Returns
        -------
        V : ndarray of shape (n_samples,)
            Potential in the units of ``energies_``: ``H psi0 = 0`` for ``H = -Lap + V``
            (a lazy dask array for a dask array ``Z``).
        """
        check_is_fitted(self)
        if _rows.is_dask(Z):
            return self._lazy(self.potential, Z)
        Z = validate_numbers(self, Z, "Z", dtype=np.float64, reset=False)
        logp = getattr(self, "_potential_logp", None)  # None: the mixture kept (or older pickle)
        logp = self._logp if logp is None else logp
        with np.errstate(over="ignore", invalid="ignore"):
            return _finite_rows(logp.potential(Z), "The landscape overflows")

    def _lazy(self, method, Z, n_out=None, dtype=np.float64):
        """``method`` over the row blocks of a dask array ``Z``, lazily; features checked now."""
        _check_feature_names(self, Z, reset=False)
        _check_n_features(self, Z, reset=False)
        return _rows.lazy_rows(method, Z, n_out, dtype)

    def _eigenfunctions(self, Z, levels=None):
        """Eigenfunction values of ``levels`` (default: all computed; level 0 the constant)."""
        levels = np.arange(len(self.energies_)) if levels is None else np.asarray(levels)
        return self._spectrum.eigenfunctions(Z, levels)

    # ----------------------------------------------------------------- wells
    def predict_proba(self, Z):
        """Soft memberships of the points ``Z`` in each well (PCCA+), rows summing to 1.

        Memberships of the slow motions, not calibrated class probabilities: they stay
        above 0 inside a well (0.16 in the other well at the centre of the smaller of two
        unit Gaussians 4 apart weighing 0.7 and 0.3, whose posterior probability there is
        0.001; see the user guide).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Points, training or new.

        Returns
        -------
        chi : ndarray of shape (n_samples, n_ground_states_)
            Membership of each point in each well (a lazy dask array for a dask array ``Z``).
        """
        check_is_fitted(self, "rate_matrix_")
        if _rows.is_dask(Z):  # block by block, when asked for
            return self._lazy(self.predict_proba, Z, self.n_ground_states_)
        Z = validate_numbers(self, Z, "Z", dtype=np.float64, reset=False)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # far from the data the eigenfunctions overflow; the memberships stay in [0, 1]
            return self._memberships(Z)

    def _memberships(self, Z):
        fine = getattr(self._well_map, "fine", self._well_map)  # lumped wells: their map's
        if isinstance(fine, _wells.WellMap):
            return self._well_map.memberships(self._eigenfunctions(Z))
        return self._well_map.memberships(Z)

    def predict(self, Z):
        """The well each point belongs to (largest PCCA+ membership).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Points, training or new.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Well index in ``0..n_ground_states_ - 1`` (a lazy dask array for a dask array
            ``Z``).
        """
        if _rows.is_dask(Z):
            check_is_fitted(self, "rate_matrix_")
            return self._lazy(self.predict, Z, dtype=np.intp)
        return np.argmax(self.predict_proba(Z), axis=1)

    def fit_predict(self, Z, y=None):
        """Fit and return ``labels_``, the well of each training point.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Samples.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Well index of each sample.
        """
        return self.fit(Z).labels_

    def simulate(self, Z0, n_steps, dt, random_state=None, stride=1):
        """Run the Langevin diffusion ``dz = grad log p dt + sqrt(2) dW`` on the fitted density.

        Euler-Maruyama with the score ``grad log p`` of the density whose levels
        ``energies_`` and ``rate_matrix_`` are (the samples' own near the barriers, on the
        grid the rates are solved on; the wells' mixture beyond it and across its plane, and
        where the rates are read from the samples alone), so that the walkers hop at the
        rates of ``rate_matrix_``; the time unit is that of ``rate_matrix_``. Walkers move
        within the span of the data only (a constant column keeps its value; across the
        span the density is a point mass). ``dt`` must be
        small compared with the squared length over which the score changes (divergence
        raises an error); that density is a kernel estimate on a grid, rougher than the
        data's true one where the samples thin out, so halve ``dt`` and compare the counted
        rates and the time spent in each well before trusting them. Count hops with
        ``predict`` on the trajectory.

        Parameters
        ----------
        Z0 : array-like of shape (n_walkers, n_features)
            Starting points (one row per independent walker).
        n_steps : int
            Number of time steps, >= 1.
        dt : float
            Time step, > 0: well below the smallest variance of the fitted wells along any
            direction (Euler-Maruyama is unstable on a Gaussian of variance ``v`` above
            ``2 v``); a divergence raises an error that gives that variance.
        random_state : int, RandomState instance or None, default=None
            Seeds the noise: the same value gives the same trajectories.
        stride : int, default=1
            Keep every ``stride``-th position.

        Returns
        -------
        traj : ndarray of shape (n_walkers, n_steps // stride + 1, n_features)
            ``traj[i, 0]`` is ``Z0[i]``; ``traj[i, t]`` the position at time ``t * stride * dt``.
        """
        check_is_fitted(self, "rate_matrix_")
        if not (isinstance(dt, (int, float, np.integer, np.floating)) and np.isfinite(dt)
                and dt > 0):
            raise ValueError(f"dt must be a positive finite number; got {dt!r}.")
        for name, v in (("n_steps", n_steps), ("stride", stride)):
            if not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1; got {v!r}.")
        if _get_feature_names(Z0) is not None:
            # columns named as in fit, in fit's order (as predict checks): a DataFrame with
            # its columns in another order started the walk at the wrong points, silently
            _check_feature_names(self, Z0, reset=False)
        Z0 = check_array(Z0, dtype=np.float64, input_name="Z0")
        if Z0.shape[1] != self.n_features_in_:
            raise ValueError(
                f"Z0 has {Z0.shape[1]} columns but the model was fitted on "
                f"{self.n_features_in_} features: starting points must live in the same space."
            )
        # 1e3 standard deviations: no Langevin path of the fitted density gets there
        bounds = (self._logp.centre, 1e3 * self._logp.radius)
        r = np.abs(Z0 - bounds[0]) / bounds[1]  # in units of the bound, squared below 1 only
        far = (r.max(axis=1) > 1) | (np.sum(np.minimum(r, 1) ** 2, axis=1) > 1)
        if np.any(far):
            raise ValueError(
                f"Z0 row {int(np.argmax(far))} lies more than {bounds[1]:.3g} (1000 standard "
                "deviations of the data) from the fitted density: the walk is only defined "
                "near the data. Start the walkers at or near training points.")
        walk = getattr(self, "_walk", None)
        if walk is None:  # the landscape's own levels may differ from energies_'s
            ratios = self._walk_level_ratios()
            if ratios is not None:
                _flags.walk_hops_off(ratios, self.rates_error_bound_)
        density = self._logp if walk is None else walk
        try:
            return langevin(density.grad_log_density, Z0, int(n_steps), float(dt),
                            random_state=random_state, stride=int(stride), bounds=bounds,
                            projector=getattr(self, "_span", None))
        except ValueError as exc:
            # a start beyond the data, not dt, is the likelier cause where there is one
            raise ValueError(self._far_start_text(Z0)
                             or f"{exc}{self._narrowest_well_text()}") from None

    def _far_start_text(self, Z0):
        """For the walk's divergence: the first start beyond every training point (from the
        data's centre; "" where none is), where the landscape is an extrapolation whose
        drift can outgrow any dt (a 2-d Gaussian's quartic pulled at 214 from 20 sd out, for
        an exact 20, and a start at 100 diverged at dt = 0.01, which the narrowest well's
        text blamed on dt)."""
        centre = self._logp.centre
        reach = np.sqrt(np.max(np.sum((self._landmarks - centre) ** 2, axis=1)))
        dist = np.sqrt(np.sum((Z0 - centre) ** 2, axis=1))
        if not np.any(dist > reach):
            return ""
        i = int(np.argmax(dist > reach))
        return (f"The Langevin simulation diverged, and Z0 row {i} starts {dist[i]:.3g} from "
                f"the data's centre, beyond every training point ({reach:.3g}): the "
                "landscape there is the fit's extrapolation, whose pull can grow faster than "
                "a time step allows. Start the walkers at or near training points.")

    def _narrowest_well_text(self):
        """The narrowest variance of the fitted wells' Gaussians (the landscape of
        :meth:`potential`; one well: of the data's principal axes), for the walk's divergence:
        Euler-Maruyama is unstable on such a Gaussian above twice it (a flag column that
        makes the wells, diabetes' sex: 1e-6 of the data's variance, the covariance floor,
        and a divergence at dt = 1e-5 that said only to use a smaller dt)."""
        curvature = self._logp.curvature(getattr(self, "_span", None))
        if not curvature > 0:
            return ""
        v = 1.0 / curvature
        text = (f" The narrowest of the fitted wells has a variance of {v:.3g} along one "
                f"direction: take dt well below it (Euler-Maruyama is unstable on such a "
                f"Gaussian for dt above {2 * v:.3g}).")
        if v < _SHEET_VARIANCE * self._logp.radius ** 2 / self.n_features_in_:
            text += (" A well of rows that share one value of a column (a sheet, named by "
                     "the fit's warnings) has no width along that column: leave such columns "
                     "out to simulate.")
        return text

    def _walk_level_ratios(self):
        """The slowest levels of the wells' mixture, where :meth:`simulate` follows it, over
        ``energies_``'s (the levels ``rate_matrix_`` is fitted to): how much faster its
        walkers hop. None where the mixture's levels are not solved exactly (one well;
        above 2-d only upper bounds from its marginal are; a grid too fine for a narrow well
        far out) or either is at round-off (wells too far apart for any hop: 0 / 0)."""
        k = self.n_ground_states_
        if (k < 2 or not isinstance(self._logp, _land.WellMixtureLogDensity)
                or self._logp.means.shape[1] > 2):
            return None
        levels, _, _ = landscape_levels(self._logp, k)
        if levels is None:
            return None
        walk, fit = levels[1:k], self.energies_[1:k]
        if not (np.all(walk > 0) and np.all(fit > _wells.ROUND_OFF * self.energies_[k:].max(
                initial=fit.max()))):
            return None
        return walk / fit

    def format_wells(self, precision=3):
        """The well weights and ``rate_matrix_`` as a plain-text table (command line).

        Parameters
        ----------
        precision : int, default=3
            Decimals of the weights, significant digits of the rates (0 to 17).

        Returns
        -------
        table : str
        """
        check_is_fitted(self, "rate_matrix_")
        if not (isinstance(precision, (int, np.integer)) and not isinstance(precision, bool)
                and 0 <= precision <= 17):
            raise ValueError(f"precision must be an integer from 0 to 17 (decimals of the "
                             f"weights, significant digits of the rates); "
                             f"got {precision!r}.")
        return format_wells(self.stationary_distribution_, self.rate_matrix_, precision)

    def score_samples(self, Z):
        """Log-density ``log psi0(z)^2`` of the kernel density estimate at each point.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Points (a dask array gives a lazy dask array).

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            In the units of ``Z``, with the kernel width ``bandwidth_``; columns constant in
            the fit are left out (as the fit drops them).
        """
        check_is_fitted(self)
        if _rows.is_dask(Z):
            return self._lazy(self.score_samples, Z)
        Z = validate_numbers(self, Z, "Z", dtype=np.float64, reset=False)
        # columns constant in the fit are dropped (their density is a point mass): the same
        # score as without them, whatever value a new point has there
        L = self._landmarks
        live = ~constant_columns(L.var(axis=0), np.abs(L).max())
        return _land.log_density(Z[:, live], L[:, live], self.bandwidth_)

    def score(self, Z, y=None):
        """Mean log-density of ``Z`` under ``psi0^2`` (higher is better).

        The density is the kernel estimate behind ``score_samples``: it depends on
        ``bandwidth`` and the data alone, not on ``n_wells``, ``n_levels``, ``method`` or
        ``basis``, so a grid search over those gets equal scores and keeps its first
        candidate. Read the number of wells from ``n_ground_states_`` and
        ``n_ground_states_resampled_``, or score ``labels_`` against what you know.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_features)
            Held-out points.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(Z)))

    # -------------------------------------------------------------- persist
    def save(self, path):
        """Save the fitted model as arrays plus JSON (no arbitrary-code pickle).

        The file is written to a temporary name and renamed into place; a new file gets
        the mode the umask allows, an existing one keeps its mode and a read-only one is
        not replaced (``PermissionError``). It records the perturbvae version. Not
        stored (a ``UserWarning`` says so): a ``RandomState`` instance as
        ``random_state`` (it loads as None; integer seeds are stored) and a
        ``set_output`` container (call ``set_output`` again after loading; a pickle
        keeps it).

        Parameters
        ----------
        path : str or path-like
            Target file.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            The estimator is not fitted.
        """
        from ._persistence import save_spectral

        save_spectral(self, path)

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save`.

        The archive's checksums are checked and it is read with
        ``torch.load(weights_only=True)``: loading never runs code. The loaded model gives
        bit-for-bit the outputs (``transform``, ``potential``, ``predict_proba``,
        ``score``, ...) of the saved one.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.

        Returns
        -------
        SpectralDegeneracy
            The fitted estimator.

        Raises
        ------
        ValueError
            A damaged, truncated or hand-edited file, or one that holds another estimator
            (e.g. a ``PerturbedVAE``); the message names ``path``.
        """
        from ._persistence import load_spectral

        return load_spectral(cls, path)

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _copies_worth_a_count(n):
    """The fewest repeated rows whose effect on the count is checked: 1 % of the rows, the
    share of the smallest group the count reads as a well (fewer are outliers). Two copies
    in bfi's 2,236 rows had cost a second count, a quarter of the fit; ToothGrowth's 9 of
    60 are checked."""
    return max(1, int(0.01 * n))


def _finite_rows(values, what):
    """``values`` (one row or value per row of Z), or the error that says ``what`` happened
    at which rows: far from the training data, not a value to hand back."""
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"{what} at {rows.size} row(s) of Z (first: {rows[:5].tolist()}), "
            "which lie too far from the training data; rescale or remove them.")
    return values
