"""Perturbation potentials (perturbvae.potentials) against their closed forms."""

import copy
import warnings

import numpy as np
import pytest
import torch

from perturbvae import potentials
from perturbvae.potentials import Ladder, Potential, Wells


def _overlapping_pair(n=600, gap=3.0):
    """Two unit Gaussians ``gap`` apart in 2-d: wider than a quarter of their distance."""
    rng = np.random.RandomState(0)
    centres = np.array([[-gap / 2, 0.0], [gap / 2, 0.0]])
    return np.vstack([rng.normal(c, 1.0, size=(n // 2, 2)) for c in centres])


@pytest.mark.parametrize("gap", [2.0, 12.0])
def test_wells_are_pushed_apart_to_the_barrier_within_the_spread_limit(gap):
    # an overlapping pair (gap 2: the push is capped at max_spread) and a separated one
    # (gap 12: already beyond the barrier, not pushed)
    rng = np.random.RandomState(0)
    Z = np.vstack([rng.normal(c, 1.0, size=(200, 2)) for c in ([0, 0], [gap, 0])])
    pot = Wells(n_wells=2).fit(Z, random_state=0)
    means = np.stack([Z[pot.labels_ == g].mean(axis=0) for g in range(2)])
    spread = np.sqrt(np.mean((Z - means[pot.labels_]) ** 2))
    assert pot.width_ == pytest.approx(spread, rel=1e-12)
    d0 = np.linalg.norm(means[0] - means[1])
    d = np.linalg.norm(pot.centers_[0] - pot.centers_[1])
    wanted = pot.width_ * np.sqrt(8 * (Wells.barrier + np.log(2)))  # barrier in nats
    assert d == pytest.approx(np.clip(wanted, d0, Wells.max_spread * d0), rel=1e-9)
    barrier = d**2 / (8 * pot.width_**2) - np.log(2)
    assert barrier >= min(Wells.barrier, (Wells.max_spread * d0) ** 2
                          / (8 * pot.width_**2) - np.log(2)) - 1e-9


def test_wells_width_follows_the_spread_below_the_cap():
    # the spread (0.3) is below a quarter of the distance (1) and above the floor (0.19)
    rng = np.random.RandomState(1)
    Z = np.vstack([rng.normal(c, 0.3, size=(200, 2)) for c in ([0, 0], [4, 0], [0, 4])])
    pot = Wells(n_wells=3).fit(Z, random_state=0)
    assert pot.width_ == pytest.approx(0.3, rel=0.1)


def test_wells_minima_at_the_centres_and_zero_at_the_lowest():
    rng = np.random.RandomState(2)
    Z = np.vstack([rng.normal(c, 0.3, size=(200, 2)) for c in ([0, 0], [6, 0])])
    pot = Wells(n_wells=2).fit(Z, random_state=0)
    c = torch.as_tensor(pot.centers_)
    V = pot.energy(c)
    assert float(V.min()) == pytest.approx(0.0, abs=1e-12)
    # moving away from a centre, in any direction, raises V
    for step in ([0.1, 0], [0, 0.1], [-0.1, 0], [0, -0.1]):
        assert torch.all(pot.energy(c + torch.tensor(step)) > V)



def test_wells_refitted_elsewhere_bind_rows_to_their_new_centres():
    # expected_own caches the centres as a tensor; a refit on data 100 away must use the
    # new ones: at its own centre, with no spread, a row's term is 0 (it read 12,163)
    rng = np.random.RandomState(2)
    Z = np.vstack([rng.normal(c, 0.3, size=(200, 2)) for c in ([0, 0], [6, 0])])
    pot = Wells(n_wells=2).fit(Z, random_state=0)
    mu = torch.as_tensor(pot.centers_)
    own = pot.expected_own(mu, torch.full_like(mu, -80.0), torch.arange(2))
    np.testing.assert_allclose(own.numpy(), 0.0, atol=1e-12)
    pot.fit(Z + 100.0, random_state=0)
    mu = torch.as_tensor(pot.centers_)
    own = pot.expected_own(mu, torch.full_like(mu, -80.0), torch.arange(2))
    np.testing.assert_allclose(own.numpy(), 0.0, atol=1e-12)


@pytest.mark.parametrize("n_wells", [0, -3, 2.5])
def test_wells_fit_checks_its_n_wells_argument_as_the_parameter(n_wells):
    # fit's n_wells overrides the parameter and is checked as it is, before any work
    # (0 and -3 read one well, 2.5 two)
    Z = np.random.RandomState(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match="n_wells"):
        Wells().fit(Z, n_wells=n_wells)

@pytest.mark.parametrize("d", [1, 3, 5])
def test_ladder_default_stiffnesses_and_energy(d):
    z = torch.randn(50, d, dtype=torch.float64, generator=torch.Generator().manual_seed(d))
    c = np.arange(d) / d  # c_i = i / d: the first axis is left free
    want = 0.5 * (z.numpy() ** 2 * c).sum(axis=1)
    np.testing.assert_allclose(Ladder().energy(z).numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(Ladder().frequencies(d, 2.0, 0.5), 1 + 2.0 * c / 0.5)



def test_ladder_reads_its_stiffnesses_after_they_change():
    # energy and expected cache the stiffnesses as tensors; after set_params, an assignment
    # or an edit in place they must read the new ones (they kept the old: 0.5 for 2.5)
    z = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    lad = Ladder([0.0, 1.0])
    assert float(lad.energy(z)) == pytest.approx(0.5)
    lad.set_params(stiffnesses=[0.0, 5.0])
    assert float(lad.energy(z)) == pytest.approx(2.5)
    assert float(lad.expected(z, torch.zeros_like(z), z)) == pytest.approx(0.5 * 5.0 * 2.0)
    lad.stiffnesses = [1.0, 2.0]
    assert float(lad.energy(z)) == pytest.approx(1.5)
    lad.stiffnesses[1] = 3.0
    assert float(lad.energy(z)) == pytest.approx(2.0)

def test_ladder_expected_energy_is_the_gaussian_average():
    # E_q[V] over q = N(mu, diag(exp(logvar))), against 400,000 draws (standard error
    # about 1e-3 relative here): the variance term counts as much as the mean.
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.3, -0.5, 0.0]], dtype=torch.float64)
    lad = Ladder([0.1, 0.5, 2.0])
    z = mu + torch.exp(0.5 * logvar) * torch.randn(400_000, 3, generator=g, dtype=torch.float64)
    mc = float(lad.energy(z).mean())
    assert float(lad.expected(mu, logvar, mu)[0]) == pytest.approx(mc, rel=5e-3)


def test_an_uncertain_count_behind_the_wells_is_said():
    # scikit-learn's digits (standardised): 13 wells on the rows, 12 on one resample; the
    # wells use 10 (the cap). The count's warnings were all silenced here, this one too;
    # three separated blobs read 3 on every resample and say nothing
    from sklearn.datasets import load_digits, make_blobs
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_digits().data)
    with pytest.warns(UserWarning, match=r"uncertain: 13 on the rows, 12 on 1 of 4 .* use 10"):
        k, _ = potentials.well_groups(X, random_state=0)
    assert k == 10
    blobs = make_blobs(600, n_features=10, centers=3, random_state=0)[0]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert potentials.well_groups(blobs, random_state=0)[0] == 3
    assert not [w for w in record if "uncertain" in str(w.message)]


def test_wells_on_few_rows_say_how_they_were_read_or_why_they_cannot_be():
    # below the 50 rows the count needs, the wells come from a few levels (said by
    # SpectralDegeneracy, silenced here before); on 6 rows in 5-d the error named
    # SpectralDegeneracy, which the user of Wells never called, and no way out
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (20, 3)), rng.normal(12, 1, (20, 3))]
    with pytest.warns(UserWarning,
                      match=r"With 40 distinct rows \(fewer than the 50 .*n_wells=") as rec:
        k, labels = potentials.well_groups(X, random_state=0)
    assert k == 2 and len(rec) == 1
    with pytest.raises(ValueError, match=r"wells of these 6 rows cannot be measured \(the "
                       r"count of wells, .* says: n_samples=6 is too few.*n_wells"):
        potentials.well_groups(rng.normal(size=(6, 5)), random_state=0)
    with pytest.raises(ValueError, match="NaN"):  # said as any estimator says it
        potentials.well_groups(np.where(X == X[0, 0], np.nan, X), random_state=0)
    assert potentials.well_groups(rng.normal(size=(6, 5)), n_wells=2, random_state=0)[0] == 2
    # 50 rows and more: no such warning
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        potentials.well_groups(np.r_[X, X[:20] + 0.1], random_state=0)
    assert not [w for w in record if "fewer than the 50" in str(w.message)]


