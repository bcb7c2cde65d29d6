"""Grouping of energy levels into the ground multiplet and degenerate multiplets."""

import numpy as np


def ground_multiplet_size(energies, min_ratio=4.0):
    """Number of levels below the largest relative gap among the lowest levels.

    The relative gap above level ``i >= 1`` is ``E[i+1] / E[i]``; the ground multiplet ends
    below the largest one if that ratio exceeds ``min_ratio``, else it is the ground state
    alone. A single well gives ratios of at most 2 (the ladder ``n / s_j^2`` of a Gaussian: from
    ``E1`` to ``2 E1`` at most), k separated wells ``E[k] / E[k-1]`` of order
    ``exp(separation^2 / 8)`` (70 for two unit Gaussians 6 apart, > 1e6 for separated blobs).
    The gap above the exact zero ``E[0]`` is not a relative gap and is not compared.
    """
    E = np.maximum(np.asarray(energies, dtype=float), 0.0)
    if E.size < 3:
        return 1 if E.size else 0
    tiny = np.finfo(float).tiny
    ratios = E[2:] / np.maximum(E[1:-1], tiny * 1e10)
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
