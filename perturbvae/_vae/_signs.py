"""The sign of each latent axis, which the loss leaves free.

An axis is oriented along the closed-form start's axis it lies closest to: the start is
the same for every seed, and training moves an axis only a little away from it, so the
seeds agree. (Oriented by its own most-moved feature, an axis whose two largest moves
were nearly equal and opposite flipped from seed to seed: kyphosis' first axis moved
its features by -1.28 and +1.32 standard deviations, and two seeds of six came out
flipped.) The start's axes are oriented by their most-moved feature, read with a
tolerance, so that an exact tie (two standardised features: the second axis moves both
equally) falls to the first of them on any machine. A random start has no closed-form
axes: its axes are oriented by their own most-moved feature.
"""

import torch

# Moves within this fraction of the largest are tied: the first of them orients the axis.
TIE = 1e-5
# An axis closer than this (cosine) to no start axis is oriented by its own moves.
MIN_COSINE = 0.5


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


def axis_signs(resp, start):
    """The sign of each axis of responses ``resp``: that of its cosine with the closest
    oriented start axis (rows of ``start``), where one lies within :data:`MIN_COSINE`;
    else, or with no start axis, that of its own most-moved feature."""
    own = most_moved_sign(resp)
    norms = start.norm(dim=1)
    live = norms > 0
    if not live.any():
        return own
    ref = (start * most_moved_sign(start)[:, None])[live] / norms[live, None]
    cos = (resp / resp.norm(dim=1, keepdim=True).clamp_min(1e-30)) @ ref.T
    nearest = cos.gather(1, cos.abs().argmax(dim=1, keepdim=True)).squeeze(1)
    return torch.where(nearest.abs() >= MIN_COSINE, torch.sign(nearest), own)