def test_wells_made_by_a_flag_column_are_said():
    # the count's warnings are silenced in well_groups; wells that are a 0/1 column's values
    # (Boston's river flag) would have become the prior's wells without a word
    rng = np.random.default_rng(0)
    X = np.c_[rng.standard_normal((400, 2)), rng.uniform(size=400) < 0.1]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    with pytest.warns(UserWarning, match=r"values of column\(s\) 2 alone.*\(the wells of Wells\)"):
        assert potentials.well_groups(X, random_state=0)[0] == 2
    # by name where the columns have names (a DataFrame given to PerturbedVAE), in the
    # category of the count's own
    from perturbvae._spectral._flags import FlagColumnWells

    with pytest.warns(FlagColumnWells, match=r"values of column\(s\) river alone.*Wells\)"):
        potentials.well_groups(X, random_state=0, feature_names=["x", "y", "river"])


def test_the_estimator_names_the_flag_column_of_its_wells():
    pd = pytest.importorskip("pandas")
    from perturbvae import PerturbedVAE
    from perturbvae._spectral._flags import FlagColumnWells

    rng = np.random.default_rng(0)
    X = pd.DataFrame(np.c_[rng.standard_normal((400, 2)), rng.uniform(size=400) < 0.1],
                     columns=["x", "y", "river"])
    with pytest.warns(FlagColumnWells, match=r"column\(s\) river alone"):
        PerturbedVAE(perturbation="wells", max_epochs=1, hidden_layer_sizes=(8,),
                     random_state=0).fit(X)


