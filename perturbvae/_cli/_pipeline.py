"""The run of the ``perturbvae`` command: read, fit, read the spectrum, check seeds, write.

Paths, columns and options are checked before torch is imported (seconds), so that a
mistake is reported at once.
"""

import platform
import sys
import time
import warnings

import numpy as np

from . import _io, _report
from ._arguments import DEFAULT_COMPONENTS, PROG, default_threads
from ._errors import Interrupted, UsageError
from ._figures import write_plots

HOLD_OUT_MIN = 50  # rows from which 10 % are held out to score the ELBO on unseen rows


def run(args, warning_log):
    """Run the command for parsed ``args``; returns the exit status."""
    t_start = time.perf_counter()
    progress = _report.Progress(args.quiet)
    out = _io.output_folder(args)  # checked first: nothing is computed for nothing
    X, labels, info = _io.read_input(args)
    capped = args.n_components is None and X.shape[1] < DEFAULT_COMPONENTS
    args.n_components = resolve_n_components(args.n_components, X.shape[1],
                                             training_rows(X.shape[0]))
    _check_n_wells(args.n_wells, X.shape[0])
    if not args.no_scale:
        X = _io.standardise(X)
    threads = args.threads or default_threads()
    _check_device_arg(args.device)  # imports torch

    from .._threads import limit_threads

    with limit_threads(threads):
        print(_report.data_line(info["source"], X.shape, not args.no_scale,
                                args.n_components, capped, threads))
        fit = _fit_and_score(args, X, progress)
        if fit is None:
            return 1
        sd, sd2 = _spectrum(args, fit["Z"], fit["vae"], progress)
        stability = _stability(args, X, progress)
        if stability is False:
            return 1
        plots = _write_outputs(args, out, fit, labels, sd, sd2, stability, progress)
    summary = _summary(args, info, X.shape, fit, sd, sd2, stability, plots, progress,
                       t_start)
    summary["threads"] = threads
    summary["warnings"] = {"shown": warning_log.shown, "from_other_libraries":
                           warning_log.hidden}
    _io.write_summary(out, summary)
    print(_report.files_text(summary["files"], out,
                             prior=fit["vae"].prior_energies_ is not None))
    print(f"({time.perf_counter() - t_start:.0f} s in all)")
    return 0


def _check_n_wells(n_wells, n_samples):
    """Refuse, before training, a number of wells the rows cannot hold (each well needs two
    samples, as SpectralDegeneracy asks; it said so only after the fit)."""
    if n_wells is not None and n_wells > n_samples // 2:
        raise UsageError(f"--n-wells {n_wells} asks for more wells than the {n_samples} rows "
                         f"can hold (two rows a well); give --n-wells {n_samples // 2} or less")


def resolve_n_components(requested, n_features, n_rows=None):
    """The latent dimension: the one asked for, or the default capped by the features;
    refused, before training, above the features or the ``n_rows`` the model trains on."""
    if requested is None:
        return min(DEFAULT_COMPONENTS, n_features)
    if requested > n_features:
        raise UsageError(f"--n-components {requested} exceeds the {n_features} features of "
                         f"the data; give --n-components {n_features} or less")
    if n_rows is not None and requested > n_rows:
        raise UsageError(f"--n-components {requested} exceeds the {n_rows} rows the model "
                         f"trains on; give --n-components {n_rows} or less")
    return requested


def training_rows(n):
    """How many of ``n`` rows the model trains on (:func:`_split_rows`)."""
    return len(_split_rows(n, 0)[0])


