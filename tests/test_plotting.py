"""Tests for perturbvae.plotting: each plot renders a valid, non-blank PNG."""

import importlib
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from perturbvae import plotting  # noqa: E402
from perturbvae.plotting import (  # noqa: E402
    plot_energy_landscape,
    plot_latent,
    plot_seed_stability,
    plot_spectrum,
)

FIGSIZE, DPI = (4.0, 3.0), 50  # 200 x 150 pixels


class TwoWellSpectrum:
    """Duck-typed stand-in for a fitted SpectralDegeneracy on 2-D data."""

    energies_ = np.array([0.0, 0.03, 0.95, 1.02, 1.1, 2.0, 2.05])
    multiplets_ = [np.array([0, 1]), np.array([2, 3, 4]), np.array([5, 6])]
    n_features_in_ = 2

    def potential(self, Z):
        Z = np.asarray(Z, dtype=float)
        left = ((Z - [-2.0, 0.0]) ** 2).sum(axis=1)
        right = ((Z - [2.0, 0.0]) ** 2).sum(axis=1)
        return 0.5 * np.minimum(left, right)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def two_clusters():
    rng = np.random.RandomState(0)
    Z = np.r_[rng.normal(size=(60, 2)) * 0.6 + [-2, 0],
              rng.normal(size=(60, 2)) * 0.6 + [2, 0]]
    labels = np.repeat([0, 1], 60)
    return Z, labels


def _new_ax():
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    return ax


