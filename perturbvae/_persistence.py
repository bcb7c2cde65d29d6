"""Safe archives of arrays plus JSON, and PerturbedVAE's ``save``/``load`` on top of them.

An archive is a ``torch.save`` zip file holding only a format tag, a JSON string and
a dict of numeric tensors. It is read back with ``torch.load(weights_only=True)``
after the zip's CRCs are checked: loading can never run code, and a flipped bit
anywhere gives a ``ValueError`` that names the file. Writes are atomic (a temporary
file renamed into place), follow the umask (or keep an existing file's mode), and
refuse to replace a read-only file.

:func:`write_archive` and :func:`read_archive` are generic: any estimator stores its
fitted arrays and a JSON description with them.
"""

import json
import os
import pickle
import stat
import tempfile
import warnings
import zipfile

import numpy as np
import torch

from ._network import VAEModule
from .potentials import CallablePotential, Potential, potential_from_config

FORMAT = "perturbvae"
# 1: {"params", "state", "module"} of a PerturbedVAE; 2: {"meta", "arrays"}, any estimator.
FORMAT_VERSION = 2
_NUMERIC_KINDS = "biuf"


# ------------------------------------------------------------------ archives --
def _first_line(exc):
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _file_mode(path):
    """An existing file's permission bits, else those a new file gets under the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _check_target(path):
    """Refuse a target that is a folder, read-only, or in a folder that does not exist."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"Cannot save to {path!r}: it is a folder.")
    if os.path.exists(path) and not os.stat(path).st_mode & stat.S_IWUSR:
        # Checked on the mode bits: os.access says yes to root whatever the mode.
        raise PermissionError(
            f"Cannot save to {path!r}: the file is read-only; make it writable or "
            "choose another path.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to {path!r}: the folder {folder!r} does not exist.")


def _check_arrays(arrays, allow_nonfinite, where):
    if not isinstance(arrays, dict):
        raise ValueError(f"{where}: the arrays must be a dict, got {type(arrays).__name__}.")
    for key, a in arrays.items():
        if not isinstance(key, str) or not isinstance(a, np.ndarray):
            raise ValueError(f"{where}: array {key!r} is not a numpy array under a string key.")
        if a.dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(f"{where}: array {key!r} has dtype {a.dtype}; only numbers and "
                             "booleans are stored.")
        if key not in allow_nonfinite and a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{where}: array {key!r} holds NaN or infinite values.")


def write_archive(path, arrays, meta, allow_nonfinite=()):
    """Write numeric arrays and JSON metadata to ``path``, atomically.

    Parameters
    ----------
    path : str or path-like
        Target file; an existing file is replaced (keeping its mode) unless it is
        read-only. A new file gets the mode the umask allows (``0o666 & ~umask``).
    arrays : dict of str to ndarray
        Numeric or boolean arrays.
    meta : dict
        JSON-serialisable data (no NaN or infinity).
    allow_nonfinite : collection of str, default=()
        Keys of ``arrays`` that may hold NaN or infinite values; any other
        non-finite array is refused.

    Raises
    ------
    ValueError
        Non-numeric or non-finite arrays, or metadata that is not JSON.
    OSError
        The file cannot be written; the message names ``path``.
    """
    path = os.fspath(path)
    _check_arrays(arrays, set(allow_nonfinite), f"Cannot save to {path!r}")
    try:
        meta_json = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot save to {path!r}: metadata is not JSON ({exc}).") from None
    _check_target(path)
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "meta": meta_json,
        "arrays": {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in arrays.items()},
    }
    mode = _file_mode(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".perturbvae-", suffix=".tmp",
                                   dir=os.path.dirname(os.path.abspath(path)))
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fchmod(f.fileno(), mode)  # mkstemp makes 0600 whatever the umask
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        # Name the user's path, not the temporary file.
        raise type(exc)(exc.errno, f"Cannot save to {path!r}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _check_zip(path):
    # torch's zip reader does not check the CRCs: a flipped bit in a weight
    # would load silently as a different model.
    try:
        is_zip = zipfile.is_zipfile(path)
        bad = None
        if is_zip:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
    except Exception as exc:  # noqa: BLE001 - any zip failure means a damaged file
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model file: the archive is truncated or "
            f"corrupted ({type(exc).__name__}: {_first_line(exc)}).") from None
    if not is_zip:
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model: it is not a model file "
            "(truncated, corrupted or another kind of file).")
    if bad is not None:
        raise ValueError(f"Cannot read {path!r} as a perturbvae model file: the archive is "
                         f"corrupted (checksum mismatch in {bad!r}).")


