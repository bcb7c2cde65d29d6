"""Test configuration: one torch thread and one BLAS thread per process.

With two threads, any other busy process on a 2-core machine slows training 10-35x;
the suite pins both to one thread (parallel workers do the same, see perturbvae._threads).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

torch.set_num_threads(1)
threadpool_limits(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        # the marker, not item.keywords: keywords also hold the names of parent
        # folders (a checkout in a folder named "gpu" skipped every test)
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster of two single-threaded worker processes, shared by the dask tests."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=40,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
