"""Checking and aligning the raw frames: prices and factor returns onto one calendar, factors as they enter the model.

A NaN is a missing value (a day without a price or a return) and only shapes the window; an infinite value, a price
that is zero or negative, text where a number should be, or a date given twice is corrupt data and stops the analysis.
With a given start or end, only the rows in that window (and the one before its start) are read and checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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


@dataclass(frozen=True)
class _Checked:
    """A frame's values (rows in date order) with its dates and column names."""

    dates: pd.DatetimeIndex
    columns: list[str]
    values: FloatArray


def _numeric(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    if all(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes.unique()):
        return frame
    bad = [str(c) for c, dtype in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
    converted = frame[bad].apply(pd.to_numeric, errors="coerce")
    broken = [c for c in bad if (converted[c].isna() & frame[c].notna()).any()]
    if broken:
        raise AnalysisInputError(f"{what} of {', '.join(broken)} are not numbers", field=what.replace(" ", "_"))
    return frame.assign(**{c: converted[c] for c in bad})


def _within(dates: pd.DatetimeIndex, start: date | None, end: date | None) -> slice:
    """The rows from the last one before `start` (the base of the first return) to `end`."""
    lo = 0 if start is None else max(int(dates.searchsorted(pd.Timestamp(start), "left")) - 1, 0)
    hi = len(dates) if end is None else int(dates.searchsorted(pd.Timestamp(end), "right"))
    return slice(lo, hi)


def _checked(frame: pd.DataFrame, what: str, start: date | None, end: date | None) -> _Checked:
    """Rows sorted by date and cut to a given window; dates once each, numbers only, no infinity."""
    dates = _date_index(frame.index, what)
    if not dates.is_monotonic_increasing:
        order = np.argsort(dates.asi8, kind="stable")
        frame, dates = frame.iloc[order], dates[order]
    rows = _within(dates, start, end)
    if rows != slice(0, len(dates)):
        frame, dates = frame.iloc[rows], dates[rows]
    values = _numeric(frame, what).to_numpy(dtype=np.float64)
    infinite = [str(c) for c in frame.columns[np.isinf(values).any(axis=0)]]
    if infinite:
        raise AnalysisInputError(
            f"{what} of {', '.join(infinite)} contain infinite values: the data is corrupt",
            field=what.replace(" ", "_"),
        )
    return _Checked(dates, [str(c) for c in frame.columns], values)


def _checked_prices(inputs: AnalysisInputs, tickers: list[str]) -> _Checked:
    present = set(inputs.prices.columns)
    columns = [t for t in tickers if t in present]
    frame = inputs.prices if list(inputs.prices.columns) == columns else inputs.prices[columns]
    prices = _checked(frame, "prices", inputs.start, inputs.end)
    not_positive = [c for c, bad in zip(columns, (prices.values <= 0).any(axis=0), strict=True) if bad]
    if not_positive:
        raise AnalysisInputError(
            f"prices of {', '.join(not_positive)} include zero or negative values: adjusted closes must be positive",
            field="prices",
        )
    return prices


def _checked_factor_returns(inputs: AnalysisInputs) -> _Checked:
    needed = list(dict.fromkeys([*inputs.factor_ids, inputs.market_factor]))
    missing = [f for f in needed if f not in inputs.factor_returns.columns]
    if missing:
        raise AnalysisInputError(f"no returns for factor(s): {', '.join(missing)}", field="factor_ids")
    frame = _checked(inputs.factor_returns[needed], "factor returns", inputs.start, inputs.end)
    not_returns = [c for c, bad in zip(needed, (frame.values <= -1).any(axis=0), strict=True) if bad]
    if not_returns:
        raise AnalysisInputError(
            f"factor returns of {', '.join(not_returns)} fall to -100% or below: are they prices, not returns?",
            field="factor_returns",
        )
    return frame


def _on(calendar: pd.DatetimeIndex, checked: _Checked) -> FloatArray:
    """The values placed on the calendar's rows, NaN on the other rows. Column-major (Fortran order), as pandas
    holds a frame: each ticker's series is contiguous, so the per-ticker scans of the window rules are fast."""
    rows = calendar.get_indexer(checked.dates)  # increasing: both are sorted
    out = np.empty((len(calendar), len(checked.columns)), order="F")
    covered = np.zeros(len(calendar), dtype=bool)
    covered[rows] = True
    out[~covered] = np.nan
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    for lo, hi in zip([0, *breaks.tolist()], [*breaks.tolist(), len(rows)], strict=True):
        if hi > lo:  # copy each run of consecutive calendar rows as one block (fast in column-major order)
            out[rows[lo] : rows[hi - 1] + 1] = checked.values[lo:hi]
    return out


def _entered(raw: FloatArray, market: FloatArray, inputs: AnalysisInputs) -> FloatArray:
    spread = np.array([spec.mode == "spread" for spec in inputs.factors])
    entered: FloatArray = raw - np.where(spread, 1.0, 0.0) * market[:, None]
    return entered


def align(inputs: AnalysisInputs, tickers: list[str]) -> Aligned:
    """Check the frames and put prices and factor series on the union of their dates."""
    prices = _checked_prices(inputs, tickers)
    factor_frame = _checked_factor_returns(inputs)
    calendar = pd.DatetimeIndex(prices.dates.union(factor_frame.dates))
    px = _on(calendar, prices)
    returns = np.empty_like(px)
    returns[0] = np.nan
    np.divide(px[1:], px[:-1], out=returns[1:])
    returns[1:] -= 1.0
    frame = _on(calendar, factor_frame)
    market = frame[:, factor_frame.columns.index(inputs.market_factor)]
    raw = frame[:, [factor_frame.columns.index(f) for f in inputs.factor_ids]]
    factors = _entered(raw, market, inputs)
    factor_ok = np.isfinite(factors).all(axis=1) & np.isfinite(market)
    return Aligned(calendar, prices.columns, px, returns, factors, raw, market, factor_ok)
