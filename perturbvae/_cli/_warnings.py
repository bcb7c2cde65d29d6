"""Warnings in the terminal: the package's own as one line each, printed once; those of
other libraries (matplotlib's layout engine, torch, scikit-learn) kept out of the
terminal and recorded in ``summary.json``, since a user cannot act on them."""

import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from .._warn import saying
from ._arguments import PROG

_PACKAGE = Path(__file__).resolve().parents[1]


def _is_ours(filename):
    """Whether a warning was raised from the package's own code."""
    try:
        return Path(filename).resolve().is_relative_to(_PACKAGE)
    except (OSError, ValueError):
        return False


# The package's advice in the words of the command: a user of the command sets the number
# of wells with --n-wells, not with a parameter of a class.
_OPTION_WORDS = (
    ("Pass a smaller n_wells, or n_wells='auto'", "Pass a smaller --n-wells, or leave it out"),
    ("pass n_wells if you know how many", "pass --n-wells if you know how many"),
    ("Pass n_wells if you know how many", "Pass --n-wells if you know how many"),
    ("stay in energies_. n_wells need not", "stay in the spectrum. --n-wells need not"),
    ("or a smaller n_wells.", "or a smaller --n-wells."),
    ("Wells(n_wells=...) fixes the number", "--n-wells fixes the number"),
    ("Wells(n_wells=...) groups the rows without measuring",
     "--n-wells groups the rows without measuring"),
    ("Wells(n_wells=k) imposes k groups", "--n-wells k imposes k groups"),
    # and without the Python API's names, which the command does not show
    (" points of Z ", " points of the embedding "),
    (" The shares are memberships_.mean(axis=0).", ""),
    ("; rates_error_bound_=inf.", "; the rates have no error bound."),
    (" (rates_error_bound_=inf)", " (no error bound)"),
)


def in_command_words(text):
    """``text`` (a warning's or an error's) with the package's advice on the number of
    wells in the command's words."""
    for words, option in _OPTION_WORDS:
        text = text.replace(words, option)
    return text


def one_line(message):
    """The first line of a warning's message, without the file:line prefix, with the
    package's advice in the command's words."""
    text = str(message).strip()
    return in_command_words(text.splitlines()[0] if text else type(message).__name__)


class WarningLog:
    """Collects warnings; prints the package's own, each distinct one once."""

    def __init__(self, stream=None):
        self.stream = stream
        self.shown = []
        self.hidden = []

    def __call__(self, message, category, filename, lineno, file=None, line=None):
        text = f"{category.__name__}: {one_line(message)}"
        if not (_is_ours(filename) or saying()):
            if text not in self.hidden:
                self.hidden.append(text)
            return
        if text in self.shown:
            return
        self.shown.append(text)
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"{PROG}: warning: {one_line(message)}", file=stream, flush=True)


@contextmanager
def terminal_warnings():
    """Route the block's warnings through a :class:`WarningLog`, which it yields.

    Worker processes started in the block (seed stability) inherit ``PYTHONWARNINGS``:
    their warnings would otherwise reach the terminal straight from their stderr.
    """
    log = WarningLog()
    previous_env = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = "ignore"
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the log, not the registry, decides what repeats
        warnings.showwarning = log
        try:
            yield log
        finally:
            if previous_env is None:
                os.environ.pop("PYTHONWARNINGS", None)
            else:
                os.environ["PYTHONWARNINGS"] = previous_env
