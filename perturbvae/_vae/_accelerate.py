"""Training through Hugging Face Accelerate (skorch's ``AccelerateMixin``).

``PerturbedVAE(accelerator=Accelerator(...))`` trains with
:class:`AcceleratedVAENet`: mixed precision as the accelerator is configured,
and data parallelism over the processes that ``accelerate launch`` or
``torchrun`` started.

Data parallelism. Our batches are slices of a device tensor, not a
``DataLoader``, so ``accelerator.prepare`` cannot shard them; instead every
process draws the *same* seeded permutation each epoch, cuts it into global
batches of ``batch_size * num_processes`` rows (``batch_size`` rows with
``Accelerator(split_batches=True)``) and takes its own contiguous part of each.
The reparameterisation noise of a global batch is drawn whole on every process
and sliced the same way. So one epoch on ``k`` processes sees exactly the
batches, and the noise, of one process with the global batch size; only the
order of floating-point sums differs (DDP averages the gradients of the parts).

Pickling. A pickled fitted model holds a plain :class:`VAENet` on the device
it trained on (skorch maps it to the CPU where CUDA is missing); the estimator
drops its ``accelerator`` parameter (None after unpickling). ``clone`` and
``get_params`` keep the same ``Accelerator`` object (it deep-copies to itself).
"""

import math

import torch
from skorch.callbacks import LRScheduler
from skorch.hf import AccelerateMixin

from ._net import VAENet

__all__ = ["AcceleratedVAENet"]


class ShardedTensorBatchIterator:
    """This process's part of each global batch of a seeded per-epoch permutation."""

    def __init__(self, X, global_batch, shuffle, generator, rank, world, owner):
        self.X, self.global_batch, self.shuffle = X, global_batch, shuffle
        self.generator, self.rank, self.world, self.owner = generator, rank, world, owner

    def __len__(self):
        return math.ceil(self.X.shape[0] / self.global_batch)

    def __iter__(self):
        X = self.X
        n = X.shape[0]
        if self.shuffle:
            perm = torch.randperm(n, generator=self.generator).to(X.device)
            X = X[perm]  # the same permutation on every process
        for start in range(0, n, self.global_batch):
            rows = min(self.global_batch, n - start)
            if rows < self.world:
                # Too few rows for every process to get one: pad from the start
                # of the epoch (as accelerate's even_batches), so that all
                # processes take the same number of steps.
                idx = torch.arange(start, start + self.world, device=X.device) % n
                block, rows = X[idx], self.world
            else:
                block = X[start:start + rows]
            lo = (rows * self.rank) // self.world
            hi = (rows * (self.rank + 1)) // self.world
            self.owner._shard = (rows, lo, hi)
            yield block[lo:hi], None
        self.owner._shard = None


