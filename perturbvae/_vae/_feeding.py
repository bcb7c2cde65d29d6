"""Training rows that stay in host memory and reach the device in large blocks.

The default placement copies all training rows to the device once and slices
batches from them. Rows that do not fit there (``data_placement="stream"``, or
``"auto"`` on a GPU whose free memory is too small) stay where they are (a
numpy array or memmap, float32 or float64) and travel in blocks of a few tens
of MiB:

- each epoch draws the same permutation as the in-memory path (the same
  generator), cuts it into blocks of a whole number of batches, gathers each
  block's rows on the host and copies the block to the device;
- on CUDA the gather goes into a pinned staging buffer in a worker thread and
  the copy runs on a side stream, so block ``k + 1`` is gathered and copied
  while block ``k`` trains (two pinned and two device buffers, reused); the
  compute stream waits on the copy's event, never the host;
- on the CPU a block is a plain gather.

The batches are the in-memory path's batches, row for row, so under the same
``random_state`` the model sees the same data in the same order. Memory beyond
the model is two blocks, whatever the number of rows.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

__all__ = ["HostRows", "BlockBatchIterator", "choose_placement", "training_dataset"]

# Target size of one block of float32 rows: large enough for full-speed
# host-to-device copies, small enough that two of them are negligible memory.
BLOCK_BYTES = 64 * 2**20
# "auto" keeps the rows on the device while two float32 copies (the rows and
# an epoch's shuffled copy) take at most this fraction of its free memory.
DEVICE_FRACTION = 0.5


class HostRows(torch.utils.data.Dataset):
    """Rows ``source[rows]`` of a host array, read block by block while training.

    ``rows`` (an index array, or None for all rows) selects a subset without
    copying the data, e.g. the training part of an early-stopping split.
    """

    def __init__(self, source, rows=None):
        self.source = source
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self):
        return self.source.shape[0] if self.rows is None else len(self.rows)

    def __getitem__(self, i):  # only for tools that index a dataset one row at a time
        j = i if self.rows is None else self.rows[i]
        return torch.as_tensor(np.asarray(self.source[j], dtype=np.float32)), torch.zeros(0)


def choose_placement(placement, n_rows, n_features, device):
    """``"device"`` or ``"stream"`` for the training rows (see the module docstring)."""
    if placement != "auto":
        return placement
    device = torch.device(device)
    if device.type != "cuda":
        return "device"  # host memory is where the rows already are
    free, _ = torch.cuda.mem_get_info(device)
    need = 2 * n_rows * n_features * 4
    return "device" if need <= DEVICE_FRACTION * free else "stream"


def block_rows_for(batch_size, n_features, n_rows):
    """Rows per block: a whole number of batches of about ``BLOCK_BYTES``."""
    per_block = max(1, BLOCK_BYTES // (4 * max(1, n_features)))
    n_batches = min(max(1, per_block // batch_size), max(1, math.ceil(n_rows / batch_size)))
    return n_batches * batch_size


class BlockBatchIterator:
    """Mini-batches of a :class:`HostRows` dataset, through device blocks.

    Batch ``b`` of an epoch holds the same rows as batch ``b`` of the
    in-memory path (``TensorBatchIterator``) under the same generator state.
    """

    def __init__(self, data, batch_size, shuffle, device, generator=None, block_rows=None):
        self.data, self.batch_size, self.shuffle = data, int(batch_size), shuffle
        self.device, self.generator = torch.device(device), generator
        n, p = len(data), data.source.shape[1]
        self.block_rows = block_rows or block_rows_for(self.batch_size, p, n)
        if self.block_rows % self.batch_size:
            raise ValueError("block_rows must be a multiple of batch_size.")

    def __len__(self):
        return math.ceil(len(self.data) / self.batch_size)

    def _order(self):
        """Row indices of the source in this epoch's order."""
        n = len(self.data)
        if self.shuffle:
            # The in-memory path's draw: the same generator call, the same order.
            order = torch.randperm(n, generator=self.generator).numpy()
        else:
            order = np.arange(n)
        return order if self.data.rows is None else self.data.rows[order]

    def __iter__(self):
        order = self._order()
        starts = range(0, len(order), self.block_rows)
        blocks = (order[s:s + self.block_rows] for s in starts)
        stage = _CudaStager if self.device.type == "cuda" else _HostStager
        with stage(self.data.source, self.block_rows, self.device) as stager:
            for block in stager.blocks(blocks):
                for s in range(0, block.shape[0], self.batch_size):
                    yield block[s:s + self.batch_size], None


