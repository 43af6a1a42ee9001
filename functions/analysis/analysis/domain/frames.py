"""Checking and aligning the raw frames: prices and factor returns onto one calendar, factors as they enter the model.

A NaN is a missing value (a day without a price or a return) and only shapes the window; an infinite value, a price
that is zero or negative, text where a number should be, or a date given twice is corrupt data and stops the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.domain.errors import AnalysisInputError
from analysis.domain.inputs import AnalysisInputs

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Aligned:
    """Prices and factor series on the union of their dates (`calendar`), ready for window selection."""

    calendar: pd.DatetimeIndex
    tickers: list[str]  # held tickers present in the price frame
    prices: FloatArray  # calendar x tickers, NaN where missing
    returns: FloatArray  # simple returns from one calendar row to the next (NaN if either price is missing)
    factors: FloatArray  # calendar x K, each factor as it enters the model
    raw_factors: FloatArray  # calendar x K, each factor's own return
    market: FloatArray  # calendar, the market factor's own return
    factor_ok: BoolArray  # calendar: every chosen factor and the market have a return


def _date_index(index: pd.Index, what: str) -> pd.DatetimeIndex:
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(index))
    except (TypeError, ValueError) as exc:
        raise AnalysisInputError(f"the {what} are not indexed by dates", field=what.replace(" ", "_")) from exc
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    dates = dates.normalize()
    if dates.has_duplicates:
        first = dates[dates.duplicated()][0].date()
        raise AnalysisInputError(f"the {what} list the date {first} more than once", field=what.replace(" ", "_"))
    return dates


def _as_float(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    bad = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if bad:
        converted = frame[bad].apply(pd.to_numeric, errors="coerce")
        broken = [c for c in bad if (converted[c].isna() & frame[c].notna()).any()]
        if broken:
            raise AnalysisInputError(f"{what} of {', '.join(broken)} are not numbers", field=what.replace(" ", "_"))
        frame = frame.assign(**{c: converted[c] for c in bad})
    out = frame.astype(np.float64)
    out.index = _date_index(frame.index, what)
    infinite = list(out.columns[np.isinf(out.to_numpy()).any(axis=0)].astype(str))
    if infinite:
        raise AnalysisInputError(
            f"{what} of {', '.join(infinite)} contain infinite values: the data is corrupt",
            field=what.replace(" ", "_"),
        )
    return out.sort_index()


def _checked_prices(inputs: AnalysisInputs, tickers: list[str]) -> pd.DataFrame:
    columns = [t for t in tickers if t in inputs.prices.columns]
    prices = _as_float(inputs.prices[columns], "prices")
    not_positive = list(prices.columns[(prices.to_numpy() <= 0).any(axis=0)].astype(str))
    if not_positive:
        raise AnalysisInputError(
            f"prices of {', '.join(not_positive)} include zero or negative values: adjusted closes must be positive",
            field="prices",
        )
    return prices


def _checked_factor_returns(inputs: AnalysisInputs) -> pd.DataFrame:
    needed = list(dict.fromkeys([*inputs.factor_ids, inputs.market_factor]))
    missing = [f for f in needed if f not in inputs.factor_returns.columns]
    if missing:
        raise AnalysisInputError(f"no returns for factor(s): {', '.join(missing)}", field="factor_ids")
    frame = _as_float(inputs.factor_returns[needed], "factor returns")
    not_returns = list(frame.columns[(frame.to_numpy() <= -1).any(axis=0)].astype(str))
    if not_returns:
        raise AnalysisInputError(
            f"factor returns of {', '.join(not_returns)} fall to -100% or below: are they prices, not returns?",
            field="factor_returns",
        )
    return frame


def _entered(frame: pd.DataFrame, inputs: AnalysisInputs) -> FloatArray:
    market = frame[inputs.market_factor].to_numpy()
    columns = []
    for spec in inputs.factors:
        series = frame[spec.factor_id].to_numpy()
        columns.append(series - market if spec.mode == "spread" else series)
    return np.column_stack(columns).astype(np.float64)


def align(inputs: AnalysisInputs, tickers: list[str]) -> Aligned:
    """Check the frames and put prices and factor series on the union of their dates."""
    prices = _checked_prices(inputs, tickers)
    factor_frame = _checked_factor_returns(inputs)
    calendar = pd.DatetimeIndex(prices.index.union(factor_frame.index))
    px = prices.reindex(calendar).to_numpy(dtype=np.float64)
    returns = np.full_like(px, np.nan)
    returns[1:] = px[1:] / px[:-1] - 1.0
    frame = factor_frame.reindex(calendar)
    factors = _entered(frame, inputs)
    market = frame[inputs.market_factor].to_numpy(dtype=np.float64)
    raw = frame[inputs.factor_ids].to_numpy(dtype=np.float64)
    factor_ok = np.isfinite(factors).all(axis=1) & np.isfinite(market)
    return Aligned(calendar, list(prices.columns), px, returns, factors, raw, market, factor_ok)
