"""Bad input ends with AnalysisInputError and a message a person understands, never a stack trace or a NaN."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from analysis.domain.engine import run_analysis
from analysis.domain.errors import AnalysisInputError
from analysis.domain.inputs import AnalysisInputs, FactorSpec, Holding
from analysis.domain.selection import default_hac_lags, factor_modes, min_observations, validate_factor_ids
from test_engine_data import MARKET, Market, inputs_for, make_market, specs

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def mk() -> Market:
    return make_market(n=3, t=300, k=3, seed=5)


def _fails(inputs: AnalysisInputs, *words: str, field: str | None = None) -> AnalysisInputError:
    with pytest.raises(AnalysisInputError) as caught:
        run_analysis(inputs)
    for word in words:
        assert word in caught.value.message
    if field is not None:
        assert caught.value.field == field
    return caught.value


def test_engine_rejects_an_unknown_factor(mk: Market) -> None:
    inputs = replace(inputs_for(mk), factors=(*specs(["MKT", "MOM"]), FactorSpec("NOPE", "spread")))
    _fails(inputs, "unknown factor", "NOPE", field="factor_ids")


def test_engine_rejects_a_duplicate_factor(mk: Market) -> None:
    inputs = replace(inputs_for(mk), factors=specs(["MKT", "MOM", "MOM"]))
    _fails(inputs, "more than once", "MOM", field="factor_ids")


def test_engine_rejects_more_than_fifteen_factors() -> None:
    big = make_market(n=2, t=300, k=16)
    _fails(inputs_for(big), "16 factors", "at most 15", field="factor_ids")


def test_engine_rejects_no_factor(mk: Market) -> None:
    _fails(replace(inputs_for(mk), factors=()), "at least one factor")


def test_engine_rejects_a_window_with_too_few_observations(mk: Market) -> None:
    start, end = mk.prices.index[100].date(), mk.prices.index[150].date()
    err = _fails(inputs_for(mk, start=start, end=end), "only 51 days", "at least 60", field="start")
    assert "3 factor(s)" in err.message


def test_engine_minimum_grows_with_the_number_of_factors() -> None:
    assert (min_observations(3), min_observations(19), min_observations(20)) == (60, 60, 63)


def test_engine_rejects_an_empty_date_intersection(mk: Market) -> None:
    shifted = mk.prices.set_axis(mk.prices.index - pd.DateOffset(years=5))
    _fails(replace(inputs_for(mk, start=None), prices=shifted), "no dates in common")


def test_engine_rejects_factor_returns_outside_the_window(mk: Market) -> None:
    _fails(inputs_for(mk, start=pd.Timestamp("2030-01-01").date(), end=None), "no factor returns")


def test_engine_rejects_a_start_after_the_end(mk: Market) -> None:
    inputs = inputs_for(mk, start=mk.prices.index[200].date(), end=mk.prices.index[100].date())
    _fails(inputs, "starts", "after it ends", field="start")


def test_engine_rejects_a_constant_factor(mk: Market) -> None:
    factors = mk.factor_returns.assign(MOM=0.001)
    _fails(replace(inputs_for(mk), factor_returns=factors), "MOM", "same return every day", field="factor_ids")


def test_engine_rejects_the_market_as_a_spread_of_itself(mk: Market) -> None:
    factors = mk.factor_returns.assign(MKT2=mk.factor_returns[MARKET])
    inputs = replace(
        inputs_for(mk), factor_returns=factors, factors=(*specs(["MKT", "MOM"]), FactorSpec("MKT2", "spread"))
    )
    _fails(inputs, "MKT2", "same return every day", "spread against the market")


def test_engine_rejects_a_constant_portfolio(mk: Market) -> None:
    prices = mk.prices.assign(S000=42.0)
    err = _fails(replace(inputs_for(mk, {"S000": 10.0}), prices=prices), "portfolio's return is the same every day")
    assert err.field == "holdings"


def test_engine_keeps_a_constant_holding_and_says_why_r2_is_null(mk: Market) -> None:
    prices = mk.prices.assign(S000=1.0)
    out = run_analysis(replace(inputs_for(mk), prices=prices))
    assert out.result["holdings"]["S000"]["r_squared"] is None
    assert any("S000" in note and "constant" in note for note in out.result["notes"])


def test_engine_rejects_infinite_prices(mk: Market) -> None:
    prices = mk.prices.copy()
    prices.iloc[10, 1] = np.inf
    _fails(replace(inputs_for(mk), prices=prices), "S001", "infinite", field="prices")


def test_engine_rejects_non_positive_prices(mk: Market) -> None:
    prices = mk.prices.copy()
    prices.iloc[10, 2] = -3.0
    _fails(replace(inputs_for(mk), prices=prices), "S002", "zero or negative", field="prices")


def test_engine_rejects_infinite_factor_returns(mk: Market) -> None:
    factors = mk.factor_returns.copy()
    factors.iloc[5, 0] = -np.inf
    _fails(replace(inputs_for(mk), factor_returns=factors), "MKT", "infinite", field="factor_returns")


def test_engine_rejects_text_for_prices(mk: Market) -> None:
    prices = mk.prices.astype(object)
    prices.iloc[3, 0] = "n/a"
    _fails(replace(inputs_for(mk), prices=prices), "S000", "not numbers", field="prices")


def test_engine_rejects_a_date_given_twice(mk: Market) -> None:
    prices = pd.concat([mk.prices, mk.prices.iloc[[7]]])
    _fails(replace(inputs_for(mk), prices=prices), "more than once", field="prices")


def test_engine_rejects_when_no_holding_has_prices(mk: Market) -> None:
    prices = mk.prices.assign(S000=np.nan)
    _fails(replace(inputs_for(mk, {"S000": 1.0, "XYZ": 2.0}), prices=prices), "none of the holdings", "XYZ")


def test_engine_rejects_identical_factors_in_raw_mode(mk: Market) -> None:
    # given: one ETF entered twice under two ids, raw
    factors = mk.factor_returns.assign(MOM_COPY=mk.factor_returns["MOM"])
    chosen = (FactorSpec("MKT", "market"), FactorSpec("MOM", "raw"), FactorSpec("MOM_COPY", "raw"))
    _fails(replace(inputs_for(mk), factor_returns=factors, factors=chosen), "MOM", "MOM_COPY", "move in lockstep")


def test_engine_rejects_a_factor_that_combines_the_others(mk: Market) -> None:
    factors = mk.factor_returns.assign(COMBO=0.5 * mk.factor_returns["MOM"] + 0.5 * mk.factor_returns["QLT"])
    chosen = (*specs(["MKT", "MOM", "QLT"], "raw"), FactorSpec("COMBO", "raw"))
    _fails(replace(inputs_for(mk), factor_returns=factors, factors=chosen), "perfectly collinear", "COMBO")


def test_engine_rejects_missing_market_returns(mk: Market) -> None:
    inputs = replace(inputs_for(mk), factor_returns=mk.factor_returns.drop(columns=[MARKET]), factors=specs(["MOM"]))
    _fails(inputs, "no returns", MARKET, field="factor_ids")


def test_engine_rejects_a_market_mode_for_another_factor(mk: Market) -> None:
    inputs = replace(inputs_for(mk), factors=(FactorSpec("MKT", "market"), FactorSpec("MOM", "market")))
    _fails(inputs, "MOM", "'market'", field="factor_ids")


def test_engine_rejects_mixed_quantities_and_weights(mk: Market) -> None:
    inputs = replace(inputs_for(mk), holdings=(Holding("S000", quantity=3), Holding("S001", weight=0.4)))
    _fails(inputs, "not a mix", field="holdings")


def test_engine_rejects_no_holdings(mk: Market) -> None:
    _fails(replace(inputs_for(mk), holdings=()), "no holdings")


def test_engine_rejects_a_holding_without_amount(mk: Market) -> None:
    _fails(replace(inputs_for(mk), holdings=(Holding("S000"),)), "S000", "neither")


def test_engine_rejects_a_nan_quantity(mk: Market) -> None:
    _fails(replace(inputs_for(mk), holdings=(Holding("S000", quantity=float("nan")),)), "not a number")


def test_engine_rejects_an_all_zero_portfolio(mk: Market) -> None:
    _fails(inputs_for(mk, {"S000": 0.0, "S001": 0.0}), "no market value")


@pytest.mark.parametrize("amounts", [{"S000": 1e308, "S001": 1e308}, {"S000": 1e308, "S001": -1.0}])
def test_engine_rejects_a_gross_exposure_that_is_not_finite(mk: Market, amounts: dict[str, float]) -> None:
    """The red-team round: a quantity of 1e308 (stored before uploads bounded it) gave a "ready" analysis with every
    portfolio figure null and a note that the factors explained the returns exactly."""
    _fails(inputs_for(mk, amounts), "gross exposure", "not a finite number", field="holdings")
    weights = (Holding("S000", weight=1e308), Holding("S001", weight=1e308))
    _fails(replace(inputs_for(mk), holdings=weights), "gross exposure", "not a finite number", field="holdings")


def test_engine_rejects_hac_lags_out_of_range(mk: Market) -> None:
    _fails(inputs_for(mk, hac_lags=-1), "hac_lags", field="hac_lags")
    _fails(inputs_for(mk, hac_lags=10_000), "hac_lags", field="hac_lags")


def test_engine_rejects_a_non_positive_gross(mk: Market) -> None:
    holdings = (Holding("S000", weight=1.0),)
    _fails(replace(inputs_for(mk), holdings=holdings, gross=0.0), "gross", field="gross")


def test_engine_error_detail_is_json_ready() -> None:
    assert AnalysisInputError("bad", field="start").as_detail() == {"message": "bad", "field": "start"}
    assert AnalysisInputError("bad").as_detail() == {"message": "bad"}


def test_selection_validates_ids_against_a_catalogue() -> None:
    validate_factor_ids(["SPY", "MTUM"], ["SPY", "MTUM", "QUAL"])
    with pytest.raises(AnalysisInputError, match="unknown factor"):
        validate_factor_ids(["SPY", "XXX"], ["SPY"])


def test_selection_factor_modes_follow_the_catalogue_in_spread_mode() -> None:
    entries = {"MTUM": "spread", "TLT": "raw"}
    assert factor_modes(["SPY", "MTUM", "TLT"], "SPY", "spread", entries) == {
        "SPY": "market",
        "MTUM": "spread",
        "TLT": "raw",
    }
    assert factor_modes(["SPY", "MTUM"], "SPY", "raw", entries) == {"SPY": "market", "MTUM": "raw"}


def test_selection_default_hac_lags_is_newey_west_rule() -> None:
    assert [default_hac_lags(t) for t in (60, 100, 504, 1260)] == [3, 4, 5, 7]
