"""The exports' tables (analysis.domain.export) from a real engine result, and the CSV's formula safety."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from analysis.domain.export import Table, safe_cell, tables, to_csv

pytestmark = pytest.mark.unit

IDS = ["SP500", "MTUM"]


def result() -> dict[str, Any]:
    """A small result with the engine's shape (two factors, two holdings, three days)."""
    return {
        "window": {"start": "2022-12-23", "end": "2022-12-28", "observations": 3, "demo_data": True},
        "factors": [
            {"factor_id": "SP500", "mode": "market", "vif": 1.2},
            {"factor_id": "MTUM", "mode": "spread", "vif": None},
        ],
        "condition_number": 3.5,
        "nav": 900.0,
        "gross": 1100.0,
        "weights": {"AAPL": 0.909, "=HYPERLINK(1)": -0.091},
        "positions": {"AAPL": {"quantity": 10.0, "price": 100.0, "value": 1000.0, "weight": 0.909}},
        "portfolio": {
            "alpha_daily": 0.0001,
            "alpha_se": 0.001,
            "alpha_se_hac": 0.0012,
            "alpha_t": 0.08,
            "alpha_p": 0.9,
            "alpha_ci95": [-0.002, 0.0022],
            "betas": {"SP500": 1.1, "MTUM": -0.2},
            "se": {"SP500": 0.1, "MTUM": 0.2},
            "se_hac": {"SP500": 0.11, "MTUM": 0.21},
            "t": {"SP500": 10.0, "MTUM": -0.95},
            "p": {"SP500": 0.0, "MTUM": 0.34},
            "ci95": {"SP500": [0.88, 1.32], "MTUM": [-0.61, 0.21]},
            "r_squared": 0.8,
            "adj_r_squared": 0.79,
            "residual_vol_annual": 0.1,
            "alpha_annual": 0.0252,
        },
        "holdings": {
            "AAPL": {"alpha_annual": 0.01, "betas": {"SP500": 1.2, "MTUM": 0.1}, "r_squared": 0.5},
            "=HYPERLINK(1)": {"alpha_annual": None, "betas": {"SP500": None, "MTUM": None}, "r_squared": None},
        },
        "risk": {
            "total_vol_annual": 0.2,
            "factor_share": 0.7,
            "by_factor": {"SP500": 0.65, "MTUM": 0.05},
            "by_holding": {"AAPL": {"mcr": 0.2, "ccr": 0.18, "share": 0.9}},
        },
        "hedges": [
            {
                "factor_id": "SP500",
                "mode": "market",
                "beta": 1.1,
                "beta_ci95": [0.88, 1.32],
                "etf": "SP500",
                "notional": -1210.0,
                "shares": None,
                "last_price": None,
                "market_leg": None,
            },
            {
                "factor_id": "MTUM",
                "mode": "spread",
                "beta": -0.2,
                "beta_ci95": [-0.61, 0.21],
                "etf": "MTUM",
                "notional": 220.0,
                "shares": 1.5,
                "last_price": 143.73,
                "market_leg": {"etf": "SP500", "notional": -220.0, "shares": None},
            },
        ],
        "hedge_trades": [{"etf": "SP500", "notional": -1430.0, "shares": None, "last_price": None}],
        "market_hedge": {"etf": "SP500", "notional": -1300.0, "shares": None, "last_price": None},
        "risk_after_hedge": {"total_vol_annual": 0.1},
        "performance": {"annual_return": 0.1, "sharpe": 0.5, "risk_free_rate": 0.0},
        "data_quality": {
            "used": ["AAPL"],
            "dropped": [{"ticker": "-X", "reason": "no price data"}],
            "coverage": {"AAPL": 1.0, "-X": 0.0},
        },
        "attribution": {
            "dates": ["2022-12-23", "2022-12-27", "2022-12-28"],
            "factor": {"SP500": [0.01, 0.0, 0.02], "MTUM": [0.0, 0.001, 0.0]},
            "alpha": [0.0, 0.0, 0.0],
            "residual": [0.0, -0.01, 0.0],
            "specific": [0.0, -0.01, 0.0],
            "total": [0.01, -0.009, 0.02],
        },
        "rolling_betas": {"window": 63, "dates": [], "alpha": [], "betas": {"SP500": [], "MTUM": []}},
        "correlations": {"ids": IDS, "matrix": [[1.0, 0.3], [0.3, 1.0]]},
        "risk_premia": {"SP500": {"mean_annual": 0.08, "t": 1.5}, "MTUM": {"mean_annual": -0.01, "t": -0.2}},
        "notes": ["+1 note that looks like a formula", "@SUM(A1)"],
    }


