"""Hyperparameter search and seed_stability on a Dask cluster (joblib's dask backend).

The cluster has two worker *processes*, so estimators really cross process
boundaries (pickled there and back); results must equal those of n_jobs=1.
"""

import numpy as np
import pytest

pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from perturbvae import PerturbedVAE, dask_setup  # noqa: E402
from perturbvae.metrics import seed_stability  # noqa: E402


@pytest.fixture
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return (rng.normal(size=(120, 6)) * [3, 2, 1, 0.5, 0.3, 0.1]).astype(np.float32)


def _vae(**kw):
    return PerturbedVAE(n_components=2, hidden_layer_sizes=(8,), max_epochs=2,
                        batch_size=32, device="cpu", random_state=0, **kw)


def _worker_threads():
    import torch

    return torch.get_num_threads()


def test_dask_setup_pins_one_torch_thread(client):
    seen = dask_setup(client)
    assert len(seen) == 2 and set(seen.values()) == {1}
    # Every task thread of every worker, as GridSearchCV's fits would see it.
    futures = [client.submit(_worker_threads, pure=False) for _ in range(6)]
    assert set(client.gather(futures)) == {1}
    assert set(client.run(_worker_threads).values()) == {1}


def test_grid_search_on_dask_equals_serial(client, X):
    dask_setup(client)
    grid = {"beta": [0.5, 1.0], "perturbation_strength": [0.0, 1.0]}
    serial = GridSearchCV(_vae(), grid, cv=2, n_jobs=1).fit(X)
    with joblib.parallel_config(backend="dask"):
        on_dask = GridSearchCV(_vae(), grid, cv=2, n_jobs=-1).fit(X)
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"],
                                  on_dask.cv_results_["mean_test_score"])
    assert serial.best_params_ == on_dask.best_params_
    np.testing.assert_array_equal(serial.transform(X), on_dask.transform(X))


def test_seed_stability_on_dask_equals_serial(client, X):
    serial = seed_stability(_vae(), X, n_seeds=3, n_jobs=1, random_state=0)
    with joblib.parallel_config(backend="dask"):
        on_dask = seed_stability(_vae(), X, n_seeds=3, n_jobs=-1, random_state=0)
    np.testing.assert_array_equal(serial.seeds, on_dask.seeds)
    for a, b in zip(serial.embeddings, on_dask.embeddings):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(serial.axis, on_dask.axis)


def test_limit_threads_restores():
    import torch

    from perturbvae._threads import limit_threads

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with limit_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError
    assert torch.get_num_threads() == before
