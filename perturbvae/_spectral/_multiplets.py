"""Grouping of energy levels into the ground multiplet and degenerate multiplets."""

import numpy as np

# The count's gap: wells move between each other this many times more slowly than inside.
GAP_RATIO = 6.0


def shows_gap(levels, next_level, ratio=GAP_RATIO):
    """Whether ``next_level`` lies ``ratio`` times above the mean of ``levels[1:]`` (the
    ground multiplet's levels, ``levels[0]`` the zero): the wells are still wells."""
    return next_level >= ratio * np.mean(levels[1:])


def ground_multiplet(energies, min_ratio=GAP_RATIO):
    """Size of the ground multiplet and the relative gap that closes it.

    Levels are read upwards from ``E[1]``; the relative gap at ``k`` is
    ``E[k] / mean(E[s:k])``: the next level against the typical splitting of the levels since
    the last gap ``s`` (``s = 1`` at first). Each gap above ``min_ratio`` closes a multiplet, and
    the ground multiplet is everything below the last such gap. Reading the levels since the last
    gap, rather than all levels, counts wells that are metastable on different time scales:
    two clusters almost apart and a third one closer gave ``0, 2.7e-4, 1.9e-2 | 0.44``: the
    largest gap (69, at the second level) alone would say 2, the second gap (23) says 3.
    A single Gaussian well gives at most 2 (its ladder ``sum n_j / s_j^2`` goes from ``E1`` to
    at most ``2 E1``, and its mean below only lowers the ratio), a 1-d box (uniform density,
    levels ``n^2``) 4, a ring 4; k separated wells give ratios of order
    ``exp(separation^2 / 8)`` (70 for two unit Gaussians 6 apart, > 1e6 for separated blobs).
    The threshold is 6: on the variable-bandwidth graph the largest ratio of 12 connected shapes
    (Gaussians, ring, uniform interval/square/disk, swiss roll, S-curve; 3 seeds) was 5.0; with
    no gap above it the scan is the same as one over all levels, so connected shapes read 1.
    Comparing with the mean rather than with ``E[k-1]`` alone matters when the tunnelling
    splittings of the wells differ: five clusters of a VAE embedding gave
    0, .165, .186, .25, .407 | 1.57: ``1.57 / .407 = 3.9`` but ``1.57 / mean = 6.3``.
    The gap above the exact zero ``E[0]`` is not a relative gap and is not compared.

    Returns ``(size, gap)``; for a single level (no gap above ``min_ratio``) ``gap`` is the
    largest ratio seen, how close the spectrum came to a split (``inf`` with fewer than 3 levels).
    """
    E = np.maximum(np.asarray(energies, dtype=float), 0.0)
    if E.size < 3:
        return (1 if E.size else 0), np.inf
    # Exact and round-off zeros (separated components) are floored at a tiny fraction of the
    # top level, so [0, 0, 1e-12, 5, 6, 7] reads as three zeros and a gap, not as a "gap"
    # between 0 and 1e-12.
    E = np.maximum(E, 1e-9 * E[-1] if E[-1] > 0 else np.finfo(float).tiny)
    size, gap, largest, start = 1, np.inf, 0.0, 1
    for k in range(2, E.size):
        ratio = E[k] / E[start:k].mean()
        largest = max(largest, ratio)
        if ratio > min_ratio:
            size, gap, start = k, ratio, k
    return size, (gap if size > 1 else largest)


def ground_multiplet_size(energies, min_ratio=GAP_RATIO):
    """Number of levels in the ground multiplet (see ``ground_multiplet``)."""
    return ground_multiplet(energies, min_ratio)[0]


def group_levels(energies, n_ground, tol):
    """Index arrays of multiplets of ascending ``energies``: the ground multiplet (the first
    ``n_ground`` levels; none if 0), then levels within ``tol`` (relative) of the lowest level
    of their multiplet (no chaining, so a dense ladder does not merge).

    The one rule that groups levels in the package: the estimator's ``multiplets_``, the
    level diagrams of arrays, and the exact multiplicities of :mod:`perturbvae.datasets`.

    Examples
    --------
    >>> [g.tolist() for g in group_levels([0, 1, 1.05, 1.1, 1.15, 1.2], 1, 0.1)]
    [[0], [1, 2, 3], [4, 5]]
    """
    E = np.asarray(energies, dtype=float)
    groups = [np.arange(n_ground)] if n_ground > 0 else []
    i = n_ground
    while i < E.size:
        j = i + 1
        while j < E.size and E[j] <= (1.0 + tol) * E[i]:
            j += 1
        groups.append(np.arange(i, j))
        i = j
    return groups
