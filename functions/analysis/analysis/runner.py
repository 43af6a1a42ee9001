"""Use case of the worker: run one analysis named by a job message (analysis.domain.jobs).

1. Claim the analysis (queued → running, with a lease as long as this invocation). A finished or vanished analysis
   acknowledges the message; one still held by a live claim is retried later (AnalysisBusyError).
2. Load: the portfolio's holdings, the dates on which every factor has a return (the window), the prices of the
   holdings and of the factor ETFs (backfilled through labfolio_common.market when the price cache has none: the
   ETFs' last prices size the hedges), the factor returns - only the window plus a margin.
3. Compute: the engine (analysis.domain.engine, numpy/pandas imported only now). An AnalysisInputError is the data's
   or the parameters' fault: the analysis fails with its message for people and the message is acknowledged. Any
   other error in the computation - or in loading or storing, when it is not a passing fault - is a bug: it is
   logged with its traceback, and the analysis fails saying an internal error happened (a retry would fail the same
   way).
4. Store: the prices used as a gzip CSV in S3 (analyses/{user}/{portfolio}/{analysis}/prices.csv.gz, outside the
   uploads/ prefix the bucket notifies about), then one transaction: ready, the result, and the inputs (the holdings
   as they were, the prices' key, size, checksum and shape).

Failures of the database, S3, the network or the market-data source are transient (`is_passing_fault`): the claim is
given back (queued) and the error raised, so SQS retries the message and, after maxReceiveCount, dead-letters it;
`analysis.sweep.sweep_analyses` (the worker's scheduled run) then fails what stayed in flight. A worker killed mid-run
leaves `running` with a lease: the retried message claims it again once the lease is over, and the sweep settles it if
no retry comes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from labfolio_common import analysis_store
from labfolio_common.aws import client
from labfolio_common.db.engine import session_scope
from labfolio_common.db.models import utcnow
from labfolio_common.errors import DependencyUnavailableError, LabfolioError
from labfolio_common.market import PriceSourceError
from labfolio_common.market.refresh import Outcome
from labfolio_common.market.yahoo import is_transient
from labfolio_common.observability import MetricUnit, logger, metrics
from labfolio_common.settings import Settings, get_settings

from analysis import history, service
from analysis.adapters import s3_analyses, sql_analyses, sql_inputs
from analysis.adapters.market_prices import MarketDataUnavailableError
from analysis.domain.errors import AnalysisInputError
from analysis.domain.params import AnalysisParams, check_window, load_range

DEFAULT_LEASE = timedelta(seconds=60)  # the worker's timeout, when the invocation's remaining time is unknown
# A job is not started with less time left in the invocation than this (a batch of several large analyses): its
# message is retried by another invocation instead of being killed halfway by the timeout.
MIN_TIME_LEFT = timedelta(seconds=25)
INTERNAL_ERROR = "the analysis could not be computed because of an internal error (it has been logged): run it again"


class AnalysisBusyError(DependencyUnavailableError):
    """Another worker holds this analysis's claim: try again once its lease ends (the message is retried)."""


class NotEnoughTimeError(DependencyUnavailableError):
    """Too little of the invocation is left to start the analysis: the message is retried by another invocation."""


@dataclass(frozen=True)
class Ports:
    """What running an analysis talks to; `for_settings` builds them from the function's environment."""

    database_url: str
    s3: Any
    bucket: str
    backfill: Callable[[Iterable[str]], Outcome] = field(default=service.backfill_prices)
    history: int = 20  # the analyses a portfolio keeps (settings.analysis_history)

    @classmethod
    def for_settings(cls, settings: Settings) -> Ports:
        return cls(settings.database_url, client("s3"), settings.uploads_bucket, history=settings.analysis_history)


@dataclass(frozen=True)
class Loaded:
    """Everything the engine gets, as plain values (long-format rows for prices and factor returns)."""

    params: AnalysisParams
    holdings: list[sql_inputs.HoldingRow]
    prices: tuple[list[str], list[Any], list[float]]
    factor_returns: tuple[list[str], list[date], list[float]]
    last_prices: dict[str, float]
    data_source: str
    demo_data: bool
    as_of: date
    read: tuple[date, date]


def run(analysis_id: uuid.UUID, ports: Ports | None = None, *, lease: timedelta = DEFAULT_LEASE) -> str:
    """Run the analysis; what happened: ready, failed, or gone / duplicate (nothing to do)."""
    if lease < MIN_TIME_LEFT:
        raise NotEnoughTimeError(f"{lease.total_seconds():.0f} s left in this invocation: analysis {analysis_id} later")
    ports = ports or Ports.for_settings(get_settings())
    now = utcnow()
    with session_scope(ports.database_url) as session:
        claim = sql_analyses.claim(session, analysis_id, now, now + lease)
    log = {"analysis_id": str(analysis_id)}
    if isinstance(claim, str):
        if claim == "running":
            raise AnalysisBusyError(f"analysis {analysis_id} is being run by another worker")
        logger.info("job message for an analysis already settled or gone: acknowledged", extra={**log, "was": claim})
        return "gone" if claim == "gone" else "duplicate"
    logger.info("analysis claimed", extra={**log, "attempt": claim.attempts})
    started = time.perf_counter()
    try:
        try:
            loaded = _load(claim, ports)
            output = _compute(loaded)
        except AnalysisInputError as exc:
            return _fail(ports, claim, exc.as_detail(), log)
        if isinstance(output, dict):
            return _fail(ports, claim, output, log)
        return _store(ports, claim, loaded, output, log, started)
    except Exception as exc:
        if not is_passing_fault(exc):  # a bug (bad date arithmetic, say): a retry would fail the same way
            logger.exception("analysis failed with an internal error", extra=log)
            return _fail(ports, claim, {"message": INTERNAL_ERROR}, log)
        _release(ports.database_url, claim, exc)
        raise


