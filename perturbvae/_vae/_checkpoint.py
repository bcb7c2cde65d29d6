"""Checkpoints of PerturbedVAE fits, and resuming only the fit they belong to.

Each fit writes its checkpoints into ``checkpoint_dir/run-<fingerprint>``, where the
fingerprint hashes the training data, the parameters that shape the model and the
seeds drawn from ``random_state``. A fresh fit resumes only a checkpoint with its own
fingerprint: other data, other settings or another clone in a search (each fold,
each grid point) start afresh in their own folder and never pick up another fit's
model. A continued fit (``warm_start``, ``partial_fit``) chains the fingerprint of the
model it continues with that of its new data. Code among the parameters (a callable or
custom potential, callbacks) is identified by its bytecode, constants and captured values.
"""

import hashlib
import json
import os
import tempfile
from numbers import Integral

import numpy as np

from .._warn import warn_user
from ._callbacks import AtomicCheckpoint, folder_lock
from ._identity import Unidentifiable, describe

# Parameters that do not change the fitted model: left out of the fingerprint.
# ``random_state`` enters through the seeds it draws; ``max_epochs`` is fingerprinted (a
# fit with another max_epochs is another model: the warm-up of a "wells" potential and
# the number of epochs depend on it, and a shorter fit must never receive a longer one).
_NOT_FINGERPRINTED = {"verbose", "checkpoint_dir", "device", "accelerator",
                      "warm_start", "random_state"}
_HASH_ROWS = 65536  # rows hashed at a time: no copy of a large X


def fingerprint(est, X, previous=None):
    """Hex digest of (previous fingerprint, model parameters, seeds, X).

    A parameter that nothing reliably identifies (see :mod:`._identity`) makes the digest
    random, with a warning: the fit writes its own folder and never resumes one.
    """
    h = hashlib.blake2b(digest_size=16)
    params = {}
    for k, v in est.get_params(deep=False).items():
        if k in _NOT_FINGERPRINTED:
            continue
        try:
            params[k] = describe(v)
        except Unidentifiable as exc:
            warn_user(
                f"checkpoint_dir: {k}={v!r} cannot be told apart from other values of "
                f"{k} ({exc}), so this fit writes checkpoints under a fingerprint of its "
                "own and never resumes from (or is resumed by) another fit.")
            return os.urandom(16).hex()
    h.update(json.dumps({"previous": previous, "params": params,
                         "seeds": [int(s) for s in est._seed_values]},
                        sort_keys=True, default=str).encode())
    h.update(f"{X.shape}{X.dtype.str}".encode())
    for start in range(0, X.shape[0], _HASH_ROWS):
        h.update(np.ascontiguousarray(X[start:start + _HASH_ROWS]).data)
    return h.hexdigest()


def run_folder(checkpoint_dir, digest):
    return os.path.join(os.fspath(checkpoint_dir), f"run-{digest}")


def check_writable(checkpoint_dir):
    """Create ``checkpoint_dir`` if needed; ValueError if it cannot be written."""
    path = os.fspath(checkpoint_dir)
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)  # unique: no races
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(
            f"checkpoint_dir={path!r} cannot be written ({exc.strerror or exc}); choose a "
            "writable folder or checkpoint_dir=None."
        ) from None


def make_callback(est):
    """The checkpoint callback for the fit with ``est._fingerprint``, or None."""
    if est.checkpoint_dir is None or getattr(est, "_fingerprint", None) is None:
        return None
    # After every epoch, so a killed run loses at most one.
    return AtomicCheckpoint(dirname=run_folder(est.checkpoint_dir, est._fingerprint))


def weights_digest(module):
    """Hex digest of a network's weights: what identifies a model that was fitted without
    a fingerprint (before ``checkpoint_dir`` was set, or loaded from a file)."""
    h = hashlib.blake2b(digest_size=16)
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(np.ascontiguousarray(value.detach().cpu().numpy()).data)
    return "weights-" + h.hexdigest()


def warn_if_not_resumable(est):
    """UserWarning when ``random_state`` is not an integer: each fit draws other seeds, so
    its checkpoints have a new fingerprint every time and can never be resumed."""
    rs = est.random_state
    if isinstance(rs, Integral) and not isinstance(rs, bool):
        return
    warn_user(
        f"checkpoint_dir is set but random_state={rs!r} is not an integer: every fit "
        "draws new seeds, so its checkpoints get a new fingerprint each time and an "
        "interrupted fit can never resume from them. Pass an integer random_state.")


def has_checkpoint(est):
    """Whether this fit's folder holds a checkpoint (one that :func:`resume` would load)."""
    cp = make_callback(est)
    if cp is None or not os.path.isdir(cp.dirname):
        return False
    with folder_lock(cp.dirname):
        return cp.latest() is not None


def resume(est):
    """Load this fit's last checkpoint into the fresh net; return its epoch count.

    The weights, optimiser state, history and the random generators' states come back,
    so the resumed fit continues exactly where the checkpointed one was.
    """
    cp = make_callback(est)
    if cp is None or not os.path.isdir(cp.dirname):
        return 0
    with folder_lock(cp.dirname):  # no writer switches or removes it meanwhile
        folder = cp.latest()
        if folder is None:
            return 0
        try:
            est.net_.load_params(**cp.files(folder))
            states = cp.generator_states(folder)
        except Exception as exc:  # noqa: BLE001 - any failure: refuse clearly
            raise ValueError(
                f"Cannot resume from the checkpoint in {folder!r}: it is damaged "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                "Delete it or use another checkpoint_dir."
            ) from None
    done = len(est.net_.history)
    if done > est.max_epochs:  # cannot happen with max_epochs in the fingerprint
        raise ValueError(f"The checkpoint in {folder!r} holds {done} epochs, more than "
                         f"max_epochs={est.max_epochs}; delete it.")
    if states:
        est._shuffle_gen.set_state(states["shuffle_generator"])
        est._noise_gen.set_state(states["noise_generator"])
    else:  # a checkpoint without generator states: fresh, deterministic seeds
        est._reseed(est._seed_values + done)
    warn_user(f"Resuming from the checkpoint in {cp.dirname!r} after epoch {done}.")
    return done
