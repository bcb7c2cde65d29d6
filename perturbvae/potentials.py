"""Perturbation potentials that lift the degeneracy of a VAE's latent space.

The standard-normal prior of a VAE is the ground state of an isotropic harmonic
oscillator: its loss is unchanged by rotations of the latent space. A potential
``V(z)`` added to the loss (``lam * E_q[V(z)]`` per sample) breaks that symmetry,
exactly as a perturbation lifts a degenerate level in quantum mechanics.

A potential is any :class:`Potential` subclass, or a callable mapping a
``(batch, d)`` tensor to a ``(batch,)`` tensor of energies. Potentials act on the
model's *internal* latent coordinates; the estimator's sign convention for its
output axes (see :class:`perturbvae.PerturbedVAE`) is applied afterwards.
"""

from __future__ import annotations

import copy
from itertools import islice

import numpy as np
import torch

from ._ladder import lowest_states

__all__ = ["Potential", "Ladder", "Wells", "CallablePotential", "oscillator_levels"]


class Potential:
    """Base class of latent perturbation potentials.

    Subclasses implement :meth:`energy`. They may also override

    - :meth:`expected` with a closed form of ``E_q[V(z)]`` under the diagonal
      Gaussian posterior (lower-variance gradients than the one-sample default);
    - :meth:`frequencies` when the perturbed prior is an exactly solvable
      anisotropic oscillator, so that the estimator can report its spectrum;
    - :meth:`fit` (with ``requires_warmup = True``) when the potential is built
      from a warm-up embedding, as :class:`Wells` is.

    Examples
    --------
    >>> import torch
    >>> from perturbvae.potentials import Potential
    >>> class Quartic(Potential):
    ...     def energy(self, z):
    ...         return (z ** 4).sum(dim=1) / 4
    >>> Quartic()(torch.ones(3, 2)).tolist()
    [0.5, 0.5, 0.5]
    """

    #: Whether :meth:`fit` must see a warm-up embedding before training uses it.
    requires_warmup = False

    def energy(self, z):
        """Potential energy of each latent point.

        Parameters
        ----------
        z : torch.Tensor of shape (batch, d)

        Returns
        -------
        torch.Tensor of shape (batch,)
        """
        raise NotImplementedError

    def __call__(self, z):
        return self.energy(z)

    def expected(self, mu, logvar, z):
        """Estimate of ``E_q[V(z)]`` for ``q = N(mu, diag(exp(logvar)))``.

        The default is the one-sample Monte Carlo estimate ``V(z)`` at the
        reparameterised sample ``z``, which is unbiased.
        """
        return self.energy(z)

    def fit(self, Z, n_wells=None, random_state=None):
        """Adapt the potential to a warm-up embedding (no-op by default)."""
        return self

    def frequencies(self, n_components, strength, beta):
        """Oscillator frequencies of the perturbed prior, or None if not exact.

        When the loss ``beta * KL(q || N(0, I)) + strength * E_q[V]`` equals
        ``beta * KL(q || N(0, diag(1 / w_i)))`` up to a constant, the perturbed
        prior is an anisotropic oscillator with frequencies ``w_i`` and its
        spectrum is ``sum_i n_i w_i`` (design section 1).
        """
        return None

    def sample_prior(self, n_samples, n_components, strength, beta, generator):
        """Draw from the perturbed prior ``p(z) ~ N(0, I) exp(-strength V(z) / beta)``.

        The default uses sampling-importance-resampling from ``N(0, I)``,
        which is exact as the proposal size grows and needs nothing but
        :meth:`energy`.
        """
        n_prop = max(20 * n_samples, 4096)
        z = torch.randn(n_prop, n_components, generator=generator)
        with torch.no_grad():
            logw = -float(strength) / float(beta) * self.energy(z).double()
        w = torch.softmax(logw, dim=0)
        idx = torch.multinomial(w, n_samples, replacement=True, generator=generator)
        return z[idx]

    def get_config(self):
        """JSON-serialisable description, used by :meth:`PerturbedVAE.save`."""
        raise TypeError(
            f"{type(self).__name__} cannot be saved as JSON; use pickle instead "
            "or a built-in potential ('ladder', 'wells')."
        )


