"""The window and the holdings used: 2 years by default, short histories narrow it, unusable tickers are dropped."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from analysis.domain.engine import run_analysis
from analysis.domain.inputs import Holding
from test_engine_data import Market, inputs_for, make_market

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def mk() -> Market:
    return make_market(n=4, t=756, k=3, seed=3)


def _with_prices(mk: Market, prices: pd.DataFrame) -> Market:
    return replace(mk, prices=prices)


def _dropped(result: dict) -> dict[str, str]:
    return {d["ticker"]: d["reason"] for d in result["data_quality"]["dropped"]}


def test_engine_default_window_is_the_last_two_years(mk: Market) -> None:
    res = run_analysis(inputs_for(mk, start=None)).result
    end = pd.Timestamp(res["window"]["end"])
    start = pd.Timestamp(res["window"]["start"])
    assert end == mk.prices.index[-1]
    expected = mk.prices.index[mk.prices.index > end - pd.DateOffset(years=2)]
    assert start == expected[0] and res["window"]["observations"] == len(expected)


def test_engine_given_window_is_respected(mk: Market) -> None:
    start, end = mk.prices.index[100].date(), mk.prices.index[400].date()
    res = run_analysis(inputs_for(mk, start=start, end=end)).result
    assert (res["window"]["start"], res["window"]["end"]) == (start.isoformat(), end.isoformat())
    assert res["window"]["observations"] == 301


def test_engine_short_history_narrows_the_window_and_says_so(mk: Market) -> None:
    # given: S003 listed at row 500, inside the default 2-year window
    prices = mk.prices.copy()
    prices.iloc[:500, 3] = np.nan
    # when
    res = run_analysis(inputs_for(_with_prices(mk, prices), start=None)).result
    # then
    assert res["window"]["start"] == mk.prices.index[501].date().isoformat()
    assert res["window"]["observations"] == 756 - 500
    assert "S003" in res["weights"]
    [narrowed] = res["data_quality"]["narrowed_by"]
    assert narrowed["ticker"] == "S003" and "prices start on" in narrowed["message"]
    requested = res["data_quality"]["window_requested"]["days"]
    assert res["data_quality"]["coverage"]["S003"] == pytest.approx(256 / requested)
    assert res["data_quality"]["coverage"]["S000"] == 1.0


def test_engine_too_short_history_is_dropped_not_narrowing(mk: Market) -> None:
    prices = mk.prices.copy()
    prices.iloc[:720, 3] = np.nan  # 36 returns: fewer than the 60 needed
    res = run_analysis(inputs_for(_with_prices(mk, prices), start=None)).result
    assert "history too short" in _dropped(res)["S003"]
    assert "S003" not in res["weights"] and res["data_quality"]["used"] == ["S000", "S001", "S002"]
    assert res["window"]["observations"] > 500


def test_engine_ticker_without_data_is_dropped_and_said(mk: Market) -> None:
    prices = mk.prices.copy()
    prices["S002"] = np.nan
    quantities = {"S000": 10.0, "S001": 10.0, "S002": 10.0, "NODATA": 5.0}
    res = run_analysis(inputs_for(_with_prices(mk, prices), quantities)).result
    assert _dropped(res) == {"S002": "no price data", "NODATA": "no price data"}
    assert res["data_quality"]["coverage"]["NODATA"] == 0.0
    assert list(res["weights"]) == ["S000", "S001"]
    assert sum(abs(w) for w in res["weights"].values()) == pytest.approx(1.0)


def test_engine_stale_ticker_is_dropped(mk: Market) -> None:
    prices = mk.prices.copy()
    prices.iloc[600:, 1] = np.nan
    res = run_analysis(inputs_for(_with_prices(mk, prices), start=None)).result
    assert _dropped(res)["S001"].startswith("no recent prices")
    assert res["window"]["end"] == mk.prices.index[-1].date().isoformat()


def test_engine_slightly_stale_ticker_moves_the_end_back(mk: Market) -> None:
    prices = mk.prices.copy()
    prices.iloc[-2:, 1] = np.nan  # two days behind: within the tolerance
    res = run_analysis(inputs_for(_with_prices(mk, prices), start=None)).result
    assert res["window"]["end"] == mk.prices.index[-3].date().isoformat()
    assert any(n["ticker"] == "S001" and "prices end on" in n["message"] for n in res["data_quality"]["narrowed_by"])


def test_engine_missing_days_are_left_out_for_all(mk: Market) -> None:
    prices = mk.prices.copy()
    prices.iloc[400:403, 2] = np.nan  # three missing closes: four returns cannot be computed
    res = run_analysis(inputs_for(_with_prices(mk, prices))).result
    assert res["window"]["observations"] == 756 - 4
    assert res["data_quality"]["missing_days"] == {"S002": 4}
    assert res["data_quality"]["days_left_out"] == 4
    assert mk.prices.index[401].date().isoformat() not in res["attribution"]["dates"]


def test_engine_missing_factor_day_is_left_out(mk: Market) -> None:
    factors = mk.factor_returns.copy()
    factors.iloc[300, 1] = np.nan
    res = run_analysis(inputs_for(replace(mk, factor_returns=factors))).result
    assert res["window"]["observations"] == 755
    assert factors.index[300].date().isoformat() not in res["attribution"]["dates"]


def test_engine_prices_on_extra_dates_do_not_misalign_returns(mk: Market) -> None:
    # given: factor returns lack a day on which prices exist; the stock return over that day is not paired with
    # the next factor return
    factors = mk.factor_returns.drop(mk.factor_returns.index[200])
    res = run_analysis(inputs_for(replace(mk, factor_returns=factors))).result
    assert res["window"]["observations"] == 755


def test_engine_weights_of_dropped_tickers_are_renormalised(mk: Market) -> None:
    holdings = (Holding("S000", weight=0.5), Holding("S001", weight=0.3), Holding("GONE", weight=0.2))
    res = run_analysis(replace(inputs_for(mk), holdings=holdings)).result
    assert res["weights"] == pytest.approx({"S000": 0.625, "S001": 0.375})
    assert res["gross"] == 1_000_000.0


def test_engine_two_day_returns_are_never_paired_with_one_day_factor_returns(mk: Market) -> None:
    # given: no prices at all on a day that has factor returns
    prices = mk.prices.drop(mk.prices.index[200])
    res = run_analysis(inputs_for(_with_prices(mk, prices))).result
    # then: that day and the next (a two-day stock return) are both left out
    assert res["window"]["observations"] == 754
    dates = set(res["attribution"]["dates"])
    assert not {mk.prices.index[200].date().isoformat(), mk.prices.index[201].date().isoformat()} & dates


def test_engine_reads_only_the_given_window(mk: Market) -> None:
    # given: corrupt prices long before the window, which must neither fail the analysis nor change it
    start, end = mk.prices.index[300].date(), mk.prices.index[700].date()
    corrupt = mk.prices.copy()
    corrupt.iloc[50, 0] = np.inf
    trimmed = mk.prices.iloc[299:701]
    # when
    full = run_analysis(inputs_for(_with_prices(mk, corrupt), start=start, end=end)).result
    cut = run_analysis(inputs_for(_with_prices(mk, trimmed), start=start, end=end)).result
    # then
    assert full["window"] == cut["window"] and full["window"]["observations"] == 401
    assert full["portfolio"]["betas"] == cut["portfolio"]["betas"]


def test_engine_accepts_unsorted_dates(mk: Market) -> None:
    shuffled = mk.prices.sample(frac=1.0, random_state=1)
    expected = run_analysis(inputs_for(mk)).result["portfolio"]["betas"]
    result = run_analysis(inputs_for(_with_prices(mk, shuffled), start=mk.prices.index[0].date())).result
    assert result["portfolio"]["betas"] == pytest.approx(expected, rel=1e-12)


def test_engine_drops_the_shortest_history_when_histories_do_not_overlap_enough(mk: Market) -> None:
    # given: S003 listed 100 days before the end, S002 missing 46 closes in those same days
    prices = mk.prices.copy()
    prices.iloc[:656, 3] = np.nan
    prices.iloc[700:746, 2] = np.nan
    # when
    res = run_analysis(inputs_for(_with_prices(mk, prices), start=None)).result
    # then: S003 (fewest days) goes, and S002's missing days are left out of the full window
    reason = _dropped(res)["S003"]
    assert reason.startswith("history too short: prices on 100 of the") and "fewer than the 60 needed" in reason
    assert res["data_quality"]["missing_days"] == {"S002": 47}
