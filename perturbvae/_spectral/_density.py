"""Gaussian kernel density estimate, its ground state psi0 = sqrt(p) and potential
V = Lap psi0 / psi0; the smooth landscapes fitted for ``potential`` and ``simulate``.

For ``p(z) = mean_k N(z; z_k, s^2 I)`` and softmax weights ``w_k(z) ∝ exp(-|z - z_k|^2 / (2 s^2))``:
``grad p / p = -(z - m(z)) / s^2`` with ``m = sum_k w_k z_k``, and
``Lap p / p = sum_k w_k |z - z_k|^2 / s^4 - d / s^2``. With ``psi0 = p^(1/2)``,
``Lap psi0 / psi0 = Lap p / (2 p) - |grad p|^2 / (4 p^2)``, hence

    V(z) = sum_k w_k |z - z_k|^2 / (2 s^4) - d / (2 s^2) - |z - m(z)|^2 / (4 s^4),

evaluated stably (log-sum-exp weights). For a single landmark this is the oscillator
``|z - z_0|^2 / (4 s^4) - d / (2 s^2)`` whose spectrum is ``n / s^2``: the units of the energies.
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from . import _samples as _rows
from ._span import constant_columns


def _sqdist(Z, L, L2):
    D = np.sum(Z * Z, axis=1)[:, None] - 2.0 * Z @ L.T + L2[None, :]
    return np.maximum(D, 0.0)


def log_density(Z, landmarks, s, chunk=4096):
    # distances from the landmarks' centre: |z|^2 - 2 z.l + |l|^2 of raw coordinates loses
    # every digit to an offset (1e8 on unit-spread data); each chunk is centred on its own
    centre = landmarks.mean(axis=0)
    landmarks = landmarks - centre
    L2 = np.sum(landmarks**2, axis=1)
    d = Z.shape[1]
    out = np.empty(Z.shape[0])
    const = -np.log(landmarks.shape[0]) - 0.5 * d * np.log(2 * np.pi * s * s)
    for a in range(0, Z.shape[0], chunk):
        D = _sqdist(Z[a:a + chunk] - centre, landmarks, L2)
        out[a:a + chunk] = logsumexp(-D / (2 * s * s), axis=1) + const
    return out


# landmarks whose leave-one-out likelihood chooses the kernel width (250,000 pairs)
_CV_LANDMARKS = 500


def auto_bandwidth(landmarks):
    """The kernel width of largest leave-one-out likelihood on the distinct landmarks,
    scaled from the (at most :data:`_CV_LANDMARKS`) rows it is chosen on to all of them by the
    kernel estimate's rate ``m^(-1 / (d + 4))``.

    The width that scikit-learn's ``GridSearchCV`` would find for ``score``, without the
    grid: the median distance to the 10th nearest landmark, used before, shrinks like
    ``m^(-1 / d)`` and was 50 times too narrow on 2,000 draws of N(0, 1) (0.006 against
    0.32), its held-out log-density 0.2 nats low and -22,713 at 5 standard deviations
    (exact -13.4). Copies are left out of the choice: a row's copy, at distance 0, predicts
    it perfectly and pulls the width down (500 Gaussian rows of which 100 are copies: 0.44,
    against 0.48 on the distinct rows)."""
    live = ~constant_columns(landmarks.var(axis=0), np.abs(landmarks).max())
    distinct = np.unique(landmarks[:, live], axis=0)
    n_all, d = distinct.shape
    if n_all < 2 or d == 0:
        return 1.0
    # a random few (np.unique sorts them by their first column)
    X = distinct[np.sort(np.random.RandomState(0).permutation(n_all)[:_CV_LANDMARKS])]
    m = X.shape[0]
    X = X - X.mean(axis=0)
    sq = np.sum(X * X, axis=1)
    D = _sqdist(X, X, sq)
    np.fill_diagonal(D, np.inf)
    nearest = D.min(axis=1, keepdims=True)
    D -= nearest  # each row's logsumexp shifted by its nearest neighbour

    def loo(log_s):
        inv = 0.5 * np.exp(-2.0 * log_s)
        rows = logsumexp(-D * inv, axis=1) - nearest[:, 0] * inv
        return -(np.mean(rows) - d * log_s)

    # from far below the nearest neighbours (in 13-d, wine's best width is 0.3 of theirs)
    # to twice the data's spread
    hi = 2.0 * float(np.sqrt(np.mean(sq)))
    lo = 1e-3 * hi
    best = minimize_scalar(loo, bounds=(np.log(lo), np.log(hi)), method="bounded",
                           options={"xatol": 0.01})
    return float(np.exp(best.x)) * (m / n_all) ** (1.0 / (d + 4))


class ScoreMatchedLogDensity:
    """Smooth ``log p = theta . phi`` fitted by score matching (Hyvaerinen 2005) in a basis.

    Score matching minimises ``E_p[|grad log p - grad log q_theta|^2]`` without the normalising
    constant: for ``log q = theta . phi`` it is the linear system ``G theta = -h`` with
    ``G = E[grad phi grad phi^T]`` (the Galerkin stiffness matrix) and ``h = E[Lap phi]``, one pass
    over the samples. A quadratic basis recovers a Gaussian exactly, so
    ``V = Lap psi0 / psi0 = Lap log p / 2 + |grad log p|^2 / 4`` is then the exact oscillator
    ``|z|^2 / 4 - d / 2`` of N(0, I); a smooth fit has its wells where the samples are dense, never
    at an isolated sample (the flaw of a small-bandwidth kernel estimate, whose ``V`` reaches its
    lower bound ``-d / (2 s^2)`` exactly at isolated points). A small ridge (relative 1e-6)
    keeps functions that the samples do not constrain (bumps in empty space) at zero.
    """

    def __init__(self, basis):
        self.basis = basis  # a HermiteBasis or HermiteRBFBasis
        self.inv_var = 1.0 / getattr(basis, "poly", basis).variances

    def derivatives(self, Z):
        """Values, whitened gradients and Laplacian of the basis functions at ``Z``."""
        from . import _galerkin as gal

        if hasattr(self.basis, "poly"):
            return gal.rbf_derivatives(self.basis, Z)
        return gal.hermite_derivatives(self.basis, Z)

    def fit(self, Z, chunk=4096, ridge=1e-6):
        m = None
        for s in range(0, Z.shape[0], chunk):
            _, dPhi, lap = self.derivatives(Z[s:s + chunk])
            dPhi, lap = dPhi[:, 1:], lap[:, 1:]  # the constant carries no score
            Gc = np.einsum("nij,nkj,j->ik", dPhi, dPhi, self.inv_var)
            if m is None:
                m = Gc.shape[0]
                G, h = np.zeros((m, m)), np.zeros(m)
            G += Gc
            h += lap.sum(axis=0)
        G /= Z.shape[0]
        h /= Z.shape[0]
        G[np.diag_indices(m)] += ridge * max(np.trace(G) / m, np.finfo(float).tiny)
        self.theta = -np.linalg.solve(G, h)
        self.centre = Z.mean(axis=0)
        self.radius = float(np.sqrt(Z.var(axis=0).sum()))
        return self

    def _parts(self, Z):
        _, dPhi, lap = self.derivatives(Z)
        gy = dPhi[:, 1:] @ self.theta if dPhi.ndim == 2 else np.einsum(
            "nij,i->nj", dPhi[:, 1:], self.theta)
        return gy, lap[:, 1:] @ self.theta

    def potential(self, Z, chunk=4096):
        out = np.empty(Z.shape[0])
        for s in range(0, Z.shape[0], chunk):
            gy, lap = self._parts(Z[s:s + chunk])
            out[s:s + chunk] = 0.5 * lap + 0.25 * np.sum(gy**2 * self.inv_var, axis=1)
        return out

    def grad_log_density(self, Z, chunk=4096):
        """``grad log p`` in the original coordinates of ``Z``."""
        poly = getattr(self.basis, "poly", self.basis)
        scale = poly.components / np.sqrt(poly.variances)[:, None]  # dy_j / dz
        out = np.empty(Z.shape)
        for s in range(0, Z.shape[0], chunk):
            gy, _ = self._parts(Z[s:s + chunk])
            out[s:s + chunk] = gy @ scale
        return out

    def log_density(self, Z, chunk=65536):
        """``log p`` up to its (unknown) normalising constant."""
        out = np.empty(Z.shape[0])
        for s in range(0, Z.shape[0], chunk):
            out[s:s + chunk] = self.basis.evaluate(Z[s:s + chunk])[:, 1:] @ self.theta
        return out

    def curvature(self, projector=None):
        """The largest curvature of ``-log p``, as that of the data's Gaussian (one over its
        smallest principal variance; null directions are not in the basis)."""
        return 1.0 / float(getattr(self.basis, "poly", self.basis).variances.min())


def well_labels(memberships, min_points):
    """The well of each point (largest membership), each well given at least ``min_points``.

    A well whose membership is spread thin (PCCA+ memberships of a small, fuzzy well) can be
    the largest at one point or none; it then takes its ``min_points`` points of largest
    membership, so that its Gaussian has a covariance.
    """
    labels = np.argmax(memberships, axis=1)
    for k in range(memberships.shape[1]):
        if np.sum(labels == k) < min_points:
            labels[np.argsort(-memberships[:, k], kind="stable")[:min_points]] = k
    # more wells than the samples can give their points: a later well took an earlier one's
    held = np.bincount(labels, minlength=memberships.shape[1])
    if held.min() < 2:
        n, k = memberships.shape
        raise ValueError(
            f"A well of Z holds {held.min()} sample: too few to fit its landscape "
            f"({k} wells of n_samples={n}, each needing {min_points}). Pass more samples, "
            "fewer dimensions (e.g. PCA first) or a smaller n_wells.")
    return labels


_N_INIT = 3  # starts of a well's mixture of several components


class WellMixtureLogDensity:
    """``log p`` of several wells: a Gaussian mixture fitted well by well.

    One smooth polynomial ``log p`` cannot hold several separated wells without bumps, and
    the bumps of the galerkin basis gave 14 to 74 shallow local minima of ``V`` on 2-d blobs.
    Here each well (the points PCCA+ assigns to it) gets its own Gaussian mixture of 1 to
    ``max_per_well`` components, chosen by BIC: one component for a Gaussian blob (so ``V``
    has one minimum per blob), a few along a curved well (moons), so that its minima stay on
    the data rather than at the centroid of an arc. The wells' weights are their shares of
    the points. Components holding fewer than ``max(d + 2, 2 %)`` of a well's points are
    dropped. For a mixture with responsibilities ``r_k``, component scores
    ``g_k = -P_k (z - m_k)`` and ``g = sum_k r_k g_k``:
    ``grad log p = g``, ``Lap p / p = sum_k r_k (|g_k|^2 - tr P_k)``, and
    ``V = Lap log p / 2 + |g|^2 / 4 = sum_k r_k (|g_k|^2 - tr P_k) / 2 - |g|^2 / 4``.
    """

    def __init__(self, max_per_well=3, random_state=None):
        self.max_per_well = max_per_well
        self.random_state = random_state
        self.fixed = None  # columns constant in the fit (None: none), see fit

    def fit(self, Z, labels, max_relabel=2):
        """Fit each well's mixture on its points, then reassign the points to the well of
        highest fitted density and refit (at most ``max_relabel`` times, while any moves).

        The eigenfunctions' memberships are fuzzy near a barrier (in 5-d, 17 of 2,000 points
        of two Gaussians 8 apart sat at 0.45-0.49 on the wrong side); a well that keeps such
        points grows a broad component towards the other well, which fills the barrier and
        made its rate 8x too fast. The wells' own densities put them back.
        """
        labels = np.asarray(labels)
        wells = np.unique(labels)
        # a constant column (which the fit says it drops) had the covariance floor: its
        # precision 1 / floor was V's trace term and the curvature of the walk (geyser with
        # a constant column: V 7,750 below its values without it, and every simulate
        # diverged). The wells' mixtures are fitted without such columns, and V and the
        # score read at their value, without their terms
        self.fixed = constant_columns(Z.var(axis=0), np.abs(Z).max())
        fitted = {}  # a well whose points did not move keeps its mixture
        for _ in range(max_relabel + 1):
            self._fit_once(Z, labels, fitted)
            new = wells[np.argmax(self.well_log_densities(Z), axis=1)]
            # a well left with fewer points than a Gaussian's dimension + 2 keeps its points
            if (np.array_equal(new, labels)
                    or np.bincount(np.searchsorted(wells, new), minlength=len(wells)).min()
                    < np.sum(~self.fixed) + 2):
                break
            labels = new
        return self

    def well_log_densities(self, Z):
        """``log (w_k p_k(z))`` of each well ``k`` (columns in the order of its label)."""
        _, logc = self._parts(Z)
        return np.stack([logsumexp(logc[:, self.component_wells == k], axis=1)
                         for k in np.unique(self.component_wells)], axis=1)

    def _fit_once(self, Z, labels, fitted=None):
        """Each well's mixture on its points; ``fitted`` maps a well and its points (as
        bytes of the mask) to a mixture already fitted there (the same fit: fixed seed)."""
        n, d = Z.shape
        fitted = {} if fitted is None else fitted
        live = ~self.fixed if self.fixed is not None else np.ones(d, dtype=bool)
        cols = slice(None) if live.all() else live  # a view: the same digits as before
        # covariance floor relative to the data's spread: keeps a tight well finite
        reg = 1e-6 * float(Z[:, cols].var(axis=0).mean() or 1.0)
        centre = Z.mean(axis=0)
        means, precisions, log_w = [], [], []
        for k in np.unique(labels):
            mask = labels == k
            key = (k, np.packbits(mask).tobytes())
            if key not in fitted:
                fitted[key] = self._fit_well(Z[mask][:, cols], n, reg)
            m, P, w = fitted[key]
            # constant columns at their value, their precision the floor's (not read by V
            # or the score; it keeps the covariances and marginals of the rates defined)
            m_full = np.tile(centre, (len(m), 1))
            m_full[:, live] = m
            P_full = np.zeros((len(m), d, d))
            P_full[:, ~live, ~live] = 1.0 / reg
            P_full[np.ix_(np.arange(len(m)), live, live)] = P
            means.append(m_full)
            precisions.append(P_full)
            log_w.append(np.log(w) + np.log(mask.sum() / n))
        self.component_wells = np.concatenate(
            [np.full(len(m), k) for k, m in zip(np.unique(labels), means)])
        self._set(np.concatenate(means), np.concatenate(precisions), np.concatenate(log_w))
        self.centre = centre
        self.radius = float(np.sqrt(Z.var(axis=0).sum()))
        return self

    def _fit_well(self, Zk, n, reg):
        """``(means, precisions, weights)`` of one well's mixture, on its points ``Zk`` (of
        ``n`` in all; ``reg`` the covariance floor)."""
        from sklearn.mixture import GaussianMixture

        d = Zk.shape[1]
        if len(Zk) < 2:  # GaussianMixture raised a raw "Found array with 1 sample(s)"
            raise ValueError(
                f"A well of Z holds {len(Zk)} sample: too few to fit its landscape "
                f"(n_samples={n} in {d} dimensions). Pass more samples, or fewer "
                "dimensions (e.g. PCA first).")
        best = None
        # at least ~10 points per free parameter of a component
        n_max = max(1, min(self.max_per_well, len(Zk) // (10 * (d + d * (d + 1) // 2))))
        # no more components than distinct points (a well of identical rows: k-means
        # inside GaussianMixture warned "Number of distinct clusters (1) found smaller")
        n_max = min(n_max, len(np.unique(Zk, axis=0)))
        for m in range(1, n_max + 1):
            # best of _N_INIT starts for several components: one start left a thin component
            # on a few sparse points of a t-SNE cluster (the deepest V, 4 of the 20 lowest
            # among the sparsest 10 % of the points, at 2 of 8 seeds; 0 of 8 with 3 starts)
            gm = GaussianMixture(m, covariance_type="full", reg_covar=reg,
                                 n_init=1 if m == 1 else _N_INIT,
                                 random_state=self.random_state).fit(Zk)
            bic = gm.bic(Zk)
            if best is None or bic < best[0]:
                best = (bic, gm)
        gm = best[1]
        # a component on a few points (an outlier the well kept, a tight knot of a t-SNE
        # cluster) has a collapsed covariance and would be the deepest point of V
        # (V >= -tr(P) / 2): it is dropped, so those points just get a lower density. The
        # bar is the one that sets n_max (10 points per parameter of a component).
        size = gm.weights_ * len(Zk)
        keep = size >= max(d + 2, 0.02 * len(Zk), 10 * (d + d * (d + 1) // 2))
        keep[np.argmax(size)] = True
        w = gm.weights_[keep] / gm.weights_[keep].sum()
        return gm.means_[keep], gm.precisions_[keep], w

    def _set(self, means, precisions, log_weights):
        d = means.shape[1]
        self.means, self.precisions = means, precisions
        chol = np.linalg.cholesky(precisions)
        self._log_norm = (log_weights - 0.5 * d * np.log(2 * np.pi)
                          + np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1))

    @property
    def log_weights(self):
        """Log weights of the components (summing to 1 over all wells)."""
        d = self.means.shape[1]
        chol = np.linalg.cholesky(self.precisions)
        return (self._log_norm + 0.5 * d * np.log(2 * np.pi)
                - np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1))

    @property
    def covariances(self):
        return np.linalg.inv(self.precisions)

    def curvature(self, projector=None):
        """The largest curvature of a component's ``-log p`` (its precision's largest
        eigenvalue) within the directions of the orthogonal ``projector`` (None: all),
        constant columns left out (the walk does not move them)."""
        d = self.means.shape[1]
        live = np.ones(d, dtype=bool) if self.fixed is None else ~self.fixed
        Q = (np.eye(d) if projector is None else projector)[np.ix_(live, live)]
        return max(float(np.linalg.eigvalsh(Q @ P @ Q)[-1])
                   for P in self.precisions[:, live][:, :, live])

    def marginal(self, origin, basis):
        """The mixture's density of the coordinates ``y = basis.T (z - origin)``.

        ``basis`` has orthonormal columns; each component's marginal is the Gaussian of mean
        ``basis.T (m - origin)`` and covariance ``basis.T C basis``.
        """
        out = WellMixtureLogDensity(self.max_per_well, self.random_state)
        cov = np.einsum("di,kde,ej->kij", basis, self.covariances, basis)
        out._set((self.means - origin) @ basis, np.linalg.inv(cov), self.log_weights)
        out.component_wells = self.component_wells
        out.centre = (self.centre - origin) @ basis
        out.radius = self.radius
        return out

    def responsibilities(self, Z):
        """Each row's posterior over the components, ``(n_samples, n_components)``."""
        return _softmax(self._log_components(Z))

    def refitted(self, Z, rows, resp):
        """The same components re-estimated from the rows ``rows`` of ``Z`` alone: one
        M-step at the responsibilities ``resp`` (of all of ``Z``). A component that holds
        fewer than ``d + 2`` of those rows keeps its mean and covariance.

        The error bound of the levels refits the mixture on each half of the samples with
        it, where the mixture is the density's floor (:mod:`._kde_levels`).
        """
        r, X = resp[rows], Z[rows]
        mass = r.sum(axis=0)
        means = (r.T @ X) / np.maximum(mass, np.finfo(float).tiny)[:, None]
        d = Z.shape[1]
        reg = 1e-6 * float(Z.var(axis=0).mean() or 1.0)  # the fit's covariance floor
        covs = self.covariances.copy()
        for c in np.flatnonzero(mass >= d + 2):
            D = X - means[c]
            covs[c] = (r[:, c, None] * D).T @ D / mass[c] + reg * np.eye(d)
        thin = mass < d + 2
        means[thin] = self.means[thin]
        out = WellMixtureLogDensity(self.max_per_well, self.random_state)
        with np.errstate(divide="ignore"):
            out._set(means, np.linalg.inv(covs), np.log(mass / mass.sum()))
        out.component_wells, out.centre, out.radius = (self.component_wells, self.centre,
                                                       self.radius)
        out.fixed = self.fixed
        return out

    def _parts(self, Z):
        diff = Z[:, None, :] - self.means[None]  # (n, K, d)
        # component scores, one product per component: the same sums as one einsum over
        # all of them, which ran 4x slower on a 2-d grid (a third of a t-SNE map's levels)
        g = -np.stack([np.einsum("ij,nj->ni", P, diff[:, k])
                       for k, P in enumerate(self.precisions)], axis=1)
        logc = self._log_norm + 0.5 * np.einsum("nki,nki->nk", diff, g)
        return g, logc

    def _log_components(self, Z):
        """``log`` of each weighted component at the rows of ``Z``: the quadratic forms
        through the Cholesky factors of the precisions, without the scores of ``_parts``
        (half the time on a grid's 160,000 nodes, where the error bound reads a refitted
        mixture eight times)."""
        L = np.linalg.cholesky(self.precisions)
        logc = np.empty((Z.shape[0], len(L)))
        for k, Lk in enumerate(L):
            y = (Z - self.means[k]) @ Lk
            logc[:, k] = self._log_norm[k] - 0.5 * np.einsum("ni,ni->n", y, y)
        return logc

    def log_density(self, Z, chunk=65536):
        out = np.empty(Z.shape[0])
        for s in range(0, Z.shape[0], chunk):
            logc = self._log_components(Z[s:s + chunk])
            top = logc.max(axis=1)
            out[s:s + chunk] = top + np.log(np.exp(logc - top[:, None]).sum(axis=1))
        return out

    def _score_and_lap(self, Z, lap=True):
        fixed = self.fixed if self.fixed is not None else np.zeros(Z.shape[1], dtype=bool)
        if fixed.any():  # constant columns at their value: no score, no curvature
            Z = Z.copy()
            Z[:, fixed] = self.centre[fixed]
        g, logc = self._parts(Z)
        r = _softmax(logc)
        score = np.einsum("nk,nki->ni", r, g)
        score[:, fixed] = 0.0
        if not lap:
            return score, None
        if fixed.any():
            g = g[:, :, ~fixed]
            tr = np.sum(np.diagonal(self.precisions, axis1=1, axis2=2)[:, ~fixed], axis=1)
        else:  # no constant column: the trace as such (the same digits as without the mask)
            tr = np.trace(self.precisions, axis1=1, axis2=2)
        lap_p = np.einsum("nk,nk->n", r, np.sum(g**2, axis=2) - tr)
        return score, lap_p

    def grad_log_density(self, Z, chunk=8192):
        out = np.empty(Z.shape)
        for s in range(0, Z.shape[0], chunk):
            out[s:s + chunk] = self._score_and_lap(Z[s:s + chunk], lap=False)[0]
        return out

    def potential(self, Z, chunk=8192):
        out = np.empty(Z.shape[0])
        for s in range(0, Z.shape[0], chunk):
            score, lap_p = self._score_and_lap(Z[s:s + chunk])
            out[s:s + chunk] = 0.5 * lap_p - 0.25 * np.sum(score**2, axis=1)
        return out


