"""Command line: ``perturbvae [DATA] [options]`` (also ``python -m perturbvae``).

Fits a :class:`~perturbvae.PerturbedVAE` on scikit-learn's digits or on the user's CSV/NPY
file, prints the ELBO, the measured spectrum of the embedding next to the prior's exact one and
the seed stability, and writes the embedding, a JSON summary and PNG plots to a folder.
"""

import argparse
import csv
import json
import math
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .._archive import jsonable

PROG = "perturbvae"
_MAX_LEVELS = 45  # spectrum levels estimated: 1 + d + d(d+1)/2, capped (45 for d = 8)
_PLOT_LEVELS = 20  # levels drawn in spectrum.png
_MAX_SEED = 2**32 - 1
_BANDWIDTHS = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8)  # x the rule-of-thumb length, for the landscape

_DESCRIPTION = """\
Fit a PerturbedVAE (a VAE started at its exact PCA solution, with a ladder potential that
lifts the rotational degeneracy of its latent space), then read the spectrum of the
embedding with SpectralDegeneracy and measure how stable the axes are across seeds.

With no DATA it runs on scikit-learn's handwritten digits (1797 x 64). DATA is a CSV file
(header detected automatically; numeric columns only, except an optional --label-column)
or a .npy file holding a 2-D numeric array. Features are standardised (StandardScaler)
unless --no-scale is given.

Printed: the ELBO (mean per sample, on the training rows and on a held-out 10 %), the
spectrum of the embedding grouped into multiplets beside the exact levels of the model's
prior, and the axis and subspace agreement of models fitted with different seeds.
Written to the output folder: embedding.npy, embedding.csv, summary.json and the PNG
plots spectrum.png, energy_landscape.png, latent.png, seed_stability.png."""

_EPILOG = """\
examples:
  perturbvae                                  # the digits demo, output in a new folder
  perturbvae data.csv --label-column species --out results
  perturbvae X.npy --n-components 4 --epochs 100 --seeds 5 --n-jobs 4
  perturbvae --perturbation none --out plain  # a plain VAE for comparison

exit status: 0 on success, 1 if training fails, 2 on bad usage or bad input."""


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""


# ----------------------------------------------------------------------------- arguments --
def _bounded(cast, minimum):
    """An argparse type: ``cast(text)``, finite and at least ``minimum``."""
    kind = "an integer" if cast is int else "a number"
    if (cast, minimum) == (int, 1):
        bound = "a positive integer"
    else:
        bound = f"{'an integer' if cast is int else 'a finite number'} >= {minimum}"

    def convert(text):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {bound}, got {text}")
        return value

    return convert


_positive_int = _bounded(int, 1)
_nonneg_int = _bounded(int, 0)
_nonneg_float = _bounded(float, 0)


def _seed_arg(text):
    value = _nonneg_int(text)
    if value > _MAX_SEED:  # numpy's RandomState takes seeds below 2**32
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {_MAX_SEED}, got {text}")
    return value


def _seeds_arg(text):
    value = _nonneg_int(text)
    if value == 1:
        raise argparse.ArgumentTypeError("seed stability needs at least 2 seeds (0 skips it)")
    return value


def _n_jobs_arg(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or -1, got {value}")
    return value


def build_parser():
    """The argument parser of the ``perturbvae`` command."""
    p = argparse.ArgumentParser(
        prog=PROG, description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="CSV or .npy file (rows = samples); default: scikit-learn's digits")
    p.add_argument("--label-column", metavar="NAME",
                   help="CSV column used only to colour the plots (a name from the header, "
                        "or a 0-based index when the file has none); excluded from features")
    m = p.add_argument_group("model")
    m.add_argument("--n-components", type=_positive_int, default=8, metavar="D",
                   help="latent dimension (default: %(default)s)")
    m.add_argument("--perturbation", choices=("ladder", "wells", "none"), default="ladder",
                   help="symmetry-breaking potential; 'none' is a plain VAE "
                        "(default: %(default)s)")
    m.add_argument("--strength", type=_nonneg_float, default=1.0, metavar="LAM",
                   help="perturbation strength lambda (default: %(default)s)")
    m.add_argument("--epochs", type=_positive_int, default=60,
                   help="training epochs (default: %(default)s)")
    m.add_argument("--device", default="auto",
                   help="torch device: auto, cpu, cuda, cuda:1, ... (default: %(default)s)")
    m.add_argument("--seed", type=_seed_arg, default=0,
                   help="random seed of the main fit and of the seed draw (default: "
                        "%(default)s)")
    m.add_argument("--no-scale", action="store_true",
                   help="do not standardise the features")
    s = p.add_argument_group("seed stability")
    s.add_argument("--seeds", type=_seeds_arg, default=3, metavar="N",
                   help="number of seeds for the stability check, 0 to skip "
                        "(default: %(default)s)")
    s.add_argument("--n-jobs", type=_n_jobs_arg, default=2, metavar="J",
                   help="fits run in parallel, one torch thread each; -1: all cores "
                        "(default: %(default)s)")
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="DIR",
                   help="output folder (default: a new perturbvae-output-YYYYmmdd-HHMMSS "
                        "in the working directory)")
    o.add_argument("--force", action="store_true",
                   help="write into --out even if it exists (files of the same name are "
                        "overwritten)")
    o.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")
    o.add_argument("-q", "--quiet", action="store_true",
                   help="print only the results, no progress on stderr")
    from .. import __version__

    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


