"""An analysis result as tables, for the exports (pure, stdlib only).

`tables(result)` gives the same tables to both formats:
- export.json: `{"analysis_id", "portfolio_id", "params", "tables": {name: {"columns": [...], "rows": [[...]]}}}`;
- export.csv: the tables one after another, each introduced by a row holding its name in brackets (`[holdings]`),
  then its header row and its rows, then an empty row (one file that opens in any spreadsheet).

CSV cells are formula-safe (OWASP "CSV injection"): a text cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return is prefixed with a single quote, so no spreadsheet evaluates it. Numbers stay numbers (a negative
number is a number, not a formula); a missing number (null in JSON) is an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    rows: list[list[Cell]]

    def as_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows}


def safe_cell(value: Cell) -> str | int | float:
    """A value as a CSV cell: text that a spreadsheet would read as a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(tables: Iterable[Table]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for table in tables:
        writer.writerow([safe_cell(f"[{table.name}]")])
        writer.writerow([safe_cell(c) for c in table.columns])
        writer.writerows([safe_cell(c) for c in row] for row in table.rows)
        writer.writerow([])
    return out.getvalue()


def _pair(values: Any) -> tuple[Cell, Cell]:
    if isinstance(values, Sequence) and len(values) == 2:
        return values[0], values[1]
    return None, None


def _summary(result: Mapping[str, Any], params: Mapping[str, Any]) -> Table:
    window, port, risk = result.get("window", {}), result.get("portfolio", {}), result.get("risk", {})
    after = result.get("risk_after_hedge", {})
    rows: list[list[Cell]] = [
        *([f"window_{k}", v] for k, v in window.items()),
        ["factor_mode", params.get("factor_mode")],
        ["market_factor", params.get("market_factor")],
        ["risk_free_rate", params.get("risk_free_rate")],
        ["nav", result.get("nav")],
        ["gross", result.get("gross")],
        ["condition_number", result.get("condition_number")],
        *([f"portfolio_{k}", port.get(k)] for k in ("alpha_annual", "r_squared", "adj_r_squared")),
        ["portfolio_residual_vol_annual", port.get("residual_vol_annual")],
        *([f"risk_{k}", v] for k, v in risk.items() if not isinstance(v, Mapping)),
        *([f"risk_after_hedge_{k}", v] for k, v in after.items()),
    ]
    return Table("summary", ["field", "value"], rows)


def _factors(result: Mapping[str, Any]) -> Table:
    premia = result.get("risk_premia", {})
    rows = [
        [
            f.get("factor_id"),
            f.get("mode"),
            f.get("vif"),
            premia.get(f.get("factor_id"), {}).get("mean_annual"),
            premia.get(f.get("factor_id"), {}).get("t"),
        ]
        for f in result.get("factors", [])
    ]
    return Table("factors", ["factor_id", "mode", "vif", "risk_premium_annual", "risk_premium_t"], rows)


def _exposures(result: Mapping[str, Any], ids: list[str]) -> Table:
    port = result.get("portfolio", {})
    alpha = [
        "alpha (daily)",
        port.get("alpha_daily"),
        port.get("alpha_se"),
        port.get("alpha_se_hac"),
        port.get("alpha_t"),
        port.get("alpha_p"),
        *_pair(port.get("alpha_ci95")),
    ]
    rows: list[list[Cell]] = [alpha]
    for f in ids:
        stats = [port.get(k, {}).get(f) for k in ("betas", "se", "se_hac", "t", "p")]
        rows.append([f, *stats, *_pair(port.get("ci95", {}).get(f))])
    columns = ["term", "estimate", "se", "se_hac", "t_hac", "p_hac", "ci95_low", "ci95_high"]
    return Table("portfolio_exposures", columns, rows)


def _holdings(result: Mapping[str, Any], ids: list[str]) -> Table:
    holdings, positions = result.get("holdings", {}), result.get("positions", {})
    by_holding = result.get("risk", {}).get("by_holding", {})
    rows = []
    for ticker, h in holdings.items():
        pos, risk = positions.get(ticker, {}), by_holding.get(ticker, {})
        rows.append(
            [
                ticker,
                *(pos.get(k) for k in ("quantity", "price", "value", "weight")),
                h.get("alpha_annual"),
                *(h.get("betas", {}).get(f) for f in ids),
                h.get("r_squared"),
                h.get("residual_vol_annual"),
                *(risk.get(k) for k in ("mcr", "ccr", "share")),
            ]
        )
    columns = ["ticker", "quantity", "price", "value", "weight", "alpha_annual", *(f"beta_{f}" for f in ids)]
    columns += ["r_squared", "residual_vol_annual", "risk_mcr", "risk_ccr", "risk_share"]
    return Table("holdings", columns, rows)


def _risk_by_factor(result: Mapping[str, Any]) -> Table:
    shares = result.get("risk", {}).get("by_factor", {})
    return Table("risk_by_factor", ["factor_id", "share_of_variance"], [[f, s] for f, s in shares.items()])


def _hedges(result: Mapping[str, Any]) -> Table:
    rows = []
    for h in result.get("hedges", []):
        leg = h.get("market_leg") or {}
        rows.append(
            [
                h.get("factor_id"),
                h.get("mode"),
                h.get("beta"),
                *_pair(h.get("beta_ci95")),
                h.get("etf"),
                h.get("notional"),
                h.get("shares"),
                h.get("last_price"),
                leg.get("etf"),
                leg.get("notional"),
                leg.get("shares"),
            ]
        )
    columns = ["factor_id", "mode", "beta", "beta_ci95_low", "beta_ci95_high", "etf", "notional", "shares"]
    columns += ["last_price", "market_leg_etf", "market_leg_notional", "market_leg_shares"]
    return Table("hedges", columns, rows)


def _trades(result: Mapping[str, Any]) -> Table:
    rows: list[list[Cell]] = [
        [t.get("etf"), t.get("notional"), t.get("shares"), t.get("last_price")] for t in result.get("hedge_trades", [])
    ]
    market = result.get("market_hedge")
    if market:
        rows.append([f"{market.get('etf')} (market-only hedge)", *(market.get(k) for k in ("notional", "shares"))])
        rows[-1].append(market.get("last_price"))
    return Table("hedge_trades", ["etf", "notional", "shares", "last_price"], rows)


def _key_values(name: str, values: Mapping[str, Any]) -> Table:
    return Table(name, ["metric", "value"], [[k, v] for k, v in values.items()])


def _data_quality(result: Mapping[str, Any]) -> Table:
    quality = result.get("data_quality", {})
    dropped = {d.get("ticker"): d.get("reason") for d in quality.get("dropped", [])}
    used = set(quality.get("used", []))
    rows = [[t, c, t in used, dropped.get(t)] for t, c in quality.get("coverage", {}).items()]
    return Table("data_quality", ["ticker", "coverage", "used", "dropped_reason"], rows)


def _series(name: str, dates: list[Any], columns: Mapping[str, list[Any]]) -> Table:
    names = list(columns)
    rows = [[day, *(columns[c][i] for c in names)] for i, day in enumerate(dates)]
    return Table(name, ["date", *names], rows)


def _attribution(result: Mapping[str, Any]) -> Table:
    attr = result.get("attribution", {})
    columns = {f"factor_{f}": v for f, v in attr.get("factor", {}).items()}
    columns |= {k: attr[k] for k in ("alpha", "residual", "specific", "total") if k in attr}
    return _series("attribution_cumulative", attr.get("dates", []), columns)


def _rolling(result: Mapping[str, Any]) -> Table:
    rolling = result.get("rolling_betas", {})
    columns = {"alpha": rolling.get("alpha", []), **rolling.get("betas", {})}
    return _series(f"rolling_betas_{rolling.get('window', '')}d", rolling.get("dates", []), columns)


def _correlations(result: Mapping[str, Any]) -> Table:
    corr = result.get("correlations", {})
    ids = corr.get("ids", [])
    rows = [[f, *row] for f, row in zip(ids, corr.get("matrix", []), strict=False)]
    return Table("factor_correlations", ["factor_id", *ids], rows)


def tables(result: Mapping[str, Any], params: Mapping[str, Any]) -> list[Table]:
    """Every table of an analysis result, in reading order."""
    ids = [f.get("factor_id") for f in result.get("factors", [])]
    return [
        _summary(result, params),
        _factors(result),
        _exposures(result, ids),
        _holdings(result, ids),
        _risk_by_factor(result),
        _hedges(result),
        _trades(result),
        _key_values("performance", result.get("performance", {})),
        _data_quality(result),
        _attribution(result),
        _rolling(result),
        _correlations(result),
        Table("notes", ["note"], [[n] for n in result.get("notes", [])]),
    ]
