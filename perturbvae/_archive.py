"""Safe archives: numeric arrays plus a JSON description, in one file.

An archive is a ``torch.save`` zip file holding only a format tag, a JSON string and
a dict of numeric tensors. It is read back with ``torch.load(weights_only=True)``
after the zip's CRCs are checked: loading can never run code, and a flipped bit
anywhere gives a ``ValueError`` that names the file. Writes are atomic (a temporary
file renamed into place), follow the umask (or keep an existing file's mode), and
refuse to replace a read-only file.

Both estimators store their fitted arrays and a JSON description through
:func:`write_archive` and :func:`read_archive`.
"""

import errno
import io
import json
import math
import os
import pickle
import re
import socket
import stat
import tempfile
import time
import zipfile

import numpy as np
import torch

FORMAT = "perturbvae"
# 1: {"params", "state", "module"} of a PerturbedVAE; 2: {"meta", "arrays"}, any estimator.
FORMAT_VERSION = 2
_NUMERIC_KINDS = "biuf"


def _positive_strides(a):
    """``a`` contiguous with no negative stride, which torch refuses: numpy counts an array
    of one row reversed (a 1 x 1 eigenvector matrix of a 1-d landscape) as contiguous."""
    a = np.ascontiguousarray(a)
    return a if min(a.strides, default=0) >= 0 else a.copy()


def first_line(exc):
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
        "arrays": {k: torch.from_numpy(_positive_strides(a)) for k, a in arrays.items()},
    }
    # Serialised in memory first: torch's own file writer reports a full disk as
    # "unexpected pos", while os.write raises OSError(ENOSPC) that names the cause.
    mode = _file_mode(path)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(folder)
    tmp = None
    try:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(), suffix=".tmp", dir=folder)
        try:
            os.fchmod(fd, mode)  # mkstemp makes 0600 whatever the umask
            write_all(fd, buffer.getbuffer())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        # Name the user's path, not the temporary file.
        raise os_error(exc, f"Cannot save to {path!r}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def os_error(exc, what):
    """``exc`` as an OSError of the same type whose message starts with ``what`` and
    names the cause (e.g. "No space left on device")."""
    cause = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    return type(exc)(exc.errno, f"{what}: {cause}")


def write_all(fd, data):
    """Write every byte of ``data`` to the open file descriptor ``fd``.

    ``os.write`` raises ``OSError`` (``ENOSPC`` on a full disk); a write that makes no
    progress is reported as ``ENOSPC`` too.
    """
    view = memoryview(data).cast("B")
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


# Temporary files of an unfinished write: ".perturbvae-<pid>@<host>-<random>.tmp".
_TMP_NAME = re.compile(r"^\.perturbvae-(?:(\d+)@(.*)-)?[A-Za-z0-9_]+\.tmp$")
# A temporary file of another machine (or of an older perturbvae) is removed only after this
# long: its writer cannot be asked whether it is still running.
_STALE_AFTER_S = 3600.0


def _temporary_prefix():
    return f".perturbvae-{os.getpid()}@{socket.gethostname()}-"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_temporaries(folder):
    """Remove the temporary files that interrupted writes (a killed process) left in
    ``folder``: those of dead processes of this machine, and any older than an hour."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    host, now = socket.gethostname(), time.time()
    for name in names:
        match = _TMP_NAME.match(name)
        if match is None:
            continue
        path = os.path.join(folder, name)
        pid, where = match.groups()
        try:
            dead = pid is not None and where == host and not _pid_alive(int(pid))
            if dead or now - os.stat(path).st_mtime > _STALE_AFTER_S:
                os.unlink(path)
        except OSError:  # removed meanwhile, or not ours to remove
            pass


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
            f"corrupted ({type(exc).__name__}: {first_line(exc)}).") from None
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
                f"data (loading it could run code). Details: {first_line(exc)}") from None
        raise ValueError(f"Cannot read {path!r} as a perturbvae model file: the file is "
                         f"corrupted ({first_line(exc)}).") from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a bad file
        raise ValueError(
            f"Cannot read {path!r} as a perturbvae model file: the file is truncated, corrupted "
            f"or not an archive ({type(exc).__name__}: {first_line(exc)}).") from None


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
                         f"({type(exc).__name__}: {first_line(exc)}).") from None
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


def warn_not_stored(est, dropped):
    """Say what ``save`` leaves out, at the user's call of ``save``: the parts named in
    ``dropped`` (phrases) and the output container of ``set_output``, which is a setting of
    the live object (a model set to pandas output loaded back returning arrays, silently)."""
    from ._warn import warn_user

    output = getattr(est, "_sklearn_output_config", {}).get("transform", "default")
    if output != "default":
        dropped = [*dropped, f"set_output(transform={output!r}) (call it again after loading)"]
    if dropped:
        warn_user("save does not store " + "; ".join(dropped) + ".")


def float_to_json(x):
    """A float as JSON: a number, or the string ``"inf"``, ``"-inf"``, ``"nan"``."""
    x = float(x)
    return x if np.isfinite(x) else str(x)


def float_from_json(x):
    """The float that :func:`float_to_json` wrote (an exact round trip, infinities and nan
    included, where :func:`jsonable` writes them as None for reports)."""
    if isinstance(x, str):
        if x not in ("inf", "-inf", "nan"):
            raise ValueError(f"{x!r} is not a number")
        return float(x)
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        raise ValueError(f"{x!r} is not a number")
    return float(x)


def plain(value):
    """A scalar as plain JSON (numpy scalars unwrapped)."""
    return value.item() if isinstance(value, np.generic) else value


def jsonable(obj):
    """``obj`` as strict JSON: containers recursed, numpy scalars and arrays as Python
    values, non-finite floats as None (log values only), anything else as its repr."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)