def test_a_ladder_subclass_stays_itself_in_the_fit():
    # Ladder.__deepcopy__ rebuilt a plain Ladder: the estimator's copy of the parameter
    # dropped a subclass's own expected() and attributes (the fit was that of "ladder",
    # score equal to 1e-12), and a warm_start fit then refused the subclass as another kind.
    from perturbvae import PerturbedVAE

    class Stiff(Ladder):
        def __init__(self, factor=100.0):
            super().__init__()
            self.factor = factor

        def expected(self, mu, logvar, z):
            return self.factor * super().expected(mu, logvar, z)

    pot = Stiff()
    pot.energy(torch.zeros(2, 3))  # fills the cache, which the copy leaves out
    twin = copy.deepcopy(pot)
    assert type(twin) is Stiff and twin.factor == 100.0 and "_cache" not in twin.__dict__
    assert repr(twin) == "Stiff(stiffnesses=None)"  # its own name, as in the error messages
    X = np.random.RandomState(0).randn(120, 4)
    kw = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=2, random_state=0,
              device="cpu")
    vae = PerturbedVAE(perturbation=pot, **kw).fit(X)
    assert type(vae.potential_) is Stiff
    plain = PerturbedVAE(**kw).fit(X)
    assert vae.history_[-1, "train_loss"] != pytest.approx(plain.history_[-1, "train_loss"])
    vae.set_params(warm_start=True).fit(X)  # the same kind: continues
    assert vae.n_epochs_ == 4


