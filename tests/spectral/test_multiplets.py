"""Grouping of energy levels into multiplets (``_spectral._multiplets.group_levels``)."""

import numpy as np
import pytest

from perturbvae._spectral._multiplets import group_levels


def _as_lists(groups):
    return [g.tolist() for g in groups]


def test_a_multiplet_is_measured_from_its_lowest_level_not_chained():
    # Consecutive levels are all within 5 % of each other, so chaining level to level would
    # merge 1 .. 1.2 into one multiplet; against the lowest level (1.0, tol 0.1) only
    # 1 .. 1.1 belong together and 1.15 opens the next multiplet.
    E = [0.0, 1.0, 1.05, 1.1, 1.15, 1.2]
    assert _as_lists(group_levels(E, 1, 0.1)) == [[0], [1, 2, 3], [4, 5]]


def test_a_dense_ladder_is_not_merged_into_one_multiplet():
    # levels 1 % apart over a factor of 2: each multiplet spans at most tol of its lowest level
    E = np.r_[0.0, np.geomspace(1.0, 2.0, 71)]
    groups = group_levels(E, 1, 0.05)
    for g in groups[1:]:
        assert E[g[-1]] <= 1.05 * E[g[0]]
    # and nothing that fits is left out: the next level is above the bound
    for g, nxt in zip(groups[1:-1], groups[2:]):
        assert E[nxt[0]] > 1.05 * E[g[0]]


@pytest.mark.parametrize("n_ground", [1, 2, 3])
def test_groups_partition_the_levels_in_order(n_ground):
    E = [0.0, 1e-4, 2e-4, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0]
    groups = group_levels(E, n_ground, 1e-6)
    assert groups[0].tolist() == list(range(n_ground))
    assert np.concatenate(groups).tolist() == list(range(len(E)))
    # exact degeneracies group together, distinct levels do not
    assert _as_lists(groups[-3:]) == [[3, 4], [5, 6, 7], [8]]
