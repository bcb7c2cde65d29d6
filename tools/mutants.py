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

# --------------------------------------------------------------------------- VAE half
MUTANTS += [
    Mutant("_vae/_inference.py",
           "return -rec / _SCORE_MC_SAMPLES - m.kl_standard_normal(mu.double(), logvar.double())",
           "return -rec / _SCORE_MC_SAMPLES - 0.5 * m.kl_standard_normal(mu.double(), "
           "logvar.double())", [V + "test_objective.py"], "reported ELBO with its KL halved"),
    Mutant("_vae/_inference.py", "log_jacobian = float(np.sum(np.log(self._x_scale)))",
           "log_jacobian = 0.0", [V + "test_objective.py"],
           "ELBO without the Jacobian of the standardisation"),
    Mutant("_vae/_net.py", "loss = recon + (self.beta * self.kl_weight) * kl",
           "loss = recon + (0.5 * self.beta * self.kl_weight) * kl", [V + "test_objective.py"],
           "training loss with its KL halved"),
    Mutant("_vae/_network.py", "return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(dim=1)",
           "return 0.5 * (mu * mu + logvar.exp() - 1.0 + logvar).sum(dim=1)",
           [V + "test_objective.py"], "KL with the sign of log-variance flipped"),
    Mutant("_vae/_estimator.py", "        module.latent_sign.copy_(sign)\n", "",
           [V + "test_objective.py"], "sign rule removed"),
    Mutant("_vae/_estimator.py", "idx = resp.abs().argmax(dim=1)", "idx = resp.argmax(dim=1)",
           [V + "test_objective.py"], "sign rule reads the largest response, not the largest move"),
]
MUTANTS += [
    Mutant("_vae/_persistence.py",
           "params = {k: _param_to_json(k, v) for k, v in est.get_params(deep=False).items()}",
           "params = {k: _param_to_json(k, v) for k, v in est.get_params(deep=False).items()"
           " if k != \"beta\"}", [V + "test_every_parameter.py"], "save leaves out beta"),
    Mutant("_vae/_persistence.py", 'arrays["x_mean"], arrays["x_scale"] = est._x_mean, est._x_scale',
           'arrays["x_mean"], arrays["x_scale"] = est._x_mean, est._x_scale.astype(np.float32)',
           [V + "test_every_parameter.py", V + "test_archive.py"],
           "save rounds the standardisation to float32"),
    Mutant("_vae/_checkpoint.py", '"warm_start", "random_state"}',
           '"warm_start", "random_state", "perturbation_strength"}',
           [V + "test_every_parameter.py"], "fingerprint ignores perturbation_strength"),
    Mutant("_vae/_checkpoint.py", '"seeds": [int(s) for s in est._seed_values]},',
           '"seeds": []},', [V + "test_every_parameter.py", V + "test_fit_safety.py"],
           "fingerprint ignores the seeds"),
    Mutant("_vae/_checkpoint.py", "        h.update(np.ascontiguousarray(X[start:start + _HASH_ROWS]).data)\n",
           "        h.update(np.ascontiguousarray(X[start:start + 1]).data)\n",
           [V + "test_fit_safety.py"], "fingerprint hashes only the first row of each block"),
]