class AcceleratedVAENet(AccelerateMixin, VAENet):
    """:class:`~perturbvae._training.VAENet` trained through an ``accelerate.Accelerator``.

    Use it through ``PerturbedVAE(accelerator=...)``. Differences from
    skorch's ``AccelerateMixin`` defaults: training batches are sharded over
    the processes (see the module docstring); gradient clipping uses
    ``accelerator.clip_grad_norm_`` (correct under mixed precision);
    validation is not gathered across processes (every process evaluates the
    whole validation set, so that early stopping decides the same everywhere);
    and the network is wrapped again at the start of each training call after
    ``unwrap_after_train`` unwrapped it, so ``partial_fit`` and warm starts
    keep training data-parallel.
    """

    _shard = None

    def _initialize_callbacks(self):
        # PrintLog prints through any sink but ``print`` whatever ``verbose``:
        # use the accelerator's (main process only) print only when verbose.
        if self.callbacks__print_log__sink == "auto":
            self.callbacks__print_log__sink = self.accelerator.print if self.verbose else print
        return super()._initialize_callbacks()

    def _initialize_accelerator(self):
        # As AccelerateMixin's, without preparing the criterion: ours is a
        # parameter-free Identity, which DistributedDataParallel refuses.
        if self._wrapped_with_accelerator:
            return self
        with self._current_init_context("module"):
            for name in self._modules:
                module = getattr(self, name + "_")
                if isinstance(module, torch.nn.Module):
                    setattr(self, name + "_", self.accelerator.prepare(module))
        with self._current_init_context("optimizer"):
            for name in self._optimizers:
                optimizer = getattr(self, name + "_")
                if isinstance(optimizer, torch.optim.Optimizer):
                    setattr(self, name + "_", self.accelerator.prepare(optimizer))
        for _, callback in self.callbacks_:
            if isinstance(callback, LRScheduler):
                callback.policy_ = self.accelerator.prepare(callback.policy_)
        self._wrapped_with_accelerator = True
        return self

    # -- data -----------------------------------------------------------------
    def get_iterator(self, dataset, training=False):
        world = int(self.accelerator.num_processes)
        if not training or world == 1:
            return VAENet.get_iterator(self, dataset, training=training)
        bs = self.batch_size if self.batch_size > 0 else len(dataset)
        global_batch = bs if self.accelerator.split_batches else bs * world
        return ShardedTensorBatchIterator(
            dataset.X, global_batch, shuffle=True, generator=self.shuffle_generator,
            rank=int(self.accelerator.process_index), world=world, owner=self)

    def infer(self, x, **fit_params):
        shard = self._shard
        if not (self._sampling and shard is not None):
            return super().infer(x, **fit_params)
        rows, lo, hi = shard
        # The whole global batch's noise, sliced: the same stream as one process.
        eps = torch.randn(rows, self._core().n_components, device=x.device,
                          generator=self.noise_generator)[lo:hi]
        return self.module_(x, eps)

    # -- steps ----------------------------------------------------------------
    def train_step_single(self, batch, **fit_params):
        step = AccelerateMixin.train_step_single(self, batch, **fit_params)
        if self.max_grad_norm is not None and self.accelerator.sync_gradients:
            self.accelerator.clip_grad_norm_(self.module_.parameters(), self.max_grad_norm)
        return step

    def _step_optimizer(self, step_fn):
        # VAENet.train_step computes the gradients itself and passes no closure.
        if step_fn is not None:
            step_fn()
        for name in self._optimizers:
            getattr(self, name + "_").step()

    def evaluation_step(self, batch, training=False):
        return VAENet.evaluation_step(self, batch, training=training)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if not self._wrapped_with_accelerator:
            # unwrap_after_train unwrapped the module after the previous call;
            # the optimizer is still prepared, so wrap the module only.
            self.module_ = self.accelerator.prepare_model(self.module_)
            self._wrapped_with_accelerator = True
        return super().on_train_begin(net, X=X, y=y, **kwargs)

    # -- pickling ---------------------------------------------------------------
    def __reduce__(self):
        return _plain_net, (self._plain_state(),)

    def _plain_state(self):
        """The state of an equivalent plain VAENet: unwrapped, no accelerator."""
        saved = {}
        try:
            for name in self._modules:
                module = getattr(self, name + "_", None)
                if isinstance(module, torch.nn.Module):
                    saved[name + "_"] = module
                    setattr(self, name + "_", self.accelerator.unwrap_model(
                        module, keep_fp32_wrapper=False))
            for name in self._optimizers:
                opt = getattr(self, name + "_", None)
                inner = getattr(opt, "optimizer", None)
                if isinstance(inner, torch.optim.Optimizer):
                    saved[name + "_"] = opt
                    setattr(self, name + "_", inner)
            state = VAENet.__getstate__(self)
        finally:
            for key, value in saved.items():
                setattr(self, key, value)
        accelerator = state.pop("accelerator")
        for key in ("unwrap_after_train", "_wrapped_with_accelerator", "_shard"):
            state.pop(key, None)
        if getattr(accelerator, "print", None) is not None:
            _replace_sink(state, accelerator.print)
        try:
            state["device"] = str(next(self._core().parameters()).device)
        except StopIteration:  # pragma: no cover - a network has parameters
            state["device"] = "cpu"
        return state


def _replace_sink(state, sink):
    """Point print logs that write through the accelerator back at ``print``."""
    if state.get("callbacks__print_log__sink") == sink:
        state["callbacks__print_log__sink"] = print
    for _, cb in state.get("callbacks_") or []:
        if getattr(cb, "sink", None) == sink:
            cb.sink = print


def _plain_net(state):
    net = VAENet.__new__(VAENet)
    net.__setstate__(state)
    return net
