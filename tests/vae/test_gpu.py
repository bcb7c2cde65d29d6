"""The GPU path: fit, transform, score, save and load on CUDA (skipped without CUDA),
and a CUDA-trained model used on a CPU-only machine."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from perturbvae import PerturbedVAE

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def X():
    return StandardScaler().fit_transform(load_digits().data)[:500]


@pytest.mark.gpu
def test_fit_transform_score_save_load_on_cuda(X, tmp_path):
    vae = PerturbedVAE(n_components=3, hidden_layer_sizes=(32,), max_epochs=5,
                       device="auto", random_state=0).fit(X)
    assert next(vae.net_.module_.parameters()).is_cuda
    Z = vae.transform(X)
    assert Z.shape == (500, 3) and np.all(np.isfinite(Z))
    assert np.isfinite(vae.score(X))
    assert vae.inverse_transform(Z).shape == X.shape
    vae.save(tmp_path / "m.pt")
    on_gpu = PerturbedVAE.load(tmp_path / "m.pt", device="cuda")
    on_cpu = PerturbedVAE.load(tmp_path / "m.pt", device="cpu")
    np.testing.assert_allclose(on_gpu.transform(X), Z, atol=1e-6)
    np.testing.assert_allclose(on_cpu.transform(X), Z, atol=1e-4)
    # same random_state, same machine: identical result on the GPU too
    Z2 = PerturbedVAE(n_components=3, hidden_layer_sizes=(32,), max_epochs=5,
                      device="auto", random_state=0).fit(X).transform(X)
    np.testing.assert_allclose(Z2, Z, atol=1e-5)


@pytest.mark.gpu
def test_cpu_and_cuda_agree_at_closed_form_start(X):
    kw = dict(n_components=4, hidden_layer_sizes=(16,), max_epochs=0, random_state=0)
    zc = PerturbedVAE(device="cpu", **kw).fit(X).transform(X)
    zg = PerturbedVAE(device="cuda", **kw).fit(X).transform(X)
    np.testing.assert_allclose(zc, zg, atol=1e-4)


@pytest.mark.gpu
def test_cuda_pickle_loads_without_cuda(X, tmp_path):
    vae = PerturbedVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=2,
                       device="cuda", random_state=0).fit(X)
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(vae))
    np.save(tmp_path / "X.npy", X[:20])
    np.save(tmp_path / "Z.npy", vae.transform(X[:20]))
    code = (
        "import pickle, numpy as np, torch, sys\n"
        "assert not torch.cuda.is_available()\n"
        f"m = pickle.load(open(r'{tmp_path}/m.pkl', 'rb'))\n"
        f"Z = m.transform(np.load(r'{tmp_path}/X.npy'))\n"
        f"np.testing.assert_allclose(Z, np.load(r'{tmp_path}/Z.npy'), atol=1e-4)\n"
        "m.partial_fit(np.load(r'" + str(tmp_path) + "/X.npy'))\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


@pytest.mark.skipif(not (DATA / "cuda_model.pkl").exists(), reason="no GPU-made fixture")
def test_gpu_made_fixture_loads_on_this_machine(monkeypatch):
    """A model pickled and saved on a GPU machine (tests/data/make_cuda_fixture.py)
    is used here without CUDA: same embedding as computed on the GPU. (The fixture's
    stored ELBO came from the earlier 4-noise-vector estimate of ``score_samples``, since
    replaced by a cubature; here the pickled and the saved model must agree on it.)"""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    expected = np.load(DATA / "cuda_model_expected.npz")
    vae = pickle.loads((DATA / "cuda_model.pkl").read_bytes())
    assert not next(vae.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(vae.transform(expected["X"]), expected["Z"], atol=1e-4)
    loaded = PerturbedVAE.load(DATA / "cuda_model.pt")
    assert loaded.device == "cpu" or loaded.device == "auto"
    np.testing.assert_allclose(loaded.transform(expected["X"]), expected["Z"], atol=1e-4)
    np.testing.assert_allclose(loaded.score_samples(expected["X"]),
                               vae.score_samples(expected["X"]), rtol=1e-6)
    vae.partial_fit(expected["X"])  # and it trains on, on the CPU
