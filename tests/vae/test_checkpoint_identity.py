"""checkpoint_dir: fits with different custom potentials (code, constants, captured values,
partial arguments, constructor arguments) never share a fingerprint, hence never a model."""

import os
import subprocess
import sys
import textwrap
import warnings
from functools import partial

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

from perturbvae import KLWarmup, PerturbedVAE
from perturbvae._vae._checkpoint import fingerprint
from perturbvae.potentials import Ladder, Potential

KW = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=2, batch_size=32,
          random_state=0)
SCALE = 1.0


class Quartic(Potential):
    def __init__(self, scale=1.0):
        self.scale = scale

    def energy(self, z):
        return self.scale * (z ** 4).sum(dim=1) / 4


class Sextic(Quartic):
    def energy(self, z):
        return self.scale * (z ** 6).sum(dim=1) / 6


class PrivateQuartic(Potential):
    # its parameter in a private attribute: private attributes were left out of the
    # description, and PrivateQuartic(0.0) resumed PrivateQuartic(50.0)'s checkpoint
    def __init__(self, scale=1.0):
        self._scale = scale

    def energy(self, z):
        return self._scale * (z ** 4).sum(dim=1) / 4


class LinearSquare(torch.nn.Module):
    # a module potential, identified by its weights
    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.lin = torch.nn.Linear(2, 1)

    def forward(self, z):
        return self.lin(z).squeeze(-1) ** 2


class TiltedLadder(Ladder):
    # a Ladder subclass with an argument of its own: its get_config is Ladder's, so the
    # config alone named TiltedLadder(tilt=0.0) and TiltedLadder(tilt=5.0) alike
    def __init__(self, stiffnesses=None, tilt=0.0):
        super().__init__(stiffnesses)
        self.tilt = tilt

    def energy(self, z):
        return super().energy(z) + self.tilt * z[:, 0]


def quartic(z, scale):
    return scale * (z ** 4).sum(1)


def scaled(scale):
    return lambda z: scale * (z ** 2).sum(1)


def uses_global(z):
    return SCALE * (z ** 2).sum(1)


@pytest.fixture(scope="module")
def X():
    return load_iris().data


def _fingerprint(X, **params):
    est = PerturbedVAE(**dict(KW, **params))
    est._seed_values = est._seeds()
    return fingerprint(est, X)


# (a, b): two perturbations that train different models
DIFFERENT = {
    "lambda bodies": (lambda z: 0.0 * z.sum(1), lambda z: 50.0 * (z ** 2).sum(1)),
    "Potential argument": (Quartic(0.0), Quartic(50.0)),
    "Potential subclass code": (Quartic(1.0), Sextic(1.0)),
    "partial arguments": (partial(quartic, scale=0.0), partial(quartic, scale=50.0)),
    "closure values": (scaled(1.0), scaled(2.0)),
    "private attribute": (PrivateQuartic(0.0), PrivateQuartic(50.0)),
    "module weights": (LinearSquare(0), LinearSquare(1)),
    "argument of a Ladder subclass": (TiltedLadder(tilt=0.0), TiltedLadder(tilt=5.0)),
}


@pytest.mark.parametrize("pair", DIFFERENT.values(), ids=DIFFERENT.keys())
def test_different_potentials_have_different_fingerprints(X, pair):
    a, b = pair
    assert _fingerprint(X, perturbation=a) != _fingerprint(X, perturbation=b)


def test_a_module_constant_the_potential_reads_is_fingerprinted(X, monkeypatch):
    before = _fingerprint(X, perturbation=uses_global)
    monkeypatch.setitem(uses_global.__globals__, "SCALE", 2.0)
    assert _fingerprint(X, perturbation=uses_global) != before


@pytest.mark.parametrize("make", [lambda: Quartic(3.0), lambda: partial(quartic, scale=3.0),
                                  lambda: scaled(3.0), lambda: [KLWarmup(4)],
                                  lambda: PrivateQuartic(3.0), lambda: LinearSquare(0)],
                         ids=["Potential", "partial", "closure", "callbacks", "private",
                              "module"])
def test_equal_values_keep_one_fingerprint(X, make):
    # a fresh but equal object: an interrupted fit still finds its own checkpoint
    name = "callbacks" if isinstance(make(), list) else "perturbation"
    assert _fingerprint(X, **{name: make()}) == _fingerprint(X, **{name: make()})


def test_fingerprint_of_code_is_the_same_in_another_process(tmp_path):
    """A resumed fit runs in a new process: its description must not depend on addresses
    or on the process's string hashing."""
    script = tmp_path / "fp.py"
    script.write_text(textwrap.dedent("""
        from functools import partial
        import numpy as np
        from perturbvae import PerturbedVAE
        from perturbvae._vae._checkpoint import fingerprint
        C = {"a": 1.0, "b": 2.0}
        def energy(z, scale):
            return scale * C["a"] * (z ** 2).sum(1) * len({"x", "y", "z"})
        est = PerturbedVAE(perturbation=partial(energy, scale=2.0), random_state=0)
        est._seed_values = est._seeds()
        print(fingerprint(est, np.eye(3)))
    """))
    out = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
        out.append(subprocess.run([sys.executable, str(script)], env=env, check=True,
                                  capture_output=True, text=True).stdout.strip())
    assert out[0] == out[1] and len(out[0]) == 32


def test_second_fit_with_another_potential_does_not_resume_the_first(X, tmp_path):
    cp = tmp_path / "cp"
    weak, strong = partial(quartic, scale=0.0), partial(quartic, scale=50.0)
    PerturbedVAE(perturbation=weak, checkpoint_dir=cp, **KW).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Resuming" warning
        got = PerturbedVAE(perturbation=strong, checkpoint_dir=cp, **KW).fit(X)
    want = PerturbedVAE(perturbation=strong, **KW).fit(X)
    assert len(os.listdir(cp)) == 2
    np.testing.assert_array_equal(got.transform(X), want.transform(X))


class _Opaque:
    """A callable with no readable state: only its address would tell two apart."""

    __slots__ = ("scale",)

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, z):
        return self.scale * (z ** 2).sum(1)


def test_unidentifiable_perturbation_never_resumes_and_says_so(X, tmp_path):
    cp = tmp_path / "cp"
    with pytest.warns(UserWarning, match="never resumes"):
        PerturbedVAE(perturbation=_Opaque(0.0), checkpoint_dir=cp, **KW).fit(X)
    with pytest.warns(UserWarning, match="never resumes") as said:
        got = PerturbedVAE(perturbation=_Opaque(50.0), checkpoint_dir=cp, **KW).fit(X)
    assert not any("Resuming" in str(w.message) for w in said)
    want = PerturbedVAE(perturbation=_Opaque(50.0), **KW).fit(X)
    np.testing.assert_array_equal(got.transform(X), want.transform(X))
