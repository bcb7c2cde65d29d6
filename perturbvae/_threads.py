"""One thread per parallel worker: torch, BLAS and OpenMP.

Parallel workers (joblib's loky or Dask processes) that each start a thread per
core oversubscribe the machine: on a small one, training becomes 10x slower or
worse. :func:`limit_threads` pins the current process for the duration of a
block and restores the previous limits afterwards; :func:`dask_setup` pins the
workers of a Dask cluster once, for code we do not control (``GridSearchCV``).
"""

import os
import sys
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

__all__ = ["limit_threads", "dask_setup"]

_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextmanager
def limit_threads(n=1):
    """Run a block with ``n`` torch threads and ``n`` BLAS/OpenMP threads.

    The previous limits are restored on exit, also after an exception. torch is
    only touched when it has already been imported (importing it costs seconds,
    which a worker running a numpy estimator need not pay).

    Parameters
    ----------
    n : int, default=1
        Threads allowed inside the block.

    Examples
    --------
    >>> import torch
    >>> from perturbvae._threads import limit_threads
    >>> before = torch.get_num_threads()
    >>> with limit_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    torch = sys.modules.get("torch")
    n_torch = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(int(n))
        with threadpool_limits(limits=int(n)):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(n_torch)


def _pin_process(n=1):
    """Pin the calling process (and threads it starts later) to ``n`` threads."""
    for var in _ENV_VARS:
        os.environ[var] = str(n)
    threadpool_limits(limits=n)
    import torch

    torch.set_num_threads(n)
    return torch.get_num_threads()


try:  # distributed is optional: the plugin exists only where it is installed
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover - depends on the environment
    _WorkerPlugin = object


class ThreadLimitPlugin(_WorkerPlugin):
    """Dask worker plugin: one torch/BLAS thread per worker (see :func:`dask_setup`)."""

    name = "perturbvae-thread-limit"

    def __init__(self, n=1):
        self.n = int(n)

    def setup(self, worker):
        _pin_process(self.n)


def _task_threads():
    import torch

    return torch.get_num_threads()


def dask_setup(client, n_threads=1):
    """Pin every worker of a Dask cluster to ``n_threads`` torch and BLAS threads.

    Registers a worker plugin, so that workers joining later (adaptive scaling,
    restarts) are pinned too. Call it once after creating the client, before
    ``joblib.parallel_config(backend="dask")``.
    :func:`perturbvae.metrics.seed_stability` pins its own fits whatever the
    cluster; ``GridSearchCV`` and other code that perturbvae does not control
    rely on this setup (or on ``OMP_NUM_THREADS=1`` in the workers'
    environment, which Dask's nanny sets by default).

    Parameters
    ----------
    client : distributed.Client
    n_threads : int, default=1
        torch/BLAS threads per worker process. With ``threads_per_worker=k > 1``
        keep ``n_threads=1``: the k task threads already share the cores.

    Returns
    -------
    threads : dict
        ``torch.get_num_threads()`` as seen by a task on each worker, by address.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> import joblib  # doctest: +SKIP
    >>> from perturbvae import dask_setup  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> set(dask_setup(client).values())  # doctest: +SKIP
    {1}
    >>> with joblib.parallel_config(backend="dask"):  # doctest: +SKIP
    ...     search.fit(X)
    """
    n = int(n_threads)
    register = getattr(client, "register_plugin", None) or client.register_worker_plugin
    register(ThreadLimitPlugin(n), name=ThreadLimitPlugin.name)
    client.run(_pin_process, n)
    workers = list(client.scheduler_info(n_workers=-1)["workers"]) \
        if _accepts_n_workers(client) else list(client.scheduler_info()["workers"])
    futures = {w: client.submit(_task_threads, workers=[w], pure=False) for w in workers}
    return {w: f.result() for w, f in futures.items()}


def _accepts_n_workers(client):
    import inspect

    try:
        return "n_workers" in inspect.signature(client.scheduler_info).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False
