"""Turning arrays into the JSON result's sections. JSON has no NaN: a number that is not finite becomes None, and the
engine says why in `notes`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.domain.diagnostics import FactorDiagnostics
from analysis.domain.frames import FloatArray
from analysis.domain.inputs import FactorSpec
from analysis.domain.ols import OLSFit
from analysis.domain.risk import YEAR, RiskDecomposition
from analysis.domain.series import Performance

Number = float | None


def num(value: float) -> Number:
    value = float(value)
    return value if math.isfinite(value) else None


def nums_of(values: dict[str, Any]) -> dict[str, Any]:
    """Floats of a flat section made JSON-safe (a non-finite one is null); other values as they are."""
    return {k: num(v) if isinstance(v, float) else v for k, v in values.items()}


def nums(values: FloatArray) -> list[Number]:
    out: list[float] = values.tolist()
    if np.isfinite(values).all():
        return list(out)
    return [v if math.isfinite(v) else None for v in out]


def keyed(ids: Sequence[str], values: FloatArray) -> dict[str, Number]:
    return dict(zip(ids, nums(values), strict=True))


def days(dates: pd.DatetimeIndex) -> list[str]:
    out: list[str] = np.datetime_as_string(dates.to_numpy(dtype="datetime64[D]"), unit="D").tolist()
    return out


def factors_section(specs: tuple[FactorSpec, ...], diag: FactorDiagnostics) -> list[dict[str, Any]]:
    vif = nums(diag.vif)
    return [{"factor_id": s.factor_id, "mode": s.mode, "vif": v} for s, v in zip(specs, vif, strict=True)]


def holdings_section(tickers: list[str], ids: list[str], fit: OLSFit) -> dict[str, dict[str, Any]]:
    """Per holding (one column of the fit each), plain OLS statistics."""
    coef, se = fit.coef, fit.se
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, coef / np.where(se > 0, se, 1.0), np.nan)
    alpha, alpha_se, alpha_t = nums(coef[0]), nums(se[0]), nums(t[0])
    betas, ses, ts = (np.asarray(a[1:]).T for a in (coef, se, t))
    r2, adj = nums(fit.r_squared()), nums(fit.adj_r_squared())
    resvol = nums(np.sqrt(fit.mse * YEAR))
    out = {}
    for i, ticker in enumerate(tickers):
        a = alpha[i]
        out[ticker] = {
            "alpha_daily": a,
            "alpha_annual": None if a is None else a * YEAR,
            "alpha_se": alpha_se[i],
            "alpha_t": alpha_t[i],
            "betas": keyed(ids, betas[i]),
            "se": keyed(ids, ses[i]),
            "t": keyed(ids, ts[i]),
            "r_squared": r2[i],
            "adj_r_squared": adj[i],
            "residual_vol_annual": resvol[i],
        }
    return out


def risk_section(ids: list[str], tickers: list[str], risk: RiskDecomposition) -> dict[str, Any]:
    total_var = risk.factor_var + risk.specific_var
    sigma = risk.total_vol
    share = risk.ccr / sigma if sigma > 0 else np.full(len(tickers), np.nan)
    mcr, ccr, shares = nums(risk.mcr), nums(risk.ccr), nums(share)
    return {
        "total_vol_annual": num(sigma),
        "factor_vol_annual": num(math.sqrt(risk.factor_var)),
        "specific_vol_annual": num(math.sqrt(risk.specific_var)),
        "factor_share": num(risk.factor_var / total_var) if total_var > 0 else None,
        "specific_share": num(risk.specific_var / total_var) if total_var > 0 else None,
        "by_factor": keyed(ids, risk.by_factor),
        "by_holding": {t: {"mcr": mcr[i], "ccr": ccr[i], "share": shares[i]} for i, t in enumerate(tickers)},
    }


def performance_section(perf: Performance, risk_free_rate: float) -> dict[str, Any]:
    return {
        "annual_return": num(perf.annual_return),
        "annual_vol": num(perf.annual_vol),
        "sharpe": num(perf.sharpe),
        "sortino": num(perf.sortino),
        "max_drawdown": num(perf.max_drawdown),
        "var_95": num(perf.var_95),
        "cvar_95": num(perf.cvar_95),
        "cumulative_return": num(perf.cumulative_return),
        "risk_free_rate": risk_free_rate,
        "var_horizon_days": 1,
    }


def attribution_section(dates: pd.DatetimeIndex, ids: list[str], parts: dict[str, FloatArray]) -> dict[str, Any]:
    return {
        "dates": days(dates),
        "factor": {f: nums(parts["factor"][:, k]) for k, f in enumerate(ids)},
        "alpha": nums(parts["alpha"]),
        "residual": nums(parts["residual"]),
        "specific": nums(parts["specific"]),
        "total": nums(parts["total"]),
        "method": "cumulative sums of daily returns (additive: factor + specific = total)",
    }


def rolling_section(dates: pd.DatetimeIndex, ids: list[str], coef: FloatArray, window: int) -> dict[str, Any]:
    ends = dates[window - 1 :] if len(coef) else dates[:0]
    return {
        "window": window,
        "dates": days(ends),
        "alpha": nums(coef[:, 0]),
        "betas": {f: nums(coef[:, k + 1]) for k, f in enumerate(ids)},
    }
