"""Fits, checkpoints and saves that must fail loudly or give the right model: finite
divergence, concurrent checkpoint writers, generator states in checkpoints, full disks,
and hand-edited files."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

from perturbvae import PerturbedVAE, TrainingDivergedError

KW = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32,
          random_state=0)


@pytest.fixture(scope="module")
def X():
    return load_iris().data


@pytest.fixture(scope="module")
def correlated():
    X = np.random.default_rng(0).normal(size=(300, 8))
    X[:, 1] += X[:, 0]
    return X


# ---------------------------------------------------------- finite divergence --
@pytest.mark.parametrize("lr", [0.1, 1.0, 1e5])
def test_finite_divergence_raises_and_keeps_the_previous_model(correlated, X, lr):
    """With lr from 0.1 up the loss stays finite but leaves the start's scale by orders of
    magnitude (lr=1: 2.5e10 where the pPCA start has 11.6): an error, not a model 10 to
    1e9 times worse than the start it began from."""
    est = PerturbedVAE(n_components=2, max_epochs=5, random_state=0).fit(correlated)
    Z = est.transform(correlated)
    est.set_params(lr=lr, max_epochs=20)
    with pytest.raises(TrainingDivergedError, match="lower learning rate"):
        est.fit(correlated)
    np.testing.assert_array_equal(est.transform(correlated), Z)  # the previous model
    fresh = PerturbedVAE(n_components=2, max_epochs=20, lr=lr, random_state=0)
    with pytest.raises(TrainingDivergedError):
        fresh.fit(correlated)
    assert not hasattr(fresh, "net_")


def test_divergence_in_a_continued_fit_keeps_the_last_completed_epoch(correlated):
    est = PerturbedVAE(n_components=2, max_epochs=2, random_state=0).fit(correlated)
    Z = est.transform(correlated)
    est.set_params(lr=1.0)
    with pytest.raises(TrainingDivergedError):
        est.partial_fit(correlated)
    assert est.n_epochs_ == 2
    np.testing.assert_array_equal(est.transform(correlated), Z)


def test_healthy_learning_rates_stay_inside_the_divergence_bound(correlated):
    """lr=0.05 overshoots to 2.7x the start's loss and recovers: not divergence."""
    est = PerturbedVAE(n_components=2, max_epochs=20, lr=0.05, random_state=0).fit(correlated)
    losses = np.asarray(est.history_[:, "train_loss"])
    assert losses.max() <= est.net_.divergence_bound()


def test_diverged_epoch_is_not_checkpointed(correlated, tmp_path):
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        PerturbedVAE(n_components=2, max_epochs=5, lr=1.0, random_state=0,
                     checkpoint_dir=tmp_path).fit(correlated)
    assert not list(tmp_path.glob("run-*/epoch-*"))


