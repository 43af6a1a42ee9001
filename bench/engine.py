"""The factor engine's benchmark (issue 6), called from `python -m bench` (bench/__main__.py: bench_engine).

Times `run_analysis` (everything in the result: OLS and HAC, risk, hedges, attribution, rolling betas, performance,
risk premia) against (a) the prototype's `linearmodels.LinearFactorModel(...).fit()` and (b) a loop of statsmodels OLS
per holding (betas, standard errors and R² only, plus the portfolio's HAC fit), all on the same returns, in one run.
Peak memory is measured in a fresh process per size (`python -m bench.engine memory N`).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "functions/analysis")]

from analysis.domain.engine import run_analysis  # noqa: E402
from analysis.domain.inputs import AnalysisInputs, FactorSpec, Holding  # noqa: E402

STYLES = ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]


def synthetic_inputs(n: int, t: int = 1260, k: int = 6, seed: int = 1) -> AnalysisInputs:
    """n stocks on a market factor and k-1 style spreads with known betas, t days, quantities long and short."""
    rng = np.random.default_rng(seed)
    ids = ["MKT", *(f"STY{i}" for i in range(1, k))]
    dates = pd.bdate_range("2017-01-02", periods=t + 1)
    market = rng.normal(0.0004, 0.011, t)
    spreads = rng.normal(0.0, 0.004, (t, k - 1))
    betas = np.column_stack([rng.normal(1.0, 0.3, n), rng.normal(0.0, 0.5, (n, k - 1))])
    returns = np.column_stack([market, spreads]) @ betas.T + rng.normal(0.0, 0.015, (t, n))
    tickers = [f"S{i:05d}" for i in range(n)]
    prices = pd.DataFrame(50.0 * np.vstack([np.ones(n), np.cumprod(1 + returns, axis=0)]), dates, tickers)
    factors = pd.DataFrame(np.column_stack([market, spreads + market[:, None]]), dates[1:], ids)
    return AnalysisInputs(
        holdings=tuple(Holding(tk, quantity=q) for tk, q in zip(tickers, rng.uniform(-50, 200, n), strict=True)),
        prices=prices,
        factor_returns=factors,
        factors=tuple(FactorSpec(f, "market" if f == "MKT" else "spread") for f in ids),
        market_factor="MKT",
        factor_last_prices=dict.fromkeys(ids, 100.0),
        start=dates[0].date(),
    )


def offline_inputs() -> AnalysisInputs | None:
    """The 20 real stocks of the offline demo data on SP500 + five style spreads, 2018-2022 (None without skfolio)."""
    import importlib.util

    spec = importlib.util.find_spec("skfolio")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets/data"
    stocks = pd.read_csv(folder / "sp500_dataset.csv.gz", index_col=0, parse_dates=True)
    etfs = pd.read_csv(folder / "factors_dataset.csv.gz", index_col=0, parse_dates=True).join(
        pd.read_csv(folder / "sp500_index.csv.gz", index_col=0, parse_dates=True), how="outer"
    )
    return AnalysisInputs(
        holdings=tuple(Holding(t, quantity=100.0) for t in stocks.columns),
        prices=stocks,
        factor_returns=etfs.pct_change(fill_method=None),
        factors=tuple(FactorSpec(f, "market" if f == "SP500" else "spread") for f in ["SP500", *STYLES]),
        market_factor="SP500",
        factor_last_prices={f: float(etfs[f].iloc[-1]) for f in STYLES},
        start=pd.Timestamp("2018-01-01").date(),
        demo_data=True,
    )


def _design(inputs: AnalysisInputs, result: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The engine's sample rebuilt from the inputs: holdings' returns, entered factors, portfolio returns."""
    dates = pd.DatetimeIndex(result["attribution"]["dates"])
    raw = inputs.factor_returns.loc[dates]
    market = raw[inputs.market_factor]
    factors = pd.DataFrame(
        {s.factor_id: raw[s.factor_id] - (market if s.mode == "spread" else 0.0) for s in inputs.factors}
    )
    tickers = list(result["weights"])
    returns = inputs.prices[tickers].pct_change(fill_method=None).loc[dates]
    return returns, factors, returns.to_numpy() @ np.array(list(result["weights"].values()))


