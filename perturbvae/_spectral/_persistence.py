"""``SpectralDegeneracy.save`` / ``load``: its fitted state as arrays plus JSON.

Built on :func:`perturbvae._archive.write_archive` (no pickle, so loading can never run
code). The live objects of a fit are taken apart into their arrays and rebuilt on load: the
galerkin bases (:class:`HermiteBasis`, :class:`HermiteRBFBasis`), the landscape
(:class:`ScoreMatchedLogDensity`, :class:`WellMixtureLogDensity`), the grid density that
``simulate`` follows (:class:`GridWalkDensity`) and the graph model, whose
fitted ``NearestNeighbors`` is refitted on the points it was fitted on (the same data and
parameters build the same tree). Derived values are recomputed where that is exact
(``mean_first_passage_times_`` from ``rate_matrix_``, which keeps the file free of the
infinite times of unreachable wells). A loaded model gives bit-for-bit the outputs of the
saved one.
"""

import os

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .._archive import (
    first_line,
    float_from_json,
    float_to_json,
    plain,
    read_archive,
    warn_not_stored,
    write_archive,
)
from . import _count, _spectrum, _wells
from . import _density as _land
from . import _neighbourhoods as _nb
from ._rates import mean_first_passage_times
from ._walk import GridWalkDensity

ESTIMATOR = "SpectralDegeneracy"

# Fitted arrays stored under their own name (those not always present are optional).
_ARRAYS = ("energies_", "energies_sampled_", "degeneracies_", "n_ground_states_resampled_",
           "memberships_", "labels_", "rate_matrix_", "stationary_distribution_", "embedding_")
# Fitted scalars stored in the JSON description.
_SCALARS = ("method_", "n_ground_states_", "n_ground_states_agreement_", "degeneracy_tol_",
            "bandwidth_", "n_components_", "n_features_in_", "ground_levels_source_")
_GALERKIN_SCALARS = ("basis_", "degree_", "shrinkage_", "levels_converged_")


def _params_to_json(est):
    """Constructor parameters as JSON; a ``RandomState`` instance is stored as None. What
    is not stored is said, as ``PerturbedVAE.save`` says it (a model set to pandas output
    loaded back returning arrays, silently)."""
    params = {k: plain(v) for k, v in est.get_params(deep=False).items()}
    dropped = []
    rs = params["random_state"]
    if not (rs is None or isinstance(rs, int)):
        dropped.append("random_state (a RandomState instance; saved as None)")
        params["random_state"] = None
    warn_not_stored(est, dropped)
    return params


# --------------------------------------------------------------- components --
def _put_landscape(arrays, state, logp, key="logp"):
    """Store the smooth log-density behind ``potential`` and ``simulate`` under ``key``."""
    arrays[f"{key}.centre"] = logp.centre
    state[f"{key}.radius"] = float_to_json(logp.radius)
    if isinstance(logp, _land.WellMixtureLogDensity):
        state[f"{key}.kind"] = "mixture"
        state[f"{key}.max_per_well"] = int(logp.max_per_well)
        state[f"{key}.random_state"] = plain(logp.random_state)
        arrays[f"{key}.means"], arrays[f"{key}.precisions"] = logp.means, logp.precisions
        arrays[f"{key}.log_norm"] = logp._log_norm
        arrays[f"{key}.component_wells"] = logp.component_wells
        if logp.fixed is not None and logp.fixed.any():
            arrays[f"{key}.fixed"] = logp.fixed
    else:
        state[f"{key}.kind"] = "score"
        arrays[f"{key}.theta"] = logp.theta
        _spectrum.put_basis(arrays, state, f"{key}.basis", logp.basis)


def _get_landscape(arrays, state, key="logp"):
    """Rebuild the log-density stored by :func:`_put_landscape`."""
    kind = state[f"{key}.kind"]
    if kind == "mixture":
        logp = _land.WellMixtureLogDensity(state[f"{key}.max_per_well"],
                                           state[f"{key}.random_state"])
        logp.means, logp.precisions = arrays[f"{key}.means"], arrays[f"{key}.precisions"]
        logp._log_norm = arrays[f"{key}.log_norm"]
        logp.component_wells = arrays[f"{key}.component_wells"]
        # stored where some column is constant (files written before it have none)
        fixed = arrays.get(f"{key}.fixed", np.zeros(logp.means.shape[1:], dtype=bool))
        if fixed.dtype != bool or fixed.shape != logp.means.shape[1:]:
            raise ValueError(f"{key}.fixed is not a mask of the landscape's columns")
        logp.fixed = fixed
    elif kind == "score":
        logp = _land.ScoreMatchedLogDensity(_spectrum.get_basis(arrays, state, f"{key}.basis"))
        logp.theta = arrays[f"{key}.theta"]
    else:
        raise ValueError(f"unknown landscape kind {kind!r}")
    logp.centre = arrays[f"{key}.centre"]
    logp.radius = float_from_json(state[f"{key}.radius"])
    return logp


