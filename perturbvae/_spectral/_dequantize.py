"""Uniform dequantization of rounded or discrete samples.

Rows that repeat unevenly, fewer than half of them distinct, are atoms: the values were
rounded or are discrete; so are any repeated rows where every column lies on a grid of its own
step (scores 1 to 10: 449 distinct rows of 683 read five "wells" of stacked identical rows,
adjusted Rand index -0.08 against the classes where k-means reached 0.84). A graph sees
nearest-neighbour distances of 0 there, and a basis fitted to the atoms reads a density that
is zero between them (on rounded moons or five atoms the well count was wrong). Spreading each
value uniformly over its rounding cell (per column, the smallest gap between its distinct
values) gives the histogram's piecewise-constant density on that grid, whose wells are those
of the data before rounding wherever the cells are smaller than the wells (uniform
dequantization: Theis, van den Oord & Bethge, "A note on the evaluation of generative models",
ICLR 2016).

The noise is a hash of each row's rank in a canonical order and of the column, not a draw
along the rows: the same for any order of the rows (identical rows are interchangeable), and
generated block by block for a dask array without holding all rows.
"""

import numpy as np

from . import _samples as _rows

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


# A column's rounding step is the coarsest grid that all but this share of its values lie on,
# where that is coarser than its smallest gap: sat.act's SAT scores are tens but for 4 % of
# them (26 and 29 of 687 rows), whose smallest gap (1 point) left stacks of tens 9 cells apart.
OFF_GRID_SHARE = 0.05
# Coarser steps tried: the most frequent gaps between a column's values that recur.
_STEP_CANDIDATES = 8
# How far off its grid a value may lie, in cells: standardised scores stored in float32 lie
# 3.4e-6 of a cell off theirs (1e-6 read them as atoms: 5 wells of stacked rows instead of 3).
_GRID_TOL = 1e-3


def grid_steps(distinct):
    """Per column of the distinct rows, the rounding step: the coarsest of the recurring gaps
    between its distinct values on whose grid all but :data:`OFF_GRID_SHARE` of the rows lie,
    else the smallest gap (0 for a constant column, which then stays constant)."""
    steps = np.zeros(distinct.shape[1])
    for j in range(distinct.shape[1]):
        values = np.unique(distinct[:, j])
        if values.size < 2:
            continue
        gaps = np.diff(values)
        steps[j] = gaps.min()
        for step in _recurring_gaps(gaps):
            if step > steps[j] and _share_on_grid(distinct[:, j], step) >= 1.0 - OFF_GRID_SHARE:
                steps[j] = step
                break
    return steps


def _recurring_gaps(gaps):
    """The :data:`_STEP_CANDIDATES` most frequent of the gaps that occur more than once (to
    :data:`_GRID_TOL` of the smallest), coarsest first; none for continuous values."""
    unit = _GRID_TOL * gaps.min()
    keys, first, counts = np.unique(np.round(gaps / unit), return_index=True,
                                    return_counts=True)
    recur = np.flatnonzero(counts > 1)
    order = recur[np.lexsort((-keys[recur], -counts[recur]))][:_STEP_CANDIDATES]
    return np.sort(gaps[first[order]])[::-1]


def _share_on_grid(x, step):
    """The share of the values ``x`` that lie on the grid of ``step`` through the value most
    of them lie on (to :data:`_GRID_TOL` of a cell)."""
    t = (x - x.min()) / step
    frac = t - np.floor(t)
    bins = np.round(frac / _GRID_TOL).astype(np.int64) % int(round(1.0 / _GRID_TOL))
    anchor = np.bincount(bins).argmax() * _GRID_TOL
    off = np.abs(frac - anchor)
    return float(np.mean(np.minimum(off, 1.0 - off) <= _GRID_TOL))


def on_lattice(distinct, steps):
    """Whether every column's distinct values lie on the grid of its own step (all but
    :data:`OFF_GRID_SHARE` of them: integer scores, values rounded to a fixed number of
    decimals, in any units), a grid of no more cells than there are distinct rows: repeated
    rows of such data are rounding, not separate atoms of a continuous density. (The smallest
    gap of continuous values makes a grid of millions of cells, on which the values lie only
    up to round-off.)"""
    for j in np.flatnonzero(steps > 0):
        x = distinct[:, j]
        if np.ptp(x) / steps[j] > len(distinct) or \
                _share_on_grid(x, steps[j]) < 1.0 - OFF_GRID_SHARE:
            return False
    return True


def uniform_hash(keys, seed):
    """Numbers in [0, 1) from integer keys: the SplitMix64 finaliser of ``key + seed``.

    Counter-based: the number of a key does not depend on which other keys are drawn, so a
    row's noise is the same in any block of any size.
    """
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + np.uint64(seed) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def dequantize(Z, order, steps, seed, rank=None):
    """``Z`` with each value moved uniformly within its cell: ``steps * (u - 1/2)``.

    ``u`` is hashed from ``seed``, the row's position in ``order`` (a canonical order of the
    rows) and the column's place among those whose step is not 0; ``rank``, where given, is
    each row's key instead (rows of equal key get equal noise: the copies of a tiled data
    set). A dask array gives a lazy dask
    array of the same blocks.
    """
    if rank is None:
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
    # keyed by the column's place among the columns that move (step > 0): a constant column
    # added, anywhere, left the others' noise alone (it moved 2 of biopsy's 683 labels)
    moves = np.asarray(steps) > 0
    d = max(int(moves.sum()), 1)
    columns = np.where(moves, np.cumsum(moves) - 1, 0).astype(np.uint64)

    def spread(block, block_rank):
        keys = block_rank.reshape(-1, 1).astype(np.uint64) * np.uint64(d) + columns
        return block + steps * (uniform_hash(keys, seed) - 0.5)

    if not _rows.is_dask(Z):
        return spread(Z, rank)
    import dask.array as da

    Z = Z.rechunk({1: -1})
    R = da.from_array(rank.reshape(-1, 1), chunks=(Z.chunks[0], (1,)))
    return da.map_blocks(spread, Z, R, dtype=np.float64, chunks=Z.chunks)