class Ladder(Potential):
    """Quadratic potential ``V(z) = 1/2 sum_i c_i z_i^2`` with increasing stiffnesses.

    With strength ``lam``, KL plus this term equals ``beta * KL(q || N(0, S))``
    up to a constant, where ``S = diag(1 / (1 + lam c_i / beta))``: the prior
    becomes an anisotropic oscillator and the ``d``-fold first excited level
    splits into the frequencies ``1 + lam c_i / beta``. This is first-order
    perturbation theory, exact here because ``V`` is quadratic. Rotations and
    permutations of the axes stop being symmetries of the loss: axis 0 is the
    softest (widest) and carries the most variance.

    Parameters
    ----------
    stiffnesses : array-like of shape (d,), default=None
        Non-negative, strictly increasing ``c_i``. The default is the linear
        ladder ``c_i = i / d`` (``0, 1/d, ..., (d-1)/d``): evenly split levels,
        the softest axis left unperturbed. Measurements on digits (see
        ``benchmarks/README.md``) found that a steep (geometric) ladder
        collapses the weak axes, whereas the linear one does not.

    Examples
    --------
    >>> from perturbvae.potentials import Ladder
    >>> Ladder().frequencies(4, strength=1.0, beta=1.0).tolist()
    [1.0, 1.25, 1.5, 1.75]
    """

    def __init__(self, stiffnesses=None):
        self.stiffnesses = stiffnesses

    def _stiffness(self, d):
        if self.stiffnesses is None:
            return np.arange(d, dtype=np.float64) / d
        c = np.asarray(self.stiffnesses, dtype=np.float64).ravel()
        if c.shape[0] != d:
            raise ValueError(
                f"Ladder has {c.shape[0]} stiffnesses but the latent space has {d} axes."
            )
        if not np.all(np.isfinite(c)) or np.any(c < 0) or np.any(np.diff(c) <= 0):
            raise ValueError("Ladder stiffnesses must be finite, >= 0 and strictly increasing.")
        return c

    def _c(self, z):
        # Cached per (d, dtype, device): rebuilding it every step is measurable.
        key = (z.shape[1], z.dtype, z.device)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = torch.as_tensor(self._stiffness(z.shape[1]), dtype=z.dtype,
                                         device=z.device)
        return cache[key]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_cache", None)  # may hold GPU tensors
        return state

    def __deepcopy__(self, memo):
        return Ladder(copy.deepcopy(self.stiffnesses, memo))

    def energy(self, z):
        return 0.5 * (z * z * self._c(z)).sum(dim=1)

    def expected(self, mu, logvar, z):
        # Closed form: E_q[z_i^2] = mu_i^2 + sigma_i^2, no sampling noise.
        return 0.5 * ((mu * mu + logvar.exp()) * self._c(mu)).sum(dim=1)

    def frequencies(self, n_components, strength, beta):
        return 1.0 + float(strength) * self._stiffness(n_components) / float(beta)

    def sample_prior(self, n_samples, n_components, strength, beta, generator):
        w = torch.as_tensor(self.frequencies(n_components, strength, beta), dtype=torch.float32)
        return torch.randn(n_samples, n_components, generator=generator) / w.sqrt()

    def get_config(self):
        c = None if self.stiffnesses is None else [float(v) for v in np.ravel(self.stiffnesses)]
        return {"name": "ladder", "stiffnesses": c}

    def __repr__(self):
        return f"Ladder(stiffnesses={self.stiffnesses!r})"


