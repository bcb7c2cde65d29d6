"""Best-first walk over the states of a separable spectrum ``E(q) = sum_j term(j, q_j)``.

The oscillator, the moment-matched Gaussian of the galerkin basis and the Neumann box all have
levels that are sums of per-axis terms increasing in the quantum number. Popping the cheapest
state and pushing its ``d`` successors yields the states in ascending energy while touching only
``O(count d)`` of them: an exhaustive enumeration below a cut-off grows like ``cut^d``.
"""

import heapq
import math
from itertools import islice

import numpy as np


def lowest_states(term, d):
    """Yield ``(energy, q)`` for the states of ``d`` axes in ascending energy.

    ``term(j, n)`` is the energy of ``n`` quanta on axis ``j`` (``term(j, 0) == 0``, increasing in
    ``n``). Ties come in the order of the quantum-number tuples. Every prefix of the sequence is
    closed downwards (with ``q`` it holds ``q - e_j``) when the terms increase strictly.
    """
    start = (0,) * d
    heap, seen = [(0.0, start)], {start}
    while heap:
        e, q = heapq.heappop(heap)
        yield e, q
        for j in range(d):
            nq = q[:j] + (q[j] + 1,) + q[j + 1:]
            if nq not in seen:
                seen.add(nq)
                heapq.heappush(heap, (math.fsum(term(i, n) for i, n in enumerate(nq)), nq))


def oscillator_levels(frequencies, n_levels):
    """Lowest ``n_levels`` energies ``sum_i n_i w_i`` of an anisotropic oscillator.

    The one separable Gaussian ladder of the package: a Gaussian of variances ``s_i^2`` has
    ``w_i = 1 / s_i^2`` (:func:`perturbvae.datasets.gaussian_levels`), the perturbed prior
    ``w_i = 1 + lam c_i / beta``. Exact enumeration in increasing order, degenerate levels
    repeated.

    Parameters
    ----------
    frequencies : array-like of shape (d,)
        Positive frequencies ``w_i``.
    n_levels : int
        How many levels to return.

    Returns
    -------
    ndarray of shape (n_levels,)

    Examples
    --------
    >>> from perturbvae.potentials import oscillator_levels
    >>> oscillator_levels([1.0, 1.0], 6).tolist()
    [0.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    """
    w = np.asarray(frequencies, dtype=np.float64).ravel()
    if w.size == 0 or np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"Oscillator frequencies must be positive and finite; got {frequencies}.")
    states = lowest_states(lambda j, n: n * w[j], w.size)
    return np.asarray([e for e, _ in islice(states, n_levels)])
