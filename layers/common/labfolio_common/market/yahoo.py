"""The yfinance provider (production): Yahoo Finance daily prices, dividend- and split-adjusted.

What matters about yfinance (1.7), and how this adapter deals with it:
- `yf.download` never raises for a ticker: it logs the error and leaves that ticker's column empty (all NaN), and when
  the network is down or every ticker is unknown it returns an EMPTY frame. So a ticker without data is a per-ticker
  failure, with the reason yfinance logged when there is one; other tickers are unaffected.
- Adjustment is stated explicitly: `auto_adjust=True`, so `Close` is the adjusted close (the meaning of `Close`
  changed across yfinance versions; `Adj Close` no longer exists with auto_adjust).
- Rate limits (`YFRateLimitError`, "Too Many Requests") and network errors are transient: those tickers are
  downloaded again, together, after an exponential backoff. Unknown or delisted tickers are not retried.
- One batched download per fetch, from the earliest start asked; each ticker is then cut to its own start.
- A download that hangs is abandoned: yfinance's `timeout` bounds each HTTP request, not the batch, so the call runs
  in a thread that is waited for at most `call_limit_s` (by default the request timeout + 10 s + 0.25 s per ticker).
  Past it, every ticker of the batch fails with "timed out" (a transient reason: the caller retries later, the old
  data stays) and no further attempt is made in this fetch, so that a hanging source cannot use up the caller's
  own timeout.
- `end` is exclusive in yfinance: the adapter passes `end + 1 day`. During US trading hours the last row is the live
  price, not a close; the next daily run's overlap window overwrites it with the close.

pandas and yfinance are imported only when a fetch runs (the layer does not ship them: factor_update and analysis do).
"""

from __future__ import annotations

import ast
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from labfolio_common.market import OFFLINE_ONLY_TICKERS, FetchResult, PriceSeries, ProviderName
from labfolio_common.observability import logger

Download = Callable[..., Any]  # yfinance.download's signature; returns a pandas DataFrame

NO_DATA: Final = "no prices returned (unknown or delisted ticker, or no trading in the window)"
TIMED_OUT: Final = "download timed out"
_TRANSIENT: Final = re.compile(
    r"rate.?limit|too many requests|timed? ?out|timeout|curl|connection|network|temporar|resolve host|50[234]",
    re.IGNORECASE,
)
_LOGGED_ERROR: Final = re.compile(r"^(\[.*?\]): (.*)$", re.DOTALL)


def is_transient(reason: str) -> bool:
    """A failure worth retrying: rate limiting or the network, not an unknown ticker."""
    return bool(_TRANSIENT.search(reason))


