"""What identifies a parameter value in a checkpoint fingerprint.

Two values that train different models must never describe alike: a fit would resume
the other's checkpoint. Plain values describe themselves; a potential by its
``get_config()`` where it has one; code (functions, lambdas, ``functools.partial``,
methods, callable objects) by its bytecode, constants, defaults, closure, the module
globals it names and, for objects, their attributes. Where none of this reliably
identifies a value, :class:`Unidentifiable` is raised and the fit never resumes.
"""

import functools
import hashlib
import types

import numpy as np

from ..potentials import Potential

_MAX_DEPTH = 8  # deeper object graphs are not followed: refused, not guessed


class Unidentifiable(Exception):
    """A value whose description would not tell it apart from another."""


def describe(value, _depth=0, _seen=None):
    """A JSON-able description, equal for values that train the same model."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if _depth > _MAX_DEPTH:
        raise Unidentifiable(f"{type(value).__qualname__} nested too deeply")
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return {"cycle": type(value).__qualname__}
    seen = seen | {id(value)}

    def sub(v):
        return describe(v, _depth + 1, seen)

    if isinstance(value, (list, tuple)):
        return [sub(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"set": sorted(json_key(sub(v)) for v in value)}
    if isinstance(value, dict):
        return {str(k): sub(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, bytes):
        return {"bytes": _digest(value)}
    if isinstance(value, np.ndarray) or _is_tensor(value):
        a = np.ascontiguousarray(value.detach().cpu().numpy() if _is_tensor(value) else value)
        if a.dtype == object:
            return {"array": [sub(v) for v in a.ravel().tolist()], "shape": list(a.shape)}
        return {"array": _digest(a.tobytes()), "dtype": a.dtype.str, "shape": list(a.shape)}
    if isinstance(value, types.ModuleType):
        return {"module": value.__name__}
    if isinstance(value, type):
        return {"type": _name(value)}
    if isinstance(value, functools.partial):
        return {"partial": sub(value.func), "args": sub(value.args),
                "keywords": sub(value.keywords)}
    if isinstance(value, types.MethodType):
        return {"method": sub(value.__func__), "self": sub(value.__self__)}
    if isinstance(value, types.FunctionType):
        return _describe_function(value, sub)
    if isinstance(value, types.CodeType):
        return _describe_code(value, sub)
    if isinstance(value, (types.BuiltinFunctionType, np.ufunc)):
        return {"builtin": f"{getattr(value, '__module__', None)}.{value.__name__}"}
    config = _config(value)
    if config is not None:
        return {"config": sub(config), **_class_if_foreign(value, sub)}
    if hasattr(value, "get_params") and hasattr(value, "set_params") and not _is_potential(value):
        # skorch callbacks, scikit-learn objects: their parameters define them
        try:
            params = value.get_params(deep=False)
        except Exception:  # noqa: BLE001 - no usable parameters: described by state below
            params = None
        if params is not None:
            return {"class": _name(type(value)), "code": _class_code(type(value), sub),
                    "params": sub(params)}
    state = getattr(value, "__dict__", None)
    if state is None:
        text = repr(value)
        if " at 0x" in text or "object at" in text:  # only an address: says nothing
            raise Unidentifiable(f"a {type(value).__qualname__} holds no readable state")
        return {"class": _name(type(value)), "repr": text}  # e.g. torch.float32
    # any other object (a Potential subclass without get_config, a callable instance):
    # its class's code and all its attributes, private ones too (Quartic(0.0) and
    # Quartic(50.0) kept their parameter in self._a and shared a fingerprint; a cache
    # there only costs a resume); a torch module by its weights as well
    if _is_module(value):
        state = {**{k: v for k, v in state.items() if not k.startswith("_")},
                 "state_dict": dict(value.state_dict())}
    return {"class": _name(type(value)), "code": _class_code(type(value), sub),
            "state": sub(state)}


def json_key(description):
    """A sortable string of a description."""
    import json

    return json.dumps(description, sort_keys=True, default=str)


def _digest(data):
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _is_tensor(value):
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, torch.Tensor)


def _is_potential(value):
    # a potential's parameters need not hold its state (Quartic(a) kept a in self._a): it
    # is described by its state, below
    return isinstance(value, Potential)


def _is_module(value):
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, torch.nn.Module)


def _name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _config(value):
    """``get_config()`` of a value that has a working one, else None."""
    get = getattr(value, "get_config", None)
    if get is None:
        return None
    try:
        return get()
    except Exception:  # noqa: BLE001 - Potential's default raises: no config
        return None


def _class_if_foreign(value, sub):
    # perturbvae's own potentials are named by their config (fingerprints stay as they
    # were); a user's class could share a config with another of theirs, and its own
    # arguments need not be in the config it inherits (a Ladder subclass's tilt was not)
    cls = type(value)
    if cls.__module__.startswith("perturbvae."):
        return {}
    get_state = getattr(value, "__getstate__", None)
    state = get_state() if callable(get_state) else None
    if not isinstance(state, dict):
        state = getattr(value, "__dict__", {})
    return {"class": _name(cls), "code": _class_code(cls, sub), "state": sub(state)}


def _class_code(cls, sub):
    """The code of the methods a user class defines (its own and inherited, not
    perturbvae's, skorch's or builtins')."""
    code = {}
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] in ("perturbvae", "skorch", "builtins", "sklearn"):
            continue
        for key, member in sorted(vars(klass).items()):
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, types.FunctionType):
                code[f"{klass.__qualname__}.{key}"] = _describe_code(member.__code__, sub)
            elif not key.startswith("__") and isinstance(member, (bool, int, float, str)):
                code[f"{klass.__qualname__}.{key}"] = member  # class constants
    return code


def _describe_function(func, sub):
    code = func.__code__
    names = set(_global_names(code))
    glob = func.__globals__
    return {
        "function": f"{func.__module__}.{func.__qualname__}",
        "code": _describe_code(code, sub),
        "defaults": sub(func.__defaults__),
        "kwdefaults": sub(func.__kwdefaults__),
        "closure": [sub(_cell(c)) for c in (func.__closure__ or ())],
        # the module-level values it reads (a constant, another function) change it too
        "globals": sub({n: glob[n] for n in sorted(names) if n in glob}),
    }


def _cell(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return {"empty_cell": True}


def _global_names(code):
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_names(const)


def _describe_code(code, sub):
    consts = [_describe_code(c, sub) if isinstance(c, types.CodeType) else sub(c)
              for c in code.co_consts]
    return {"bytecode": _digest(code.co_code), "consts": consts,
            "names": list(code.co_names)}
