"""The ``perturbvae`` command's options: the parser, its help text and argument types."""

import argparse
import math
import os
import re
import shlex

PROG = "perturbvae"
DEFAULT_COMPONENTS = 8  # capped by the number of features (see resolve_n_components)
_MAX_SEED = 2**32 - 1

_DESCRIPTION = """\
Fit a PerturbedVAE (a VAE started at its exact PCA solution, with a ladder potential that
lifts the rotational degeneracy of its latent space), then read the spectrum of the
embedding with SpectralDegeneracy and measure how stable the axes are across seeds.

With no DATA it runs on scikit-learn's handwritten digits (1797 x 64). DATA is a CSV file
(header detected automatically; numeric columns only, except an optional --label-column
and the columns named by --drop-columns) or a .npy file holding a 2-D numeric array.
Features are standardised (StandardScaler) unless --no-scale is given.

Printed: the ELBO (mean per sample, on the training rows and on a held-out 10 %), the
spectrum of the embedding grouped into multiplets beside the exact levels of the model's
prior, the number of wells, and the axis and subspace agreement of models fitted with
different seeds. Written to the output folder: embedding.npy, embedding.csv, summary.json
and the PNG plots spectrum.png, energy_landscape.png, latent.png, seed_stability.png."""

_EPILOG = """\
examples:
  perturbvae                                  # the digits demo, output in a new folder
  perturbvae data.csv --label-column species --drop-columns id --out results
  perturbvae X.npy --n-components 4 --epochs 100 --seeds 5 --n-jobs 4
  perturbvae --perturbation none --out plain  # a plain VAE for comparison
  perturbvae --perturbation wells --n-wells 10  # ten wells, in the prior and the count

exit status: 0 on success, 1 if training fails, 2 on bad usage or bad input,
130 when interrupted (Ctrl-C)."""


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


def _names_arg(text):
    """Comma-separated column names; ``\\,`` is a comma inside a name (a header cell such
    as "weight, kg" could not be named before)."""
    names = [name.strip().replace("\\,", ",") for name in re.split(r"(?<!\\),", text)]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def names_text(names):
    """``names`` as one --drop-columns argument, quoted for a shell (commas in a name
    escaped as :func:`_names_arg` reads them)."""
    return shlex.quote(",".join(name.replace(",", "\\,") for name in names))


def available_cores():
    """Cores this process may run on (its CPU affinity where the system reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def default_threads():
    """Threads of the main fit: half the available cores, from 1 to 4.

    A thread per core collapses as soon as another process is busy (the threads wait for
    each other at every step; see the README, "Threads"), and this network is too small
    to gain from more than a few threads.
    """
    return max(1, min(4, available_cores() // 2))


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
    p.add_argument("--drop-columns", type=_names_arg, metavar="NAMES",
                   help="comma-separated CSV columns that are neither features nor the "
                        "label (ids, dates, free text), e.g. --drop-columns id,date")
    p.add_argument("--header", action="store_true",
                   help="the CSV's first row names the columns (told apart from data "
                        "without this, except where the names are numbers, e.g. years)")
    p.add_argument("--drop-missing-rows", action="store_true",
                   help="leave out the CSV rows with a missing value (NA, an empty cell) in "
                        "a feature column, with a warning that counts them (without this a "
                        "missing value is an error)")
    _model_options(p.add_argument_group("model"))
    s = p.add_argument_group("seed stability")
    s.add_argument("--seeds", type=_seeds_arg, default=3, metavar="N",
                   help="number of seeds for the stability check, 0 to skip "
                        "(default: %(default)s)")
    s.add_argument("--n-jobs", type=_n_jobs_arg, default=2, metavar="J",
                   help="fits run in parallel, one torch thread each; -1: all cores "
                        "(default: %(default)s)")
    _output_options(p.add_argument_group("output"))
    from .. import __version__

    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _model_options(m):
    m.add_argument("--n-components", type=_positive_int, default=None, metavar="D",
                   help=f"latent dimension (default: {DEFAULT_COMPONENTS}, or the number of "
                        "features when there are fewer)")
    m.add_argument("--perturbation", choices=("ladder", "wells", "none"), default="ladder",
                   help="symmetry-breaking potential; 'none' is a plain VAE "
                        "(default: %(default)s)")
    m.add_argument("--n-wells", type=_positive_int, default=None, metavar="K",
                   help="the number of wells, when you know it: the spectrum's count (and "
                        "its labels, landscape and rates) and, with --perturbation wells, "
                        "the wells of the prior (default: read from the data)")
    m.add_argument("--strength", type=_nonneg_float, default=1.0, metavar="LAM",
                   help="perturbation strength lambda (default: %(default)s)")
    m.add_argument("--epochs", type=_positive_int, default=60,
                   help="training epochs (default: %(default)s)")
    m.add_argument("--device", default="auto",
                   help="torch device: auto, cpu, cuda, cuda:1, ... (default: %(default)s)")
    m.add_argument("--threads", type=_positive_int, default=None, metavar="T",
                   help="CPU threads of the main fit (default: half the available cores, "
                        f"1 to 4; {default_threads()} here)")
    m.add_argument("--seed", type=_seed_arg, default=0,
                   help="random seed of the main fit and of the seed draw (default: "
                        "%(default)s)")
    m.add_argument("--no-scale", action="store_true",
                   help="do not standardise the features")


def _output_options(o):
    o.add_argument("--out", metavar="DIR",
                   help="output folder (default: a new perturbvae-output-YYYYmmdd-HHMMSS "
                        "in the working directory)")
    o.add_argument("--force", action="store_true",
                   help="write into --out even if it exists (files of the same name are "
                        "overwritten)")
    o.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")
    o.add_argument("-q", "--quiet", action="store_true",
                   help="print only the results, no progress on stderr")
