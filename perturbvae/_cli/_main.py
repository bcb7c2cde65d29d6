"""Command line: ``perturbvae [DATA] [options]`` (also ``python -m perturbvae``).

Fits a :class:`~perturbvae.PerturbedVAE` on scikit-learn's digits or on the user's CSV/NPY
file, prints the ELBO, the measured spectrum of the embedding next to the prior's exact one,
the number of wells and the seed stability, and writes the embedding, a JSON summary and PNG
plots to a folder. The options are in ``_arguments``, the files in ``_io``, the printed
report in ``_report``, the figures in ``_figures`` and the run itself in ``_pipeline``.
"""

import sys

from ._arguments import PROG, build_parser
from ._errors import Interrupted, UsageError
from ._pipeline import run
from ._warnings import in_command_words, terminal_warnings


def main(argv=None):
    """Run the ``perturbvae`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 when training fails, 2 on bad usage or bad input, 130 when
        interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
        return int(exc.code or 0)
    with terminal_warnings() as log:
        try:
            return run(args, log)
        except UsageError as exc:
            # the package's errors reach the terminal here, not as warnings
            print(f"{PROG}: error: {in_command_words(str(exc))}", file=sys.stderr)
            return 2
        except Interrupted as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; the output folder, if begun, is incomplete "
                  "(it has no summary.json)", file=sys.stderr)
            return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
