"""Warnings on a fit's wells and rates: what the samples could not show, said.

Each function reads fitted values and warns where the fit could not measure what it returns:
zero rates that are floors, extrapolated or thinly sampled barriers, wells no sample belongs
to, weights the landscape smooths away, rows whose repeats make atoms. The estimator sets
``rates_error_bound_`` to inf where a warning says the rates have no bound
(:func:`separate_components`, and :func:`unvisited_barriers`, which returns whether it warned).
"""

import numpy as np

from .._warn import PerturbvaeWarning, RatesWarning, warn_user
from . import _graph, _wells
from . import _samples as _rows
from ._rates import rate_groups


def repeats(samples, n, steps):
    """Say how repeated rows are read (see :class:`~._samples.SampleIndex`)."""
    n_distinct = len(samples.distinct)
    if samples.atoms:
        warn_user(
            f"Z repeats its points ({n_distinct} distinct of {n} rows, unevenly): its "
            "density has atoms (rounded or discrete values, or rows copied many times). "
            "Each value is spread uniformly over its rounding cell, of width "
            f"{np.array2string(steps, max_line_width=200, formatter={'float_kind': _g3})} "
            "per column (the coarsest grid its values lie on, else the smallest gap between "
            "them), and the energies and wells are those of that histogram density.")
    elif samples.tiled:
        warn_user(
            f"Z is a data set of {samples.n_eff} rows repeated {samples.multiplicity} times: "
            "read as that data set (a data set repeated k times has the same density).")
    # a few copies only raise the density near them; a group of more than the graph's
    # K_SCALE identical rows has its points' density read at distance 0: an atom (in two
    # wells of 1,000 points, 8 or 16 copies of a row left the count at 2, 20 or 30 copies
    # were a third well)
    if samples.largest_repeat > _graph.K_SCALE and not samples.atoms:
        warn_user(
            f"{_copies(samples)}: every row is kept, and a group of more than {_graph.K_SCALE} "
            "identical rows is an atom of the density (its points' nearest neighbours all "
            "lie at distance 0), which can be read as a well of its own. Drop or jitter the "
            "copies if they are not states of the data (defaults, imputed values).")


def disagreement(k, resampled):
    """The other counts of the ``resampled`` ones, in words (``"2 or 4"``), and how many
    resamples read them; ``("", 0)`` where all read ``k``."""
    resampled = np.asarray(resampled)
    others = sorted(set(int(r) for r in resampled) - {int(k)})
    return " or ".join(map(str, others)), int(np.sum(resampled != k))


def uncertain_count(k, resampled):
    """Resampled counts that differ from the count: said, with the alternatives."""
    others, n_off = disagreement(k, resampled)
    if n_off:
        states = " or ".join(map(str, sorted({int(k), *(int(r) for r in resampled)})))
        warn_user(
            f"The well count is uncertain: {k} wells on the samples, but {others} on "
            f"{n_off} of {len(resampled)} resamples of 80 % of them "
            f"(n_ground_states_resampled_={np.asarray(resampled).tolist()}). The data may "
            f"hold {states} states; pass n_wells if you know how many.")


def copies_change_the_count(k, k_distinct, samples):
    """The count with the repeated rows and without them differ: said."""
    warn_user(
        f"{_copies(samples)}, and they change the count: {k} wells with them, {k_distinct} "
        "on the distinct rows alone. Copies weigh as density where they are; drop or jitter "
        "them if they are not states of the data (duplicated records, defaults).")


def empty_wells(labels, memberships):
    """A well no sample belongs to most (``n_wells`` above the wells the data show: PCCA+
    then makes a fuzzy one) is said, with its largest membership."""
    k = memberships.shape[1]
    empty = np.flatnonzero(np.bincount(labels, minlength=k) == 0)
    if empty.size:
        top = memberships[:, empty].max(axis=0)
        warn_user(
            f"Well(s) {empty.tolist()} of the {k} hold no sample as their largest "
            f"membership (at most {np.round(top, 2).tolist()}): the data show fewer "
            "wells than n_ground_states_. Pass a smaller n_wells, or n_wells='auto'.")