def is_passing_fault(exc: BaseException) -> bool:
    """A fault of what the analysis depends on (the database, S3, the market-data source, the network, the time
    left), worth a retry; anything else is a bug that a retry repeats."""
    from botocore.exceptions import BotoCoreError, ClientError
    from sqlalchemy.exc import SQLAlchemyError

    passing = (DependencyUnavailableError, PriceSourceError, SQLAlchemyError, BotoCoreError, ClientError, OSError)
    return isinstance(exc, passing)


# ------------------------------------------------------------------ load


def _load(claim: sql_analyses.Claim, ports: Ports) -> Loaded:
    params = AnalysisParams.from_json(claim.params)
    with session_scope(ports.database_url) as session:
        held = sql_inputs.holdings(session, claim.portfolio_id)
        common = sql_inputs.common_dates(session, params.read_factors, params.end)
    check_window(params, common)
    tickers = [h.ticker for h in held]
    _backfill(ports, tickers, params.read_factors)
    lo, hi = load_range(params, common[-1])
    with session_scope(ports.database_url) as session:
        prices = sql_inputs.prices(session, tickers, lo, hi)
        factor_returns = sql_inputs.factor_returns(session, params.read_factors, lo, hi)
        last_prices = sql_inputs.last_closes(session, params.read_factors, hi)
        sources = {*sql_inputs.factor_sources(session, params.read_factors).values()}
        sources |= {*sql_inputs.price_sources(session, tickers).values()}
    known = sorted(s for s in sources if s)
    return Loaded(
        params=params,
        holdings=held,
        prices=prices,
        factor_returns=factor_returns,
        last_prices=last_prices,
        data_source="+".join(known) or "unknown",
        demo_data="offline" in known,
        as_of=common[-1],
        read=(lo, hi),
    )


def _backfill(ports: Ports, tickers: list[str], factor_ids: list[str]) -> None:
    """Cache prices of tickers (holdings, and the factor ETFs for hedge sizes) the price cache has none of yet;
    retry later when the source failed for a passing reason on a holding that has no price at all."""
    outcome = ports.backfill([*tickers, *factor_ids])
    passing = [t for t in tickers if t in outcome.failed and is_transient(outcome.failed[t])]
    if passing:
        with session_scope(ports.database_url) as session:
            priced = set(sql_inputs.last_closes(session, passing, date.max))
        unpriced = [t for t in passing if t not in priced]
        if unpriced:
            raise MarketDataUnavailableError(f"market data unavailable for {', '.join(unpriced[:5])}")


# ------------------------------------------------------------------ compute


def _compute(loaded: Loaded) -> Any:
    """The engine's output, or the error detail of a failed analysis (AnalysisInputError is raised through)."""
    try:
        inputs = _inputs(loaded)
        from analysis.domain.engine import run_analysis

        return run_analysis(inputs)
    except AnalysisInputError:
        raise
    except Exception:
        logger.exception("analysis failed with an internal error")
        return {"message": INTERNAL_ERROR}


def _frame(rows: tuple[list[str], list[Any], list[float]]) -> Any:
    """Long rows (column, date, value) as a date x column DataFrame, NaN where missing: each distinct date and column
    is parsed once, and the values are placed into one matrix (no long frame, no pivot)."""
    import numpy as np
    import pandas as pd

    names, days, values = rows
    columns, column_of = _codes(names)
    dates, date_of = _codes(days)
    matrix = np.full((len(dates), len(columns)), np.nan)
    matrix[date_of, column_of] = values
    frame = pd.DataFrame(matrix, index=pd.DatetimeIndex(pd.to_datetime(dates)), columns=columns, copy=False)
    return frame.sort_index()


