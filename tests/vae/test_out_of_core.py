"""Out-of-core training: partial_fit over chunks read one at a time (fit_chunks)."""

import numpy as np
import pytest

from perturbvae import PerturbedVAE, fit_chunks
from perturbvae._vae._chunks import iter_chunks


def _vae():
    return PerturbedVAE(n_components=2, hidden_layer_sizes=(8,), batch_size=50,
                        device="cpu", random_state=0)


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return (rng.normal(size=(500, 6)) * [3, 2, 1, 0.5, 0.3, 0.1]).astype(np.float32)


def _in_memory(X, bounds, n_epochs=1):
    vae = _vae()
    for _ in range(n_epochs):
        for a, b in bounds:
            vae.partial_fit(X[a:b])
    return vae


BOUNDS = [(0, 200), (200, 400), (400, 500)]


def _same(a, b, X):
    assert a.n_epochs_ == b.n_epochs_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_generator_of_arrays(X):
    def chunks():
        for a, b in BOUNDS:
            yield X[a:b]

    _same(fit_chunks(_vae(), chunks, n_epochs=2), _in_memory(X, BOUNDS, 2), X)


def test_list_of_arrays(X):
    # a list is read again on each pass: it was refused with a message about generators
    chunks = [X[a:b] for a, b in BOUNDS]
    _same(fit_chunks(_vae(), chunks, n_epochs=2), _in_memory(X, BOUNDS, 2), X)
    _same(fit_chunks(_vae(), tuple(chunks)), _in_memory(X, BOUNDS), X)


def test_memmap(tmp_path, X):
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    vae = fit_chunks(_vae(), mm, chunk_rows=200)
    _same(vae, _in_memory(X, BOUNDS), X)
    # transform of a memmap streams in batches and equals the in-memory result
    np.testing.assert_array_equal(vae.transform(mm), vae.transform(X))


def test_dask_array(X):
    da = pytest.importorskip("dask.array")
    dX = da.from_array(X, chunks=((200, 200, 100), (3, 3)))  # column blocks are joined
    _same(fit_chunks(_vae(), dX), _in_memory(X, BOUNDS), X)


def test_iter_chunks_tail_and_errors(X):
    sizes = [len(c) for c in iter_chunks(X[:401], chunk_rows=200)]
    assert sizes == [200, 201]  # a 1-row tail joins the previous block
    with pytest.raises(TypeError, match="callable.*can be read only once"):
        list(iter_chunks(iter([X])))
    with pytest.raises(TypeError, match="callable") as err:
        list(iter_chunks({"a": X}))
    assert "read only once" not in str(err.value)  # a dict is no generator
    with pytest.raises(ValueError, match="no data"):
        fit_chunks(_vae(), lambda: iter([]))
    with pytest.raises(ValueError, match="n_epochs"):
        fit_chunks(_vae(), X, n_epochs=0)


def test_transform_streams_memmap(tmp_path, X, monkeypatch):
    """transform never converts a whole memmap: each forward pass sees a bounded batch."""
    vae = fit_chunks(_vae(), X, chunk_rows=250)
    big = np.memmap(tmp_path / "big.f32", dtype=np.float32, mode="w+", shape=(5000, 6))
    big[:] = np.tile(X, (10, 1))
    module = vae.net_.module_
    seen = []
    encode = module.encode
    monkeypatch.setattr(module, "encode", lambda xb: (seen.append(len(xb)), encode(xb))[1])
    Z = vae.transform(big)
    assert max(seen) <= vae._infer_rows() < len(big)
    np.testing.assert_array_equal(Z[:500], vae.transform(X))


def test_dask_blocks_of_one_row_join_their_neighbours(X):
    # a 1-row last block (da.from_array(X, chunks=200) on 401 rows) made fit_chunks stop
    # at it ("Found array with 1 sample(s)") where a numpy array's 1-row tail is joined
    da = pytest.importorskip("dask.array")
    sizes = [len(c) for c in iter_chunks(da.from_array(X[:401], chunks=(200, 6)))]
    assert sizes == [200, 201]
    odd = da.from_array(X, chunks=((1, 199, 0, 200, 99, 1), (6,)))
    assert [len(c) for c in iter_chunks(odd)] == [200, 200, 100]
    _same(fit_chunks(_vae(), odd), _in_memory(X, BOUNDS), X)
    clean = da.from_array(X, chunks=((200, 200, 100), (6,)))  # blocks of 2+ rows: as given
    assert [len(c) for c in iter_chunks(clean)] == [200, 200, 100]


def test_a_continued_fit_trains_on_one_row(X):
    # only the first call needs 2 rows (a mean and a variance): a 1-row last chunk of the
    # user's own loop (a callable's chunks, pandas.read_csv(chunksize=...)) was refused
    # with "Found array with 1 sample(s)", and fit_chunks stopped at it
    vae = _vae().partial_fit(X[:200])
    before = vae.transform(X)
    vae.partial_fit(X[200:201])
    assert vae.n_epochs_ == 2 and not np.array_equal(vae.transform(X), before)
    vae.set_params(warm_start=True, max_epochs=1).fit(X[201:202])
    assert vae.n_epochs_ == 3
    assert fit_chunks(_vae(), lambda: iter([X[:200], X[200:201]])).n_epochs_ == 2
    with pytest.raises(ValueError, match="minimum of 2"):  # a fresh fit still needs 2
        _vae().partial_fit(X[:1])