def _torch_load(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise ValueError(
                f"Refused to load {path!r}: it holds objects other than tensors and plain "
                f"data (loading it could run code). Details: {_first_line(exc)}") from None
        raise ValueError(f"Cannot read {path!r} as a perturbvae model file: the file is "
                         f"corrupted ({_first_line(exc)}).") from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a bad file
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model file: the file is truncated, corrupted "
            f"or not an archive ({type(exc).__name__}: {_first_line(exc)}).") from None


def _refuse_constant(token):
    raise ValueError(f"non-finite number {token} in the JSON metadata")


def _unpack(payload, path):
    """``(arrays, meta)`` of a version 1 or 2 payload; ValueError on anything else."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a perturbvae model file.")
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has archive format version {version!r}; this perturbvae reads "
            f"versions up to {FORMAT_VERSION}. Upgrade perturbvae to load it.")
    try:
        if version == 1:  # a PerturbedVAE saved by perturbvae 0.1.0
            meta = {"estimator": "PerturbedVAE",
                    "params": json.loads(payload["params"], parse_constant=_refuse_constant),
                    "state": json.loads(payload["state"], parse_constant=_refuse_constant)}
            tensors = {"module." + k: v for k, v in payload["module"].items()}
        else:
            meta = json.loads(payload["meta"], parse_constant=_refuse_constant)
            tensors = payload["arrays"]
        if not isinstance(meta, dict) or not isinstance(tensors, dict):
            raise TypeError("metadata or arrays of the wrong type")
        arrays = {}
        for key, t in tensors.items():
            if not isinstance(key, str) or not isinstance(t, torch.Tensor):
                raise TypeError(f"entry {key!r} is not a tensor under a string key")
            arrays[key] = t.numpy()
    except Exception as exc:  # noqa: BLE001 - any malformed entry means a bad file
        raise ValueError(f"{path!r} is a corrupted perturbvae model file "
                         f"({type(exc).__name__}: {_first_line(exc)}).") from None
    return arrays, meta


def read_archive(path, allow_nonfinite=()):
    """Read an archive written by :func:`write_archive`.

    Parameters
    ----------
    path : str or path-like
    allow_nonfinite : collection of str, default=()
        Keys whose arrays may hold NaN or infinite values; elsewhere they are
        refused (a damaged or hand-edited file).

    Returns
    -------
    arrays : dict of str to ndarray
    meta : dict

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Anything else: a damaged, truncated, foreign, newer or unsafe file. The
        message names ``path``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No file at {path!r}.")
    if os.path.isdir(path):
        raise ValueError(f"Cannot read {path!r}: it is a folder.")
    _check_zip(path)
    arrays, meta = _unpack(_torch_load(path), path)
    _check_arrays(arrays, set(allow_nonfinite), f"Cannot load {path!r}")
    return arrays, meta


# -------------------------------------------------------------- PerturbedVAE --
# Parameters that are code or live objects: not stored, restored as these values.
_NOT_SAVED = {"callbacks": None, "accelerator": None}


