"""perturbvae: reproducible, interpretable VAE embeddings for scikit-learn.

A VAE's latent space is degenerate: its loss does not change when latent axes are
permuted, flipped or rotated. :class:`PerturbedVAE` starts from the exactly solvable
linear (PCA) solution and adds a perturbation potential that lifts the degeneracy.
:class:`SpectralDegeneracy` reads any embedding's density as the ground state of a
Hamiltonian and reports its spectrum, multiplets and energy landscape.
"""

from . import _pickle_names
from ._vae._chunks import fit_chunks
from ._spectral._estimator import SpectralDegeneracy
from ._threads import dask_setup
from ._vae._callbacks import KLWarmup
from ._vae._net import TrainingDivergedError
from ._vae._estimator import PerturbedVAE

__version__ = "0.1.0"

_pickle_names.register()

__all__ = ["PerturbedVAE", "SpectralDegeneracy", "KLWarmup", "TrainingDivergedError",
           "fit_chunks", "dask_setup", "__version__"]
