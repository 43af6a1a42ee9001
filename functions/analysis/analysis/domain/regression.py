"""The regressions of an analysis: the portfolio and every holding on [1, factors] in one solve (HAC inference for the
portfolio), and the portfolio on the market alone for the market-only hedge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.domain import report
from analysis.domain.frames import FloatArray
from analysis.domain.ols import Design, OLSFit, ci95, fit_ols, hac_cov, p_values, t_stats
from analysis.domain.risk import YEAR, hedge_leg

HAC_METHOD = "Newey-West, Bartlett kernel, small-sample factor T/(T-K-1), t with T-K-1 degrees of freedom"


@dataclass(frozen=True)
class Regression:
    """The portfolio's fit (one series) and the holdings' fit (N series) on one factorised design; `hac` is the
    portfolio's HAC covariance."""

    x: FloatArray
    fit: OLSFit  # the portfolio
    holdings: OLSFit
    resid: FloatArray  # the portfolio's residuals
    hac: FloatArray
    lags: int

    @property
    def coef(self) -> FloatArray:
        return self.fit.coef[:, 0]

    @property
    def se_hac(self) -> FloatArray:
        return np.sqrt(np.clip(np.diag(self.hac), 0.0, None))

    def ci95(self) -> tuple[FloatArray, FloatArray]:
        return ci95(self.coef, self.se_hac, self.fit.df_resid)


def regress(factors: FloatArray, portfolio: FloatArray, holdings: FloatArray, lags: int) -> Regression:
    design = Design.of(np.column_stack([np.ones(len(portfolio)), factors]))
    fit = design.fit(portfolio[:, None])
    resid = portfolio - design.x @ fit.coef[:, 0]
    hac = hac_cov(design.x, resid, fit.xtx_inv, lags)
    return Regression(x=design.x, fit=fit, holdings=design.fit(holdings), resid=resid, hac=hac, lags=lags)


def portfolio_section(ids: list[str], reg: Regression, notes: list[str]) -> dict[str, Any]:
    """alpha, betas, plain and HAC standard errors; t, p and ci95 from the HAC standard errors."""
    fit, df, coef, se_hac = reg.fit, reg.fit.df_resid, reg.coef, reg.se_hac
    se = fit.se[:, 0]
    t = t_stats(coef, se_hac)
    p = p_values(t, df)
    lo, hi = reg.ci95()
    if not (se_hac > 0).all():
        notes.append(
            "portfolio: a HAC standard error is zero (the factors explain the returns exactly), so its t and p are null"
        )
    return {
        "alpha_daily": report.num(coef[0]),
        "alpha_annual": report.num(coef[0] * YEAR),
        "alpha_se": report.num(se[0]),
        "alpha_se_hac": report.num(se_hac[0]),
        "alpha_t": report.num(t[0]),
        "alpha_p": report.num(p[0]),
        "alpha_ci95": report.nums(np.array([lo[0], hi[0]])),
        "betas": report.keyed(ids, coef[1:]),
        "se": report.keyed(ids, se[1:]),
        "se_hac": report.keyed(ids, se_hac[1:]),
        "t": report.keyed(ids, t[1:]),
        "p": report.keyed(ids, p[1:]),
        "ci95": {f: report.nums(np.array([lo[k + 1], hi[k + 1]])) for k, f in enumerate(ids)},
        "r_squared": report.num(fit.r_squared()[0]),
        "adj_r_squared": report.num(fit.adj_r_squared()[0]),
        "residual_vol_annual": report.num(np.sqrt(fit.mse[0] * YEAR)),
        "observations": fit.nobs,
        "df_resid": df,
        "hac_lags": reg.lags,
        "hac_method": HAC_METHOD,
    }


def market_hedge(
    market_factor: str,
    market: FloatArray,
    portfolio: FloatArray,
    lags: int,
    gross: float,
    last_prices: Mapping[str, float],
) -> dict[str, Any]:
    """Hedge with the market ETF alone: -G·β with β the univariate market beta (HAC interval), and the realised
    annual vol of the portfolio before and after (r_p - β·r_m) over the window."""
    x = np.column_stack([np.ones(len(portfolio)), market])
    fit = fit_ols(x, portfolio[:, None])
    coef = fit.coef[:, 0]
    se = np.sqrt(np.clip(np.diag(hac_cov(x, portfolio - x @ coef, fit.xtx_inv, lags)), 0.0, None))
    lo, hi = ci95(coef, se, fit.df_resid)
    beta = float(coef[1])
    return dict(hedge_leg(market_factor, -gross * beta, last_prices)) | {
        "beta": beta,
        "beta_se_hac": report.num(se[1]),
        "beta_ci95": report.nums(np.array([lo[1], hi[1]])),
        "vol_before_annual": report.num(portfolio.std(ddof=1) * np.sqrt(YEAR)),
        "vol_after_annual": report.num((portfolio - beta * market).std(ddof=1) * np.sqrt(YEAR)),
    }