def _check_png(fig, path):
    fig.set_size_inches(*FIGSIZE)
    fig.savefig(path, dpi=DPI)
    img = mpimg.imread(path)
    assert img.shape[:2] == (FIGSIZE[1] * DPI, FIGSIZE[0] * DPI)
    rgb = img[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.02, "image is blank"
    assert len(np.unique(rgb, axis=0)) > 1
    return img


def test_plot_spectrum_with_prior(tmp_path):
    ax = plot_spectrum(TwoWellSpectrum(), prior_energies=[0, 1, 1, 2, 2, 2], ax=_new_ax())
    assert ax.get_ylabel() == plotting.ENERGY_LABEL
    # 7 measured levels and 6 prior levels, one line each.
    assert len(ax.lines) == 13
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == sorted(["×2", "×3", "×2", "×1", "×2", "×3"])
    _check_png(ax.figure, tmp_path / "spectrum.png")


def test_plot_spectrum_from_array_groups_by_rtol(tmp_path):
    ax = plot_spectrum([0.0, 0.01, 1.0, 1.02, 1.04, 2.5], rtol=0.05)
    assert [t.get_text() for t in ax.texts] == ["×2", "×3", "×1"]
    ax = plot_spectrum([0.0, 0.01, 1.0, 1.02, 1.04, 2.5], n_levels=4, ax=_new_ax())
    # The triplet is cut by n_levels: only complete multiplets are shown.
    assert [t.get_text() for t in ax.texts] == ["×2"]
    _check_png(ax.figure, tmp_path / "spectrum_array.png")


def test_plot_spectrum_accepts_fitted_model_with_prior_energies():
    class Fitted:
        prior_energies_ = np.array([0.0, 1.0, 1.5])

    ax = plot_spectrum(TwoWellSpectrum(), prior_energies=Fitted(), n_levels=3)
    # The measured doublet only (the triplet is cut), and as many of the prior's
    # levels as are measured: 0 and 1.
    assert len(ax.lines) == 2 + 2
    ax = plot_spectrum(TwoWellSpectrum(), prior_energies=Fitted(), ax=_new_ax())
    assert len(ax.lines) == 7 + 3
    with pytest.raises(ValueError, match="cuts the lowest multiplet"):
        plot_spectrum(TwoWellSpectrum(), n_levels=1)


def test_plot_spectrum_with_a_prior_of_no_exact_spectrum_or_unfitted():
    # a wells prior has no exact spectrum (prior_energies_ None): that was "Input
    # prior_energies contains NaN"; an unfitted PerturbedVAE a TypeError from float()
    from sklearn.exceptions import NotFittedError

    from perturbvae import PerturbedVAE

    class WellsPrior:
        prior_energies_ = None
        perturbation = "wells"

    with pytest.raises(ValueError, match="no exact spectrum.*leave prior_energies out"):
        plot_spectrum(TwoWellSpectrum(), prior_energies=WellsPrior(), ax=_new_ax())
    with pytest.raises(NotFittedError):
        plot_spectrum(TwoWellSpectrum(), prior_energies=PerturbedVAE(), ax=_new_ax())


def test_plot_energy_landscape(tmp_path, two_clusters):
    Z, labels = two_clusters
    ax = plot_energy_landscape(TwoWellSpectrum(), Z, labels=labels, grid_size=30,
                               ax=_new_ax())
    assert ax.get_title() == "Energy landscape V(z)"
    cbar_axes = [a for a in ax.figure.axes if a is not ax]
    assert any(a.get_ylabel() == "V(z)" for a in cbar_axes)
    assert ax.get_legend() is not None
    _check_png(ax.figure, tmp_path / "landscape.png")


def test_plot_energy_landscape_greys_out_where_there_are_no_data(two_clusters):
    # Two clusters at x = -2 and 2 (sd 0.6): the cluster centres are shown, the gap at the
    # origin and the corners (over 2.5 sd from both) are greyed out; None greys out nothing.
    Z, _ = two_clusters
    ax = plot_energy_landscape(TwoWellSpectrum(), Z, grid_size=41, ax=_new_ax())
    (overlay,) = [im for im in ax.images if im.get_gid() == "negligible-density"]
    mask = ~np.ma.getmaskarray(overlay.get_array())  # greyed pixels; rows: y, columns: x
    x0, x1, y0, y1 = overlay.get_extent()
    xs, ys = np.linspace(x0, x1, 41), np.linspace(y0, y1, 41)

    def at(x, y):
        return mask[np.argmin(np.abs(ys - y)), np.argmin(np.abs(xs - x))]

    assert not at(-2, 0) and not at(2, 0)
    assert at(0, 0) and at(x0, y0) and at(x1, y1)
    ax = plot_energy_landscape(TwoWellSpectrum(), Z, grid_size=41, support_quantile=None,
                               ax=_new_ax())
    assert not [im for im in ax.images if im.get_gid() == "negligible-density"]


def test_plot_energy_landscape_requires_2d(two_clusters):
    Z, _ = two_clusters
    with pytest.raises(ValueError, match="2-D embedding"):
        plot_energy_landscape(TwoWellSpectrum(), np.c_[Z, Z[:, :1]])

    class ThreeD(TwoWellSpectrum):
        n_features_in_ = 3

    with pytest.raises(ValueError, match="fitted on 3-D data"):
        plot_energy_landscape(ThreeD(), Z)


def test_plot_latent(tmp_path, two_clusters):
    Z, labels = two_clusters
    Z3 = np.c_[Z, Z[:, 0] * Z[:, 1]]
    names = ["perturbedvae0", "perturbedvae1", "perturbedvae2"]
    ax = plot_latent(Z3, labels, dims=(2, 0), feature_names=names, ax=_new_ax())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("perturbedvae2", "perturbedvae0")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1"]
    _check_png(ax.figure, tmp_path / "latent.png")


def test_plot_latent_continuous_labels_and_dataframe(tmp_path, two_clusters):
    pd = pytest.importorskip("pandas")
    Z, _ = two_clusters
    df = pd.DataFrame(Z, columns=["perturbedvae0", "perturbedvae1"])
    ax = plot_latent(df, labels=np.linspace(0, 1, len(Z)), ax=_new_ax())
    assert ax.get_xlabel() == "perturbedvae0"
    assert ax.get_legend() is None  # continuous labels get a colour bar instead
    assert len(ax.figure.axes) == 2
    _check_png(ax.figure, tmp_path / "latent_continuous.png")
    assert plot_latent(Z).get_xlabel() == "z0"


def test_plot_latent_bad_inputs(two_clusters):
    Z, labels = two_clusters
    with pytest.raises(ValueError, match="dims"):
        plot_latent(Z, dims=(0, 2))
    with pytest.raises(ValueError, match="one entry per point"):
        plot_latent(Z, labels[:10])
    with pytest.raises(ValueError, match="feature_names"):
        plot_latent(Z, feature_names=["a"])


def test_tolerances_below_zero_are_refused(two_clusters):
    # a negative rtol split every multiplet into single levels, a negative min_rate drew
    # arrows for rates of 0; both were accepted without a word
    from perturbvae import SpectralDegeneracy
    from perturbvae.plotting import plot_well_rates

    with pytest.raises(ValueError, match="rtol"):
        plot_spectrum([0.0, 1.0, 1.0], rtol=-0.05)
    Z, _ = two_clusters
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    with pytest.raises(ValueError, match="min_rate"):
        plot_well_rates(sd, Z, min_rate=-1.0, grid_size=10)


def _stability_result(n=4):
    rng = np.random.RandomState(0)
    A = rng.uniform(0.3, 0.8, size=(n, n))
    axis = (A + A.T) / 2
    np.fill_diagonal(axis, 1.0)
    subspace = np.full((n, n), 0.97)
    np.fill_diagonal(subspace, 1.0)
    return {"axis": axis, "subspace": subspace}


def test_plot_seed_stability_two_panels(tmp_path):
    result = _stability_result()
    fig = plot_seed_stability(result)
    assert len(fig.axes) == 3  # two heatmaps and a shared colour bar
    heat = fig.axes[0]
    assert heat.images[0].get_clim() == (0.0, 1.0)
    assert len(heat.texts) == 16  # one annotation per cell
    assert "degeneracy" in fig.get_suptitle()
    _check_png(fig, tmp_path / "seed_stability.png")


def test_plot_seed_stability_on_given_axes(tmp_path):
    from sklearn.utils import Bunch

    result = Bunch(**_stability_result(3))
    ax = plot_seed_stability(result, which="subspace", ax=_new_ax())
    assert ax.get_title().startswith("subspace agreement")
    _check_png(ax.figure, tmp_path / "seed_stability_one.png")
    fig, axes = plt.subplots(1, 2)
    assert plot_seed_stability(result, ax=axes) is fig
    with pytest.raises(ValueError, match="one per panel"):
        plot_seed_stability(result, ax=axes[0])
    with pytest.raises(ValueError, match="no 'axis' matrix"):
        plot_seed_stability({"subspace": result.subspace})


def test_import_does_not_need_matplotlib(monkeypatch):
    # Blocking matplotlib: the module imports, and the functions name the extra.
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    module = importlib.reload(plotting)
    with pytest.raises(ImportError, match=r"pip install perturbvae\[plot\]"):
        module.plot_latent(np.zeros((3, 2)))


def test_plot_well_rates_renders(tmp_path):
    from sklearn.datasets import make_blobs

    from perturbvae import SpectralDegeneracy
    from perturbvae.plotting import plot_well_rates

    Z, y = make_blobs(300, centers=[[-4, 0], [4, 0], [0, 6]], random_state=0)
    sd = SpectralDegeneracy(random_state=0).fit(Z)
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    plot_well_rates(sd, Z, grid_size=30, ax=ax)
    # one label box per well and one per joined pair (3 wells: at most 3 pairs)
    texts = [t.get_text() for t in ax.texts]
    assert sum(t.startswith("well ") for t in texts) == sd.n_ground_states_ == 3
    pairs = [t for t in texts if "→" in t]
    assert 1 <= len(pairs) <= 3
    Q = sd.rate_matrix_
    assert any(f"{Q[0, 1]:.2g}" in t or f"{Q[0, 2]:.2g}" in t for t in pairs)
    path = tmp_path / "wells.png"
    fig.savefig(path)
    img = mpimg.imread(path)
    assert img.std() > 0.01  # not blank


def _class_colours(ax):
    """Label -> face colour of the scatter drawn for it (RGBA tuple)."""
    out = {}
    for coll in ax.collections:
        label = coll.get_label()
        if label and not label.startswith("_") and len(coll.get_facecolors()):
            out[label] = tuple(np.round(coll.get_facecolors()[0], 3))
    return out


def test_blank_and_underscore_labels_are_named_in_the_legend(two_clusters):
    # a label column with blank cells (msleep's vore) showed matplotlib's hidden name
    # '_child0' in the legend, and a class named '_x' was left out of it
    Z, _ = two_clusters
    labels = np.tile(np.array(["herbi", "", "_x"], dtype=object), len(Z) // 3 + 1)[:len(Z)]
    ax = plot_latent(Z, labels, ax=_new_ax())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(texts) == sorted(["(blank)", " _x", "herbi"])


def test_a_label_has_one_colour_in_the_latent_plot_and_the_landscape(two_clusters):
    Z, _ = two_clusters
    labels = np.tile(np.arange(6), 20)
    latent = _class_colours(plot_latent(Z, labels, ax=_new_ax()))
    landscape = _class_colours(plot_energy_landscape(TwoWellSpectrum(), Z, labels=labels,
                                                     grid_size=20, ax=_new_ax()))
    assert len(latent) == 6 and latent == landscape


def test_more_than_20_classes_get_no_legend(two_clusters):
    Z, _ = two_clusters
    ids = np.array([f"row{i}" for i in range(len(Z))])  # an id column taken as a label
    ax = plot_latent(Z, ids, ax=_new_ax())
    assert ax.get_legend() is None
    ax = plot_energy_landscape(TwoWellSpectrum(), Z, labels=ids, grid_size=20, ax=_new_ax())
    # only the key to the uncovered area, not 120 names
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "too few data: V not drawn"]


def test_the_landscape_title_counts_the_wells_and_its_legend_names_the_cover(two_clusters):
    Z, labels = two_clusters

    class Fitted(TwoWellSpectrum):
        n_ground_states_ = 2

    ax = plot_energy_landscape(Fitted(), Z, labels=labels, grid_size=30, ax=_new_ax())
    assert ax.get_title() == "Energy landscape V(z): 2 wells"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["0", "1", "too few data: V not drawn"]


def test_landscape_and_rates_of_a_model_fitted_on_a_dataframe():
    # a model fitted on a DataFrame drew sklearn's "X does not have valid feature names"
    # warning for the grid the plots build from that same frame (false), and a frame with
    # its columns swapped was drawn along the wrong axes, silently
    import warnings

    pd = pytest.importorskip("pandas")
    from sklearn.datasets import make_blobs

    from perturbvae import SpectralDegeneracy
    from perturbvae.plotting import plot_well_rates

    Z, _ = make_blobs(300, centers=[[-4, 0], [4, 0]], random_state=0)
    df = pd.DataFrame(Z * [1.0, 0.3], columns=["u", "v"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = SpectralDegeneracy(random_state=0).fit(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_energy_landscape(sd, df, grid_size=20, ax=_new_ax())
        ax = plot_well_rates(sd, df, grid_size=20, ax=_new_ax())
    assert sum(t.get_text().startswith("well ") for t in ax.texts) == 2
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("u", "v")  # the fit's names, not z0, z1
    for plot in (plot_energy_landscape, plot_well_rates):
        with pytest.raises(ValueError, match="not those the model was fitted on"):
            plot(sd, df[["v", "u"]], grid_size=20, ax=_new_ax())


def _cover(ax):
    (overlay,) = [im for im in ax.images if im.get_gid() == "negligible-density"]
    return ~np.ma.getmaskarray(overlay.get_array())


def test_copied_rows_do_not_spread_the_cover(two_clusters):
    # every row 11 times: each one's 10th neighbour had lain at distance 0 and the cover
    # spread over the whole grid, data included; copies add no extent, so it is the same
    Z, _ = two_clusters
    once = _cover(plot_energy_landscape(TwoWellSpectrum(), Z, grid_size=41, ax=_new_ax()))
    tiled = _cover(plot_energy_landscape(TwoWellSpectrum(), np.repeat(Z, 11, axis=0),
                                         grid_size=41, ax=_new_ax()))
    np.testing.assert_array_equal(tiled, once)
    assert 0.2 < once.mean() < 0.9


def test_extent_sets_the_grid_and_is_checked(two_clusters):
    # ten points 30 times farther out stretched the grid until the wells were a few cells
    Z, _ = two_clusters
    far = np.r_[Z, 30 * Z[:10]]

    class Recorded(TwoWellSpectrum):
        def potential(self, Z):
            self.grid = np.asarray(Z)
            return super().potential(Z)

    spectral = Recorded()
    ax = plot_energy_landscape(spectral, far, grid_size=41, extent=(-4, 4, -3, 3),
                               ax=_new_ax())
    np.testing.assert_array_equal(spectral.grid.min(axis=0), [-4, -3])
    np.testing.assert_array_equal(spectral.grid.max(axis=0), [4, 3])
    assert ax.get_xlim() == (-4, 4) and ax.get_ylim() == (-3, 3)
    for bad in [(1, 0, 0, 1), (0, 1, 0), (0, np.inf, 0, 1)]:
        with pytest.raises(ValueError, match="extent"):
            plot_energy_landscape(TwoWellSpectrum(), Z, extent=bad)


def test_bad_labels_and_levels_are_refused_before_drawing(two_clusters):
    from perturbvae.plotting import plot_well_rates

    Z, _ = two_clusters
    before = plt.get_fignums()
    for call in (lambda: plot_latent(Z, labels=np.zeros(5)),
                 lambda: plot_energy_landscape(TwoWellSpectrum(), Z, labels=np.zeros(5)),
                 lambda: plot_energy_landscape(TwoWellSpectrum(), Z, levels=0)):
        with pytest.raises(ValueError, match="labels|levels"):
            call()
    assert plt.get_fignums() == before  # no figure left open
    ax = _new_ax()
    with pytest.raises(ValueError, match="labels"):
        plot_energy_landscape(TwoWellSpectrum(), Z, labels=np.zeros(5), ax=ax)
    assert not ax.collections and not ax.images  # nothing drawn on the caller's axes

    class Rates(TwoWellSpectrum):
        rate_matrix_ = np.array([[-1.0, 1.0], [1.0, -1.0]])
        stationary_distribution_ = np.array([0.5, 0.5])

        def predict_proba(self, Z):
            return np.c_[Z[:, 0] < 0, Z[:, 0] >= 0].astype(float)

    ax = _new_ax()
    with pytest.raises(ValueError, match="labels"):
        plot_well_rates(Rates(), Z, labels=np.zeros(5), ax=ax)
    assert not ax.collections


def test_missing_and_ordered_labels():
    rng = np.random.RandomState(1)
    Z = rng.normal(size=(60, 2))
    # NaN among three float classes: a legend with the missing ones named, not a colour bar
    y = np.tile([0.0, 1.0, 2.0, np.nan], 15)
    ax = plot_latent(Z, y, ax=_new_ax())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["0.0", "1.0", "2.0", "(missing)"]
    # None among text classes had raised a TypeError while sorting
    ax = plot_latent(Z, np.tile(np.array(["a", None, "b"], dtype=object), 20), ax=_new_ax())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "(missing)"]
    # an ordered categorical keeps its order
    pd = pytest.importorskip("pandas")
    cat = pd.Categorical(np.tile(["lo", "hi"], 30), categories=["lo", "hi"], ordered=True)
    ax = plot_latent(Z, cat, ax=_new_ax())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lo", "hi"]


def test_plot_spectrum_names_what_it_was_given():
    from sklearn.decomposition import PCA

    fitted = PCA(2).fit(np.random.RandomState(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="no energies_"):  # said to be "not fitted yet"
        plot_spectrum(fitted)
    with pytest.raises(ValueError, match="n_levels"):  # a bare TypeError from a slice
        plot_spectrum(TwoWellSpectrum(), n_levels=2.5)


def test_well_rates_colour_wells_as_the_latent_plot_does():
    # the wells' numbers as text sorted 0, 1, 10, 11, 2, ...: wells 2-11 took other colours
    from sklearn.datasets import make_blobs

    from perturbvae import SpectralDegeneracy
    from perturbvae.plotting import plot_well_rates

    Z, _ = make_blobs(1200, centers=np.c_[np.arange(12) % 4, np.arange(12) // 4] * 8.0,
                      random_state=0)
    sd = SpectralDegeneracy(n_wells=12, random_state=0).fit(Z)
    rates = _class_colours(plot_well_rates(sd, Z, grid_size=20, ax=_new_ax()))
    latent = _class_colours(plot_latent(Z, sd.labels_, ax=_new_ax()))
    assert len(rates) == 12 and rates == latent