class Wells(Potential):
    """Multi-well potential with minima at cluster centres of a warm-up embedding.

    ``V(z) = -log sum_k exp(-|z - m_k|^2 / (2 s^2)) - V0``: minus the log-density
    (up to a constant) of an isotropic Gaussian mixture with one component of
    width ``s`` on each of the ``k`` cluster centres ``m_k`` of a warm-up
    embedding, shifted by ``V0`` so that its minimum over the centres is 0. Its
    Boltzmann factor ``exp(-V)`` is that mixture: with ``strength = beta`` the
    perturbed prior ``N(0, I) exp(-lam V / beta)`` is the standard normal times
    the clusters' own density. ``k`` is the size of the ground multiplet that
    :class:`perturbvae.SpectralDegeneracy` measures on the warm-up embedding,
    unless given.

    Near each centre ``V`` is an oscillator of stiffness ``1 / s^2``, so with
    strength ``lam`` the local frequencies of the perturbed prior are
    ``1 + lam / (beta s^2)`` in every direction, and its minimum sits at
    ``m_k / (1 + beta s^2 / lam)`` (the standard-normal part pulls it towards
    the origin). Half-way between two centres a distance ``D`` apart the
    barrier is ``D^2 / (8 s^2) - log 2`` above the wells; the exact global
    spectrum is not known in closed form (``prior_energies_`` is None): the
    lowest ``k`` levels form a quasi-degenerate multiplet whose splitting shrinks
    like ``exp(-barrier)``. With a single well (``k = 1``) there is no
    topology to impose and ``V = 0``.

    Parameters
    ----------
    n_wells : int, default=None
        Number of wells; None measures it with ``SpectralDegeneracy``.
    width : float, default=None
        Width ``s`` of each well, in latent units. None uses the clusters' own
        spread in the warm-up embedding, ``sqrt(inertia / (n d))`` of the k-means
        fit (the root-mean-square distance of a point to its centre, per
        dimension), capped at a quarter of the median distance between a centre
        and its nearest other centre (so that barriers of at least
        ``2 - log 2`` nats separate the wells) and floored at a tenth of the
        embedding's root-mean-square spread (so that the stiffness stays bounded).
    max_wells : int, default=10
        Upper bound on the measured number of wells.
    warmup_fraction : float, default=0.3
        Fraction of the epochs spent training without the potential before it
        is measured and switched on.

    Attributes
    ----------
    centers_ : ndarray of shape (n_wells, d)
        Well centres, in the model's internal latent coordinates.
    n_wells_ : int
        Number of wells used.
    width_ : float
        Width ``s`` used.

    Notes
    -----
    An earlier version used ``V = -s^2 log sum_k exp(-|z - m_k|^2 / (2 s^2))``
    (unit stiffness) with ``s`` half the nearest-centre distance. That smooth
    minimum erases the barriers: half-way between two centres it is
    ``s^2 (D^2 / (8 s^2) - log 2) = D^2 / 8 - D^2 log(2) / 4 < 0``, lower than
    at the centres, so the "wells" did not separate clusters (measured on 5
    clusters: silhouette 0.58 against 0.61 for a plain VAE). Stiffness tied to
    the clusters' spread (``1 / s^2``, about 4 to 6 there) gave 0.65.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from perturbvae import PerturbedVAE
    >>> X, _ = make_blobs(600, n_features=10, centers=3, random_state=0)
    >>> vae = PerturbedVAE(n_components=2, perturbation="wells", max_epochs=20,
    ...                    random_state=0).fit(X)
    >>> vae.potential_.n_wells_
    3
    """

    requires_warmup = True

    def __init__(self, n_wells=None, width=None, max_wells=10, warmup_fraction=0.3):
        self.n_wells = n_wells
        self.width = width
        self.max_wells = max_wells
        self.warmup_fraction = warmup_fraction

    def fit(self, Z, n_wells=None, random_state=None):
        from sklearn.cluster import KMeans

        Z = np.asarray(Z, dtype=np.float64)
        n, d = Z.shape
        k = n_wells if n_wells is not None else self.n_wells
        if k is None:
            k = self._measure_wells(Z, random_state)
        k = int(max(1, min(k, n)))
        km = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit(Z)
        self.centers_ = km.cluster_centers_
        self.n_wells_ = k
        if self.width is not None:
            self.width_ = float(self.width)
        else:
            spread = float(np.sqrt(km.inertia_ / (n * d)))
            total = float(np.sqrt(Z.var(axis=0).mean()))
            if k > 1:
                dist = np.linalg.norm(self.centers_[:, None] - self.centers_[None], axis=2)
                np.fill_diagonal(dist, np.inf)
                spread = min(spread, 0.25 * float(np.median(dist.min(axis=1))))
            self.width_ = float(max(spread, 0.1 * total, 1e-6))
        self._offset = None
        return self

    def _measure_wells(self, Z, random_state):
        from ._spectral._estimator import SpectralDegeneracy

        n_levels = int(min(max(self.max_wells + 2, 6), max(3, Z.shape[0] // 20)))
        spec = SpectralDegeneracy(n_levels=n_levels, random_state=random_state)
        spec.fit(Z)
        return int(min(spec.n_ground_states_, self.max_wells))

    def _raw_energy(self, z, m):
        d2 = torch.cdist(z, m).pow(2)
        return -torch.logsumexp(-d2 / (2 * self.width_**2), dim=1)

    def energy(self, z):
        if not hasattr(self, "centers_"):
            raise RuntimeError("Wells must be fitted on a warm-up embedding before use.")
        m = torch.as_tensor(self.centers_, dtype=z.dtype, device=z.device)
        if getattr(self, "_offset", None) is None:
            # V0 = the lowest raw energy over the centres (also after loading a saved model).
            c = torch.as_tensor(self.centers_, dtype=torch.float64)
            self._offset = float(self._raw_energy(c, c).min())
        energy = self._raw_energy(z, m) - self._offset
        if self.n_wells_ == 1:
            # One well carries no topology: V = 0 (the model is then the plain
            # pca-started VAE). A single stiff well would only shrink the prior
            # isotropically (measured on digits: held-out ELBO -61.7 against -57).
            return energy * 0.0
        return energy

    def get_config(self):
        cfg = {
            "name": "wells",
            "n_wells": self.n_wells,
            "width": self.width,
            "max_wells": self.max_wells,
            "warmup_fraction": self.warmup_fraction,
        }
        if hasattr(self, "centers_"):
            cfg["centers_"] = np.asarray(self.centers_).tolist()
            cfg["width_"] = self.width_
            cfg["n_wells_"] = self.n_wells_
        return cfg

    def __repr__(self):
        return (
            f"Wells(n_wells={self.n_wells!r}, width={self.width!r}, "
            f"max_wells={self.max_wells!r}, warmup_fraction={self.warmup_fraction!r})"
        )


class CallablePotential(Potential):
    """Adapter for a plain callable ``f(z) -> (batch,)`` energies."""

    def __init__(self, func):
        self.func = func

    def energy(self, z):
        out = self.func(z)
        if not isinstance(out, torch.Tensor) or out.shape != (z.shape[0],):
            raise ValueError(
                "A perturbation callable must map a (batch, d) tensor to a (batch,) "
                f"tensor of energies; got {type(out).__name__} of shape "
                f"{tuple(getattr(out, 'shape', ()))} for input {tuple(z.shape)}."
            )
        return out

    def __repr__(self):
        return f"CallablePotential({self.func!r})"


def make_potential(perturbation):
    """Resolve the ``perturbation`` parameter into a fresh :class:`Potential` or None."""

    if perturbation is None:
        return None
    if isinstance(perturbation, str):
        if perturbation == "ladder":
            return Ladder()
        if perturbation == "wells":
            return Wells()
        raise ValueError(f"Unknown perturbation {perturbation!r}; use 'ladder', 'wells' or None.")
    if isinstance(perturbation, Potential):
        # A copy, so that fitting never mutates the user's parameter object.
        return copy.deepcopy(perturbation)
    if callable(perturbation):
        return CallablePotential(perturbation)
    raise TypeError(
        "perturbation must be 'ladder', 'wells', None, a Potential or a callable; "
        f"got {type(perturbation).__name__}."
    )


def potential_from_config(cfg):
    """Rebuild a built-in potential from :meth:`Potential.get_config` output."""
    cfg = dict(cfg)
    name = cfg.pop("name")
    if name == "ladder":
        return Ladder(**cfg)
    if name == "wells":
        fitted = {k: cfg.pop(k) for k in ("centers_", "width_", "n_wells_") if k in cfg}
        pot = Wells(**cfg)
        if fitted:
            pot.centers_ = np.asarray(fitted["centers_"], dtype=np.float64)
            pot.width_ = float(fitted["width_"])
            pot.n_wells_ = int(fitted["n_wells_"])
        return pot
    raise ValueError(f"Unknown potential {name!r} in saved model.")


def oscillator_levels(frequencies, n_levels):
    """Lowest ``n_levels`` energies ``sum_i n_i w_i`` of an anisotropic oscillator.

    Exact enumeration in increasing order (a best-first search over occupation
    numbers), with degenerate levels repeated.

    Parameters
    ----------
    frequencies : array-like of shape (d,)
        Positive frequencies ``w_i``.
    n_levels : int
        How many levels to return.

    Returns
    -------
    ndarray of shape (n_levels,)

    Examples
    --------
    >>> from perturbvae.potentials import oscillator_levels
    >>> oscillator_levels([1.0, 1.0], 6).tolist()
    [0.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    """
    w = np.asarray(frequencies, dtype=np.float64).ravel()
    if w.size == 0 or np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("Oscillator frequencies must be positive and finite.")
    states = lowest_states(lambda j, n: n * w[j], w.size)
    return np.asarray([e for e, _ in islice(states, n_levels)])