def _softmax(logc):
    """Rows of ``exp(logc)`` normalised: scipy's logsumexp cost two thirds of a walker's step
    on a few components (its array-API checks, per call)."""
    r = np.exp(logc - logc.max(axis=1, keepdims=True))
    return r / r.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------ the fit
# Score-matched landscape: samples and basis functions used.
_LANDSCAPE_MAX_SAMPLES = 50_000
_LANDSCAPE_MAX_FUNCTIONS = 200
_SAMPLES_PER_FUNCTION = 20


def landscape_samples(Z, samples, memberships, seed):
    """The rows the landscape is fitted on (at most :data:`_LANDSCAPE_MAX_SAMPLES`, in
    memory) and the well of each (:func:`well_labels`); ``memberships`` are those of the rows
    of ``Z``. The rates read the density near the barriers from the same rows."""
    idx = samples.subsample(_LANDSCAPE_MAX_SAMPLES, np.random.RandomState(seed))
    Zs = _rows.take(Z, idx)
    return Zs, well_labels(memberships[idx], min_points=Zs.shape[1] + 2)


def fit_landscape(Zs, labels, n, basis, seed):
    """The smooth log-density behind ``potential`` and ``simulate``: score-matched in a
    Hermite basis with one well, a Gaussian mixture fitted well by well with several.

    ``Zs`` and ``labels`` are the rows and wells of :func:`landscape_samples`; ``n`` the
    effective sample size (it sets the basis budget); ``basis`` is the spectrum's galerkin
    basis, if any (its bumps are reused).
    """
    from . import _galerkin as gal

    if labels.max() > 0:
        return WellMixtureLogDensity(random_state=seed).fit(Zs, labels)
    mean, comp, var, _ = gal.whitening(Zs)
    dd = comp.shape[0]
    budget = max(dd + 1, int(min(_LANDSCAPE_MAX_FUNCTIONS, n / _SAMPLES_PER_FUNCTION)))
    # quartic log p in 1-d and 2-d; quadratic above, where the quartic terms' sampling noise
    # cost 0.35 in V on N(0, I_5) at n = 5,000 (quadratic: exact for a Gaussian)
    degree = gal.degree_for(dd, n, max_functions=budget, max_degree=4 if dd <= 2 else 2)
    # at least quadratic: a linear log p is constant to score matching (V = 0), and a
    # quadratic one is fitted from the second moments alone (the data's Gaussian)
    if budget > dd * 3:
        poly = gal.HermiteBasis(mean, comp, var, degree=max(2, degree))
    else:
        # within the budget of 3 functions a dimension, the squares of the whitened axes:
        # the same Gaussian (whitened, the sample covariance has no cross terms) from 2 d + 1
        # functions, where all the quadratic terms cost (d + 1)(d + 2) / 2 and gradients of
        # n x that x d (387 rows of crohn in 211-d: 22,578 functions, 15 GB)
        squares = np.vstack([np.zeros((1, dd)), np.eye(dd), 2 * np.eye(dd)]).astype(np.intp)
        poly = gal.HermiteBasis(mean, comp, var, alphas=squares)
    if isinstance(basis, gal.HermiteRBFBasis):
        rbf = basis
        poly = gal.HermiteRBFBasis(
            gal.HermiteBasis(rbf.poly.mean, rbf.poly.components, rbf.poly.variances,
                             degree=min(2, rbf.poly.degree)), rbf.centres, rbf.widths)
    return ScoreMatchedLogDensity(poly).fit(Zs)