# ---------------------------------------------------------------------------- data input --
def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_header(first, rest, label_column=None):
    """Whether the first row names the columns.

    It does when it holds text in a column whose other cells are numbers (a text
    label column is text all the way down, header or not), or the name given as
    --label-column.
    """
    if label_column is not None and label_column in first and not label_column.isdigit():
        return True
    sample = rest[:200]
    for j, cell in enumerate(first):
        if cell == "" or _is_number(cell):
            continue
        below = [r[j].strip() for r in sample if j < len(r) and r[j].strip() != ""]
        if not below or all(_is_number(c) for c in below):
            return True
    return False


def load_csv(path, label_column=None):
    """Read a numeric CSV file. Returns ``(X, labels, feature_names, label_name)``."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(64 * 1024)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = [r for r in csv.reader(fh, dialect) if r and any(c.strip() for c in r)]
    if not rows:
        raise UsageError(f"{path}: the file is empty")
    first = [c.strip() for c in rows[0]]
    has_header = _has_header(first, rows[1:], label_column)
    if has_header:
        names, body, first_line = first, rows[1:], 2
    else:
        names, body, first_line = [f"column {j}" for j in range(len(first))], rows, 1
    if not body:
        raise UsageError(f"{path}: the file has a header but no data rows")
    n_cols = len(names)
    for i, row in enumerate(body):
        if len(row) != n_cols:
            raise UsageError(f"{path}: line {i + first_line} has {len(row)} fields, "
                             f"expected {n_cols}")

    label_idx = None
    if label_column is not None:
        if label_column in names:
            label_idx = names.index(label_column)
        elif not has_header and label_column.isdigit() and int(label_column) < n_cols:
            label_idx = int(label_column)
        else:
            where = (f"columns: {', '.join(names)}" if has_header
                     else f"the file has no header; give a 0-based index below {n_cols}")
            raise UsageError(f"{path}: no column {label_column!r} for --label-column ({where})")

    cols = [j for j in range(n_cols) if j != label_idx]
    if not cols:
        raise UsageError(f"{path}: no feature columns besides the label column")
    X = np.empty((len(body), len(cols)), dtype=np.float64)
    for k, j in enumerate(cols):
        for i, row in enumerate(body):
            cell = row[j].strip()
            try:
                X[i, k] = float(cell)
            except ValueError:
                what = "an empty value" if cell == "" else f"the value {cell!r}"
                name = names[j] if has_header else f"{j} (0-based, no header)"
                raise UsageError(
                    f"{path}: column {name!r} is not numeric: {what} on line {i + first_line}"
                    f" (only numeric feature columns are accepted; use --label-column for a "
                    f"text label)"
                ) from None
            if not math.isfinite(X[i, k]):
                name = names[j] if has_header else f"{j} (0-based, no header)"
                raise UsageError(f"{path}: column {name!r} has a non-finite value "
                                 f"({cell!r}) on line {i + first_line}")
    labels = None
    if label_idx is not None:
        raw = [row[label_idx].strip() for row in body]
        labels = (np.array([float(v) for v in raw])
                  if all(_is_number(v) for v in raw) else np.array(raw))
        if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
    feature_names = [names[j] for j in cols] if has_header else None
    return X, labels, feature_names, (names[label_idx] if label_idx is not None else None)


def load_npy(path):
    """Read a 2-D numeric array from a ``.npy`` file."""
    try:
        X = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise UsageError(f"{path}: not a plain numeric .npy array ({exc})") from None
    if not isinstance(X, np.ndarray):
        raise UsageError(f"{path}: expected one array, got {type(X).__name__}")
    if X.dtype.kind not in "biuf":
        raise UsageError(f"{path}: the array has dtype {X.dtype}, a numeric one is needed")
    if X.ndim != 2:
        raise UsageError(f"{path}: expected a 2-D array (samples x features), got shape "
                         f"{X.shape}")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise UsageError(f"{path}: {int(bad.sum())} non-finite value(s), the first at row "
                         f"{i}, column {j}")
    return X


def load_data(args):
    """Return ``(X, labels, info)`` for the command's arguments."""
    if args.data is None:
        if args.label_column is not None:
            raise UsageError("--label-column needs a CSV data file")
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.data.astype(np.float64), digits.target, {
            "source": "sklearn.datasets.load_digits", "label_column": "digit"}
    path = Path(args.data)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, expected a CSV or .npy file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if args.label_column is not None:
            raise UsageError("--label-column works with CSV files only")
        X, labels, names, label_name = load_npy(path), None, None, None
    elif suffix in (".csv", ".tsv", ".txt", ""):
        X, labels, names, label_name = load_csv(path, args.label_column)
    else:
        raise UsageError(f"{path}: unknown file type {suffix!r}; give a .csv or .npy file")
    if X.shape[0] < 10:
        raise UsageError(f"{path}: {X.shape[0]} row{'' if X.shape[0] == 1 else 's'} of data: "
                         "too few (at least 10 are needed)")
    info = {"source": str(path), "label_column": label_name}
    if names is not None:
        info["feature_names"] = names
    return X, labels, info


