"""What must not change PerturbedVAE's answer (issue 11): property-based, tiny networks.

Tolerances were measured on iris with the settings below (``KW``: 2 latent axes, one
hidden layer of 8, 3 epochs), by refitting under each change and taking the largest
``|Z - Z_ref|`` (embedding values up to about 2.2):

- a constant up to 1e9 added to one feature: at most 1.9e-6 (rounding of the
  float64 standardisation, amplified by 3 epochs); bound 2e-5;
- one feature scaled by 1e-30 to 1e30, or all by 1e-300 to 1e300: 0 (exact); bound 1e-6;
- rows permuted, for ``transform`` and ``score_samples``: 0 (exact);
- the data set repeated twice, at the closed-form start (``max_epochs=0``): 0 for
  the embedding, 9e-16 for the mean ELBO; bounds 1e-6 and 1e-9;
- pickling between two ``partial_fit`` calls: 0 (exact).
Before the fixes of issue 11 the offset case gave agreement 0.58 at 1e8 and zeros at
1.7e9, the repeated data set differed by 4e-3 (PCA's n - 1), and pickling between two
calls changed the next epoch's shuffles.
"""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris, load_wine

from perturbvae import PerturbedVAE

KW = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32,
          random_state=0)
FEW = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def X():
    return load_iris().data


@pytest.fixture(scope="module")
def ref(X):
    est = PerturbedVAE(**KW).fit(X)
    return est, est.transform(X)


@FEW
@given(feature=st.integers(0, 3), offset=st.floats(-1e9, 1e9, allow_nan=False))
def test_constant_added_to_a_feature(X, ref, feature, offset):
    Y = X.copy()
    Y[:, feature] += offset
    Z = PerturbedVAE(**KW).fit(Y).transform(Y)
    np.testing.assert_allclose(Z, ref[1], rtol=0, atol=2e-5)


def test_timestamp_offset_is_not_an_all_zero_embedding(X, ref):
    # The case: 1.7e9 (Unix timestamps) on every feature.
    Z = PerturbedVAE(**KW).fit(X + 1.7e9).transform(X + 1.7e9)
    np.testing.assert_allclose(Z, ref[1], rtol=0, atol=2e-5)


def test_timestamp_offset_keeps_features_of_small_spread():
    # breast cancer has 16 features with sd below 0.1: at 1.7e9 their spread was below
    # 1e-10 of their mean and they were taken for constants (max |dZ| 10.2). float64
    # still resolves them to 1e-4 of their spread (a value's spacing 2.4e-7 at 1.7e9, the
    # smallest sd 0.0026): measured max |dZ| 1.5e-4 at 1.7e9, 3.7e-5 at 1e9, values up to 4.4
    from sklearn.datasets import load_breast_cancer

    Xb = load_breast_cancer().data
    Z = PerturbedVAE(**KW).fit(Xb).transform(Xb)
    est = PerturbedVAE(**KW).fit(Xb + 1.7e9)
    np.testing.assert_allclose(est.transform(Xb + 1.7e9), Z, rtol=0, atol=1e-3)


