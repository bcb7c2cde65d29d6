"""perturbvae: reproducible, interpretable VAE embeddings for scikit-learn.

A VAE's latent space is degenerate: its loss does not change when latent axes are
permuted, flipped or rotated. :class:`PerturbedVAE` starts from the exactly solvable
linear (PCA) solution and adds a perturbation potential that lifts the degeneracy.
:class:`SpectralDegeneracy` reads any embedding's density as the ground state of a
Hamiltonian and reports its spectrum, multiplets and energy landscape.
"""

import importlib

from . import _pickle_names

__version__ = "0.1.0"

# Public name -> the module that defines it. They are imported on first use (PEP 562):
# importing torch takes seconds, and the command line checks its input before paying that.
_LAZY = {
    "PerturbedVAE": "._vae._estimator",
    "SpectralDegeneracy": "._spectral._estimator",
    "KLWarmup": "._vae._callbacks",
    "TrainingDivergedError": "._vae._net",
    "fit_chunks": "._vae._chunks",
    "dask_setup": "._threads",
    "PerturbvaeWarning": "._warn",
    "RatesWarning": "._warn",
}

# Public submodules, imported on first use as attributes of the package too
# (``perturbvae.metrics.seed_stability`` after ``import perturbvae``).
_SUBMODULES = ("datasets", "metrics", "plotting", "potentials")

_pickle_names.register()

__all__ = ["PerturbedVAE", "SpectralDegeneracy", "KLWarmup", "TrainingDivergedError",
           "fit_chunks", "dask_setup", "PerturbvaeWarning", "RatesWarning", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)  # sets the attribute itself
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