class YFinanceMarketData:
    """The `yfinance` provider. `download` (default `yfinance.download`), `sleep` and `today` are injectable so tests
    run on recorded frames with no network and no waiting."""

    def __init__(
        self,
        download: Download | None = None,
        *,
        attempts: int = 3,
        backoff_s: float = 2.0,
        timeout_s: float = 20.0,
        call_limit_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], date] | None = None,
    ) -> None:
        self._download = download
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._call_limit_s = call_limit_s
        self._sleep = sleep
        self._today = today or (lambda: datetime.now(UTC).date())

    @property
    def name(self) -> ProviderName:
        return "yfinance"

    @property
    def demo(self) -> bool:
        return False

    def as_of(self) -> date:
        return self._today()

    def covers(self, ticker: str) -> bool:
        return ticker not in OFFLINE_ONLY_TICKERS

    def fetch(self, starts: Mapping[str, date], end: date) -> FetchResult:
        result = FetchResult()
        pending = dict(starts)
        reasons: dict[str, str] = {}
        for attempt in range(self._attempts):
            if not pending:
                break
            if attempt:
                delay = self._backoff_s * 2 ** (attempt - 1)
                logger.warning("yfinance retry", extra={"tickers": sorted(pending), "attempt": attempt + 1})
                self._sleep(delay)
            got, reasons = self._fetch_once(pending, end)
            result.prices.update(got)
            if any(reason.startswith(TIMED_OUT) for reason in reasons.values()):
                result.failed.update(reasons)  # a hanging source is not asked again in this fetch
                return result
            retry = {t: s for t, s in pending.items() if t in reasons and is_transient(reasons[t])}
            for ticker, reason in reasons.items():
                if ticker not in retry:
                    result.failed[ticker] = reason
            pending = retry
        for ticker in pending:
            result.failed[ticker] = f"{reasons[ticker]} (after {self._attempts} attempts)"
        return result

    def _fetch_once(self, starts: Mapping[str, date], end: date) -> tuple[dict[str, PriceSeries], dict[str, str]]:
        tickers = sorted(starts)
        errors = _YFinanceErrors()
        yf_logger = logging.getLogger("yfinance")
        yf_logger.addHandler(errors)
        limit = self._call_limit_s
        if limit is None:
            limit = self._timeout_s + 10.0 + 0.25 * len(tickers)
        try:
            frame = _within(limit, lambda: self._call_download(tickers, min(starts.values()), end))
        except TimeoutError:
            logger.warning("yfinance download timed out", extra={"tickers": len(tickers), "limit_s": limit})
            return {}, {t: f"{TIMED_OUT} after {limit:.0f} s (the market-data source did not answer)" for t in tickers}
        except Exception as exc:  # whatever the library raises, every ticker of the batch failed the same way
            return {}, {t: f"download failed: {type(exc).__name__}: {exc}" for t in tickers}
        finally:
            yf_logger.removeHandler(errors)
        closes = adjusted_closes(frame, tickers)
        prices: dict[str, PriceSeries] = {}
        failed: dict[str, str] = {}
        for ticker in tickers:
            series = _window(closes.get(ticker), starts[ticker], end)
            if series is None:
                failed[ticker] = errors.reasons.get(ticker, NO_DATA)
            else:
                prices[ticker] = series
        return prices, failed

    def _call_download(self, tickers: list[str], start: date, end: date) -> Any:
        download = self._download
        if download is None:
            import yfinance

            download = yfinance.download
        return download(
            tickers,
            start=start.isoformat(),
            end=(end + timedelta(days=1)).isoformat(),
            interval="1d",
            auto_adjust=True,
            actions=False,
            group_by="column",
            multi_level_index=True,
            progress=False,
            threads=True,
            timeout=self._timeout_s,
        )


def _within(limit_s: float, call: Callable[[], Any]) -> Any:
    """`call()`'s result, or TimeoutError once `limit_s` has passed (the call is left to finish in its thread)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="yfinance-download", daemon=True)
    thread.start()
    thread.join(limit_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {limit_s:.1f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def adjusted_closes(frame: Any, tickers: Iterable[str]) -> dict[str, PriceSeries]:
    """{ticker: adjusted closes} from a `yf.download(..., auto_adjust=True, group_by="column")` frame: columns
    (Price, Ticker) with Price in Open/High/Low/Close/Volume, a DatetimeIndex; NaN and non-positive closes dropped.
    An empty frame, or a ticker without a column or without any value, gives nothing for that ticker."""
    if frame is None or getattr(frame, "empty", True) or "Close" not in _top_level(frame):
        return {}
    close = frame["Close"]
    if getattr(close, "ndim", 2) == 1:  # a single ticker without a ticker level
        close = close.to_frame(name=next(iter(tickers), ""))
    index = close.index
    if getattr(index, "tz", None) is not None:
        index = index.tz_localize(None)
    days = [stamp.date() for stamp in index]
    out: dict[str, PriceSeries] = {}
    for ticker in tickers:
        if ticker not in close.columns:
            continue
        pairs = [(d, float(v)) for d, v in zip(days, close[ticker].tolist(), strict=True) if v == v and v > 0]
        pairs.sort()
        if pairs:
            out[ticker] = PriceSeries(ticker, tuple(d for d, _ in pairs), tuple(v for _, v in pairs))
    return out


def _top_level(frame: Any) -> list[Any]:
    columns = frame.columns
    return list(columns.get_level_values(0)) if getattr(columns, "nlevels", 1) > 1 else list(columns)


def _window(series: PriceSeries | None, start: date, end: date) -> PriceSeries | None:
    window = series.between(start, end) if series is not None else None
    return window if window else None


class _YFinanceErrors(logging.Handler):
    """Collects the per-ticker errors yf.download logs (`['XYZ']: YFPricesMissingError(...)`) during one call."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.reasons: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = _LOGGED_ERROR.match(record.getMessage())
        if not match:
            return
        try:
            tickers = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return
        for ticker in tickers if isinstance(tickers, list) else []:
            self.reasons[str(ticker)] = match.group(2).strip()[:500]
