"""Rows of the samples, in memory or in a dask array: block-wise maps, reductions, subsamples.

``SpectralDegeneracy.fit`` reads its data only through these functions, so a dask array is
never loaded whole: the sums (mean, covariance, the Gram matrix of the basis) and the per-row
values (radii, eigenfunctions, nearest neighbours) are computed block by block, on the
scheduler dask is configured with (a ``distributed.Client`` if one is active), and only
subsamples and per-row results of a few columns come back as numpy arrays. A numpy array is
cut into blocks of ``rows`` rows in order, as before, so its results do not change.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["is_dask", "check_dask", "lazy_rows", "map_rows", "concat_rows", "sum_rows", "take",
           "mean",
           "variance", "canonical_order", "SampleIndex", "index_samples"]


def is_dask(Z):
    """Whether ``Z`` is a dask array (without importing dask)."""
    return type(Z).__module__.startswith("dask.") and hasattr(Z, "to_delayed")


def check_dask(Z):
    """Validate a dask array as ``validate_data`` does a numpy one; return it as float64.

    The rows are rechunked to full width (one block per row range) and every check that needs
    the values (finite) runs in one pass. Raises ValueError/TypeError naming the problem.
    """
    if Z.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array; got {Z.ndim} dimension(s).")
    if any(np.isnan(c) for c in Z.chunks[0]):
        raise ValueError(
            "The dask array has unknown chunk sizes (rows); call Z.compute_chunk_sizes() first.")
    if np.issubdtype(Z.dtype, np.complexfloating) or not (
            np.issubdtype(Z.dtype, np.number) or Z.dtype == bool):
        raise ValueError(f"Expected a dask array of real numbers; got dtype {Z.dtype}.")
    if Z.shape[1] < 1 or Z.shape[0] < 1:
        raise ValueError(f"Found an array with shape {Z.shape}: at least one sample and one "
                         "feature are required.")
    Z = Z.astype(np.float64)
    if len(Z.chunks[1]) > 1:
        Z = Z.rechunk({1: -1})
    import dask.array as da

    if not bool(da.isfinite(Z).all().compute()):
        raise ValueError("Input Z contains infinity or NaN.")
    return Z


def lazy_rows(func, Z, n_out=None, dtype=np.float64):
    """``func`` mapped lazily over the row blocks of a dask array: a dask array of shape
    ``(n_samples,)`` (``n_out`` None) or ``(n_samples, n_out)``, computed when asked for."""
    Z = Z.rechunk({1: -1})
    if n_out is None:
        return Z.map_blocks(func, drop_axis=1, dtype=dtype)
    return Z.map_blocks(func, dtype=dtype, chunks=(Z.chunks[0], (n_out,)))


def _blocks(Z, rows):
    if is_dask(Z):
        return Z.to_delayed().ravel()
    return [Z[s:s + rows] for s in range(0, Z.shape[0], rows)]


def map_rows(func, Z, rows=65536):
    """``[func(block) for block in row blocks of Z]``, in row order.

    A numpy array is cut into blocks of ``rows`` rows; a dask array keeps its own row blocks,
    which are computed in parallel where the scheduler allows.
    """
    if is_dask(Z):
        import dask

        return list(dask.compute(*[dask.delayed(func)(b) for b in _blocks(Z, rows)]))
    return [func(b) for b in _blocks(Z, rows)]


def concat_rows(func, Z, rows=65536):
    """``func`` applied block by block and its per-row outputs stacked: ``func(Z)`` in pieces."""
    return np.concatenate(map_rows(func, Z, rows), axis=0)


def sum_rows(func, Z, rows=65536):
    """Sum of ``func(block)`` over the row blocks (arrays, numbers or tuples of them)."""
    parts = map_rows(func, Z, rows)
    total = parts[0]
    for p in parts[1:]:
        total = tuple(a + b for a, b in zip(total, p)) if isinstance(total, tuple) else total + p
    return total


def take(Z, idx):
    """The rows ``idx`` of ``Z`` as a numpy array, in the order of ``idx``."""
    idx = np.asarray(idx)
    if not is_dask(Z):
        return Z[idx]
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    order = np.argsort(idx, kind="stable")  # dask gathers sorted indices in one pass
    out = np.empty((idx.size, Z.shape[1]), dtype=Z.dtype)
    out[order] = np.asarray(Z[idx[order]].compute())
    return out


def mean(Z):
    """Column means."""
    return np.asarray(Z.mean(axis=0).compute()) if is_dask(Z) else Z.mean(axis=0)


def variance(Z):
    """Column variances (divided by n)."""
    return np.asarray(Z.var(axis=0).compute()) if is_dask(Z) else Z.var(axis=0)


def canonical_order(Z, radius, coordinates=None, rows=65536, return_repeats=False):
    """Row order that depends on the set of rows, not on their order.

    Rows are sorted by ``radius(block)`` (a per-row value that turns and shifts keep), exact ties
    (duplicates, lattices) by ``coordinates(block)`` (default: the rows themselves); only the
    tied rows are gathered for that. Subsamples drawn by position in this order are the same
    whatever the order of the rows of ``Z``. With ``return_repeats``, also returns a mask over
    the positions of the order: True where a row repeats the one before it (same radius and
    coordinates), so that ``order[~repeats]`` holds each distinct row once.
    """
    r = concat_rows(radius, Z, rows)
    order = np.argsort(r, kind="stable")
    rs = r[order]
    eq = rs[1:] == rs[:-1]
    repeats = np.zeros(len(r), dtype=bool)
    if eq.any():
        tied = np.zeros(len(r), dtype=bool)  # every member of every tie
        tied[1:] |= eq
        tied[:-1] |= eq
        rows_tied = order[tied]
        X = take(Z, rows_tied)
        if coordinates is not None:
            X = coordinates(X)
        keys = np.zeros((len(r), X.shape[1]))  # rows without a tie never reach these keys
        keys[rows_tied] = X
        order = np.lexsort((*keys.T[::-1], r))
        k = keys[order]
        repeats[1:] = (r[order][1:] == r[order][:-1]) & np.all(k[1:] == k[:-1], axis=1)
    return (order, repeats) if return_repeats else order


# --------------------------------------------------------------------- sample index
# Rows per evaluation of the canonical order's radius.
_ORDER_ROWS = 65536


@dataclass
class SampleIndex:
    """How the rows of ``Z`` are read: a canonical order, the rows subsamples are drawn
    from, the effective sample size, and whether the values are atoms (rounded or discrete,
    with their per-column rounding ``steps``).

    A data set repeated k times (``np.tile``: every row of it k times, so every row's
    multiplicity a multiple of k) has the density of the data set: subsamples are drawn from
    the data set's rows, and sample-size choices (basis budget, shrinkage,
    ``degeneracy_tol``) see their number. Any other repeats keep every row: a group of
    identical rows is an atom of the density, a well of its own. Fewer than half the data
    set's rows distinct are atoms. ``distinct`` holds the index of each distinct row once;
    ``multiplicity`` is k when ``tiled`` (1 otherwise); ``largest_repeat`` is the most
    copies of one row in the data set (after the tiling). ``noise_rank`` is each row's key
    for the rounding noise of :func:`~._dequantize.dequantize`: its position in ``order``,
    except that the copies of a data set stacked k times share the keys of the data set's
    rows (each row's multiplicity a multiple of k), so that rounded data tiled are spread
    as k copies of the data set spread, and read as the data set.
    """

    order: np.ndarray
    sample_order: np.ndarray
    n_eff: int
    atoms: bool
    tiled: bool
    distinct: np.ndarray
    multiplicity: int
    largest_repeat: int = 1
    noise_rank: np.ndarray = None

    def subsample(self, m, rs):
        """``m`` row indices drawn by ``rs`` from the sample order (all if ``m >= n``)."""
        n = len(self.sample_order)
        if m >= n:
            return self.sample_order
        return self.sample_order[np.sort(rs.choice(n, m, replace=False))]


def index_samples(Z):
    """The :class:`SampleIndex` of ``Z``: canonical order by Mahalanobis distance to the mean
    (invertible affine maps keep it: units, turns and shifts draw the same rows), ties by
    coordinates, so that any permutation of the rows draws the same subsamples."""
    order, repeats = canonical_order(Z, _mahalanobis_radius(Z), rows=_ORDER_ROWS,
                                     return_repeats=True)
    n = len(order)
    first = np.flatnonzero(~repeats)
    mult = np.diff(np.append(first, n))
    # stacked g times (np.tile of a data set that may repeat rows of its own): every
    # multiplicity a multiple of g, and the data set is each row mult / g times
    g = int(np.gcd.reduce(mult))
    atoms = first.size <= 0.5 * n / g
    # the rounding noise's keys: the data set's ranks, the same for each of its g copies
    # (rounded data tiled, spread with a key per row, read 9 wells where the data set read 2)
    copy = np.arange(n) - np.repeat(first, mult)
    noise_rank = np.empty(n, dtype=np.int64)
    noise_rank[order] = np.repeat(first // g, mult) + copy % np.repeat(mult // g, mult)
    tiled = g > 1 and not atoms
    if tiled:  # the first mult / g copies of each distinct row
        sample_order = order[copy < np.repeat(mult // g, mult)]
    else:
        sample_order, g = order, 1
    return SampleIndex(order, sample_order, len(sample_order), atoms, tiled, order[first], g,
                       int(mult.max(initial=1)) // g, noise_rank)


def _mahalanobis_radius(Z):
    """Per-row squared Mahalanobis distance to the mean of ``Z``, as a function of a block.

    The covariance's null directions (constant columns) are left out. Each row's value is
    summed column by column in a fixed order, not by a matrix product, whose rounding can
    depend on where the row sits in the block: identical rows must get identical values to
    be found as repeats.
    """
    centre = mean(Z)
    n = Z.shape[0]
    cov = sum_rows(lambda X: (X - centre).T @ (X - centre), Z, _ORDER_ROWS) / n
    sd = np.sqrt(np.diag(cov))  # in unit-variance columns: tiny units are not null
    cols = np.flatnonzero(sd > 0)
    w, U = np.linalg.eigh(cov[np.ix_(cols, cols)] / np.outer(sd[cols], sd[cols]))
    keep = w > 1e-12 * max(w.max(), np.finfo(float).tiny)
    M = np.zeros((Z.shape[1], int(keep.sum())))
    M[cols] = U[:, keep] / np.sqrt(w[keep]) / sd[cols, None]

    def radius(X):
        Y = np.zeros((X.shape[0], M.shape[1]))
        for j in range(X.shape[1]):
            Y += (X[:, j] - centre[j])[:, None] * M[j]
        return np.sum(Y**2, axis=1)

    return radius
