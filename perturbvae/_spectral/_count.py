"""The well count: how many metastable states the samples hold, and how sure that is.

Two readings of a pilot subsample, both in whitened coordinates (so that units, rotations
and shifts of ``Z`` change neither the count nor the wells):

- **density**: the variable-bandwidth graph of :mod:`._graph`, the generator of the Langevin
  diffusion on ``p``: each connected component is a well at least, and inside a component
  the wells are the levels below the last relative gap above 6
  (:func:`._multiplets.ground_multiplet`): wells whose mutual rates are much slower than any
  motion inside them. Groups the graph isolates are outliers, not wells. Read in two frames
  (the whitened one and the one whitened by its wells' own spread), the most wells either
  reads; where both and the neighbourhoods (below) read one, in a third, whitened within
  narrow bins of the first's slowest mode, and where that reads one too, on the whitened
  frame's core (without its farthest rows: heavy tails have slow modes of their own).
- **neighbourhoods**, where the density reads one well: the slow modes of a random walk on
  the k-nearest-neighbour graph below those of one cloud of the same local dimension
  (:mod:`._neighbourhoods`): groups that the neighbourhoods keep apart though the density
  between them does not vanish (classes of a VAE embedding, whose KL term pulls them
  together).

A user who knows the number of states passes it (``n_wells``). Resamples of the pilot give
the count's uncertainty.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from sklearn.neighbors import NearestNeighbors

from . import _graph
from . import _neighbourhoods as _nb
from . import _samples as _rows
from ._multiplets import GAP_RATIO, shows_gap
from ._pcca import memberships, pcca

# Pilot graph of the count: samples, levels solved, resamples and their size.
PILOT_SAMPLES = 2000
PILOT_LEVELS = 16
N_RESAMPLES = 4
RESAMPLE_FRACTION = 0.8
# The graph needs each point's K_SCALE neighbours and room for a few components.
MIN_SAMPLES = 50
# A given number's neighbourhood states are kept where each has at least this share of its
# points in one of the wells the data show. Told 3, wine's states held 94-100 % (its classes,
# ARI 0.91; cut inside its 2 wells instead, 0.84); two Gaussian blobs 5 apart 56 % and 84 %
# on two of four draws (a state across both blobs, which are 0.6 % apart at most), cut inside
# them 98-99 %. Told 4, wine's held 89.5 % (ARI 0.69; cut inside, 0.71).
NEST_SHARE = 0.9
# Rows per nearest-neighbour query when outliers are mapped to all rows.
_EVAL_ROWS = 65536
# The third frame's bins of the slowest eigenfunction: as many as the levels the count reads
# (PILOT_LEVELS), each of at least this many points (a spread from fewer is noise: wine's
# 178 rows in 16 bins read 2 wells that no resample kept).
_MIN_BIN = 100
# The share of the pilot, farthest from its mean first, that leaves the core where every
# reading (the frames, the neighbourhoods) sees one well. Heavy tails have slow modes of
# their own (a density falling as a power of the distance has no spectral gap): two t(2)
# clusters 12 apart in 2-d had levels 1, 1.21, 1.43, ... times the hop's, one well, every
# resample agreeing; without their farthest 5 % they read 2 (ARI 0.89-0.97; t(1.5) 12
# apart 0.88), while single t(1), t(1.5), t(2), Laplace, log-normal and exponential clouds,
# squares and intervals still read one. Left out by their sparseness instead (distance to
# their neighbours), random points inside a uniform interval left gaps: 2 wells.
TAIL_SHARE = 0.05


@dataclass
class Pilot:
    """The pilot subsample the count was read on: its whitening (``(Z - mean) @ matrix``,
    local re-whitening included) and its points in that frame, where the neighbourhoods are
    read; the density graph that counted and the frame it was read in (the whitened one or
    the wells' own); the neighbourhood graph's levels once solved."""

    mean: np.ndarray
    matrix: np.ndarray
    points: np.ndarray
    density: _graph.GraphModel
    density_frame: tuple
    levels: _nb.GraphLevels = None
    # the density graph and frame that count without a given number (where one is given and
    # another frame backs it, that one is ``density``): the density's own wells
    own: tuple = None

    @property
    def n_neighbors(self):
        """Degree of the neighbourhood graph."""
        return min(_nb.N_NEIGHBORS, len(self.points) - 1)

    def neighbourhood_levels(self, knn=None):
        """Levels of the pilot's neighbourhood graph (solved once)."""
        if self.levels is None:
            self.levels = _nb.graph_levels(self.points, self.n_neighbors, knn=knn)
        return self.levels


@dataclass
class WellCount:
    """A well count.

    ``n_wells`` is None below :data:`MIN_SAMPLES` distinct samples (the caller then reads
    the gap of its own levels); ``gap`` is the separation that decided it (a ratio of levels,
    > 1); ``reading`` says which reading decided (``"density"``, ``"neighbourhoods"`` or
    ``"given"``); ``resampled`` holds the counts on resamples; ``outliers`` masks the rows that
    are outliers (None if there is none); ``pilot`` is what the wells' memberships are built
    from (:class:`Pilot`); ``reduction`` is a given number's wells as the density's
    reduction (:func:`_reduction`), None where they are not; ``finer`` are then its wells
    (:func:`_finer_wells`).
    """

    n_wells: int = None
    gap: float = np.nan
    reading: str = "density"
    resampled: np.ndarray = None
    outliers: np.ndarray = None
    pilot: Pilot = field(default=None, repr=False)
    reduction: "DensityWells" = field(default=None, repr=False)
    finer: _nb.NeighbourhoodWells = field(default=None, repr=False)


def count_wells(Z, samples, n_levels, seed, n_wells="auto", n_jobs=None,
                n_resamples=N_RESAMPLES, redraw=None):
    """The :class:`WellCount` of ``Z`` read through its :class:`~._samples.SampleIndex`;
    ``n_resamples`` of them give its uncertainty (0: the count alone). ``redraw(i, rows)``,
    where ``Z`` holds random draws (rounded values spread over their cells), gives those rows
    of ``Z`` drawn again: each resample is then counted whole on its own draw
    (:func:`_redrawn_counts`)."""
    count, idx, picks = _count_pilot(Z, samples, n_levels, seed, n_wells, n_jobs, n_resamples)
    if redraw is not None and picks is not None and count.reading != "given":
        count.resampled = _redrawn_counts(redraw, idx, picks, n_levels, seed, n_jobs)
    return count


def _redrawn_counts(redraw, idx, picks, n_levels, seed, n_jobs):
    """The counts of the pilot's rows ``idx[p]`` for each resample ``p`` of ``picks``, each
    on its own draw of the data (``redraw(i, rows)``), read whole (every reading, not only the
    one that counted). Read on the same draw, the resamples shared its noise: sat.act's
    rounded scores read 2 wells on every resample of one draw, while other draws (another
    ``random_state``, the columns in another order, the data's sign turned) read 1, 2 or 3,
    their wells 0.5-0.95 ARI apart."""
    counts = []
    for i, p in enumerate(picks):
        Zi = redraw(i, idx[p])
        counts.append(_count_pilot(Zi, _rows.index_samples(Zi), n_levels, seed, "auto",
                                   n_jobs, 0)[0].n_wells)
    return np.array(counts)


def _count_pilot(Z, samples, n_levels, seed, n_wells, n_jobs, n_resamples):
    """:func:`count_wells` on the one draw ``Z``, with the pilot's rows (indices of ``Z``)
    and the resamples read (indices of the pilot; None where none were)."""
    n = Z.shape[0]
    if len(samples.sample_order) < MIN_SAMPLES:
        if n_wells == "auto":
            return WellCount(), None, None
        return (WellCount(int(n_wells), reading="given", resampled=np.array([int(n_wells)])),
                None, None)
    rs = np.random.RandomState(seed)
    m = min(len(samples.sample_order), PILOT_SAMPLES)
    idx = samples.subsample(m, rs)
    sub = _rows.take(Z, idx)
    mean, M, X = _nb.frame(sub, min(_nb.N_NEIGHBORS, m - 1))
    n_levels = max(n_levels, PILOT_LEVELS)
    m_resample = int(RESAMPLE_FRACTION * m)
    # the core's reading is checked on resamples even where none is asked (the count alone,
    # n_resamples=0, must read what the fit reads: the copies' check compares the two)
    draws = None if n_wells != "auto" or m_resample < MIN_SAMPLES else [
        np.sort(rs.choice(m, m_resample, replace=False))
        for _ in range(n_resamples or N_RESAMPLES)]
    picks = None if draws is None else draws[:n_resamples]
    # with resamples to read, the binned frame waits for the neighbourhoods: where they read
    # wells, it is not solved (a tenth of a second of a 10-d fit's 0.5 s)
    frames, graphs, known = _density_in_frames(mean, M, X, n_levels, n_jobs,
                                               binned=draws is None)
    count, X = _density_count(Z, idx, sub, m == n, frames, graphs, n_wells, n_jobs)
    if n_wells != "auto":  # the user's number: no uncertainty to resample
        count.n_wells, count.reading = int(n_wells), "given"
        count.resampled = np.array([count.n_wells])
        count.reduction = _reduction(count.pilot, count.n_wells, sub)
        if count.reduction is None:
            count.finer = _finer_wells(count.pilot, count.n_wells, sub, seed)
        return count, idx, None
    if picks is None:
        # resamples below the count's own minimum read one well for want of samples (3
        # blobs 100 apart: [1, 1, 1, 1] at 50 samples), not for an uncertain count
        count.resampled = np.array([count.n_wells])
        return count, idx, None
    if count.n_wells == 1:
        _read_neighbourhoods(count, picks, known)
        if count.n_wells == 1 and _binned_frame(frames, graphs, n_levels, n_jobs):
            count, X = _density_count(Z, idx, sub, m == n, frames, graphs, n_wells, n_jobs)
        elif count.n_wells == 1 and _read_core(count, draws, n_levels, n_jobs, n_resamples):
            return count, idx, picks
    if count.reading == "density":  # resampled in the frame that counted
        count.resampled = np.array([_graph.fit_graph(X[p], n_levels, n_jobs=n_jobs).n_wells
                                    for p in picks])
    return count, idx, picks


def _density_count(Z, idx, sub, whole, frames, graphs, n_wells, n_jobs):
    """The density's :class:`WellCount` of the pilot ``sub`` (rows ``idx`` of ``Z``; ``whole``:
    all of them) from its ``graphs`` in ``frames`` (:func:`_density_in_frames`), and the
    points of the frame that counts (:func:`_counting_frame`)."""
    best = _counting_frame(graphs, n_wells)
    (mean, M, X), density = frames[best], graphs[best]
    # an isolated group is an outlier in whichever frame isolates it: 7 points 12 apart from
    # 72 were linked to them in the whitened frame (whose whitening they had squeezed)
    isolated = np.logical_or.reduce([g.outliers for g in graphs])
    outliers = _outliers_of_all_rows(Z, idx, sub, isolated, whole, n_jobs)
    # the neighbourhoods are read in the whitened frame
    own = _counting_frame(graphs, "auto")
    pilot = Pilot(*frames[0], density, (mean, M), own=(graphs[own], frames[own][:2]))
    return WellCount(density.n_wells, density.gap, "density", None, outliers, pilot), X


def _density_in_frames(mean, M, X, n_levels, n_jobs, binned=True):
    """The density graph of the pilot ``X`` (whitened by ``(mean, M)``) in that frame, in
    the frame whitened by its wells' own spread and (``binned``; else later, by
    :func:`_binned_frame`), where both read one well and a third reads more, in the frame
    whitened within bins of its slowest mode: the frames, the graphs, and the first frame's
    neighbour lists."""
    # the density in the whitened frame, then in the frame whitened by the wells' own
    # spread: whitening by the total covariance squeezes the direction along which wells
    # lie apart (two clusters 6 apart beside a third 40 away read as two); both frames come
    # from the data alone, so units, rotations and shifts change neither. A second frame
    # counts only with a gap of its own: a single Gaussian split in halves and stretched
    # is still one well (its ladder has no gap).
    frames = [(mean, M, X)]
    first, known = _graph.fit_graph(X, n_levels, n_jobs=n_jobs, return_neighbours=True)
    graphs = [first]
    W = _within_well_whitening(X, graphs[0])
    if W is not None:
        frames.append((mean, M @ W, X @ W))
        graphs.append(_graph.fit_graph(X @ W, n_levels, n_jobs=n_jobs))
    if binned:
        _binned_frame(frames, graphs, n_levels, n_jobs)
    return frames, graphs, known


def _binned_frame(frames, graphs, n_levels, n_jobs):
    """Where every frame's graph reads one well, the density graph in a frame whitened by
    the spread within narrow bins of the first's slowest mode, added to ``frames`` and
    ``graphs`` where it reads more: whether it was. Wells in a row beside another axis (4
    unit Gaussians 5 apart in 2-d) are squeezed along the row by the total whitening and by
    the halves' (two wells each) until the other axis's level sits among the hops: one
    well, all resamples agreeing (exact gap ratio 11.8); a bin is narrower than a well.
    Connected shapes (Gaussians, rings, boxes, rolls) read one well in it too."""
    mean, M, X = frames[0]
    W = _binned_whitening(X, graphs[0]) if max(g.n_wells for g in graphs) == 1 else None
    if W is None:
        return False
    third = _graph.fit_graph(X @ W, n_levels, n_jobs=n_jobs)
    if third.n_wells == 1:
        return False
    frames.append((mean, M @ W, X @ W))
    graphs.append(third)
    return True


def _counting_frame(graphs, n_wells):
    """The index of the frame whose graph counts: the one reading the most wells (ties: the
    first), or for a given number the first whose levels back it (:func:`backs`), if one
    does: two unit Gaussians 4 apart in 2-d (600 samples) have E2 / E1 = 1.9 in the total
    whitening, which squeezes their axis, and 5.2 in the wells' own (exact in the data's
    units: 8.4)."""
    best = int(np.argmax([g.n_wells for g in graphs]))
    if n_wells != "auto" and not backs(graphs[best], int(n_wells)):
        best = next((i for i, g in enumerate(graphs) if backs(g, int(n_wells))), best)
    return best


def _read_core(count, picks, n_levels, n_jobs, n_resamples):
    """Where every reading saw one well: the density of the whitened pilot's core
    (:func:`_core_graph`; heavy tails' slow modes can fill the gap above the hops), kept in
    ``count`` where it reads more and most of its resamples ``picks`` agree
    (:func:`_stable_core`; the first ``n_resamples`` become the count's). Whether it was
    kept. Read last, so that it changes no count that another reading makes: four
    heavy-tailed clusters in 5-d that the neighbourhoods read right read 2 on the core."""
    X = count.pilot.points
    core = _core_graph(X, n_levels, n_jobs)
    resampled = _stable_core(core.n_wells, X, picks, n_levels, n_jobs) if core.n_wells > 1 \
        else None
    if resampled is None:
        return False
    count.n_wells, count.gap, count.resampled = core.n_wells, core.gap, resampled[:n_resamples]
    count.pilot.density = core
    count.pilot.density_frame = (count.pilot.mean, count.pilot.matrix)
    return True


def _stable_core(k, X, picks, n_levels, n_jobs):
    """The counts of the core's reading (``k`` wells) on the resamples ``picks`` of the
    pilot ``X``, or None where at most half of them read ``k``: a connected shape's core
    can show a gap by chance (a cross of four arms, 300 points: 5 wells, resamples 5, 1, 5,
    1), heavy-tailed clusters' does on every resample."""
    counts = np.array([_core_graph(X[p], n_levels, n_jobs).n_wells for p in picks])
    return counts if np.mean(counts == k) > 0.5 else None


def _core_graph(X, n_levels, n_jobs):
    """The density graph of the rows of ``X`` but the farthest :data:`TAIL_SHARE` from
    their mean (the tails); the others are neither its points nor its outliers."""
    r = np.sqrt(np.sum((X - X.mean(axis=0)) ** 2, axis=1))
    core = np.flatnonzero(r <= np.quantile(r, 1.0 - TAIL_SHARE))
    return _graph.fit_graph(X, n_levels, n_jobs=n_jobs, rows=core)


def _within_well_whitening(X, density):
    """The map that whitens the pooled covariance of the points around their wells' means
    (wells of the density graph ``density`` on ``X``; for one well, the two halves of its
    slowest mode: two wells 4 widths apart along the data's longest axis read as one after
    the total covariance's whitening, and as two after their halves'), or None."""
    k = max(density.n_wells, 2)
    if k > density.psi.shape[1]:
        return None
    chi, _, _ = pcca(density.psi[:, :k], optimize=False)
    return _pooled_whitening(X, density.kept, np.argmax(chi, axis=1), k)


def _binned_whitening(X, density):
    """The map that whitens the pooled covariance of the points around the means of equal
    bins of the density graph's slowest eigenfunction (at most :data:`PILOT_LEVELS`, each of
    :data:`_MIN_BIN` points or more), or None where fewer than 3 bins fit."""
    n_bins = min(PILOT_LEVELS, len(density.kept) // _MIN_BIN)
    if n_bins < 3 or density.psi.shape[1] < 2:
        return None
    psi1 = density.psi[:, 1]
    labels = np.searchsorted(np.quantile(psi1, np.linspace(0, 1, n_bins + 1)[1:-1]), psi1)
    return _pooled_whitening(X, density.kept, labels, n_bins)


def _pooled_whitening(X, kept, labels, k):
    """The map that whitens the pooled covariance of the ``kept`` points of ``X`` around
    the means of their groups ``labels`` (``0..k-1``), scaled to a unit rms radius; None
    where that covariance is singular."""
    Xk = X[kept]
    R = Xk - np.stack([Xk[labels == j].mean(axis=0) if np.any(labels == j) else
                       np.zeros(X.shape[1]) for j in range(k)])[labels]
    w, U = np.linalg.eigh(R.T @ R / len(R))
    if w.min() <= 1e-12 * w.max():
        return None
    T = U / np.sqrt(w)
    return T / np.sqrt(np.mean(np.sum((X @ T) ** 2, axis=1)))  # unit rms radius


def _read_neighbourhoods(count, picks, known=None):
    """The neighbourhood reading, kept where it finds wells the density does not (it needs
    local dimension 4 or more: below, the graph is not solved); resampled on the pilot's rows
    ``picks``. ``known``: the pilot's neighbour lists in the same frame, if at hand (the
    density graph's: a fresh query per resample was a quarter of a 10-d fit)."""
    pilot = count.pilot
    k_nn = pilot.n_neighbors
    knn = _nearest_of(known, None, k_nn) or _nb.neighbours(pilot.points, k_nn)
    if _nb.local_dimension(knn[0]) < _nb.NULL_MIN_DIM:
        return
    k, ratio = _nb.null_count(pilot.neighbourhood_levels(knn))
    if k > 1:
        count.n_wells, count.gap, count.reading = k, ratio, "neighbourhoods"
        # the same share of neighbours on a resample: the same neighbourhood radius. With
        # all 10 on 80 % of the points the radius grew and the counts fell (6, 6, 7, 6 where
        # the pilot read 10 on an 8-d VAE embedding of digits; 9, 9, 9, 9 with 8)
        k_resample = max(2, int(round(k_nn * RESAMPLE_FRACTION)))
        count.resampled = np.array([
            _nb.null_count(_nb.graph_levels(pilot.points[p], k_resample,
                                            knn=_nearest_of(known, p, k_resample)))[0]
            for p in picks])


def _nearest_of(known, rows, k):
    """Distances and indices of the ``k`` nearest others of each of ``rows`` (sorted; None:
    all points) among ``rows``, read from the pilot's ``known`` neighbour lists (sorted by
    distance): the first ``k`` of a point's list that are in ``rows`` are its nearest there,
    where at least ``k`` are (ties aside). None where ``known`` is None or a list runs out."""
    if known is None:
        return None
    dist, ind = known
    if rows is None:
        return (dist[:, :k], ind[:, :k]) if ind.shape[1] >= k else None
    pos = np.full(len(ind), -1)
    pos[rows] = np.arange(len(rows))
    sub = pos[ind[rows]]
    inside = sub >= 0
    if np.any(inside.sum(axis=1) < k):
        return None
    cols = np.argsort(~inside, axis=1, kind="stable")[:, :k]
    return (np.take_along_axis(dist[rows], cols, axis=1),
            np.take_along_axis(sub, cols, axis=1))


def fine_count(count):
    """The density's own :class:`WellCount` where a given number of wells is not its
    reading; else ``count``. The fit then reads the density's wells, their levels and their
    landscape first, whatever number is given, and the given wells follow from them: fewer
    lump the density's (:func:`~._wells.lumped_rates`; cut into the given number on the
    density graph instead, deeptime's asymmetric quadruple well told 2 wells split across
    its faster hop, its hop 0.1-0.4 of exact); more, which its levels do not back (no
    :attr:`WellCount.reduction`), are finer states (:attr:`WellCount.finer`), whose rates
    no level of ``p`` separates (four Gaussian wells told 5: the graph's sampled levels
    instead of the landscape's, ``energies_[1]`` 2.8 times exact)."""
    if count.reading != "given" or count.pilot is None or count.pilot.own is None:
        return count
    density, frame = count.pilot.own
    if (density.n_wells == count.n_wells
            or (density.n_wells < count.n_wells and count.reduction is not None)):
        return count
    pilot = dataclasses.replace(count.pilot, density=density, density_frame=frame)
    return WellCount(density.n_wells, density.gap, "density", np.array([density.n_wells]),
                     count.outliers, pilot)


def backs(density, k):
    """Whether the density graph's levels back ``k`` wells: its own count is ``k`` or more
    (``k`` wells are then its ``k``-state reduction: PCCA+ on the ``k`` slowest
    eigenfunctions; on deeptime's triple well, n_wells=2 split the shallow well between the
    deep ones by the mirror symmetry, where the neighbourhood graph's states gave 0.53 / 0.47
    and no rate bound), or its levels show a gap above the ``k``-th at half the count's
    ratio (the triple well's pilot read 2 on some draws, its shallow well's level alone
    against the next; E[3] / mean(E[1:3]) was 6.6-14 there, and 1.4-2.1 where the density
    has no valleys: wine, iris, digits and their embeddings)."""
    return backing_ratio(density, k) is not None


def backing_ratio(density, k):
    """The gap ratio at which the density graph's levels back ``k`` wells (see
    :func:`backs`): the count's own where it reads ``k`` or more, half of it where only a
    gap above the ``k``-th level does; None where they do not back them."""
    E = density.energies
    if k <= density.n_wells:
        return GAP_RATIO
    if k < len(E) and shows_gap(E[:k], E[k], GAP_RATIO / 2):
        return GAP_RATIO / 2
    return None


def density_ratio(count):
    """The gap ratio a spectrum of ``p`` must show above the ``count``'s wells: they are
    the density's (read by it, or given and its reduction); None where no spectrum of ``p``
    has a gap there (wells only the neighbourhoods separate, or a given number whose wells
    are the neighbourhoods' states)."""
    if count.reading == "density":
        return GAP_RATIO
    if count.reading == "given" and count.reduction is not None:
        return backing_ratio(count.pilot.density, count.n_wells)
    return None


def well_memberships(count, k, seed, Z):
    """Memberships of ``k`` wells at any points, from the graph whose reading decided the
    count (in the count's whitened metric, so units do not change them): PCCA+ on the
    density graph's slow eigenvectors (:class:`DensityWells`), or the neighbourhood graph's
    states (:class:`~._neighbourhoods.NeighbourhoodWells`) where only the neighbourhoods see
    the wells, or where a given number is not the density's reduction (:func:`_reduction`).
    Returns the map and the memberships of ``Z``."""
    pilot = count.pilot
    wells = None
    if count.reading == "given":
        wells = next((w for w in (count.reduction, count.finer)
                      if getattr(w, "n_wells", None) == k), None)
    elif count.reading == "density" and k <= pilot.density.psi.shape[1]:
        wells = _density_wells(pilot, k)
    if wells is None:
        wells = _nb.fit_neighbourhood_wells(pilot.mean, pilot.matrix, pilot.points,
                                            pilot.neighbourhood_levels(), k, seed)
    return wells, wells.memberships(Z)


def _density_wells(pilot, k):
    """PCCA+ on the pilot density graph's ``k`` slowest eigenvectors."""
    _, A, T = pcca(pilot.density.psi[:, :k])
    return DensityWells(*pilot.density_frame, pilot.density, T @ A)


def _reduction(pilot, k, rows):
    """A given number's wells as the density's ``k``-state reduction, where its levels back
    them (:func:`backs`) and each holds some of the pilot's ``rows`` as its largest
    membership; else None. A slow mode on one outlying point is not a state the data back
    (survey told 2 wells gave wells of 0 and 169 rows; a Gaussian with one point 6 away,
    0 and 170)."""
    if not backs(pilot.density, k) or k > pilot.density.psi.shape[1]:
        return None
    wells = _density_wells(pilot, k)
    held = np.unique(np.argmax(wells.memberships(rows), axis=1)).size
    return wells if held == k else None


def _finer_wells(pilot, k, rows, seed):
    """A given number ``k`` of wells that is not the density's reduction: the neighbourhood
    graph's ``k`` states where each lies within one of the wells the data show (at least
    :data:`NEST_SHARE` of its points), else finer groups inside those wells
    (:func:`~._neighbourhoods.split_wells`). The wells shown: the most of the density's
    reductions to fewer wells (:func:`_reduction`) or of the neighbourhoods' states."""
    levels = pilot.neighbourhood_levels()
    states = _nb.fit_neighbourhood_wells(pilot.mean, pilot.matrix, pilot.points, levels, k,
                                         seed)
    shown = _nb.null_count(levels)[0]
    if shown >= k:
        return states
    base = np.zeros(len(states.labels), dtype=int)
    for j in range(k - 1, shown, -1):
        wells = _reduction(pilot, j, rows) if j > 1 else None
        if wells is not None:
            base = np.argmax(wells.memberships(rows[levels.kept]), axis=1)
            break
    else:
        if shown > 1:
            base = _nb.fit_neighbourhood_wells(pilot.mean, pilot.matrix, pilot.points,
                                               levels, shown, seed).labels
    shares = np.zeros((k, base.max() + 1))
    np.add.at(shares, (states.labels, base), 1.0)
    if np.all(shares.max(axis=1) >= NEST_SHARE * shares.sum(axis=1)):
        return states
    return _nb.split_wells(pilot.mean, pilot.matrix, states.points, levels.graph, base, k)


@dataclass
class DensityWells:
    """Memberships at any points from the density graph of the count: its slow eigenvectors
    extended by one step of the chain (:func:`._graph.nystrom`), then PCCA+'s map."""

    mean: np.ndarray
    matrix: np.ndarray
    model: _graph.GraphModel
    well_map: np.ndarray  # T @ A of PCCA+

    @property
    def n_wells(self):
        return self.well_map.shape[0]

    def memberships(self, Z):
        X = (np.asarray(Z, float) - self.mean) @ self.matrix
        F = _graph.nystrom(self.model, X, np.arange(self.n_wells))
        F[:, 0] = 1.0
        return memberships(F, self.well_map)


def _outliers_of_all_rows(Z, idx, sub, pilot_outliers, whole, n_jobs):
    """A row is an outlier where its nearest pilot sample is one (None if there is none)."""
    if not pilot_outliers.any():
        return None
    n = Z.shape[0]
    if whole:  # the pilot is Z in canonical order
        outliers = np.zeros(n, dtype=bool)
        outliers[idx] = pilot_outliers
        return outliers
    nn = NearestNeighbors(n_neighbors=1, n_jobs=n_jobs).fit(sub)
    nearest = _rows.concat_rows(
        lambda X: nn.kneighbors(X, return_distance=False)[:, 0], Z, _EVAL_ROWS)
    return pilot_outliers[nearest]
