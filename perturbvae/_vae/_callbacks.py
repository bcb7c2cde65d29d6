"""Callbacks of the VAE's skorch net: the KL warm-up and atomic checkpoints."""

import io
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from skorch.callbacks import Callback, Checkpoint

from .._archive import os_error
from .._archive import write_all as _write_all


class KLWarmup(Callback):
    """Ramp the KL weight linearly from ``start`` to 1 over ``epochs`` epochs.

    A common remedy for posterior collapse: pass it in
    ``PerturbedVAE(callbacks=[KLWarmup(10)])``. The weight multiplies ``beta``
    and is logged as ``kl_weight`` in ``history_``. The ramp counts the model's
    epochs (``history_``), so a continued or resumed fit goes on along it, and
    a warm-up first added to a model already trained that long leaves the
    weight at 1. The validation loss (``early_stopping``) is the full objective,
    at weight 1, so that its epochs compare.

    Parameters
    ----------
    epochs : int, default=10
        Epochs over which the weight rises to 1, at least 0 (0: no warm-up).
    start : float, default=0.0
        Weight in the first epoch, in ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from perturbvae import KLWarmup, PerturbedVAE
    >>> X = np.random.RandomState(0).randn(200, 5)
    >>> vae = PerturbedVAE(max_epochs=5, callbacks=[KLWarmup(epochs=4)], random_state=0)
    >>> [round(w, 2) for w in vae.fit(X).history_[:, "kl_weight"]]
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """

    _parameter_constraints = {
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "start": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, epochs=10, start=0.0):
        self.epochs = epochs
        self.start = start

    def _validate_params(self):
        """scikit-learn's ``InvalidParameterError`` (a ValueError) naming the parameter."""
        validate_parameter_constraints(
            self._parameter_constraints, {"epochs": self.epochs, "start": self.start},
            caller_name=type(self).__name__)

    def initialize(self):
        self._validate_params()
        return super().initialize()

    def on_epoch_begin(self, net, **kwargs):
        done = len(net.history) - 1  # the row of this epoch already exists
        frac = 1.0 if self.epochs == 0 else min(1.0, done / self.epochs)
        net.kl_weight = self.start + (1.0 - self.start) * frac
        net.history.record("kl_weight", net.kl_weight)

    def on_train_end(self, net, **kwargs):
        net.kl_weight = 1.0


class AtomicCheckpoint(Checkpoint):
    """skorch's ``Checkpoint`` after every epoch, never leaving a broken set of files.

    Each save writes weights, optimiser state, history and the states of the
    random generators into a new folder under a unique temporary name, renames
    it to ``epoch-NNNNNN`` and only then switches the pointer file ``latest`` to
    it (an atomic rename), so a process killed while saving leaves the previous
    checkpoint intact. Writers of one folder (processes of a search sharing a
    fingerprint) take turns through a lock file; the pointer never moves back to
    an earlier epoch, older epoch folders are removed afterwards, and the
    temporary folders of writers killed while saving are removed by the next
    save. A full disk raises ``OSError`` naming the folder and the cause.
    """

    def __init__(self, dirname, **kwargs):
        super().__init__(monitor=None, dirname=dirname, f_params="params.pt",
                         f_optimizer="optimizer.pt", f_criterion=None,
                         f_history="history.json", **kwargs)

    def save_model(self, net):
        files = self._serialise(net)
        if files is None:  # not the main process of a data-parallel run
            return
        epoch = len(net.history)
        name = f"epoch-{epoch:06d}"
        final = os.path.join(self.dirname, name)
        try:
            os.makedirs(self.dirname, exist_ok=True)
            with folder_lock(self.dirname):
                self._remove_leftovers()
                tmp = tempfile.mkdtemp(prefix=name + ".", suffix=".tmp", dir=self.dirname)
                try:
                    for fname, data in files.items():
                        _write_file(os.path.join(tmp, fname), data)
                    if os.path.isdir(final):  # same fingerprint and epoch: the same state
                        shutil.rmtree(final)
                    os.replace(tmp, final)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                current = self._pointed_epoch()
                if current is None or epoch >= current:
                    self._point_to(name)
                keep = self._pointed_name()
                for old in os.listdir(self.dirname):
                    if _EPOCH_DIR.match(old) and old != keep:
                        shutil.rmtree(os.path.join(self.dirname, old), ignore_errors=True)
        except OSError as exc:
            raise os_error(exc, f"Cannot write the checkpoint {final!r}") from None

    @staticmethod
    def _serialise(net):
        """The checkpoint's files as bytes, or None where this process saves nothing."""
        params, optimizer = io.BytesIO(), io.BytesIO()
        net.save_params(f_params=params, f_optimizer=optimizer)
        if not params.getbuffer().nbytes:
            return None
        gens = {}
        for key in ("shuffle_generator", "noise_generator"):
            gen = getattr(net, key, None)
            if gen is not None:
                gens[key] = gen.get_state()
        generators = io.BytesIO()
        torch.save(gens, generators)
        return {"params.pt": params.getvalue(), "optimizer.pt": optimizer.getvalue(),
                "history.json": json.dumps(net.history.to_list()).encode(),
                "generators.pt": generators.getvalue()}

    def _remove_leftovers(self):
        """Temporary folders and pointers of writers killed while saving (under the lock,
        no live writer has one)."""
        for old in os.listdir(self.dirname):
            if old.endswith(".tmp"):
                path = os.path.join(self.dirname, old)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    def _pointed_name(self):
        pointer = os.path.join(self.dirname, "latest")
        try:
            with open(pointer) as f:
                return f.read().strip()
        except OSError:
            return None

    def _pointed_epoch(self):
        name = self._pointed_name()
        match = _EPOCH_DIR.match(name or "")
        ok = match is not None and os.path.isdir(os.path.join(self.dirname, name))
        return int(match.group(1)) if ok else None

    def _point_to(self, name):
        fd, tmp = tempfile.mkstemp(prefix="latest.", suffix=".tmp", dir=self.dirname)
        try:
            _write_all(fd, name.encode())
            os.close(fd)
            fd = None
            os.replace(tmp, os.path.join(self.dirname, "latest"))
        finally:
            if fd is not None:
                os.close(fd)
            if os.path.exists(tmp):
                os.unlink(tmp)

    @staticmethod
    def files(folder):
        return {"f_params": os.path.join(folder, "params.pt"),
                "f_optimizer": os.path.join(folder, "optimizer.pt"),
                "f_history": os.path.join(folder, "history.json")}

    @staticmethod
    def generator_states(folder):
        """The generator states saved with a checkpoint (empty for older checkpoints)."""
        path = os.path.join(folder, "generators.pt")
        if not os.path.exists(path):
            return {}
        return torch.load(path, map_location="cpu", weights_only=True)

    def latest(self):
        """Folder of the last complete checkpoint, or None."""
        name = self._pointed_name()
        if name is None:
            return None
        folder = os.path.join(self.dirname, name)
        return folder if os.path.isdir(folder) else None


_EPOCH_DIR = re.compile(r"^epoch-(\d+)$")


def _write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


@contextmanager
def folder_lock(folder):
    """Hold an exclusive lock on ``folder/.lock`` (POSIX ``flock``; where it is missing,
    no lock: the unique temporary names and atomic renames still keep files whole)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(os.path.join(folder, ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
