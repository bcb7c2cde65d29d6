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
    Mutant("_vae/_persistence.py",
           'arrays["x_mean"], arrays["x_scale"] = est._x_mean, est._x_scale',
           'arrays["x_mean"], arrays["x_scale"] = est._x_mean, est._x_scale.astype(np.float32)',
           [V + "test_every_parameter.py", V + "test_archive.py"],
           "save rounds the standardisation to float32"),
    Mutant("_vae/_checkpoint.py", '"warm_start", "random_state"}',
           '"warm_start", "random_state", "perturbation_strength"}',
           [V + "test_every_parameter.py"], "fingerprint ignores perturbation_strength"),
    Mutant("_vae/_checkpoint.py", '"seeds": [int(s) for s in est._seed_values]},',
           '"seeds": []},', [V + "test_every_parameter.py", V + "test_fit_safety.py"],
           "fingerprint ignores the seeds"),
    Mutant("_vae/_checkpoint.py",
           "        h.update(np.ascontiguousarray(X[start:start + _HASH_ROWS]).data)\n",
           "        h.update(np.ascontiguousarray(X[start:start + 1]).data)\n",
           [V + "test_fit_safety.py"], "fingerprint hashes only the first row of each block"),
]

# ------------------------------------------------------------------- shared modules
T = "tests/"
MUTANTS += [
    Mutant("potentials.py", "spread = min(spread, 0.25 * float(np.median(dist.min(axis=1))))",
           "spread = min(spread, 0.5 * float(np.median(dist.min(axis=1))))",
           [T + "test_potentials.py"], "Wells width cap at half the centre distance"),
    Mutant("potentials.py", "return np.arange(d, dtype=np.float64) / d",
           "return np.arange(1, d + 1, dtype=np.float64) / d", [T + "test_potentials.py"],
           "default Ladder stiffnesses start at 1/d instead of 0"),
    Mutant("potentials.py", "return 0.5 * ((mu * mu + logvar.exp()) * self._c(mu)).sum(dim=1)",
           "return 0.5 * ((mu * mu) * self._c(mu)).sum(dim=1)", [T + "test_potentials.py"],
           "Ladder expected energy without the posterior variance"),
    Mutant("_cli/_main.py", "    if fit is None:\n        return 1",
           "    if fit is None:\n        return 0",
           [T + "test_cli.py::test_training_that_diverges_exits_1_and_writes_no_results"],
           "command line exits 0 when training diverges"),
    Mutant("_cli/_main.py", "    if stability is False:\n        return 1",
           "    if stability is False:\n        pass",
           [T + "test_cli.py::test_a_seed_stability_fit_that_diverges_exits_1"],
           "command line goes on when a seed-stability fit diverges"),
    Mutant("_cli/_main.py", 'print(f"{PROG}: error: {exc}", file=sys.stderr)\n        return 2',
           'print(f"{PROG}: error: {exc}", file=sys.stderr)\n        return 1',
           [T + "test_cli.py", "-k", "exits_2"], "bad input exits 1 instead of 2"),
    Mutant("metrics.py", 'r = np.clip(np.abs(np.einsum("ij,ij->j", A, B)), 0.0, 1.0)',
           'r = np.clip(np.einsum("ij,ij->j", A, B), 0.0, 1.0)', [T + "test_metrics.py"],
           "axis agreement counts a flipped axis as disagreeing"),
    Mutant("metrics.py", "return float(rho.sum() / Za.shape[1])", "return float(rho.max())",
           [T + "test_metrics.py"], "subspace agreement reads only the best-aligned direction"),
    Mutant("metrics.py", "i, j = np.triu_indices(M.shape[0], k=1)",
           "i, j = np.triu_indices(M.shape[0], k=0)", [T + "test_metrics.py"],
           "seed-stability means include each seed with itself"),
    Mutant("datasets.py", "    w = 1.0 / v\n", "    w = 1.0 / np.sqrt(v)\n",
           [T + "test_datasets.py"],
           "Gaussian levels 1/s instead of 1/s^2"),
    Mutant("datasets.py", "comp = np.log(w) - d * np.log(s)", "comp = np.log(w) - np.log(s)",
           [T + "test_datasets.py"], "mixture log-density normalised as if 1-d"),
    Mutant("datasets.py", "    diag[1:] += np.exp(lf - lc[1:]) / h**2\n",
           "    diag[1:] += np.exp(lf - lc[1:]) / h**2\n    diag[[0, -1]] += 1.0 / h**2\n",
           [T + "test_datasets.py"], "reference 1-d solver: absorbing boundaries"),
    Mutant("datasets.py", "lab = rng.choice(len(w), size=n, p=w)",
           "lab = rng.choice(len(w), size=n)", [T + "test_datasets.py"],
           "mixture sampler ignores the weights"),
    Mutant("_archive.py",
           'if key not in allow_nonfinite and a.dtype.kind == "f" and not np.isfinite(a).all():',
           'if False:', [V + "test_archive.py"], "archives store NaN arrays"),
    Mutant("_archive.py", "or version > FORMAT_VERSION:", "or version > FORMAT_VERSION + 1:",
           [V + "test_archive.py"], "archives of a newer format are read"),
    Mutant("_vae/_callbacks.py", "frac = min(1.0, done / max(self.epochs, 1))",
           "frac = min(1.0, (done + 1) / max(self.epochs, 1))",
           [V + "test_vae.py::test_kl_warmup_callback"], "KL warm-up starts one epoch late"),
    Mutant("_vae/_chunks.py", "            estimator.partial_fit(chunk)\n            n_seen += 1",
           "            if n_seen == 0:\n                estimator.partial_fit(chunk)\n"
           "            n_seen += 1", [V + "test_out_of_core.py"],
           "fit_chunks trains on the first chunk only"),
    Mutant("_vae/_steps.py", "return max(1, min(int(batch_size), n_rows))",
           "return max(1, int(batch_size))", [V + "test_fast_training.py"],
           "batch size not capped at the number of rows"),
    Mutant("_spectral/_dequantize.py", "return block + steps * (uniform_hash(keys, seed) - 0.5)",
           "return block + steps * uniform_hash(keys, seed)", [S + "test_dequantize.py"],
           "dequantization noise not centred on the cell"),
    Mutant("_spectral/_dequantize.py", "rank[order] = np.arange(len(order))",
           "rank = np.arange(len(order))", [S + "test_dequantize.py"],
           "dequantization noise follows input position, not the canonical order"),
    Mutant("_spectral/_density.py",
           "out[a:a + chunk] = logsumexp(-D / (2 * s * s), axis=1) + const",
           "out[a:a + chunk] = logsumexp(-D / (s * s), axis=1) + const",
           [S + "test_density.py"], "kernel density with the bandwidth off by sqrt(2)"),
]
MUTANTS += [
    Mutant("_spectral/_galerkin.py", "A += inv_var[j] * (G.T @ G)", "A += G.T @ G",
           [S + "test_spectral.py", "-k", "gaussian or Gaussian"],
           "Galerkin stiffness ignores the whitened variances"),
    Mutant("_spectral/_galerkin.py", "T = V[:, keep] / np.sqrt(s[keep])  # T^T Bc T = I",
           "T = V[:, keep]", [S + "test_spectral.py", "-k", "gaussian or Gaussian"],
           "Galerkin basis not orthonormalised in the mass matrix"),
]
