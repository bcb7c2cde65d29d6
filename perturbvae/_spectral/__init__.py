"""The spectral half: :class:`SpectralDegeneracy`, its galerkin and graph spectra, sample
handling, the well count, the density model, finite volumes, PCCA+, rates, Langevin
dynamics and persistence. It never imports the VAE half.
"""

from ._estimator import SpectralDegeneracy  # pickles made before this subpackage name it here

__all__ = ["SpectralDegeneracy"]