def split_rates(rate_matrix, source):
    """Groups of wells with no rate between them (mean first passage times inf) are said: a
    connected density has some rate between any two wells."""
    n, groups = rate_groups(rate_matrix)
    if n > 1:
        text = groups_text([np.flatnonzero(groups == g) for g in range(n)])
        warn_user(
            f"rate_matrix_ has no rate between the groups of wells {text}, so "
            "mean_first_passage_times_ between them are inf: the rates there are below "
            f"what this fit resolves (ground_levels_source_={source!r}), not known to be "
            "0.", RatesWarning)


def separate_components(k, atoms=False):
    """Zero rates between wells no sample links are a floor, not a measurement: said (the
    caller sets the bound to inf). ``atoms``: Z has groups of identical rows large enough to
    be components of their own wherever they lie."""
    atom = (" A group of identical rows (said above) is a component of its own wherever it "
            "lies, inside the data's cloud too: its points' neighbours are at distance 0."
            if atoms else "")
    warn_user(
        f"The {k} wells lie in separate components of the samples' graph: no sample links "
        "them, so rate_matrix_ holds 0 between them (mean first passage times inf). Their "
        "rates are slower than the samples can show, not known to be 0; "
        f"rates_error_bound_=inf.{atom}", RatesWarning)


def weights_off_the_samples(stationary, chi):
    """The rate model's weights against the samples' shares of the wells."""
    share = chi.mean(axis=0)
    gap = float(np.max(np.abs(stationary - share)))
    if gap > _wells.WEIGHT_GAP:
        warn_user(
            f"The wells' weights of the rate model (stationary_distribution_="
            f"{np.round(stationary, 3).tolist()}) differ from the samples' shares of the "
            f"wells ({np.round(share, 3).tolist()}) by up to {gap:.2f}: wells of very "
            "different widths are smoothed unequally by the landscape (equal wells of widths "
            "0.1 and 3 read 0.3 / 0.7). The shares are memberships_.mean(axis=0).", RatesWarning)


def uncertain_rates(k, bound):
    """Rates whose measured bound exceeds what is trusted: said (barriers the samples do
    visit, but thinly; where none visits one, :func:`unvisited_barriers` says so instead)."""
    if bound > _wells.BOUND_RTOL:
        warn_user(
            f"The rates between the {k} wells are uncertain: resampling the data and "
            f"changing the density's smoothing move them by up to {bound:.0%} "
            f"(rates_error_bound_={bound:.2f}; trusted up to {_wells.BOUND_RTOL:.2f}). The "
            "samples hardly cover the barriers between the wells: more samples, or fewer "
            "dimensions, narrow it.", RatesWarning)


def uncertain_lumping(k, energies, bound):
    """A given number ``k`` of wells that lumps more of the density's wells: which of them
    lump together follows the order of ``energies[k - 1]`` and ``energies[k]``; said where
    the levels' relative error ``bound`` does not keep them apart (inf or nan: unmeasured).
    On deeptime's asymmetric quadruple well told 2 wells (5,000 samples, bound inf, 14
    draws), the x-split (the slower hop, exact ``E2 / E1 = 1.52``) was kept where the
    estimates read ``E2 / E1`` of 1.49-2.44; at 1.01 and 1.11 the wells split across y or
    lumped half of one well each way."""
    if k < 2:  # one state holds them all: nothing to choose
        return
    lo, hi = float(energies[k - 1]), float(energies[k])
    # apart where their ranges E (1 +- bound) do not overlap (nan, unmeasured: never)
    if not hi * (1.0 - bound) > lo * (1.0 + bound):
        told = "unmeasured" if np.isnan(bound) else f"{bound:.2g}"
        warn_user(
            f"n_wells={k} lumps the density's wells by its {k - 1} slowest level(s), but "
            f"energies_[{k - 1}] = {lo:.3g} and energies_[{k}] = {hi:.3g} are not apart "
            f"within the levels' error bound (rates_error_bound_={told}): which wells lump "
            "together is uncertain, and labels_ and the rates follow that choice.",
            RatesWarning)


