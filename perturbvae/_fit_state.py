"""Keep a fitted estimator as it was when a fit fails part way."""

from contextlib import contextmanager


@contextmanager
def fitted_state_kept_on_error(est, on_error=None, errors=Exception):
    """Put the fitted state of ``est`` (every attribute but its parameters) back as it was if
    the block raises one of ``errors``.

    ``on_error(saved)`` runs first and may edit ``saved``, the attributes to put back (a
    continued training run keeps its last completed epoch). Attributes the block added are
    removed, so a failed refit never leaves a model half replaced.
    """
    params = set(est._get_param_names())
    saved = {k: v for k, v in est.__dict__.items() if k not in params}
    try:
        yield
    except errors:
        if on_error is not None:
            on_error(saved)
        for k in [k for k in est.__dict__ if k not in params and k not in saved]:
            delattr(est, k)
        est.__dict__.update(saved)
        raise
