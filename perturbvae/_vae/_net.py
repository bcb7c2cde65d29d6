"""Training: a skorch ``NeuralNet`` for the perturbed VAE objective.

Everything skorch offers (callbacks, history, PrintLog, ProgressBar, EarlyStopping,
Checkpoint) works as usual; three things differ from skorch's defaults:

- batches are slices of tensors that already sit on the device (skorch's
  per-sample ``DataLoader`` costs more than the step itself on tabular data);
- ``get_loss`` is the perturbed negative ELBO, with its three terms logged per
  epoch in ``history`` (``train_recon``, ``train_kl``, ``train_perturbation``,
  and the same for ``valid_``);
- every random draw (shuffling, reparameterisation noise) comes from
  generators owned by the net and seeded by the estimator's ``random_state``;
- nothing inside an epoch waits on the device: each step's loss stays a device
  tensor, and the epoch's losses reach the history (skorch's per-batch rows,
  filled in at the end of the epoch) in one read, which also checks that they
  are finite (see :class:`TrainingDivergedError`).
"""

import copy
import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import TeeGenerator

from .._warn import warn_user
from ._feeding import BlockBatchIterator, HostRows, TensorBatchIterator

__all__ = ["VAENet", "TrainingDivergedError"]

# An epoch whose mean loss exceeds L0 + DIVERGENCE_FACTOR * (|L0| + n_features), with L0 the
# first batch loss of the training call, has diverged (see TrainingDivergedError).
DIVERGENCE_FACTOR = 10.0