# ----------------------------------------------------- concurrent checkpoints --
def test_two_processes_share_one_checkpoint_fingerprint(X, tmp_path):
    """Two processes run the same fit into one checkpoint_dir at the same time (a search
    whose candidates share a fingerprint): both finish, with the model of a fit alone."""
    np.save(tmp_path / "X.npy", X)
    kw = dict(KW, max_epochs=40)
    script = textwrap.dedent(f"""
        import numpy as np, torch
        torch.set_num_threads(1)
        from perturbvae import PerturbedVAE
        X = np.load(r"{tmp_path / 'X.npy'}")
        est = PerturbedVAE(checkpoint_dir=r"{tmp_path / 'cp'}", **{kw!r}).fit(X)
        np.save(__import__("sys").argv[1], est.transform(X))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"Z{i}.npy")],
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    want = PerturbedVAE(**kw).fit(X).transform(X)
    for i in range(3):
        np.testing.assert_array_equal(np.load(tmp_path / f"Z{i}.npy"), want)
    run = next((tmp_path / "cp").glob("run-*"))
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------- resuming exactly --
@pytest.mark.parametrize("random_state", [None, np.random.RandomState(0)],
                         ids=["None", "RandomState"])
def test_checkpoint_without_an_integer_seed_warns_that_it_cannot_resume(X, tmp_path,
                                                                        random_state):
    with pytest.warns(UserWarning, match="can never resume"):
        PerturbedVAE(checkpoint_dir=tmp_path, **dict(KW, random_state=random_state)).fit(X)


def test_checkpoint_with_an_integer_seed_does_not_warn(X, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PerturbedVAE(checkpoint_dir=tmp_path, **KW).fit(X)


def test_resume_after_an_interruption_equals_the_uninterrupted_fit(X, tmp_path, monkeypatch):
    """The checkpoint holds the generators' states: the epochs after the resume shuffle and
    draw noise as the uninterrupted fit did (before, they were drawn from new seeds)."""
    from perturbvae._vae import _callbacks

    kw = dict(KW, max_epochs=6)
    save = _callbacks.AtomicCheckpoint.save_model

    def save_then_fail(self, net):
        save(self, net)
        if len(net.history) == 3:
            raise RuntimeError("the machine went away")

    monkeypatch.setattr(_callbacks.AtomicCheckpoint, "save_model", save_then_fail)
    with pytest.raises(RuntimeError, match="went away"):
        PerturbedVAE(checkpoint_dir=tmp_path, **kw).fit(X)
    monkeypatch.setattr(_callbacks.AtomicCheckpoint, "save_model", save)
    with pytest.warns(UserWarning, match="after epoch 3"):
        resumed = PerturbedVAE(checkpoint_dir=tmp_path, **kw).fit(X)
    whole = PerturbedVAE(**kw).fit(X)
    assert resumed.history_[:, "train_loss"] == whole.history_[:, "train_loss"]
    np.testing.assert_array_equal(resumed.transform(X), whole.transform(X))


# ------------------------------------------------------------- full disks --
def _disk_full_after(monkeypatch, n_bytes):
    """os.write fails with ENOSPC once ``n_bytes`` have been written (a nearly full disk)."""
    real, written = os.write, [0]

    def write(fd, data):
        room = n_bytes - written[0]
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = real(fd, bytes(memoryview(data)[:room]))
        written[0] += n
        return n

    monkeypatch.setattr(os, "write", write)


@pytest.mark.parametrize("room", [0, 3000])
def test_save_on_a_full_disk_names_the_path_and_the_cause(X, tmp_path, monkeypatch, room):
    est = PerturbedVAE(**KW).fit(X)
    path = tmp_path / "model.pvae"
    _disk_full_after(monkeypatch, room)
    with pytest.raises(OSError, match=r"(?i)model\.pvae.*no space left on device") as info:
        est.save(path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left


def test_checkpoint_on_a_full_disk_names_the_folder_and_the_cause(X, tmp_path, monkeypatch):
    est = PerturbedVAE(**KW).fit(X)
    Z = est.transform(X)
    est.set_params(checkpoint_dir=tmp_path)
    _disk_full_after(monkeypatch, 2000)
    with pytest.raises(OSError, match=r"(?i)checkpoint.*epoch-000001.*no space left on device"):
        est.fit(X[::-1])
    monkeypatch.undo()
    np.testing.assert_array_equal(est.transform(X), Z)  # the previous model
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_a_save_killed_midway_leaves_a_temporary_that_the_next_save_removes(X, tmp_path):
    est = PerturbedVAE(**KW).fit(X)
    est.save(tmp_path / "m.pvae")
    script = textwrap.dedent(f"""
        import os, signal
        from perturbvae import PerturbedVAE
        est = PerturbedVAE.load(r"{tmp_path / 'm.pvae'}")
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # killed before the rename
        est.save(r"{tmp_path / 'm.pvae'}")
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert len(list(tmp_path.glob(".perturbvae-*"))) == 1  # the killed write's leftover
    est.save(tmp_path / "m.pvae")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pvae"]
    PerturbedVAE.load(tmp_path / "m.pvae")


# ------------------------------------------------------- hand-edited files --
def test_saved_checkpoint_dir_never_decides_where_a_loaded_model_writes(X, tmp_path):
    from perturbvae._archive import read_archive, write_archive

    est = PerturbedVAE(checkpoint_dir=tmp_path / "mine", **KW).fit(X)
    with pytest.warns(UserWarning, match="checkpoint_dir"):
        est.save(tmp_path / "m.pvae")
    arrays, meta = read_archive(tmp_path / "m.pvae")
    assert meta["params"]["checkpoint_dir"] is None
    meta["params"]["checkpoint_dir"] = str(tmp_path / "elsewhere")  # hand-edited
    write_archive(tmp_path / "m.pvae", arrays, meta)
    with pytest.warns(UserWarning, match="ignored"):
        loaded = PerturbedVAE.load(tmp_path / "m.pvae")
    assert loaded.checkpoint_dir is None
    loaded.set_params(warm_start=True).fit(X)
    assert not (tmp_path / "elsewhere").exists()
