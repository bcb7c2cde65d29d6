"""The deliberate bugs of ``tools/mutation_audit.py``: for each module, the rules that carry
its promise, each broken once. ``file`` is under ``perturbvae/``; ``old`` must occur exactly
once in it; ``tests`` are the pytest arguments that must catch the bug."""

from collections import namedtuple

Mutant = namedtuple("Mutant", "file old new tests what")

S = "tests/spectral/"
V = "tests/vae/"

MUTANTS = [
    # ----------------------------------------------------------------- spectral half
    Mutant("_spectral/_multiplets.py", "E[j] <= (1.0 + tol) * E[i]",
           "E[j] <= (1.0 + tol) * E[j - 1]", [S + "test_multiplets.py"],
           "multiplets chain level to level instead of comparing with their lowest level"),
    Mutant("_spectral/_multiplets.py", "groups = [np.arange(n_ground)]\n    i = n_ground",
           "groups = [np.arange(n_ground)]\n    i = n_ground + 1", [S + "test_multiplets.py"],
           "the level after the ground multiplet is dropped"),
    Mutant("_spectral/_samples.py", "order = np.lexsort((*keys.T[::-1], r))",
           "order = np.argsort(r, kind=\"stable\")", [S + "test_canonical_order.py"],
           "ties of the canonical order broken by input position"),
    Mutant("_spectral/_samples.py", "repeats[1:] = (r[order][1:] == r[order][:-1]) & ",
           "repeats[1:] = (r[order][1:] == r[order][:-1]) | ", [S + "test_canonical_order.py"],
           "rows with a tied radius flagged as repeats even with other coordinates"),
    Mutant("_spectral/_wells.py", "    return chi / s[:, None]", "    return chi",
           [S + "test_memberships_rates.py"],
           "memberships at new points not renormalised after clipping"),
    Mutant("_spectral/_wells.py", "if err > _SPECTRUM_RTOL:", "if err > 10 * _SPECTRUM_RTOL:",
           [S + "test_memberships_rates.py"],
           "'not well separated' warning threshold moved tenfold up"),
    Mutant("_spectral/_wells.py", "if err > _SPECTRUM_RTOL:", "if err > 0.1 * _SPECTRUM_RTOL:",
           [S + "test_memberships_rates.py"],
           "'not well separated' warning threshold moved tenfold down"),
    Mutant("_spectral/_finite_volumes.py", "    diag[:-1] += np.exp(lf - lp[:-1])\n",
           "    diag[:-1] += np.exp(lf - lp[:-1])\n    diag[[0, -1]] += 1.0\n",
           [S + "test_finite_volumes.py"],
           "1-d finite volumes: absorbing instead of no-flux boundaries"),
]
MUTANTS += [
    Mutant("_spectral/_finite_volumes.py",
           "        np.add.at(diag, b, np.exp(lf - lb) / h[axis] ** 2)\n",
           "        np.add.at(diag, b, np.exp(lf - lb) / h[axis] ** 2)\n"
           "        diag[idx[0]] += 1.0 / h[axis] ** 2\n", [S + "test_finite_volumes.py"],
           "2-d finite volumes: an absorbing left edge"),
]
