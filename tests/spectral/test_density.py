"""Density estimates of the spectral half: ``score_samples`` is a normalised log-density."""

import numpy as np
import pytest

from perturbvae import SpectralDegeneracy


@pytest.mark.parametrize("seed", [0, 1])
def test_score_samples_integrates_to_one(seed):
    # exp(score_samples) on a fine grid far into the tails (trapezoid rule, measured error
    # below 1e-6): a kernel whose width or constant is off gives another total
    Z = np.random.RandomState(seed).normal(size=(300, 1)) * [2.0]
    sd = SpectralDegeneracy(n_levels=4, random_state=seed).fit(Z)
    x = np.linspace(-20, 20, 8001)[:, None]
    total = np.trapezoid(np.exp(sd.score_samples(x)), x[:, 0])
    assert total == pytest.approx(1.0, abs=1e-4)
