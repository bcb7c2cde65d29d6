"""A fitted spectrum: its energies and its eigenfunctions at any points, whatever the method.

:class:`GalerkinSpectrum` (a basis and its coefficients) and :class:`GraphSpectrum` (a
variable-bandwidth graph extended by Nystroem) share one interface: ``energies``,
``eigenfunctions(Z, levels)``, and ``put(arrays, state)`` / ``get(arrays, state, n_jobs)``
to and from the arrays and JSON of an archive. ``transform``, the wells and persistence
use only that interface.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .._archive import float_from_json, float_to_json, plain
from .._warn import warn_user
from . import _galerkin as _gal
from . import _graph
from . import _samples as _rows

# Rows per basis evaluation: bounds the (rows, n_functions) temporary.
_EVAL_ROWS = 65536


# ------------------------------------------------------------------------- galerkin
@dataclass
class GalerkinSpectrum:
    """Ritz values and vectors of a galerkin basis (:mod:`._galerkin`)."""

    energies: np.ndarray
    basis: object  # HermiteBasis or HermiteRBFBasis
    coef: np.ndarray
    method = "galerkin"

    def eigenfunctions(self, Z, levels):
        basis, coef = self.basis, self.coef[:, levels]
        # captures only what it needs: dask ships it to its workers
        return _rows.concat_rows(lambda X: basis.evaluate(X) @ coef, Z, _EVAL_ROWS)

    @property
    def width(self):
        return self.coef.shape[1]

    def put(self, arrays, state):
        arrays["coef"] = self.coef
        put_basis(arrays, state, "basis", self.basis)

    @classmethod
    def get(cls, energies, arrays, state, n_jobs=None):
        basis = get_basis(arrays, state, "basis")
        if arrays["coef"].shape[0] != basis.n_functions:
            raise ValueError("the stored shapes of the basis and its coefficients do not agree")
        return cls(energies, basis, arrays["coef"])


def put_basis(arrays, state, prefix, basis):
    """Store a HermiteBasis or HermiteRBFBasis under ``prefix``."""
    poly = getattr(basis, "poly", basis)
    for name in ("mean", "components", "variances", "alphas"):
        arrays[f"{prefix}.{name}"] = np.asarray(getattr(poly, name))
    shells = getattr(poly, "shells", None)
    state[f"{prefix}.shells"] = None if shells is None else [int(s) for s in shells]
    state[f"{prefix}.kind"] = "hermite+rbf" if poly is not basis else "hermite"
    if poly is not basis:
        arrays[f"{prefix}.centres"] = basis.centres
        arrays[f"{prefix}.widths"] = basis.widths


def get_basis(arrays, state, prefix):
    """Rebuild the basis stored by :func:`put_basis`."""
    poly = _gal.HermiteBasis(*(arrays[f"{prefix}.{k}"] for k in ("mean", "components",
                                                                  "variances")),
                             alphas=arrays[f"{prefix}.alphas"])
    shells = state[f"{prefix}.shells"]
    if shells is not None:
        poly.shells = [int(s) for s in shells]
    kind = state[f"{prefix}.kind"]
    if kind == "hermite":
        return poly
    if kind != "hermite+rbf":
        raise ValueError(f"unknown basis kind {kind!r}")
    return _gal.HermiteRBFBasis(poly, arrays[f"{prefix}.centres"], arrays[f"{prefix}.widths"])


# ---------------------------------------------------------------------------- graph
_GRAPH_SCALARS = ("scale", "eps", "k_scale", "n_wells", "n_components")
_GRAPH_ARRAYS = ("energies", "psi", "kept", "points", "centre", "rho", "qa", "outliers")


@dataclass
class GraphSpectrum:
    """Levels of a variable-bandwidth graph (:mod:`._graph`), Nystroem-extended."""

    energies: np.ndarray
    model: _graph.GraphModel
    method = "graph"

    def eigenfunctions(self, Z, levels):
        model = self.model
        out = (_graph.nystrom(model, Z, levels) if not _rows.is_dask(Z) else
               _rows.concat_rows(lambda X: _graph.nystrom(model, X, levels), Z))
        out[:, np.asarray(levels) == 0] = 1.0  # one step keeps constants, up to round-off
        return out

    @property
    def width(self):
        return self.model.psi.shape[1]

    def put(self, arrays, state):
        put_graph(arrays, state, "graph.", self.model)

    @classmethod
    def get(cls, energies, arrays, state, n_jobs=None):
        return cls(energies, get_graph(arrays, state, "graph.", n_jobs))


def put_graph(arrays, state, prefix, model):
    """Store a :class:`~._graph.GraphModel` under ``prefix`` (its ``nn`` as the points)."""
    for k in _GRAPH_ARRAYS:
        arrays[prefix + k] = np.asarray(getattr(model, k))
    for k in _GRAPH_SCALARS:
        state[prefix + k] = plain(getattr(model, k))
    state[prefix + "gap"] = float_to_json(model.gap)
    state[prefix + "nn_neighbors"] = int(model.nn.n_neighbors)


def get_graph(arrays, state, prefix, n_jobs=None):
    """Rebuild a graph stored by :func:`put_graph`, refitting its ``NearestNeighbors`` on the
    stored points (the same points and parameters build the same tree)."""
    values = {k: arrays[prefix + k] for k in _GRAPH_ARRAYS}
    values.update({k: state[prefix + k] for k in _GRAPH_SCALARS})
    values["scale"] = float_from_json(values["scale"])
    values["eps"] = float_from_json(values["eps"])
    values["gap"] = float_from_json(state[prefix + "gap"])
    values["nn"] = NearestNeighbors(n_neighbors=state[prefix + "nn_neighbors"],
                                    n_jobs=n_jobs).fit(values["points"])
    return _graph.GraphModel(**values)


SPECTRA = {"galerkin": GalerkinSpectrum, "graph": GraphSpectrum}


# ---------------------------------------------------------------------------- fits
# Galerkin basis budget: at most 300 functions and 20 samples per function.
MAX_FUNCTIONS = 300
SAMPLES_PER_FUNCTION = 20
# Largest relative change of a level, when the outermost basis shell is removed, that counts
# as converged.
CONVERGENCE_RTOL = 0.05
# Hermite + Gaussian-bump basis for multimodal data (measured on two unit Gaussians 6 apart and
# 3 to 8 blobs in 2 and 8 dimensions): bumps on k-means centres, one per 25 samples up to 100,
# width 1.0 x the distance to the nearest other centre (0.5 gave E1/E2 = 0.08 for the Gaussian
# pair, whose exact value is 0.014; 1.0 gave 0.030-0.034), fitted on at most 50,000 samples.
_RBF_SAMPLES_PER_CENTRE = 25
_RBF_MAX_CENTRES = 100
_RBF_WIDTH_FACTOR = 1.0
_RBF_MAX_SAMPLES = 50_000
# Landmark count of the graph method (dense solves per component up to 2,500 points,
# shift-invert Lanczos above).
_GRAPH_MAX_SAMPLES = 10_000


@dataclass
class GalerkinFit:
    """What a galerkin fit reports beside its spectrum."""

    basis_kind: str
    degree: int
    shrinkage: float
    converged: object  # bool, or None where not checked
    change: float  # largest relative change of a level without the outermost shell


def fit_galerkin(Z, samples, n_levels, basis_kind, *, degree=None, max_samples=None, seed=0):
    """Galerkin spectrum of ``Z`` in a Hermite (``"hermite"``) or Hermite-plus-bump
    (``"hermite+rbf"``) basis; returns ``(GalerkinSpectrum, GalerkinFit)``."""
    n = Z.shape[0]
    mean, comp, var, n_drop = _gal.whitening(Z)
    dd = comp.shape[0]
    n_const = int((_rows.variance(Z) == 0).sum())
    if n_drop > n_const:
        warn_user(
            f"Z has {n_drop - n_const} direction(s) whose variance is below 1e-10 of the "
            "largest (collapsed latent dimensions, columns that combine others linearly, "
            "or columns in very different units): "
            "their levels lie that much above the others, so the galerkin basis leaves them "
            "out.")
    n_eff = samples.n_eff  # repeated rows add no samples
    budget = max(dd + 1, int(min(MAX_FUNCTIONS, n_eff / SAMPLES_PER_FUNCTION)))
    poly = _poly_basis(mean, comp, var, n_eff, budget, basis_kind, n_levels, degree)
    m = poly.n_functions
    if n < m + 1:
        raise ValueError(
            f"n_samples={n} is too few for method='galerkin' with {m} basis functions "
            f"in {dd} dimensions: at least {m + 1} samples are needed.")
    if basis_kind == "hermite":
        B, q4 = poly.gram(Z)
        gamma = _gal.shrinkage(B, q4, n_eff, low=poly.low)
        B = (1.0 - gamma) * B + gamma * np.eye(B.shape[0])
        A = poly.stiffness(B, 1.0 / var)
        E, C = _gal.generalized_eigh(A, B, n_levels)
        change = _shell_change(poly, A, B, E)
        basis = poly
    else:
        gamma = 0.0
        basis = _rbf_basis(Z, poly, max_samples or _RBF_MAX_SAMPLES, seed)
        A, B = basis.matrices(basis.samples)
        del basis.samples
        E, C = _gal.generalized_eigh(A, B, n_levels, rtol=1e-8)
        change = _top_degree_change(basis, A, B, E)
    converged = None if change is None else change <= CONVERGENCE_RTOL
    info = GalerkinFit(basis_kind, poly.degree, gamma, converged,
                       np.nan if change is None else change)
    return GalerkinSpectrum(E, basis, _gal.fix_signs(C)), info


def _poly_basis(mean, comp, var, n, budget, basis_kind, n_levels, degree):
    """Hermite basis: fixed total ``degree``, or adaptive energy shells (``degree=None``)."""
    if degree is not None:
        return _gal.HermiteBasis(mean, comp, var, degree=degree)
    dd = comp.shape[0]
    if basis_kind != "hermite":
        degree = _gal.degree_for(dd, n, max_functions=budget, max_degree=2)
        return _gal.HermiteBasis(mean, comp, var, degree=degree)
    alphas, shells = _gal.adaptive_indices(1.0 / var, n_levels, budget)
    basis = _gal.HermiteBasis(mean, comp, var, alphas=alphas)
    basis.shells = shells
    return basis


def _rbf_basis(Z, poly, max_samples, seed):
    """Polynomials plus Gaussian bumps on k-means centres of (a subsample of) ``Z``; the
    rows it is fitted on are left on the basis as ``samples`` for the caller."""
    rs = np.random.RandomState(seed)
    # rows in a canonical order (whitened radius, ties by coordinates): k-means draws its
    # minibatches by index, so the centres, and the energies, moved by up to 27 % when the
    # rows of Z were permuted; the radius keeps rotations and shifts exact
    order, repeats = _rows.canonical_order(
        Z, lambda X: np.sum(poly.whiten(X) ** 2, axis=1), poly.whiten, _EVAL_ROWS,
        return_repeats=True)
    order = order[~repeats]
    n_s = len(order)
    Zs = _rows.take(Z, order if n_s <= max_samples
                    else order[np.sort(rs.choice(n_s, max_samples, replace=False))])
    n_centres = int(np.clip(len(Zs) // _RBF_SAMPLES_PER_CENTRE, 2, _RBF_MAX_CENTRES))
    n_centres = min(n_centres, len(np.unique(Zs, axis=0)))
    centres, widths = _gal.rbf_centres(poly.whiten(Zs), n_centres, seed, _RBF_WIDTH_FACTOR)
    basis = _gal.HermiteRBFBasis(poly, centres, widths)
    basis.samples = Zs
    return basis


def _shell_change(basis, A, B, E):
    """Largest relative change of levels 1.. when the outermost energy shell is removed
    (None where the basis has no shells)."""
    shells = getattr(basis, "shells", None)
    if not shells or len(shells) < 2:
        return None
    return _change_without(A, B, E, np.arange(shells[-2]))


def _top_degree_change(basis, A, B, E):
    """Largest relative change of levels 1.. of a polynomial-plus-bump basis when its
    polynomials of the highest degree are removed (the bumps kept): the nested check of
    :func:`_shell_change` for the basis of several wells (None for degree 0)."""
    degree = basis.poly.alphas.sum(axis=1)
    if degree.max() < 1:
        return None
    keep = np.r_[np.flatnonzero(degree < degree.max()),
                 basis.poly.n_functions + np.arange(basis.centres.shape[0])]
    return _change_without(A, B, E, keep, rtol=1e-8)


def _change_without(A, B, E, keep, **solver):
    """Largest relative change of levels 1.. of ``E`` when the basis shrinks to the
    functions ``keep`` (a nested basis: its levels lie above)."""
    E_low, _ = _gal.generalized_eigh(A[np.ix_(keep, keep)], B[np.ix_(keep, keep)], len(E),
                                     **solver)
    k = min(len(E), len(E_low))
    rel = np.abs(E_low[1:k] - E[1:k]) / np.maximum(E[1:k], np.finfo(float).tiny)
    return float(rel.max()) if rel.size else 0.0


def fit_graph(Z, samples, n_levels, *, n_neighbors=None, max_samples=None, seed=0,
              n_jobs=None):
    """Graph spectrum of (a landmark subsample of) ``Z``."""
    Zg = _rows.take(Z, samples.subsample(max_samples or _GRAPH_MAX_SAMPLES,
                                         np.random.RandomState(seed)))
    model = _graph.fit_graph(Zg, n_levels, n_neighbors, n_jobs=n_jobs)
    return GraphSpectrum(model.energies, model)
