"""Grouping of energy levels into the ground multiplet and degenerate multiplets."""

import numpy as np


def ground_multiplet_size(energies, min_ratio=6.0):
    """Number of levels below the largest relative gap among the lowest levels.

    The relative gap above the levels ``1..k-1`` is ``E[k] / mean(E[1:k])`` (``k >= 2``): the
    next level against the typical splitting of the levels below it. The ground multiplet ends
    below the largest such gap if it exceeds ``min_ratio``, else it is the ground state alone.
    A single Gaussian well gives at most 2 (its ladder ``sum n_j / s_j^2`` goes from ``E1`` to
    at most ``2 E1``, and its mean below only lowers the ratio), a 1-d box (uniform density,
    levels ``n^2``) 4, a ring 4; k separated wells give ratios of order
    ``exp(separation^2 / 8)`` (70 for two unit Gaussians 6 apart, > 1e6 for separated blobs).
    The threshold is 6: on the variable-bandwidth graph the largest ratio of 12 connected shapes
    (Gaussians, ring, uniform interval/square/disk, swiss roll, S-curve; 3 seeds) was 5.0.
    Comparing with the mean rather than with ``E[k-1]`` alone matters when the tunnelling
    splittings of the wells differ: five clusters of a VAE embedding gave
    0, .165, .186, .25, .407 | 1.57: ``1.57 / .407 = 3.9`` but ``1.57 / mean = 6.3``.
    The gap above the exact zero ``E[0]`` is not a relative gap and is not compared.
    """
    E = np.maximum(np.asarray(energies, dtype=float), 0.0)
    if E.size < 3:
        return 1 if E.size else 0
    # Exact and round-off zeros (separated components) are floored at a tiny fraction of the
    # top level, so [0, 0, 1e-12, 5, 6, 7] reads as three zeros and a gap, not as a "gap"
    # between 0 and 1e-12.
    E = np.maximum(E, 1e-9 * E[-1] if E[-1] > 0 else np.finfo(float).tiny)
    below = np.cumsum(E[1:-1]) / np.arange(1, E.size - 1)  # mean(E[1:k]) for k = 2..
    ratios = E[2:] / below
    i = int(np.argmax(ratios))
    if ratios[i] > min_ratio:
        return i + 2
    return 1


def group_levels(energies, n_ground, tol):
    """Index arrays of multiplets: the ground multiplet, then levels within ``tol`` (relative) of
    the lowest level of their multiplet (no chaining, so a dense ladder does not merge)."""
    E = np.asarray(energies, dtype=float)
    groups = [np.arange(n_ground)]
    i = n_ground
    while i < E.size:
        j = i + 1
        while j < E.size and E[j] <= (1.0 + tol) * E[i]:
            j += 1
        groups.append(np.arange(i, j))
        i = j
    return groups
