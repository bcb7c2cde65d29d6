"""Interruption, divergence recovery and resuming from checkpoints."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from perturbvae import PerturbedVAE, TrainingDivergedError

KW = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).randn(256, 6)


class InterruptAt(Callback):
    """Raise KeyboardInterrupt (as Ctrl-C would) inside epoch `epoch`, at batch `batch`."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch and \
                len(net.history[-1]["batches"]) == self.batch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_last_completed_epoch(X):
    with pytest.warns(RuntimeWarning, match=r"last completed epoch \(2\)"):
        est = PerturbedVAE(max_epochs=10, callbacks=[InterruptAt(3, 2)], **KW).fit(X)
    assert est.n_epochs_ == 2
    # the weights are exactly those after two full epochs
    ref = PerturbedVAE(max_epochs=2, **KW).fit(X)
    np.testing.assert_array_equal(est.transform(X), ref.transform(X))


class InterruptAtEpochEnd(Callback):
    """Raise KeyboardInterrupt in the epoch-end callbacks (where checkpoints are written)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_at_epoch_end_is_said(X):
    # it ended training silently
    with pytest.warns(RuntimeWarning, match=r"last completed epoch \(2\)"):
        est = PerturbedVAE(max_epochs=5, callbacks=[InterruptAtEpochEnd(2)], **KW).fit(X)
    assert est.n_epochs_ == 2
    ref = PerturbedVAE(max_epochs=2, **KW).fit(X)
    np.testing.assert_array_equal(est.transform(X), ref.transform(X))


def test_keyboard_interrupt_in_the_wells_warmup_ends_the_fit(X):
    from perturbvae.potentials import Wells

    kw = dict(KW, perturbation=Wells(n_wells=2, warmup_fraction=0.5), max_epochs=4)
    with pytest.warns(RuntimeWarning, match=r"last completed epoch \(1\)"):
        est = PerturbedVAE(callbacks=[InterruptAt(2, 1)], **kw).fit(X)
    # it placed the wells and trained 2 more epochs with them after the warning
    assert est.n_epochs_ == 1
    assert est.history_[:, "perturbation_on"] == [False]
    assert not hasattr(est.potential_, "centers_")
    est.set_params(callbacks=None).partial_fit(X)  # the next call places them
    assert est.potential_.n_wells_ == 2 and est.history_[-1, "perturbation_on"]


def test_early_stopping_is_not_reported_as_interrupt(X, recwarn):
    PerturbedVAE(max_epochs=100, early_stopping=True, n_iter_no_change=2, lr=0.05,
                 **KW).fit(X)
    assert not [w for w in recwarn if "interrupted" in str(w.message)]


def test_divergence_in_partial_fit_restores_last_good_weights(X):
    est = PerturbedVAE(max_epochs=3, **KW).fit(X)
    before = est.transform(X)
    n = est.n_epochs_
    with pytest.raises(TrainingDivergedError, match="lower learning rate"):
        est.partial_fit(np.full_like(X, 1e30))  # float32 overflow: inf loss
    np.testing.assert_array_equal(est.transform(X), before)
    assert est.n_epochs_ == n
    est.partial_fit(X)  # and it trains on
    assert est.n_epochs_ == n + 1


def test_divergence_with_warm_start_restores(X):
    est = PerturbedVAE(max_epochs=2, warm_start=True, **KW).fit(X)
    before = est.transform(X)
    est.set_params(lr=1e30)
    with pytest.raises(TrainingDivergedError):
        est.fit(X)
    np.testing.assert_array_equal(est.transform(X), before)


class GradNorms(Callback):
    """Record the total gradient norm that the optimiser is about to use."""

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g) for g in grads]))))


def test_gradient_clipping_bounds_update(X):
    est = PerturbedVAE(max_epochs=2, max_grad_norm=1e-3, callbacks=[("g", GradNorms())],
                       **KW).fit(X)
    assert np.all(np.isfinite(est.transform(X)))
    clipped = est.net_.callbacks_[[n for n, _ in est.net_.callbacks_].index("g")][1].norms
    assert clipped and max(clipped) <= 1e-3 * (1 + 1e-4)
    free = PerturbedVAE(max_epochs=1, callbacks=[("g", GradNorms())], **KW).fit(X)
    unclipped = free.net_.callbacks_[[n for n, _ in free.net_.callbacks_].index("g")][1].norms
    assert min(unclipped) > 1e-2  # without clipping the gradients are far larger


def test_killed_fit_resumes_to_the_uninterrupted_fit_bit_for_bit(tmp_path, X):
    """kill -9 during a checkpointed fit, then the same fit again: it resumes from the last
    checkpoint (weights, optimiser, history and generator states) and ends with exactly
    the model of a fit that was never interrupted (same machine, same threads)."""
    cp = tmp_path / "cp"
    n_epochs = 300
    kw = dict(KW, max_epochs=n_epochs)
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(f"""
        import numpy as np, torch
        torch.set_num_threads(1)
        from perturbvae import PerturbedVAE
        X = np.load(r"{tmp_path / 'X.npy'}")
        PerturbedVAE(checkpoint_dir=r"{cp}", **{kw!r}).fit(X)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            # the fit's own folder run-<fingerprint>; its pointer names a complete
            # checkpoint folder epoch-NNNNNN
            runs = list(cp.glob("run-*"))
            pointer = runs[0] / "latest" if runs else cp / "latest"
            if pointer.exists() and int(pointer.read_text().split("-")[1]) >= 3:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the training subprocess wrote no checkpoint")
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # possibly in the middle of writing the next one
        proc.wait()
    run = pointer.parent
    saved = json.loads((run / pointer.read_text() / "history.json").read_text())
    done = len(saved)
    assert 3 <= done < n_epochs
    with pytest.warns(UserWarning, match=f"after epoch {done}"):
        resumed = PerturbedVAE(checkpoint_dir=str(cp), **kw).fit(X)
    assert resumed.n_epochs_ == n_epochs
    assert [r["train_loss"] for r in resumed.history_[:done]] == pytest.approx(
        [r["train_loss"] for r in saved])
    whole = PerturbedVAE(**kw).fit(X)
    for name, value in whole.net_.module_.state_dict().items():
        torch.testing.assert_close(resumed.net_.module_.state_dict()[name], value,
                                   rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.transform(X), whole.transform(X))
    # a writer killed while saving leaves at most a temporary folder; the next save removes it
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