def _split_rows(n, seed):
    """The rows the model trains on and those held out to score it: 10 % held out from
    :data:`HOLD_OUT_MIN` rows, none below."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(n)
    if n < HOLD_OUT_MIN:
        return rows, rows[:0]
    return train_test_split(rows, test_size=0.1, random_state=seed)


def _check_device_arg(device):
    from .._vae._device import check_device

    try:
        check_device(device)
    except ValueError as exc:
        raise UsageError(f"--device {device}: {exc}") from None


def _model_params(args):
    return dict(n_components=args.n_components, perturbation=_perturbation(args),
                perturbation_strength=args.strength, max_epochs=args.epochs,
                device=args.device)


def _perturbation(args):
    """The ``perturbation`` parameter: the name, None for 'none', or ``Wells(n_wells=K)``
    where the number of wells is given."""
    if args.perturbation == "none":
        return None
    if args.perturbation == "wells" and args.n_wells is not None:
        from ..potentials import Wells

        return Wells(n_wells=args.n_wells)
    return args.perturbation


def _fit_and_score(args, X, progress):
    """Fit on 90 % of the rows, embed them all; None when training diverged."""
    from .. import PerturbedVAE
    from .._vae._net import TrainingDivergedError

    idx_train, idx_test = _split_rows(X.shape[0], args.seed)
    callbacks = None if args.quiet else [("cli_progress", _report.epoch_callback(args.epochs))]
    vae = PerturbedVAE(random_state=args.seed, callbacks=callbacks, **_model_params(args))
    progress.start("fit", f"fitting PerturbedVAE(n_components={args.n_components}, "
                          f"perturbation={args.perturbation!r}) for {args.epochs} epochs on "
                          f"{len(idx_train)} rows")
    try:
        vae.fit(X[idx_train])
    except TrainingDivergedError as exc:
        print(f"{PROG}: error: training diverged ({exc}); try a smaller --strength or "
              "standardised data", file=sys.stderr)
        return None
    except ValueError as exc:
        raise UsageError(f"cannot fit the data: {exc}") from None
    if vae.n_epochs_ < args.epochs:  # skorch ends training quietly on Ctrl-C
        raise Interrupted(f"interrupted after {vae.n_epochs_} of {args.epochs} training "
                          "epochs; nothing was written")
    progress.done()
    fit = {"vae": vae, "Z": vae.transform(X), "elbo_train": vae.score(X[idx_train]),
           "elbo_test": vae.score(X[idx_test]) if len(idx_test) else None,
           "n_train": len(idx_train), "n_test": len(idx_test)}
    print(_report.elbo_text(fit, standardised=not args.no_scale))
    return fit


def _spectrum(args, Z, vae, progress):
    """Spectrum of the embedding (and of its first two axes), printed beside the prior's."""
    from .. import SpectralDegeneracy

    n, d = Z.shape
    n_levels = _report.levels_asked(d, n)
    n_wells = "auto" if args.n_wells is None else args.n_wells
    progress.start("spectrum", f"estimating the spectrum ({n_levels} levels)")
    try:
        sd = SpectralDegeneracy(n_levels=n_levels, n_wells=n_wells,
                                random_state=args.seed).fit(Z)
        sd2 = sd if d == 2 else None  # one latent axis: no plane, no landscape figure
        if d > 2 and not args.no_plots:  # its warnings name the figure: none without it
            sd2 = _landscape_fit(Z[:, :2], n, n_wells, args.seed)
    except ValueError as exc:
        raise UsageError(f"cannot read the spectrum of the embedding: {exc}") from None
    progress.done()
    print(_report.spectrum_text(sd, vae.prior_energies_, n_levels, d, n))
    return sd, sd2


def _landscape_fit(Z2, n, n_wells, seed):
    """The spectrum of the first two axes, for the landscape figure alone: its warnings
    say so (unlabelled, they read as the printed spectrum's and contradicted it)."""
    from .. import SpectralDegeneracy

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sd2 = SpectralDegeneracy(n_levels=min(10, n - 1), n_wells=n_wells,
                                 random_state=seed).fit(Z2)
    for w in caught:
        warnings.warn(f"on the first two axes (energy_landscape.png only): {w.message}",
                      w.category, stacklevel=2)
    return sd2


