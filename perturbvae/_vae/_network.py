"""The VAE network: an exactly solvable linear (probabilistic PCA) part plus residuals.

Encoder mean and decoder mean are each ``linear map + non-linear residual MLP``.
With ``init="pca"`` the linear maps hold the closed-form solution of the linear
Gaussian VAE (probabilistic PCA, Tipping & Bishop 1999), generalised to ``beta``
and to an anisotropic (ladder-perturbed) prior, and the residuals' last layers
start at zero: every seed starts from the same deterministic embedding, the
zeroth order of the perturbation expansion. With ``init="random"`` the linear
maps are zero and the network is an ordinary VAE.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LOGVAR_MIN, LOGVAR_MAX = -16.0, 8.0


def _mlp(n_in, hidden_layer_sizes):
    layers, width = [], n_in
    for h in hidden_layer_sizes:
        layers += [nn.Linear(width, h), nn.SiLU()]
        width = h
    return nn.Sequential(*layers), width


class VAEModule(nn.Module):
    """Encoder ``q(z|x) = N(mu(x), diag(exp(logvar(x))))`` and decoder ``p(x|z)``.

    Parameters
    ----------
    n_features, n_components : int
        Data and latent dimensions.
    hidden_layer_sizes : tuple of int
        Widths of the encoder's residual MLP; the decoder uses them reversed.
    likelihood : {"gaussian", "bernoulli"}
        Gaussian with a learned per-feature variance, or Bernoulli (logits).

    Notes
    -----
    Residual paths see standardised inputs (``(x - loc) / scale``) and the
    decoder's residual is rescaled by ``scale``, so the network is equally well
    conditioned at any scale of the data. The latent axes' output signs
    (``latent_sign``) are a presentation layer: the loss, the potentials and
    training act on the internal coordinates.
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes=(256, 128),
                 likelihood="gaussian"):
        super().__init__()
        p, d = int(n_features), int(n_components)
        self.n_features, self.n_components = p, d
        self.likelihood = likelihood
        hidden = tuple(int(h) for h in hidden_layer_sizes)
        self.hidden_layer_sizes = hidden

        self.register_buffer("x_loc", torch.zeros(p))
        self.register_buffer("x_scale", torch.ones(p))
        self.register_buffer("enc_weight", torch.zeros(d, p))
        self.register_buffer("dec_weight", torch.zeros(p, d))
        self.register_buffer("dec_bias", torch.zeros(p))
        self.register_buffer("var_floor", torch.full((p,), 1e-6))
        self.register_buffer("latent_sign", torch.ones(d))

        self.enc_trunk, h_enc = _mlp(p, hidden)
        self.enc_mu = nn.Linear(h_enc, d)
        self.enc_logvar = nn.Linear(h_enc, d)
        self.dec_trunk, h_dec = _mlp(d, hidden[::-1])
        self.dec_out = nn.Linear(h_dec, p)
        # Per-feature Gaussian noise variance = var_floor + softplus(raw).
        self.noise_raw = nn.Parameter(torch.zeros(p)) if likelihood == "gaussian" else None

    # -- the zeroth-order (closed-form) start -------------------------------
    @torch.no_grad()
    def init_pca(self, mean, scale, components, explained_variance, noise_variance,
                 beta=1.0, prior_variance=None):
        """Set the linear maps to the closed-form linear-VAE solution.

        ``components``, ``explained_variance`` and ``noise_variance`` are those
        of a PCA of the standardised data ``(x - mean) / scale``: the linear
        paths act on standardised features, so the model is equivariant to a
        rescaling of any feature (each feature also has its own learned noise
        variance). On standardised data this is exactly probabilistic PCA.

        For a linear Gaussian VAE with noise ``sigma^2``, KL weight ``beta`` and
        prior ``N(0, diag(s^2))``, the optimum is probabilistic PCA with noise
        ``beta sigma^2``: along principal axis ``v_i`` with variance
        ``lambda_i``, the decoder weight is ``w_i = sqrt(lambda_i - beta sigma^2) / s_i``,
        the posterior mean ``s_i^2 w_i / lambda_i * v_i^T (x - m)`` and the posterior
        variance ``s_i^2 beta sigma^2 / lambda_i`` (Tipping & Bishop 1999, with
        ``sigma^2 -> beta sigma^2`` and ``z -> z / s``).
        """
        d = self.n_components
        k = components.shape[0]
        lam = np.maximum(np.asarray(explained_variance, dtype=np.float64), 1e-12)
        s2 = np.ones(d) if prior_variance is None else np.asarray(prior_variance, np.float64)
        s = np.sqrt(s2)
        sigma2 = max(float(noise_variance), 1e-6 * float(lam.max()))
        eff = beta * sigma2
        # Keep a little signal on axes that pPCA would switch off (lambda <= beta sigma^2).
        w = np.sqrt(np.maximum(lam - eff, 1e-2 * lam)) / s[:k]
        enc = np.zeros((d, self.n_features))
        dec = np.zeros((self.n_features, d))
        enc[:k] = (s2[:k] * w / lam)[:, None] * components
        dec[:, :k] = components.T * w[None, :]
        post_var = np.ones(d) * s2
        post_var[:k] = s2[:k] * np.minimum(eff / lam, 1.0)

        self.x_loc.copy_(torch.as_tensor(mean))
        self.x_scale.copy_(torch.as_tensor(scale))
        self.enc_weight.copy_(torch.as_tensor(enc))
        self.dec_weight.copy_(torch.as_tensor(dec))
        for layer in (self.enc_mu, self.dec_out, self.enc_logvar):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.enc_logvar.bias.copy_(torch.as_tensor(np.log(post_var)))
        if self.likelihood == "gaussian":
            self.dec_bias.copy_(torch.as_tensor(mean))
            self._set_noise(sigma2 * np.asarray(scale, dtype=np.float64) ** 2)
        else:
            # Bernoulli: linearise the sigmoid around the mean,
            # logit(m) + scale * W z / (m (1 - m)).
            m = np.clip(mean, 1e-3, 1 - 1e-3)
            self.dec_bias.copy_(torch.as_tensor(np.log(m / (1 - m))))
            self.dec_weight.mul_(torch.as_tensor(scale / (m * (1 - m)))[:, None])

    @torch.no_grad()
    def init_random(self, mean, scale, feature_variance):
        """Ordinary VAE start: no linear path, default (random) layer weights."""
        self.x_loc.copy_(torch.as_tensor(mean))
        self.x_scale.copy_(torch.as_tensor(scale))
        if self.likelihood == "gaussian":
            self.dec_bias.copy_(torch.as_tensor(mean))
            self._set_noise(float(np.mean(feature_variance)) or 1.0)
        else:
            m = np.clip(mean, 1e-3, 1 - 1e-3)
            self.dec_bias.copy_(torch.as_tensor(np.log(m / (1 - m))))

    @torch.no_grad()
    def set_variance_floor(self, feature_variance):
        # Per-feature relative floors keep the model equivariant to feature
        # scales and stop constant features from driving the likelihood to
        # +inf; a constant feature borrows the median scale of the others.
        v = np.asarray(feature_variance, dtype=np.float64)
        live = v[v > 0]
        fallback = float(np.median(live)) if live.size else 1.0
        floor = 1e-3 * np.where(v > 0, v, fallback)
        self.var_floor.copy_(torch.as_tensor(np.maximum(floor, 1e-30)))

    def _set_noise(self, sigma2):
        sigma2 = torch.as_tensor(sigma2, dtype=self.var_floor.dtype)
        extra = torch.clamp(sigma2 - self.var_floor, min=1e-30)
        # inverse softplus
        self.noise_raw.copy_(extra + torch.log(-torch.expm1(-extra)))

    # -- the model ----------------------------------------------------------
    def encode(self, x):
        xs = (x - self.x_loc) / self.x_scale
        h = self.enc_trunk(xs)
        mu = F.linear(xs, self.enc_weight) + self.enc_mu(h)
        logvar = self.enc_logvar(h).clamp(LOGVAR_MIN, LOGVAR_MAX)
        return mu, logvar

    def decode(self, z):
        """Decoder output: Gaussian mean or Bernoulli logits."""
        r = F.linear(z, self.dec_weight) + self.dec_out(self.dec_trunk(z))
        if self.likelihood == "gaussian":
            r = r * self.x_scale  # standardised units -> data units
        return self.dec_bias + r

    def decode_start(self, z):
        """The decoder's closed-form part alone (its output at the start, where the
        residual's last layer is zero); the mean alone on a random start."""
        r = F.linear(z, self.dec_weight)
        if self.likelihood == "gaussian":
            r = r * self.x_scale
        return self.dec_bias + r

    def noise_variance(self):
        return self.var_floor + F.softplus(self.noise_raw)

    def forward(self, x, eps=None):
        mu, logvar = self.encode(x)
        z = mu if eps is None else mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar, z

    def reconstruction_nll(self, x, out, features=None):
        """-log p(x|z), summed over features (those where the boolean tensor ``features``
        is True, if given), per sample."""
        if self.likelihood == "gaussian":
            var = self.noise_variance()
            terms = 0.5 * (((x - out) ** 2) / var + torch.log(2 * math.pi * var))
        else:
            terms = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        return (terms if features is None else terms[:, features]).sum(dim=1)

    def mean_output(self, out):
        return out if self.likelihood == "gaussian" else torch.sigmoid(out)

    @staticmethod
    def kl_standard_normal(mu, logvar):
        """KL(N(mu, diag(exp(logvar))) || N(0, I)), per sample."""
        return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(dim=1)