def _best(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _statsmodels_loop(returns: pd.DataFrame, factors: pd.DataFrame, portfolio: np.ndarray, lags: int) -> None:
    import statsmodels.api as sm

    x = sm.add_constant(factors.to_numpy())
    for column in returns.to_numpy().T:
        fit = sm.OLS(column, x).fit()
        _ = (fit.params, fit.bse, fit.rsquared)
    hac = sm.OLS(portfolio, x).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    _ = hac.bse


def _linearmodels(returns: pd.DataFrame, factors: pd.DataFrame) -> None:
    from linearmodels import LinearFactorModel

    LinearFactorModel(returns, factors).fit()


def compare(name: str, inputs: AnalysisInputs, runs: int, lfm_runs: int) -> None:
    result = run_analysis(inputs).result
    returns, factors, portfolio = _design(inputs, result)
    engine, engine_median = _best(lambda: run_analysis(inputs), runs)
    sm_loop, _ = _best(lambda: _statsmodels_loop(returns, factors, portfolio, result["window"]["hac_lags"]), runs)
    lfm, _ = _best(lambda: _linearmodels(returns, factors), lfm_runs)
    n, t, k = returns.shape[1], returns.shape[0], factors.shape[1]
    print(
        f"{name:<24}{n:>6}{t:>6}{k:>3}{engine * 1e3:>12.1f}{engine_median * 1e3:>9.1f}"
        f"{sm_loop * 1e3:>13.1f}{sm_loop / engine:>8.1f}x{lfm * 1e3:>13.1f}{lfm / engine:>8.0f}x"
    )


def _status_mb(field: str) -> float:
    """A field of /proc/self/status in MB (VmRSS now, VmHWM the peak since the process started or the last reset).
    Not ru_maxrss: Linux carries it over from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory(n: int) -> dict[str, float]:
    """In this (fresh) process: RSS with the data loaded, peak RSS during one analysis, tracemalloc peak of a second."""
    inputs = synthetic_inputs(n)
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    start = time.perf_counter()
    run_analysis(inputs)
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM")
    tracemalloc.start()
    run_analysis(inputs)
    traced = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return {"n": n, "seconds": seconds, "rss_before": before, "rss_peak": peak, "traced_peak": traced}


def _in_fresh_process(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


IMPORT_TIME = (
    "import json, sys, time; sys.path.insert(0, 'functions/analysis'); t0 = time.perf_counter(); "
    "import numpy, pandas; t1 = time.perf_counter(); import analysis.domain.engine; t2 = time.perf_counter(); "
    "print(json.dumps({'numpy_pandas': t1 - t0, 'engine': t2 - t1, "
    "'statsmodels': 'statsmodels' in sys.modules, 'scipy_stats': 'scipy.stats' in sys.modules}))"
)


def run(runs: int = 20) -> None:
    print(
        f"\nFactor engine (issue 6): run_analysis with everything vs the per-holding alternatives, min of {runs} runs"
    )
    print("(statsmodels loop: OLS per holding + the portfolio's HAC fit; LinearFactorModel.fit(): the prototype's)")
    print(
        f"{'case':<24}{'N':>6}{'T':>6}{'K':>3}{'engine ms':>12}{'median':>9}"
        f"{'sm loop ms':>13}{'ratio':>9}{'LFM.fit ms':>13}{'ratio':>9}"
    )
    real = offline_inputs()
    if real is not None:
        compare("N=20 real (demo data)", real, runs, 3)
    else:
        compare("N=20 synthetic", synthetic_inputs(20), runs, 3)
    compare("N=500 synthetic", synthetic_inputs(500), runs, 1)
    print("\nPeak memory of one analysis in a fresh process (synthetic, T=1260, K=6)")
    print(
        f"{'N':>6}{'seconds':>9}{'RSS with data MB':>18}{'peak RSS MB':>13}{'added MB':>10}{'tracemalloc peak MB':>21}"
    )
    for n in (500, 5000):
        m = _in_fresh_process(["-m", "bench.engine", "memory", str(n)])
        added = m["rss_peak"] - m["rss_before"]
        print(
            f"{n:>6}{m['seconds']:>9.3f}{m['rss_before']:>18.0f}{m['rss_peak']:>13.0f}{added:>10.0f}"
            f"{m['traced_peak']:>21.0f}"
        )
    samples = [_in_fresh_process(["-c", IMPORT_TIME]) for _ in range(3)]
    base = statistics.median(s["numpy_pandas"] for s in samples)
    engine = statistics.median(s["engine"] for s in samples)
    loaded = [name for name in ("statsmodels", "scipy_stats") if samples[0][name]]
    print(
        f"\nEngine import, fresh interpreter with .pyc (median of 3): numpy+pandas {base:.2f} s, then "
        f"analysis.domain.engine {engine:.2f} s more; loads statsmodels/scipy.stats: {', '.join(loaded) or 'no'}"
    )


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command == "memory":
        print(json.dumps(memory(int(sys.argv[2]))))
    else:
        run()
