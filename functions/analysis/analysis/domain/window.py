"""Choosing the window and the holdings that are analysed, and saying why.

Rules (each one is reported in `data_quality`):
- The window ends at the latest date on which every kept holding and every factor has a return (or before `end`),
  and starts at `start`, or by default 2 calendar years before that end.
- A ticker with no prices, or none on the dates with factor returns in the window, is dropped ("no price data").
- A ticker whose prices stop more than STALE_DAYS factor days before the factors' last date is dropped ("no recent
  prices"): it could not be valued at the end, and keeping it would pull the whole window back.
- A ticker with a short history (listed late, or with missing days) narrows the window to the days it has, as long as
  at least min_observations common days remain; otherwise the ticker with the fewest days is dropped, one at a time,
  until they do ("history too short"). A day on which any kept ticker lacks a price is left out for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from analysis.domain.errors import AnalysisInputError
from analysis.domain.frames import Aligned, BoolArray, FloatArray

STALE_DAYS = 5
DEFAULT_YEARS = 2


@dataclass(frozen=True)
class Sample:
    """The common days of the analysis (T) and the used holdings (N) on them."""

    dates: pd.DatetimeIndex  # the date of each return
    tickers: list[str]
    returns: FloatArray  # T x N simple returns
    factors: FloatArray  # T x K factor series as entered
    raw_factors: FloatArray  # T x K factors' own returns
    market: FloatArray  # T, the market factor's own return
    end_prices: FloatArray  # N closes at the window end
    prices_used: pd.DataFrame  # closes of the used tickers from the day before the first return to the end
    data_quality: dict[str, Any]


def _day(ts: pd.Timestamp) -> str:
    return str(ts.date().isoformat())


def _last_true(mask: BoolArray, axis: int = 0) -> Any:
    return mask.shape[axis] - 1 - np.argmax(np.flip(mask, axis=axis), axis=axis)


def _bounds(calendar: pd.DatetimeIndex, start: date | None, end: date | None) -> BoolArray:
    inside = np.ones(len(calendar), dtype=bool)
    if start is not None:
        inside &= calendar >= pd.Timestamp(start)
    if end is not None:
        inside &= calendar <= pd.Timestamp(end)
    return inside


def _no_overlap(al: Aligned, cal: BoolArray, start: date | None, end: date | None) -> AnalysisInputError:
    bounded = f" between {start or 'the start'} and {end or 'the end'}" if start or end else ""
    if not al.factor_ok.any():
        return AnalysisInputError("there is no date on which every chosen factor has a return", field="factor_ids")
    if not cal.any():
        return AnalysisInputError(f"there are no factor returns{bounded}", field="start")
    return AnalysisInputError(f"the prices and the factor returns have no dates in common{bounded}", field="start")


def _window(al: Aligned, cal: BoolArray, common: BoolArray, start: date | None) -> BoolArray:
    """Factor days from the start (given, or 2 years before the end) to the latest common day."""
    if not common.any():
        return cal
    end_i = int(_last_true(common))
    end_ts = al.calendar[end_i]
    if start is not None:
        after = al.calendar >= pd.Timestamp(start)
    else:
        after = al.calendar > end_ts - pd.DateOffset(years=DEFAULT_YEARS)
    mask: BoolArray = cal & after & (np.arange(len(cal)) <= end_i)
    return mask


class _Selection:
    """The greedy choice of tickers: drop the unusable ones, then the shortest until the window is long enough."""

    def __init__(self, al: Aligned, cal: BoolArray, start: date | None, min_obs: int, k: int) -> None:
        self.al, self.cal, self.start, self.min_obs, self.k = al, cal, start, min_obs, k
        self.avail = np.isfinite(al.returns) & cal[:, None]
        self.first = np.argmax(self.avail, axis=0)  # each ticker's first and last day with a return
        self.last = _last_true(self.avail)
        self.kept = np.ones(len(al.tickers), dtype=bool)
        self.dropped: dict[str, str] = {}

    def drop(self, i: int, reason: str) -> None:
        self.kept[i] = False
        self.dropped[self.al.tickers[i]] = reason

    def drop_unusable(self) -> None:
        has_price = np.isfinite(self.al.prices).any(axis=0)
        has_return = self.avail.any(axis=0)
        rank = np.cumsum(self.cal)
        cal_last = int(_last_true(self.cal))
        stale = rank[cal_last] - rank[self.last] > STALE_DAYS
        days = self.avail.sum(axis=0)
        short = days < self.min_obs  # cannot be in any window long enough: dropped at once, not one by one
        for i in np.flatnonzero(~has_price | ~has_return | stale | short).tolist():
            if not has_price[i]:
                self.drop(i, "no price data")
            elif not has_return[i]:
                self.drop(i, "no prices on the dates with factor returns in the window")
            elif short[i]:
                self.drop(
                    i, f"history too short: prices on only {days[i]} days with factor returns, {self.min_obs} needed"
                )
            else:
                self.drop(
                    i,
                    f"no recent prices: the last is on {_day(self.al.calendar[self.last[i]])}, the factor returns "
                    f"run to {_day(self.al.calendar[cal_last])}",
                )

    def kept_avail(self) -> BoolArray:
        return self.avail if self.kept.all() else self.avail[:, self.kept]

    def run(self) -> tuple[BoolArray, BoolArray]:
        """Drop tickers until the common days in the window reach min_obs; the (window, common) masks."""
        while True:
            idx = np.flatnonzero(self.kept)
            if idx.size == 0:
                reasons = "; ".join(f"{t}: {r}" for t, r in self.dropped.items())
                raise AnalysisInputError(f"no holding has enough price data to analyse ({reasons})", field="holdings")
            common = self.cal & self.kept_avail().all(axis=1)
            window = _window(self.al, self.cal, common, self.start)
            n_window, n_common = int(window.sum()), int((window & common).sum())
            if common.any() and n_window < self.min_obs:
                raise self.too_short(window, n_window)
            if n_common >= self.min_obs:
                return window, window & common
            counts = self.avail[window][:, idx].sum(axis=0)
            worst = int(idx[np.argmin(counts)])
            self.drop(
                worst,
                f"history too short: prices on {int(counts.min())} of the {n_window} days in the window; keeping it "
                f"would leave {n_common} common days, fewer than the {self.min_obs} needed",
            )

    def too_short(self, window: BoolArray, n_window: int) -> AnalysisInputError:
        days = self.al.calendar[window]
        return AnalysisInputError(
            f"the window {_day(days[0])} to {_day(days[-1])} has only {n_window} days with returns for every "
            f"factor; an analysis with {self.k} factor(s) needs at least {self.min_obs}",
            field="start",
        )


def _narrowing(sel: _Selection, window: BoolArray) -> list[dict[str, str]]:
    """The kept tickers whose history starts after the window's start, or ends before the factors' last day."""
    cal = sel.al.calendar
    w_first, cal_last = int(np.argmax(window)), int(_last_true(sel.cal))
    notes = []
    for i in np.flatnonzero(sel.kept & ((sel.first > w_first) | (sel.last < cal_last))):
        ticker = sel.al.tickers[i]
        if sel.first[i] > w_first:
            message = f"prices start on {_day(cal[sel.first[i]])}: the window starts there, not on {_day(cal[w_first])}"
            notes.append({"ticker": ticker, "message": message})
        if sel.last[i] < cal_last:
            message = f"prices end on {_day(cal[sel.last[i]])}: the window ends there, not on {_day(cal[cal_last])}"
            notes.append({"ticker": ticker, "message": message})
    return notes


def _quality(sel: _Selection, held: list[str], window: BoolArray, common: BoolArray) -> dict[str, Any]:
    al, idx = sel.al, np.flatnonzero(sel.kept)
    c_days = np.flatnonzero(common)
    span = window[c_days[0] : c_days[-1] + 1]
    in_span = sel.kept_avail()[c_days[0] : c_days[-1] + 1][span].sum(axis=0)
    missing = int(span.sum()) - in_span
    coverage_days = sel.avail[window].sum(axis=0) / max(int(window.sum()), 1)
    coverage = dict.fromkeys(held, 0.0) | dict(zip(al.tickers, coverage_days.tolist(), strict=True))
    priced = set(al.tickers)
    dropped = dict.fromkeys([t for t in held if t not in priced], "no price data") | sel.dropped
    w_days = al.calendar[window]
    return {
        "used": [al.tickers[i] for i in idx],
        "dropped": [{"ticker": t, "reason": dropped[t]} for t in held if t in dropped],
        "coverage": {t: coverage[t] for t in held},
        "window_requested": {"start": _day(w_days[0]), "end": _day(w_days[-1]), "days": int(window.sum())},
        "narrowed_by": _narrowing(sel, window),
        "missing_days": {al.tickers[i]: int(n) for i, n in zip(idx, missing, strict=True) if n},
        "days_left_out": int(span.sum()) - len(c_days),
    }


def _rows(common: BoolArray) -> tuple[Any, int, int]:
    """The common days as a slice when none is left out in between (so arrays are views, not copies), else their
    indices; and the first and last of them."""
    rows = np.flatnonzero(common)
    first, last = int(rows[0]), int(rows[-1])
    return (slice(first, last + 1) if last - first + 1 == len(rows) else rows), first, last


def _columns(values: FloatArray, rows: slice | Any, kept: BoolArray) -> FloatArray:
    block: FloatArray = values[rows] if kept.all() else values[rows][..., kept]
    return block


def select(al: Aligned, held: list[str], start: date | None, end: date | None, min_obs: int, k: int) -> Sample:
    """The window and the holdings to analyse (see the module's rules). Raises AnalysisInputError when none fit."""
    cal = al.factor_ok & _bounds(al.calendar, start, end)
    if not (np.isfinite(al.returns) & cal[:, None]).any():
        if not np.isfinite(al.prices).any():
            raise AnalysisInputError(f"none of the holdings has price data ({', '.join(held)})", field="holdings")
        raise _no_overlap(al, cal, start, end)
    sel = _Selection(al, cal, start, min_obs, k)
    if cal.sum() < min_obs:
        raise sel.too_short(cal, int(cal.sum()))
    sel.drop_unusable()
    window, common = sel.run()
    rows, first, last = _rows(common)
    tickers = [t for t, kept in zip(al.tickers, sel.kept, strict=True) if kept]
    used = slice(first - 1, last + 1)
    return Sample(
        dates=al.calendar[rows],
        tickers=tickers,
        returns=_columns(al.returns, rows, sel.kept),
        factors=al.factors[rows],
        raw_factors=al.raw_factors[rows],
        market=al.market[rows],
        end_prices=_columns(al.prices, last, sel.kept),
        prices_used=pd.DataFrame(
            _columns(al.prices, used, sel.kept), index=al.calendar[used], columns=tickers, copy=False
        ),
        data_quality=_quality(sel, held, window, common),
    )
