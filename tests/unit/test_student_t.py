"""Student's t in numpy (analysis.domain.student_t) against scipy.special, which the worker does not ship."""

from __future__ import annotations

import numpy as np
import pytest
from analysis.domain.student_t import quantile, two_sided_p
from scipy import special

pytestmark = pytest.mark.unit

DFS = [1, 2, 3, 5, 10, 30, 57, 100, 250, 497, 1000, 2513]


@pytest.mark.parametrize("df", DFS)
def test_two_sided_p_values_match_scipy(df: int) -> None:
    t = np.concatenate([np.linspace(-40, 40, 1601), [0.0, 1e-12, 1e-6, 1e3, 1e6]])
    np.testing.assert_allclose(two_sided_p(t, df), 2 * special.stdtr(df, -np.abs(t)), rtol=1e-10, atol=1e-12)


def test_infinite_and_missing_t_statistics() -> None:
    assert two_sided_p(np.array([np.inf, -np.inf]), 10).tolist() == [0.0, 0.0]
    assert np.isnan(two_sided_p(np.array([np.nan]), 10)).all()
    assert two_sided_p(np.zeros((2, 3)), 10).shape == (2, 3)


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("q", [0.9, 0.95, 0.975, 0.995])
def test_quantiles_match_scipy(df: int, q: float) -> None:
    assert quantile(q, df) == pytest.approx(special.stdtrit(df, q), rel=1e-12)


def test_quantile_refuses_what_it_does_not_compute() -> None:
    with pytest.raises(ValueError):
        quantile(0.25, 10)
