"""States that hold a density peak of their own: the neighbourhood reading's wells.

A well is a dense region: inside it the density rises above where it meets the other wells.
The neighbourhood graph's slow modes also find sets that are not: the tails of a heavy-tailed
cloud run out in thin arms whose random walk returns slowly to the core, so a single
Student-t(1) cloud in 5-d read 10 or 11 wells. Such an arm is densest where it joins the
core: its densest point is its highest point of contact with another state. Over 214 such
states (all but the densest of single t(1), t(1.5) and t(2) clouds, 5-d and 8-d, 1,000 and
2,000 points, three seeds; pilots and resamples) the median rise was 0, 85 % rose at most
0.1 and 99 % at most 0.58 (in log density).

The prominence of a state is read as in ToMATo (Chazal et al. 2013) on the k-nearest-
neighbour graph: its highest log density minus the highest level at which an edge joins it to
another state (an edge's level is its lower end's). States below :data:`MIN_PROMINENCE` are
merged, least prominent first, into the state they touch highest, and the prominences read
again.
"""

import numpy as np

# Log density from the rms distance to this many nearest others (the density graph's scale
# neighbourhood, _graph.K_SCALE).
DENSITY_NEIGHBORS = 16
# Least rise of a well above its contacts, in log density: what tells a peak from none. The
# classes real embeddings hold can rise little more (pilots and resamples: digits' 64 columns
# 0-6.1, its PCA-10 0.02-3.8, PerturbedVAE-10 at three seeds 0.19-4.2, wine 1.7 and up), so the
# threshold stays at the noise of a structural zero: at 0.5 one of digits' PerturbedVAE-10
# classes fell below it on one resample at two seeds of three (an uncertain count, warned,
# where every resample had agreed). At 0.1: one well on 19 of 30 single t(1)-t(2) clouds (5-d
# and 8-d, seeds 0-4; none before), 2-3 on the others (10 of 11 warned; 2-11 before); 2-4
# heavy-tailed clusters in 5-d (t(1)-t(5), 8 and 16 apart, 1,000 points, 2 seeds) right 59 of
# 60 times (54 before), mean ARI 0.815 -> 0.819; digits' 64 columns 13 -> 12 wells (ARI 0.75),
# its PCA-10 11 -> 9 (0.61 -> 0.65); PerturbedVAE-10, wine and the spectral validation the same.
MIN_PROMINENCE = 0.1


def log_density(dist, dim):
    """Log density (up to a constant) at points whose sorted distances to their nearest
    others are ``dist``, in ``dim`` dimensions (the local dimension: ratios of distances, so
    the prominences do not depend on units)."""
    r = np.sqrt(np.mean(dist[:, :DENSITY_NEIGHBORS] ** 2, axis=1))
    return -dim * np.log(np.maximum(r, np.finfo(float).tiny))


def prominences(graph, labels, logq):
    """Each state's highest log density minus its highest contact with another state (inf
    where it touches none), and each pair's contact level, for states ``labels``
    (``0..k-1``) of the points of the symmetric ``graph`` with log densities ``logq``."""
    k = int(labels.max()) + 1
    C = graph.tocoo()
    a, b = labels[C.row], labels[C.col]
    cross = a != b
    contact = np.full((k, k), -np.inf)
    np.maximum.at(contact, (a[cross], b[cross]),
                  np.minimum(logq[C.row], logq[C.col])[cross])
    peak = np.full(k, -np.inf)
    np.maximum.at(peak, labels, logq)
    return peak - contact.max(axis=1), contact


def merge_shoulders(graph, labels, logq, min_prominence=MIN_PROMINENCE):
    """The states ``labels`` with those below ``min_prominence`` merged, least prominent
    first, into the state each touches highest (see :func:`prominences`); returned as
    ``0..k'-1`` in the order of the states kept."""
    labels = np.unique(labels, return_inverse=True)[1]
    while labels.max() > 0:
        prom, contact = prominences(graph, labels, logq)
        s = int(np.argmin(prom))
        if prom[s] >= min_prominence:
            break
        labels = np.where(labels == s, int(np.argmax(contact[s])), labels)
        labels = np.unique(labels, return_inverse=True)[1]
    return labels