# -------------------------------------------------------------------------- reporting --
class _Progress:
    """Per-stage lines on stderr (silent with --quiet)."""

    def __init__(self, quiet):
        self.quiet = quiet
        self.timings = {}
        self._t0 = None
        self._name = None

    def start(self, name, text):
        self._name, self._t0 = name, time.perf_counter()
        if not self.quiet:
            print(f"[{PROG}] {text} ...", file=sys.stderr, flush=True)

    def done(self):
        dt = time.perf_counter() - self._t0
        self.timings[self._name] = round(dt, 3)
        if not self.quiet:
            print(f"[{PROG}]   done in {dt:.1f} s", file=sys.stderr, flush=True)


def _epoch_callback(total):
    """A skorch callback printing ``epoch k/N`` on one stderr line (a TTY) or every 10 %."""
    from skorch.callbacks import Callback

    class EpochProgress(Callback):
        def on_epoch_end(self, net, **kwargs):
            h = net.history[-1]
            k = len(net.history)
            line = f"[{PROG}]   epoch {k:>4}/{total}  loss {h['train_loss']:.2f}"
            tty = sys.stderr.isatty()
            if tty:
                end = "\n" if k >= total else ""
                print("\r" + line, end=end, file=sys.stderr, flush=True)
            elif k % max(1, total // 10) == 0 or k == total:
                print(line, file=sys.stderr, flush=True)

    return EpochProgress()


def wells_summary(sd):
    """The well count with its uncertainty, and the weights and rates between the wells."""
    from .._spectral._rates import format_wells

    counts = " ".join(str(int(c)) for c in sd.n_ground_states_resampled_)
    gap = "separated components" if np.isinf(sd.ground_gap_) else f"{sd.ground_gap_:.3g}"
    lines = [f"  wells: {sd.n_ground_states_} (on 80 % resamples: {counts}; agreement "
             f"{sd.n_ground_states_agreement_:.0%}; deciding gap ratio: {gap}, wells need > 6)"]
    if sd.n_ground_states_ > 1:
        source = {"landscape": "the fitted landscape",
                  "landscape marginal": "the fitted landscape's marginal (upper bounds)",
                  "graph components": "the graph (disconnected wells)",
                  "samples": "the samples alone (rough)"}[sd.ground_levels_source_]
        lines.append("  weights of the wells and rates between them (per unit time of "
                     f"dz = grad log p dt + sqrt(2) dW; rates from {source}):")
        lines.append(format_wells(sd.stationary_distribution_, sd.rate_matrix_))
    return "\n".join(lines)


def spectrum_table(sd, prior):
    """Level-by-level table: measured energy, its multiplet, and the exact prior level."""
    E = np.asarray(sd.energies_, dtype=float)
    group_of = {}
    for g, members in enumerate(sd.multiplets_):
        for i in members:
            group_of[int(i)] = (g, len(members))
    prior = None if prior is None else np.asarray(prior, dtype=float)
    header = f"  {'level':>5}  {'measured E':>10}  {'multiplet':<12}"
    if prior is not None:
        header += f"  {'prior E (exact)':>15}"
    lines = [header, "  " + "-" * (len(header) - 2)]
    previous = None
    for i, e in enumerate(E):
        g, size = group_of.get(i, (None, 1))
        if g is None:
            label = ""
        elif g != previous:
            label = ("ground" if g == 0 else f"#{g}") + f"  x{size}"
        else:
            label = "  |"
        previous = g
        row = f"  {i:>5}  {e:>10.3f}  {label:<12}"
        if prior is not None:
            row += f"  {prior[i]:>15.3f}" if i < len(prior) else f"  {'':>15}"
        lines.append(row)
    return "\n".join(lines)


def landscape_bandwidth(Z2, seed):
    """Bandwidth of the 2-D landscape: the best 3-fold cross-validated Gaussian KDE likelihood.

    ``SpectralDegeneracy.potential`` reads ``V = Lap psi0 / psi0`` of a Gaussian KDE; the
    bandwidth that predicts held-out points best gives a landscape of the data's wells rather
    than of single points. The candidates are multiples of Scott's rule ``n^(-1/6) std``.
    """
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KernelDensity

    n = Z2.shape[0]
    if n > 3000:
        Z2 = Z2[np.random.RandomState(seed).choice(n, 3000, replace=False)]
    scott = float(np.mean(Z2.std(axis=0))) * Z2.shape[0] ** (-1.0 / 6.0)
    if not scott > 0:
        return "auto"
    grid = {"bandwidth": [scott * f for f in _BANDWIDTHS]}
    cv = KFold(3, shuffle=True, random_state=seed)
    search = GridSearchCV(KernelDensity(), grid, cv=cv).fit(Z2)
    return float(search.best_params_["bandwidth"])


def _default_out():
    base = Path.cwd() / f"perturbvae-output-{datetime.now():%Y%m%d-%H%M%S}"
    out, k = base, 1
    while out.exists():
        out, k = base.with_name(f"{base.name}-{k}"), k + 1
    return out


def _write_plots(out, Z, labels, vae, sd, sd2, stability, quiet):
    """Write the PNG plots; returns the list of file names written."""
    try:
        import matplotlib
    except ImportError:
        print(f"{PROG}: note: matplotlib is not installed, no plots written "
              "(pip install perturbvae[plot])", file=sys.stderr)
        return []
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from .. import plotting

    written = []

    def save(fig, name):
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        written.append(name)

    # The lowest 20 levels read well; the prior's column stops at the highest one shown.
    ax = plotting.plot_spectrum(sd, prior_energies=vae.prior_energies_,
                                n_levels=min(len(sd.energies_), _PLOT_LEVELS))
    ax.set_title("Spectrum: the embedding (left), the prior's exact levels (right)",
                 fontsize=10)
    save(ax.figure, "spectrum.png")

    ax = plotting.plot_energy_landscape(sd2, Z[:, :2], labels=labels, clip_quantile=0.75)
    ax.set_xlabel(vae.get_feature_names_out()[0])
    ax.set_ylabel(vae.get_feature_names_out()[1])
    ax.set_title(f"Energy landscape V of the first two latent axes "
                 f"(bandwidth {sd2.bandwidth_:.2g})", fontsize=10)
    save(ax.figure, "energy_landscape.png")

    ax = plotting.plot_latent(Z, labels, feature_names=vae.get_feature_names_out())
    ax.set_title("Embedding: the first two latent axes", fontsize=10)
    save(ax.figure, "latent.png")

    if stability is not None:
        save(plotting.plot_seed_stability(stability), "seed_stability.png")
    return written


# ------------------------------------------------------------------------------- main --
def main(argv=None):
    """Run the ``perturbvae`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 when training fails, 2 on bad usage or bad input.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
        return int(exc.code or 0)
    try:
        return _run(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _run(args):
    t_start = time.perf_counter()
    progress = _Progress(args.quiet)
    out = _output_folder(args)  # checked first: nothing is computed for nothing
    X, labels, info = _read_input(args)
    _check_device_arg(args.device)
    n, p = X.shape
    if args.n_components > p:
        raise UsageError(f"--n-components {args.n_components} exceeds the {p} features of "
                         "the data")
    if not args.no_scale:
        from sklearn.preprocessing import StandardScaler

        X = StandardScaler().fit_transform(X)
    print(f"Data: {info['source']}, {n} samples x {p} features"
          + ("" if args.no_scale else " (standardised)"))
    fit = _fit_and_score(args, X, progress)
    if fit is None:
        return 1
    sd, sd2 = _spectrum(args, fit["Z"], fit["vae"], progress)
    stability = _stability(args, X, progress)
    if stability is False:
        return 1
    plots = _write_outputs(args, out, fit, labels, sd, sd2, stability, progress)
    summary = _summary(args, info, X.shape, fit, sd, sd2, stability, plots, progress, t_start)
    try:
        with open(out / "summary.json", "w") as fh:
            json.dump(jsonable(summary), fh, indent=2)
            fh.write("\n")
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc}") from None
    print(f"\nWrote {', '.join(summary['files'])}\n   to {out}  "
          f"({time.perf_counter() - t_start:.0f} s in all)")
    return 0


def _output_folder(args):
    out = Path(args.out) if args.out else _default_out()
    if out.exists() and not args.force:
        raise UsageError(f"output folder {out} exists; use --force to write into it, or "
                         "choose another --out")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    return out


def _read_input(args):
    try:
        X, labels, info = load_data(args)
    except UsageError:
        raise
    except (ValueError, TypeError, OSError, UnicodeDecodeError, csv.Error) as exc:
        where = args.data or "digits"
        raise UsageError(f"{where}: cannot read the data ({exc})") from None
    if np.all(X == X[0]):
        raise UsageError(f"{info['source']}: every feature is constant; there is nothing "
                         "to embed")
    return X, labels, info


def _check_device_arg(device):
    from .._vae._device import check_device

    try:
        check_device(device)
    except ValueError as exc:
        raise UsageError(f"--device {device}: {exc}") from None


def _model_params(args):
    return dict(n_components=args.n_components,
                perturbation=None if args.perturbation == "none" else args.perturbation,
                perturbation_strength=args.strength, max_epochs=args.epochs,
                device=args.device)


def _fit_and_score(args, X, progress):
    """Fit on 90 % of the rows, embed them all; None when training diverged."""
    from sklearn.model_selection import train_test_split

    from .. import PerturbedVAE
    from .._vae._net import TrainingDivergedError

    n = X.shape[0]
    idx_train, idx_test = np.arange(n), np.arange(0)
    if n >= 50:
        idx_train, idx_test = train_test_split(np.arange(n), test_size=0.1,
                                               random_state=args.seed)
    callbacks = None if args.quiet else [("cli_progress", _epoch_callback(args.epochs))]
    vae = PerturbedVAE(random_state=args.seed, callbacks=callbacks, **_model_params(args))
    progress.start("fit", f"fitting PerturbedVAE(n_components={args.n_components}, "
                          f"perturbation={args.perturbation!r}) for {args.epochs} epochs on "
                          f"{len(idx_train)} rows")
    try:
        vae.fit(X[idx_train])
        elbo_train = vae.score(X[idx_train])
        elbo_test = vae.score(X[idx_test]) if len(idx_test) else None
        Z = vae.transform(X)
    except TrainingDivergedError as exc:
        print(f"{PROG}: error: training diverged ({exc}); try a smaller --strength or "
              "standardised data", file=sys.stderr)
        return None
    except ValueError as exc:
        raise UsageError(f"cannot fit the data: {exc}") from None
    progress.done()
    print(f"\nELBO (mean per sample, nats): {elbo_train:.2f} on the {len(idx_train)} "
          "training rows"
          + (f", {elbo_test:.2f} on the {len(idx_test)} held-out rows" if len(idx_test)
             else ""))
    return {"vae": vae, "Z": Z, "elbo_train": elbo_train, "elbo_test": elbo_test,
            "n_train": len(idx_train), "n_test": len(idx_test)}


def _spectrum(args, Z, vae, progress):
    """Spectrum of the embedding (and of its first two axes), printed beside the prior's."""
    from .. import SpectralDegeneracy

    n, d = Z.shape
    n_levels = int(min(1 + d + d * (d + 1) // 2, _MAX_LEVELS, n - 1))
    progress.start("spectrum", f"estimating the spectrum ({n_levels} levels)")
    try:
        sd = SpectralDegeneracy(n_levels=n_levels, random_state=args.seed).fit(Z)
        bandwidth = landscape_bandwidth(Z[:, :2], args.seed)
        sd2 = SpectralDegeneracy(n_levels=min(10, n - 1), bandwidth=bandwidth,
                                 random_state=args.seed).fit(Z[:, :2])
    except ValueError as exc:
        raise UsageError(f"cannot read the spectrum of the embedding: {exc}") from None
    progress.done()
    prior = vae.prior_energies_
    print(f"\nSpectrum of the embedding (SpectralDegeneracy, method={sd.method_!r}), "
          f"multiplets of\nnear-equal levels, beside the exact spectrum of the model's prior:")
    print(spectrum_table(sd, prior))
    print(f"  degeneracies: {' '.join(str(int(k)) for k in sd.degeneracies_)};"
          f"  ground multiplet (number of wells): {sd.n_ground_states_}")
    print(wells_summary(sd))
    if prior is not None:
        print("  The prior's levels are exact (an oscillator with one frequency per axis). A "
              "Gaussian axis\n  of variance s^2 has its first level at 1/s^2; clusters in "
              "the embedding pull levels down.")
    return sd, sd2


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
    print(f"\nSeed stability over {args.seeds} seeds (mean over pairs; 1 = identical):")
    print(f"  axis agreement      {stability.axis_mean:.3f}   same-index axes, no "
          "rotation allowed")
    print(f"  subspace agreement  {stability.subspace_mean:.3f}   after the best linear "
          "alignment")
    print(f"  degeneracy          {stability.degeneracy:.3f}   the difference: what "
          "rotations of the axes still change")
    return stability


def _write_embedding(out, names, Z, labels):
    np.save(out / "embedding.npy", Z)
    with open(out / "embedding.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names + (["label"] if labels is not None else []))
        for i in range(Z.shape[0]):
            row = [f"{v:.7g}" for v in Z[i]]
            if labels is not None:
                row.append(str(labels[i]))
            w.writerow(row)


def _write_outputs(args, out, fit, labels, sd, sd2, stability, progress):
    """Embedding files and plots; returns the plot file names."""
    progress.start("write", f"writing to {out}")
    vae, Z = fit["vae"], fit["Z"]
    try:
        out.mkdir(parents=True, exist_ok=args.force)
        _write_embedding(out, list(vae.get_feature_names_out()), Z, labels)
        plots = [] if args.no_plots else _write_plots(out, Z, labels, vae, sd, sd2,
                                                      stability, args.quiet)
    except FileExistsError:
        raise UsageError(f"output folder {out} exists; use --force") from None
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc}") from None
    progress.done()
    return plots


def _summary(args, info, shape, fit, sd, sd2, stability, plots, progress, t_start):
    import torch

    vae = fit["vae"]
    return {
        "perturbvae_version": _version(),
        "data": {**info, "n_samples": shape[0], "n_features": shape[1],
                 "standardised": not args.no_scale},
        "parameters": {k: v for k, v in vae.get_params().items() if k != "callbacks"},
        "elbo": {"train": fit["elbo_train"], "held_out": fit["elbo_test"],
                 "n_train": fit["n_train"], "n_held_out": fit["n_test"],
                 "units": "nats per sample"},
        "spectrum": {
            "method": sd.method_, "energies": sd.energies_,
            "multiplets": [list(map(int, g)) for g in sd.multiplets_],
            "degeneracies": sd.degeneracies_, "n_ground_states": sd.n_ground_states_,
            "bandwidth": sd.bandwidth_,
            "prior_energies": vae.prior_energies_,
            "landscape_2d": {"energies": sd2.energies_, "n_ground_states":
                             sd2.n_ground_states_, "bandwidth": sd2.bandwidth_},
        },
        "seed_stability": None if stability is None else {
            "n_seeds": args.seeds, "seeds": stability.seeds,
            "axis_mean": stability.axis_mean, "subspace_mean": stability.subspace_mean,
            "degeneracy": stability.degeneracy, "axis": stability.axis,
            "subspace": stability.subspace,
        },
        "files": ["embedding.npy", "embedding.csv", "summary.json"] + plots,
        "timings_s": {**progress.timings,
                      "total": round(time.perf_counter() - t_start, 3)},
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "device": str(vae.net_.device)},
        "command": [PROG] + _argv_of(args),
    }


def _argv_of(args):
    """The options as given (for the summary), reconstructed from the parsed namespace."""
    argv = [] if args.data is None else [str(args.data)]
    for key, value in sorted(vars(args).items()):
        if key == "data" or value in (None, False):
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def _version():
    from .. import __version__

    return __version__


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