def walk_hops_off(ratios, bound):
    """The landscape that :meth:`simulate` follows has slowest levels ``ratios`` times those
    that ``rate_matrix_`` is fitted to, beyond what is trusted and beyond their bound
    ``bound`` (``rates_error_bound_``; an infinite one is said already): said."""
    lo, hi = float(np.min(ratios)), float(np.max(ratios))
    allowed = _wells.BOUND_RTOL if np.isnan(bound) else max(_wells.BOUND_RTOL, bound)
    if not max(hi - 1.0, 1.0 / lo - 1.0) > allowed:
        return
    times = f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"
    warn_user(
        f"simulate follows the fitted landscape (potential's density), whose slowest "
        f"levels are {times} times energies_'s, to which rate_matrix_ is fitted "
        f"(rates_error_bound_={bound:.2f}): its walkers hop between the wells about that "
        "many times as often as rate_matrix_ says. The landscape is a mixture of "
        "Gaussians, one per well; the rates come from the samples' density near the "
        "barriers, which the mixture can model more steeply (or, with few samples, more "
        "closely): the two estimates disagree.", RatesWarning)


def unvisited_barriers(groups, source, tails="mixture"):
    """Rates across barriers that no sample visits are extrapolations: said, in the words of
    the rates' ``source`` (``ground_levels_source_``) and of the density that fills the
    barriers (``tails``: the wells' ``"mixture"`` or the ``"smooth"`` log p), for the
    ``groups`` of wells that the visited barriers join (:func:`._wells.unvisited_barriers`);
    True where so (the caller sets the bound to inf)."""
    if len(groups) < 2:
        return False
    if source == "samples":  # the landscape was not used: its extrapolation is not theirs
        what = ("the samples' spectrum reaching across a gap that no sample covers, not a "
                "measurement")
    elif tails == "smooth":
        what = ("the extrapolation of the smooth log p that potential() uses (a polynomial, "
                "whose held-out score beat the wells' mixture): close where log p is such a "
                "polynomial (deeptime's quadruple wells), not a measurement")
    else:
        what = ("the landscape's extrapolation of the wells' tails, close for Gaussian wells "
                "and orders of magnitude off for others (1e-7 to 1e-3 of the exact rate for "
                "wells of p ~ exp(-(x^2 - 4)^2 / 2))")
    warn_user(
        f"The samples hardly reach the barriers between the wells {groups_text(groups)} "
        f"(fewer than {_wells.MIN_CROSSING_SAMPLES} samples belong to both sides at 20 % "
        "or more of their membership): "
        f"the rates across them are {what}; rates_error_bound_=inf.", RatesWarning)
    return True


# Columns of at most this many distinct values are discrete (0/1 flags, -1/0/1 codes).
_FEW_VALUES = 4
# A well whose rows all hold one value of a column that varies in Z is that value's sheet
# where it holds at least this share of the rows with the value. Boston (13 columns,
# standardised): its river flag's well held 100 % of chas = 1, its other sheet 94 % of
# rad = 24, tax = 666 and indus = 18.1 and 89 % of ptratio = 20.2, the third well 74 % of
# chas = 0; the 13 wells of digits' 64 pixels each hold one value of 5 to 16 pixels, and at
# most 20 % of that value's rows (an empty pixel of a class is empty in other classes too).
_SHEET_SHARE = 0.85
# A well holds one value of a column where at least this share of its rows do: a stray row
# hid BudgetFood's fifth town well (502 of its 503 rows on town 2).
_SHEET_PURITY = 0.98


class FlagColumnWells(PerturbvaeWarning):
    """Wells that are the values of a column (:func:`discrete_columns`,
    :func:`sheet_wells`): a category of its own, so that callers who silence the fit's
    warnings can pass this one on."""


def discrete_columns(Z, labels, names):
    """Wells that are the values of columns of few distinct values are said: a 0/1 column
    cuts the density into sheets apart, whatever the other columns hold (diabetes' sex column
    made its 2 wells, standardised with the rest); where not every well is, the wells that
    are a value's sheet (:func:`sheet_wells`). ``names`` names the columns."""
    used = np.unique(labels)
    if used.size < 2 or _rows.is_dask(Z):
        return
    head = Z[:2000]  # most columns are not discrete: read them on a few rows first
    cols = [j for j in range(Z.shape[1]) if np.unique(head[:, j]).size <= _FEW_VALUES
            and 1 < np.unique(Z[:, j]).size <= _FEW_VALUES]
    if len(cols) == Z.shape[1]:  # no continuous column: the atoms are the data (see repeats)
        return
    for group in [[j] for j in cols] + ([cols] if len(cols) > 1 else []):
        cells, cell = np.unique(Z[:, group], axis=0, return_inverse=True)
        # each combination of values in one well: the wells are unions of those sheets (a
        # few sheets per well; many combinations in few wells say nothing of the columns)
        if len(cells) <= 2 * used.size and np.unique(
                cell.ravel() * (labels.max() + 1) + labels).size == len(cells):
            named = ", ".join(str(names[j]) for j in group)
            warn_user(
                f"The wells are the values of column(s) {named} alone ({len(cells)} "
                "combinations of values): a column of a few distinct values cuts the "
                "density into sheets apart, whatever the other columns hold. Leave it out "
                "to read wells of the other columns.", FlagColumnWells)
            return
    sheet_wells(Z, labels, names, cols)


