"""Warnings that point at the user's line, not at the package's own frames."""

import os
import sys
import threading
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# scikit-learn's wrappers around the package's methods: _fit_context (fit, partial_fit)
# and set_output (transform, fit_transform)
_SKLEARN_WRAPPERS = {("base.py", "wrapper"), ("_set_output.py", "wrapped")}


def _internal(frame):
    path = frame.f_code.co_filename
    if path.startswith(_PACKAGE):
        return True
    return (f"{os.sep}sklearn{os.sep}" in path
            and (os.path.basename(path), frame.f_code.co_name) in _SKLEARN_WRAPPERS)


# Set while warn_user says a warning: its file and line are the user's, so a
# warnings.showwarning hook (the command's) asks this to know the warning is the package's.
_SAYING = threading.local()


def warn_user(message, category=UserWarning):
    """``warnings.warn`` at the first frame outside perturbvae (and scikit-learn's wrappers
    of its methods): a fixed ``stacklevel`` pointed at ``sklearn/base.py`` or at the
    package's own lines wherever the warning was said some calls deep."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and _internal(frame):
        frame, level = frame.f_back, level + 1
    _SAYING.now = True
    try:
        warnings.warn(message, category, stacklevel=level)
    finally:
        _SAYING.now = False


def saying():
    """Whether the warning being shown now is the package's own (said by
    :func:`warn_user`)."""
    return getattr(_SAYING, "now", False)
