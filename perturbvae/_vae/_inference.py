"""PerturbedVAE's fitted use: encode, decode, score and sample, in bounded row batches."""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._steps import AUTO_BATCH_GPU_MAX

# Rows per forward pass at inference: bounds memory whatever the data size.
_INFER_MIN_ROWS = 1024
_F32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(A, name):
    """The network computes in float32: refuse values it cannot represent."""
    # max and min, not abs(A).max(): no temporary copy of a large array
    if A.size and max(A.max(), -A.min()) > _F32_MAX:
        raise ValueError(
            f"{name} has values beyond the float32 range (|value| > {_F32_MAX:.3g}), which the "
            "network computes in; rescale the data (e.g. StandardScaler)."
        )


class InferenceMixin(TransformerMixin):
    """``transform``, ``inverse_transform``, ``score_samples``, ``score`` and ``sample`` of a
    fitted :class:`~perturbvae.PerturbedVAE` (which provides ``net_``, ``_validate_X`` and
    ``_standardise``).

    A ``TransformerMixin`` itself: scikit-learn wraps ``transform`` for ``set_output`` only
    in the class that defines it.
    """

    @property
    def history_(self):
        """The skorch ``History`` of all epochs (see Attributes)."""
        check_is_fitted(self, "net_")
        return self.net_.history

    @property
    def n_epochs_(self):
        """Total number of completed training epochs (see Attributes)."""
        check_is_fitted(self, "net_")  # a fitted attribute: absent before fit
        return len(self.net_.history)

    def _infer_rows(self):
        bs = self.batch_size if self.batch_size != "auto" else AUTO_BATCH_GPU_MAX
        return max(int(bs), _INFER_MIN_ROWS)

    def _batches(self, A, standardise=False):
        """Yield device tensors of at most ``_infer_rows`` rows of A (standardised data)."""
        step = self._infer_rows()
        dev = self.net_.module_.latent_sign.device
        for start in range(0, A.shape[0], step):
            # a bounded copy: also safe for read-only memmaps, which torch won't wrap
            if standardise:
                chunk = self._standardise(A[start:start + step])
            else:
                chunk = np.array(A[start:start + step], dtype=np.float32, order="C")
            yield torch.from_numpy(chunk).to(dev)

    def _map_batches(self, A, fn, tail, dtype, standardise=False):
        """``fn(module, batch)`` over row batches of A in eval mode, without gradients.

        Memory is bounded by one batch whatever the number of rows. With
        ``standardise``, A is data, standardised batch by batch in float64.
        """
        module = self.net_.module_
        module.eval()
        out = np.empty((A.shape[0],) + tail, dtype=dtype)
        pos = 0
        with torch.no_grad():
            for batch in self._batches(A, standardise):
                res = fn(module, batch)
                out[pos:pos + len(res)] = res.cpu().numpy()
                pos += len(res)
        return out

    def _encode_internal(self, X):
        d = self.net_.module_.n_components  # the fitted network's (also during a fit)
        return self._map_batches(X, lambda m, xb: m.encode(xb)[0], (d,),
                                 np.float32, standardise=True)

    def transform(self, X):
        """Posterior means ``E_q[z | x]`` of X (deterministic, in batches).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Same float dtype as X (float32 or float64).
        """
        check_is_fitted(self, "net_")
        X = self._validate_X(X, reset=False)
        Z = self._encode_internal(X)
        Z *= self.net_.module_.latent_sign.cpu().numpy()
        return Z.astype(X.dtype, copy=False)

    def inverse_transform(self, Z):
        """Decoder means ``E[x | z]`` (probabilities for a Bernoulli likelihood).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self, "net_")
        from sklearn.utils import check_array

        Z = check_array(Z, dtype=[np.float64, np.float32], input_name="Z")
        _check_float32_range(Z, "Z")
        if Z.shape[1] != self.net_.module_.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} features, but {type(self).__name__} was fitted with "
                f"n_components={self.net_.module_.n_components}."
            )
        X = self._decode(Z)
        if not np.all(np.isfinite(X)):  # codes near the float32 limit overflow the decoder
            raise ValueError(
                f"Z decodes to values beyond the float32 range (|Z| up to "
                f"{max(Z.max(), -Z.min()):.3g}, far outside the codes of the data); rescale Z.")
        return X.astype(Z.dtype, copy=False)

    def _decode(self, Z, internal=False):
        """Decoder means in data units (float64)."""
        def decode(m, zb):
            return m.mean_output(m.decode(zb if internal else zb * m.latent_sign))

        Xs = self._map_batches(Z, decode, (self.n_features_in_,), np.float64)
        Xs *= self._x_scale
        Xs += self._x_mean
        return Xs

    def score_samples(self, X):
        """Evidence lower bound (ELBO) of each sample, in nats.

        ``E_q[log p(x|z)] - KL(q(z|x) || N(0, I))``, with the KL at weight 1
        whatever ``beta`` and without the perturbation term, so that models
        with different settings are compared on the same bound of
        ``log p(x)``: the likelihood of the decoder under the unperturbed
        prior. A perturbed model (the default ladder) draws from its own
        prior in :meth:`sample`, and this bound lies below that model's own:
        at the closed-form start it equals the exact probabilistic-PCA
        log-likelihood for ``perturbation=None`` and is 0.04-0.75 nats below
        it with the ladder (wine and digits, ``n_components`` 2 to 20; the gap
        grows with ``n_components``). The expectation over ``q`` is the third-degree spherical
        cubature rule (the ``2 d`` points ``mu +- sqrt(d) sigma_i e_i``, the
        unscented transform's): exact for a reconstruction term quadratic in
        ``z`` (a linear Gaussian decoder) and deterministic. After training the
        decoder is not linear and the rule approximates the bound, so a row's value
        is not a strict bound of its ``log p(x)``: on quakes (``n_components=2``,
        60 epochs, no perturbation) it was within 0.19 nats of a 40,000-draw
        Monte-Carlo ELBO on every row (0.05 above it on average), and above the
        model's exact ``log p(x)`` (by grid quadrature) on a third of the rows, by
        at most 0.07 nats. A row's value does not
        depend on the other rows beyond the float32 round-off of the network's
        batched products (up to about 1e-5 nats between a batch and the same rows
        one at a time, or in another order). A feature constant in the training data is
        left out: the bound is that of the other features' density, whatever the
        feature's value or units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        elbo : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "net_")
        X = self._validate_X(X, reset=False)
        dev = self.net_.module_.latent_sign.device
        noise = _cubature_points(self.net_.module_.n_components).to(dev)
        constant = getattr(self, "_x_constant", None)
        # a feature constant in training is ignored: its term, the same for every row
        # whatever its value, is left out (the density of the other features)
        live = None if constant is None or not constant.any() else torch.as_tensor(
            ~constant, device=dev)

        def elbo(m, xb):
            mu, logvar = m.encode(xb)
            std = torch.exp(0.5 * logvar)
            # float64 for the bound itself: squared errors of large (valid
            # float32) inputs would overflow float32.
            xd = xb.double()
            rec = sum(m.reconstruction_nll(xd, m.decode(mu + std * eps).double(), live)
                      for eps in noise)
            return -rec / len(noise) - m.kl_standard_normal(mu.double(), logvar.double())

        # The network models standardised data: the density of the data in its
        # own units has the Jacobian of the standardisation.
        log_jacobian = float(np.sum(np.log(self._x_scale)))
        return self._map_batches(X, elbo, (), np.float64, standardise=True) - log_jacobian

    def score(self, X, y=None):
        """Mean ELBO per sample (higher is better); see :meth:`score_samples`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None, noise=False):
        """Draw new data: ``z`` from the (perturbed) prior, decoded to means, or to draws
        from the likelihood with ``noise=True``.

        The prior is the one the loss actually fits: ``N(0, I)`` for a plain
        VAE, the anisotropic Gaussian ``N(0, diag(1 / w_i))`` for the ladder,
        for the wells the prior the training rows are bound to (a well drawn
        with its group's share of the rows, then that well's Gaussian; see
        :meth:`perturbvae.potentials.Wells.sample_prior`), and
        ``N(0, I) exp(-lam V / beta)`` in general (sampled by importance
        resampling).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
        noise : bool, default=False
            Whether to draw ``x`` from ``p(x | z)`` rather than return its mean: the
            Gaussian likelihood adds its learned noise per feature (in the data's units;
            none on a feature constant in training), the Bernoulli draws 0 or 1. With
            noise the rows are draws from the density that :meth:`score_samples` bounds
            (at the closed-form start their covariance is probabilistic PCA's
            ``W W^T + sigma^2``); without, they lie on the decoder's surface and vary
            less than the data. The latent draws ``Z`` are the same either way.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Decoder means (probabilities for a Bernoulli likelihood), or draws from the
            likelihood with ``noise=True``.
        Z : ndarray of shape (n_samples, n_components)
            The latent draws, in the coordinates of :meth:`transform`.
        """
        check_is_fitted(self, "net_")
        # a bool is an Integral too, and reached torch.randn as a bad argument
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
        gen = torch.Generator().manual_seed(seed)
        d = self.net_.module_.n_components
        pot = self.potential_
        # the fitted prior (set_params may have changed the parameters since)
        strength, beta = self.net_.strength, self.net_.beta
        if pot is None or not strength:
            z = torch.randn(n_samples, d, generator=gen)
        else:
            z = pot.sample_prior(n_samples, d, strength, beta, gen)
        z = z.numpy().astype(np.float32)
        X = self._decode(z, internal=True)
        if noise:
            X = self._observation_noise(X, gen)
        sign = self.net_.module_.latent_sign.cpu().numpy()
        return X, (z * sign).astype(np.float64)

    def _observation_noise(self, means, gen):
        """Draws from ``p(x | z)`` around the decoder's ``means`` (data units), drawn
        after the latent codes so that these stay the same."""
        module = self.net_.module_
        if module.likelihood != "gaussian":
            u = torch.rand(means.shape, generator=gen, dtype=torch.float64).numpy()
            return (u < means).astype(np.float64)
        # the network's noise is in standardised units; a constant feature has none
        std = np.sqrt(module.noise_variance().detach().cpu().double().numpy()) * self._x_scale
        constant = getattr(self, "_x_constant", None)
        if constant is not None:
            std = np.where(constant, 0.0, std)
        eps = torch.randn(means.shape, generator=gen, dtype=torch.float64).numpy()
        return means + eps * std


def _cubature_points(d):
    """The ``2 d`` points ``+- sqrt(d) e_i`` of the third-degree spherical cubature rule for
    ``N(0, I_d)``: equal weights, mean 0 and covariance I exactly."""
    eye = torch.eye(d) * float(np.sqrt(d))
    return torch.cat([eye, -eye])
