"""Warnings that point at the user's line, not at the package's own frames."""

import os
import sys
import threading
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Libraries that call into the package's methods on a user's behalf (fit_transform, a
# Pipeline, a grid search, joblib's workers, skorch's training loop): the user's line is
# past them.
_LIBRARIES = tuple(f"{os.sep}{name}{os.sep}" for name in ("sklearn", "skorch", "joblib"))


class PerturbvaeWarning(UserWarning):
    """The warnings of perturbvae: one category to filter them by.

    They point at the user's line (the call into the package), so a filter by module
    (``warnings.filterwarnings("ignore", module="perturbvae")``) does not see them; filter
    by this category instead.

    Examples
    --------
    >>> import warnings
    >>> from perturbvae import PerturbvaeWarning
    >>> warnings.filterwarnings("ignore", category=PerturbvaeWarning)
    """


class RatesWarning(PerturbvaeWarning):
    """The warnings on the dynamics between the wells: how far ``rate_matrix_``,
    ``mean_first_passage_times_``, ``stationary_distribution_`` and ``simulate`` can be
    trusted. A category of its own, so that a user who reads only the wells (``labels_``,
    ``n_ground_states_``) can leave them out and still see the count's warnings.

    Examples
    --------
    >>> import warnings
    >>> from perturbvae import RatesWarning
    >>> warnings.filterwarnings("ignore", category=RatesWarning)
    """


def _ours(frame):
    return frame.f_code.co_filename.startswith(_PACKAGE)


def _library(frame):
    return any(name in frame.f_code.co_filename for name in _LIBRARIES)


# Set while warn_user says a warning: its file and line are the user's, so a
# warnings.showwarning hook (the command's) asks this to know the warning is the package's.
_SAYING = threading.local()


def warn_user(message, category=PerturbvaeWarning):
    """``warnings.warn`` at the user's line: past the outermost frame of the package and
    the library frames that called it (a fixed ``stacklevel`` pointed at ``sklearn/base.py``
    or at the package's own lines wherever the warning was said some calls deep)."""
    frames = []
    frame = sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    outside = max(i for i, f in enumerate(frames) if _ours(f)) + 1
    while outside < len(frames) - 1 and _library(frames[outside]):
        outside += 1
    _SAYING.now = True
    try:
        warnings.warn(message, category, stacklevel=min(outside, len(frames) - 1) + 2)
    finally:
        _SAYING.now = False


def saying():
    """Whether the warning being shown now is the package's own (said by
    :func:`warn_user`)."""
    return getattr(_SAYING, "now", False)
