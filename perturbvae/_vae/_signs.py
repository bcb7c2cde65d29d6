"""The sign of each latent axis, which the loss leaves free.

On the closed-form start, axis ``j`` takes the orientation of the start's axis ``j``, whatever
training does: the start's linear maps stay in the network unchanged (training adds residual
maps to them), so an axis keeps its place and its direction in every seed and every continued
fit, and the start is the same for every seed. Read from the trained network instead, signs
flipped from seed to seed where it was ambiguous:

- oriented by its own most-moved feature, an axis moving two features nearly equally and
  oppositely (kyphosis' first axis: -1.28 and +1.32 standard deviations; 2 of 6 seeds);
- oriented by its decoded moves' cosine with the start axis, axes the decoder hardly uses
  (longley's last two of seven, moves 0.01-0.02 standard deviations, at cosines -0.23 to
  0.38 with their start axes), while their codes agreed across seeds to 0.99;
- with that cosine read only above 0.5, Boston's fourth axis of five (cosines 0.49-0.54).

The start's axes are oriented by their most-moved feature, read with a tolerance, so that an
exact tie (two standardised features: the second axis moves both equally) falls to the first
of them on any machine. A random start has no closed-form axes: its axes are oriented by their
own most-moved feature at the end of its first fit, and continued fits keep those signs (read
again after each call, an axis moving two features nearly equally and oppositely flipped its
own model: Boston's third axis of five, moves +0.647 and -0.637, at the third
``partial_fit``).
"""

import torch

# Moves within this fraction of the largest are tied: the first of them orients the axis.
TIE = 1e-5


@torch.no_grad()
def axis_responses(module, decode):
    """``(d, p)``: the decoded mean's change along each internal axis (``decode`` at
    ``+e_j`` less ``-e_j``), in units of each feature's scale."""
    eye = torch.eye(module.n_components, device=module.latent_sign.device)
    return (module.mean_output(decode(eye)) - module.mean_output(decode(-eye))) \
        / module.x_scale


def most_moved_sign(resp):
    """Per row of ``resp``: the sign of its largest entry in magnitude (the first of those
    within :data:`TIE` of it); +1 for a row of zeros."""
    size = resp.abs()
    top = size >= (1.0 - TIE) * size.max(dim=1, keepdim=True).values
    first = top.to(torch.int8).argmax(dim=1)
    sign = torch.sign(resp.gather(1, first[:, None]).squeeze(1))
    sign[sign == 0] = 1.0
    return sign


def axis_signs(resp, start, previous=None):
    """The sign of each axis: that of the start's axis (rows of ``start``, by their
    most-moved feature), or where that row is zero (a random start), ``previous`` (the
    signs a continued fit's model had), else that of the axis's own moves ``resp`` (by its
    most-moved feature)."""
    live = start.abs().amax(dim=1) > 0
    own = most_moved_sign(resp) if previous is None else previous
    return torch.where(live, most_moved_sign(start), own)
