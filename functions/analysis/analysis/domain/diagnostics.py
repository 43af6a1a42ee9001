"""Factor checks before any regression: constant series, perfect collinearity; then VIFs and the condition number.

The condition number is that of the factors' correlation matrix (largest over smallest eigenvalue): scale-free, 1 for
uncorrelated factors; ETF factors entered raw reach ~570 on 2018-2022 data. VIF_k = 1/(1-R²_k) from regressing
factor k on the others, which is the k-th diagonal element of the inverse correlation matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.domain.errors import AnalysisInputError
from analysis.domain.frames import FloatArray

CONSTANT_STD = 1e-10  # daily returns varying less than this are constant (a flat price, a spread of a factor on itself)
MAX_CONDITION = 1e10  # beyond this the factors are (numerically) an exact combination of each other


@dataclass(frozen=True)
class FactorDiagnostics:
    correlation: FloatArray  # K x K
    vif: FloatArray  # K
    condition_number: float
    covariance: FloatArray  # K x K daily, ddof=1


def _collinear_error(ids: list[str], corr: FloatArray, eigvec: FloatArray) -> AnalysisInputError:
    off = np.abs(corr - np.eye(len(ids)))
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    if off[i, j] > 1 - 1e-9:
        return AnalysisInputError(
            f"factors {ids[i]} and {ids[j]} move in lockstep in the window (correlation {corr[i, j]:.6f}): their "
            "exposures cannot be told apart; choose one of them",
            field="factor_ids",
        )
    involved = [ids[k] for k in np.flatnonzero(np.abs(eigvec) > 0.1)]
    return AnalysisInputError(
        f"factors {', '.join(involved)} are perfectly collinear in the window (one is an exact combination of the "
        "others): their exposures cannot be told apart; remove one of them",
        field="factor_ids",
    )


def _check_constant(series: FloatArray, ids: list[str], how: str) -> None:
    constant = [ids[k] for k in np.flatnonzero(series.std(axis=0, ddof=1) <= CONSTANT_STD)]
    if constant:
        raise AnalysisInputError(
            f"factor(s) {', '.join(constant)} have the same return every day in the window{how}, so no exposure to "
            "them can be measured",
            field="factor_ids",
        )


def check_factors(factors: FloatArray, raw: FloatArray, ids: list[str]) -> FactorDiagnostics:
    """Raise AnalysisInputError for a constant or perfectly collinear factor; else the diagnostics of the factors as
    entered (`factors`; `raw` are their own returns, checked first so a flat ETF is named as such)."""
    _check_constant(raw, ids, "")
    _check_constant(factors, ids, " (as a spread against the market: is it the market itself?)")
    std = factors.std(axis=0, ddof=1)
    covariance = np.atleast_2d(np.cov(factors, rowvar=False))
    corr = covariance / np.outer(std, std)
    np.fill_diagonal(corr, 1.0)
    eigval, eigvec = np.linalg.eigh(corr)
    condition = float(eigval[-1] / eigval[0]) if eigval[0] > 0 else float("inf")
    if condition > MAX_CONDITION:
        raise _collinear_error(ids, corr, eigvec[:, 0])
    vif = np.diag(np.linalg.inv(corr)).copy()
    return FactorDiagnostics(correlation=corr, vif=vif, condition_number=condition, covariance=covariance)
