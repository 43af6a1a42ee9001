"""The factor risk model Σ = B F Bᵀ + D (never built: O(N·K)), its decomposition, and the ETF hedges.

Annualised with 252 (volatility with √252). F is the sample covariance of the factors (ddof=1), B the holdings'
betas, D each holding's residual variance SSR/(T-K-1). With b = Bᵀw: total variance bᵀFb + Σ w_i² D_i; by_factor
shares b_k(Fb)_k / total (they add up to factor_share, and factor_share + specific_share = 1); per holding
Σw = B(F b) + D∘w, mcr_i = (Σw)_i/sigma, ccr_i = w_i·mcr_i (adding up to sigma), share_i = ccr_i/sigma (adding up to 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analysis.domain.frames import FloatArray
from analysis.domain.inputs import FactorSpec

YEAR = 252


@dataclass(frozen=True)
class RiskDecomposition:
    factor_var: float  # annual
    specific_var: float  # annual
    by_factor: FloatArray  # K, shares of total variance
    mcr: FloatArray  # N, annual
    ccr: FloatArray  # N, annual, adds up to total vol

    @property
    def total_vol(self) -> float:
        return float(np.sqrt(self.factor_var + self.specific_var))


def decompose(betas: FloatArray, resid_var: FloatArray, weights: FloatArray, fcov: FloatArray) -> RiskDecomposition:
    """betas NxK, resid_var N (daily), weights N, fcov KxK (daily) → the annual risk decomposition."""
    f_annual, d_annual = YEAR * fcov, YEAR * resid_var
    b = betas.T @ weights
    fb = f_annual @ b
    factor_var = float(b @ fb)
    specific_var = float(np.sum(weights**2 * d_annual))
    total = factor_var + specific_var
    sigma = np.sqrt(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_w = betas @ fb + d_annual * weights
        mcr = sigma_w / sigma
        by_factor = b * fb / total
    return RiskDecomposition(factor_var, specific_var, by_factor, mcr, weights * mcr)


def hedge_leg(etf: str, notional: float, last_prices: Mapping[str, float]) -> dict[str, object]:
    price = last_prices.get(etf)
    usable = price is not None and np.isfinite(price) and price > 0
    return {
        "etf": etf,
        "notional": notional,
        "shares": notional / price if usable and price is not None else None,
        "last_price": float(price) if usable and price is not None else None,
    }


def factor_hedges(
    specs: tuple[FactorSpec, ...],
    beta: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    gross: float,
    market_factor: str,
    last_prices: Mapping[str, float],
) -> list[dict[str, object]]:
    """Per factor: -G·b_k of its ETF; a spread factor's hedge also buys +G·b_k of the market ETF (`market_leg`)."""
    hedges = []
    for k, spec in enumerate(specs):
        notional = -gross * float(beta[k])
        entry = hedge_leg(spec.factor_id, notional, last_prices) | {
            "factor_id": spec.factor_id,
            "mode": spec.mode,
            "beta": float(beta[k]),
            "beta_ci95": [float(lo[k]), float(hi[k])],
            "market_leg": hedge_leg(market_factor, -notional, last_prices) if spec.mode == "spread" else None,
        }
        hedges.append(entry)
    return hedges


def net_trades(hedges: list[dict[str, object]], last_prices: Mapping[str, float]) -> list[dict[str, object]]:
    """The hedges netted per ETF (the market ETF gathers the market factor's hedge and every spread's market leg)."""
    totals: dict[str, float] = {}
    for hedge in hedges:
        legs = [hedge, hedge["market_leg"]] if hedge["market_leg"] else [hedge]
        for leg in legs:
            assert isinstance(leg, dict)
            totals[str(leg["etf"])] = totals.get(str(leg["etf"]), 0.0) + float(leg["notional"])
    return [hedge_leg(etf, notional, last_prices) for etf, notional in totals.items()]
