"""The printed report: progress lines on stderr, results in plain words on stdout."""

import sys
import textwrap
import time
from collections import Counter

import numpy as np

from ._arguments import DEFAULT_COMPONENTS, PROG

MAX_LEVELS = 45  # spectrum levels the command asks for at most (1 + d + d(d+1)/2 at d = 8)

# One line per file: what a newcomer reads in it.
FILE_MEANINGS = {
    "embedding.npy": "the embedding, one row per sample (NumPy)",
    "embedding.csv": "the same embedding as a table (with the label column, if any)",
    "summary.json": "every number printed here, the options and the timings",
    "spectrum.png": "energy levels of the embedding beside the prior's; levels far below "
                    "the prior's mark structure (clusters, curves) the prior does not have",
    "energy_landscape.png": "where the data concentrate: each low, light basin is a well, "
                            "a group the samples fall into; the pale sand colour has too few data",
    "latent.png": "the samples on the first two latent axes, one colour per label",
    "seed_stability.png": "how alike the axes of fits from different seeds are (1 = the "
                          "same axes, up to sign and scale); high values mean the axes are "
                          "reproducible",
}


class Progress:
    """Per-stage lines on stderr (silent with --quiet), and the time of each stage."""

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


def epoch_callback(total):
    """A skorch callback printing ``epoch k/N`` on one stderr line (a TTY) or every 10 %."""
    from skorch.callbacks import Callback

    class EpochProgress(Callback):
        def on_epoch_end(self, net, **kwargs):
            h = net.history[-1]
            k = len(net.history)
            line = f"[{PROG}]   epoch {k:>4}/{total}  loss {h['train_loss']:.2f}"
            if sys.stderr.isatty():
                print("\r" + line, end="\n" if k >= total else "", file=sys.stderr,
                      flush=True)
            elif k % max(1, total // 10) == 0 or k == total:
                print(line, file=sys.stderr, flush=True)

    return EpochProgress()


def data_line(source, shape, standardised, n_components, capped, threads):
    """The first line of the report: the data, the latent dimension and the threads."""
    n, p = shape
    features = f"{p} feature{'' if p == 1 else 's'}"  # not "1 features"
    line = f"Data: {source}, {n} samples x {features}"
    line += " (standardised)" if standardised else ""
    line += f"; {n_components} latent ax{'is' if n_components == 1 else 'es'}"
    if capped:
        line += f" (the default {DEFAULT_COMPONENTS}, capped by the {features})"
    return line + f"; {threads} thread{'s' if threads != 1 else ''}"


def elbo_text(fit, standardised=False):
    """The ELBO lines, with what the number means: with ``standardised``, the bound is on
    the density of the standardised features (a density of the file's own units differs by
    the sum of the logs of the columns' standard deviations: -199 against -15 on wine's
    columns in units 1e6)."""
    of = " of the standardised features" if standardised else ""
    text = (f"ELBO (evidence lower bound: a lower bound on the log-likelihood{of}, up to "
            f"its cubature's error, at most a few tenths of a nat; mean per sample, in "
            f"nats; higher is better): {fit['elbo_train']:.2f} on the "
            f"{fit['n_train']} training rows")
    if fit["n_test"]:
        text += f", {fit['elbo_test']:.2f} on the {fit['n_test']} held-out rows"
    return "\n" + textwrap.fill(text, 88)


def _count_words(counts):
    """``1 (4 times)`` or ``1 (3 times), 2 (once)``: the resampled counts in words."""
    times = {1: "once", 2: "twice"}
    return ", ".join(f"{value} ({times.get(k, f'{k} times')})"
                     for value, k in sorted(Counter(int(c) for c in counts).items()))


def wells_summary(sd):
    """The well count, its uncertainty in words, and the weights and rates between wells.

    Reads only public attributes: ``n_ground_states_``, ``n_ground_states_resampled_``,
    ``ground_gap_`` (and the rates when there is more than one well).
    """
    k = int(sd.n_ground_states_)
    resampled = np.asarray(sd.n_ground_states_resampled_, dtype=int)
    agree = bool(len(resampled)) and bool(np.all(resampled == k))
    # the reading that counted: the density's valleys, or the neighbourhoods alone
    reading = getattr(sd, "count_reading_", "density")
    apart = ("their neighbourhoods keep apart, though the density between them does not "
             "vanish" if reading == "neighbourhoods" else "the density separates from the rest")
    lines = [_wrapped(f"wells: {k}  (a well is a group of samples that {apart})", "  ")]
    # a count that was not resampled (n_wells given, or too few samples) holds the count
    # alone: one entry, not "1 random 80 % subset" that agreed with it
    if len(resampled) > 1:
        verdict = ("the same every time: a stable count" if agree
                   else "not always the same: the count is uncertain")
        lines.append(_wrapped(f"on {len(resampled)} random 80 % subsets of the samples the "
                              f"count was {_count_words(resampled)}; {verdict}"))
    elif reading != "given":
        lines.append(_wrapped("the count was not resampled (too few samples: 80 % subsets "
                              "would fall below the 50 the count needs), so its stability "
                              "is unknown"))
    gap = float(sd.ground_gap_)
    if reading == "neighbourhoods":
        lines.append(_wrapped(
            f"why: the density has no valleys between them, but {k} slow modes of a random "
            "walk between nearest neighbours lie far below those of one connected cloud of "
            f"the same dimension ({gap:.3g} times below): groups that neighbourhoods keep "
            "apart"))
    elif reading == "given":
        lines.append(_wrapped(f"why: you gave the number of wells ({k})"))
    elif np.isinf(gap):
        lines.append(_wrapped("why: the wells are separate groups with no samples between "
                              "them"))
    else:
        lines.append(_wrapped(_gap_words(k, gap)))
    if k > 1:
        lines.append(_wrapped("weight of each well (the share of a long walk's time spent "
                              "in it), and rates of moving between them per unit time of the "
                              "diffusion dz = grad log p dt + sqrt(2) dW", "  "))
        lines.append(f"  (rates from {_rate_source(sd)}):")
        lines.append(sd.format_wells())
    return "\n".join(lines)


def _gap_words(k, gap):
    """Why the count is ``k``, from the level ratio that decided it."""
    if k == 1:
        return (f"why: no gap in the lowest levels was large enough to split the samples "
                f"(the largest level ratio was {gap:.3g}; separated wells give large ratios)")
    return (f"why: the level above the lowest {k} lies {gap:.3g} times higher than they do "
            "on average; that ratio decides the count (a large one means clearly separated "
            "wells)")


def _rate_source(sd):
    return {"landscape": "the fitted landscape",
            "landscape marginal": "the fitted landscape's marginal (upper bounds)",
            "graph components": "the graph (disconnected wells)",
            "samples": "the samples alone (rough)",
            "neighbourhoods": "the neighbourhood wells' projection: which wells touch, "
                              "not waiting times"}.get(
        getattr(sd, "ground_levels_source_", None), "the fitted spectrum")


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


def levels_asked(d, n_samples):
    """The levels the command asks of the spectrum: as many as the prior's first two
    shells hold, ``1 + d + d(d+1)/2``, at most ``MAX_LEVELS`` and fewer than the samples."""
    return int(min(1 + d + d * (d + 1) // 2, MAX_LEVELS, n_samples - 1))


def _levels_words(n_levels, d, n_samples):
    """Why ``n_levels`` levels were asked: the formula, or what capped it (16 rows in 7-d
    asked 15, and the text called 15 '1 + d + d(d+1)/2 for d = 7', which is 36)."""
    full = 1 + d + d * (d + 1) // 2
    axes = f"d = {d} latent ax{'is' if d == 1 else 'es'}"
    if n_levels == full:
        return f"1 + d + d(d+1)/2 for {axes}"
    # below the formula and MAX_LEVELS only the samples cap it (levels_asked): n - 1
    if n_samples is None and n_levels != MAX_LEVELS:
        n_samples = n_levels + 1
    why = (f"one fewer than the {n_samples} samples"
           if n_samples is not None and n_levels == n_samples - 1 else f"{MAX_LEVELS}")
    return f"1 + d + d(d+1)/2 = {full} for {axes}, capped at {why}"


def spectrum_text(sd, prior, n_levels, d, n_samples=None):
    """The spectrum section: what it is, the table, the degeneracies and the wells."""
    n_found = len(sd.energies_)
    why = _levels_words(n_levels, d, n_samples)
    asked = (f"{n_levels} levels ({why}) were asked; the samples resolve {n_found}. "
             if n_found < n_levels else f"the {n_levels} levels: {why}. ")
    intro = (f"Spectrum of the embedding: the {n_found} lowest energy levels of the "
             "Hamiltonian whose ground state is the embedding's density (estimated with "
             f"SpectralDegeneracy, method={sd.method_!r}); {asked}A multiplet is a group of "
             + ("near-equal levels; beside them, the exact levels of the model's prior:"
                if prior is not None else "near-equal levels:"))
    lines = [
        "\n" + textwrap.fill(intro, 88, break_on_hyphens=False),
        spectrum_table(sd, prior),
        f"  multiplet sizes (degeneracies): "
        f"{' '.join(str(int(k)) for k in sd.degeneracies_)}",
        wells_summary(sd),
    ]
    if prior is not None:
        lines.append("  The prior's levels are exact (an oscillator with one frequency per "
                     "axis). A Gaussian axis\n  of variance s^2 has its first level at "
                     "1/s^2; clusters in the embedding pull levels down.")
    return "\n".join(lines)


def stability_text(stability, n_seeds):
    """The seed-stability section, each number with its meaning."""
    return "\n".join([
        f"\nSeed stability over {n_seeds} seeds (mean over pairs; 1 = the same axes, up to "
        "sign and scale):",
        f"  axis agreement      {stability.axis_mean:.3f}   same-index axes, no rotation "
        "allowed",
        f"  subspace agreement  {stability.subspace_mean:.3f}   after the best linear "
        "alignment",
        # a difference of equal agreements rounds to -0.000: printed as 0.000
        f"  degeneracy          {round(stability.degeneracy, 3) + 0.0:.3f}   the difference: "
        "what rotations of the axes still change",
    ])


def files_text(files, out, prior=True):
    """What was written, one line per file on what it shows (``prior``: whether the
    model's prior has exact levels, drawn beside the measured ones in spectrum.png)."""
    meanings = dict(FILE_MEANINGS)
    if not prior:
        meanings["spectrum.png"] = ("energy levels of the embedding, grouped into "
                                    "multiplets (this prior has no exact levels to draw "
                                    "beside them)")
    width = max(len(name) for name in files)
    lines = [f"\nWrote to {out}:"]
    for name in files:
        lines += textwrap.wrap(meanings.get(name, ""), 88,
                               initial_indent=f"  {name:<{width}}  ",
                               subsequent_indent=" " * (width + 4)) or [f"  {name}"]
    return "\n".join(lines)


def _wrapped(text, indent="    "):
    return "\n".join(textwrap.wrap(text, 88, initial_indent=indent,
                                   subsequent_indent=indent + "  "))