def by_name(found: list[Table]) -> dict[str, Table]:
    return {t.name: t for t in found}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("AAPL", "AAPL"),
        (-0.5, -0.5),
        (3, 3),
        (None, ""),
        (True, "true"),
    ],
)
def test_text_that_a_spreadsheet_would_run_is_quoted_and_numbers_stay_numbers(value: Any, cell: Any) -> None:
    assert safe_cell(value) == cell


def test_the_csv_has_every_table_and_no_cell_a_spreadsheet_would_run() -> None:
    text = to_csv(tables(result(), {"factor_mode": "spread", "market_factor": "SP500"}))
    rows = list(csv.reader(io.StringIO(text)))
    names = [r[0] for r in rows if len(r) == 1 and r[0].startswith("[")]
    assert names == [
        "[summary]",
        "[factors]",
        "[portfolio_exposures]",
        "[holdings]",
        "[risk_by_factor]",
        "[hedges]",
        "[hedge_trades]",
        "[performance]",
        "[data_quality]",
        "[attribution_cumulative]",
        "[rolling_betas_63d]",
        "[factor_correlations]",
        "[notes]",
    ]
    cells = [c for r in rows for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [c for c in cells if c[:1] == "-" and not _is_number(c)]
    assert "'=HYPERLINK(1)" in cells and "'-X" in cells and "'@SUM(A1)" in cells
    assert "-1210.0" in cells  # a negative number is written as a number


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_the_tables_carry_the_results_numbers() -> None:
    found = by_name(tables(result(), {}))
    exposures = found["portfolio_exposures"].rows
    assert exposures[0] == ["alpha (daily)", 0.0001, 0.001, 0.0012, 0.08, 0.9, -0.002, 0.0022]
    assert exposures[1] == ["SP500", 1.1, 0.1, 0.11, 10.0, 0.0, 0.88, 1.32]
    holdings = found["holdings"]
    assert holdings.columns[:6] == ["ticker", "quantity", "price", "value", "weight", "alpha_annual"]
    assert holdings.columns[6:8] == ["beta_SP500", "beta_MTUM"]
    assert holdings.rows[0][:8] == ["AAPL", 10.0, 100.0, 1000.0, 0.909, 0.01, 1.2, 0.1]
    hedges = found["hedges"].rows
    assert hedges[1][-3:] == ["SP500", -220.0, None]
    assert found["hedge_trades"].rows[-1][0] == "SP500 (market-only hedge)"
    assert found["data_quality"].rows == [["AAPL", 1.0, True, None], ["-X", 0.0, False, "no price data"]]
    attribution = found["attribution_cumulative"]
    assert attribution.columns == ["date", "factor_SP500", "factor_MTUM", "alpha", "residual", "specific", "total"]
    assert attribution.rows[2] == ["2022-12-28", 0.02, 0.0, 0.0, 0.0, 0.0, 0.02]
    assert found["factor_correlations"].rows == [["SP500", 1.0, 0.3], ["MTUM", 0.3, 1.0]]
    assert found["factors"].rows[1] == ["MTUM", "spread", None, -0.01, -0.2]


def test_json_tables_are_columns_and_rows() -> None:
    table = by_name(tables(result(), {}))["risk_by_factor"]
    assert table.as_json() == {"columns": ["factor_id", "share_of_variance"], "rows": [["SP500", 0.65], ["MTUM", 0.05]]}
