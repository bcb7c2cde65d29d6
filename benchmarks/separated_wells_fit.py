"""One fit of eight separated Gaussian blobs in 2-d: the case whose rates' error bound is
inf (no sample visits the barriers), timed as a whole process with ``farm-bench`` against
another checkout (see benchmarks/README.md, "Separated wells")."""

import warnings

import numpy as np

from perturbvae import SpectralDegeneracy

if __name__ == "__main__":
    warnings.simplefilter("ignore")  # the unvisited barriers are said; the timing is the point
    rng = np.random.default_rng(0)
    k, gap = 8, 6.0
    angles = 2 * np.pi * np.arange(k) / k
    centres = gap * np.c_[np.cos(angles), np.sin(angles)] / (2 * np.sin(np.pi / k))
    Z = centres[rng.integers(0, k, 4000)] + 0.7 * rng.standard_normal((4000, 2))
    SpectralDegeneracy(random_state=0).fit(Z)