def test_a_potential_s_parameters_are_nested_parameters_of_the_estimator():
    # set_params(perturbation__n_wells=3), and a grid search over it, raised AttributeError:
    # potentials had no set_params
    from sklearn.model_selection import GridSearchCV

    from perturbvae import PerturbedVAE

    rs = np.random.RandomState(0)
    X = np.r_[rs.randn(150, 4), rs.randn(150, 4) + 4, rs.randn(150, 4) + [8, 0, 0, 0]]
    est = PerturbedVAE(n_components=2, perturbation=Wells(), max_epochs=2,
                       hidden_layer_sizes=(16,), random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(est, {"perturbation__n_wells": [2, 3]}, cv=2).fit(X)
    assert search.best_estimator_.potential_.n_wells_ == (
        search.best_params_["perturbation__n_wells"])
    assert est.perturbation.n_wells is None  # each candidate set its clone's copy
    assert sorted(r["perturbation__n_wells"] for r in search.cv_results_["params"]) == [2, 3]
    with pytest.raises(ValueError, match="Invalid parameter 'nope' for Wells"):
        est.set_params(perturbation__nope=1)
    ladder = PerturbedVAE(perturbation=Ladder()).set_params(perturbation__stiffnesses=[0, 1])
    assert ladder.perturbation.stiffnesses == [0, 1]


def test_nested_parameters_are_listed_and_refused_on_a_name():
    # get_params(deep=True) listed no perturbation__* although set_params took them, and a
    # grid of perturbation='wells' with perturbation__n_wells failed with "'str' object has
    # no attribute 'set_params'"
    from sklearn.base import clone

    from perturbvae import PerturbedVAE

    est = PerturbedVAE(perturbation=Wells(n_wells=3))
    params = est.get_params(deep=True)
    assert params["perturbation__n_wells"] == 3 and params["perturbation__max_wells"] == 10
    copy_ = clone(est)
    assert copy_.perturbation is not est.perturbation
    assert copy_.perturbation.get_params() == est.perturbation.get_params()
    for given in ("wells", None, "ladder"):
        with pytest.raises(ValueError, match=r"perturbation__n_wells sets a parameter of a "
                                             r"potential object.*perturbation=Wells\(\)"):
            PerturbedVAE(perturbation=given).set_params(perturbation__n_wells=2)
    # the object given in the same call takes them
    est = PerturbedVAE().set_params(perturbation=Wells(), perturbation__n_wells=2)
    assert est.perturbation.n_wells == 2


def test_a_user_potential_is_still_told_apart_by_its_state():
    # its parameters need not hold its state: Quartic(a) keeps a in self._a
    from perturbvae._vae._identity import describe

    class Quartic(Potential):
        def __init__(self, a=1.0):
            self._a = a

        def energy(self, z):
            return self._a * (z**4).sum(dim=1)

    assert Quartic(0.0).get_params() == {}
    assert describe(Quartic(0.0)) != describe(Quartic(50.0))


@pytest.mark.parametrize("kwargs", [dict(n_wells=0), dict(n_wells=-3), dict(n_wells=2.7),
                                    dict(max_wells=0)])
def test_well_groups_checks_its_numbers_before_any_work(kwargs):
    # 0 and -3 read one well and 2.7 two; max_wells=0 was named as SpectralDegeneracy's
    X = np.random.RandomState(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match=f"'{next(iter(kwargs))}' parameter of well_groups"):
        potentials.well_groups(X, **kwargs)


def test_well_groups_reads_rows_given_as_lists():
    X = np.random.RandomState(0).normal(size=(60, 2))
    k, labels = potentials.well_groups(X.tolist(), n_wells=2, random_state=0)
    np.testing.assert_array_equal(labels, potentials.well_groups(X, n_wells=2,
                                                                 random_state=0)[1])
    assert k == 2


def test_a_potential_class_for_an_instance_is_refused_before_training():
    from perturbvae import PerturbedVAE

    X = np.random.RandomState(0).normal(size=(50, 4))
    with pytest.raises(TypeError, match=r"not the class Ladder: pass Ladder\(\)"):
        PerturbedVAE(n_components=2, perturbation=Ladder, max_epochs=1).fit(X)


def test_a_ladder_of_a_table_of_stiffnesses_is_refused():
    # a 2 x 2 table was read as four axes' stiffnesses; one number is one axis
    with pytest.raises(ValueError, match="one number an axis"):
        Ladder([[0.0, 1.0], [2.0, 3.0]]).energy(torch.ones(1, 4))
    assert float(Ladder(0.0).energy(torch.ones(2, 1))[0]) == 0.0


@pytest.mark.parametrize("strength, beta", [(-5.0, 1.0), (1.0, 0.0), (np.nan, 1.0)])
def test_ladder_frequencies_need_a_physical_strength_and_beta(strength, beta):
    # a negative strength gave negative frequencies, beta = 0 nan and inf
    with pytest.raises(ValueError, match="strength >= 0 and a finite beta > 0"):
        Ladder().frequencies(3, strength, beta)