class TrainingDivergedError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite, or runs away while finite.

    The losses of an epoch are checked once, at its end (no step waits on the
    device for its loss). Training has diverged when

    - a batch's loss is NaN or infinite, or
    - the epoch's mean loss, or the loss of its last batch under the weights after
      its last step (at the posterior means: each batch's own loss is taken before
      its step), exceeds ``L0 + DIVERGENCE_FACTOR * (|L0| + n_features)``,
      where ``L0`` is the loss of the first batch of the training call (the
      model as the call received it: for a fresh fit, the closed-form pPCA
      start) and ``DIVERGENCE_FACTOR`` is 10. A healthy fit lowers its loss
      below ``L0``; a loss ten times the start's scale means the steps
      overshoot (typically a learning rate that is too large). The
      ``n_features`` term keeps the bound meaningful when ``L0`` is near 0.

    The message names the epoch (and the batch, for a non-finite loss). The
    net goes back to the weights and optimiser state of the last completed
    epoch, as after an interruption; the failing epoch is not checkpointed. A
    fresh ``fit`` that raises it leaves the estimator as it was before the
    call (unfitted, or the previous model); ``partial_fit`` and ``warm_start``
    fits keep those last good weights.

    Examples
    --------
    >>> import numpy as np
    >>> from perturbvae import PerturbedVAE, TrainingDivergedError
    >>> X = np.random.RandomState(0).randn(100, 4)
    >>> vae = PerturbedVAE(max_epochs=2, random_state=0).fit(X)
    >>> before = vae.transform(X)
    >>> try:  # squares of 1e30 overflow the float32 network
    ...     vae.partial_fit(np.full_like(X, 1e30))
    ... except TrainingDivergedError as err:
    ...     print("diverged:", "lower learning rate" in str(err))
    diverged: True
    >>> bool((vae.transform(X) == before).all())  # the last good weights are back
    True
    """


class VAENet(NeuralNet):
    """skorch net whose loss is the perturbed negative ELBO.

    Per sample: ``-E_q[log p(x|z)] + beta * KL(q || N(0, I)) + strength * E_q[V(z)]``.
    Override :meth:`get_loss` or :meth:`loss_terms` to change the objective.
    """

    def __init__(self, module, *args, beta=1.0, potential=None, strength=0.0,
                 shuffle_generator=None, noise_generator=None, max_grad_norm=None,
                 compile_forward=False, **kwargs):
        super().__init__(module, *args, criterion=torch.nn.Identity, **kwargs)
        self.beta = beta
        self.potential = potential
        self.strength = strength
        self.shuffle_generator = shuffle_generator
        self.noise_generator = noise_generator
        self.max_grad_norm = max_grad_norm
        self.compile_forward = compile_forward
        self.kl_weight = 1.0
        self.potential_active = True
        self._sampling = False
        self._last_good = None
        self._loss_start = None
        self._term_sums, self._term_counts = {}, {}
        self._grad_callbacks = True
        # True while the training rows carry their well as a last column.
        self.label_column = False

    def _core(self):
        """The network itself, unwrapped from a data-parallel wrapper if any."""
        accelerator = getattr(self, "accelerator", None)
        if accelerator is not None:
            return accelerator.unwrap_model(self.module_, keep_fp32_wrapper=False)
        return self.module_

    # -- data -----------------------------------------------------------------
    def get_iterator(self, dataset, training=False):
        bs = self.batch_size if self.batch_size > 0 else len(dataset)
        if isinstance(dataset, HostRows):  # rows that stay in host memory
            return BlockBatchIterator(dataset, bs, shuffle=training, device=self.device,
                                      generator=self.shuffle_generator)
        return TensorBatchIterator(dataset.X, bs, shuffle=training,
                                   generator=self.shuffle_generator)

    # -- objective ------------------------------------------------------------
    def infer(self, x, **fit_params):
        if getattr(self, "label_column", False):
            x = x[:, :-1]  # the rows' wells (see loss_terms)
        eps = None
        if self._sampling:
            eps = torch.randn(x.shape[0], self._core().n_components, device=x.device,
                              generator=self.noise_generator)
            if getattr(self, "compile_forward", False):
                return self._compiled_module()(x, eps)
        return self.module_(x, eps)

    def _compiled_module(self):
        """``torch.compile`` of the network, made once and never pickled.

        ``module_`` itself stays the plain module (its state dict, pickles and
        saved files do not change); only the training forward runs compiled.
        """
        compiled = getattr(self, "_compiled", None)
        if compiled is None or compiled[0] is not self.module_:
            compiled = self._compiled = (self.module_, torch.compile(self.module_))
        return compiled[1]

    def loss_terms(self, y_pred, X):
        """Per-sample reconstruction NLL, KL and potential energy (or None)."""
        out, mu, logvar, z = y_pred
        core = self._core()
        labels = None
        if getattr(self, "label_column", False):
            # The last column is each row's well: the potential binds the row to it.
            X, labels = X[:, :-1], X[:, -1]
        recon = core.reconstruction_nll(X, out)
        kl = core.kl_standard_normal(mu, logvar)
        pert = None
        if self.potential is not None and self.potential_active and self.strength:
            if labels is not None:
                pert = self.potential.expected_own(mu, logvar, labels)
            else:
                pert = self.potential.expected(mu, logvar, z)
            if not isinstance(pert, torch.Tensor) or pert.shape != mu.shape[:1]:
                # a Potential subclass's energy of the wrong shape failed inside the loss
                # with torch's "size of tensor a (128) must match ..." (a callable's is
                # checked by its adapter)
                raise ValueError(
                    f"The perturbation {self.potential!r} must map a (batch, d) tensor to a "
                    f"(batch,) tensor of energies (its energy and expected); got "
                    f"{type(pert).__name__} of shape {tuple(getattr(pert, 'shape', ()))} for "
                    f"input {tuple(mu.shape)}.")
        return recon, kl, pert

    def objective(self, recon, kl, pert, kl_weight=None):
        """Per-sample loss: reconstruction + beta KL (+ strength times the perturbation).

        ``kl_weight`` (default: the net's, which :class:`KLWarmup` ramps) multiplies
        ``beta``.
        """
        kl_weight = self.kl_weight if kl_weight is None else kl_weight
        loss = recon + (self.beta * kl_weight) * kl
        return loss if pert is None else loss + self.strength * pert

    def get_loss(self, y_pred, y_true, X=None, training=False):
        recon, kl, pert = self.loss_terms(y_pred, X)
        # The validation loss is the model's full objective (KL weight 1): during a KL
        # warm-up the weighted loss rises with the weight, so early stopping took the
        # first epochs as the best and restored the weights of the warm-up's start.
        loss = self.objective(recon, kl, pert, None if training else 1.0)
        terms = (recon, kl) if pert is None else (recon, kl, pert)
        # Summed on the device, read once per epoch: no extra host sync per batch.
        key = "train" if training else "valid"
        acc = self._term_sums.get(key)
        batch = torch.stack(terms, dim=1).detach().sum(dim=0)
        self._term_sums[key] = batch if acc is None else acc + batch
        self._term_counts[key] = self._term_counts.get(key, 0) + X.shape[0]
        return loss.mean()

    # -- training steps -------------------------------------------------------
    def _set_training(self, training=True):
        # skorch calls this every step; walking the module tree each time cost
        # ~5 % of a small network's step. Switch only when the mode changes.
        if self.module_.training is bool(training):
            return
        super()._set_training(training)

    def train_step_single(self, batch, **fit_params):
        step = super().train_step_single(batch, **fit_params)
        if self.max_grad_norm is not None:
            # foreach norms, scaled on the device: no host read
            torch.nn.utils.clip_grad_norm_(self.module_.parameters(), self.max_grad_norm)
        return step

    def train_step(self, batch, **fit_params):
        # Adam needs no closure: a direct step skips skorch's closure and
        # accumulator machinery (the notifications callbacks see are the same).
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        if self._grad_callbacks:
            self.notify("on_grad_computed", named_parameters=TeeGenerator(
                self.get_all_learnable_params()), batch=batch, training=True)
        self._step_optimizer(None)
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch loop without a host read per batch.

        Each batch's loss is kept as a device tensor; at the end of the epoch
        all of them are read at once into the per-batch history rows (which
        skorch's ``train_loss`` / ``valid_loss`` average), and a training
        epoch with a non-finite loss raises :class:`TrainingDivergedError`.
        """
        if iterator is None:
            return
        losses = []
        batch = None
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            self.history.record_batch(prefix + "_batch_size", batch[0].shape[0])
            self.notify("on_batch_end", batch=batch, training=training, **step)
        self.history.record(prefix + "_batch_count", len(losses))
        if not losses:
            return
        values = torch.stack(losses).tolist()  # the one host read of the epoch
        rows = self.history[-1]["batches"][-len(losses):]
        for row, value in zip(rows, values):
            row[prefix + "_loss"] = value
        if training:
            sizes = [row[prefix + "_batch_size"] for row in rows]
            self._check_finite(values)
            self._check_bounded(values, sizes, self._loss_after_step(batch))

    _ADVICE = ("Try a lower learning rate (lr), standardising the data (e.g. "
               "StandardScaler), gradient clipping (max_grad_norm) or a smaller "
               "perturbation_strength.")

    def _check_finite(self, values):
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is None:
            return
        epoch = len(self.history)
        self.restore_last_good()
        raise TrainingDivergedError(
            f"The training loss became {values[bad]} at epoch {epoch}, batch {bad + 1}. "
            + self._ADVICE
        )

    def divergence_bound(self):
        """The mean epoch loss above which this training call has diverged, or None."""
        if self._loss_start is None:
            return None
        scale = abs(self._loss_start) + self._core().n_features
        return self._loss_start + DIVERGENCE_FACTOR * scale

    @torch.no_grad()
    def _loss_after_step(self, batch):
        """The loss of the epoch's last batch under the weights after its last step, at the
        posterior means (no noise drawn): each batch's loss is taken before its step, so
        without this a last step that diverges would go unseen."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        sampling, self._sampling = self._sampling, False
        try:
            out = self.infer(x)
            recon, kl, pert = self.loss_terms(out, x)
        finally:
            self._sampling = sampling
        return float(self.objective(recon, kl, pert).mean())

    def _check_bounded(self, values, sizes, after):
        """TrainingDivergedError when the epoch's mean loss, or the loss after its last step,
        leaves the divergence bound."""
        if self._loss_start is None:
            self._loss_start = values[0]  # the model as this training call received it
        mean = math.fsum(v * s for v, s in zip(values, sizes)) / sum(sizes)
        bound = self.divergence_bound()
        if mean <= bound and after <= bound:  # False for NaN
            return
        if not mean > bound:
            mean = after
        epoch = len(self.history)
        self.restore_last_good()
        raise TrainingDivergedError(
            f"The training loss diverged at epoch {epoch}: {mean:.4g} exceeds "
            f"{bound:.4g}, the bound set by the loss {self._loss_start:.4g} at the start of "
            f"training (start + {DIVERGENCE_FACTOR:g} x (|start| + n_features)). A fresh fit "
            "leaves the estimator as it was; a continued fit keeps its last completed epoch. "
            + self._ADVICE
        )

    # -- epochs, interruption and recovery ------------------------------------
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        from ._steps import match_optimizer_to_device

        # on_grad_computed builds a generator of all parameters per step: only
        # when a callback listens (checked once per training call).
        self._grad_callbacks = any(
            type(cb).on_grad_computed is not Callback.on_grad_computed
            for _, cb in self.callbacks_)
        device = next(self._core().parameters()).device
        match_optimizer_to_device(self.optimizer_, device)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self._term_sums, self._term_counts = {}, {}
        self._in_epoch = True

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train, dataset_valid, **kwargs)
        for key, sums in self._term_sums.items():
            recon, kl, *pert = (sums / self._term_counts[key]).tolist()
            pert = pert[0] if pert else 0.0
            self.history.record(f"{key}_recon", recon)
            self.history.record(f"{key}_kl", kl)
            self.history.record(f"{key}_perturbation", pert)
        self.history.record("perturbation_on", bool(self.potential is not None
                                                    and self.potential_active))
        self.snapshot()
        self._in_epoch = False

    def snapshot(self):
        """Remember the current weights and optimiser state as the last good ones."""
        self._last_good = {
            "module": {k: v.detach().clone() for k, v in self._core().state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer_.state_dict()),
            "epochs": len(self.history),
        }

    def restore_last_good(self):
        """Return to the last snapshot; drop history rows of unfinished epochs."""
        if self._last_good is None:
            return None
        self._core().load_state_dict(self._last_good["module"])
        self.optimizer_.load_state_dict(self._last_good["optimizer"])
        while len(self.history) > self._last_good["epochs"]:
            del self.history[-1]
        return self._last_good["epochs"]

    def _stopped_by_rule(self):
        """Whether skorch's EarlyStopping raised the KeyboardInterrupt that ended training
        (it does so once its misses reach its patience): a stop, not an interruption."""
        from skorch.callbacks import EarlyStopping

        return any(isinstance(cb, EarlyStopping)
                   and getattr(cb, "misses_", 0) >= cb.patience
                   for _, cb in getattr(self, "callbacks_", []))

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if self._last_good is None:
            self.snapshot()
        self._loss_start = None  # set from the first batch of this call
        self._sampling = True
        self.interrupted_ = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            if not getattr(self, "_in_epoch", False) and self._stopped_by_rule():
                raise  # early stopping ended training between epochs
            # A user's interrupt inside an epoch or in the epoch-end callbacks (where
            # checkpoints are written). skorch swallows it; keep a usable model from
            # the last completed epoch, not a half-trained one, and say so.
            self._in_epoch = False
            self.interrupted_ = True
            epoch = self.restore_last_good()
            warn_user(
                f"Training interrupted; the model holds the weights of the last "
                f"completed epoch ({epoch}).", RuntimeWarning)
            raise
        finally:
            self._sampling = False

    def __getstate__(self):
        state = super().__getstate__()
        # Generators do not pickle; the estimator re-seeds them on the next fit.
        for key in ("shuffle_generator", "noise_generator", "_last_good", "_compiled"):
            state[key] = None
        # Per-epoch sums may sit on a GPU: never pickle device tensors outside
        # skorch's CUDA-aware attributes, or the pickle won't load on a CPU.
        state["_term_sums"], state["_term_counts"] = {}, {}
        # The ``module`` init parameter is the same instance as ``module_``, but
        # skorch maps only ``module_`` to the CPU when CUDA is absent: keep the class.
        if isinstance(state.get("module"), torch.nn.Module):
            state["module"] = type(state["module"])
        return state

