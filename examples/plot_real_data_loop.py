"""
The loop on real data: wells measured, kept by the embedding, and their dynamics
================================================================================

On scikit-learn's digits (1,797 images of 10 digits), the loop the package is built for:

1. measure the wells of the data (:class:`~perturbvae.SpectralDegeneracy` reads their number
   and groups on the standardised images);
2. perturb the VAE's prior with a potential that has those wells (``perturbation="wells"``);
3. read the wells back from the embedding, with their landscape and the rates between them.

A VAE's KL term pulls its classes together until no valley of the density is left between
them; their neighbourhoods stay apart, and that is what the count reads here
(``count_reading_ == "neighbourhoods"``).
"""

from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from perturbvae import PerturbedVAE, SpectralDegeneracy
from perturbvae.plotting import plot_energy_landscape

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)

# %%
# 1. The wells of the data
# ------------------------
data_wells = SpectralDegeneracy(n_levels=16, random_state=0).fit(X)
print("wells in the data:", data_wells.n_ground_states_,
      f"(read from the {data_wells.count_reading_};",
      "resamples:", data_wells.n_ground_states_resampled_.tolist(), ")")
print("adjusted Rand index of those wells vs the digits:",
      round(adjusted_rand_score(y, data_wells.labels_), 2))

# %%
# 2. An embedding that keeps them
# -------------------------------
# The default ``ladder`` perturbation fixes the axes; ``wells`` also places one well of the
# prior on each group the count found (the same for every seed: the groups come from the
# data and the wells start on the closed-form PCA codes), at most ``Wells(max_wells=10)``
# of them: where the count reads more, the rows are grouped into that many
# (``potential_.n_wells_``).

kw = dict(n_components=10, hidden_layer_sizes=(64,), max_epochs=20, random_state=0)
Z_ladder = PerturbedVAE(**kw).fit_transform(X)
vae = PerturbedVAE(perturbation="wells", **kw).fit(X)
Z_wells = vae.transform(X)
print("wells placed in the prior:", vae.potential_.n_wells_)
for name, Z in (("ladder", Z_ladder), ("wells", Z_wells)):
    km = KMeans(10, n_init=4, random_state=0).fit_predict(Z)
    print(f"{name:6s}: k-means (k = 10) on the embedding, ARI vs the digits",
          round(adjusted_rand_score(y, km), 2))

# %%
# 3. The wells of the embedding and the rates between them
# --------------------------------------------------------
# Read back from the 10-d embedding. Both counts come with a warning that they are
# uncertain (resamples read one or two wells more or fewer), and the first with one that
# three pixels are blank in every image (constant columns, left out). Here the wells are
# ones the neighbourhoods keep apart, with no valley of the density between them: the
# rates are the generator projected onto their memberships (``rates_error_bound_`` is inf),
# best read as which groups touch, not as waiting times.

sd = SpectralDegeneracy(n_levels=16, random_state=0).fit(Z_wells)
print("wells in the embedding:", sd.n_ground_states_, f"({sd.count_reading_})")
print("ARI of its labels vs the digits:", round(adjusted_rand_score(y, sd.labels_), 2))
print(sd.format_wells(precision=2))

# %%
# The landscape, in two dimensions
# --------------------------------
# The energy landscape ``V`` of a 2-d view (the embedding's first two axes) with the number
# of wells given (``n_wells``): a 2-d view of ten classes has no valley for every class, so
# the count alone would read fewer; told the number, the labels, landscape and rates follow.

sd2 = SpectralDegeneracy(n_wells=sd.n_ground_states_, n_levels=16,
                         random_state=0).fit(Z_wells[:, :2])
ax = plot_energy_landscape(sd2, Z_wells[:, :2], labels=y)
