"""Out-of-core training: ``partial_fit`` over chunks that are read one at a time."""

import mmap
from numbers import Integral

import numpy as np

from .._spectral._samples import is_dask

__all__ = ["fit_chunks", "iter_chunks"]

# Rows per block when a numpy array or memmap is given without chunk_rows:
# 2**16 rows of 64 float32 features is 16 MiB.
_DEFAULT_CHUNK_ROWS = 65536


def _release_pages(block):
    """Unmap the pages of a memmap block that was just read (RSS stays bounded).

    Reading a memmap maps its pages into the process: without this, resident
    memory grows to the size of the file (the pages are reclaimable cache, but
    they count as the process's RSS). The data stay in the file and the OS page
    cache; reading the block again maps them again.
    """
    mm = getattr(block, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    try:
        base = np.frombuffer(mm, dtype=np.uint8).ctypes.data
        lo = block.ctypes.data - base
        hi = lo + block.nbytes
        page = mmap.PAGESIZE
        lo = (lo // page) * page
        mm.madvise(mmap.MADV_DONTNEED, lo, min(len(mm), hi) - lo)
    except (ValueError, OSError, BufferError):  # pragma: no cover - best effort
        pass


def _row_groups(sizes):
    """Consecutive block indices, grouped so that every group holds at least 2 rows."""
    groups, current, rows = [], [], 0
    for i, size in enumerate(sizes):
        current.append(i)
        rows += size
        if rows >= 2:
            groups.append(current)
            current, rows = [], 0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def iter_chunks(chunks, chunk_rows=None):
    """Yield the chunks of ``chunks`` as in-memory numpy arrays, one at a time.

    Parameters
    ----------
    chunks : callable, list or tuple of arrays, numpy array/memmap, or dask array
        - a callable with no arguments that returns an iterable of 2-D arrays
          (called once per pass, so a generator function gives a fresh pass);
        - a list or tuple of 2-D arrays (array-likes), in order;
        - a numpy array or :class:`numpy.memmap`: read in blocks of
          ``chunk_rows`` rows (only one block is in memory at a time);
        - a :class:`dask.array.Array`: its row blocks (``X.blocks[i]``),
          rechunked to full width, each computed when it is reached (a block of
          fewer than 2 rows joins the next, or the last one the previous).
    chunk_rows : int, default=None
        Block size for numpy arrays and memmaps (default 65536 rows). Ignored
        otherwise; rechunk a dask array to change its blocks.

    Yields
    ------
    chunk : ndarray of shape (n_rows, n_features)
    """
    if is_dask(chunks):
        X = chunks
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D dask array; got {X.ndim} dimensions.")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})  # one block per row range, all the columns
        for group in _row_groups(X.chunks[0]):
            # a block of fewer than 2 rows joins the next (the last such block the
            # previous), as a 1-row tail of an array does: a first block, and every block
            # with early stopping, needs 2 rows
            blocks = [np.asarray(X.blocks[i].compute()) for i in group]
            yield blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return
    if isinstance(chunks, np.ndarray):
        if chunks.ndim != 2:
            raise ValueError(f"Expected a 2-D array; got {chunks.ndim} dimensions.")
        step = _DEFAULT_CHUNK_ROWS if chunk_rows is None else int(chunk_rows)
        if step < 1:
            raise ValueError(f"chunk_rows must be >= 1; got {chunk_rows!r}.")
        n = chunks.shape[0]
        starts = list(range(0, n, step))
        if len(starts) > 1 and n - starts[-1] < 2:
            starts.pop()  # a 1-row tail cannot be fitted alone: join it to the last block
        for i, start in enumerate(starts):
            stop = starts[i + 1] if i + 1 < len(starts) else n
            block = chunks[start:stop]
            out = np.array(block)  # a copy: the process holds one block at a time
            _release_pages(block)
            yield out
        return
    if callable(chunks):
        yield from chunks()
        return
    if isinstance(chunks, (list, tuple)):  # read again on each pass, as a callable is
        yield from chunks
        return
    raise TypeError(
        "chunks must be a callable returning an iterable of arrays, a list or tuple of "
        f"arrays, a numpy array or memmap, or a dask array; got {type(chunks).__name__}."
        + (" (A generator or iterator can be read only once: pass the function that makes "
           "it.)" if hasattr(chunks, "__next__") else "")
    )


def fit_chunks(estimator, chunks, n_epochs=1, *, chunk_rows=None):
    """Train ``estimator`` by ``partial_fit`` over chunks, without loading all the data.

    Each pass calls ``estimator.partial_fit(chunk)`` once per chunk, in order;
    each call trains one epoch over that chunk. A fresh estimator initialises
    itself from the first chunk (for :class:`~perturbvae.PerturbedVAE` with
    ``init="pca"``, the closed-form start is computed from the first chunk: make
    it representative, e.g. shuffle the rows when writing the file).

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        Trained in place (not cloned).
    chunks : callable, list or tuple of arrays, numpy array/memmap, or dask array
        - a callable with no arguments that returns an iterable of 2-D arrays,
          called once per pass (a generator function gives a fresh pass; a
          generator itself, which can be read only once, is refused with a
          ``TypeError``);
        - a list or tuple of 2-D arrays (array-likes), read in order on each pass;
        - a numpy array or :class:`numpy.memmap`: read in blocks of
          ``chunk_rows`` rows (only one block is in memory at a time);
        - a dask array: its row blocks, each computed when it is reached (a
          block of fewer than 2 rows joins the next, or the last one the
          previous).
    n_epochs : int, default=1
        Number of passes over all the chunks.
    chunk_rows : int, default=None
        Rows per block for numpy arrays and memmaps (None: 65536). Ignored
        otherwise; rechunk a dask array to change its blocks.

    Returns
    -------
    estimator
        The same object, trained.

    Raises
    ------
    Exception
        Whatever ``partial_fit`` raises on a chunk (the same type), with a message that
        names the chunk and the pass. Each ``partial_fit`` leaves the estimator as it was
        before that call, so the estimator holds the training of the chunks before the
        failing one (for a fresh estimator that fails on the first chunk: unfitted).

    Examples
    --------
    >>> import numpy as np
    >>> from perturbvae import PerturbedVAE, fit_chunks
    >>> X = np.random.RandomState(0).normal(size=(600, 5)).astype(np.float32)
    >>> vae = PerturbedVAE(n_components=2, hidden_layer_sizes=(8,), random_state=0)
    >>> vae = fit_chunks(vae, X, n_epochs=2, chunk_rows=200)
    >>> vae.n_epochs_  # one epoch per chunk and pass
    6
    """
    if not isinstance(n_epochs, Integral) or isinstance(n_epochs, bool) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive integer; got {n_epochs!r}.")
    if not hasattr(estimator, "partial_fit"):
        raise TypeError(f"{type(estimator).__name__} has no partial_fit method.")
    for epoch in range(int(n_epochs)):
        n_seen = 0
        for chunk in iter_chunks(chunks, chunk_rows):
            try:
                estimator.partial_fit(chunk)
            except Exception as exc:
                named = _naming_the_chunk(exc, n_seen, epoch, n_epochs)
                if named is exc:
                    raise
                raise named from exc
            n_seen += 1
        if n_seen == 0:
            raise ValueError("chunks yielded no data.")
    return estimator


def _naming_the_chunk(exc, index, epoch, n_epochs):
    """``exc`` with the failing chunk named first (same type where it can be rebuilt)."""
    where = f"chunk {index} (counting from 0) of pass {epoch + 1} of {n_epochs}"
    text = (f"fit_chunks stopped at {where}: {exc} The estimator keeps the training "
            f"of the chunks before it.")
    try:
        new = type(exc)(text)
    except Exception:  # noqa: BLE001 - an exception type that needs other arguments
        exc.add_note(f"fit_chunks stopped at {where}.")
        return exc
    return new
