"""Saving and loading PerturbedVAE models as tensors plus JSON.

The file is a ``torch.save`` archive holding only tensors, strings and numbers,
read back with ``torch.load(weights_only=True)``: unlike a pickle, loading it
cannot run code. Writes are atomic (temporary file, then ``os.replace``).
"""

import json
import os
import pickle
import tempfile
import zipfile

import numpy as np
import torch

from ._network import VAEModule
from .potentials import CallablePotential, Potential, potential_from_config

FORMAT = "perturbvae"
FORMAT_VERSION = 1


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
    if name == "accelerator":
        return None  # a live training context: not persisted
    if name == "callbacks":
        return None  # callbacks are code: not persisted
    if name == "random_state" and not (value is None or isinstance(value, (int, np.integer))):
        return None
    if name == "hidden_layer_sizes":
        return [int(h) for h in value]
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_model(est, path):
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est, "net_")
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
    module = est.net_.module_
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "params": json.dumps(params),
        "state": json.dumps(state),
        "module": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".perturbvae-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def _read(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    # torch.save writes a zip archive; its reader does not check the CRCs, so a
    # flipped bit in a weight would load silently as a different model.
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model: it is not a model archive "
            "(truncated, corrupted or another kind of file)."
        )
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model: the archive is truncated or "
            f"corrupted ({exc})."
        ) from None
    if bad is not None:
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model: the archive is corrupted "
            f"(checksum mismatch in {bad!r})."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise ValueError(
                f"Refused to load {path!r}: it holds objects other than tensors and plain "
                f"data (loading it could run code). Details: {first}"
            ) from None
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model: the file is corrupted ({first})."
        ) from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a bad file
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model: the file is truncated, "
            f"corrupted or not a model file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a perturbvae model file.")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has model format version {version!r}; this perturbvae reads "
            f"versions up to {FORMAT_VERSION}. Upgrade perturbvae to load it."
        )
    try:
        params = json.loads(payload["params"])
        state = json.loads(payload["state"])
        tensors = payload["module"]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path!r} is a corrupted perturbvae model file ({exc}).") from None
    return params, state, tensors


def load_model(cls, path, device="cpu"):
    from skorch.history import History

    from ._vae import resolve_device

    params, state, tensors = _read(path)
    pert = params.get("perturbation")
    if isinstance(pert, dict) and "__potential__" in pert:
        params["perturbation"] = potential_from_config(pert["__potential__"])
    params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    if device is None:
        # As saved, unless it names a device this machine lacks.
        saved = str(params.get("device", "auto"))
        device = saved if saved in ("auto", "cpu") or torch.cuda.is_available() else "cpu"
    params["device"] = device
    est = cls(**params)

    est._seed_values = np.asarray(state["seed_values"], dtype=np.int64)
    est._device = resolve_device(device)
    est._shuffle_gen = est._noise_gen = None
    est.n_features_in_ = int(state["n_features_in_"])
    if state["feature_names_in_"] is not None:
        est.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    est.prior_energies_ = (
        None if state["prior_energies_"] is None else np.asarray(state["prior_energies_"])
    )
    est.potential_ = None if state["potential_"] is None else potential_from_config(
        state["potential_"])
    module = VAEModule(est.n_features_in_, est.n_components, est.hidden_layer_sizes,
                       est.likelihood)
    try:
        module.load_state_dict(tensors)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{path!r}: saved weights do not match the model ({exc}).") from None
    est._build_net(module, est._strength())
    est.net_.history = History(state["history"])
    est._n_features_out = est.n_components
    return est
