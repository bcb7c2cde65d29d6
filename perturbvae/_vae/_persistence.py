"""PerturbedVAE's ``save`` and ``load``: its parameters as JSON and its weights as arrays
in one safe archive (:mod:`perturbvae._archive`)."""

import os

import numpy as np
import torch

from .._archive import first_line, jsonable, read_archive, warn_not_stored, write_archive
from .._warn import warn_user
from ..potentials import CallablePotential, Potential, potential_from_config
from ._device import check_device, resolve_device
from ._network import VAEModule

# Parameters that are code, live objects or places on this machine: not stored, restored
# as these values (a file must never decide where a later fit writes).
_NOT_SAVED = {"callbacks": None, "accelerator": None, "checkpoint_dir": None}


def _loadable_config(pot, what):
    """``pot.get_config()``, refused unless :meth:`load` rebuilds the same kind of potential
    from it: a file that saves but cannot load is never written."""
    if isinstance(pot, CallablePotential):
        pot = pot.func
    if not isinstance(pot, Potential):
        raise TypeError(f"{what}={pot!r} is a callable, which a saved file cannot hold; use "
                        "pickle (or joblib) to keep a model with a custom potential.")
    cfg = pot.get_config()
    try:
        rebuilt = potential_from_config(cfg)
    except Exception:  # noqa: BLE001 - any config load would refuse
        rebuilt = None
    if type(rebuilt) is not type(pot):
        raise TypeError(
            f"{what}={pot!r} cannot be saved: load rebuilds only perturbvae's own "
            "potentials (Ladder, Wells) from a file, and its get_config() "
            f"({cfg!r}) would load as {type(rebuilt).__name__ if rebuilt else 'an error'}. "
            "Use pickle (or joblib) to keep a model with a custom potential.")
    return cfg


def _param_to_json(name, value):
    if name == "perturbation" and (isinstance(value, Potential) or callable(value)):
        return {"__potential__": _loadable_config(value, "perturbation")}
    if name in _NOT_SAVED:
        return None
    if name == "random_state" and not (value is None or isinstance(value, (int, np.integer))):
        return None
    if name == "hidden_layer_sizes":
        return [int(h) for h in value]
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
    if est.checkpoint_dir is not None:
        dropped.append("checkpoint_dir (a folder of this machine; set it again after loading)")
    warn_not_stored(est, dropped)


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
        "potential_": None if pot is None else _loadable_config(pot, "potential_"),
        "history": jsonable(list(est.net_.history)),
    }
    arrays = {"module." + k: v.detach().cpu().numpy()
              for k, v in est.net_.module_.state_dict().items()}
    arrays["x_mean"], arrays["x_scale"] = est._x_mean, est._x_scale
    if getattr(est, "_x_constant", None) is not None:
        arrays["x_constant"], arrays["x_fixed"] = est._x_constant, est._x_fixed
    _put_continuation(est, arrays, state)
    write_archive(path, arrays, {"estimator": "PerturbedVAE", "params": params, "state": state})


def _put_continuation(est, arrays, state):
    """What a continued fit reads besides the weights: Adam's moments and the shuffling and
    noise generators' states (a fit continued after ``load`` moved the weights 0.007 away
    from the same continuation in memory, with them restarted)."""
    opt = getattr(est.net_, "optimizer_", None)
    opt = getattr(opt, "optimizer", opt)  # under an accelerate wrapper
    if isinstance(opt, torch.optim.Optimizer):
        sd = opt.state_dict()
        for i, moments in sd["state"].items():
            for key, value in moments.items():
                arrays[f"optimizer.{int(i)}.{key}"] = torch.as_tensor(value).detach().cpu().numpy()
        state["optimizer_groups"] = jsonable(sd["param_groups"])
    gens = (getattr(est, "_shuffle_gen", None), getattr(est, "_noise_gen", None))
    if all(g is not None for g in gens):
        arrays["shuffle_generator"] = gens[0].get_state().numpy()
        arrays["noise_generator"] = gens[1].get_state().numpy()
        state["noise_generator_device"] = gens[1].device.type


