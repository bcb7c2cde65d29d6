"""Make the CUDA-trained fixture that tests/vae/test_gpu.py loads on CPU.

Run on a machine with a GPU:  python tests/data/make_cuda_fixture.py
It writes cuda_model.pkl (plain pickle), cuda_model.pt (PerturbedVAE.save) and
cuda_model_expected.npz (inputs and the transform computed on the GPU).
"""

import pickle
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from perturbvae import PerturbedVAE


def main():
    here = Path(__file__).parent
    assert torch.cuda.is_available(), "needs a GPU"
    X = StandardScaler().fit_transform(load_digits().data)[:400]
    vae = PerturbedVAE(n_components=3, hidden_layer_sizes=(16,), max_epochs=5, device="cuda",
                       random_state=0).fit(X)
    assert next(vae.net_.module_.parameters()).is_cuda
    (here / "cuda_model.pkl").write_bytes(pickle.dumps(vae))
    vae.save(here / "cuda_model.pt")
    np.savez(here / "cuda_model_expected.npz", X=X[:50], Z=vae.transform(X[:50]),
             elbo=vae.score_samples(X[:50]), device=torch.cuda.get_device_name())
    print("wrote fixtures made on", torch.cuda.get_device_name())


if __name__ == "__main__":
    main()
