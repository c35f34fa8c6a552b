from __future__ import annotations

import pytest

from cold_path.score import ranks, spearman


def test_ties_share_the_mean_of_their_positions():
    assert ranks([10.0, 30.0, 20.0, 20.0]) == [1.0, 4.0, 2.5, 2.5]


@pytest.mark.parametrize(
    ("xs", "ys", "rho"),
    [
        ([1, 2, 3, 4], [10, 20, 30, 40], 1.0),
        ([1, 2, 3, 4], [40, 30, 20, 10], -1.0),
        ([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], 0.8),  # 1 - 6*4/(5*24)
        ([1, 2, 3], [5, 5, 5], None),  # no spread, no correlation
        ([1], [1], None),
    ],
)
def test_spearman_matches_the_textbook(xs, ys, rho):
    got = spearman([float(x) for x in xs], [float(y) for y in ys])
    assert got == (None if rho is None else pytest.approx(rho))
