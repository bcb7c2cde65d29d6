"""``python -m perturbvae``: the command line (see ``perturbvae --help``)."""

from ._cli import main

raise SystemExit(main())
