"""``set_output`` of both estimators: pandas (and polars, where it installs) frames from
``transform`` and ``fit_transform``, alone, in a ``Pipeline`` and in a ``ColumnTransformer``."""

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from perturbvae import PerturbedVAE, SpectralDegeneracy

pd = pytest.importorskip("pandas")


def _estimators():
    return [PerturbedVAE(n_components=2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0),
            SpectralDegeneracy(n_levels=4, n_components=2, random_state=0)]


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return rng.normal(size=(150, 3)) @ rng.normal(size=(3, 3))


def _frame_type(lib):
    return pytest.importorskip(lib).DataFrame


@pytest.mark.parametrize("lib", ["pandas", "polars"])
@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_transform_and_fit_transform_return_frames(est, lib, X):
    frame = _frame_type(lib)
    est.set_output(transform=lib)
    Z_fit = est.fit_transform(X)
    Z = est.transform(X)
    for out in (Z_fit, Z):
        assert isinstance(out, frame)
        assert list(out.columns) == list(est.get_feature_names_out())
    # the frames hold the same numbers as the default output
    np.testing.assert_array_equal(np.asarray(Z), est.set_output(transform="default").transform(X))


@pytest.mark.parametrize("est", _estimators(), ids=lambda e: type(e).__name__)
def test_frames_through_pipeline_and_column_transformer(est, X):
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    pipe = make_pipeline(StandardScaler(), est).set_output(transform="pandas")
    out = pipe.fit(df).transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(est.get_feature_names_out())
    ct = ColumnTransformer([("emb", est, ["a", "b", "c"])]).set_output(transform="pandas")
    out = ct.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"emb__{c}" for c in est.get_feature_names_out()]
    assert isinstance(ct.transform(df), pd.DataFrame)
