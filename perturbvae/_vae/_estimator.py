"""PerturbedVAE: a scikit-learn transformer over a skorch-trained, perturbed VAE."""

import copy
import inspect
import os
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
)

from .._fit_state import fitted_state_kept_on_error
from .._numeric import validate_numbers
from .._warn import warn_user
from ..potentials import Ladder, Potential, Wells, make_potential, oscillator_levels
from . import _checkpoint, _identity, _signs
from ._callbacks import KLWarmup
from ._device import check_device, resolve_device
from ._feeding import choose_placement, training_dataset
from ._inference import InferenceMixin, _check_float32_range
from ._net import VAENet
from ._network import VAEModule
from ._persistence import PersistenceMixin
from ._steps import resolve_batch_size, scaled_lr, set_lr

__all__ = ["PerturbedVAE"]

# Rows used for the closed-form (PCA) start: an evenly spaced subsample beyond this.
_INIT_MAX_ROWS = 200_000
# Rows standardised at a time (float64 scratch of this many rows).
_STD_ROWS = 65536
# Variances of the closed-form start below this fraction of the largest are none at all
# (round-off of exactly dependent columns: 0 to 2e-16 on wine with repeated columns; longley's
# nearly collinear ones keep 5e-5 and more).
_NULL_VARIANCE = 1e-10


def _moments(X):
    """Per-feature mean, standard deviation and constancy, in float64 at any scale.

    Each column is divided by its largest magnitude first, so that squares neither
    overflow (values near 1e300) nor underflow (values near 1e-300).
    """
    peak = np.max(np.abs(X), axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    Y = X / peak
    mean_y, std_y = Y.mean(axis=0), Y.std(axis=0)
    # A column whose spread is rounding noise (e.g. a constant column after
    # StandardScaler) is constant: scaling it by its "std" would blow up any
    # new value by ~1e16. Rounding noise is ~1e-16 of the mean; 1e-10 called
    # real spreads constant under an offset (timestamps near 1e9: std 0.1).
    constant = std_y <= 1e3 * np.finfo(np.float64).eps * np.abs(mean_y) + (
        np.finfo(np.float64).tiny)
    return mean_y * peak, np.where(constant, 1.0, std_y * peak), constant


def check_hidden_layer_sizes(sizes):
    """scikit-learn's ``InvalidParameterError`` (a ValueError) naming ``hidden_layer_sizes``
    unless it is a sequence of positive ints."""
    try:
        widths = list(sizes)
    except TypeError:
        widths = None
    if isinstance(sizes, (str, bytes)) or widths is None or not all(
            isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in widths):
        raise InvalidParameterError(
            f"hidden_layer_sizes must be a sequence of positive integers (layer widths; "
            f"() for no hidden layer), got {sizes!r}."
        )


def check_callbacks(callbacks):
    """``InvalidParameterError`` naming ``callbacks`` unless each entry is a skorch callback
    (class or instance) or a ``(name, callback)`` pair: skorch's own error came from deep
    inside the first fit (``'int' object has no attribute 'initialize'``)."""
    from skorch.callbacks import Callback

    def ok(cb):
        return isinstance(cb, Callback) or (isinstance(cb, type) and issubclass(cb, Callback))

    for entry in callbacks or []:
        named = isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)
        if not ok(entry[1] if named else entry):
            raise InvalidParameterError(
                f"callbacks must hold skorch callbacks or (name, callback) pairs, got "
                f"{entry!r}.")


def check_components(perturbation, callbacks):
    """The parameters of perturbvae's own potential and callback objects (``Wells``,
    ``KLWarmup``), checked before any work: a bad value failed deep in the fit
    (``ZeroDivisionError`` for ``Wells(width=0)``) or trained silently (``KLWarmup(start=-1)``)."""
    entries = [e[1] if isinstance(e, tuple) else e for e in callbacks or []]
    for obj in [perturbation, *entries]:
        if isinstance(obj, (Potential, KLWarmup)) and hasattr(obj, "_validate_params"):
            obj._validate_params()


def _same_kind(perturbation, potential):
    """Whether the fitted ``potential`` is the kind the ``perturbation`` parameter makes."""
    if perturbation is None or potential is None:
        return perturbation is None and potential is None
    if isinstance(perturbation, (str, Potential)):
        kind = make_potential(perturbation) if isinstance(perturbation, str) else perturbation
        if type(potential) is not type(kind):
            return False
        if not type(kind).__module__.startswith("perturbvae."):
            # a user's potential: its own attributes shape the prior (Quartic(50.0) set
            # after a fit of Quartic(0.0) was neither used nor refused)
            return _own_description(kind) == _own_description(potential)
        if isinstance(kind, (Ladder, Wells)):
            # a built-in potential's own parameters shape the prior too: Ladder([0, 2, 8])
            # set after a fit of "ladder" was neither used nor refused
            return _own_config(kind) == _own_config(potential)
        return True
    return getattr(potential, "func", None) is perturbation  # a callable's adapter


def _own_config(pot):
    """A built-in potential's parameters (its ``get_config`` without fitted values)."""
    return {k: v for k, v in pot.get_config().items() if not k.endswith("_")}


def _own_description(pot):
    """A user's potential described as checkpoints describe it, without the attributes its
    ``fit`` learns (names ending in ``_``); None where nothing identifies it."""
    bare = copy.copy(pot)
    bare.__dict__ = {k: v for k, v in vars(pot).items() if not k.endswith("_")}
    try:
        return _identity.json_key(_identity.describe(bare))
    except _identity.Unidentifiable:
        return None


