"""Time-series OLS for many return series on one design at once, plain and Newey-West (HAC) inference.

One QR factorisation of the Tx(K+1) design serves every series: coefficients for all of them are one triangular
solve of QᵀY. Matches statsmodels `OLS(y, X).fit()` (plain, t distribution with T-K-1 degrees of freedom) and
`fit(cov_type="HAC", cov_kwds={"maxlags": L, "use_correction": True}, use_t=True)`: Bartlett kernel, the
small-sample factor T/(T-K-1), and t-based p-values and intervals with T-K-1 degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.domain import student_t  # numpy only: scipy does not fit in the worker's Lambda package
from analysis.domain.frames import FloatArray

CHUNK = 1024  # residuals are formed this many series at a time, so memory stays O(T·CHUNK) beyond Y itself


@dataclass(frozen=True)
class OLSFit:
    """OLS of each column of Y (Txm) on X (Txp): coefficients pxm, (XᵀX)⁻¹, residual and total sums of squares."""

    coef: FloatArray
    xtx_inv: FloatArray
    ssr: FloatArray
    tss: FloatArray
    nobs: int

    @property
    def df_resid(self) -> int:
        return self.nobs - int(self.coef.shape[0])

    @property
    def mse(self) -> FloatArray:
        """Residual variance per series, SSR/(T-K-1) (statsmodels' `mse_resid`, `scale`)."""
        return self.ssr / self.df_resid

    @property
    def se(self) -> FloatArray:
        """Plain OLS standard errors, pxm."""
        return np.sqrt(np.outer(np.diag(self.xtx_inv), self.mse))

    def r_squared(self) -> FloatArray:
        """Centred R²; NaN for a constant series (no variance to explain)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.tss > 0, 1.0 - self.ssr / self.tss, np.nan)

    def adj_r_squared(self) -> FloatArray:
        return 1.0 - (1.0 - self.r_squared()) * (self.nobs - 1) / self.df_resid


@dataclass(frozen=True)
class Design:
    """A T x p design (constant first) factorised once, X = QR, to fit any number of series on it."""

    x: FloatArray
    q: FloatArray
    r: FloatArray
    xtx_inv: FloatArray

    @classmethod
    def of(cls, x: FloatArray) -> Design:
        q, r = np.linalg.qr(x)
        r_inv = np.linalg.solve(
            r, np.eye(r.shape[0])
        )  # R is upper triangular: LU without pivoting, exact back-substitution
        return cls(x=x, q=q, r=r, xtx_inv=r_inv @ r_inv.T)

    def fit(self, y: FloatArray) -> OLSFit:
        """Fit every column of `y` (T x m): one triangular solve of QᵀY."""
        return _fit(self, y)


def fit_ols(x: FloatArray, y: FloatArray) -> OLSFit:
    """Fit every column of `y` on `x` (which includes the constant column)."""
    return Design.of(x).fit(y)


def _fit(design: Design, y: FloatArray) -> OLSFit:
    x = design.x
    coef = np.linalg.solve(design.r, design.q.T @ y)
    ssr = np.empty(y.shape[1])
    tss = np.empty(y.shape[1])
    for lo in range(0, y.shape[1], CHUNK):
        # one row per series (y.T is C-ordered when y is column-major, as pandas and the engine hold returns)
        series = y[:, lo : lo + CHUNK].T
        resid = series - coef[:, lo : lo + CHUNK].T @ x.T
        centred = series - series.mean(axis=1, keepdims=True)
        ssr[lo : lo + CHUNK] = np.einsum("ij,ij->i", resid, resid)
        tss[lo : lo + CHUNK] = np.einsum("ij,ij->i", centred, centred)
    return OLSFit(coef=coef, xtx_inv=design.xtx_inv, ssr=ssr, tss=tss, nobs=x.shape[0])


def bartlett(lags: int) -> FloatArray:
    """Newey-West weights 1 - l/(L+1) for l = 1..L."""
    return 1.0 - np.arange(1, lags + 1) / (lags + 1.0)


def hac_cov(x: FloatArray, resid: FloatArray, xtx_inv: FloatArray, lags: int) -> FloatArray:
    """Newey-West covariance of one regression's coefficients, with the T/(T-p) small-sample factor."""
    scores = x * resid[:, None]
    meat = scores.T @ scores
    for lag, weight in enumerate(bartlett(lags), start=1):
        cross = scores[lag:].T @ scores[:-lag]
        meat += weight * (cross + cross.T)
    nobs, p = x.shape
    cov: FloatArray = xtx_inv @ meat @ xtx_inv * (nobs / (nobs - p))
    return cov


def hac_se_of_means(series: FloatArray, lags: int) -> FloatArray:
    """HAC standard error of each column's mean (a regression on a constant alone), vectorised over columns."""
    resid = series - series.mean(axis=0)
    meat = np.einsum("ij,ij->j", resid, resid)
    for lag, weight in enumerate(bartlett(lags), start=1):
        meat = meat + 2.0 * weight * np.einsum("ij,ij->j", resid[lag:], resid[:-lag])
    nobs = series.shape[0]
    se: FloatArray = np.sqrt(meat / nobs**2 * (nobs / (nobs - 1)))
    return se


def t_stats(coef: FloatArray, se: FloatArray) -> FloatArray:
    """coef/se; NaN where the standard error is zero (a perfect fit)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t: FloatArray = np.where(se > 0, coef / np.where(se > 0, se, 1.0), np.nan)
    return t


def p_values(t: FloatArray, df: int) -> FloatArray:
    """Two-sided p-values from Student's t with `df` degrees of freedom."""
    p: FloatArray = student_t.two_sided_p(t, df)
    return p


def ci95(coef: FloatArray, se: FloatArray, df: int) -> tuple[FloatArray, FloatArray]:
    """95% confidence interval bounds, Student's t with `df` degrees of freedom."""
    half = student_t.quantile(0.975, df) * se
    return coef - half, coef + half