def _put_walk(arrays, state, walk):
    """Store the grid density that ``simulate`` follows, where it is not the landscape."""
    state["walk.exact"] = None if walk is None else bool(walk.exact)
    if walk is not None:
        for name in ("origin", "basis", "lo", "hi", "log_p"):
            arrays[f"walk.{name}"] = getattr(walk, name)


def _get_walk(arrays, state, logp):
    """Rebuild the walk stored by :func:`_put_walk` (None: ``simulate`` follows ``logp``;
    also for archives written before it was kept)."""
    exact = state.get("walk.exact")
    if exact is None:
        return None
    if not isinstance(logp, _land.WellMixtureLogDensity):
        raise ValueError("a grid walk is stored beside a landscape that is not the wells' "
                         "mixture")
    origin, basis, lo, hi, log_p = (arrays[f"walk.{name}"]
                                    for name in ("origin", "basis", "lo", "hi", "log_p"))
    m = log_p.ndim
    if not (basis.shape == (logp.means.shape[1], m) and origin.shape == basis.shape[:1]
            and lo.shape == hi.shape == (m,) and min(log_p.shape) >= 2):
        raise ValueError("the stored grid walk's arrays do not fit together")
    return GridWalkDensity(logp, origin, basis, lo, hi, log_p, bool(exact))


def _put_wells(arrays, state, wells):
    """Store the map from points to memberships: PCCA+ on the spectrum, on the count's
    density graph, or the count's neighbourhood states; lumped wells, that map and the
    lumping."""
    if isinstance(wells, _wells.LumpedWells):
        arrays["wells.lumping"] = wells.lumping
        wells = wells.fine
    if isinstance(wells, _wells.WellMap):
        state["wells.kind"] = "spectrum"
        arrays["well_map"] = wells.matrix
        return
    arrays["wells.mean"], arrays["wells.matrix"] = wells.mean, wells.matrix
    if isinstance(wells, _count.DensityWells):
        state["wells.kind"] = "density"
        arrays["well_map"] = wells.well_map
        _spectrum.put_graph(arrays, state, "wells.graph.", wells.model)
    else:
        state["wells.kind"] = "neighbourhoods"
        arrays["wells.points"], arrays["wells.labels"] = wells.points, wells.labels
        state["wells.n_wells"] = int(wells.n_wells)
        state["wells.n_neighbors"] = int(wells.n_neighbors)


def _get_wells(arrays, state, n_jobs):
    fine = _get_fine_wells(arrays, state, n_jobs)
    if "wells.lumping" not in arrays:
        return fine
    lumping = arrays["wells.lumping"]
    if lumping.ndim != 2 or lumping.shape[0] != fine.n_wells:
        raise ValueError("wells.lumping does not lump the stored wells")
    return _wells.LumpedWells(fine, lumping)


def _get_fine_wells(arrays, state, n_jobs):
    kind = state.get("wells.kind", "spectrum")
    if kind == "spectrum":
        return _wells.WellMap(arrays["well_map"])
    mean, matrix = arrays["wells.mean"], arrays["wells.matrix"]
    if kind == "density":
        return _count.DensityWells(mean, matrix,
                                   _spectrum.get_graph(arrays, state, "wells.graph.", n_jobs),
                                   arrays["well_map"])
    if kind != "neighbourhoods":
        raise ValueError(f"unknown wells kind {kind!r}")
    n_nb = state["wells.n_neighbors"]
    if not (isinstance(n_nb, int) and 1 <= n_nb < len(arrays["wells.points"])):
        raise ValueError(f"wells.n_neighbors={n_nb!r} is not a neighbour count of the points")
    labels, k = arrays["wells.labels"], state["wells.n_wells"]
    if (not isinstance(k, int) or labels.shape != arrays["wells.points"].shape[:1]
            or labels.min(initial=0) < 0 or labels.max(initial=0) >= k):
        raise ValueError("wells.labels are not the wells of the stored points")
    return _nb.NeighbourhoodWells(mean, matrix, arrays["wells.points"], labels, n_nb, k)


