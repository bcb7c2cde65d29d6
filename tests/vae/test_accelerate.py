"""Training through Accelerate (skorch's AccelerateMixin), on the CPU.

Data-parallel semantics are checked with two CPU processes (gloo) launched by
torchrun: both ranks must end with identical weights, equal to one process
with the same global batch. Measured difference (4 epochs of 8 steps, lr=1e-2,
float32): at most 1.2e-7 in any weight, from the order of the sums in DDP's
gradient all-reduce; the test allows 1e-5.
"""

import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone

accelerate = pytest.importorskip("accelerate")
pytest.importorskip("skorch.hf")

from perturbvae import PerturbedVAE  # noqa: E402
from perturbvae._vae._accelerate import AcceleratedVAENet  # noqa: E402
from perturbvae._vae._net import VAENet  # noqa: E402


def _X(n=512):
    rng = np.random.RandomState(0)
    return (rng.normal(size=(n, 6)) * [3, 2, 1, 0.5, 0.3, 0.1]).astype(np.float32)


def _vae(acc, **kw):
    params = dict(n_components=2, hidden_layer_sizes=(16,), max_epochs=3, batch_size=64,
                  lr=1e-2, random_state=0, accelerator=acc)
    params.update(kw)
    return PerturbedVAE(**params)


@pytest.fixture(scope="module")
def acc():
    return accelerate.Accelerator(cpu=True)


def test_fit_transform_equal_plain(acc):
    X = _X()
    vae = _vae(acc).fit(X)
    assert isinstance(vae.net_, AcceleratedVAENet)
    assert type(vae.net_.module_).__name__ == "VAEModule"  # unwrapped after training
    plain = _vae(None, device="cpu").fit(X)
    np.testing.assert_allclose(vae.transform(X), plain.transform(X), atol=1e-5)
    assert vae.partial_fit(X).n_epochs_ == 4  # training again re-wraps
    assert np.isfinite(vae.score(X))


def test_clone_get_params_and_pickle(acc):
    X = _X()
    vae = _vae(acc, max_grad_norm=1.0)
    assert clone(vae).get_params()["accelerator"] is acc
    vae.fit(X)
    Z = vae.transform(X)
    restored = pickle.loads(pickle.dumps(vae))
    assert vae.accelerator is acc  # pickling does not change the original
    assert restored.accelerator is None
    assert type(restored.net_) is VAENet and not hasattr(restored.net_, "accelerator")
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.transform(X), Z)
    restored.partial_fit(X)  # continues as a plain model
    assert restored.n_epochs_ == 4


def test_rejects_non_accelerator():
    with pytest.raises(ValueError, match="accelerator"):
        PerturbedVAE(accelerator="cuda").fit(_X(20))


WORKER = textwrap.dedent("""
    import os, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from accelerate import Accelerator
    from perturbvae import PerturbedVAE

    out, bs = sys.argv[1], int(sys.argv[2])
    acc = Accelerator(cpu=True)
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(512, 6)) * [3, 2, 1, 0.5, 0.3, 0.1]).astype(np.float32)
    vae = PerturbedVAE(n_components=2, hidden_layer_sizes=(16,), max_epochs=3,
                       batch_size=bs, lr=1e-2, random_state=0, accelerator=acc)
    vae.fit(X)
    vae.partial_fit(X)
    sd = {k: v.detach().cpu().numpy() for k, v in vae.net_.module_.state_dict().items()}
    np.savez(os.path.join(out, f"rank{acc.process_index}_of{acc.num_processes}.npz"), **sd)
""")


def test_data_parallel_two_cpu_processes(tmp_path):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable),
                                                        "torchrun")
    if not os.path.exists(torchrun):
        pytest.skip("torchrun not found")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    # CPU processes with gloo, also on a machine that has a GPU
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    # Two ranks with 32 rows each = one process with global batches of 64 rows.
    subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(script),
                    str(tmp_path), "32"], check=True, env=env, timeout=240,
                   capture_output=True)
    subprocess.run([sys.executable, str(script), str(tmp_path), "64"], check=True,
                   env=env, timeout=240, capture_output=True)
    r0, r1, single = (np.load(tmp_path / f) for f in
                      ("rank0_of2.npz", "rank1_of2.npz", "rank0_of1.npz"))
    for k in single.files:
        np.testing.assert_array_equal(r0[k], r1[k], err_msg=k)
        np.testing.assert_allclose(r0[k], single[k], rtol=0, atol=1e-5, err_msg=k)
    # Training moved the weights far more than the tolerance.
    first = next(k for k in single.files if k.startswith("enc_trunk"))
    assert np.abs(single[first]).max() > 1e-2


@pytest.mark.gpu
def test_mixed_precision_on_gpu(tmp_path):
    """bf16 autocast on a GPU: trains, transforms, and saves a plain float32 model."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)  # earlier tests made a CPU one
    X = _X(2048)
    acc = accelerate.Accelerator(mixed_precision="bf16")
    vae = _vae(acc, max_epochs=5).fit(X)
    Z = vae.transform(X)
    assert np.all(np.isfinite(Z)) and np.isfinite(vae.score(X))
    vae.save(tmp_path / "m.pt")
    loaded = PerturbedVAE.load(tmp_path / "m.pt", device="cpu")
    np.testing.assert_allclose(loaded.transform(X), Z, atol=1e-4)
    # bf16 training lands close to float32 training from the same start
    ref = _vae(None, max_epochs=5, device="cuda").fit(X)
    from perturbvae.metrics import axis_agreement

    assert axis_agreement(Z, ref.transform(X)) > 0.9
