"""Callbacks of the VAE's skorch net: the KL warm-up and atomic checkpoints."""

import os
import shutil

from skorch.callbacks import Callback, Checkpoint


class KLWarmup(Callback):
    """Ramp the KL weight linearly from ``start`` to 1 over ``epochs`` epochs.

    A common remedy for posterior collapse: pass it in
    ``PerturbedVAE(callbacks=[KLWarmup(10)])``. The weight multiplies ``beta``
    and is logged as ``kl_weight`` in ``history_``.

    Parameters
    ----------
    epochs : int, default=10
        Epochs over which the weight rises to 1.
    start : float, default=0.0
        Weight in the first epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from perturbvae import KLWarmup, PerturbedVAE
    >>> X = np.random.RandomState(0).randn(200, 5)
    >>> vae = PerturbedVAE(max_epochs=5, callbacks=[KLWarmup(epochs=4)], random_state=0)
    >>> [round(w, 2) for w in vae.fit(X).history_[:, "kl_weight"]]
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """

    def __init__(self, epochs=10, start=0.0):
        self.epochs = epochs
        self.start = start

    def on_epoch_begin(self, net, **kwargs):
        done = len(net.history) - 1  # the row of this epoch already exists
        frac = min(1.0, done / max(self.epochs, 1))
        net.kl_weight = self.start + (1.0 - self.start) * frac
        net.history.record("kl_weight", net.kl_weight)

    def on_train_end(self, net, **kwargs):
        net.kl_weight = 1.0


class AtomicCheckpoint(Checkpoint):
    """skorch's ``Checkpoint`` after every epoch, never leaving a broken set of files.

    Each save writes weights, optimiser state and history into a new folder
    ``epoch-NNNNNN`` and only then switches the pointer file ``latest`` to it
    (an atomic rename), so a process killed while saving leaves the previous
    checkpoint intact. Older folders are removed afterwards.
    """

    def __init__(self, dirname, **kwargs):
        super().__init__(monitor=None, dirname=dirname, f_params="params.pt",
                         f_optimizer="optimizer.pt", f_criterion=None,
                         f_history="history.json", **kwargs)

    def save_model(self, net):
        name = f"epoch-{len(net.history):06d}"
        final = os.path.join(self.dirname, name)
        tmp = final + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        net.save_params(**self.files(tmp))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        pointer = os.path.join(self.dirname, "latest")
        with open(pointer + ".tmp", "w") as f:
            f.write(name)
        os.replace(pointer + ".tmp", pointer)
        for old in os.listdir(self.dirname):
            if old.startswith("epoch-") and old != name:
                shutil.rmtree(os.path.join(self.dirname, old), ignore_errors=True)

    @staticmethod
    def files(folder):
        return {"f_params": os.path.join(folder, "params.pt"),
                "f_optimizer": os.path.join(folder, "optimizer.pt"),
                "f_history": os.path.join(folder, "history.json")}

    def latest(self):
        """Folder of the last complete checkpoint, or None."""
        pointer = os.path.join(self.dirname, "latest")
        if not os.path.exists(pointer):
            return None
        with open(pointer) as f:
            folder = os.path.join(self.dirname, f.read().strip())
        return folder if os.path.isdir(folder) else None