def _get_continuation(est, arrays, state):
    """Restore what :func:`_put_continuation` stored (files without it continue afresh)."""
    groups = state.get("optimizer_groups")
    if groups is not None:
        moments = {}
        for key, value in arrays.items():
            if key.startswith("optimizer."):
                _, i, name = key.split(".", 2)
                moments.setdefault(int(i), {})[name] = torch.from_numpy(np.array(value))
        est.net_.optimizer_.load_state_dict({"state": moments, "param_groups": groups})
    if "shuffle_generator" in arrays and "noise_generator" in arrays:
        # restored by _reseed_if_needed where the noise generator's device kind matches
        est._generator_states = (
            torch.from_numpy(np.asarray(arrays["shuffle_generator"], dtype=np.uint8)),
            torch.from_numpy(np.asarray(arrays["noise_generator"], dtype=np.uint8)),
            str(state.get("noise_generator_device", "cpu")))


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
    if params.get("checkpoint_dir") is not None:
        # Never stored by save: a hand-edited file must not choose where fits write.
        warn_user(f"The file names checkpoint_dir={params['checkpoint_dir']!r}; it is "
                  "ignored (loaded as None). Set checkpoint_dir after loading to "
                  "checkpoint later fits.")
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
    # files written before constant features were kept: none is ignored, as then
    est._x_constant = np.asarray(arrays.get("x_constant", np.zeros(n, bool)), dtype=bool)
    est._x_fixed = np.asarray(arrays.get("x_fixed", np.zeros(n)), dtype=np.float64)
    if est._x_constant.shape != (n,) or est._x_fixed.shape != (n,):
        raise ValueError("the stored constant features do not match n_features_in_")
    if est._x_mean.shape != (n,) or est._x_scale.shape != (n,):
        raise ValueError("the stored standardisation does not match n_features_in_")
    if not np.all(est._x_scale > 0):
        raise ValueError("the stored standardisation has scales that are not positive")
    module = VAEModule(n, est.n_components, est.hidden_layer_sizes, est.likelihood)
    tensors = {k[len("module."):]: torch.from_numpy(v) for k, v in arrays.items()
               if k.startswith("module.")}
    try:
        module.load_state_dict(tensors)
    except RuntimeError as exc:
        # torch's first line names no cause ("Error(s) in loading state_dict for
        # VAEModule:"); the next one does (a size mismatch, a missing key)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ValueError(
            f"the stored weights do not fit a network of n_features_in_={n}, n_components="
            f"{est.n_components}, hidden_layer_sizes={est.hidden_layer_sizes} "
            f"({lines[1] if len(lines) > 1 else lines[0]})") from None
    est._build_net(module, est._strength())
    est.net_.history = History(state["history"])
    _get_continuation(est, arrays, state)
    est._n_features_out = est.n_components
    return est


def load_model(cls, path, device=None):
    path = os.fspath(path)
    if device is not None:
        # the caller's argument, not the file: said as such, before reading
        check_device(device)
    arrays, meta = read_archive(path)
    try:
        return _restore(cls, arrays, meta, device)
    except Exception as exc:  # noqa: BLE001 - a hand-edited or damaged description
        raise ValueError(
            f"Cannot load {path!r}: the stored model is invalid ({type(exc).__name__}: "
            f"{first_line(exc)})."
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
        again after loading), a ``RandomState`` instance as ``random_state``
        (loaded as None; integer seeds are stored), ``checkpoint_dir`` (a folder
        of the machine that saved; loaded as None), ``accelerator`` (loaded as
        None) and a ``set_output`` container (call ``set_output`` again after
        loading). Use pickle to keep these.
        A callable or custom :class:`~perturbvae.potentials.Potential` as
        ``perturbation`` is refused with a ``TypeError`` before anything is
        written (only the built-in potentials load from a file); use pickle.
        The optimiser's state (Adam's running moments) and the states of the
        shuffling and noise generators are stored, so that a fit continued after
        loading (``warm_start``, ``partial_fit``) follows the same path as the same
        continuation of the saved model (on the same kind of device; files written
        before they were stored continue with fresh ones).

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
            value also becomes the loaded estimator's ``device`` parameter; one
            that is not available here is refused with a ``ValueError`` naming
            ``device`` before the file is read.

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