def _param_to_json(name, value):
    if name == "perturbation" and isinstance(value, Potential):
        if isinstance(value, CallablePotential):
            raise TypeError("A callable perturbation cannot be saved as JSON; use pickle.")
        return {"__potential__": value.get_config()}
    if name == "perturbation" and callable(value):
        raise TypeError(
            "A callable perturbation cannot be saved as JSON; use pickle, or subclass "
            "perturbvae.potentials.Potential and implement get_config()."
        )
    if name in _NOT_SAVED:
        return None
    if name == "random_state" and not (value is None or isinstance(value, (int, np.integer))):
        return None
    if name == "hidden_layer_sizes":
        return [int(h) for h in value]
    if name == "checkpoint_dir" and value is not None:
        return os.fspath(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _warn_unsaved(est):
    dropped = []
    if est.callbacks:
        dropped.append("callbacks (code; pass them again after loading)")
    rs = est.random_state
    if not (rs is None or isinstance(rs, (int, np.integer))):
        dropped.append("random_state (a RandomState instance; saved as None)")
    if est.accelerator is not None:
        dropped.append("accelerator (a live training context)")
    if dropped:
        warnings.warn("save does not store " + "; ".join(dropped) + ".", UserWarning,
                      stacklevel=3)


def save_model(est, path):
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est, "net_")
    _warn_unsaved(est)
    params = {k: _param_to_json(k, v) for k, v in est.get_params(deep=False).items()}
    pot = est.potential_
    state = {
        "n_features_in_": int(est.n_features_in_),
        "feature_names_in_": (
            [str(c) for c in est.feature_names_in_] if hasattr(est, "feature_names_in_") else None
        ),
        "prior_energies_": (
            None if est.prior_energies_ is None else [float(e) for e in est.prior_energies_]
        ),
        "seed_values": [int(v) for v in est._seed_values],
        "potential_": None if pot is None else pot.get_config(),
        "history": _jsonable(list(est.net_.history)),
    }
    arrays = {"module." + k: v.detach().cpu().numpy()
              for k, v in est.net_.module_.state_dict().items()}
    arrays["x_mean"], arrays["x_scale"] = est._x_mean, est._x_scale
    write_archive(path, arrays, {"estimator": "PerturbedVAE", "params": params, "state": state})


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None  # strict JSON; a NaN in the history is a log value only
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return str(obj)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_state(state):
    """Types of the fitted state; raises TypeError/ValueError on a malformed one."""
    if not isinstance(state, dict):
        raise TypeError("the fitted state is not a JSON object")
    n = state["n_features_in_"]
    if not _is_int(n) or n < 1:
        raise ValueError(f"n_features_in_ = {n!r} is not a positive integer")
    seeds = state["seed_values"]
    if not (isinstance(seeds, list) and len(seeds) == 4 and all(_is_int(s) for s in seeds)):
        raise ValueError("seed_values is not a list of 4 integers")
    names = state["feature_names_in_"]
    if names is not None and not (isinstance(names, list) and len(names) == n
                                  and all(isinstance(c, str) for c in names)):
        raise ValueError("feature_names_in_ is not a list of n_features_in_ strings")
    energies = state["prior_energies_"]
    if energies is not None and not (isinstance(energies, list) and all(
            isinstance(e, (int, float)) and not isinstance(e, bool) for e in energies)):
        raise ValueError("prior_energies_ is not a list of numbers")
    if not isinstance(state["history"], list):
        raise ValueError("history is not a list")


def _params_from_json(cls, params, device):
    """Constructor arguments from the stored parameters, validated like ``fit`` does."""
    if not isinstance(params, dict):
        raise TypeError("the parameters are not a JSON object")
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)}")
    params = dict(params)
    pert = params.get("perturbation")
    if isinstance(pert, dict):
        if set(pert) != {"__potential__"}:
            raise ValueError(f"perturbation = {pert!r} is not a saved potential")
        params["perturbation"] = potential_from_config(pert["__potential__"])
    if "hidden_layer_sizes" in params:
        hls = params["hidden_layer_sizes"]
        if not isinstance(hls, list):
            raise ValueError(f"hidden_layer_sizes = {hls!r} is not a list")
        params["hidden_layer_sizes"] = tuple(hls)
    params.update(_NOT_SAVED)
    if device is None:
        # As saved, unless it names a device this machine lacks.
        saved = str(params.get("device", "auto"))
        device = saved if saved in ("auto", "cpu") or torch.cuda.is_available() else "cpu"
    params["device"] = device
    est = cls(**params)
    est._validate_params()  # sklearn's InvalidParameterError is a ValueError
    est._check_params()
    return est


