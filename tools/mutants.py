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
    Mutant("_spectral/_multiplets.py", "groups = [np.arange(n_ground)] if n_ground > 0 else []\n    i = n_ground",
           "groups = [np.arange(n_ground)] if n_ground > 0 else []\n    i = n_ground + 1", [S + "test_multiplets.py"],
           "the level after the ground multiplet is dropped"),
    Mutant("_spectral/_samples.py", "order = np.lexsort((*keys.T[::-1], r))",
           "order = np.argsort(r, kind=\"stable\")", [S + "test_canonical_order.py"],
           "ties of the canonical order broken by input position"),
    Mutant("_spectral/_samples.py", "repeats[1:] = (r[order][1:] == r[order][:-1]) & ",
           "repeats[1:] = (r[order][1:] == r[order][:-1]) | ", [S + "test_canonical_order.py"],
           "rows with a tied radius flagged as repeats even with other coordinates"),
    Mutant("_spectral/_pcca.py", "    return chi / s[:, None]", "    return chi",
           [S + "test_memberships_rates.py"],
           "memberships at new points not renormalised after clipping"),
    Mutant("_spectral/_wells.py", "if err > SPECTRUM_RTOL:", "if err > 10 * SPECTRUM_RTOL:",
           [S + "test_memberships_rates.py"],
           "'not well separated' warning threshold moved tenfold up"),
    Mutant("_spectral/_wells.py", "if err > SPECTRUM_RTOL:", "if err > 0.1 * SPECTRUM_RTOL:",
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
           "return -rec / len(noise) - m.kl_standard_normal(mu.double(), logvar.double())",
           "return -rec / len(noise) - 0.5 * m.kl_standard_normal(mu.double(), "
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
    Mutant("potentials.py", "factor = float(np.clip(wanted / max(nearest, 1e-12), 1.0, self.max_spread))",
           "factor = float(np.clip(wanted / max(nearest, 1e-12), 1.0, 2 * self.max_spread))",
           [T + "test_potentials.py"], "Wells centres pushed beyond the spread limit"),
    Mutant("potentials.py", "return np.arange(d, dtype=np.float64) / d",
           "return np.arange(1, d + 1, dtype=np.float64) / d", [T + "test_potentials.py"],
           "default Ladder stiffnesses start at 1/d instead of 0"),
    Mutant("potentials.py", "return 0.5 * ((mu * mu + logvar.exp()) * self._c(mu)).sum(dim=1)",
           "return 0.5 * ((mu * mu) * self._c(mu)).sum(dim=1)", [T + "test_potentials.py"],
           "Ladder expected energy without the posterior variance"),
    Mutant("_cli/_pipeline.py", "        if fit is None:\n            return 1",
           "        if fit is None:\n            return 0",
           [T + "test_cli.py::test_training_that_diverges_exits_1_and_writes_no_results"],
           "command line exits 0 when training diverges"),
    Mutant("_cli/_pipeline.py", "        if stability is False:\n            return 1",
           "        if stability is False:\n            pass",
           [T + "test_cli.py::test_a_seed_stability_fit_that_diverges_exits_1"],
           "command line goes on when a seed-stability fit diverges"),
    Mutant("_cli/_main.py", 'print(f"{PROG}: error: {exc}", file=sys.stderr)\n            return 2',
           'print(f"{PROG}: error: {exc}", file=sys.stderr)\n            return 1',
           [T + "test_cli.py", "-k", "exits_2"], "bad input exits 1 instead of 2"),
    Mutant("metrics.py", 'r = np.clip(np.abs(np.einsum("ij,ij->j", A, B)), 0.0, 1.0)',
           'r = np.clip(np.einsum("ij,ij->j", A, B), 0.0, 1.0)', [T + "test_metrics.py"],
           "axis agreement counts a flipped axis as disagreeing"),
    Mutant("metrics.py", "return float(rho.sum() / Za.shape[1])", "return float(rho.max())",
           [T + "test_metrics.py"], "subspace agreement reads only the best-aligned direction"),
    Mutant("metrics.py", "i, j = np.triu_indices(M.shape[0], k=1)",
           "i, j = np.triu_indices(M.shape[0], k=0)", [T + "test_metrics.py"],
           "seed-stability means include each seed with itself"),
    Mutant("datasets.py", "    return oscillator_levels(1.0 / v, n_levels)",
           "    return oscillator_levels(1.0 / np.sqrt(v), n_levels)",
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
    Mutant("_vae/_chunks.py", "            try:\n                estimator.partial_fit(chunk)\n",
           "            try:\n                if n_seen == 0:\n                    estimator.partial_fit(chunk)\n", [V + "test_out_of_core.py"],
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
MUTANTS += [
    Mutant("_spectral/_graph.py", "        if not tiny.any():\n            break",
           "        break",
           [S + "test_spectral.py::test_outliers_in_the_data_component_leave_the_wells_alone"],
           "points of tiny metastable states left in the eigenproblem"),
    Mutant("_spectral/_samples.py", "        return np.sum(Y**2, axis=1)",
           "        return np.sum((X - centre) ** 2, axis=1)",
           [S + "test_count.py::test_affine_maps_draw_the_same_rows"],
           "canonical order by Euclidean, not Mahalanobis, distance: units change the draws"),
    Mutant("_spectral/_samples.py", "g = int(np.gcd.reduce(mult))",
           "g = int(mult.max()) if mult.min() == mult.max() else 1",
           [S + "test_invariance_spectral.py", "-k", "repeats_of_its_own"],
           "a tiled data set with repeats of its own read as rounded data"),
    Mutant("_spectral/_dequantize.py", "def on_lattice(distinct, steps, tol=1e-3):",
           "def on_lattice(distinct, steps, tol=1e-6):",
           [S + "test_dequantize.py::test_scores_stored_in_float32_are_still_on_their_grid"],
           "scores stored in float32 taken for atoms"),
    Mutant("_spectral/_estimator.py", "if share < _wells.HOP_SHARE:", "if share < 0.0:",
           [S + "test_rates_2d.py::test_wells_stretched_along_their_barrier_are_flagged"],
           "rates of wells stretched along their barrier read from motions inside them"),
    Mutant("_spectral/_count.py", "if m_resample < MIN_SAMPLES:",
           "if m_resample < 0:",
           [S + "test_count.py::test_resamples_too_small_for_the_count_are_not_made"],
           "resamples below the count's minimum read one well and warn 'uncertain'"),
]
MUTANTS += [
    Mutant("_spectral/_count.py",
           'reduction = count.reading == "given" and (k <= density.n_wells or backed)',
           'reduction = count.reading == "given" and k <= density.n_wells',
           [S + "test_count.py::test_a_given_number_the_density_backs_is_its_reduction"],
           "a given number the density backs read from the neighbourhoods"),
    Mutant("potentials.py", "if weights is None or self.n_wells_ == 1:",
           "if True:",
           [V + "test_wells.py::test_samples_draw_the_wells_in_their_groups_proportions"],
           "samples of wells drawn from the unweighted mixture"),
]
MUTANTS += [
    Mutant("_spectral/_estimator.py", "        if len(groups) < 2:\n            return",
           "        if True:\n            return",
           [S + "test_rates_2d.py::test_rates_across_a_barrier_no_sample_visits_are_flagged"],
           "rates across barriers no sample visits passed as measured"),
    Mutant("_spectral/_estimator.py", "if gap > _wells.WEIGHT_GAP:", "if gap > 1.0:",
           [S + "test_rates_2d.py::"
            "test_weights_the_landscape_smooths_off_the_samples_shares_are_flagged"],
           "weights far from the samples' shares passed without a word"),
]
MUTANTS += [
    Mutant("_spectral/_eigen.py", "if k > 1 and E[1] < TINY_LEVEL * bound:", "if False:",
           [S + "test_eigen.py::test_deep_wells_are_left_to_the_shift"],
           "levels of deep wells read by Lanczos without the shift (2 % off)"),
]
MUTANTS += [
    Mutant("_spectral/_count.py", "    if np.any(inside.sum(axis=1) < k):\n        return None\n",
           "", [S + "test_count.py::test_resample_neighbours_read_from_the_pilot_lists_are_the_nearest"],
           "resample neighbours read from pilot lists that ran out"),
]
MUTANTS += [
    Mutant("_spectral/_graph.py", "    d = affine_dimension(X)\n", "    d = X.shape[1]\n",
           [S + "test_invariance_spectral.py::test_null_directions_embedded_and_rotated"],
           "graph energies scaled by columns / dimension (constant columns, padding)"),
    Mutant("_spectral/_kde_levels.py",
           "    d = affine_dimension(Z - Z.mean(axis=0))\n    plane = wells_plane(",
           "    d = Z.shape[1]\n    plane = wells_plane(",
           [S + "test_invariance_spectral.py::test_null_directions_embedded_and_rotated"],
           "the landscape's plane of padded 2-d data chosen as for 3-d data"),
]
MUTANTS += [
    Mutant("_spectral/_estimator.py",
           '                      and not (info.basis_kind == "hermite"\n'
           '                               and info.change > _AUTO_MAX_CHANGE))',
           "                      and not info.change > _AUTO_MAX_CHANGE)",
           [S + "test_spectral.py::test_bump_basis_reports_its_unconverged_excited_levels"],
           "auto leaves the bump basis of several wells for the graph"),
    Mutant("_spectral/_spectrum.py", "        change = _top_degree_change(basis, A, B, E)",
           "        change = None",
           [S + "test_spectral.py::test_bump_basis_reports_its_unconverged_excited_levels"],
           "the bump basis's levels not checked (levels_converged_ None)"),
]
