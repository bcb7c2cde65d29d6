"""
Wells as clusters, and the rates between them
=============================================

The density ``p`` of an embedding is the stationary law of the Langevin diffusion
``dz = grad log p dt + sqrt(2) dW``: a point drifts towards dense regions and jitters. In a
density with several wells it stays in one well for a long time and now and then hops to
another. :class:`~perturbvae.SpectralDegeneracy` reads the wells (clusters) and the rates of
those hops from the lowest energies of its spectrum, without simulating anything; ``simulate``
then runs the diffusion so that the hops can be watched.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from perturbvae import SpectralDegeneracy
from perturbvae.plotting import plot_well_rates

# Three clusters; the two at the bottom (y = 0) are closer to each other than to the third,
# so hops between them are more frequent.
Z, y = make_blobs(n_samples=[400, 400, 300], centers=[[-3, 0], [2, 0], [0, 6]],
                  cluster_std=1.0, random_state=0)
sd = SpectralDegeneracy(bandwidth=0.4, random_state=0).fit(Z)
print("wells found:", sd.n_ground_states_)
print("adjusted Rand index of the wells vs the true clusters:",
      round(adjusted_rand_score(y, sd.labels_), 3))
print(sd.format_wells())

# %%
# The wells and the rates on the landscape
# ----------------------------------------
# Each well is marked at the mean of the points weighted by their membership in it, with its
# weight (the fraction of time the diffusion spends there); the arrows carry the rates of
# ``rate_matrix_`` in both directions, per unit time of the diffusion. The rates obey
# detailed balance: ``weight_i * rate_ij = weight_j * rate_ji``. The fit warns that no
# sample lies on the barrier between the top well and the bottom pair: the rates across it
# are the landscape's extrapolation of the wells' tails (``rates_error_bound_`` is inf),
# close for Gaussian clusters like these, and not a measurement.

ax = plot_well_rates(sd, Z, grid_size=60, clip_quantile=0.6)

# %%
# Watching the hops
# -----------------
# A few walkers started in the well of the first point, simulated with the fitted score
# ``grad log p``. ``predict``
# tells the well of each frame; ``mean_first_passage_times_`` says how long, on average, a
# walker waits before it first reaches each other well: a mean over many walkers, while a
# few walkers in a short run can reach a far well early or flicker into it for a frame
# near the boundary between the wells.

start = np.flatnonzero(sd.labels_ == sd.predict(Z[:1])[0])[:4]
traj = sd.simulate(Z[start], n_steps=6000, dt=0.01, random_state=0, stride=10)
wells = sd.predict(traj.reshape(-1, 2)).reshape(len(start), -1)
t = np.arange(wells.shape[1]) * 10 * 0.01
fig, ax = plt.subplots(figsize=(6, 2.6), layout="constrained")
for i, w in enumerate(wells):
    ax.step(t, w + 0.08 * i, where="post", lw=1)
ax.set_yticks(range(sd.n_ground_states_))
ax.set_xlabel("time (units of the diffusion)")
ax.set_ylabel("well")
mfpt = sd.mean_first_passage_times_[sd.predict(Z[:1])[0]]
ax.set_title("mean first passage times from the start well: "
             + ", ".join(f"{m:.0f}" for m in mfpt))
plt.show()