# ------------------------------------------------------------------- save --
def save_spectral(est, path):
    """Write a fitted SpectralDegeneracy to ``path`` (see ``SpectralDegeneracy.save``)."""
    check_is_fitted(est)
    params = _params_to_json(est)
    arrays = {k: np.asarray(getattr(est, k)) for k in _ARRAYS}
    arrays["multiplets"] = np.concatenate(est.multiplets_).astype(np.int64)
    arrays["landmarks"] = est._landmarks
    state = {k: plain(getattr(est, k)) for k in _SCALARS}
    _put_wells(arrays, state, est._well_map)
    state["ground_gap_"] = float_to_json(est.ground_gap_)
    state["count_reading_"] = est.count_reading_
    state["rates_error_bound_"] = float_to_json(est.rates_error_bound_)
    state["feature_names_in_"] = (
        [str(c) for c in est.feature_names_in_] if hasattr(est, "feature_names_in_") else None)
    if est.method_ == "galerkin":
        state.update({k: plain(getattr(est, k)) for k in _GALERKIN_SCALARS})
    est._spectrum.put(arrays, state)
    _put_landscape(arrays, state, est._logp)
    if getattr(est, "_potential_logp", None) is not None:
        _put_landscape(arrays, state, est._potential_logp, "potential_logp")
    _put_walk(arrays, state, getattr(est, "_walk", None))
    if getattr(est, "_span", None) is not None:  # the data's span, where not every direction
        arrays["walk.projector"] = est._span
    if getattr(est, "_coordinate_scale", None) is not None:
        arrays["coordinate_scale"] = est._coordinate_scale
    meta = {"estimator": ESTIMATOR, "version": __version__, "params": params, "state": state}
    write_archive(path, arrays, meta)


# ------------------------------------------------------------------- load --
def _restore(cls, arrays, meta):
    """A fitted estimator from the arrays and description of an archive."""
    params = meta["params"]
    if not isinstance(params, dict) or set(params) - set(cls._get_param_names()):
        raise ValueError("the parameters are not those of a SpectralDegeneracy")
    est = cls(**params)
    est._validate_params()  # sklearn's InvalidParameterError is a ValueError
    state = meta["state"]
    for k in _ARRAYS:
        setattr(est, k, arrays[k])
    for k in _SCALARS:
        setattr(est, k, state[k])
    est.count_reading_ = state.get("count_reading_", "density")
    if est.count_reading_ not in ("density", "neighbourhoods", "given", "levels"):
        raise ValueError(f"unknown count_reading_ {est.count_reading_!r}")
    est.n_ground_states_agreement_ = float_from_json(est.n_ground_states_agreement_)
    est.degeneracy_tol_ = float_from_json(est.degeneracy_tol_)
    est.bandwidth_ = float_from_json(est.bandwidth_)
    est.ground_gap_ = float_from_json(state["ground_gap_"])
    # archives written before the bound was measured have none
    est.rates_error_bound_ = float_from_json(state.get("rates_error_bound_", "nan"))
    est.multiplets_ = np.split(arrays["multiplets"], np.cumsum(est.degeneracies_)[:-1])
    est._landmarks = arrays["landmarks"]
    est._well_map = _get_wells(arrays, state, est.n_jobs)
    est.mean_first_passage_times_ = mean_first_passage_times(est.rate_matrix_)
    if state["feature_names_in_"] is not None:
        est.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    if est.method_ not in _spectrum.SPECTRA:
        raise ValueError(f"unknown method_ {est.method_!r}")
    for k in _GALERKIN_SCALARS:  # None after a graph fit, as fit leaves them
        setattr(est, k, state[k] if est.method_ == "galerkin" else None)
    est._spectrum = _spectrum.SPECTRA[est.method_].get(est.energies_sampled_, arrays, state,
                                                       est.n_jobs)
    est._logp = _get_landscape(arrays, state)
    est._potential_logp = (_get_landscape(arrays, state, "potential_logp")
                           if "potential_logp.kind" in state else None)
    est._walk = _get_walk(arrays, state, est._logp)
    est._span = arrays.get("walk.projector")
    est._coordinate_scale = arrays.get("coordinate_scale")  # graph fits written before: none
    if (est._coordinate_scale is not None
            and est._coordinate_scale.shape != (est.embedding_.shape[1],)):
        raise ValueError("the stored scales of the coordinates do not fit embedding_")
    if est._span is not None and est._span.shape != (est.n_features_in_,) * 2:
        raise ValueError("the stored projector onto the data's span does not fit its columns")
    _check_shapes(est)
    _check_values(est)
    return est