# The most wells whose polynomial log p (of degree 2k) potential compares in 1-d.
_POLY_WELLS_1D = 4


def potential_landscape(Zs, labels, mixture, seed):
    """A smooth ``log p`` for ``potential`` where the wells' mixture misreads ``V``: in 1-d
    and 2-d, with several wells, a polynomial ``log p`` score-matched over all of them (a
    quartic in 2-d, up to 5 wells; of degree ``2 k`` for ``k`` wells in 1-d, up to
    :data:`_POLY_WELLS_1D`), where its held-out Hyvaerinen score is the lower (None where
    the mixture's is).

    The Hyvaerinen score ``E[Lap log q + |grad log q|^2 / 2]`` is the Fisher divergence
    from the data up to a constant, and equals ``2 E[V_q]``: the model with the smaller
    mean ``V`` on rows it was not fitted on has the closer gradients, which ``V`` is made
    of. Both are fitted on one half of the rows and scored on the other, then on the
    other way round. Wells that are not Gaussian (deeptime's and the user guide's double
    well ``exp(-(x^2 - 1)^2 / D)``) are a few components each in the mixture, whose
    overlaps put false minima of ``V`` inside the wells (``V(0)`` 14.9 for an exact 4.0 at
    ``D = 0.5``; mean error 3.4, quartic 0.17); separated Gaussian blobs, moons and
    mixtures keep the mixture (their quartic scores are 0.1-36 higher). Where it is taken,
    the rates read it across barriers that no sample reaches (:mod:`._kde_levels`)."""
    d, k = Zs.shape[1], int(labels.max()) + 1
    fixed = mixture.fixed
    # in 1-d a -log p of degree 2m holds m wells (the zeros of its gradient alternate
    # minima and maxima): degree 2k, up to _POLY_WELLS_1D wells (deeptime's triple well
    # is a sextic); a quartic holds at most 5 in 2-d (at most 9 critical points by Bezout,
    # minima - saddles + maxima = 1): more wells than that it cannot hold, and comparing
    # would cost two more mixtures (t-SNE digits)
    if d > 2 or not 1 < k <= (_POLY_WELLS_1D, 5)[d - 1] or (fixed is not None and fixed.any()):
        return None
    from . import _galerkin as gal

    degree = 2 * max(k, 2) if d == 1 else 4

    def polynomial(Z):
        mean, comp, var, _ = gal.whitening(Z)
        return ScoreMatchedLogDensity(gal.HermiteBasis(mean, comp, var, degree=degree)).fit(Z)

    rows = np.random.RandomState(seed).permutation(len(Zs))
    halves = (rows[: len(rows) // 2], rows[len(rows) // 2:])
    gap = 0.0
    for fit_rows, test_rows in (halves, halves[::-1]):
        if min(np.bincount(labels[fit_rows], minlength=k)) < d + 2:
            return None  # a well too small for its half: no fair comparison
        mix = WellMixtureLogDensity(mixture.max_per_well, seed).fit(
            Zs[fit_rows], labels[fit_rows])
        with np.errstate(over="ignore", invalid="ignore"):
            gap += np.mean(polynomial(Zs[fit_rows]).potential(Zs[test_rows]))
            gap -= np.mean(mix.potential(Zs[test_rows]))
    return polynomial(Zs) if gap < 0 else None

