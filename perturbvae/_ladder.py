"""Best-first walk over the states of a separable spectrum ``E(q) = sum_j term(j, q_j)``.

The oscillator, the moment-matched Gaussian of the galerkin basis and the Neumann box all have
levels that are sums of per-axis terms increasing in the quantum number. Popping the cheapest
state and pushing its ``d`` successors yields the states in ascending energy while touching only
``O(count d)`` of them: an exhaustive enumeration below a cut-off grows like ``cut^d``.
"""

import heapq
import math


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