# Loaded levels and rates must agree within this factor (a fit keeps them within 30 %, or
# warns); levels below _LOAD_ROUND_OFF of the next level are round-off (disconnected wells).
_LOAD_LEVEL_FACTOR = 1e3
_LOAD_ROUND_OFF = 1e-9


def _check_values(est):
    """Values that a fit always leaves consistent; ValueError naming the first that is not."""
    E, Q, pi = est.energies_, est.rate_matrix_, est.stationary_distribution_
    k = int(est.n_ground_states_)
    top = float(np.max(np.abs(E))) if np.all(np.isfinite(E)) else np.inf
    qmax = float(np.max(np.abs(Q), initial=0.0))
    off = Q[~np.eye(k, dtype=bool)]
    checks = {
        "energies_ are finite, ascending and start at 0": np.isfinite(top) and bool(
            np.all(np.diff(E) >= -1e-9 * top) and abs(E[0]) <= 1e-6 * max(top, 1e-300)),
        "the multiplets split the levels in order": bool(
            np.array_equal(np.concatenate(est.multiplets_), np.arange(len(E)))
            and np.all(est.degeneracies_ >= 1) and est.degeneracies_[0] == k),
        "rate_matrix_ is a generator (rates >= 0, rows summing to 0)": bool(
            np.all(np.isfinite(Q)) and np.all(off >= 0)
            and np.all(np.abs(Q.sum(axis=1)) <= 1e-8 * max(qmax, 1e-300))),
        "stationary_distribution_ is a distribution": bool(
            np.all(pi >= 0) and abs(pi.sum() - 1) <= 1e-8),
        "memberships_ and labels_ are memberships of the wells": bool(
            np.all(np.isfinite(est.memberships_)) and np.all(est.labels_ >= 0)
            and np.all(est.labels_ < k)
            and np.allclose(est.memberships_.sum(axis=1), 1.0, atol=1e-6)),
    }
    # memberships that PCCA+ did not make are projected onto the eigenfunctions, and the
    # fit warns where their rates miss the levels; the landscape's levels are the rates'
    if all(checks.values()) and k > 1 and est.ground_levels_source_ not in (
            "samples", "neighbourhoods"):
        # the rates between wells are the levels of the ground multiplet
        floor = _LOAD_ROUND_OFF * (E[k] if k < len(E) else E[k - 1])
        rates = np.sort(-np.linalg.eigvals(Q).real)[1:]
        lo, hi = np.maximum(np.minimum(rates, E[1:k]), floor), np.maximum(rates, E[1:k])
        checks["rate_matrix_ and the levels of the ground multiplet"] = bool(
            np.all(hi <= _LOAD_LEVEL_FACTOR * np.maximum(lo, 1e-300)))
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise ValueError("the stored values are inconsistent: not true that " + bad[0])


def _check_shapes(est):
    """Shapes that must agree in a fitted estimator; ValueError on a mismatch."""
    d, k = est.n_features_in_, est.n_ground_states_
    n_levels = est.energies_.shape[0]
    checks = {
        "energies_ and the eigenfunctions": est._spectrum.width == n_levels,
        "the multiplets and the levels": int(np.sum(est.degeneracies_)) == n_levels,
        "the wells": est._well_map.n_wells == k and est.rate_matrix_.shape == (k, k)
        and est.memberships_.shape[1:] == (k,),
        "the features": est._landmarks.shape[1:] == (d,) and est.embedding_.shape[1:] == (
            est.n_components_,) and 1 <= est.n_components_ < n_levels,
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise ValueError("the stored shapes of " + ", ".join(bad) + " do not agree")


def load_spectral(cls, path):
    """Read a SpectralDegeneracy written by :func:`save_spectral` (see ``load``)."""
    path = os.fspath(path)
    arrays, meta = read_archive(path)
    name = meta.get("estimator", "PerturbedVAE")  # version 1 archives are PerturbedVAEs
    if name != ESTIMATOR:
        raise ValueError(f"Cannot load {path!r} as a {ESTIMATOR}: it holds a {name!r} "
                         f"(load it with {name}.load).")
    try:
        return _restore(cls, arrays, meta)
    except Exception as exc:  # noqa: BLE001 - a hand-edited or damaged description
        raise ValueError(
            f"Cannot load {path!r}: the stored {ESTIMATOR} is invalid ({type(exc).__name__}: "
            f"{first_line(exc)}).") from None