def _restore(cls, arrays, meta, device):
    from skorch.history import History

    from ._vae import resolve_device

    if meta.get("estimator", "PerturbedVAE") != "PerturbedVAE":
        raise ValueError(f"it holds a {meta.get('estimator')!r}, not a PerturbedVAE")
    est = _params_from_json(cls, meta["params"], device)
    state = meta["state"]
    _check_state(state)
    n = state["n_features_in_"]
    est._seed_values = np.asarray(state["seed_values"], dtype=np.int64)
    est._device = resolve_device(est.device)
    est._shuffle_gen = est._noise_gen = None
    est.n_features_in_ = n
    if state["feature_names_in_"] is not None:
        est.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    est.prior_energies_ = (
        None if state["prior_energies_"] is None else np.asarray(state["prior_energies_"]))
    est.potential_ = None if state["potential_"] is None else potential_from_config(
        state["potential_"])
    # Version 1 files standardise inside the network only: the outer map is the identity.
    est._x_mean = np.asarray(arrays.get("x_mean", np.zeros(n)), dtype=np.float64)
    est._x_scale = np.asarray(arrays.get("x_scale", np.ones(n)), dtype=np.float64)
    if est._x_mean.shape != (n,) or est._x_scale.shape != (n,) or not np.all(est._x_scale > 0):
        raise ValueError("the stored standardisation does not match n_features_in_")
    module = VAEModule(n, est.n_components, est.hidden_layer_sizes, est.likelihood)
    tensors = {k[len("module."):]: torch.from_numpy(v) for k, v in arrays.items()
               if k.startswith("module.")}
    module.load_state_dict(tensors)
    est._build_net(module, est._strength())
    est.net_.history = History(state["history"])
    est._n_features_out = est.n_components
    return est


def load_model(cls, path, device=None):
    path = os.fspath(path)
    arrays, meta = read_archive(path)
    try:
        return _restore(cls, arrays, meta, device)
    except Exception as exc:  # noqa: BLE001 - a hand-edited or damaged description
        raise ValueError(
            f"Cannot load {path!r}: the stored model is invalid ({type(exc).__name__}: "
            f"{_first_line(exc)})."
        ) from None


class PersistenceMixin:
    """``save``/``load`` (tensors and JSON, no pickle) and pickling of a PerturbedVAE."""

    def save(self, path):
        """Save the fitted model as tensors plus JSON (no arbitrary-code pickle).

        The file is written to a temporary name and renamed into place, so a
        crash while saving never leaves a truncated model where a good one was.
        A new file gets the mode the umask allows; an existing one keeps its
        mode; a read-only file is not replaced (``PermissionError``). Errors
        name ``path``.

        Not stored (a ``UserWarning`` says so): ``callbacks`` (code; pass them
        again after loading) and a ``RandomState`` instance as ``random_state``
        (loaded as None; integer seeds are stored). Use pickle to keep them.

        Parameters
        ----------
        path : str or path-like
        """
        save_model(self, path)

    @classmethod
    def load(cls, path, device=None):
        """Load a model written by :meth:`save`.

        Uses ``torch.load(weights_only=True)`` after checking the archive's
        CRCs: a file that would run code, a damaged or truncated file, unknown
        or ill-typed parameters and NaN weights are refused with a
        ``ValueError`` that names ``path``.

        Parameters
        ----------
        path : str or path-like
        device : str, default=None
            Where to place the network. None: the saved ``device`` parameter,
            or the CPU when that names a device this machine lacks. Any other
            value also becomes the loaded estimator's ``device`` parameter.

        Returns
        -------
        PerturbedVAE
        """
        return load_model(cls, path, device=device)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never edit the live object
        gens = [state.pop(key, None) for key in ("_shuffle_gen", "_noise_gen")]
        if all(g is not None for g in gens):
            # Generators do not pickle; their states do (restored by _reseed_if_needed).
            state["_generator_states"] = (gens[0].get_state(), gens[1].get_state(),
                                          gens[1].device.type)
        if state.get("accelerator") is not None and "net_" in state:
            state["accelerator"] = None  # the pickled net_ is a plain VAENet
        return state

    def __setstate__(self, state):
        # Models pickled before these parameters existed train as they did then.
        state = {"compile": False, "data_placement": "auto", **state}
        super().__setstate__(state)
        if "n_features_in_" in state and "_x_mean" not in state:
            # Pickled by perturbvae 0.1.0: the network standardised by itself.
            self._x_mean = np.zeros(self.n_features_in_)
            self._x_scale = np.ones(self.n_features_in_)