def _stability(args, X, progress):
    """Seed stability (None when skipped, False when a fit diverged)."""
    if not args.seeds:
        return None
    from .. import PerturbedVAE
    from .._vae._net import TrainingDivergedError
    from ..metrics import seed_stability

    progress.start("seed_stability", f"seed stability: {args.seeds} fits of "
                                     f"{args.epochs} epochs, {args.n_jobs} in parallel")
    try:
        stability = seed_stability(PerturbedVAE(**_model_params(args)), X, n_seeds=args.seeds,
                                   n_jobs=args.n_jobs, random_state=args.seed)
    except TrainingDivergedError as exc:
        print(f"{PROG}: error: a seed-stability fit diverged ({exc})", file=sys.stderr)
        return False
    progress.done()
    print(_report.stability_text(stability, args.seeds))
    return stability


def _write_outputs(args, out, fit, labels, sd, sd2, stability, progress):
    """Embedding files and plots; returns the plot file names."""
    progress.start("write", f"writing to {out}")
    vae, Z = fit["vae"], fit["Z"]
    try:
        out.mkdir(parents=True, exist_ok=args.force)
        _io.write_embedding(out, list(vae.get_feature_names_out()), Z, labels)
        plots = [] if args.no_plots else write_plots(out, Z, labels, vae, sd, sd2, stability)
    except FileExistsError:
        raise UsageError(f"output folder {out} exists; use --force") from None
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc}") from None
    progress.done()
    return plots


def _summary(args, info, shape, fit, sd, sd2, stability, plots, progress, t_start):
    import torch

    from .. import __version__

    vae = fit["vae"]
    return {
        "perturbvae_version": __version__,
        "data": {**info, "n_samples": shape[0], "n_features": shape[1],
                 "standardised": not args.no_scale},
        "parameters": {k: v for k, v in vae.get_params().items() if k != "callbacks"},
        "elbo": {"train": fit["elbo_train"], "held_out": fit["elbo_test"],
                 "n_train": fit["n_train"], "n_held_out": fit["n_test"],
                 "units": "nats per sample", "of": ("the standardised features"
                                                    if not args.no_scale else "the data")},
        "spectrum": {
            "method": sd.method_, "energies": sd.energies_,
            "multiplets": [list(map(int, g)) for g in sd.multiplets_],
            "degeneracies": sd.degeneracies_, "n_ground_states": sd.n_ground_states_,
            "n_ground_states_resampled": sd.n_ground_states_resampled_,
            "ground_gap": sd.ground_gap_, "count_reading": sd.count_reading_,
            "bandwidth": sd.bandwidth_, "prior_energies": vae.prior_energies_,
            "wells": {"weights": sd.stationary_distribution_,
                      "rate_matrix": sd.rate_matrix_,
                      "mean_first_passage_times": sd.mean_first_passage_times_,
                      "rates_source": sd.ground_levels_source_,
                      "rates_error_bound": sd.rates_error_bound_},
            "landscape_2d": None if sd2 is None else {
                "energies": sd2.energies_, "n_ground_states": sd2.n_ground_states_,
                "bandwidth": sd2.bandwidth_},
        },
        "seed_stability": None if stability is None else {
            "n_seeds": args.seeds, "seeds": stability.seeds,
            "axis_mean": stability.axis_mean, "subspace_mean": stability.subspace_mean,
            "degeneracy": stability.degeneracy, "axis": stability.axis,
            "subspace": stability.subspace,
        },
        "files": ["embedding.npy", "embedding.csv", "summary.json"] + plots,
        "timings_s": {**progress.timings, "total": round(time.perf_counter() - t_start, 3)},
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "device": str(vae.net_.device)},
        "command": [PROG] + _argv_of(args),
    }


def _argv_of(args):
    """The options as given (for the summary), reconstructed from the parsed namespace."""
    argv = [] if args.data is None else [str(args.data)]
    for key, value in sorted(vars(args).items()):
        # `is`, not `in (None, False)`: 0 == False, which dropped --seeds 0, --strength 0
        # and --seed 0 (replayed, the first two run with their defaults, 3 and 1.0)
        if key == "data" or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, list):
            value = ",".join(value)
        argv += [flag] if value is True else [flag, str(value)]
    return argv
