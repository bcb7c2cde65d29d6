"""
Spectrum and energy landscape of clustered data
===============================================

:class:`~perturbvae.SpectralDegeneracy` reads the density ``p`` of a point cloud as the
ground state ``psi0 = sqrt(p)`` of a Hamiltonian ``H = -Lap + V``. A density made of ``k``
well-separated clusters is a potential with ``k`` wells: tunnelling between them is
exponentially weak, so ``H`` has ``k`` almost equal lowest energies (the ground multiplet)
and then a gap. The size of the ground multiplet counts the clusters, without being told
how many there are.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from perturbvae import SpectralDegeneracy
from perturbvae.plotting import plot_energy_landscape, plot_spectrum

Z, y = make_blobs(n_samples=1500, centers=4, cluster_std=0.6, center_box=(-6, 6),
                  random_state=3)
sd = SpectralDegeneracy(n_levels=10, random_state=0).fit(Z)
print("method:", sd.method_)
print("energies:", np.round(sd.energies_, 3))
print("degeneracies:", sd.degeneracies_)
print("clusters found (n_ground_states_):", sd.n_ground_states_)

# %%
# The level diagram
# -----------------
# Four levels near 0, then a gap: four wells. Above the gap come the motions inside the
# wells (each a 2-d Gaussian of width 0.6, whose first levels lie near 1 / 0.6^2 = 2.8),
# as far as the ten levels solved reach. (The fit also warns that no sample reaches the
# barriers between the clusters: its rates, not used here, are extrapolations.)

ax = plot_spectrum(sd)
ax.set_title(f"Ground multiplet of {sd.n_ground_states_} levels: {sd.n_ground_states_} wells")

# %%
# The energy landscape
# --------------------
# ``sd.potential(Z)`` is ``V = Lap psi0 / psi0`` of the fitted density: low where the data
# are dense, high between the clusters. Light basins are the wells (the title counts them);
# the pale sand colour covers the area with too few data to read ``V`` (here most of the
# grid, the gaps between the clusters included). The colour scale is clipped at the 60 %
# quantile of ``V`` over the grid points not covered, since ``V`` grows steeply far from
# the data.

ax = plot_energy_landscape(sd, Z, labels=y, clip_quantile=0.6)
plt.show()
