"""The VAE half: :class:`PerturbedVAE`, its network, the skorch net that trains it, data
feeding, optimiser steps, checkpoints, multi-GPU training and persistence.

It may use the spectral half (the ``wells`` potential counts wells); the spectral half
never imports it.
"""

from ._estimator import PerturbedVAE  # pickles made before this subpackage name it here

__all__ = ["PerturbedVAE"]