def _warn_beyond_rank(variances, d):
    """Say where the closed-form start has axes of no variance: the standardised features
    span fewer directions than ``d`` (copies or combinations of other columns). Such axes
    hold only the residual maps' training noise: on wine with three columns repeated,
    ``n_components=16``, its last three axes had spreads of 0.004 (0.75 for the others) and
    agreed across seeds no better than chance (signed r -0.5 to 0.5)."""
    rank = int(np.sum(variances > _NULL_VARIANCE * variances.max()))
    if rank < d:
        warn_user(
            f"The standardised features span {rank} directions (constant columns, or copies "
            f"or linear combinations of others), fewer than n_components={d}: latent axes "
            f"{rank} to {d - 1} (counted from 0) carry no variance in the closed-form start "
            "and hold only training noise, which differs from seed to seed. Choose "
            f"n_components <= {rank}.")


def _warn_weak_wells(pot):
    """Say where the wells placed cannot act: one well (V = 0), or centres too close for
    a barrier between neighbouring wells (the groups overlap in the codes)."""
    n = getattr(pot, "n_wells_", None)
    if n == 1 and getattr(pot, "n_wells", None) == 1:
        return  # the user's own number: V = 0 is what was asked for
    if n == 1:
        warn_user(
            "perturbation='wells' found one well in the data: V = 0, the prior is N(0, I) "
            "and the fit a plain VAE from the closed-form start (nothing breaks the latent "
            "symmetry). perturbation='ladder' pins the axes; Wells(n_wells=k) imposes k "
            "groups.")
    elif n is not None and getattr(pot, "barrier_", np.inf) <= 0:
        warn_user(
            f"The {n} wells' centres are too close for a barrier between neighbours "
            f"(barrier_={pot.barrier_:.2f} nats, aimed at {pot.barrier:g}): their groups "
            "overlap in the latent codes more than a push of max_spread="
            f"{pot.max_spread:g} undoes, and the embedding need not keep them apart; more "
            "n_components separate them further.")


