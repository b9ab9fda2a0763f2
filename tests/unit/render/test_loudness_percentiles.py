"""The loudness range's percentiles: ``np.percentile``'s figures, without ``np.percentile``."""

from __future__ import annotations

import numpy as np
import pytest

from autovid.render.loudness import percentiles


@pytest.mark.parametrize("size", [1, 2, 3, 10, 11, 1000, 4801])
def test_percentiles_equal_numpys_linear_percentiles(size: int) -> None:
    values = np.random.default_rng(size).normal(-23.0, 6.0, size)
    wanted = (0.0, 10.0, 50.0, 95.0, 100.0)
    np.testing.assert_allclose(percentiles(values, wanted), np.percentile(values, wanted), rtol=0, atol=1e-12)


def test_percentiles_of_sorted_steps_interpolate_between_ranks() -> None:
    values = np.array([4.0, 0.0, 3.0, 1.0, 2.0])  # ranks 0..4 once sorted
    assert percentiles(values, (10.0, 95.0)).tolist() == pytest.approx([0.4, 3.8], abs=1e-15)
