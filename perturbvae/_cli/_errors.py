"""The command line's own exceptions: each ends the run with a one-line message."""


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""


class Interrupted(Exception):
    """The user interrupted training (Ctrl-C): reported in one line, exit status 130."""