class PerturbedVAE(InferenceMixin, PersistenceMixin, ClassNamePrefixFeaturesOutMixin,
                   TransformerMixin, BaseEstimator):
    """Variational autoencoder with a closed-form start and a symmetry-breaking potential.

    A VAE's loss is unchanged by rotating, permuting or flipping its latent axes,
    so independent trainings give different embeddings: the latent space is
    *degenerate*. This estimator removes the degeneracy in two steps, read as
    perturbation theory around the exactly solvable linear model:

    1. ``init="pca"`` starts every fit from the closed-form solution of the
       linear Gaussian VAE (probabilistic PCA): the encoder mean and the decoder
       are a fixed linear map plus a non-linear residual MLP whose last layer
       starts at zero. All seeds start from the same deterministic embedding.
    2. A perturbation potential ``V(z)`` is added to the loss
       (``perturbation_strength * E_q[V(z)]`` per sample) and lifts the
       rotational symmetry of the prior. Remaining sign flips are fixed after
       each fit: each axis keeps the orientation of the closed-form start's
       axis of the same index (the same for every seed); see the Notes.

    Parameters
    ----------
    n_components : int, default=2
        Latent dimension ``d``, at most the number of features and the number of
        samples fitted on (as for :class:`~sklearn.decomposition.PCA`; the command line
        has the same rule).
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Widths of the encoder's residual MLP (the decoder uses them reversed);
        positive integers, or ``()`` for a residual without hidden layer.
    beta : float, default=1.0
        Weight of the KL term (``beta``-VAE).
    init : {"pca", "random"}, default="pca"
        ``"pca"``: closed-form probabilistic-PCA start (deterministic, the
        same for every seed), computed on standardised features so that the
        model does not depend on the units of any feature (on more than
        200,000 rows, from an evenly spaced subsample). ``"random"``: an
        ordinary randomly initialised VAE.
    perturbation : {"ladder", "wells"}, Potential, callable or None, default="ladder"
        The potential ``V`` that breaks the latent symmetry. ``"ladder"`` is
        :class:`~perturbvae.potentials.Ladder` (``V = 1/2 sum_i c_i z_i^2`` with
        ``c_i = i / d``), ``"wells"`` is :class:`~perturbvae.potentials.Wells`,
        a callable maps a ``(batch, d)`` tensor to ``(batch,)`` energies, and
        None trains a plain VAE.
    perturbation_strength : float, default=1.0
        ``lam``, the weight of ``E_q[V(z)]`` in the per-sample loss.
    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        ``"gaussian"``: a learned per-feature variance (initialised at the
        probabilistic-PCA noise variance, floored at ``1e-3`` of each
        feature's variance so constant features cannot drive the likelihood to
        infinity). ``"bernoulli"``: inputs must lie in ``[0, 1]``. Their scores
        do not compare (a density against probabilities): on binarised digits
        (pixels >= 8 as 1; ``n_components=4``, ``hidden_layer_sizes=(32,)``,
        5 epochs, ``random_state=0``) the Gaussian
        model scores -6.57 and the Bernoulli one -21.39, so a grid
        search over ``likelihood`` by :meth:`score` prefers the Gaussian for
        binary data; choose the likelihood by the data's kind.
    max_epochs : int, default=100
        Epochs per call to :meth:`fit` (one per call to :meth:`partial_fit`).
    batch_size : int or "auto", default=128
        Mini-batch size. ``"auto"``: 128 on a CPU; on a GPU the largest power
        of two that leaves at least 32 steps per epoch, between 128 and 4096
        (a GPU step costs about the same from 128 to thousands of rows), with
        ``lr`` scaled by ``sqrt(batch_size / 128)`` (the square-root rule for
        Adam: ``lr`` is the rate at batch 128). See :ref:`scaling`.
    lr : float, default=1e-3
        Adam learning rate. Adam runs torch's fused kernel where the device
        has one (CPU and CUDA), else its ``foreach`` kernel.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its loss has
        not improved for ``n_iter_no_change`` epochs (skorch's ``EarlyStopping``,
        restoring the best weights). The held-out rows are drawn from
        ``random_state`` alone: every call of a continued fit on the same data
        holds out the same rows.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping.
    device : str, default="auto"
        Torch device; ``"auto"`` uses CUDA when available. A device that does
        not exist or is not available here is refused with a ``ValueError``
        before any work.
    random_state : int, RandomState instance or None, default=None
        Drives everything random in ``fit``: weight initialisation, shuffling,
        reparameterisation noise and the validation split, through dedicated
        torch generators (the global torch seed is left alone).
    verbose : int, default=0
        0: silent; 1: skorch's per-epoch table; 2: plus a progress bar.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, e.g. :class:`perturbvae.KLWarmup`.
    warm_start : bool, default=False
        When True, :meth:`fit` continues training the fitted network. A
        continued fit (this or :meth:`partial_fit`) trains with the parameters
        as they are at that call: ``lr``, ``beta``, ``perturbation_strength``,
        ``max_grad_norm``, ``callbacks``, ``early_stopping``,
        ``n_iter_no_change``, ``verbose`` and ``checkpoint_dir`` (each call
        starts the callbacks' own state afresh where these changed); those that
        shape the network or its prior (``n_components``,
        ``hidden_layer_sizes``, ``likelihood``, the kind of ``perturbation``
        and a potential's own parameters: a ``Ladder``'s or ``Wells``' config, a
        user's potential's attributes other than those its ``fit`` learns, named
        with a trailing ``_``) cannot change.
    max_grad_norm : float, default=None
        Clip the gradient norm of each step to this value.
    checkpoint_dir : str or path-like, default=None
        If given, weights, optimiser state, history and the random generators'
        states are written after every epoch into a subfolder
        ``run-<fingerprint>``, where the fingerprint hashes the training data,
        the parameters (all but ``verbose``, ``device``, ``warm_start``,
        ``accelerator`` and ``checkpoint_dir``; ``max_epochs`` included) and the
        seeds drawn from ``random_state`` (a callable or custom potential and
        callbacks by their code, constants, captured values, ``functools.partial``
        arguments and attributes, or a ``Potential``'s ``get_config()``; one that
        none of these identifies gets a fingerprint of its own, with a warning, and
        never resumes). A fresh :meth:`fit` resumes only a
        checkpoint with its own fingerprint, from its last epoch, running only
        the epochs left: other data, other settings, or clones in a search or
        cross-validation sharing the folder never pick up another fit's model,
        and on the same machine the resumed fit equals the uninterrupted one
        bit for bit (not with ``early_stopping``, stateful user callbacks, or
        ``perturbation="wells"``, which starts afresh). Needs an integer
        ``random_state`` to resume (a warning says so otherwise). Concurrent
        writers take turns through a lock file. Not stored by :meth:`save`.
        Old ``run-*`` subfolders are not removed. See :ref:`scaling`.
    compile : bool, default=False
        Run the training forward pass through ``torch.compile`` (compiled on
        the first epoch of each fit; the fitted network, its pickles and saved
        files are the plain module). Opt-in: on a CPU it did not pay at this
        network's size (see ``benchmarks/README.md``).
    data_placement : {"auto", "device", "stream"}, default="auto"
        Where the training rows live. ``"device"``: copied to the training
        device once, batches sliced there. ``"stream"``: left in host memory
        (the array or memmap given, not copied) and sent to the device in
        blocks of about 64 MiB, each gathered into pinned memory and copied on
        a side stream while the previous block trains; the batches are the same
        as with ``"device"`` under the same ``random_state``. ``"auto"``:
        ``"device"`` on a CPU, and on a GPU when two float32 copies of the rows
        fit in half of its free memory, else ``"stream"``. Ignored (always
        ``"device"``) with an ``accelerator``.
    accelerator : accelerate.Accelerator, default=None
        Train through Hugging Face Accelerate (skorch's ``AccelerateMixin``):
        the accelerator places the network (``device`` is then ignored),
        applies its own mixed-precision setting, and, when several processes
        were launched (``accelerate launch``, ``torchrun``), trains
        data-parallel: each process takes a disjoint part of every global
        batch of ``batch_size * num_processes`` rows. See :ref:`scaling`. The
        same object survives ``clone``; a pickled fitted model drops it and
        holds a plain network.

    Attributes
    ----------
    net_ : VAENet
        The fitted skorch net (its ``module_`` is the torch network).
    history_ : skorch.History
        Per-epoch log: ``train_loss``, ``train_recon``, ``train_kl``,
        ``train_perturbation`` (per-sample means) and ``valid_*`` with early stopping. The
        losses are those of the standardised data the network trains on; :meth:`score` is
        in the data's own units (for Gaussian data they differ by the sum of the log
        scales of the features).
    prior_energies_ : ndarray or None
        The exact spectrum ``sum_i n_i w_i`` of the perturbed prior, ascending:
        its lowest ``1 + d + d(d+1)/2`` levels, as many as the first two
        oscillator shells hold. Where the stiffest axis's frequency is above 1.5
        times the softest's, some of them are third-shell levels (the default
        ladder at ``d = 8``: ``3 w_0 = 3`` is in, the second shell's
        ``2 w_7 = 3.75`` is not; the highest is 3.375). For the ladder
        ``w_i = 1 + lam c_i / beta``; for no perturbation ``w_i = 1`` (the
        degenerate ladder ``0, 1, 2, ...`` with multiplicities ``1, d,
        d(d+1)/2``). None when the potential has no closed-form spectrum
        (wells, user callables).
    potential_ : Potential or None
        The fitted potential, in the model's internal latent coordinates.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X was a DataFrame with string column names.
    n_epochs_ : int
        Total number of completed training epochs; each :meth:`partial_fit` call counts
        one epoch over the rows it is given.

    See Also
    --------
    SpectralDegeneracy : Spectrum, multiplets and energy landscape of an embedding.
    sklearn.decomposition.PCA : The linear, non-degenerate reference.

    Notes
    -----
    Per sample the loss is ``-E_q[log p(x|z)] + beta * KL(q(z|x) || N(0, I))
    + lam * E_q[V(z)]``. With the ladder, KL plus the potential equals
    ``beta * KL(q || N(0, diag(1 / w_i)))`` up to a constant: the prior becomes
    an anisotropic oscillator whose first excited level splits into the
    first-order shifts ``w_i = 1 + lam c_i / beta``.

    Data are standardised (per feature, mean and standard deviation computed
    in float64, robust to values near 1e-300 or 1e300) before they meet the
    float32 network, and decoded values are mapped back the same way: offsets
    such as timestamps near 1e9 and units from 1e-300 to 1e38 do not change the
    embedding. Constant data (every feature constant) are refused. A feature
    constant in the training data (for :meth:`partial_fit`, in the first
    chunk) carries no information: the model ignores it, reading it as its
    training value, so :meth:`transform` does not depend on it and
    :meth:`score_samples` is the bound of the other features' density; a
    continued fit on rows where it varies says so.

    Sign rule: latent axis ``j`` takes the orientation of the closed-form start's
    axis ``j``: the one in which the decoded feature that this start axis moves
    most (between ``z_j = -1`` and ``z_j = +1``) increases (in the spirit of
    :func:`sklearn.utils.extmath.svd_flip`). The start's linear maps stay in the
    network (training adds residual maps to them) and the start is the same for
    every seed, so every seed and every continued fit keeps these orientations.
    On a random start, each axis is oriented at the end of its first fit so that
    the feature it moves most increases, and continued fits keep those signs. The
    rule depends on the model only, not on the data passed to ``transform``.

    References
    ----------
    .. [1] Andrés-Terré, H. & Lió, P. (2019). Perturbation theory approach to
       study the latent space degeneracy of Variational Autoencoders.
       arXiv:1907.05267.
    .. [2] Tipping, M. E. & Bishop, C. M. (1999). Probabilistic principal
       component analysis. JRSS B, 61(3), 611-622.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from perturbvae import PerturbedVAE
    >>> X = StandardScaler().fit_transform(load_digits().data)
    >>> vae = PerturbedVAE(n_components=4, max_epochs=5, random_state=0)
    >>> Z = vae.fit_transform(X)
    >>> Z.shape
    (1797, 4)
    >>> vae.prior_energies_[:5].round(2).tolist()
    [0.0, 1.0, 1.25, 1.5, 1.75]
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "beta": [Interval(Real, 0, None, closed="neither")],
        "init": [StrOptions({"pca", "random"})],
        "perturbation": [StrOptions({"ladder", "wells"}), Potential, callable, None],
        "perturbation_strength": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions({"gaussian", "bernoulli"})],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "checkpoint_dir": [str, os.PathLike, None],
        "compile": ["boolean"],
        "data_placement": [StrOptions({"auto", "device", "stream"})],
        "accelerator": [HasMethods(["prepare", "unwrap_model"]), None],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(256, 128),
        beta=1.0,
        init="pca",
        perturbation="ladder",
        perturbation_strength=1.0,
        likelihood="gaussian",
        max_epochs=100,
        batch_size=128,
        lr=1e-3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        warm_start=False,
        max_grad_norm=None,
        checkpoint_dir=None,
        compile=False,
        data_placement="auto",
        accelerator=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.beta = beta
        self.init = init
        self.perturbation = perturbation
        self.perturbation_strength = perturbation_strength
        self.likelihood = likelihood
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.max_grad_norm = max_grad_norm
        self.checkpoint_dir = checkpoint_dir
        self.compile = compile
        self.data_placement = data_placement
        self.accelerator = accelerator

    # ------------------------------------------------------------------ fit --
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the VAE on X.

        Everything is checked before any work; a fit that fails leaves the
        estimator as it was (a fresh fit), or at its last completed epoch (a
        ``warm_start`` fit), never half-replaced. An interrupt (Ctrl-C) inside an
        epoch or in its epoch-end callbacks ends training early, as in skorch: the
        fit returns the model of its last completed epoch, with a
        ``RuntimeWarning`` that says so (also for a callback that raises
        ``KeyboardInterrupt``; skorch's ``EarlyStopping`` stops silently). During
        the warm-up of :class:`~perturbvae.potentials.Wells` it ends the fit there,
        the wells not yet placed: the next training call places them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (float32 or float64; other numeric types are cast).
        y : None
            Ignored.

        Returns
        -------
        self : PerturbedVAE
        """
        continuing = self.warm_start and hasattr(self, "net_")
        self._check_params(fitting=True, fresh=not continuing)
        with self._replace_on_success(continuing):
            X = self._validate_X(X, reset=not continuing, fitting=True)
            self._check_rows(X, fresh=not continuing)
            self._train(X, epochs=self.max_epochs, continuing=continuing)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one epoch on X, initialising the model on the first call.

        Feed chunks of a data set too large for memory one call at a time; the
        closed-form start and the standardisation are computed from the first chunk,
        which needs at least 2 rows; later chunks may hold a single row (not with
        ``early_stopping``, whose validation share of one row is none).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : PerturbedVAE
        """
        continuing = hasattr(self, "net_")
        self._check_params(fitting=True, fresh=not continuing)
        with self._replace_on_success(continuing):
            X = self._validate_X(X, reset=not continuing, fitting=True)
            self._check_rows(X, fresh=not continuing)
            self._train(X, epochs=1, continuing=continuing)
        return self

    def _check_params(self, fitting=False, fresh=True):
        """Checks beyond ``_parameter_constraints``, before any work."""
        check_hidden_layer_sizes(self.hidden_layer_sizes)
        check_callbacks(self.callbacks)
        check_components(self.perturbation, self.callbacks)
        if fresh and self.accelerator is None:
            # A continued fit trains where the network is (e.g. on the CPU after
            # loading a model pickled on a GPU): ``device`` applies to fresh fits.
            check_device(self.device)
        if fitting and self.checkpoint_dir is not None:
            _checkpoint.check_writable(self.checkpoint_dir)
        if fitting and not fresh:
            self._check_same_network()

    def set_params(self, **params):
        """Set the parameters (scikit-learn's ``set_params``); ``perturbation__<name>`` sets a
        parameter of a :class:`~perturbvae.potentials.Potential` given as ``perturbation``.

        Returns
        -------
        self : PerturbedVAE
        """
        nested = sorted(k for k in params if k.startswith("perturbation__"))
        target = params.get("perturbation", getattr(self, "perturbation", None))
        if nested and not isinstance(target, Potential):
            raise ValueError(
                f"{nested[0]} sets a parameter of a potential object, and "
                f"perturbation={target!r} is not one: pass the object, e.g. "
                "perturbation=Wells() or Ladder(), to set its parameters (or "
                "perturbation=Wells(n_wells=3) directly).")
        return super().set_params(**params)

    def _check_rows(self, X, fresh):
        """Parameters checked against the data, before any work (a fresh fit places a
        data-placed potential on these rows)."""
        if not fresh:
            return
        wells = make_potential(self.perturbation)  # the name "wells" resolved
        if not isinstance(wells, Wells):
            return
        wells._validate_params(X.shape[0])
        if self.init == "random" and wells.warmup_fraction == 0:
            # the wells take their centres and width from the codes at the start: a random
            # network's codes are near 0 (spread 0.04-0.08), and each row bound that tightly
            # to its well collapsed the embedding (ellipsoids' axes 0.01-0.08 wide, ELBO
            # -3.9 -> -11.2), silently
            raise ValueError(
                "perturbation='wells' places its wells on the codes at the start of training "
                "(Wells(warmup_fraction=0)), the closed-form start of init='pca'; with "
                "init='random' those are a random network's codes, all near 0. Use "
                "init='pca', or Wells(warmup_fraction=...) above 0 to place the wells after "
                "that part of the epochs.")

    def _check_same_network(self):
        """A continued fit trains the fitted network: parameters that shape it cannot
        change (``set_params`` after a fit, then ``warm_start`` or ``partial_fit``)."""
        module = self.net_.module_
        # (value now, the fitted network's); a network pickled before it recorded its hidden
        # sizes has None there and is not compared
        shape = {"n_components": (self.n_components, module.n_components),
                 "likelihood": (self.likelihood, module.likelihood),
                 "hidden_layer_sizes": (tuple(int(h) for h in self.hidden_layer_sizes),
                                        getattr(module, "hidden_layer_sizes", None))}
        for name, (value, fitted) in shape.items():
            if fitted is not None and value != fitted:
                given = getattr(self, name)  # as the user wrote it
                raise ValueError(
                    f"{name}={given!r} differs from the fitted network's {name}={fitted!r}: "
                    "a continued fit (warm_start=True or partial_fit) trains that network. "
                    f"Set warm_start=False (or use a new estimator) to fit with {name}="
                    f"{given!r}.")
        if not _same_kind(self.perturbation, self.potential_):
            # the prior is placed at the start of a fresh fit; a continued fit keeps it
            raise ValueError(
                f"perturbation={self.perturbation!r} differs from the fitted prior "
                f"({self.potential_!r}):"
                " a continued fit (warm_start=True or partial_fit) trains the fitted network "
                "and prior. Set warm_start=False (or use a new estimator) to fit with it.")

    @contextmanager
    def _replace_on_success(self, continuing):
        """Put the fitted state back as it was if the block raises an Exception.

        A fresh fit builds a new network aside, so restoring the attributes
        restores the old model. A continued fit trains the network in place: it
        goes back to its last completed epoch (a KeyboardInterrupt is handled
        by the net, which keeps the last completed epoch).
        """
        net = getattr(self, "net_", None)
        if continuing:
            net.snapshot()  # the state to return to if the first epoch fails
            epochs_before = len(net.history)
            prior_before = (net.beta, net.strength)

        def keep_completed_epochs(saved):
            if not continuing:
                return
            # The call set the net's callbacks and prior in place (_sync_callbacks,
            # _sync_training_params): the record of which callbacks it holds must stay
            # with it (restoring the old record let a later call with the old callbacks
            # train with this call's), a KL warm-up cut off inside an epoch must not
            # leave its weight behind, and a call that completed no epoch leaves the
            # model's prior (sample) as it was.
            if "_built_callbacks" in self.__dict__:
                saved["_built_callbacks"] = self._built_callbacks
            net.kl_weight = 1.0
            done = net.restore_last_good()
            if done is None or done <= epochs_before:
                net.beta, net.strength = prior_before
            else:
                saved["prior_energies_"] = self.prior_energies_
            if done is not None:
                self.__dict__.update(net_=net)
                self._apply_sign_rule(continuing=True)
                saved["_n_features_out"] = self._n_features_out

        with fitted_state_kept_on_error(self, keep_completed_epochs):
            yield

    def _validate_X(self, X, reset, fitting=False):
        # A fresh fit needs 2 samples (a mean and a variance); a continued fit
        # (warm_start, partial_fit after the first call) and transforming need 1.
        X = validate_numbers(
            self, X, reset=reset, dtype=[np.float64, np.float32],
            ensure_min_samples=2 if fitting and reset else 1, accept_sparse=False,
        )
        if reset and self.n_components > X.shape[1]:
            # The command line's rule too: as many latent axes as features at most.
            raise ValueError(
                f"n_components={self.n_components} exceeds the number of features: X has "
                f"{X.shape[1]} feature(s) (n_features={X.shape[1]}). Choose "
                f"n_components <= {X.shape[1]}."
            )
        if reset and fitting and self.n_components > X.shape[0]:
            # scikit-learn's PCA rule: n rows span at most n - 1 directions about their mean;
            # the axes beyond came out constant (6 rows, n_components=8: spreads 0.004-0.006)
            raise ValueError(
                f"n_components={self.n_components} exceeds the number of samples: X has "
                f"{X.shape[0]} row(s) (n_samples={X.shape[0]}). Choose n_components <= "
                f"{X.shape[0]}, as scikit-learn's PCA asks (the rows span at most "
                f"{X.shape[0] - 1} direction{'' if X.shape[0] == 2 else 's'} about their "
                "mean: more axes carry no spread)."
            )
        # the fitted network's likelihood once fitted (set_params may have changed it since)
        likelihood = self.likelihood if reset else self.net_.module_.likelihood
        if likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
            raise ValueError(
                "likelihood='bernoulli' needs inputs in [0, 1]; got values in "
                f"[{X.min():.10g}, {X.max():.10g}]. Scale X (e.g. MinMaxScaler) or "
                "use likelihood='gaussian'."
            )
        return X

    def _seeds(self):
        rng = check_random_state(self.random_state)
        return rng.randint(0, 2**31 - 1, size=4)

    def _standardise(self, A, name="X"):
        """``(A - mean) / scale`` computed in float64, then cast to the network's float32.

        Offsets and units of any size (timestamps near 1e9, values near 1e-300 or
        1e38) survive: only the standardised values meet float32.
        """
        out = np.empty(A.shape, dtype=np.float32)
        constant = getattr(self, "_x_constant", None)  # None: pickled before it was kept
        for start in range(0, A.shape[0], _STD_ROWS):
            raw = np.array(A[start:start + _STD_ROWS], dtype=np.float64)
            if constant is not None and constant.any():
                raw[:, constant] = self._x_fixed[constant]
            block = (raw - self._x_mean) / self._x_scale
            _check_float32_range(block, f"{name} (standardised with the training mean "
                                        "and scale)")
            out[start:start + _STD_ROWS] = block
        return out

    def _warn_ignored_features(self, X):
        """A continued fit on rows that vary in a feature the first fit found constant: the
        model ignores it (a partial_fit whose first chunk held one value of a column threw
        the column away silently)."""
        constant = getattr(self, "_x_constant", None)
        if constant is None or not constant.any():
            return
        cols = np.flatnonzero(constant)
        varies = cols[np.any(np.asarray(X[:, cols], dtype=np.float64)
                             != self._x_fixed[cols], axis=0)]
        if varies.size:
            warn_user(
                f"Feature(s) {varies.tolist()} of X vary here but were constant in the "
                "rows the model was first fitted on (for partial_fit, its first chunk): the "
                "model ignores them. Fit on rows where they vary (a first chunk that "
                "samples the whole data) to use them.")

    def _train(self, X, epochs, continuing):
        previous = getattr(self, "_fingerprint", None) if continuing else None
        if not continuing:
            self._initialize(X)
        else:
            self._reseed_if_needed()
            self._sync_training_params()
            self._warn_ignored_features(X)
        data = self._standardise(X)
        if continuing:
            if self.checkpoint_dir is not None:
                # A continued model is another model: its own checkpoint folder, chained
                # to the model it continues (its weights where it had no fingerprint).
                self._fingerprint = _checkpoint.fingerprint(
                    self, X, previous or _checkpoint.weights_digest(self.net_.module_))
            self._sync_callbacks()
        if not continuing and self.checkpoint_dir is not None and epochs == self.max_epochs:
            _checkpoint.warn_if_not_resumable(self)
            done = self._resume_checkpoint()
            epochs -= done
        net = self.net_
        placement = "device" if self.accelerator is not None else choose_placement(
            self.data_placement, X.shape[0], X.shape[1], self._device)
        split = self._validation_split(X.shape[0])
        train_data = self._datasets(data, placement, split)
        net.batch_size = resolve_batch_size(self.batch_size, len(train_data), self._device)
        set_lr(net, scaled_lr(self.lr, self.batch_size, net.batch_size))

        pot = self.potential_
        net.label_column = False
        if pot is not None and pot.requires_warmup and not hasattr(pot, "n_wells_"):
            n_warm = min(epochs, int(round(getattr(pot, "warmup_fraction", 0.0) * epochs)))
            net.potential_active = False
            self._run_epochs(train_data, n_warm)
            if getattr(net, "interrupted_", False):
                # Ctrl-C ends the fit, warm-up included: the wells are placed by the
                # next training call, as on a model whose warm-up has not ended
                self._apply_sign_rule(continuing)
                return self
            epochs -= n_warm
            self._place_potential(pot, X)
            net.potential_active = True
            labels = getattr(pot, "labels_", None)
            if hasattr(pot, "expected_own") and labels is not None and pot.n_wells_ > 1:
                # Each row travels with its well, as one more float32 column
                # (the net batches rows of one tensor), for this fit only.
                data = np.column_stack([data, labels.astype(np.float32)])
                train_data = self._datasets(data, placement, split)
                net.label_column = True
        self._run_epochs(train_data, epochs)
        net.label_column = False
        self._apply_sign_rule(continuing)
        return self

    def _resume_checkpoint(self):
        """Epochs done by this fit's checkpoint, loaded into the fresh net (0: none)."""
        pot = self.potential_
        if pot is not None and pot.requires_warmup:
            # The potential is fitted after a warm-up and is not in the checkpoint: said
            # where a checkpoint of this fit is there and not used (a first fit has none)
            if _checkpoint.has_checkpoint(self):
                warn_user(f"perturbation={self.perturbation!r} is placed on the codes "
                          "at the start of training (or after its warm-up), which "
                          "checkpoints do not hold: this fit starts afresh.")
            return 0
        done = _checkpoint.resume(self)
        if done:
            self.net_.snapshot()
        return done

    def _validation_split(self, n):
        """Row indices of the held-out part (early stopping) and the rest, or None; drawn
        from the seed alone, so that every call of a continued fit on the same rows holds
        out the same ones (and a resumed fit draws the same)."""
        if not self.early_stopping:
            return None
        rng = np.random.RandomState(self._seed_values[3])
        idx = rng.permutation(n)
        n_valid = max(1, int(round(self.validation_fraction * n)))
        if n - n_valid < 1:
            raise ValueError(
                f"n_samples={n} is too few for early_stopping with "
                f"validation_fraction={self.validation_fraction}."
            )
        return idx[:n_valid], idx[n_valid:]

    def _datasets(self, data, placement, split):
        """The training dataset of ``data``; the validation part goes to the net."""
        if split is None:
            self.net_.set_params(train_split=None)
            return training_dataset(data, None, placement, self._device)
        from skorch.helper import predefined_split

        valid = training_dataset(data, split[0], placement, self._device)
        self.net_.set_params(train_split=predefined_split(valid))
        return training_dataset(data, split[1], placement, self._device)

    def _place_potential(self, pot, X):
        """Fit a data-placed potential (:class:`Wells`) on X and its current codes.

        The wells are counted on the standardised rows, with a fixed seed: they
        are a property of the data, the same for every ``random_state``. A
        potential whose ``fit`` takes no ``X`` gets the codes alone.
        """
        mean, scale, _ = _moments(np.asarray(X[:: max(1, X.shape[0] // _INIT_MAX_ROWS)],
                                             dtype=np.float64))
        Xs = (np.asarray(X, dtype=np.float64) - mean) / scale
        takes = inspect.signature(pot.fit).parameters
        kwargs = {"X": Xs} if "X" in takes else {}
        if "feature_names" in takes and hasattr(self, "feature_names_in_"):
            kwargs["feature_names"] = self.feature_names_in_  # named in its warnings
        pot.fit(self._encode_internal(X), random_state=0, **kwargs)
        _warn_weak_wells(pot)

    def _run_epochs(self, data, epochs):
        net = self.net_
        net.interrupted_ = False  # set by the net when a Ctrl-C ends these epochs
        if epochs <= 0:
            return
        net.max_epochs = epochs
        net.partial_fit(data)

    def _initialize(self, X):
        self._seed_values = self._seeds()
        self._fingerprint = (None if self.checkpoint_dir is None
                             else _checkpoint.fingerprint(self, X))
        self._device = resolve_device(self.device)
        self._make_generators()
        d, p = self.n_components, X.shape[1]
        self.potential_ = make_potential(self.perturbation)
        strength = self._strength()
        freqs = self._prior_frequencies(self.potential_, strength)
        self.prior_energies_ = self._exact_prior_energies(freqs)

        # The closed-form start needs second moments only: on large data an evenly
        # spaced subsample gives them accurately, with memory independent of n
        # (and, unlike a random one, the same for every random_state).
        step = max(1, X.shape[0] // _INIT_MAX_ROWS)
        Xi = np.asarray(X[::step], dtype=np.float64)
        mean, scale, constant = _moments(Xi)
        # A feature constant in training carries no information: the model reads it as
        # its training value whatever it is later (its unit-1 scale made a new value's
        # effect depend on the feature's units).
        self._x_constant, self._x_fixed = constant, np.where(constant, mean, 0.0)
        if constant.all():
            raise ValueError(
                "X is constant: every feature has zero variance (after removing rounding "
                "noise), so there is nothing to embed. Check the data or drop constant "
                "features."
            )
        if self.likelihood == "gaussian":
            # Standardised in float64 outside the network (see _standardise): the
            # network itself sees mean 0 and unit variance.
            self._x_mean, self._x_scale = mean, scale
            Xs = (Xi - mean) / scale
            mean, scale = np.zeros(p), np.ones(p)
        else:  # Bernoulli inputs stay in [0, 1]; the network standardises them itself
            self._x_mean, self._x_scale = np.zeros(p), np.ones(p)
            Xs = (Xi - mean) / scale
        var = np.where(constant, 0.0, (scale if self.likelihood != "gaussian" else 1.0) ** 2)
        with torch.random.fork_rng(devices=[]):
            # Weight init draws from the global generator; fork it so that
            # random_state alone decides and the user's torch seed is untouched.
            torch.manual_seed(int(self._seed_values[0]))
            module = VAEModule(p, d, tuple(self.hidden_layer_sizes), self.likelihood)
        module.set_variance_floor(var)
        if self.init == "pca":
            # PCA of the standardised data: the linear paths act on standardised
            # features (see VAEModule.init_pca), so no feature's unit matters. Constant
            # features are left out: their zero eigenvalues lowered the noise variance
            # (wine with one constant column: 0.527 -> 0.483) and moved the codes.
            live = ~constant
            p_live = int(live.sum())
            k = int(min(d, p_live, Xi.shape[0]))
            # a fixed seed: where scikit-learn picks its randomized solver (more than 500
            # rows or columns, fewer than ten rows a column) the start was the seed's own,
            # and a 200 x 600 table's last start axes came out turned and flipped by seed
            pca = PCA(n_components=k, random_state=0)
            pca.fit(Xs[:, live])
            _warn_beyond_rank(pca.explained_variance_, d)
            components = np.zeros((k, p))
            components[:, live] = pca.components_
            # Maximum-likelihood variances (divided by n, like the standardisation;
            # PCA divides by n - 1): a data set repeated twice gets the same start.
            ml = (Xi.shape[0] - 1) / Xi.shape[0]
            noise = pca.noise_variance_ * ml if k < min(p_live, Xi.shape[0]) else 1e-3
            prior_var = None if freqs is None else 1.0 / np.asarray(freqs)
            module.init_pca(mean, scale, components, pca.explained_variance_ * ml, noise,
                            beta=self.beta, prior_variance=prior_var)
        else:
            module.init_random(mean, scale, var)

        self._build_net(module, strength)

    def _callbacks_key(self):
        """What the net's callbacks are built from: the user's callbacks as they are now
        (described, so that one edited in place counts as changed: ``KLWarmup.epochs`` set
        to 100 after a fit was not used; the objects themselves where they cannot be
        described), early stopping, the progress bar and the checkpoint folder."""
        folder = _checkpoint.make_callback(self)
        try:
            user = _identity.json_key(_identity.describe(list(self.callbacks or [])))
        except _identity.Unidentifiable:
            user = tuple(self.callbacks or [])
        return (user, bool(self.early_stopping),
                self.n_iter_no_change if self.early_stopping else None,
                self.verbose >= 2, None if folder is None else folder.dirname)

    def _net_callbacks(self):
        """The net's callbacks for the current parameters (fresh copies)."""
        callbacks = list(self.callbacks or [])
        if self.early_stopping:
            from skorch.callbacks import EarlyStopping

            callbacks.append(("early_stopping", EarlyStopping(
                monitor="valid_loss", patience=self.n_iter_no_change, load_best=True)))
        if self.verbose >= 2:
            from skorch.callbacks import ProgressBar

            callbacks.append(("progress_bar", ProgressBar()))
        checkpoint = _checkpoint.make_callback(self)  # this fit's own folder
        if checkpoint is not None:
            callbacks.append(("checkpoint", checkpoint))
        self._built_callbacks = self._callbacks_key()
        return [copy.deepcopy(cb) for cb in callbacks] or None

    def _sync_callbacks(self):
        """A continued fit trains with the callbacks its parameters name now (set after
        the first fit or after loading), not those the net was built with."""
        if getattr(self, "_built_callbacks", None) != self._callbacks_key():
            self.net_.callbacks = self._net_callbacks()
            self.net_.initialize_callbacks()

    def _build_net(self, module, strength):
        """Wrap ``module`` in a fresh, initialised :class:`VAENet` as ``net_``."""
        callbacks = self._net_callbacks()
        net_cls, placement = VAENet, {"device": self._device}
        if self.accelerator is not None:
            from ._accelerate import AcceleratedVAENet

            # The accelerator's device (e.g. this process's GPU), for the data
            # tensors and the noise generator; the accelerator moves the module.
            self._device = str(self.accelerator.device)
            self._make_generators()
            net_cls = AcceleratedVAENet
            placement = {"accelerator": self.accelerator,
                         "device": None if self.accelerator.device_placement else self._device}
        net = net_cls(
            module,
            beta=float(self.beta),
            potential=self.potential_,
            strength=strength,
            shuffle_generator=self._shuffle_gen,
            noise_generator=self._noise_gen,
            max_grad_norm=self.max_grad_norm,
            compile_forward=bool(self.compile),
            optimizer=torch.optim.Adam,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=None,
            callbacks=callbacks,
            verbose=int(self.verbose),
            **placement,
        )
        net.initialize()
        self.net_ = net

    def _sync_training_params(self):
        """Let a warm-start or partial fit use the current training parameters."""
        net = self.net_
        strength = self._strength()
        net.set_params(lr=self.lr, verbose=int(self.verbose))
        net.beta, net.strength, net.max_grad_norm = float(self.beta), strength, self.max_grad_norm
        net.compile_forward = bool(self.compile)
        self.prior_energies_ = self._exact_prior_energies(
            self._prior_frequencies(self.potential_, strength))

    def _strength(self):
        """The weight of the potential in the loss (0 without a potential)."""
        return float(self.perturbation_strength) if self.potential_ is not None else 0.0

    def _exact_prior_energies(self, freqs):
        """The lowest ``1 + d + d(d+1)/2`` levels, or None without a closed form."""
        d = self.n_components
        return None if freqs is None else oscillator_levels(freqs, 1 + d + d * (d + 1) // 2)

    def _prior_frequencies(self, potential, strength):
        if potential is None:
            return np.ones(self.n_components)
        return potential.frequencies(self.n_components, strength, float(self.beta))

    def _make_generators(self):
        self._shuffle_gen = torch.Generator().manual_seed(int(self._seed_values[1]))
        self._noise_gen = torch.Generator(device=self._device).manual_seed(
            int(self._seed_values[2]))

    def _reseed(self, seed_values):
        """New generators from ``seed_values``, for the estimator and its net."""
        self._seed_values = np.asarray(seed_values)
        self._make_generators()
        self.net_.shuffle_generator = self._shuffle_gen
        self.net_.noise_generator = self._noise_gen

    def _reseed_if_needed(self):
        net = self.net_
        if net.shuffle_generator is None or net.noise_generator is None:
            # After unpickling or loading (generators do not pickle): continue
            # deterministically.
            self._device = str(net.device)
            base = int(self._seed_values[1]) + self.n_epochs_
            self._reseed([self._seed_values[0], base, base + 1, self._seed_values[3]])
            states = self.__dict__.pop("_generator_states", None)
            if states is not None and states[2] == self._noise_gen.device.type:
                # Pickled on this kind of device: continue exactly where the
                # generators were, so pickling between two calls changes nothing.
                self._shuffle_gen.set_state(states[0])
                self._noise_gen.set_state(states[1])

    def _to_device(self, a):
        return torch.as_tensor(np.ascontiguousarray(a, dtype=np.float32)).to(self._device)

    @torch.no_grad()
    def _apply_sign_rule(self, continuing=False):
        """Orient the output axes (:mod:`._signs`): as the closed-form start's; a random
        start's, read at the end of its first fit, stay in ``continuing`` fits."""
        module = self.net_.module_
        module.eval()
        module.latent_sign.copy_(_signs.axis_signs(
            _signs.axis_responses(module, module.decode),
            _signs.axis_responses(module, module.decode_start),
            previous=module.latent_sign.clone() if continuing else None))
        self._n_features_out = module.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