@FEW
@given(feature=st.integers(0, 3), log10_scale=st.floats(-30, 30))
def test_feature_scaled(X, ref, feature, log10_scale):
    Y = X.copy()
    Y[:, feature] *= 10.0 ** log10_scale
    Z = PerturbedVAE(**KW).fit(Y).transform(Y)
    np.testing.assert_allclose(Z, ref[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("scale", [1e-300, 1e-30, 1e20, 3.4e38, 1e300])
def test_all_features_scaled_to_extremes(X, ref, scale):
    """Issue 11, item 5: 1e20..3.4e38 used to diverge, 1e-300 gave an all-zero embedding."""
    Y = X * scale
    est = PerturbedVAE(**KW).fit(Y)
    np.testing.assert_allclose(est.transform(Y), ref[1], rtol=0, atol=1e-6)
    # reconstructions come back in the data's units
    rel = np.abs(est.inverse_transform(est.transform(Y)) / scale
                 - ref[0].inverse_transform(ref[1])).max()
    assert rel < 1e-5 * np.abs(X).max()


@FEW
@given(seed=st.integers(0, 2**16))
def test_row_permutation_transform_and_score(X, ref, seed):
    est, Z = ref
    perm = np.random.RandomState(seed).permutation(len(X))
    # Rows are computed independently, but a row's place in a BLAS block can change the order
    # of its sums: measured once 8.5e-10 relative on one row of 150 (score_samples), so equal
    # up to a few float32 round-offs, not bit for bit. A row mixed up with another is off by
    # far more (scores of iris rows differ by > 1e-3 relative).
    np.testing.assert_allclose(est.transform(X[perm]), Z[perm], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(est.score_samples(X[perm]), est.score_samples(X)[perm],
                               rtol=1e-6)


@FEW
@given(copies=st.integers(2, 4))
def test_duplicated_data_set_gives_the_same_start(X, copies):
    kw = dict(KW, max_epochs=0)  # the closed-form start: a function of the moments only
    a = PerturbedVAE(**kw).fit(X)
    b = PerturbedVAE(**kw).fit(np.tile(X, (copies, 1)))
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=0, atol=1e-6)
    assert b.score(X) == pytest.approx(a.score(X), abs=1e-9)


@FEW
@given(n_calls=st.integers(1, 3))
def test_pickle_between_two_calls(X, n_calls):
    a = PerturbedVAE(**KW).fit(X)
    b = PerturbedVAE(**KW).fit(X)
    for _ in range(n_calls):
        a.partial_fit(X)
        b = pickle.loads(pickle.dumps(b))
        b.partial_fit(X)
    np.testing.assert_array_equal(b.transform(X), a.transform(X))


def test_a_feature_constant_in_training_is_ignored_in_any_units(tmp_path):
    """Its unit-1 scale made a new value move the codes and the score by the feature's
    units: value 6 instead of 5 gave score -21.5, the same column in units 1000x smaller
    -1.15e6 (wine)."""
    X = load_wine().data[:, :5]
    kw = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    for units in (1.0, 1000.0):
        train = np.c_[X, np.full(len(X), 5.0 * units)]
        est = PerturbedVAE(**kw).fit(train)
        other = np.c_[X, np.full(len(X), 105.0 * units)]
        if units == 1.0:
            path = tmp_path / "m.zip"
            est.save(path)
            est = PerturbedVAE.load(path)  # the constant feature is kept by save
            ref_Z, ref_score = est.transform(train), est.score_samples(train)
        # the two models see the same standardised data: equal bit for bit (measured)
        np.testing.assert_array_equal(est.transform(other), ref_Z)
        np.testing.assert_array_equal(est.score_samples(other), ref_score)


def test_a_continued_fit_says_which_ignored_features_vary():
    # partial_fit on a first chunk where a column holds one value ignores the column for
    # good (documented); a later chunk where it varies trained on without a word
    X = load_wine().data[:, :5]
    first = np.c_[X[:60], np.zeros(60)]
    later = np.c_[X[60:120], np.arange(60.0)]
    est = PerturbedVAE(n_components=2, hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(first)
    with pytest.warns(UserWarning, match=r"Feature\(s\) \[5\] of X vary here"):
        est.partial_fit(later)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same value: nothing to say
        est.partial_fit(first)


def test_fit_warnings_point_at_the_users_line(tmp_path):
    # fixed stacklevels pointed at sklearn/base.py (the _fit_context wrapper) or at the
    # package's own lines ('sklearn/base.py:1403: UserWarning: Feature(s) [5] of X vary'),
    # so the warning read as scikit-learn's and a filter by module missed it
    X = load_wine().data[:, :5]
    first, later = np.c_[X[:60], np.zeros(60)], np.c_[X[60:120], np.arange(60.0)]
    kw = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=1)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        est = PerturbedVAE(**kw, random_state=0).partial_fit(first)
        est.partial_fit(later)  # a feature constant in the first chunk varies
        est.set_params(warm_start=True).fit(later)
        PerturbedVAE(**kw, checkpoint_dir=tmp_path).fit(X)  # random_state=None
        PerturbedVAE(**kw, random_state=0, perturbation="wells").fit(  # one well
            np.random.default_rng(1).standard_normal((400, 6)))
        # through scikit-learn's fit_transform (it pointed at sklearn/base.py:969)
        PerturbedVAE(**kw, random_state=0, perturbation="wells").fit_transform(
            np.random.default_rng(1).standard_normal((400, 6)))
    text = [str(w.message) for w in said]
    assert sum("vary here" in t for t in text) == 2
    assert sum("not an integer" in t for t in text) == 1
    assert sum("found one well" in t for t in text) == 2
    assert [w.filename for w in said] == [__file__] * len(said), [
        (w.filename, w.lineno) for w in said]