def _gather(source, idx, out):
    """``out[:len(idx)] = float32(source[idx])``, for any numpy array or memmap."""
    n = len(idx)
    if source.dtype == np.float32:
        # straight into the (pinned) buffer; mode="clip" skips numpy's extra buffering
        np.take(source, idx, axis=0, out=out[:n].numpy(), mode="clip")
    else:
        out[:n].copy_(torch.from_numpy(np.take(source, idx, axis=0).astype(np.float32)))
    return out[:n]


class _HostStager:
    """CPU: each block gathered into one reused buffer."""

    def __init__(self, source, block_rows, device):
        self.source = source
        self.buf = torch.empty((block_rows, source.shape[1]), dtype=torch.float32)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def blocks(self, index_blocks):
        for idx in index_blocks:
            # A fresh tensor per block would also work; one buffer bounds memory.
            yield _gather(self.source, idx, self.buf)


class _CudaStager:
    """CUDA: gather into pinned memory in a thread, copy on a side stream, double-buffered."""

    def __init__(self, source, block_rows, device):
        p = source.shape[1]
        self.source, self.device = source, device
        self.pinned = [torch.empty((block_rows, p), dtype=torch.float32, pin_memory=True)
                       for _ in range(2)]
        self.dev = [torch.empty((block_rows, p), dtype=torch.float32, device=device)
                    for _ in range(2)]
        self.copy_stream = torch.cuda.Stream(device)
        self.copied = [None, None]   # event: block copied out of pinned[j] into dev[j]
        self.consumed = [None, None]  # event: compute on dev[j] finished
        self.pool = ThreadPoolExecutor(max_workers=1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True)
        return False

    def _stage(self, idx, j):
        if self.copied[j] is not None:
            self.copied[j].synchronize()  # pinned[j] free again (waits on the copy stream only)
        n = len(idx)
        _gather(self.source, idx, self.pinned[j])
        with torch.cuda.stream(self.copy_stream):
            if self.consumed[j] is not None:
                self.copy_stream.wait_event(self.consumed[j])  # dev[j] no longer read
            self.dev[j][:n].copy_(self.pinned[j][:n], non_blocking=True)
            event = torch.cuda.Event()
            event.record(self.copy_stream)
        self.copied[j] = event
        return n

    def blocks(self, index_blocks):
        it = iter(index_blocks)
        first = next(it, None)
        if first is None:
            return
        pending, j = self.pool.submit(self._stage, first, 0), 0
        compute = torch.cuda.current_stream(self.device)
        while pending is not None:
            n = pending.result()
            nxt = next(it, None)
            # Block k+1 goes to the other buffers, whose last reader (block k-1)
            # has recorded its event: it is gathered and copied while k trains.
            pending = None if nxt is None else self.pool.submit(self._stage, nxt, 1 - j)
            compute.wait_event(self.copied[j])
            yield self.dev[j][:n]
            event = torch.cuda.Event()
            event.record(compute)
            self.consumed[j] = event
            j = 1 - j


def training_dataset(X, rows, placement, device):
    """The training (or validation) rows ``X[rows]`` as a dataset for :class:`VAENet`.

    ``"device"``: one float32 tensor on ``device`` (``TensorData``);
    ``"stream"``: :class:`HostRows`, no copy of ``X``.
    """

    if placement == "stream":
        return HostRows(X, rows)
    part = X if rows is None else X[rows]
    tensor = torch.as_tensor(np.ascontiguousarray(part, dtype=np.float32))
    return TensorData(tensor.to(device))


class TensorData(torch.utils.data.Dataset):
    """A dataset that is one tensor, already on the training device."""

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, i):
        return self.X[i], torch.zeros(0)


class TensorBatchIterator:
    """Mini-batches as slices of a (re-shuffled each epoch) device tensor."""

    def __init__(self, X, batch_size, shuffle, generator=None):
        self.X, self.batch_size, self.shuffle, self.generator = X, batch_size, shuffle, generator

    def __len__(self):
        return math.ceil(self.X.shape[0] / self.batch_size)

    def __iter__(self):
        X = self.X
        if self.shuffle:
            perm = torch.randperm(X.shape[0], generator=self.generator).to(X.device)
            X = X[perm]  # one gather per epoch, then contiguous slices
        for start in range(0, X.shape[0], self.batch_size):
            yield X[start:start + self.batch_size], None