def _codes(values: list[Any]) -> tuple[list[Any], Any]:
    """The distinct values (first-seen order) and each value's position among them."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return list(uniques), codes


def _inputs(loaded: Loaded) -> Any:
    from analysis.domain.inputs import AnalysisInputs, FactorSpec, Holding

    params = loaded.params
    modes = params.modes()
    return AnalysisInputs(
        holdings=tuple(Holding(h.ticker, quantity=h.quantity, weight=h.weight) for h in loaded.holdings),
        prices=_frame(loaded.prices),
        factor_returns=_frame(loaded.factor_returns),
        factors=tuple(FactorSpec(f, modes[f]) for f in params.factor_ids),
        market_factor=params.market_factor,
        factor_last_prices=loaded.last_prices,
        start=params.start,
        end=params.end,
        hac_lags=params.hac_lags,
        risk_free_rate=params.risk_free_rate,
        gross=params.gross,
        data_source=loaded.data_source,
        demo_data=loaded.demo_data,
        as_of=loaded.as_of,
    )


# ------------------------------------------------------------------ store


def _prices_csv(prices_used: Any) -> bytes:
    """The prices used, dates down and tickers across, full float precision, gzip (reproducible bytes)."""
    text = prices_used.to_csv(index_label="date", date_format="%Y-%m-%d")
    return gzip.compress(text.encode("utf-8"), compresslevel=1, mtime=0)  # 6 costs 4x the time for 20% less


def json_ready(value: Any) -> Any:
    """`value` with every non-finite float as None (JSON has no NaN); the engine already gives None, this is the
    last line of defence before the database."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except ValueError:
        return _finite(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _stored_inputs(loaded: Loaded, key: str, body: bytes, prices_used: Any, bucket: str) -> dict[str, Any]:
    dates = prices_used.index
    return {
        "holdings": [{"ticker": h.ticker, "quantity": h.quantity, "weight": h.weight} for h in loaded.holdings],
        "prices": {
            "bucket": bucket,
            "key": key,
            "format": "csv+gzip: date, then one column per ticker (adjusted closes)",
            "bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "rows": len(dates),
            "tickers": [str(c) for c in prices_used.columns],
            "first_date": dates[0].date().isoformat() if len(dates) else None,
            "last_date": dates[-1].date().isoformat() if len(dates) else None,
        },
        "factor_last_prices": loaded.last_prices,
        "read": {"start": loaded.read[0].isoformat(), "end": loaded.read[1].isoformat()},
    }


def _store(
    ports: Ports, claim: sql_analyses.Claim, loaded: Loaded, output: Any, log: dict[str, Any], started: float
) -> str:
    body = _prices_csv(output.prices_used)
    key = analysis_store.prices_key(claim.user_id, claim.portfolio_id, claim.analysis_id)
    s3_analyses.put_prices(ports.s3, ports.bucket, key, body)
    inputs = _stored_inputs(loaded, key, body, output.prices_used, ports.bucket)
    result = json_ready(output.result)
    with session_scope(ports.database_url) as session:
        if not sql_analyses.holds(session, claim):
            return _claim_lost(session, ports, claim, key, log)
        sql_analyses.finish(session, claim, utcnow(), status="ready", result=result, inputs=inputs, error=None)
    history.prune(ports.database_url, ports.s3, ports.bucket, claim.portfolio_id, ports.history)
    seconds = time.perf_counter() - started
    window = result.get("window", {})
    logger.info(
        "analysis ready",
        extra={**log, "seconds": round(seconds, 3), "holdings": len(result.get("weights", {})), **window},
    )
    metrics.add_metric(name="AnalysisCompleted", unit=MetricUnit.Count, value=1)
    return "ready"


def _claim_lost(session: Any, ports: Ports, claim: sql_analyses.Claim, key: str, log: dict[str, Any]) -> str:
    from labfolio_common.db.models import Analysis

    if session.get(Analysis, claim.analysis_id) is None:  # deleted with its portfolio meanwhile
        s3_analyses.delete_object(ports.s3, ports.bucket, key)
        logger.info("analysis deleted while it ran: result dropped", extra=log)
        return "gone"
    logger.warning("claim lost to another worker: result dropped", extra=log)
    return "duplicate"


def _fail(ports: Ports, claim: sql_analyses.Claim, error: dict[str, Any], log: dict[str, Any]) -> str:
    with session_scope(ports.database_url) as session:
        if not sql_analyses.holds(session, claim):
            logger.warning("claim lost to another worker: failure dropped", extra=log)
            return "duplicate"
        sql_analyses.finish(session, claim, utcnow(), status="failed", error=error, result=None, inputs=None)
    history.prune(ports.database_url, ports.s3, ports.bucket, claim.portfolio_id, ports.history)
    logger.info("analysis failed", extra={**log, "reason": error.get("message", "")[:300]})
    metrics.add_metric(name="AnalysisFailed", unit=MetricUnit.Count, value=1)
    return "failed"


def _release(database_url: str, claim: sql_analyses.Claim, exc: Exception) -> None:
    """Best effort: give the claim back so the retry may take it at once (if the database is down, the lease ends)."""
    reason = f"{type(exc).__name__}: {exc.detail}" if isinstance(exc, LabfolioError) else type(exc).__name__
    logger.warning(
        "analysis interrupted, will be retried", extra={"analysis_id": str(claim.analysis_id), "reason": reason}
    )
    metrics.add_metric(name="AnalysisRetried", unit=MetricUnit.Count, value=1)
    try:
        with session_scope(database_url) as session:
            sql_analyses.release(session, claim, reason, utcnow())
    except Exception as release_error:
        logger.warning("claim not released", extra={"error": type(release_error).__name__})
