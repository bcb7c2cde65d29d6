"""SpectralDegeneracy.fit on dask arrays: block-wise sums equal the in-memory fit.

The reference is the same estimator on the same data as a numpy array. Measured differences
(dask blocks of 700 rows against one numpy pass; random_state 0): energies 1e-14 relative,
embedding 4e-13 (Gaussian) and 2e-12 (three blobs), identical labels and well counts; the
tolerances below leave a factor of 50 or more.
"""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")

import dask  # noqa: E402

from perturbvae import SpectralDegeneracy  # noqa: E402
from perturbvae._spectral import _samples as _rows  # noqa: E402

RTOL = 1e-10
ATOL_EMBEDDING = 1e-10


def _data(name):
    rng = np.random.RandomState(0)
    if name == "anisotropic":
        return rng.normal(size=(4000, 3)) * [3, 1, 0.5]
    if name == "blobs":
        return np.vstack([rng.normal(size=(1500, 2)) + c for c in ([0, 0], [12, 0], [0, 12])])
    if name == "atoms":  # ~40 distinct rows: spread over their cells by a hash of the rank
        return np.round(rng.normal(size=(3000, 2)) * [2, 1])
    return np.round(rng.normal(size=(3000, 2)), 1)  # exact ties: the canonical order's lexsort


def _fit(Z, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return SpectralDegeneracy(random_state=0, **kw).fit(Z)


@pytest.mark.parametrize("name, method", [("anisotropic", "auto"), ("blobs", "auto"),
                                          ("ties", "auto"), ("atoms", "auto"),
                                          ("blobs", "graph")])
def test_fit_on_cluster_equals_in_memory(dask_client, name, method):
    Z = _data(name)
    ref = _fit(Z, method=method)
    got = _fit(da.from_array(Z, chunks=(700, 1)), method=method)  # rows and columns split
    assert (got.method_, got.n_ground_states_) == (ref.method_, ref.n_ground_states_)
    np.testing.assert_allclose(got.energies_, ref.energies_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(got.embedding_, ref.embedding_, rtol=0, atol=ATOL_EMBEDDING)
    np.testing.assert_array_equal(got.labels_, ref.labels_)
    np.testing.assert_allclose(got.rate_matrix_, ref.rate_matrix_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got.potential(Z[:200]), ref.potential(Z[:200]), rtol=1e-8)
    assert got.n_features_in_ == Z.shape[1]
    # transform of a dask array is a dask array, computed block by block
    out = got.transform(da.from_array(Z[:300], chunks=(128, 1)))
    assert isinstance(out, da.Array)
    np.testing.assert_allclose(out.compute(), ref.transform(Z[:300]), atol=ATOL_EMBEDDING)


def test_fit_never_computes_the_whole_array(monkeypatch):
    """Only blocks, reductions and subsamples come back: no computed array has all the rows.

    n = 60,000 exceeds every subsample (pilot 2,000, landmarks 2,000, landscape 50,000)."""
    n, d = 60_000, 2
    Z = da.random.default_rng(0).standard_normal((n, d), chunks=(10_000, d))
    biggest = []
    compute = dask.base.compute

    def recording(*args, **kw):
        out = compute(*args, **kw)
        stack = list(out)
        while stack:  # per-block results may be tuples of arrays
            o = stack.pop()
            if isinstance(o, tuple):
                stack.extend(o)
            elif isinstance(o, np.ndarray) and o.ndim:
                biggest.append(o.shape[0])
        return out

    monkeypatch.setattr(dask.base, "compute", recording)
    monkeypatch.setattr(dask, "compute", recording)
    monkeypatch.setattr(da.Array, "__array__", _refuse)
    with dask.config.set(scheduler="synchronous"):
        sd = _fit(Z, n_levels=6)
    assert biggest and max(biggest) < n
    assert sd.embedding_.shape == (n, sd.n_components_)
    # the Gaussian ladder (1, 1, 2, 2, 2): the blocks add up to the whole data's spectrum
    np.testing.assert_allclose(sd.energies_[1:], [1, 1, 2, 2, 2], rtol=0.1)


def _refuse(self, *args, **kw):
    raise AssertionError("the whole dask array was converted to numpy")


@pytest.mark.parametrize("bad, match", [
    (lambda Z: Z.map_blocks(lambda b: np.where(b > 2, np.nan, b)), "NaN"),
    (lambda Z: Z[Z[:, 0] > 0], "unknown chunk sizes"),
    (lambda Z: Z[:, :, None], "2-D"),
    (lambda Z: Z.astype(complex), "real numbers"),
])
def test_bad_dask_input_is_refused_before_any_fit(bad, match):
    Z = da.from_array(_data("anisotropic"), chunks=(1000, 3))
    sd = _fit(Z.compute())
    before = sd.energies_.copy()
    with pytest.raises(ValueError, match=match):
        sd.fit(bad(Z))
    np.testing.assert_array_equal(sd.energies_, before)
    assert sd.n_features_in_ == 3


def test_transform_of_dask_checks_the_features():
    sd = _fit(_data("anisotropic"))
    with pytest.raises(ValueError, match="features"):
        sd.transform(da.zeros((10, 2), chunks=5))


def test_take_and_canonical_order_match_numpy():
    Z = _data("ties")
    D = da.from_array(Z, chunks=(333, 2))
    idx = np.random.RandomState(1).permutation(len(Z))[:500]
    np.testing.assert_array_equal(_rows.take(D, idx), Z[idx])
    r = lambda X: np.sum(X ** 2, axis=1)  # noqa: E731
    np.testing.assert_array_equal(_rows.canonical_order(D, r), _rows.canonical_order(Z, r))
    # the order depends on the set of rows only
    p = np.random.RandomState(2).permutation(len(Z))
    np.testing.assert_array_equal(Z[p][_rows.canonical_order(Z[p], r)],
                                  Z[_rows.canonical_order(Z, r)])


def test_predict_potential_and_scores_of_dask_are_lazy_and_equal():
    Z = _data("blobs")
    sd = _fit(Z)
    D = da.from_array(Z[:500], chunks=(128, 2))
    for name in ("predict", "predict_proba", "potential", "score_samples"):
        out = getattr(sd, name)(D)
        assert isinstance(out, da.Array), name
        np.testing.assert_allclose(out.compute(), getattr(sd, name)(Z[:500]), rtol=1e-12,
                                   err_msg=name)


def test_embedding_signs_do_not_depend_on_blocks_or_row_order():
    # three blobs in 3-d: two entries of an eigenvector tie in magnitude, and the sign of the
    # largest one flipped column 2 between a dask fit in 400-row blocks, reversed rows and the
    # numpy fit (embedding 2.9 apart); the sign now follows a fixed generic projection
    from sklearn.datasets import make_blobs

    X = make_blobs(1500, n_features=3, centers=3, random_state=1, cluster_std=0.6)[0]
    ref = _fit(X)
    for got, rows in ((_fit(da.from_array(X, chunks=(400, 3))), slice(None)),
                      (_fit(X[::-1]), slice(None, None, -1))):
        np.testing.assert_allclose(got.embedding_, ref.embedding_[rows], atol=ATOL_EMBEDDING)