def sheet_wells(Z, labels, names, few=()):
    """Wells that hold one value of a column that varies in ``Z`` (all but
    :data:`_SHEET_PURITY` of their rows), and at least :data:`_SHEET_SHARE` of the rows with
    that value, are said: they are that value's sheet of the density, with no width along
    the column (Boston's river flag and its block of rows sharing rad, tax and indus were two
    of its three wells, said by nothing); so are the columns of few values (``few``) on one
    value of which every well lies (Fishing's 18 wells, each on one of cbeach's 4 values)."""
    varies = np.ptp(Z, axis=0) > 0
    sheets, points = {}, {}
    pure_everywhere, values = np.ones(Z.shape[1], dtype=bool), []
    for k in np.unique(labels):
        rows = Z[labels == k]
        value = np.median(rows, axis=0)  # the value most rows hold, where one is
        pure = varies & (np.mean(rows == value, axis=0) >= _SHEET_PURITY)
        pure_everywhere &= pure
        values.append(value)
        cols = [j for j in np.flatnonzero(pure) if np.count_nonzero(rows[:, j] == value[j])
                >= _SHEET_SHARE * np.count_nonzero(Z[:, j] == value[j])]
        if cols and len(cols) == np.count_nonzero(varies):  # one row, copied: an atom
            points[int(k)] = (int(np.all(rows == value, axis=1).sum()),
                              ", ".join(f"{value[j]:.4g}" for j in cols))
        elif cols:
            sheets[int(k)] = ", ".join(f"{_column(names, j)} = {value[j]:.4g}" for j in cols)
    # ... on values that differ between wells: digits' edge pixels, empty in 98 % of every
    # well's rows, lie on one value in each of its 13 wells, the same one
    apart = np.ptp(np.array(values), axis=0) > 0
    across = [str(names[j]) for j in few if pure_everywhere[j] and apart[j]]
    said = []
    if sheets:
        text = "; ".join(f"well {k}: {named}" for k, named in sheets.items())
        said.append(f"Well(s) {list(sheets)} hold one value of a column that varies in Z, "
                    f"and most of the rows with that value ({text}).")
    if across:
        said.append(f"Every well lies on one value of column(s) {', '.join(across)}, of a "
                    "few values each.")
    if said:
        warn_user(
            " ".join(said) + " Such wells are sheets of the density, with no width along "
            "those columns, and rows that share a value lie apart from the others whatever "
            "the other columns hold. Leave such columns out to see whether the other "
            "columns show these wells.", FlagColumnWells)
    if points:
        text = "; ".join(f"well {k}: {n} copies of the row ({row})"
                         for k, (n, row) in points.items())
        warn_user(
            f"Well(s) {list(points)} are mostly one row copied many times ({text}): an atom "
            "of the density, which is a well of its own. Drop or jitter the copies if they "
            "are not states of the data (defaults, imputed values).", FlagColumnWells)


def _g3(value):
    """Three significant digits: a UMAP's float32 gaps of 1e-4 had printed as ``0.``."""
    return f"{value:.3g}"


def _column(names, j):
    """Column ``j`` by its name, or ``column j`` where the columns have no names."""
    return names[j] if isinstance(names[j], str) else f"column {names[j]}"


def _copies(samples):
    """How many rows of ``samples`` repeat others, for messages."""
    return (f"Z repeats some of its rows ({samples.n_eff - len(samples.distinct)} of "
            f"{samples.n_eff} rows are copies of others, up to {samples.largest_repeat} of "
            "one row)")


def groups_text(groups):
    """``{0, 2} | {1}``: groups of wells, for messages."""
    return " | ".join("{" + ", ".join(map(str, g)) + "}" for g in groups)
