"""The figures of a run, drawn with :mod:`perturbvae.plotting` (one colour per label in all)."""

import sys

from ._arguments import PROG

_PLOT_LEVELS = 20  # levels drawn in spectrum.png: the lowest 20 read well


def write_plots(out, Z, labels, vae, sd, sd2, stability):
    """Write the PNG plots into ``out``; returns the file names written."""
    try:
        import matplotlib
    except ImportError:
        print(f"{PROG}: note: matplotlib is not installed, no plots written "
              "(pip install matplotlib)", file=sys.stderr)
        return []
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from .. import plotting

    written = []

    def save(fig, name):
        fig.savefig(out / name, dpi=120, bbox_inches="tight")  # legends below the axes
        plt.close(fig)
        written.append(name)

    names = vae.get_feature_names_out()
    # The prior's column stops at the highest level shown.
    ax = plotting.plot_spectrum(sd, prior_energies=vae.prior_energies_,
                                n_levels=min(len(sd.energies_), _PLOT_LEVELS))
    # a prior without exact levels (wells, a callable) has no column: its title named one
    ax.set_title("Spectrum: the embedding (left), the prior's exact levels (right)"
                 if vae.prior_energies_ is not None else "Spectrum of the embedding",
                 fontsize=10)
    save(ax.figure, "spectrum.png")

    if Z.shape[1] < 2:  # a plane needs two latent axes
        print(f"{PROG}: note: one latent axis, no plane to draw: energy_landscape.png and "
              "latent.png not written", file=sys.stderr)
    else:
        _plane_plots(plotting, save, Z, labels, names, sd2)

    if stability is not None:
        save(plotting.plot_seed_stability(stability), "seed_stability.png")
    return written


def _plane_plots(plotting, save, Z, labels, names, sd2):
    """energy_landscape.png and latent.png: the first two latent axes."""
    ax = plotting.plot_energy_landscape(sd2, Z[:, :2], labels=labels, clip_quantile=0.75)
    ax.set(xlabel=names[0], ylabel=names[1])
    k = int(sd2.n_ground_states_)
    ax.set_title(f"Energy landscape of the first two latent axes: {k} "
                 f"well{'s' if k != 1 else ''} in this plane", fontsize=10)
    save(ax.figure, "energy_landscape.png")

    ax = plotting.plot_latent(Z, labels, feature_names=names)
    ax.set_title("Embedding: the first two latent axes", fontsize=10)
    save(ax.figure, "latent.png")
